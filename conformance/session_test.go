package conformance

import (
	"bufio"
	"fmt"
	"time"

	"github.com/meerkat-zk/meerkat/internal/wire"
	"github.com/meerkat-zk/meerkat/jute"
)

// sessionScenarios cover the handshake, reconnects and closeSession.
var sessionScenarios = []scenario{
	{"session_timeout_negotiation", func(e *env) {
		// tickTime 2000: min 4000, max 40000.
		for i, to := range []int32{1, 3999, 4000, 5000, 39999, 40000, 40001, 1 << 30, 0, -5} {
			c := e.connectWith(fmt.Sprintf("C%d", i), connectOpts{timeout: to})
			c.ping()
		}
	}},
	{"session_connect_without_readonly_flag", func(e *env) {
		a := e.connectWith("A", connectOpts{timeout: defaultTimeout, noReadOnly: true})
		a.ping()
		r, ok := e.tryConnect("A2", connectOpts{timeout: defaultTimeout, sessionID: a.sessionID, passwd: a.passwd, noReadOnly: true})
		if ok {
			a.awaitClose("old connection")
			r.ping()
		}
	}},
	{"session_reconnect_keeps_session", func(e *env) {
		a := e.connect("A")
		a.create(e.p(""), nil, 0)
		a.create(e.p("eph"), nil, 1)
		a.auth("digest", "alice:pw")
		a.getData(e.p(""), true)
		r, ok := a.reconnect("A2")
		if !ok {
			return
		}
		a.awaitClose("old connection")
		r.exists(e.p("eph"), false)
		r.whoAmI()
		r.getEphemerals(e.p(""))
		b := e.connect("B")
		b.setData(e.p(""), []byte("no watch after reconnect"), -1)
		r.events()
	}},
	{"session_reconnect_closes_old_connection_first", func(e *env) {
		// ZooKeeper drops the session's old connection before it answers
		// the new handshake, so a request on the old connection sent after
		// that answer never gets a reply.
		cur := e.connect("A")
		cur.create(e.p(""), nil, 0)
		for i := 0; i < 20; i++ {
			next, ok := cur.reconnect(fmt.Sprintf("A%d", i+1))
			if !ok {
				return
			}
			cur.ping()
			cur = next
		}
		cur.exists(e.p(""), false)
	}},
	passwordScenario("session_reconnect_wrong_password", func(p []byte) []byte {
		bad := append([]byte(nil), p...)
		bad[0] ^= 0xff
		return bad
	}),
	{"session_reconnect_unknown_session", func(e *env) {
		e.tryConnect("X", connectOpts{timeout: defaultTimeout, sessionID: 0x0123456789abcdef, passwd: make([]byte, 16)})
		e.tryConnect("Y", connectOpts{timeout: defaultTimeout, sessionID: -1, passwd: make([]byte, 16)})
		a := e.connect("A")
		a.ping()
	}},
	{"session_reconnect_after_close", func(e *env) {
		a := e.connect("A")
		sid, pw := a.sessionID, a.passwd
		a.closeSession()
		e.tryConnect("A2", connectOpts{timeout: defaultTimeout, sessionID: sid, passwd: pw})
		b := e.connect("B")
		b.ping()
	}},
	{"session_last_zxid_ahead_refused", func(e *env) {
		a := e.connect("A")
		a.ping()
		e.tryConnect("F", connectOpts{timeout: defaultTimeout, lastZxid: a.lastZxid + 1000})
		e.tryConnect("G", connectOpts{timeout: defaultTimeout, lastZxid: a.lastZxid})
		e.tryConnect("H", connectOpts{timeout: defaultTimeout, sessionID: a.sessionID, passwd: a.passwd, lastZxid: 1 << 50})
		a.ping()
	}},
	{"session_close_deletes_only_own_ephemerals", func(e *env) {
		a := e.connect("A")
		b := e.connect("B")
		a.create(e.p(""), nil, 0)
		for i := 0; i < 5; i++ {
			a.create(e.p(fmt.Sprintf("a%d", i)), nil, 1)
		}
		b.create(e.p("b"), nil, 1)
		a.closeSession()
		b.getChildren2(e.p(""), false)
		b.getEphemerals(e.p(""))
	}},
	{"session_requests_pipelined_after_close", func(e *env) {
		a := e.connect("A")
		a.create(e.p(""), nil, 0)
		var b []byte
		b = append(b, wire.RequestFrame(a.nextXid(), jute.OpCloseSession, nil)...)
		existsXid := a.nextXid()
		b = append(b, wire.RequestFrame(existsXid, jute.OpExists, pathWatchBody(e.p(""), false))...)
		b = append(b, wire.RequestFrame(a.nextXid(), jute.OpCreate, createBody(e.p("late"), nil, openACL, 0))...)
		if err := a.writeRaw(b); err != nil {
			e.fatalf("write: %v", err)
		}
		e.closed[a.sessionID] = true
		closed, frames := a.waitClosed(replyTimeout)
		// ZooKeeper answers the closeSession, then closes the socket; the
		// requests behind it get SESSIONEXPIRED or nothing, depending on
		// timing. Only other answers are recorded.
		for i, f := range frames {
			if i > 0 && f.hdr.Err == jute.CodeSessionExpired && len(f.body) == 0 {
				continue
			}
			if e.target == ensembleFollower && f.hdr.Xid == existsXid && f.hdr.Err == jute.CodeOK {
				// On a follower, timing too: ZooKeeper's follower checks
				// no session for a read it serves itself, and answers
				// the exists behind the closeSession (OK, with the stat)
				// when it gets to it before the socket is closed (most
				// runs, not all). Meerkat's follower, as ZooKeeper's
				// standalone server, does not.
				continue
			}
			e.logf("A: frame xid=%d zxid=%s err=%s len=%d", f.hdr.Xid, e.zx(f.hdr.Zxid), f.hdr.Err.String(), len(f.body))
		}
		e.logf("A: closed: %v", closed)
		// Whether ZooKeeper still took a request behind the closeSession
		// (an error txn, one zxid) depends on timing too, so C's zxids are
		// counted from its own first reply.
		e.hasBase = false
		c := e.connect("C")
		c.exists(e.p("late"), false)
	}},
	{"session_ping", func(e *env) {
		a := e.connect("A")
		a.ping()
		a.create(e.p(""), nil, 0)
		a.ping()
		b := e.connect("B")
		a.ping()
		b.create(e.p("x"), nil, 0)
		a.ping()
		a.callWith(77, "ping with a normal xid", jute.OpPing, nil)
		a.ping()
	}},
	{"session_pipelined_replies_in_order", func(e *env) {
		a := e.connect("A")
		a.create(e.p(""), nil, 0)
		var b []byte
		var xids []int32
		for i := 0; i < 30; i++ {
			x := a.nextXid()
			xids = append(xids, x)
			switch i % 3 {
			case 0:
				b = append(b, wire.RequestFrame(x, jute.OpCreate, createBody(e.p(fmt.Sprintf("n%02d", i)), nil, openACL, 0))...)
			case 1:
				b = append(b, wire.RequestFrame(x, jute.OpGetData, pathWatchBody(e.p(fmt.Sprintf("n%02d", i-1)), false))...)
			default:
				b = append(b, wire.RequestFrame(x, jute.OpExists, pathWatchBody(e.p("nope"), false))...)
			}
		}
		if err := a.writeRaw(b); err != nil {
			e.fatalf("write: %v", err)
		}
		for i, x := range xids {
			f, err := a.reply(replyTimeout)
			if err != nil {
				e.logf("A: reply %d: %v", i, err)
				return
			}
			e.logf("A: reply xid=%d (want %d) err=%s zxid=%s", f.hdr.Xid, x, f.hdr.Err.String(), e.zx(f.hdr.Zxid))
		}
	}},
	{"session_auth_is_per_session_not_connection", func(e *env) {
		a := e.connect("A")
		a.auth("digest", "alice:pw")
		a.whoAmI()
		r, ok := a.reconnect("A2")
		if ok {
			a.awaitClose("old connection")
			r.whoAmI()
		}
	}},
	{"session_pipelined_handshake_auth_and_requests", func(e *env) {
		a := e.connect("A")
		a.create(e.p(""), nil, 0)
		a.create(e.p("w"), nil, 0)
		// What the Java client does on connect: ConnectRequest, then auth
		// packets, SetWatches and requests, all before the handshake
		// answer arrives.
		nc, err := dialRaw(e.srv.Addr)
		if err != nil {
			e.fatalf("dial: %v", err)
		}
		b := wire.Frame((&jute.ConnectRequest{TimeOut: defaultTimeout, Passwd: make([]byte, 16), HasReadOnly: true}).Append(nil))
		b = append(b, wire.RequestFrame(jute.XidAuth, jute.OpAuth, authBody("digest", []byte("alice:pw")))...)
		b = append(b, wire.RequestFrame(jute.XidSetWatches, jute.OpSetWatches, (&jute.SetWatches{RelativeZxid: 0, DataWatches: []string{e.p("w")}, ExistWatches: []string{e.p("new")}}).AppendSetWatches(nil, false))...)
		b = append(b, wire.RequestFrame(1, jute.OpCreate, createBody(e.p("mine"), nil, creatorACL, 0))...)
		b = append(b, wire.RequestFrame(2, jute.OpGetACL, pathBody(e.p("mine")))...)
		b = append(b, wire.RequestFrame(3, jute.OpWhoAmI, nil)...)
		if _, err := nc.Write(b); err != nil {
			e.fatalf("write: %v", err)
		}
		nc.SetReadDeadline(time.Now().Add(replyTimeout))
		br := bufio.NewReader(nc)
		payload, err := wire.ReadFrame(br, maxFrame)
		if err != nil {
			e.fatalf("handshake: %v", err)
		}
		var r jute.ConnectResponse
		r.Decode(jute.NewDecoder(payload))
		e.sessions[r.SessionID] = "sP"
		e.logf("P: connect -> timeout=%d session=%s", r.TimeOut, e.sess(r.SessionID))
		c := &client{rawConn: &rawConn{nc: nc, in: make(chan frame, 64), sessionID: r.SessionID, passwd: r.Passwd, timeout: r.TimeOut, xid: 3}, e: e, label: "P"}
		nc.SetReadDeadline(time.Time{})
		go c.readLoop(br)
		e.clients = append(e.clients, c)
		ops := map[int32]jute.OpCode{jute.XidAuth: jute.OpAuth, jute.XidSetWatches: jute.OpSetWatches, 1: jute.OpCreate, 2: jute.OpGetACL, 3: jute.OpWhoAmI}
		for i := 0; i < 5; i++ {
			f, err := c.reply(replyTimeout)
			c.flushEvents()
			if err != nil {
				e.logf("P: %s", errKind(err))
				break
			}
			e.logf("P: reply xid=%d %s zxid=%s%s", f.hdr.Xid, f.hdr.Err.String(), e.zx(f.hdr.Zxid), e.renderBody(ops[f.hdr.Xid], f))
		}
		a.create(e.p("new"), nil, 0)
		a.setData(e.p("w"), []byte("x"), -1)
		c.events()
	}},
}

