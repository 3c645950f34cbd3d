package netpoll

import (
	"encoding/binary"
	"fmt"
	"net"
	"slices"
	"strings"
	"sync/atomic"
	"time"

	"github.com/meerkat-zk/meerkat/engine"
	"github.com/meerkat-zk/meerkat/internal/reactor"
	"github.com/meerkat-zk/meerkat/jute"
	"github.com/meerkat-zk/meerkat/pipeline"
)

type connState uint8

const (
	// stateNew: nothing received; the first frame is a ConnectRequest (or a
	// four-letter word).
	stateNew connState = iota
	// stateConnecting: the session is being created or reopened; requests
	// that arrive meanwhile wait behind it.
	stateConnecting
	// stateOpen: the session is established.
	stateOpen
	// stateClosing: the connection is closing; input is ignored.
	stateClosing
)

// maxQueued bounds the requests one connection may have waiting; a client
// that pipelines beyond it is closed rather than allowed to grow memory.
const maxQueued = 1 << 16

// pauseReason says why a connection reads no requests.
type pauseReason uint8

const (
	notPaused pauseReason = iota
	// pausedOutbound: its client has not taken OutboundThrottleBytes of
	// replies and events yet.
	pausedOutbound
	// pausedOutstanding: globalOutstandingLimit is exceeded and the
	// connection has requests outstanding.
	pausedOutstanding
)

// conn is one client connection. It is owned by its loop's goroutine.
type conn struct {
	id    uint64
	loop  *loop
	rc    *reactor.Conn
	ip    string
	state connState

	session     *pipeline.Session
	sessionID   int64
	timeout     int32
	hasReadOnly bool
	// readOnly marks a session opened in read-only mode: the
	// ConnectResponse says so.
	readOnly bool
	// ids are the connection's identities in ZooKeeper's set order; the
	// slice is replaced, never changed, so queued requests keep theirs.
	ids []jute.ID

	// queue holds, in arrival order, the requests not yet answered because
	// an earlier one is still with the pipeline.
	queue []*item
	out   []byte

	dirty           bool
	closed          bool
	closeAfterFlush bool
	// eof is set once the client has shut down its sending side: the
	// connection closes when every request read is answered.
	eof bool
	// pausedFor says why reading is paused, while it is.
	pausedFor pauseReason
	// stalled is set when drain stopped at a queued request because the
	// client had not taken enough of the replies before it.
	stalled bool
	// dead is set, from any goroutine, when the connection must answer
	// nothing more.
	dead atomic.Bool

	stats connStats
}

// connStats are what the cons four-letter word reports.
type connStats struct {
	established time.Time
	received    int64
	sent        int64
	lastOp      string
	lastCxid    int32
	lastZxid    int64
	lastResp    time.Time
	lastLatency int64
	latency     latencyStats
}

// item is a request that waits in a connection's queue.
type item struct {
	conn *conn
	xid  int32
	op   jute.OpCode
	// body is the request record, held until the request can be answered
	// or submitted; a sync keeps its path record, which its reply echoes
	// (null included).
	body []byte
	ids  []jute.ID
	recv time.Time
	// req is set once the request is with the pipeline; done once it is back.
	req  *pipeline.Request
	done bool
	// barrier stops later requests from being submitted before this one is
	// done (the handshake, closeSession).
	barrier bool
	// failed is set on a request answered without the pipeline after all.
	failed jute.Code
	// connect marks the handshake's own item.
	connect bool
	// lateIDs marks a request that arrived during the handshake: it takes
	// the connection's identities when it reaches the head of the queue,
	// after any auth packet before it.
	lateIDs bool
}

func newConn(l *loop, rc *reactor.Conn, ip string, id uint64) *conn {
	cn := &conn{id: id, loop: l, rc: rc, ip: ip}
	cn.ids = engine.AddIdentity(nil, jute.ID{Scheme: "ip", ID: javaHostAddress(rc.RemoteAddr())})
	cn.ids = l.srv.certificateIdentities(rc, cn.ids)
	cn.stats.established = time.Now()
	return cn
}

