// Package netpoll is Meerkat's client-facing network server: event loops
// (internal/reactor) that speak ZooKeeper's client protocol on one port,
// with the four-letter words beside it. Server is the reactor's Handler.
//
// # Who runs what
//
// Each event loop owns its connections, their request queues, their output
// buffers and a watch registry (engine.Watches) for them; nothing of that is
// shared, so none of it is locked. Reads are answered inside the loop from
// one atomic load of the pipeline's current engine.View. Writes, session
// creation and the few requests that need the state's owner (sync,
// getEphemerals) are handed to the pipeline goroutine; it completes them
// back to the owning loop with reactor.Loop.Execute, one call per loop per
// batch.
//
// A loop never waits on a full pipeline queue while it has room of its own:
// what the queue does not take waits in the loop's backlog, in the order it
// was read, and the loop goes on answering reads. Only past maxBacklog does
// the loop wait, so that a flood of writes is held back by TCP; meanwhile
// the four-letter words that ask every loop (srvr, stat, cons, mntr, ...)
// wait for it too.
//
// # Ordering
//
// Replies leave a connection in request order: a request that arrives while
// an earlier one is still with the pipeline waits in the connection's queue.
// Consecutive writes are submitted together so that they share a batch; a
// read queued between writes is answered after the first and before the
// second is submitted, so it sees exactly the writes before it.
//
// Before a loop answers anything from a View, it delivers the watch events
// of every version up to that View (it walks the Changes chain), so a
// client sees an event before any reply that shows the change behind it.
// The pipeline wakes the loops after each publication so that idle
// connections get their events too.
//
// # Flow control
//
// A client that does not read its replies must not make the server hold
// them without bound. Before it handles each request a connection checks
// what it holds unsent (its replies of this callback and what the socket
// did not take): from OutboundThrottleBytes on, it stops reading (the
// reactor drops the socket from epoll's read set, so TCP holds the client
// back), and it resumes once its client has taken everything. Requests
// already queued wait the same way. Watch events still queue for a paused
// connection; one that holds more than SlowConsumerBytes is closed as a
// slow consumer. Past MaxOutstanding requests read and not yet answered
// over the whole server (ZooKeeper's globalOutstandingLimit), a connection
// with a request of its own outstanding stops reading until it has none,
// as ZooKeeper's NIO server does; a read-only client, whose requests are
// answered at once, is never held back by it. The metrics in metrics.go
// count each pause and each slow consumer.
//
// # End of input
//
// A client may shut down its sending side after its requests (`echo ruok |
// nc`, probes, scripts). The connection then answers every request it has
// read, in order, and closes; a four-letter word gets its answer, as from
// ZooKeeper. (ZooKeeper 3.8 closes at once on other requests and loses
// their replies; Meerkat sends them.)
//
// # Frames
//
//	+----------+---------------------------------+
//	| len: 4   | payload: len bytes               |
//	+----------+---------------------------------+
//
// A frame longer than jute.maxbuffer, or with a negative length, closes the
// connection, as ZooKeeper does; the other connections are not affected.
// The first four bytes of a new connection may instead be a four-letter
// word ("ruok", "srvr", ...), answered in text before the connection closes.
package netpoll
