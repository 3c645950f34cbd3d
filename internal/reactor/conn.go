package reactor

import (
	"errors"
	"net"
	"os"
	"time"

	"golang.org/x/sys/unix"
)

// Conn is one accepted connection. Its methods may be called only from its
// loop's goroutine (from a Handler method, or a function given to
// Loop.Execute).
type Conn struct {
	loop   *Loop
	fd     int
	remote *net.TCPAddr
	peer   any
	codec  Codec
	ctx    any
	// handoff, set by Handoff, receives the socket instead of it being
	// closed.
	handoff func(*os.File)

	in  []byte // input read and not yet consumed
	out []byte // output the socket has not taken yet
	// interest is what epoll watches the socket for.
	interest uint32

	paused  bool // PauseRead: read nothing until ResumeRead
	eof     bool // the client shut down its sending side
	closing bool // Close: write out, then close
	doomed  bool // to be closed after the current callback, with err
	closed  bool
	queued  bool // in loop.ready
	err     error
	// deadline is when a closing connection is aborted if its output is
	// still not written.
	deadline time.Time
}

// Loop returns the loop that owns the connection.
func (c *Conn) Loop() *Loop { return c.loop }

// RemoteAddr returns the client's address.
func (c *Conn) RemoteAddr() net.Addr { return c.remote }

// Peer returns what Server.Adopt attached to the connection (nil for an
// accepted one).
func (c *Conn) Peer() any { return c.peer }

// Context returns what SetContext stored.
func (c *Conn) Context() any { return c.ctx }

// SetContext stores the handler's state for the connection.
func (c *Conn) SetContext(v any) { c.ctx = v }

// Buffered returns the bytes of output queued and not yet taken by the
// socket.
func (c *Conn) Buffered() int { return len(c.out) }

// Write sends b: at once as far as the socket takes it, the rest once the
// socket is writable, after everything written before. b may be reused when
// Write returns. Writes to a connection that is closing are dropped; a
// write that fails closes the connection after the current callback.
func (c *Conn) Write(b []byte) {
	if c.closing || c.doomed || c.closed || len(b) == 0 {
		return
	}
	if c.codec != nil {
		var err error
		if b, err = c.codec.Encode(b); err != nil {
			c.loop.doom(c, err)
			return
		}
	}
	c.writeRaw(b)
}

// writeRaw sends b as it is.
func (c *Conn) writeRaw(b []byte) {
	if len(b) == 0 {
		return
	}
	if len(c.out) == 0 {
		n, err := writeFD(c.fd, b)
		if err != nil && !errors.Is(err, unix.EAGAIN) {
			c.loop.doom(c, err)
			return
		}
		if n == len(b) {
			return
		}
		b = b[max(n, 0):]
	}
	c.out = append(c.out, b...)
	c.loop.buffered.Add(int64(len(b)))
	c.sync()
}

// PauseRead stops reading the connection: what the client sends waits in
// the kernel, and TCP holds the client back once that fills.
func (c *Conn) PauseRead() {
	if !c.paused {
		c.paused = true
		c.sync()
	}
}

// ResumeRead reads the connection again. Input that OnRead left unconsumed
// is offered to it first, soon after the current callback returns.
func (c *Conn) ResumeRead() {
	if !c.paused {
		return
	}
	c.paused = false
	c.sync()
	// Queue it even without kept input: from inside OnRead, what that call
	// does not consume is kept only after it returns.
	if !c.queued {
		c.queued = true
		c.loop.ready = append(c.loop.ready, c)
	}
}

// Close reads nothing more from the connection, writes its queued output
// and then closes it, after Config.Linger at the latest.
func (c *Conn) Close() {
	if c.closing || c.doomed || c.closed {
		return
	}
	if n, ok := c.codec.(closeNotifier); ok {
		c.writeRaw(n.CloseNotify())
	}
	c.closing = true
	if len(c.out) == 0 {
		c.loop.doom(c, nil)
		return
	}
	c.deadline = time.Now().Add(c.loop.srv.cfg.Linger)
	c.loop.lingering = append(c.loop.lingering, c)
	c.sync()
}

// closeNotifier is a Codec with something to send before a graceful close
// (TLS's close_notify alert).
type closeNotifier interface{ CloseNotify() []byte }

// Abort closes the connection after the current callback and drops its
// queued output.
func (c *Conn) Abort() { c.loop.doom(c, nil) }

// Handoff takes the connection out of the loop after the current callback
// without closing its socket, and gives the socket to fn, on the loop's
// goroutine (fn must not block); OnClose then reports ErrHandedOff. Input
// not consumed and output not written are dropped. It is how a handler
// passes a connection to another server, such as a TLS terminator.
func (c *Conn) Handoff(fn func(*os.File)) {
	if c.doomed || c.closed {
		return
	}
	c.handoff = fn
	c.loop.doom(c, ErrHandedOff)
}

// wantsInput reports whether the connection reads.
func (c *Conn) wantsInput() bool {
	return !c.paused && !c.eof && !c.closing && !c.doomed && !c.closed
}

// sync makes epoll watch the socket for what the connection waits for:
// input unless it is paused, at its end or closing; writability while
// output is queued.
func (c *Conn) sync() {
	if c.closed {
		return
	}
	var want uint32
	if !c.paused && !c.eof && !c.closing {
		want |= unix.EPOLLIN
	}
	if len(c.out) > 0 {
		want |= unix.EPOLLOUT
	}
	if want == c.interest {
		return
	}
	ev := unix.EpollEvent{Events: want, Fd: int32(c.fd)}
	if err := unix.EpollCtl(c.loop.epfd, unix.EPOLL_CTL_MOD, c.fd, &ev); err != nil {
		c.loop.doom(c, err)
		return
	}
	c.interest = want
}