// Close closes the connection; it is safe from any goroutine. It makes conn
// a pipeline.Closer, which closes the old connection of a session that moved
// or expired. The close itself happens later on the loop, so the connection
// is marked dead first: from then on it answers nothing, as ZooKeeper's old
// connection is already gone when the new one gets its ConnectResponse.
func (cn *conn) Close() error {
	cn.dead.Store(true)
	// A stopped loop has closed the connection already.
	_ = cn.loop.rl.Execute(cn.rc.Close)
	return nil
}

// pending is the number of requests received and not yet answered.
func (cn *conn) pending() int { return len(cn.queue) }

// onTraffic decodes and handles the complete frames in data while the
// connection may take more requests, and returns how many bytes it
// consumed; the rest is offered again when it resumes reading.
func (cn *conn) onTraffic(data []byte) int {
	if cn.dead.Load() {
		cn.rc.Close()
		return len(data)
	}
	if cn.state == stateNew && len(data) > 0 && cn.unifyTLS(data) {
		return len(data)
	}
	off := 0
	for cn.state != stateClosing && len(data)-off >= 4 {
		n := int32(binary.BigEndian.Uint32(data[off:]))
		if cn.state == stateNew {
			if word, ok := fourLetterWord(n); ok {
				// The answer is written, and the connection closed, by
				// fourLetterWord once it is ready.
				cn.fourLetterWord(word, data[off+4:])
				break
			}
		}
		if n < 0 || int(n) > cn.loop.srv.cfg.MaxBuffer {
			cn.loop.srv.cfg.Logger.Info("closing connection: frame length out of range",
				"remote", cn.ip, "length", n, "maxbuffer", cn.loop.srv.cfg.MaxBuffer)
			cn.closeSoon()
			break
		}
		if len(data)-off-4 < int(n) {
			break
		}
		if r := cn.waitReason(); r != notPaused {
			cn.pause(r)
			break
		}
		frame := data[off+4 : off+4+int(n)]
		off += 4 + int(n)
		if !cn.handleFrame(frame) {
			cn.closeSoon()
		}
	}
	if cn.state == stateClosing {
		// Input after the end is read and dropped, as ZooKeeper does.
		return len(data)
	}
	return off
}

// closeSoon closes the connection once the replies already encoded are
// written, and makes it read nothing more meanwhile.
func (cn *conn) closeSoon() {
	cn.state = stateClosing
	cn.closeAfterFlush = true
	cn.loop.markDirty(cn)
}

// handleFrame handles one frame; false closes the connection.
func (cn *conn) handleFrame(frame []byte) bool {
	switch cn.state {
	case stateNew:
		return cn.connect(frame)
	case stateConnecting, stateOpen:
		return cn.request(frame)
	}
	return true
}

// connect handles the ConnectRequest, as ZooKeeperServer.processConnectRequest.
func (cn *conn) connect(frame []byte) bool {
	var req jute.ConnectRequest
	d := jute.NewDecoder(frame)
	req.Decode(d)
	if d.Err() != nil || len(req.Passwd) > 16<<10 {
		cn.loop.srv.cfg.Logger.Info("closing connection: malformed connect request", "remote", cn.ip, "err", d.Err())
		return false
	}
	switch cn.loop.srv.Mode() {
	case ModeNotServing:
		cn.loop.srv.cfg.Logger.Info("refusing session: this member has no leader", "remote", cn.ip)
		return false
	case ModeReadOnly:
		if !req.ReadOnly {
			cn.loop.srv.cfg.Logger.Info("refusing session: not a read-only client, and this member is read-only", "remote", cn.ip)
			return false
		}
		cn.readOnly = true
	}
	srv := cn.loop.srv
	srv.shed.connectRequests.Add(1)
	if !srv.throttle.Allow(srv.throttle.Need(req.SessionID != 0, srv.cfg.LocalSessions), cn.loop.now) {
		srv.shed.rejected.Add(1)
		srv.limitLog.Info("refusing a session: connection rate over zookeeper.connection_throttle_*", "remote", cn.ip)
		return false
	}
	v := cn.loop.view()
	if req.LastZxidSeen > v.Zxid {
		cn.loop.srv.cfg.Logger.Info("refusing session: client has seen a later zxid",
			"remote", cn.ip, "client_zxid", hex(req.LastZxidSeen), "zxid", hex(v.Zxid))
		return false
	}
	cn.hasReadOnly = req.HasReadOnly
	cn.timeout = cn.loop.srv.negotiateTimeout(req.TimeOut)
	cn.state = stateConnecting
	r := &pipeline.Request{Kind: pipeline.KindCreateSession, Timeout: cn.timeout}
	if req.SessionID != 0 {
		r.Kind = pipeline.KindReopenSession
		r.Entry.Session = req.SessionID
		r.Passwd = append([]byte(nil), req.Passwd...)
	}
	it := &item{conn: cn, op: jute.OpCreateSession, recv: cn.loop.now, barrier: true, connect: true}
	cn.enqueue(it)
	cn.submit(it, r)
	return true
}

