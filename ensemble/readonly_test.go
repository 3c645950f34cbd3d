package ensemble

import (
	"errors"
	"fmt"
	"io"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/meerkat-zk/meerkat/internal/wire"
	"github.com/meerkat-zk/meerkat/internal/zktest"
	"github.com/meerkat-zk/meerkat/jute"
)

// notServing is how srvr starts on a member that serves no client.
const notServing = "This ZooKeeper instance is not currently serving requests"

// srvrState classifies a srvr answer: "not serving", "Mode: <mode>",
// "empty" (the connection closed without a word) or "no answer".
func srvrState(out string, err error) string {
	switch {
	case err != nil:
		return "no answer"
	case out == "":
		return "empty"
	case strings.HasPrefix(out, notServing):
		return "not serving"
	}
	for _, line := range strings.Split(out, "\n") {
		if strings.HasPrefix(line, "Mode: ") {
			return line
		}
	}
	return fmt.Sprintf("srvr without a Mode line: %q", out)
}

// readOnlyWait is what a member answered between the SIGKILL of the others
// and its read-only mode.
type readOnlyWait struct {
	// states are srvr's answers, repeats collapsed, a leading
	// "Mode: follower" (the member had not yet seen its leader die) left
	// out, and so are empty answers: ZooKeeper closes a four-letter
	// connection without a word now and then while it changes roles.
	states []string
	empty  int
	// isro are the distinct answers of isro sent between two srvr that both
	// said the member serves nothing.
	isro []string
	took time.Duration
}

// waitReadOnly polls srvr on addr until it says "Mode: read-only", for
// 30 s at most, noting the states it goes through and what isro answers
// while the member serves nothing. How long it took is logged, never
// checked.
func waitReadOnly(t *testing.T, addr string, since time.Time) readOnlyWait {
	t.Helper()
	var w readOnlyWait
	note := func(s string) {
		if s == "empty" {
			w.empty++
			return
		}
		if len(w.states) == 0 && s == "Mode: follower" {
			return
		}
		if len(w.states) == 0 || w.states[len(w.states)-1] != s {
			w.states = append(w.states, s)
		}
	}
	seenIsro := map[string]bool{}
	deadline := time.Now().Add(30 * time.Second)
	for {
		before := srvrState(zktest.FourLetter(addr, "srvr"))
		note(before)
		if before == "Mode: read-only" {
			break
		}
		isro, err := zktest.FourLetter(addr, "isro")
		after := srvrState(zktest.FourLetter(addr, "srvr"))
		note(after)
		if before == "not serving" && after == "not serving" {
			if err != nil {
				isro = "error: " + err.Error()
			}
			if !seenIsro[isro] {
				seenIsro[isro] = true
				w.isro = append(w.isro, isro)
			}
		}
		if after == "Mode: read-only" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: not in read-only mode 30 s after the SIGKILLs; srvr went through %q", addr, w.states)
		}
		time.Sleep(20 * time.Millisecond)
	}
	w.took = time.Since(since)
	t.Logf("%s: read-only %v after the SIGKILLs (srvr went through %q; %d empty answers)", addr,
		w.took.Round(time.Millisecond), w.states, w.empty)
	return w
}

// readOnlyFacts checks how the member at addr went read-only (the states
// srvr went through, isro meanwhile) and what its monitoring words say
// once it is: srvr (the volatile values masked, the Zxid relative to
// last), isro, mntr's zk_server_state, ruok.
func readOnlyFacts(t *testing.T, acct *account, addr string, w readOnlyWait, last int64, nodes int) {
	t.Helper()
	acct.expect(t, "srvr after the SIGKILLs: "+strings.Join(w.states, " -> "),
		"srvr after the SIGKILLs: not serving -> Mode: read-only")
	acct.expect(t, "isro while not serving: "+strings.Join(w.isro, ", "), "isro while not serving: null")
	out, err := zktest.FourLetter(addr, "srvr")
	if err != nil {
		t.Fatalf("srvr: %v", err)
	}
	want := []string{
		"Zookeeper version: V",
		"READ-ONLY mode; serving only read-only clients",
		"Latency min/avg/max: N/N/N",
		"Received: N",
		"Sent: N",
		"Connections: 1",
		"Outstanding: 0",
		"Zxid: last+0",
		"Mode: read-only",
		fmt.Sprintf("Node count: %d", nodes),
	}
	got := maskSrvr(t, out, last)
	for i := range max(len(got), len(want)) {
		g, w := "(none)", "(none)"
		if i < len(got) {
			g = got[i]
		}
		if i < len(want) {
			w = want[i]
		}
		acct.expect(t, fmt.Sprintf("read-only srvr line %d: %s", i+1, g), fmt.Sprintf("read-only srvr line %d: %s", i+1, w))
	}
	isro, err := zktest.FourLetter(addr, "isro")
	acct.expect(t, fmt.Sprintf("isro: %q %v", isro, err), `isro: "ro" <nil>`)
	acct.expect(t, "mntr zk_server_state: "+mntr(t, addr)["zk_server_state"], "mntr zk_server_state: read-only")
	ruok, err := zktest.FourLetter(addr, "ruok")
	acct.expect(t, fmt.Sprintf("ruok: %q %v", ruok, err), `ruok: "imok" <nil>`)
}

