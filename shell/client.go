package shell

import (
	"bufio"
	"context"
	"errors"
	"math/rand/v2"
	"net"
	"sync"
	"time"

	"github.com/meerkat-zk/meerkat/internal/wire"
	"github.com/meerkat-zk/meerkat/jute"
)

// sessionState is the state of a session as the Java client names it
// (ZooKeeper.States), shown in the prompt.
type sessionState int

const (
	stateConnecting sessionState = iota
	stateConnected
	stateConnectedReadOnly
	stateClosed
	stateAuthFailed
)

func (s sessionState) String() string {
	return [...]string{"CONNECTING", "CONNECTED", "CONNECTEDREADONLY", "CLOSED", "AUTH_FAILED"}[s]
}

// alive reports whether the session can still be used.
func (s sessionState) alive() bool { return s != stateClosed && s != stateAuthFailed }

// maxFrame bounds a reply frame, as jute.maxbuffer does by default.
const maxFrame = 0xfffff + 1024

// client is one ZooKeeper session, kept as the Java client keeps it: it
// connects to the servers of its connect string in turn, resumes the
// session after a lost connection (re-sending its credentials and
// watches), pings while idle, answers requests in order, and reports
// watch events and state changes through emit, in the order they happen.
type client struct {
	servers  []string
	chroot   string
	timeout  int32 // requested session timeout, ms
	readOnly bool
	emit     func(watchedEvent)

	ctx          context.Context // cancelled by close
	cancel       context.CancelFunc
	done         chan struct{} // closed when run returns
	attemptOnce  sync.Once
	firstAttempt chan struct{} // closed after the first connection attempt
	connectOnce  sync.Once
	connected    chan struct{} // closed once the session is first connected

	mu         sync.Mutex
	state      sessionState
	closing    bool
	conn       net.Conn // nil while not connected
	sessionID  int64
	passwd     []byte
	negotiated int32
	lastZxid   int64
	xid        int32
	pending    []*call // sent, awaiting their replies in order
	queued     []*call // waiting for a connection
	auths      []jute.AuthPacket
	watches    watchRegistry
}

// call is one request and the channel its outcome is sent on.
type call struct {
	op   jute.OpCode
	xid  int32
	body []byte
	// onReply, when set, runs on the reply's code before the caller gets
	// it (registering or removing watches) and may change the code.
	onReply func(jute.Code) jute.Code
	done    chan reply
}

// reply is the outcome of a call.
type reply struct {
	code jute.Code
	body []byte
}

// newClient starts connecting a new session; emit gets its events.
func newClient(cs connectString, timeoutMs int32, readOnly bool, emit func(watchedEvent)) *client {
	ctx, cancel := context.WithCancel(context.Background())
	c := &client{
		servers: cs.servers, chroot: cs.chroot, timeout: timeoutMs, readOnly: readOnly, emit: emit,
		ctx: ctx, cancel: cancel, done: make(chan struct{}), firstAttempt: make(chan struct{}), connected: make(chan struct{}),
		passwd: make([]byte, 16),
	}
	go c.run()
	return c
}

// State returns the session's state.
func (c *client) State() sessionState {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.state
}

// waitFirstAttempt waits until the first connection attempt has ended, at
// most d.
func (c *client) waitFirstAttempt(d time.Duration) {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-c.firstAttempt:
	case <-t.C:
	}
}

// waitConnected waits until the session is connected, at most d, and
// reports whether it is.
func (c *client) waitConnected(d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-c.connected:
		return true
	case <-t.C:
		return false
	}
}

// timeouts returns how long a connection attempt and a silent connection
// may last: the session timeout shared among the servers, and two thirds
// of it, as in the Java client.
func (c *client) timeouts() (connect, read time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.timeoutsLocked()
}

// timeoutsLocked is timeouts for callers holding c.mu.
func (c *client) timeoutsLocked() (connect, read time.Duration) {
	t := c.timeout
	if c.negotiated > 0 {
		t = c.negotiated
	}
	ms := time.Duration(t) * time.Millisecond
	return ms / time.Duration(len(c.servers)), ms * 2 / 3
}

// run connects, serves the connection until it breaks, and connects again,
// until the session is closed, expires or fails authentication.
func (c *client) run() {
	defer close(c.done)
	for i := 0; ; i++ {
		if i > 0 && i%len(c.servers) == 0 {
			// Every server failed: pause before the next round.
			select {
			case <-c.ctx.Done():
				return
			case <-time.After(time.Duration(rand.IntN(1000)) * time.Millisecond):
			}
		}
		conn, r, resp, err := c.handshake(c.servers[i%len(c.servers)])
		if c.ctx.Err() != nil {
			if conn != nil {
				conn.Close()
			}
			return
		}
		if err != nil {
			c.failAll(jute.CodeConnectionLoss)
			c.attempted()
			continue
		}
		if resp.TimeOut <= 0 {
			conn.Close()
			c.mu.Lock()
			c.state = stateClosed
			c.mu.Unlock()
			c.failAll(jute.CodeSessionExpired)
			c.emit(watchedEvent{state: keeperExpired, typ: eventNone})
			c.attempted()
			return
		}
		c.emit(watchedEvent{state: c.established(conn, resp), typ: eventNone})
		c.attempted()
		c.connectOnce.Do(func() { close(c.connected) })
		_, readTimeout := c.timeouts()
		c.serve(conn, r, readTimeout)
		conn.Close()
		c.mu.Lock()
		c.conn = nil
		st, closing := c.state, c.closing
		if st.alive() {
			c.state = stateConnecting
		}
		c.mu.Unlock()
		if st == stateAuthFailed {
			c.failAll(jute.CodeAuthFailed)
			return
		}
		c.failAll(jute.CodeConnectionLoss)
		if closing || c.ctx.Err() != nil {
			return
		}
		c.emit(watchedEvent{state: keeperDisconnected, typ: eventNone})
	}
}