// request handles one request frame after the ConnectRequest.
func (cn *conn) request(frame []byte) bool {
	l := cn.loop
	if len(frame) < 8 {
		l.srv.cfg.Logger.Info("closing connection: request shorter than its header", "remote", cn.ip)
		return false
	}
	xid := int32(binary.BigEndian.Uint32(frame))
	op := jute.OpCode(binary.BigEndian.Uint32(frame[4:]))
	body := frame[8:]
	if cn.session != nil {
		cn.session.Touch(l.now)
	}
	cn.stats.received++
	l.stats.received++
	if op == jute.OpDeleteContainer {
		// ZooKeeper reads this request's path from the whole packet buffer.
		body = frame
	}
	if cn.state == stateConnecting {
		// ZooKeeper reads nothing more until the session is set up; keep the
		// request, with its identities decided when it is finally read.
		if len(cn.queue) >= maxQueued {
			return false
		}
		cn.enqueue(&item{conn: cn, xid: xid, op: op, recv: l.now,
			body: append([]byte(nil), body...), lateIDs: true})
		return true
	}
	switch op {
	case jute.OpAuth:
		return cn.auth(xid, body)
	case jute.OpSASL:
		return cn.sasl(xid, body)
	}
	if len(cn.queue) >= maxQueued {
		l.srv.cfg.Logger.Warn("closing connection: too many requests queued", "remote", cn.ip, "queued", len(cn.queue))
		return false
	}
	if !cn.authenticated() {
		if len(cn.queue) == 0 {
			cn.refuseUnauthenticated(xid)
		} else {
			// Answered in its turn, after the requests before it.
			cn.enqueue(&item{conn: cn, xid: xid, op: op, recv: l.now, lateIDs: true})
		}
		return true
	}
	if len(cn.queue) == 0 && isLocal(op) {
		cn.answer(xid, op, body, cn.ids, l.now)
		return true
	}
	it := &item{conn: cn, xid: xid, op: op, ids: cn.ids, recv: l.now}
	if !isLocal(op) && cn.canSubmit() && (!atHeadOnly(op) || len(cn.queue) == 0) {
		cn.enqueue(it)
		cn.submitOp(it, body)
		return true
	}
	it.body = append([]byte(nil), body...)
	cn.enqueue(it)
	return true
}

// sasl answers a SASL request as ZooKeeper without SASL configured does: OK
// with a null token. A body that is not a token closes the connection.
func (cn *conn) sasl(xid int32, body []byte) bool {
	d := jute.NewDecoder(body)
	d.Buffer()
	if d.Err() != nil {
		return false
	}
	cn.reply(jute.ReplyHeader{Xid: xid}, func(b []byte) []byte { return jute.AppendInt(b, -1) })
	return true
}

// isLocal reports whether the loop answers op itself from a View: anything
// but a write and the requests that must wait for the writes before them.
func isLocal(op jute.OpCode) bool {
	switch op {
	case jute.OpCheck, jute.OpSync, jute.OpGetEphemerals, jute.OpCloseSession, jute.OpCreateSession:
		return false
	}
	return !op.IsWrite()
}