var (
	srvrVolatile = regexp.MustCompile(`^(Zookeeper version|Latency min/avg/max|Received|Sent): `)
	numbers      = regexp.MustCompile(`[0-9.]+`)
)

// maskSrvr returns srvr's lines with the server's version and counters
// masked and its Zxid made relative to last.
func maskSrvr(t *testing.T, out string, last int64) []string {
	t.Helper()
	var lines []string
	for _, line := range strings.Split(strings.TrimRight(out, "\n"), "\n") {
		switch {
		case strings.HasPrefix(line, "Zookeeper version: "):
			line = "Zookeeper version: V"
		case srvrVolatile.MatchString(line):
			k, v, _ := strings.Cut(line, ": ")
			line = k + ": " + numbers.ReplaceAllString(v, "N")
		case strings.HasPrefix(line, "Zxid: 0x"):
			z, err := strconv.ParseInt(strings.TrimPrefix(line, "Zxid: 0x"), 16, 64)
			if err != nil {
				t.Fatalf("srvr: %q", line)
			}
			line = fmt.Sprintf("Zxid: last%+d", z-last)
		}
		lines = append(lines, line)
	}
	return lines
}

// refusalFact states how a connect that must get no session ended: c and
// err are what handshake returned.
func refusalFact(what string, c *wire.Conn, err error) string {
	switch {
	case err == nil:
		c.Close()
		return fmt.Sprintf("%s: a ConnectResponse: timeout %d, session != 0 %v, readOnly %v", what,
			c.Session.TimeOut, c.Session.SessionID != 0, c.Session.ReadOnly)
	case errors.Is(err, io.EOF):
		return what + ": connection closed, no ConnectResponse"
	default:
		return fmt.Sprintf("%s: handshake failed: %v", what, err)
	}
}

// killLeaderAndAFollower SIGKILLs the follower other, then the leader,
// leaving the third member alone, and returns when the leader died. In
// that order the two left after the first SIGKILL still have their leader,
// so no new one can be elected in between.
func killLeaderAndAFollower(e *zktest.Ensemble, lead, other int) time.Time {
	e.Members[other].Kill()
	killed := time.Now()
	e.Members[lead].Kill()
	return killed
}

