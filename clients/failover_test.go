package clients

import (
	"fmt"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/go-zookeeper/zk"

	"github.com/meerkat-zk/meerkat/internal/zktest"
)

// The failover tests run each real client against a three-server ensemble
// through the multi-host connect string, SIGKILL the member the client is
// connected to in the middle of the run, and check that the client carries
// on with the same session: its ephemerals (and kazoo's lock) stay, its
// watches fire for a change made through another member after the
// reconnect, and it reads what it wrote before and writes on.
//
// One ensemble per server kind serves the three clients one after the
// other; after each client the killed member is restarted and the test
// waits for a leader and two followers again. Apache ZooKeeper runs the
// same bodies, in parallel with Meerkat, to prove the tests right.

// ensembleKinds are the ensembles the failover tests run against.
var ensembleKinds = []struct {
	name  string
	start func(zktest.TB, zktest.EnsembleOptions) *zktest.Ensemble
}{
	{"meerkat", zktest.StartMeerkatEnsemble},
	{"zookeeper", zktest.StartZooKeeperEnsemble},
}

// failoverEnsemble is one ensemble shared by the failover subtests of one
// server kind.
type failoverEnsemble struct {
	kind string
	e    *zktest.Ensemble
}

// TestFailover runs kazoo, zkCli, cli_mt and Curator, one after the other, against
// a Meerkat ensemble and, in parallel, against a ZooKeeper ensemble.
func TestFailover(t *testing.T) {
	for _, k := range ensembleKinds {
		t.Run(k.name, func(t *testing.T) {
			t.Parallel()
			f := &failoverEnsemble{kind: k.name, e: k.start(t, zktest.EnsembleOptions{})}
			t.Cleanup(func() { f.logsOnFailure(t) })
			f.e.Leader(t)
			t.Run("kazoo", func(t *testing.T) { testKazooFailover(t, f) })
			t.Run("zkcli", func(t *testing.T) { testZkCliFailover(t, f) })
			t.Run("cclient", func(t *testing.T) { testCClientFailover(t, f) })
			t.Run("curator", func(t *testing.T) { testCuratorFailover(t, f) })
		})
	}
}

// kill SIGKILLs member i. When the subtest ends, it checks that the other
// members did not die meanwhile, starts member i again and waits until the
// ensemble has a leader and two followers, for the next subtest.
func (f *failoverEnsemble) kill(t *testing.T, i int) {
	t.Helper()
	lead := f.e.Mode(i)
	f.e.Members[i].Kill()
	t.Logf("%s: SIGKILLed member %d (%s, was %s)", f.kind, i+1, f.e.Members[i].Addr, lead)
	t.Cleanup(func() {
		for j, s := range f.e.Members {
			if j != i {
				checkStillRunning(t, s)
			}
		}
		f.e.Members[i].Restart(t)
		f.e.Leader(t)
	})
}

// logsOnFailure logs the end of every member's log (of its current
// incarnation) when the test failed.
func (f *failoverEnsemble) logsOnFailure(t *testing.T) {
	t.Helper()
	if !t.Failed() {
		return
	}
	for i, s := range f.e.Members {
		log := s.Log()
		if len(log) > 8000 {
			log = "...\n" + log[len(log)-8000:]
		}
		t.Logf("--- %s member %d (%s) log ---\n%s", f.kind, i+1, s.Addr, log)
	}
}

// member returns the index of the member whose client address is addr.
func (f *failoverEnsemble) member(t *testing.T, addr string) int {
	t.Helper()
	for i, s := range f.e.Members {
		if s.Addr == addr {
			return i
		}
	}
	t.Fatalf("%s: %s is not a member's address (%s)", f.kind, addr, f.e.ConnectString())
	return -1
}