// atHeadOnly reports whether op goes to the pipeline only once every
// request before it is answered: getEphemerals is answered from the state
// the pipeline has applied, which in an ensemble may not hold this
// connection's earlier writes until they are answered.
func atHeadOnly(op jute.OpCode) bool { return op == jute.OpGetEphemerals }

// canSubmit reports whether a new pipeline request may go to the pipeline
// now: only when everything before it is already there and none of it is a
// barrier. The submitted items are always a prefix of the queue, and a
// barrier is always the last of them (nothing behind it is submitted until
// it completes), so the last item decides.
func (cn *conn) canSubmit() bool {
	if len(cn.queue) == 0 {
		return true
	}
	last := cn.queue[len(cn.queue)-1]
	return last.req != nil && !last.barrier
}

// submitOp builds the pipeline request for a queued item and submits it.
func (cn *conn) submitOp(it *item, body []byte) {
	r := &pipeline.Request{
		Kind: pipeline.KindWrite,
		Entry: engine.Entry{
			Session:    cn.sessionID,
			Xid:        it.xid,
			Op:         it.op,
			Identities: it.ids,
		},
	}
	it.body = nil
	switch it.op {
	case jute.OpSync:
		d := jute.NewDecoder(body)
		d.StringBytes()
		if d.Err() != nil {
			it.failed = jute.CodeMarshallingError
		}
		it.body = append([]byte(nil), body[:d.Offset()]...)
		r.Kind = pipeline.KindSync
	case jute.OpReconfig:
		// ZooKeeper decodes a reconfig before it takes a zxid for it.
		var rr jute.ReconfigRequest
		d := jute.NewDecoder(body)
		rr.Decode(d)
		if d.Err() != nil {
			it.failed = jute.CodeMarshallingError
			r.Kind = pipeline.KindSync
		} else {
			r.Entry.Body = append([]byte(nil), body...)
		}
	case jute.OpGetEphemerals:
		d := jute.NewDecoder(body)
		prefix := d.StringBytes()
		if d.Err() != nil {
			it.failed = jute.CodeMarshallingError
		}
		r.Kind = pipeline.KindGetEphemerals
		r.Prefix = string(prefix)
	case jute.OpCloseSession:
		it.barrier = true
	default:
		r.Entry.Body = append([]byte(nil), body...)
	}
	cn.submit(it, r)
}

func (cn *conn) submit(it *item, r *pipeline.Request) {
	r.From = cn.loop
	r.Conn = cn
	r.Tag = it
	it.req = r
	cn.loop.offer(r)
}

// drain answers the queue's head while it can: completed requests get their
// replies, held reads are answered, held writes are submitted. It stops
// while the client has not taken OutboundThrottleBytes of replies yet
// (unblock goes on once it has), and closes a connection whose client has
// stopped sending once nothing is left to answer.
func (cn *conn) drain() {
	defer cn.closeIfDone()
	for len(cn.queue) > 0 && !cn.closed && cn.state != stateClosing && !cn.dead.Load() {
		if cn.held() >= cn.loop.srv.cfg.OutboundThrottleBytes {
			cn.stalled = true
			return
		}
		it := cn.queue[0]
		if it.req != nil {
			if !it.done {
				return
			}
			cn.pop()
			cn.finish(it)
			continue
		}
		if it.lateIDs {
			switch it.op {
			case jute.OpAuth:
				cn.pop()
				if !cn.auth(it.xid, it.body) {
					cn.closeSoon()
				}
				continue
			case jute.OpSASL:
				cn.pop()
				if !cn.sasl(it.xid, it.body) {
					cn.closeSoon()
				}
				continue
			}
			if !cn.authenticated() {
				cn.pop()
				cn.refuseUnauthenticated(it.xid)
				return
			}
			it.ids = cn.ids
		}
		if isLocal(it.op) {
			cn.pop()
			cn.answer(it.xid, it.op, it.body, it.ids, it.recv)
			continue
		}
		// Submit this write and the writes right behind it, so they share
		// a batch; stop at a read, which must see only the writes before it.
		for _, next := range cn.queue {
			if next.req != nil {
				continue
			}
			if isLocal(next.op) || atHeadOnly(next.op) && next != cn.queue[0] {
				break
			}
			if next.lateIDs {
				next.ids = cn.ids
			}
			cn.submitOp(next, next.body)
			if next.barrier {
				break
			}
		}
	}
}