func (c *client) attempted() { c.attemptOnce.Do(func() { close(c.firstAttempt) }) }

// handshake connects to addr and opens (or resumes) the session on it.
func (c *client) handshake(addr string) (net.Conn, *bufio.Reader, jute.ConnectResponse, error) {
	var resp jute.ConnectResponse
	connectTimeout, _ := c.timeouts()
	ctx, cancel := context.WithTimeout(c.ctx, connectTimeout)
	defer cancel()
	conn, err := (&net.Dialer{}).DialContext(ctx, "tcp", addr)
	if err != nil {
		return nil, nil, resp, err
	}
	// Closing the connection interrupts the exchange when ctx ends first.
	unwatch := context.AfterFunc(ctx, func() { conn.Close() })
	defer unwatch()
	c.mu.Lock()
	req := jute.ConnectRequest{LastZxidSeen: c.lastZxid, TimeOut: c.timeout, SessionID: c.sessionID,
		Passwd: c.passwd, ReadOnly: c.readOnly, HasReadOnly: true}
	c.mu.Unlock()
	if _, err := conn.Write(wire.Frame(req.Append(nil))); err != nil {
		conn.Close()
		return nil, nil, resp, err
	}
	r := bufio.NewReader(conn)
	frame, err := wire.ReadFrame(r, maxFrame)
	if err == nil {
		d := jute.NewDecoder(frame)
		resp.Decode(d)
		err = d.Err()
	}
	if err != nil || ctx.Err() != nil {
		conn.Close()
		return nil, nil, resp, errors.Join(err, ctx.Err())
	}
	return conn, r, resp, nil
}

// established records a new connection's session and sends what the
// session needs set again (credentials, watches), then the requests that
// waited for it. It returns the state to report.
func (c *client) established(conn net.Conn, resp jute.ConnectResponse) int32 {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.conn = conn
	c.sessionID, c.passwd, c.negotiated = resp.SessionID, resp.Passwd, resp.TimeOut
	c.state, c.xid = stateConnected, 0
	keeper := keeperSyncConnected
	if resp.ReadOnly {
		c.state, keeper = stateConnectedReadOnly, keeperConnectedReadOnly
	}
	for i := range c.auths {
		c.write(wire.RequestFrame(jute.XidAuth, jute.OpAuth, c.auths[i].Append(nil)))
	}
	if sw, some, persistent := c.watches.setWatches(c.chroot); some {
		sw.RelativeZxid = c.lastZxid
		op := jute.OpSetWatches
		if persistent {
			op = jute.OpSetWatches2
		}
		c.write(wire.RequestFrame(jute.XidSetWatches, op, sw.AppendSetWatches(nil, persistent)))
	}
	queued := c.queued
	c.queued = nil
	for _, cl := range queued {
		c.sendLocked(cl)
	}
	return keeper
}

// write sends a frame on the connection; a failed write closes it, which
// the reader then reports. c.mu is held.
func (c *client) write(frame []byte) {
	_, read := c.timeoutsLocked()
	_ = c.conn.SetWriteDeadline(time.Now().Add(read))
	if _, err := c.conn.Write(frame); err != nil {
		c.conn.Close()
	}
}

// sendLocked gives cl an xid and sends it. c.mu is held and c.conn set.
func (c *client) sendLocked(cl *call) {
	c.xid++
	cl.xid = c.xid
	c.pending = append(c.pending, cl)
	c.write(wire.RequestFrame(cl.xid, cl.op, cl.body))
}