// TestReadOnlyMode checks ZooKeeper's read-only mode
// (readonlymode.enabled=true, with localSessionsEnabled=true) on the
// follower left alone after the SIGKILL of the leader and the other
// follower: it serves nothing for a while (srvr "not currently serving",
// isro "null"), then serves read-only clients (srvr's READ-ONLY line and
// Mode: read-only, isro "ro", mntr zk_server_state read-only). It closes a
// connection that does not allow read-only mode without a ConnectResponse;
// it gives a read-only client a session with the ConnectResponse's
// readOnly flag set, answers its reads and fails its writes, sync, check
// and multi with NOTREADONLY (at the last zxid), counts it as a local
// session, takes it up again on the same member, expires an unknown
// session's reconnect, and closes it with OK. Once a killed member is back
// the follower leaves read-only mode, and a read-only session it had is
// expired.
func TestReadOnlyMode(t *testing.T) {
	sideBySide(t, func(t *testing.T, start startEnsembleFunc, acct *account) {
		e, lead, f, o := startWith(t, start, "readonlymode.enabled=true", "localSessionsEnabled=true")
		fAddr := e.Members[f].Addr
		for _, m := range []struct {
			i    int
			role string
		}{{lead, "the leader"}, {f, "a follower"}, {o, "the other follower"}} {
			isro, err := zktest.FourLetter(e.Members[m.i].Addr, "isro")
			acct.expect(t, fmt.Sprintf("isro on %s before the SIGKILLs: %q %v", m.role, isro, err),
				fmt.Sprintf(`isro on %s before the SIGKILLs: "rw" <nil>`, m.role))
		}
		c := openSession(t, fAddr, false)
		r, err := c.Create("/ro", []byte("before"), 0)
		if err != nil || r.Header.Err != jute.CodeOK {
			t.Fatalf("create /ro: %v %v", r.Header.Err, err)
		}
		last := r.Header.Zxid
		call(t, c, "closeSession", jute.OpCloseSession, nil)
		c.Close()

		w := waitReadOnly(t, fAddr, killLeaderAndAFollower(e, lead, o))
		readOnlyFacts(t, acct, fAddr, w, last, 6)

		rw, err := handshake(t, fAddr, 10000, 0, nil, false)
		acct.expect(t, refusalFact("connect without readOnly", rw, err),
			"connect without readOnly: connection closed, no ConnectResponse")

		ro, err := handshake(t, fAddr, 10000, 0, nil, true)
		if err != nil {
			t.Fatalf("read-only connect: %v", err)
		}
		sid, passwd := ro.Session.SessionID, ro.Session.Passwd
		acct.expect(t, fmt.Sprintf("read-only connect: readOnly %v, session != 0 %v, timeout > 0 %v",
			ro.Session.ReadOnly, sid != 0, ro.Session.TimeOut > 0),
			"read-only connect: readOnly true, session != 0 true, timeout > 0 true")
		if sid == 0 || ro.Session.TimeOut <= 0 {
			t.FailNow()
		}
		r, err = ro.GetData("/ro", false)
		if err != nil {
			t.Fatal(err)
		}
		acct.expect(t, fmt.Sprintf("getData /ro: %s, zxid last%+d, data %q", r.Header.Err.String(), r.Header.Zxid-last,
			jute.NewDecoder(r.Body).Buffer()), `getData /ro: OK, zxid last+0, data "before"`)
		multi := (&jute.MultiHeader{Type: jute.OpSetData, Err: -1}).Append(nil)
		multi = (&jute.SetDataRequest{Path: "/ro", Data: []byte("multi"), Version: -1}).Append(multi)
		multi = jute.AppendMultiEnd(multi)
		create := jute.CreateRequest{Path: "/ro/child", ACL: []jute.ACL{{Perms: jute.PermAll, ID: jute.ID{Scheme: "world", ID: "anyone"}}}}
		for _, op := range []struct {
			what string
			op   jute.OpCode
			body []byte
		}{
			{"setData /ro", jute.OpSetData, (&jute.SetDataRequest{Path: "/ro", Data: []byte("after"), Version: -1}).Append(nil)},
			{"create /ro/child", jute.OpCreate, create.AppendCreate(nil, false)},
			{"sync /", jute.OpSync, jute.AppendString(nil, "/")},
			{"check /ro", jute.OpCheck, (&jute.PathVersionRequest{Path: "/ro", Version: -1}).Append(nil)},
			{"multi [setData /ro]", jute.OpMulti, multi},
		} {
			r := call(t, ro, op.what, op.op, op.body)
			acct.expect(t, fmt.Sprintf("%s: %s, zxid last%+d", op.what, r.Header.Err.String(), r.Header.Zxid-last),
				op.what+": NOTREADONLY, zxid last+0")
		}
		acct.expect(t, "with the read-only session open, mntr zk_local_sessions="+mntr(t, fAddr)["zk_local_sessions"],
			"with the read-only session open, mntr zk_local_sessions=1")
		r, err = ro.GetData("/ro", false)
		if err != nil {
			t.Fatal(err)
		}
		acct.expect(t, fmt.Sprintf("getData /ro after the failed writes: %s, data %q", r.Header.Err.String(),
			jute.NewDecoder(r.Body).Buffer()), `getData /ro after the failed writes: OK, data "before"`)

		// The client comes back on a new connection.
		ro.Close()
		again, err := handshake(t, fAddr, 10000, sid, passwd, true)
		if err != nil {
			t.Fatalf("taking the read-only session up again: %v", err)
		}
		acct.expect(t, fmt.Sprintf("the read-only session taken up again: same session %v, timeout > 0 %v, readOnly %v",
			again.Session.SessionID == sid, again.Session.TimeOut > 0, again.Session.ReadOnly),
			"the read-only session taken up again: same session true, timeout > 0 true, readOnly true")
		acct.expect(t, reconnectFact(t, "an unknown session's reconnect", fAddr, 0x7700000000000001, make([]byte, 16), true),
			"an unknown session's reconnect: expired (timeout 0, session 0)")
		if again.Session.SessionID == sid {
			r = call(t, again, "closeSession", jute.OpCloseSession, nil)
			acct.expect(t, "closeSession of the read-only session: "+r.Header.Err.String(), "closeSession of the read-only session: OK")
		}
		again.Close()

		// A read-only session whose client goes away, to come back once
		// the member serves writes again.
		left, err := handshake(t, fAddr, 40000, 0, nil, true)
		if err != nil || left.Session.SessionID == 0 {
			t.Fatalf("a second read-only session: %v", err)
		}
		lsid, lpasswd := left.Session.SessionID, left.Session.Passwd
		left.Close()

		e.Members[o].Restart(t)
		deadline := time.Now().Add(60 * time.Second)
		mode := srvrState(zktest.FourLetter(fAddr, "srvr"))
		for mode != "Mode: follower" && mode != "Mode: leader" {
			if time.Now().After(deadline) {
				t.Fatalf("the member is still %q 60 s after another member came back", mode)
			}
			time.Sleep(50 * time.Millisecond)
			mode = srvrState(zktest.FourLetter(fAddr, "srvr"))
		}
		isro, err := zktest.FourLetter(fAddr, "isro")
		acct.expect(t, fmt.Sprintf("back in a quorum (srvr says follower or leader): isro %q %v", isro, err),
			`back in a quorum (srvr says follower or leader): isro "rw" <nil>`)
		acct.expect(t, reconnectFact(t, "back in a quorum: the read-only session's reconnect", fAddr, lsid, lpasswd, true),
			"back in a quorum: the read-only session's reconnect: expired (timeout 0, session 0)")
	})
}