// enqueue appends it to the connection's queue; it counts as outstanding
// until pop.
func (cn *conn) enqueue(it *item) {
	cn.queue = append(cn.queue, it)
	cn.loop.srv.outstanding.Add(1)
}

func (cn *conn) pop() {
	cn.queue[0] = nil
	cn.queue = cn.queue[1:]
	if len(cn.queue) == 0 {
		cn.queue = nil
	}
	cn.loop.srv.outstanding.Add(-1)
}

// closeIfDone closes, once its replies are written, a connection whose
// client has shut down its sending side and has nothing left to be
// answered.
func (cn *conn) closeIfDone() {
	if cn.eof && len(cn.queue) == 0 && !cn.closed && (cn.state == stateNew || cn.state == stateOpen) {
		cn.closeSoon()
	}
}

// held is what the connection holds for its client and has not written to
// the socket yet: replies of this callback, then what the socket did not
// take.
func (cn *conn) held() int { return len(cn.out) + cn.rc.Buffered() }

// waitReason says whether, and why, the connection must read no more
// requests now. A connection paused for its output resumes only once its
// client has taken all of it, so that it does not flap at the bound.
func (cn *conn) waitReason() pauseReason {
	s := cn.loop.srv
	if held := cn.held(); held >= s.cfg.OutboundThrottleBytes || held > 0 && cn.pausedFor == pausedOutbound {
		return pausedOutbound
	}
	if len(cn.queue) > 0 && s.outstanding.Load() > int64(s.cfg.MaxOutstanding) {
		return pausedOutstanding
	}
	return notPaused
}

// interestOps are the interest ops cons shows for the connection, as
// ZooKeeper's: read (1) while it reads requests, write (4) while output
// waits for the socket. A connection without a session (a four-letter
// word) reads nothing more.
func (cn *conn) interestOps() int {
	ops := 0
	if cn.sessionID != 0 && cn.pausedFor == notPaused {
		ops |= 1
	}
	if cn.rc.Buffered() > 0 {
		ops |= 4
	}
	return ops
}

// pause stops reading the connection's requests, for reason r.
func (cn *conn) pause(r pauseReason) {
	if cn.pausedFor == notPaused {
		pausedConns.Add(1)
		cn.rc.PauseRead()
	}
	if cn.pausedFor == r {
		return
	}
	cn.pausedFor = r
	s := cn.loop.srv
	switch r {
	case pausedOutbound:
		outboundPauses.Inc()
		s.cfg.Logger.Debug("connection throttled: its client is not reading its replies",
			"remote", cn.ip, "session", hex(cn.sessionID), "unsent_bytes", cn.held())
	case pausedOutstanding:
		outstandingPauses.Inc()
		s.throttleLog.Info("globalOutstandingLimit reached: connections with requests outstanding stop reading",
			"outstanding", s.outstanding.Load(), "limit", s.cfg.MaxOutstanding)
	}
}

// unblock goes on with what waited for the client to take its replies:
// the queued requests, then reading.
func (cn *conn) unblock() {
	if cn.closed || cn.state == stateClosing {
		return
	}
	if cn.stalled {
		cn.stalled = false
		cn.drain()
	}
	if cn.pausedFor != notPaused && cn.waitReason() == notPaused {
		cn.pausedFor = notPaused
		pausedConns.Add(-1)
		cn.rc.ResumeRead()
	}
}

