package ensemble

import (
	"fmt"
	"strconv"
	"strings"
	"testing"

	"github.com/meerkat-zk/meerkat/internal/wire"
	"github.com/meerkat-zk/meerkat/internal/zktest"
	"github.com/meerkat-zk/meerkat/jute"
)

// The local-session and read-only tests run one scenario against a
// ZooKeeper 3.8 ensemble, then against a Meerkat ensemble. Each step of the
// scenario turns what the server answered into a fact (a line with codes,
// zxids relative to a base, flags, srvr lines; nothing that differs between
// two runs) and checks it against what ZooKeeper 3.8 was measured to
// answer; the two implementations' accounts are compared line by line at
// the end, so a failure shows both sides.

// sideBySideKinds are the implementations a side-by-side ensemble test runs,
// ZooKeeper first: a failure there is a broken test.
var sideBySideKinds = []struct {
	name  string
	start startEnsembleFunc
}{
	{"zookeeper", zktest.StartZooKeeperEnsemble},
	{"meerkat", zktest.StartMeerkatEnsemble},
}

type startEnsembleFunc func(zktest.TB, zktest.EnsembleOptions) *zktest.Ensemble

// account is what one implementation answered in a scenario, a fact a line.
type account struct {
	lines         []string
	ran, finished bool
}

// expect writes got down in the account and fails t when it is not want,
// the fact as ZooKeeper 3.8 states it.
func (a *account) expect(t *testing.T, got, want string) {
	t.Helper()
	a.lines = append(a.lines, got)
	if got != want {
		t.Errorf("got   %q\nwant  %q (what ZooKeeper 3.8 answers)", got, want)
	}
}

// sideBySide runs scenario against each implementation in a subtest (one
// after the other: the ensemble tests do not run in parallel), then
// compares their accounts when both ran.
func sideBySide(t *testing.T, scenario func(t *testing.T, start startEnsembleFunc, acct *account)) {
	t.Helper()
	accts := make([]*account, len(sideBySideKinds))
	for i, k := range sideBySideKinds {
		accts[i] = &account{}
		t.Run(k.name, func(t *testing.T) {
			accts[i].ran = true
			scenario(t, k.start, accts[i])
			accts[i].finished = true
		})
	}
	z, m := accts[0], accts[1]
	if !z.ran || !m.ran {
		return
	}
	if d := zktest.LineDiff(z.lines, m.lines, 2); d != "" {
		t.Errorf("the accounts differ (- ZooKeeper, + Meerkat; ZooKeeper's scenario ran to its end: %v, Meerkat's: %v):\n%s",
			z.finished, m.finished, d)
	} else {
		t.Logf("ZooKeeper and Meerkat answered the same %d facts:\n  %s", len(z.lines), strings.Join(z.lines, "\n  "))
	}
}

// startWith starts an ensemble with the zoo.cfg lines extra, logs its
// members' logs if the test fails, and returns it with its leader and the
// two followers.
func startWith(t *testing.T, start startEnsembleFunc, extra ...string) (e *zktest.Ensemble, lead, f, o int) {
	t.Helper()
	e = start(t, zktest.EnsembleOptions{Options: zktest.Options{Extra: extra}})
	logsOnFailure(t, e)
	lead = e.Leader(t)
	return e, lead, (lead + 1) % 3, (lead + 2) % 3
}

// logsOnFailure logs the end of each member's log (its current
// incarnation) if t failed.
func logsOnFailure(t *testing.T, e *zktest.Ensemble) {
	t.Cleanup(func() {
		if !t.Failed() {
			return
		}
		for i, s := range e.Members {
			log := s.Log()
			if len(log) > 6000 {
				log = "...\n" + log[len(log)-6000:]
			}
			t.Logf("--- %s member %d (%s) log ---\n%s", s.Name, i+1, s.Addr, log)
		}
	})
}

// handshake connects to addr and sends a ConnectRequest for session sid
// (0 for a new one) with passwd (nil for 16 zero bytes) and the read-only
// flag. It returns the connection, or the handshake's error; the test's
// cleanup closes the connection.
func handshake(t *testing.T, addr string, timeoutMs int32, sid int64, passwd []byte, readOnly bool) (*wire.Conn, error) {
	t.Helper()
	if passwd == nil {
		passwd = make([]byte, 16)
	}
	c, err := wire.DialSession(addr, jute.ConnectRequest{TimeOut: timeoutMs, SessionID: sid, Passwd: passwd,
		HasReadOnly: true, ReadOnly: readOnly})
	if err != nil {
		return nil, err
	}
	t.Cleanup(func() { c.Close() })
	return c, nil
}

