// Package reactor runs a TCP server on epoll event loops: one goroutine
// per loop, each owning its connections, their input left over from the
// last read and their unsent output. It is the transport under netpoll
// (and under the bench's echo server), and it exists for two things that a
// general event-loop library would not give us:
//
//   - Read back-pressure. A handler can stop reading a connection
//     (PauseRead) while its client is not reading replies; the loop then
//     drops EPOLLIN for that socket, the kernel's receive buffer fills and
//     TCP holds the client back, instead of the server's memory.
//     ResumeRead hands the input already read but not consumed back to the
//     handler before reading more.
//   - Half-closed connections. A client that sends a request and then
//     shuts down its sending side (`echo ruok | nc`, probes, scripts) still
//     gets its replies: end of input is reported (OnReadEOF) and the
//     connection stays open for writing until the handler closes it.
//
// # Who runs what
//
// Listen binds the socket and makes the loops; Start runs them. The first
// loop also accepts, and hands each new connection to the loops in turn.
// Every Handler method runs on the goroutine of the connection's loop, one
// at a time for that loop, and must not block. Conn methods may only be
// called from that goroutine too; any other goroutine reaches a loop
// through Loop.Execute, which queues a function for it and wakes it
// through an eventfd.
//
// The reactor never calls a Handler method from inside a Conn method: a
// write that fails, or a Close, takes effect after the current callback
// returns, so a handler never sees its own state change under it.
//
// # Output
//
// Write tries the socket at once when nothing is queued before it, and
// keeps what the kernel did not take; the loop writes the rest when the
// socket is writable (EPOLLOUT), and calls OnDrained once all of it has
// gone. Buffered tells the handler how much is waiting, so that it can
// bound it.
//
// # Connections from elsewhere
//
// Adopt serves a socket accepted elsewhere (by the TLS bridge, after its
// handshake) on one of the loops, with a Codec its bytes go through: the
// loop decrypts what it reads and encrypts what it writes, and the handler
// sees plaintext as from any connection; a graceful Close sends the
// codec's last words first (TLS's close_notify). Handoff does the opposite: it
// takes a connection out of its loop without closing its socket (a
// plaintext port that finds a TLS handshake hands it to the bridge).
//
// # Closing
//
// Close is graceful: the connection reads nothing more, its queued output
// is written, then the socket is closed. A client that never reads cannot
// hold a closing connection open for longer than Config.Linger. Abort
// closes at once and drops the queued output (a slow consumer).
package reactor