// serve reads the connection's replies and events until it fails, and
// pings the server meanwhile.
func (c *client) serve(conn net.Conn, r *bufio.Reader, readTimeout time.Duration) {
	stop := make(chan struct{})
	defer close(stop)
	go c.ping(conn, readTimeout/2, stop)
	for {
		_ = conn.SetReadDeadline(time.Now().Add(readTimeout))
		frame, err := wire.ReadFrame(r, maxFrame)
		if err != nil {
			return
		}
		d := jute.NewDecoder(frame)
		var h jute.ReplyHeader
		h.Decode(d)
		if d.Err() != nil {
			return
		}
		switch h.Xid {
		case jute.XidPing, jute.XidSetWatches:
			continue
		case jute.XidAuth:
			if h.Err == jute.CodeAuthFailed {
				c.mu.Lock()
				c.state = stateAuthFailed
				c.mu.Unlock()
				c.emit(watchedEvent{state: keeperAuthFailed, typ: eventNone})
				return
			}
			continue
		case jute.XidNotification:
			var ev jute.WatcherEvent
			ev.Decode(d)
			path := c.clientPath(ev.Path)
			if d.Err() == nil && c.watches.trigger(ev.Type, path) {
				c.emit(watchedEvent{state: ev.State, typ: ev.Type, path: path, hasPath: true})
			}
			continue
		}
		c.mu.Lock()
		if len(c.pending) == 0 || c.pending[0].xid != h.Xid {
			c.mu.Unlock()
			return // a reply out of order: the connection cannot be trusted
		}
		cl := c.pending[0]
		c.pending = c.pending[1:]
		if h.Zxid > 0 {
			c.lastZxid = h.Zxid
		}
		c.mu.Unlock()
		c.finish(cl, h.Err, d.Rest())
	}
}

// ping sends a ping every interval until stop closes.
func (c *client) ping(conn net.Conn, interval time.Duration, stop <-chan struct{}) {
	t := time.NewTicker(interval)
	defer t.Stop()
	frame := wire.RequestFrame(jute.XidPing, jute.OpPing, nil)
	for {
		select {
		case <-stop:
			return
		case <-t.C:
			c.mu.Lock()
			if c.conn == conn {
				c.write(frame)
			}
			c.mu.Unlock()
		}
	}
}

// finish completes cl with code and the reply's body.
func (c *client) finish(cl *call, code jute.Code, body []byte) {
	if cl.onReply != nil {
		code = cl.onReply(code)
	}
	cl.done <- reply{code: code, body: body}
}

// failAll completes every request sent or waiting with code.
func (c *client) failAll(code jute.Code) {
	c.mu.Lock()
	calls := append(c.pending, c.queued...)
	c.pending, c.queued = nil, nil
	c.mu.Unlock()
	for _, cl := range calls {
		c.finish(cl, code, nil)
	}
}

// start sends a request, or queues it until the session is connected, and
// returns the channel its outcome will come on.
func (c *client) start(op jute.OpCode, body []byte, onReply func(jute.Code) jute.Code) <-chan reply {
	cl := &call{op: op, body: body, onReply: onReply, done: make(chan reply, 1)}
	c.mu.Lock()
	switch {
	case c.state == stateAuthFailed:
		c.mu.Unlock()
		c.finish(cl, jute.CodeAuthFailed, nil)
	case c.state == stateClosed:
		c.mu.Unlock()
		c.finish(cl, jute.CodeSessionExpired, nil)
	case c.conn != nil:
		c.sendLocked(cl)
		c.mu.Unlock()
	default:
		c.queued = append(c.queued, cl)
		c.mu.Unlock()
	}
	return cl.done
}

// do sends a request and waits for its outcome.
func (c *client) do(op jute.OpCode, body []byte, onReply func(jute.Code) jute.Code) (jute.Code, []byte) {
	r := <-c.start(op, body, onReply)
	return r.code, r.body
}

// addAuth sends credentials without waiting for the answer, as the Java
// client does; they are sent again on every new connection. A refusal
// ends the session (state AUTH_FAILED).
func (c *client) addAuth(scheme string, auth []byte) {
	p := jute.AuthPacket{Scheme: scheme, Auth: auth}
	c.mu.Lock()
	defer c.mu.Unlock()
	c.auths = append(c.auths, p)
	if c.conn != nil {
		c.write(wire.RequestFrame(jute.XidAuth, jute.OpAuth, p.Append(nil)))
	}
}

// close ends the session: it asks the server to close it (waiting for the
// answer for at most the read timeout) and stops. It reports whether the
// session was alive, which is when the Java client reports it Closed.
func (c *client) close() bool {
	c.mu.Lock()
	alive, connected := c.state.alive(), c.conn != nil
	c.closing = true
	c.mu.Unlock()
	if alive && connected {
		_, read := c.timeouts()
		t := time.NewTimer(read)
		select {
		case <-c.start(jute.OpCloseSession, nil, nil):
		case <-t.C:
		}
		t.Stop()
	}
	c.cancel()
	c.mu.Lock()
	if c.conn != nil {
		c.conn.Close()
	}
	c.mu.Unlock()
	<-c.done
	c.mu.Lock()
	c.state = stateClosed
	c.mu.Unlock()
	c.failAll(jute.CodeConnectionLoss)
	return alive
}

// serverPath is a client path under chroot.
func serverPath(chroot, p string) string {
	if chroot == "" {
		return p
	}
	if p == "/" {
		return chroot
	}
	return chroot + p
}

// clientPath is the path a server path has under the client's chroot.
func (c *client) clientPath(p string) string {
	switch {
	case c.chroot == "":
		return p
	case p == c.chroot:
		return "/"
	case len(p) > len(c.chroot):
		return p[len(c.chroot):]
	}
	return p
}