// openSession opens a new session on addr, failing t when none is set up.
func openSession(t *testing.T, addr string, readOnly bool) *wire.Conn {
	t.Helper()
	c, err := handshake(t, addr, 10000, 0, nil, readOnly)
	if err != nil {
		t.Fatalf("new session on %s (readOnly %v): %v", addr, readOnly, err)
	}
	if c.Session.TimeOut <= 0 || c.Session.SessionID == 0 {
		t.Fatalf("new session on %s (readOnly %v): no session: %+v", addr, readOnly, c.Session)
	}
	return c
}

// reconnectFact tries to take session sid up again on addr and says what
// the server answered; a TimeOut of 0 is ZooKeeper's "session expired".
func reconnectFact(t *testing.T, what, addr string, sid int64, passwd []byte, readOnly bool) string {
	t.Helper()
	c, err := handshake(t, addr, 10000, sid, passwd, readOnly)
	if err != nil {
		return fmt.Sprintf("%s: handshake failed (%v)", what, err)
	}
	defer c.Close()
	switch {
	case c.Session.TimeOut <= 0 && c.Session.SessionID == 0:
		return what + ": expired (timeout 0, session 0)"
	case c.Session.TimeOut > 0 && c.Session.SessionID == sid:
		return fmt.Sprintf("%s: same session, timeout > 0, readOnly %v", what, c.Session.ReadOnly)
	default:
		return fmt.Sprintf("%s: timeout %d, session %#x (asked for %#x), readOnly %v", what,
			c.Session.TimeOut, c.Session.SessionID, sid, c.Session.ReadOnly)
	}
}

// call sends a request and returns its reply, failing t when the
// connection fails.
func call(t *testing.T, c *wire.Conn, what string, op jute.OpCode, body []byte) wire.Reply {
	t.Helper()
	r, err := c.Call(op, body)
	if err != nil {
		t.Fatalf("%s: %v", what, err)
	}
	return r
}

// replyFact states a reply's code and its zxid relative to base.
func replyFact(what string, r wire.Reply, base int64) string {
	return fmt.Sprintf("%s: %s, zxid base%+d", what, r.Header.Err.String(), r.Header.Zxid-base)
}

func existsReq(path string) []byte { return (&jute.PathWatchRequest{Path: path}).Append(nil) }

// stat decodes the Stat of an exists reply.
func stat(r wire.Reply) jute.Stat {
	var st jute.Stat
	st.Decode(jute.NewDecoder(r.Body))
	return st
}

// mntr returns the mntr four-letter word's key/value pairs.
func mntr(t *testing.T, addr string) map[string]string {
	t.Helper()
	out, err := zktest.FourLetter(addr, "mntr")
	if err != nil {
		t.Fatalf("mntr on %s: %v", addr, err)
	}
	m := map[string]string{}
	for _, line := range strings.Split(out, "\n") {
		if k, v, ok := strings.Cut(line, "\t"); ok {
			m[k] = v
		}
	}
	return m
}

// sessionCounts states mntr's session counts on addr.
func sessionCounts(t *testing.T, what, addr string) string {
	t.Helper()
	m := mntr(t, addr)
	return fmt.Sprintf("%s mntr: zk_local_sessions=%s zk_global_sessions=%s", what, m["zk_local_sessions"], m["zk_global_sessions"])
}

// warmUp creates path through a session on addr and closes the session,
// so that the member has applied a transaction of the current epoch: on a
// fresh ZooKeeper ensemble srvr shows Zxid 0x0 until the first one, which
// then gets epoch<<32|1. The zxids the tests compare are relative to the
// member's Zxid after this.
func warmUp(t *testing.T, addr, path string) {
	t.Helper()
	c := openSession(t, addr, false)
	if r, err := c.Create(path, nil, 0); err != nil || r.Header.Err != jute.CodeOK {
		t.Fatalf("warm-up create %s on %s: %v %v", path, addr, r.Header.Err, err)
	}
	call(t, c, "warm-up closeSession", jute.OpCloseSession, nil)
	c.Close()
}