// flush writes the replies and events of this callback. A connection that
// holds more than SlowConsumerBytes unsent is closed: its client is too
// slow to keep up even with its watch events.
func (cn *conn) flush() {
	if !cn.closed && !cn.dead.Load() && len(cn.out) > 0 {
		cn.rc.Write(cn.out)
	}
	// Keep small buffers for reuse; give large ones back.
	if cap(cn.out) > 16<<10 {
		cn.out = nil
	} else {
		cn.out = cn.out[:0]
	}
	if cn.closed {
		return
	}
	s := cn.loop.srv
	if unsent := cn.rc.Buffered(); unsent > s.cfg.SlowConsumerBytes {
		slowConsumers.Inc()
		s.cfg.Logger.Warn("closing connection: slow consumer", "remote", cn.ip, "session", hex(cn.sessionID),
			"unsent_bytes", unsent, "limit", s.cfg.SlowConsumerBytes)
		cn.state = stateClosing
		cn.rc.Abort()
		return
	}
	if cn.closeAfterFlush {
		cn.rc.Close()
		return
	}
	if cn.rc.Buffered() == 0 {
		cn.unblock()
	}
}

// finish answers a request that came back from the pipeline.
func (cn *conn) finish(it *item) {
	r := it.req
	if it.connect {
		cn.finishConnect(r)
		return
	}
	defer cn.record(it, r.Result.Zxid)
	if it.failed != jute.CodeOK {
		cn.reply(jute.ReplyHeader{Xid: it.xid, Zxid: cn.loop.view().Zxid, Err: it.failed}, nil)
		return
	}
	switch it.op {
	case jute.OpSync:
		if r.Result.Err != jute.CodeOK {
			cn.reply(jute.ReplyHeader{Xid: it.xid, Zxid: r.Result.Zxid, Err: r.Result.Err}, nil)
			return
		}
		cn.reply(jute.ReplyHeader{Xid: it.xid, Zxid: cn.loop.view().Zxid},
			func(b []byte) []byte { return append(b, it.body...) })
	case jute.OpCreateSession:
		// A createSession sent on an open session: ZooKeeper logs it (a zxid)
		// and answers with a bare ConnectResponse for the connection's own
		// session, without a reply header.
		if r.Result.Err != jute.CodeOK {
			cn.reply(jute.ReplyHeader{Xid: it.xid, Zxid: r.Result.Zxid, Err: r.Result.Err}, nil)
			return
		}
		cn.writeConnectResponse(cn.timeout, cn.sessionID, cn.session.Passwd[:])
	case jute.OpGetEphemerals:
		cn.reply(jute.ReplyHeader{Xid: it.xid, Zxid: cn.loop.view().Zxid},
			func(b []byte) []byte { return append(b, r.Result.Body...) })
	default:
		if r.Result.Err == jute.CodeSessionMoved {
			// ZooKeeper drops a connection whose session moved elsewhere.
			cn.closeSoon()
			return
		}
		var body func([]byte) []byte
		if r.Result.Body != nil {
			body = func(b []byte) []byte { return append(b, r.Result.Body...) }
		}
		cn.reply(jute.ReplyHeader{Xid: it.xid, Zxid: r.Result.Zxid, Err: r.Result.Err}, body)
		if it.op == jute.OpCloseSession {
			cn.closeSoon()
		}
	}
}

// finishConnect sends the ConnectResponse once the session is set up.
func (cn *conn) finishConnect(r *pipeline.Request) {
	resp := jute.ConnectResponse{Passwd: make([]byte, 16)}
	if s := r.Session; s != nil {
		cn.session = s
		cn.sessionID = s.ID
		resp.TimeOut = cn.timeout
		resp.SessionID = s.ID
		copy(resp.Passwd, s.Passwd[:])
		cn.state = stateOpen
		cn.loop.srv.cfg.Logger.Debug("session established", "session", hex(s.ID), "timeout", cn.timeout, "remote", cn.ip)
	} else {
		cn.closeSoon()
		cn.loop.srv.cfg.Logger.Info("invalid session, probably expired", "session", hex(r.Entry.Session), "remote", cn.ip)
	}
	cn.writeConnectResponse(resp.TimeOut, resp.SessionID, resp.Passwd)
}