// connectString lists every member's address, the leader's first when
// leaderFirst, else last.
func (f *failoverEnsemble) connectString(t *testing.T, leaderFirst bool) string {
	t.Helper()
	lead := f.e.Leader(t)
	var hosts []string
	for i, s := range f.e.Members {
		if i != lead {
			hosts = append(hosts, s.Addr)
		}
	}
	if leaderFirst {
		hosts = append([]string{f.e.Members[lead].Addr}, hosts...)
	} else {
		hosts = append(hosts, f.e.Members[lead].Addr)
	}
	return strings.Join(hosts, ",")
}

// third returns the member that is neither a nor b.
func third(a, b int) int { return 3 - a - b }

// sessionMember returns the member that has a connection for session sid,
// as its cons four-letter word lists them ("sid=0x..." in both servers),
// skipping member skip (-1 for none). It waits, boundedly, until exactly
// one member has one: a reconnected client's connection shows up on its
// new server a moment after the client says it is connected.
func (f *failoverEnsemble) sessionMember(t *testing.T, sid int64, skip int) int {
	t.Helper()
	needle := fmt.Sprintf("sid=0x%x,", sid)
	var found []int
	var conses []string
	for try := 0; try < 200; try++ {
		found, conses = nil, nil
		for i, s := range f.e.Members {
			if i == skip {
				continue
			}
			out, err := zktest.FourLetter(s.Addr, "cons")
			conses = append(conses, fmt.Sprintf("member %d: %v\n%s", i+1, err, out))
			if err == nil && strings.Contains(out, needle) {
				found = append(found, i)
			}
		}
		if len(found) == 1 {
			return found[0]
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatalf("%s: members %v have a connection for session 0x%x, want exactly one\n%s",
		f.kind, found, sid, strings.Join(conses, "\n"))
	return -1
}

// failoverQuietLog drops go-zookeeper's logs.
type failoverQuietLog struct{}

func (failoverQuietLog) Printf(string, ...any) {}

// observer opens a go-zookeeper session with member i alone, for the test
// to look at the tree (after a sync) and change it through a member other
// than the client's.
func (f *failoverEnsemble) observer(t *testing.T, i int) *zk.Conn {
	t.Helper()
	c, events, err := zk.Connect([]string{f.e.Members[i].Addr}, 10*time.Second, zk.WithLogger(failoverQuietLog{}))
	if err != nil {
		t.Fatalf("%s: go-zookeeper session with member %d: %v", f.kind, i+1, err)
	}
	t.Cleanup(c.Close)
	deadline := time.After(stepTimeout)
	for {
		select {
		case ev := <-events:
			if ev.State == zk.StateHasSession {
				go func() {
					for range events {
					}
				}()
				return c
			}
		case <-deadline:
			t.Fatalf("%s: no go-zookeeper session with member %d (%s) within %v", f.kind, i+1, f.e.Members[i].Addr, stepTimeout)
		}
	}
}

// changeWatched sets base/watched through the member that is neither
// peer (the one killed) nor now (the client's): the watch the client set
// before the kill must fire. It returns the session it used and that
// member.
func (f *failoverEnsemble) changeWatched(t *testing.T, peer, now int, base string) (*zk.Conn, int) {
	t.Helper()
	other := third(peer, now)
	oc := f.observer(t, other)
	if _, err := oc.Set(base+"/watched", []byte("after-failover"), -1); err != nil {
		t.Fatalf("%s: set %s/watched through member %d: %v", f.kind, base, other+1, err)
	}
	return oc, other
}

// syncRead syncs path through c, so that what c reads next includes every
// write acknowledged before, whichever member took it.
func syncRead(t *testing.T, c *zk.Conn, path string) {
	t.Helper()
	if _, err := c.Sync(path); err != nil {
		t.Fatalf("sync %s: %v", path, err)
	}
}

// wantEphemeral checks through c that path exists, is owned by session sid
// and holds data (unless data is nil).
func wantEphemeral(t *testing.T, c *zk.Conn, who, path string, sid int64, data []byte) {
	t.Helper()
	got, st, err := c.Get(path)
	switch {
	case err != nil:
		t.Errorf("%s: get %s: %v; want the ephemeral of session 0x%x", who, path, err, sid)
	case st.EphemeralOwner != sid:
		t.Errorf("%s: %s ephemeralOwner = 0x%x, want 0x%x", who, path, st.EphemeralOwner, sid)
	case data != nil && string(got) != string(data):
		t.Errorf("%s: %s = %q, want %q", who, path, got, data)
	}
}

// wantGone checks through c that path does not exist.
func wantGone(t *testing.T, c *zk.Conn, who, path string) {
	t.Helper()
	ok, st, err := c.Exists(path)
	if err != nil || ok {
		t.Errorf("%s: exists %s = %v (%+v), %v; want it gone with the closed session", who, path, ok, st, err)
	}
}

// testKazooFailover runs testdata/kazoo_failover.py (its docstring tells
// the steps) and checks its account, and the tree through go-zookeeper.
// kazoo gets the leader first and no shuffling, so the member killed is
// always the leader: the session must outlive the leader that tracked it.
func testKazooFailover(t *testing.T, f *failoverEnsemble) {
	requireKazoo(t)
	script, err := filepath.Abs(filepath.Join("testdata", "kazoo_failover.py"))
	if err != nil {
		t.Fatal(err)
	}
	lead := f.e.Leader(t)
	hosts := f.connectString(t, true)
	const base = "/fo-kazoo"
	c := startConsole(t, f.kind+" kazoo", []string{"PYTHONPATH=", "PYTHONHOME=", "PYTHONDONTWRITEBYTECODE=1"},
		pythonPath, script, hosts, base, "0", "60")
	c.step(0, `READY`, stepTimeout)
	sid := mustParseHex(t, c.step(0, `SESSION 0x([0-9a-f]+)`, stepTimeout)[1])
	peer := f.member(t, c.step(0, `PEER (\S+)`, stepTimeout)[1])
	lockNode := c.step(0, `LOCK (\S+)`, stepTimeout)[1]
	if peer != lead {
		t.Errorf("%s kazoo: connected to member %d, want the leader %d, the first host of %s (randomize_hosts=False)",
			f.kind, peer+1, lead+1, hosts)
	}
	before := c.mark()
	f.kill(t, peer)

	g := c.step(before, `RECONNECTED SESSION 0x([0-9a-f]+) PEER (\S+)`, stepTimeout)
	if got := mustParseHex(t, g[1]); got != sid {
		t.Errorf("%s kazoo: reconnected with session 0x%x, want 0x%x", f.kind, got, sid)
	}
	now := f.member(t, g[2])
	if now == peer {
		t.Fatalf("%s kazoo: reconnected to the member it was connected to, which is dead", f.kind)
	}
	c.step(before, `HELD eph and lock, owner 0x[0-9a-f]+`, stepTimeout)
	c.step(before, `WATCH-REARMED`, stepTimeout)
	oc, other := f.changeWatched(t, peer, now, base)
	c.step(before, `WATCH-FIRED`, stepTimeout)
	c.step(before, `DONE`, stepTimeout)

	// The script holds everything; look at it from the third member.
	who := fmt.Sprintf("%s kazoo, seen through member %d", f.kind, other+1)
	syncRead(t, oc, base)
	wantEphemeral(t, oc, who, base+"/eph", sid, []byte("still-mine"))
	wantEphemeral(t, oc, who, lockNode, sid, nil)
	if kids, _, err := oc.Children(base + "/lock"); err != nil || len(kids) != 1 || base+"/lock/"+kids[0] != lockNode {
		t.Errorf("%s: children of %s/lock = %q, %v; want only the held %s", who, base, kids, err, lockNode)
	}
	if ok, _, err := oc.Exists(base + "/during"); err != nil || !ok {
		t.Errorf("%s: the write made during the outage, %s/during, = %v, %v; want it there", who, base, ok, err)
	}
	var seqs []string
	for _, m := range regexp.MustCompile(`(?m)^SEQ `+regexp.QuoteMeta(base)+`/seq/(n-\d{10})$`).FindAllStringSubmatch(c.text(), -1) {
		seqs = append(seqs, m[1])
	}
	for i, s := range seqs {
		if want := fmt.Sprintf("n-%010d", i); s != want {
			t.Errorf("%s kazoo: sequential node %d is %s, want %s (five before the SIGKILL, three after)", f.kind, i, s, want)
		}
	}
	if kids, _, err := oc.Children(base + "/seq"); err != nil || len(seqs) != 8 || !sameSet(kids, seqs) {
		t.Errorf("%s: children of %s/seq = %q, %v; want the eight the script created, %q", who, base, kids, err, seqs)
	}

	c.send("exit")
	out, err := c.finish(stepTimeout)
	if err != nil || !strings.Contains(out, "\nPASS\n") {
		t.Fatalf("%s kazoo: %v\n--- output ---\n%s", f.kind, err, out)
	}
	// Only SUSPENDED and CONNECTED in between: never LOST until the close.
	if m := regexp.MustCompile(`(?m)^STATES (.*)$`).FindStringSubmatch(out); m == nil || m[1] != "CONNECTED SUSPENDED CONNECTED LOST" {
		t.Errorf("%s kazoo: state changes %q, want CONNECTED SUSPENDED CONNECTED LOST (the last from the close)\n--- output ---\n%s", f.kind, m, out)
	}
	syncRead(t, oc, base)
	wantGone(t, oc, who, base+"/eph")
	wantGone(t, oc, who, lockNode)
}

// testZkCliFailover feeds zkCli two halves of a script: the first creates
// nodes, an ephemeral and a watch; the member zkCli is connected to is
// SIGKILLed; the second half, fed once zkCli says it is connected again,
// reads the first half's nodes and writes more.
func testZkCliFailover(t *testing.T, f *failoverEnsemble) {
	requireZkCli(t)
	const base = "/fo-zkcli"
	c := startConsole(t, f.kind+" zkCli", zkCliEnv, zkCliPath, "-timeout", "10000", "-server", f.e.ConnectString())
	c.mustWaitFor(0, regexp.MustCompile(`WatchedEvent state:SyncConnected type:None path:null\n`), "session established")

	first := []string{
		"create " + base + " v0",
		"create -e " + base + "/eph e",
		"create " + base + "/watched v0",
		"create -s " + base + "/seq- s",
		"create -s " + base + "/seq- s",
		"get -w " + base + "/watched",
		"stat " + base + "/eph",
	}
	from := c.mark()
	c.send(strings.Join(first, "\n"))
	c.mustWaitFor(from, regexp.MustCompile(`ephemeralOwner = 0x[0-9a-f]+\ndataLength = \d+\nnumChildren = \d+\n`), "the first half's last output (stat)")
	rest, _ := splitZkCliEvents(c.text()[from:])
	tr := newTranscript(t, f.kind+" zkCli first half", rest)
	tr.expect("create", `(?m)^Created `+base+`$`)
	tr.expect("create -e", `(?m)^Created `+base+`/eph$`)
	tr.expect("create watched", `(?m)^Created `+base+`/watched$`)
	var seqs []string
	for range 2 {
		if m := tr.expect("create -s", `(?m)^Created `+base+`/(seq-\d{10})$`); m != nil {
			seqs = append(seqs, m[1])
		}
	}
	tr.expect("get -w", `(?m)^v0$`)
	st, _, ok := tr.expectStat("stat eph", `(?m)^`)
	if !ok || st.ephemeralOwner == 0 || len(seqs) != 2 {
		t.Fatalf("%s zkCli: the first half failed (see above)", f.kind)
	}
	sid := st.ephemeralOwner
	peer := f.sessionMember(t, sid, -1)

	before := c.mark()
	f.kill(t, peer)
	disc := c.mustWaitFor(before, regexp.MustCompile(`WatchedEvent state:Disconnected type:None path:null\n`), "Disconnected event")
	c.mustWaitFor(disc[1], regexp.MustCompile(`WatchedEvent state:SyncConnected type:None path:null\n`), "SyncConnected event after the SIGKILL")
	now := f.sessionMember(t, sid, peer)
	t.Logf("%s zkCli: session 0x%x moved from member %d to member %d", f.kind, sid, peer+1, now+1)

	// The watch get -w left on the dead member is re-registered (zkCli
	// sends SetWatches on the reconnect): a change through the third
	// member fires it.
	oc, other := f.changeWatched(t, peer, now, base)
	c.mustWaitFor(before, regexp.MustCompile(`WatchedEvent state:SyncConnected type:NodeDataChanged path:`+base+`/watched\n`),
		"NodeDataChanged for the watch set before the SIGKILL")
	who := fmt.Sprintf("%s zkCli, seen through member %d", f.kind, other+1)
	syncRead(t, oc, base)
	wantEphemeral(t, oc, who, base+"/eph", sid, []byte("e"))

	second := []string{
		"ls " + base,
		"get " + base,
		"get " + base + "/watched",
		"stat " + base + "/eph",
		"create -s " + base + "/seq- s",
		"create " + base + "/after a",
		"ls " + base,
		"quit",
	}
	from = c.mark()
	c.send(strings.Join(second, "\n"))
	out, err := c.finish(zkCliTimeout)
	if err != nil {
		t.Errorf("%s zkCli: %v", f.kind, err)
	}
	rest, _ = splitZkCliEvents(out[from:])
	tr = newTranscript(t, f.kind+" zkCli second half", rest)
	want := append([]string{"eph", "watched"}, seqs...)
	if m := tr.expect("ls", `(?m)^(\[.*\])$`); m != nil && !sameSet(splitList(m[1]), want) {
		tr.errorf("ls %s after the failover = %s, want %v in any order", base, m[1], want)
	}
	tr.expect("get", `(?m)^v0$`)
	tr.expect("get watched", `(?m)^after-failover$`)
	if st, _, ok := tr.expectStat("stat eph", `(?m)^`); ok && st.ephemeralOwner != sid {
		tr.errorf("stat %s/eph after the failover: ephemeralOwner = 0x%x, want the same session 0x%x", base, st.ephemeralOwner, sid)
	}
	if m := tr.expect("create -s", `(?m)^Created `+base+`/(seq-\d{10})$`); m != nil && m[1] <= seqs[1] {
		tr.errorf("create -s after the failover made %s, want a number above %s", m[1], seqs[1])
	}
	tr.expect("create after", `(?m)^Created `+base+`/after$`)
	if m := tr.expect("ls", `(?m)^(\[.*\])$`); m != nil && len(splitList(m[1])) != len(want)+2 {
		tr.errorf("ls %s at the end = %s, want %d children", base, m[1], len(want)+2)
	}
	// Every event since the SIGKILL, in order, no Expired among them. The
	// Java client reports Disconnected again for every failed attempt to
	// connect (the dead member, a member still electing), so repeats of it
	// count as one.
	_, all := splitZkCliEvents(out[before:])
	var events []string
	for _, ev := range all {
		if len(events) == 0 || ev != events[len(events)-1] || !strings.Contains(ev, "state:Disconnected ") {
			events = append(events, ev)
		}
	}
	// The Closed event is the client's own, printed by its event thread
	// as quit closes it, and lost when the JVM exits first (seen once
	// under load, against ZooKeeper): it says nothing about the server.
	if n := len(events); n > 0 && events[n-1] == "WatchedEvent state:Closed type:None path:null" {
		events = events[:n-1]
	}
	wantEvents := []string{
		"WatchedEvent state:Disconnected type:None path:null",
		"WatchedEvent state:SyncConnected type:None path:null",
		"WatchedEvent state:SyncConnected type:NodeDataChanged path:" + base + "/watched",
	}
	if strings.Join(events, "\n") != strings.Join(wantEvents, "\n") {
		tr.errorf("events since the SIGKILL:\n%s\nwant:\n%s", strings.Join(events, "\n"), strings.Join(wantEvents, "\n"))
	}
	syncRead(t, oc, base)
	wantGone(t, oc, who, base+"/eph")
}

// testCClientFailover drives cli_mt a command at a time, as TestCClient
// does: nodes, an ephemeral and a watch; the member it is connected to is
// SIGKILLed; once the C client says it is connected again, it reads what
// it wrote and writes more.
func testCClientFailover(t *testing.T, f *failoverEnsemble) {
	requireFile(t, cliMtPath, "zookeeper-bin")
	const base = "/fo-cc"
	label := f.kind + " cli_mt"
	// Followers first: the C client shuffles the hosts, but here, run after
	// run, it connects to the first of them; so this run usually kills a
	// follower where kazoo's kills the leader. Nothing depends on it.
	c := &cliMt{console: startConsole(t, label, nil, cliMtPath, f.connectString(t, false)), label: label}
	m := c.mustWaitFor(0, regexp.MustCompile(`(?m)^Got a new session id: 0x([0-9a-f]+)$`), "session established")
	sid := mustParseHex(t, submatches(c.text(), m)[1])

	// created runs create with flags (cli_mt's +e, +s) and returns the
	// name; want, when not empty, is the name it must be.
	created := func(flags, path, want string) string {
		t.Helper()
		cmd := strings.Join(strings.Fields("create "+flags+" "+path), " ")
		_, g := c.do(cmd, ccCreated(path, false))
		if !c.wantRC(cmd, createRC(g[1]), 0) {
			t.FailNow()
		}
		if want != "" && g[2] != want {
			c.errorf("%s: name = %q, want %q", cmd, g[2], want)
		}
		return g[2]
	}
	created("", base, base)
	created("+e", base+"/eph", base+"/eph")
	created("", base+"/watched", base+"/watched")
	seq1 := created("+s", base+"/seq-", "")
	// get leaves a data watch.
	if _, g := c.do("get "+base+"/watched", ccGet(base+"/watched")); c.wantRC("get watched", g[1], 0) && g[3] != "new" {
		c.errorf("get %s/watched = %q, want \"new\" (cli_mt's data)", base, g[3])
	}
	// cli_mt prints ephemeralOwner as %llx.
	owner := fmt.Sprintf("%x", sid)
	if _, g := c.do("get "+base+"/eph", ccGet(base+"/eph")); c.wantRC("get eph", g[1], 0) && g[8] != owner {
		c.errorf("get %s/eph: ephemeralOwner = %q, want %s", base, g[8], owner)
	}
	peer := f.sessionMember(t, sid, -1)

	before := c.mark()
	f.kill(t, peer)
	c.mustWaitFor(before, regexp.MustCompile(`(?m)^Watcher SESSION_EVENT state = CONNECTED_STATE$`), "the reconnect's CONNECTED_STATE")
	now := f.sessionMember(t, sid, peer)
	t.Logf("%s cli_mt: session 0x%x moved from member %d to member %d", f.kind, sid, peer+1, now+1)

	// The C client re-registers its watches on the reconnect (SetWatches):
	// a change through the third member fires the one get left.
	oc, other := f.changeWatched(t, peer, now, base)
	c.mustWaitFor(before, ccEvent("CHANGED_EVENT", base+"/watched"), "CHANGED_EVENT for the watch set before the SIGKILL")
	who := fmt.Sprintf("%s cli_mt, seen through member %d", f.kind, other+1)
	syncRead(t, oc, base)
	wantEphemeral(t, oc, who, base+"/eph", sid, []byte("new"))

	want := []string{"eph", "watched", strings.TrimPrefix(seq1, base+"/")}
	if _, g := c.do("ls "+base, ccChildren(base)); c.wantRC("ls after the failover", g[1], 0) && !sameSet(childSet(g[2]), want) {
		c.errorf("ls %s after the failover = %q, want %v in any order", base, childSet(g[2]), want)
	}
	if _, g := c.do("get "+base+"/watched", ccGet(base+"/watched")); c.wantRC("get watched after the failover", g[1], 0) && g[3] != "after-failover" {
		c.errorf("get %s/watched after the failover = %q, want \"after-failover\"", base, g[3])
	}
	if _, g := c.do("get "+base+"/eph", ccGet(base+"/eph")); c.wantRC("get eph after the failover", g[1], 0) && g[8] != owner {
		c.errorf("get %s/eph after the failover: ephemeralOwner = %q, want the same session %s", base, g[8], owner)
	}
	if seq2 := created("+s", base+"/seq-", ""); seq2 <= seq1 {
		c.errorf("create +s after the failover made %s, want a number above %s", seq2, seq1)
	}
	created("", base+"/after", base+"/after")

	c.send("myid") // prints at exit: cli_mt flushes stdout only then
	c.send("quit")
	out, err := c.finish(stepTimeout)
	if err != nil {
		c.errorf("quit: %v", err)
	}
	after := out[before:]
	if strings.Contains(after, "Got a new session id") || strings.Contains(after, "Session expired") {
		c.errorf("the session did not survive the SIGKILL: a new session or an expiry after it")
	}
	if m := regexp.MustCompile(`(?m)^session Id = ([0-9a-f]+)$`).FindStringSubmatch(out); m == nil || mustParseHex(t, m[1]) != sid {
		c.errorf("myid at the end = %q, want %x", m, sid)
	}
	syncRead(t, oc, base)
	wantGone(t, oc, who, base+"/eph")
}

// mustParseHex parses a session id printed in hex, with or without 0x.
func mustParseHex(t *testing.T, s string) int64 {
	t.Helper()
	u, err := strconv.ParseUint(strings.TrimPrefix(s, "0x"), 16, 64)
	if err != nil {
		t.Fatalf("session id %q: %v", s, err)
	}
	return int64(u)
}

// testCuratorFailover runs testdata/CuratorFailover.java (its comment
// tells the steps): Curator's session, its ephemeral and its
// InterProcessMutex survive the SIGKILL of the member it is connected to,
// and the watch it left fires for a change made through the third member.
func testCuratorFailover(t *testing.T, f *failoverEnsemble) {
	cp := curatorProgram(t, "CuratorFailover")
	const base = "/fo-curator"
	c := startConsole(t, f.kind+" Curator", nil, "/usr/bin/java", "-cp", cp, "CuratorFailover", f.e.ConnectString(), base)
	sid := mustParseHex(t, c.step(0, `SESSION 0x([0-9a-f]+)`, stepTimeout)[1])
	lockNode := c.step(0, `LOCK (\S+)`, stepTimeout)[1]
	c.step(0, `READY`, stepTimeout)
	peer := f.sessionMember(t, sid, -1)

	before := c.mark()
	f.kill(t, peer)
	if got := mustParseHex(t, c.step(before, `RECONNECTED SESSION 0x([0-9a-f]+)`, stepTimeout)[1]); got != sid {
		t.Fatalf("%s Curator: reconnected with session 0x%x, want 0x%x", f.kind, got, sid)
	}
	c.step(before, `HELD`, stepTimeout)
	now := f.sessionMember(t, sid, peer)
	oc, other := f.changeWatched(t, peer, now, base)
	c.step(before, `WATCH-FIRED`, stepTimeout)
	c.step(before, `DONE`, stepTimeout)

	who := fmt.Sprintf("%s Curator, seen through member %d", f.kind, other+1)
	syncRead(t, oc, base)
	wantEphemeral(t, oc, who, base+"/eph", sid, []byte("e"))
	wantEphemeral(t, oc, who, lockNode, sid, nil)
	if ok, _, err := oc.Exists(base + "/after"); err != nil || !ok {
		t.Errorf("%s: %s/after, written after the failover, = %v, %v; want it there", who, base, ok, err)
	}

	c.send("exit")
	out, err := c.finish(stepTimeout)
	if err != nil || !strings.Contains(out, "\nPASS\n") {
		t.Fatalf("%s Curator: %v\n--- output ---\n%s", f.kind, err, out)
	}
	// Releasing the lock deleted its node; closing the session, the
	// ephemeral.
	syncRead(t, oc, base)
	wantGone(t, oc, who, base+"/eph")
	wantGone(t, oc, who, lockNode)
}