// srvrZxid returns the Zxid srvr shows on addr: the last one the member
// applied.
func srvrZxid(t *testing.T, addr string) int64 {
	t.Helper()
	s := zktest.SrvrField(addr, "Zxid")
	z, err := strconv.ParseInt(strings.TrimPrefix(s, "0x"), 16, 64)
	if err != nil || !strings.HasPrefix(s, "0x") {
		t.Fatalf("srvr on %s: Zxid %q", addr, s)
	}
	return z
}

// localSessionsFacts runs, on member i, the steps every local session
// goes through with upgrading off, and checks them: the connect consumes
// no zxid and mntr counts a local session; a persistent create works; an
// ephemeral create fails EPHEMERALONLOCALSESSION, consuming a zxid, and
// leaves no node; closeSession consumes none. other is a member the
// session is taken up on again (expired: a local session lives on its
// member only), before the close.
func localSessionsFacts(t *testing.T, acct *account, e *zktest.Ensemble, i, other int, role, dir string) {
	t.Helper()
	addr := e.Members[i].Addr
	warmUp(t, addr, dir+"-warm")
	base := srvrZxid(t, addr)
	c := openSession(t, addr, false)
	sid, passwd := c.Session.SessionID, c.Session.Passwd
	acct.expect(t, fmt.Sprintf("%s: connect: readOnly %v", role, c.Session.ReadOnly), role+": connect: readOnly false")
	acct.expect(t, replyFact(role+": exists / right after the connect", call(t, c, "exists /", jute.OpExists, existsReq("/")), base),
		role+": exists / right after the connect: OK, zxid base+0")
	acct.expect(t, sessionCounts(t, role+": with the session open,", addr),
		role+": with the session open, mntr: zk_local_sessions=1 zk_global_sessions=0")

	r, err := c.Create(dir, []byte("local"), 0)
	if err != nil {
		t.Fatal(err)
	}
	acct.expect(t, replyFact(role+": create "+dir, r, base), role+": create "+dir+": OK, zxid base+1")
	if r, err = c.Create(dir+"/eph", nil, 1); err != nil {
		t.Fatal(err)
	}
	acct.expect(t, replyFact(role+": create ephemeral "+dir+"/eph", r, base),
		role+": create ephemeral "+dir+"/eph: EPHEMERALONLOCALSESSION, zxid base+2")
	r = call(t, c, "exists", jute.OpExists, existsReq(dir+"/eph"))
	acct.expect(t, fmt.Sprintf("%s: exists %s/eph: %s", role, dir, r.Header.Err.String()), role+": exists "+dir+"/eph: NONODE")

	acct.expect(t, reconnectFact(t, role+": the session taken up on another member", e.Members[other].Addr, sid, passwd, false),
		role+": the session taken up on another member: expired (timeout 0, session 0)")

	r = call(t, c, "closeSession", jute.OpCloseSession, nil)
	acct.expect(t, replyFact(role+": closeSession", r, base), role+": closeSession: OK, zxid base+2")
	c.Close()
	acct.expect(t, sessionCounts(t, role+": after the close,", addr),
		role+": after the close, mntr: zk_local_sessions=0 zk_global_sessions=0")
}

// TestLocalSessions checks ZooKeeper's local sessions
// (localSessionsEnabled=true, localSessionsUpgradingEnabled=false), on a
// follower and then on the leader: a new session is the member's own (no
// zxid consumed, mntr zk_local_sessions 1, zk_global_sessions 0); it can
// create a persistent node; an ephemeral create answers
// EPHEMERALONLOCALSESSION and consumes a zxid (ZooKeeper's leader turns it
// into an error transaction) and creates nothing; the session cannot be
// taken up on another member (ConnectResponse timeout 0, session 0); its
// closeSession answers OK and consumes no zxid.
func TestLocalSessions(t *testing.T) {
	sideBySide(t, func(t *testing.T, start startEnsembleFunc, acct *account) {
		e, lead, f, o := startWith(t, start, "localSessionsEnabled=true", "localSessionsUpgradingEnabled=false")
		localSessionsFacts(t, acct, e, f, o, "follower", "/ls-follower")
		localSessionsFacts(t, acct, e, lead, o, "leader", "/ls-leader")
	})
}