// writeConnectResponse appends a ConnectResponse frame, with the readOnly
// byte only if the client sent one.
func (cn *conn) writeConnectResponse(timeout int32, session int64, passwd []byte) {
	resp := jute.ConnectResponse{TimeOut: timeout, SessionID: session, Passwd: passwd, HasReadOnly: cn.hasReadOnly,
		ReadOnly: cn.readOnly}
	b, start := jute.BeginFrame(cn.out)
	cn.out = jute.EndFrame(resp.Append(b), start)
	cn.loop.markDirty(cn)
}

// reply appends a reply frame: the header, then the body if the reply
// succeeded (or body is for a failed multiRead, which ZooKeeper sends).
func (cn *conn) reply(h jute.ReplyHeader, body func([]byte) []byte) {
	b, start := jute.BeginFrame(cn.out)
	b = h.Append(b)
	if body != nil {
		b = body(b)
	}
	cn.out = jute.EndFrame(b, start)
	cn.stats.sent++
	cn.loop.stats.sent++
	cn.loop.markDirty(cn)
}

// notify appends a watch event; called while the loop delivers events.
func (cn *conn) notify(ev engine.Event) {
	if cn.closed || cn.state == stateClosing {
		return
	}
	cn.out = notifyFrame(cn.out, ev)
	cn.stats.sent++
	cn.loop.stats.sent++
	cn.loop.markDirty(cn)
}

// record updates the statistics after a reply to a request received at
// it.recv.
func (cn *conn) record(it *item, zxid int64) {
	cn.recordReply(it.op, it.xid, zxid, it.recv)
}

func (cn *conn) recordReply(op jute.OpCode, xid int32, zxid int64, recv time.Time) {
	now := cn.loop.now
	lat := now.Sub(recv).Milliseconds()
	s := &cn.stats
	s.lastOp = lastOpName(op)
	s.lastCxid = xid
	s.lastZxid = zxid
	s.lastResp = now
	s.lastLatency = lat
	s.latency.add(lat)
	if op.IsWrite() {
		cn.loop.stats.updates.Add(lat)
	} else {
		cn.loop.stats.reads.Add(lat)
	}
}

// auth handles an auth packet at once, as ZooKeeper does, ahead of queued
// requests: digest adds an identity (and super on the super digest), ip
// adds the client's address, any other scheme fails and closes.
func (cn *conn) auth(xid int32, body []byte) bool {
	var a jute.AuthPacket
	d := jute.NewDecoder(body)
	a.Decode(d)
	if d.Err() != nil {
		return false
	}
	switch a.Scheme {
	case "digest":
		id := cn.loop.srv.cfg.Digest.ID(string(a.Auth))
		if sd := cn.loop.srv.cfg.SuperDigest; sd != "" && id == sd {
			cn.ids = engine.AddIdentity(cn.ids, jute.ID{Scheme: "super", ID: ""})
		}
		cn.ids = engine.AddIdentity(cn.ids, jute.ID{Scheme: "digest", ID: id})
	case "ip":
		cn.ids = engine.AddIdentity(cn.ids, jute.ID{Scheme: "ip", ID: javaHostAddress(cn.rc.RemoteAddr())})
	default:
		cn.loop.srv.shed.authFailed.Add(1)
		cn.loop.srv.cfg.Logger.Info("authentication failed: no provider for scheme", "scheme", a.Scheme, "remote", cn.ip)
		cn.reply(jute.ReplyHeader{Xid: xid, Err: jute.CodeAuthFailed}, nil)
		cn.closeSoon()
		return true
	}
	cn.reply(jute.ReplyHeader{Xid: xid}, nil)
	return true
}

// mayWatch reports whether the connection may set one more watch; when it
// may not, it is closed once its replies so far are written.
func (cn *conn) mayWatch() bool {
	limit := cn.loop.srv.cfg.MaxWatches
	if limit <= 0 || cn.loop.watches.CountOf(cn) < limit {
		return true
	}
	cn.overWatchCap()
	return false
}