// passwordScenario reconnects to a live session with the password that
// passwd makes of the real one (a nil passwd sends a null buffer), and
// records what becomes of the old connection and the session's ephemeral.
func passwordScenario(name string, passwd func(real []byte) []byte) scenario {
	null := false
	if passwd == nil {
		null = true
		passwd = func([]byte) []byte { return nil }
	}
	return scenario{name, func(e *env) {
		a := e.connect("A")
		a.create(e.p(""), nil, 0)
		a.create(e.p("eph"), nil, 1)
		e.tryConnect("A2", connectOpts{timeout: defaultTimeout, sessionID: a.sessionID, passwd: passwd(a.passwd), nullPasswd: null})
		closed, _ := a.waitClosed(replyTimeout)
		a.dropped = a.dropped || closed
		e.logf("A: old connection closed by server: %v", closed)
		b := e.connect("B")
		b.exists(e.p("eph"), false)
	}}
}

var passwordScenarios = []scenario{
	passwordScenario("session_reconnect_password_8_bytes", func(p []byte) []byte { return p[:8] }),
	passwordScenario("session_reconnect_password_empty", func(p []byte) []byte { return []byte{} }),
	passwordScenario("session_reconnect_password_17_bytes", func(p []byte) []byte { return append(append([]byte(nil), p...), 0) }),
	passwordScenario("session_reconnect_password_null", nil),
}