// TestLocalSessionUpgrade checks ZooKeeper's upgrade of a local session
// (localSessionsEnabled=true, localSessionsUpgradingEnabled=true): an
// ephemeral create from a local session on a follower succeeds and
// consumes two zxids (the upgrade's createSession, then the create); the
// member's mntr then counts one global session and no local one; the
// session can now be taken up on another member (same id, timeout > 0),
// and its closeSession there consumes a zxid and removes the ephemeral
// from every member.
func TestLocalSessionUpgrade(t *testing.T) {
	sideBySide(t, func(t *testing.T, start startEnsembleFunc, acct *account) {
		e, lead, f, o := startWith(t, start, "localSessionsEnabled=true", "localSessionsUpgradingEnabled=true")
		fAddr, oAddr := e.Members[f].Addr, e.Members[o].Addr
		warmUp(t, fAddr, "/warm")
		base := srvrZxid(t, fAddr)
		c := openSession(t, fAddr, false)
		sid, passwd := c.Session.SessionID, c.Session.Passwd
		acct.expect(t, replyFact("exists / right after the connect", call(t, c, "exists /", jute.OpExists, existsReq("/")), base),
			"exists / right after the connect: OK, zxid base+0")
		acct.expect(t, sessionCounts(t, "follower, with the session open,", fAddr),
			"follower, with the session open, mntr: zk_local_sessions=1 zk_global_sessions=0")
		r, err := c.Create("/up", nil, 0)
		if err != nil {
			t.Fatal(err)
		}
		acct.expect(t, replyFact("create /up", r, base), "create /up: OK, zxid base+1")
		if r, err = c.Create("/up/eph", []byte("mine"), 1); err != nil {
			t.Fatal(err)
		}
		acct.expect(t, replyFact("create ephemeral /up/eph", r, base), "create ephemeral /up/eph: OK, zxid base+3")
		acct.expect(t, sessionCounts(t, "follower, after the upgrade,", fAddr),
			"follower, after the upgrade, mntr: zk_local_sessions=0 zk_global_sessions=1")

		// The ephemeral is the session's, on another member too.
		look := openSession(t, oAddr, false)
		call(t, look, "sync", jute.OpSync, jute.AppendString(nil, "/"))
		r = call(t, look, "exists", jute.OpExists, existsReq("/up/eph"))
		acct.expect(t, fmt.Sprintf("exists /up/eph on another member: %s, owned by the session: %v",
			r.Header.Err.String(), r.Header.Err == jute.CodeOK && stat(r).EphemeralOwner == sid),
			"exists /up/eph on another member: OK, owned by the session: true")
		look.Close()

		// The client moves to the other member, and closes the session there.
		c.Close()
		moved, err := handshake(t, oAddr, 10000, sid, passwd, false)
		if err != nil {
			t.Fatalf("taking the upgraded session up on another member: %v", err)
		}
		acct.expect(t, fmt.Sprintf("the upgraded session taken up on another member: same session %v, timeout > 0 %v",
			moved.Session.SessionID == sid, moved.Session.TimeOut > 0),
			"the upgraded session taken up on another member: same session true, timeout > 0 true")
		if moved.Session.SessionID != sid || moved.Session.TimeOut <= 0 {
			t.FailNow()
		}
		r = call(t, moved, "closeSession", jute.OpCloseSession, nil)
		acct.expect(t, replyFact("closeSession on the other member", r, base), "closeSession on the other member: OK, zxid base+4")
		moved.Close()
		for _, m := range []struct {
			i    int
			role string
		}{{lead, "the leader"}, {f, "the session's first member"}, {o, "the member it moved to"}} {
			look := openSession(t, e.Members[m.i].Addr, false)
			call(t, look, "sync", jute.OpSync, jute.AppendString(nil, "/"))
			r := call(t, look, "exists", jute.OpExists, existsReq("/up/eph"))
			acct.expect(t, fmt.Sprintf("%s: exists /up/eph after the close: %s", m.role, r.Header.Err.String()),
				m.role+": exists /up/eph after the close: NONODE")
			look.Close()
		}
	})
}