// overWatchCap closes a connection that holds, or asked for, more watches
// than MaxWatches.
func (cn *conn) overWatchCap() {
	watchCapClosed.Inc()
	cn.loop.srv.limitLog.Info("closing connection: over meerkat.client.maxWatches", "remote", cn.ip,
		"max", cn.loop.srv.cfg.MaxWatches)
	cn.closeSoon()
}

// authenticated reports whether the connection may make requests: it has
// an identity of a scheme authentication is enforced for, or nothing is
// enforced.
func (cn *conn) authenticated() bool {
	schemes := cn.loop.srv.cfg.EnforceAuthSchemes
	if len(schemes) == 0 {
		return true
	}
	for _, id := range cn.ids {
		if slices.Contains(schemes, id.Scheme) {
			return true
		}
	}
	return false
}

// refuseUnauthenticated answers a request of a connection that has not
// authenticated as ZooKeeper's AuthenticationHelper does: the error
// SESSIONCLOSEDREQUIRESASLAUTH, then the connection is closed (the session
// stays, to expire or be resumed by a connection that authenticates).
func (cn *conn) refuseUnauthenticated(xid int32) {
	cn.loop.srv.authLog.Info("closing connection: not authenticated with a scheme authentication is enforced for",
		"remote", cn.ip, "schemes", cn.loop.srv.cfg.EnforceAuthSchemes)
	cn.reply(jute.ReplyHeader{Xid: xid, Err: jute.CodeSessionClosedRequireSASL}, nil)
	cn.closeSoon()
}

// javaHostAddress formats an address as Java's InetAddress.getHostAddress:
// dotted IPv4, or eight uncompressed hex groups for IPv6.
func javaHostAddress(a net.Addr) string {
	t, ok := a.(*net.TCPAddr)
	if !ok {
		return remoteIP(a)
	}
	if v4 := t.IP.To4(); v4 != nil {
		return v4.String()
	}
	ip := t.IP.To16()
	if ip == nil {
		return t.IP.String()
	}
	groups := make([]string, 8)
	for i := range groups {
		groups[i] = fmt.Sprintf("%x", binary.BigEndian.Uint16(ip[2*i:]))
	}
	s := strings.Join(groups, ":")
	if t.Zone != "" {
		s += "%" + t.Zone
	}
	return s
}

// lastOpName is the four-letter op name ZooKeeper's cons shows as lop.
func lastOpName(op jute.OpCode) string {
	switch op {
	case jute.OpPing:
		return "PING"
	case jute.OpCreateSession:
		return "SESS"
	case jute.OpMulti:
		return "MULT"
	case jute.OpMultiRead:
		return "MLTR"
	case jute.OpCreate, jute.OpCreate2, jute.OpCreateTTL, jute.OpCreateContainer:
		return "CREA"
	case jute.OpDelete, jute.OpDeleteContainer:
		return "DELE"
	case jute.OpSetData:
		return "SETD"
	case jute.OpReconfig:
		return "RECO"
	case jute.OpSetACL:
		return "SETA"
	case jute.OpCloseSession:
		return "CLOS"
	case jute.OpSync:
		return "SYNC"
	case jute.OpCheck:
		return "CHEC"
	case jute.OpExists:
		return "EXIS"
	case jute.OpGetData:
		return "GETD"
	case jute.OpSetWatches:
		return "SETW"
	case jute.OpSetWatches2:
		return "STW2"
	case jute.OpAddWatch:
		return "ADDW"
	case jute.OpGetACL:
		return "GETA"
	case jute.OpGetChildren, jute.OpGetChildren2:
		return "GETC"
	case jute.OpGetAllChildrenNumber:
		return "GETACN"
	case jute.OpCheckWatches:
		return "CHKW"
	case jute.OpRemoveWatches:
		return "REMW"
	case jute.OpWhoAmI:
		return "HOMI"
	case jute.OpGetEphemerals:
		return "GETE"
	}
	return "NA"
}