// TestReadOnlyModeWithoutLocalSessions checks ZooKeeper's read-only mode
// with localSessionsEnabled=false: the follower left alone still enters
// read-only mode (srvr, isro, mntr say so), but a read-only client gets no
// session (ZooKeeper 3.8 answers its ConnectRequest with a bare reply
// header, NOTREADONLY, instead of a ConnectResponse; closing the connection
// is taken as the same outcome), and a read-write one none either.
func TestReadOnlyModeWithoutLocalSessions(t *testing.T) {
	sideBySide(t, func(t *testing.T, start startEnsembleFunc, acct *account) {
		e, lead, f, o := startWith(t, start, "readonlymode.enabled=true")
		fAddr := e.Members[f].Addr
		c := openSession(t, fAddr, false)
		r, err := c.Create("/ro", []byte("before"), 0)
		if err != nil || r.Header.Err != jute.CodeOK {
			t.Fatalf("create /ro: %v %v", r.Header.Err, err)
		}
		call(t, c, "closeSession", jute.OpCloseSession, nil)
		c.Close()
		// Without local sessions the close is a transaction too.
		last := srvrZxid(t, fAddr)

		w := waitReadOnly(t, fAddr, killLeaderAndAFollower(e, lead, o))
		readOnlyFacts(t, acct, fAddr, w, last, 6)

		// ZooKeeper 3.8 sends a reply header (xid 0, NOTREADONLY) where
		// the ConnectResponse should be, and keeps the connection; a
		// server that closes it instead gives no session either.
		ro, err := handshake(t, fAddr, 10000, 0, nil, true)
		fact := "read-only connect: no session"
		if err == nil {
			fact = refusalFact("read-only connect", ro, nil)
		} else {
			t.Logf("read-only connect: %v", err)
		}
		acct.expect(t, fact, "read-only connect: no session")
		rw, err := handshake(t, fAddr, 10000, 0, nil, false)
		acct.expect(t, refusalFact("connect without readOnly", rw, err),
			"connect without readOnly: connection closed, no ConnectResponse")
		ruok, err := zktest.FourLetter(fAddr, "ruok")
		acct.expect(t, fmt.Sprintf("ruok after the connects: %q %v", ruok, err), `ruok after the connects: "imok" <nil>`)
	})
}
