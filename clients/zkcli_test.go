package clients

import (
	"errors"
	"os/exec"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/meerkat-zk/meerkat/internal/zktest"
)

// zkCliEnv keeps each zkCli JVM small and quick to start; zkCli.sh passes
// JVMFLAGS to java.
var zkCliEnv = []string{"JVMFLAGS=-Xmx256m -XX:+UseSerialGC -XX:TieredStopAtLevel=1"}

// zkCliTimeout bounds one whole zkCli run.
const zkCliTimeout = 90 * time.Second

func requireZkCli(t *testing.T) {
	t.Helper()
	requireFile(t, zkCliPath, "zookeeper")
	requireFile(t, javaPath, "default-jre-headless (a dependency of zookeeper)")
}

// zkCliSession runs cmds, one a line, in one interactive zkCli session (one
// JVM, one ZooKeeper session, commands run one after another) and returns
// its output, without the events, after checking that it connected and
// quit cleanly.
func zkCliSession(t *testing.T, srv *zktest.Server, label string, cmds ...string) *transcript {
	t.Helper()
	requireZkCli(t)
	out, err := run(t, "zkCli", zkCliTimeout, zkCliEnv, strings.Join(cmds, "\n")+"\nquit\n",
		zkCliPath, "-server", srv.Addr)
	rest, events := splitZkCliEvents(out)
	tr := newTranscript(t, srv.Name+" "+label, rest)
	var exit *exec.ExitError
	if err != nil && !errors.As(err, &exit) {
		tr.errorf("zkCli did not finish: %v", err)
	}
	if len(events) == 0 || events[0] != "WatchedEvent state:SyncConnected type:None path:null" {
		tr.errorf("zkCli's first event is not the connection: %q\n--- raw output ---\n%s", events, out)
	}
	return tr
}

// splitZkCliEvents takes the events out of zkCli's output. zkCli's event
// thread prints each as two printlns, "\nWATCHER::" and "\nWatchedEvent
// ...", at moments the commands' output does not fix (the connection event
// can come after the first command's output, even inside it); each println
// is whole. It returns the rest of the output and the WatchedEvent lines in
// order.
func splitZkCliEvents(out string) (rest string, events []string) {
	var kept []string
	lines := strings.Split(out, "\n")
	for i := 0; i < len(lines); i++ {
		l := lines[i]
		if l == "" && i+1 < len(lines) && (lines[i+1] == "WATCHER::" || strings.HasPrefix(lines[i+1], "WatchedEvent ")) {
			if lines[i+1] != "WATCHER::" {
				events = append(events, lines[i+1])
			}
			i++
			continue
		}
		if !strings.HasPrefix(l, "SLF4J:") {
			kept = append(kept, l)
		}
	}
	return strings.Join(kept, "\n"), events
}

// zkCliConsole starts an interactive zkCli session that the test feeds a
// command at a time, and waits until it has connected.
func zkCliConsole(t *testing.T, srv *zktest.Server, name string) *console {
	t.Helper()
	requireZkCli(t)
	c := startConsole(t, name, zkCliEnv, zkCliPath, "-server", srv.Addr)
	c.mustWaitFor(0, regexp.MustCompile(`WatchedEvent state:SyncConnected type:None path:null\n`), "session established")
	return c
}

// zkStat is a Stat as zkCli prints it.
type zkStat struct {
	czxid, mzxid, pzxid         int64
	cversion, version, aversion int64
	ephemeralOwner              int64
	dataLength, numChildren     int64
}

// statPattern matches a Stat printed by zkCli (get -s, stat, ls -s, set -s,
// getAcl -s); its nine groups are the non-time fields.
const statPattern = `cZxid = (0x[0-9a-f]+)\nctime = [^\n]*\nmZxid = (0x[0-9a-f]+)\nmtime = [^\n]*\n` +
	`pZxid = (0x[0-9a-f]+)\ncversion = (-?\d+)\ndataVersion = (-?\d+)\naclVersion = (-?\d+)\n` +
	`ephemeralOwner = (0x[0-9a-f]+)\ndataLength = (\d+)\nnumChildren = (\d+)\n`

// parseStat reads the nine groups of statPattern at the end of m.
func parseStat(m []string) zkStat {
	g := m[len(m)-9:]
	n := func(s string) int64 {
		if h, ok := strings.CutPrefix(s, "0x"); ok {
			u, _ := strconv.ParseUint(h, 16, 64) // a TTL node's owner has the top bit set
			return int64(u)
		}
		v, _ := strconv.ParseInt(s, 10, 64)
		return v
	}
	return zkStat{n(g[0]), n(g[1]), n(g[2]), n(g[3]), n(g[4]), n(g[5]), n(g[6]), n(g[7]), n(g[8])}
}

// expectStat matches prefix followed by a printed Stat and returns the Stat
// and prefix's groups; ok is false when nothing matched.
func (tr *transcript) expectStat(step, prefix string) (st zkStat, groups []string, ok bool) {
	tr.t.Helper()
	m := tr.expect(step, prefix+statPattern)
	if m == nil {
		return zkStat{}, nil, false
	}
	return parseStat(m), m[:len(m)-9], true
}

// TestZkCli drives the Java client through zkCli.sh.
func TestZkCli(t *testing.T) {
	eachServer(t, zktest.Options{}, func(t *testing.T, srv *zktest.Server) {
		t.Run("commands", func(t *testing.T) { t.Parallel(); testZkCliCommands(t, srv) })
		t.Run("watches", func(t *testing.T) { t.Parallel(); testZkCliWatches(t, srv) })
		t.Run("digest_auth", func(t *testing.T) { t.Parallel(); testZkCliDigestAuth(t, srv) })
		t.Run("quota", func(t *testing.T) { t.Parallel(); testZkCliQuota(t, srv) })
	})
}

// testZkCliCommands covers the everyday commands in one session, then checks
// from a second, non-interactive zkCli that the first session's ephemerals
// went with it.
func testZkCliCommands(t *testing.T, srv *zktest.Server) {
	tr := zkCliSession(t, srv, "zkCli session 1",
		"create /zkcli v1",
		"create -s -e /zkcli/eseq- e",
		"create -s /zkcli/pseq- p",
		"create -e /zkcli/eph e",
		"create /zkcli v1",
		"create /zkcli/missing/child x",
		"create -t 1000 /zkcli/ttl x",
		"ls /zkcli",
		"ls -s /zkcli",
		"get -s /zkcli",
		"stat /zkcli/eph",
		"set /zkcli v2",
		"set -v 0 /zkcli v3",
		"set -s -v 1 /zkcli v3",
		"get -s /zkcli",
		"delete /zkcli",
		"delete -v 3 /zkcli/eph",
		"delete /zkcli/eph",
		"delete /zkcli/nope",
		"ls /zkcli",
		"getAllChildrenNumber /zkcli",
		"getEphemerals /zkcli",
		"create /zkcli/tree t",
		"create /zkcli/tree/a a",
		"create /zkcli/tree/a/b b",
		"ls -R /zkcli/tree",
		"deleteall /zkcli/tree",
		"stat /zkcli/tree",
		"getAcl /zkcli",
		"setAcl /zkcli world:anyone:r",
		"getAcl -s /zkcli",
		"set /zkcli v4",
		"create /zkcli/more x",
		"get /zkcli",
		"setAcl /zkcli world:anyone:cdrwa",
		"sync /zkcli",
		"whoami",
		"ls /zookeeper",
	)
	tr.expect("create", `(?m)^Created /zkcli$`)
	tr.expect("create -s -e", `(?m)^Created /zkcli/eseq-0000000000$`)
	tr.expect("create -s", `(?m)^Created /zkcli/pseq-0000000001$`)
	tr.expect("create -e", `(?m)^Created /zkcli/eph$`)
	tr.expect("create existing", `(?m)^Node already exists: /zkcli$`)
	tr.expect("create without parent", `(?m)^Node does not exist: /zkcli/missing/child$`)
	tr.expect("create -t without extended types", `(?m)^KeeperErrorCode = Unimplemented for /zkcli/ttl$`)
	want := []string{"eph", "eseq-0000000000", "pseq-0000000001"}
	if m := tr.expect("ls", `(?m)^(\[.*\])$`); m != nil && !sameSet(splitList(m[1]), want) {
		tr.errorf("ls /zkcli = %s, want %v in any order", m[1], want)
	}
	if st, g, ok := tr.expectStat("ls -s", `(?m)^(\[.*\])\n`); ok {
		if !sameSet(splitList(g[1]), want) {
			tr.errorf("ls -s /zkcli = %s, want %v in any order", g[1], want)
		}
		if st.numChildren != 3 || st.cversion != 3 || st.version != 0 {
			tr.errorf("ls -s /zkcli stat = %+v, want numChildren 3, cversion 3, dataVersion 0", st)
		}
	}
	var created zkStat
	if st, _, ok := tr.expectStat("get -s", `(?m)^v1\n`); ok {
		created = st
		if st.version != 0 || st.dataLength != 2 || st.ephemeralOwner != 0 || st.numChildren != 3 || st.mzxid != st.czxid {
			tr.errorf("get -s /zkcli stat = %+v, want dataVersion 0, dataLength 2, ephemeralOwner 0, numChildren 3, mZxid == cZxid", st)
		}
	}
	if st, _, ok := tr.expectStat("stat ephemeral", `(?m)^`); ok && (st.ephemeralOwner == 0 || st.czxid <= created.czxid) {
		tr.errorf("stat /zkcli/eph = %+v, want a non-zero ephemeralOwner and a cZxid after its parent's", st)
	}
	tr.expect("set -v stale", `(?m)^version No is not valid : /zkcli$`)
	if st, _, ok := tr.expectStat("set -s -v", `(?m)^`); ok && st.version != 2 {
		tr.errorf("set -s -v 1 /zkcli stat = %+v, want dataVersion 2", st)
	}
	if st, _, ok := tr.expectStat("get -s after set", `(?m)^v3\n`); ok && (st.version != 2 || st.mzxid <= st.czxid || st.czxid != created.czxid) {
		tr.errorf("get -s /zkcli after two sets = %+v, want dataVersion 2, mZxid > cZxid = %#x", st, created.czxid)
	}
	tr.expect("delete non-empty", `(?m)^Node not empty: /zkcli$`)
	tr.expect("delete -v stale", `(?m)^version No is not valid : /zkcli/eph$`)
	tr.expect("delete missing", `(?m)^Node does not exist: /zkcli/nope$`)
	want = []string{"eseq-0000000000", "pseq-0000000001"}
	if m := tr.expect("ls after delete", `(?m)^(\[.*\])$`); m != nil && !sameSet(splitList(m[1]), want) {
		tr.errorf("ls /zkcli after delete = %s, want %v in any order", m[1], want)
	}
	tr.expect("getAllChildrenNumber", `(?m)^2$`)
	tr.expect("getEphemerals", `(?m)^\[/zkcli/eseq-0000000000\]$`)
	tr.expect("create tree", `(?m)^Created /zkcli/tree/a/b$`)
	tr.expect("ls -R", `(?m)^/zkcli/tree\n/zkcli/tree/a\n/zkcli/tree/a/b$`)
	tr.expect("deleteall", `(?m)^Node does not exist: /zkcli/tree$`)
	tr.expect("getAcl", `(?m)^'world,'anyone\n: cdrwa$`)
	if st, _, ok := tr.expectStat("getAcl -s", `(?m)^'world,'anyone\n: r\n`); ok && st.aversion != 1 {
		tr.errorf("getAcl -s /zkcli stat = %+v, want aclVersion 1", st)
	}
	tr.expect("set without WRITE", `(?m)^Insufficient permission : /zkcli$`)
	tr.expect("create without CREATE", `(?m)^Insufficient permission : /zkcli/more$`)
	tr.expect("get with READ", `(?m)^v3$`)
	tr.expect("setAcl without ADMIN", `(?m)^Insufficient permission : /zkcli$`)
	tr.expect("sync", `(?m)^Sync is OK$`)
	tr.expect("whoami", `(?m)^Auth scheme: User\nip: 127\.0\.0\.1$`)
	if m := tr.expect("ls /zookeeper", `(?m)^(\[.*\])$`); m != nil && !sameSet(splitList(m[1]), []string{"config", "quota"}) {
		tr.errorf("ls /zookeeper = %s, want [config, quota] in any order", m[1])
	}

	// The first session has quit: its ephemeral is gone, the rest stays.
	requireZkCli(t)
	out, err := run(t, "zkCli", zkCliTimeout, zkCliEnv, "", zkCliPath, "-server", srv.Addr, "ls", "/zkcli")
	tr2 := newTranscript(t, srv.Name+" zkCli ls /zkcli (non-interactive)", out)
	if err != nil {
		tr2.errorf("zkCli ls /zkcli: %v", err)
	}
	tr2.expect("ls after session 1 closed", `(?m)^\[pseq-0000000001\]$`)
}

// testZkCliWatches registers one-shot watches (get -s -w, ls -w, stat -w) and
// persistent ones (addWatch) in one zkCli session, triggers them from a
// second, and checks every event arrives once and in order.
func testZkCliWatches(t *testing.T, srv *zktest.Server) {
	a := zkCliConsole(t, srv, srv.Name+" zkCli A (watcher)")
	step := func(cmd, pattern string) {
		t.Helper()
		from := a.mark()
		a.send(cmd)
		a.mustWaitFor(from, regexp.MustCompile(pattern), "output of "+cmd)
	}
	step("create /zw w0", `(?m)^Created /zw$`)
	step("create /zw/c c", `(?m)^Created /zw/c$`)
	step("get -s -w /zw", `(?m)^w0\n`+statPattern)
	step("ls -w /zw", `(?m)^\[c\]$`)
	a.send("addWatch -m PERSISTENT_RECURSIVE /zr")
	a.send("addWatch -m PERSISTENT /zp")
	// stat prints once the two addWatch before it have been answered.
	step("stat -w /zw/new", `(?m)^Node does not exist: /zw/new$`)
	events := a.mark()

	b := zkCliSession(t, srv, "zkCli B (writer)",
		"set /zw w1",
		"create /zw/new n",
		"set /zw w2",
		"create /zp p",
		"set /zp p2",
		"create /zp/kid k",
		"create /zr r",
		"create /zr/a a",
		"set /zr/a a2",
		"delete /zr/a",
	)
	b.expect("writes", `(?m)^Created /zr/a$`)

	want := []string{
		"NodeDataChanged path:/zw",
		// One create fires the node's watch before its parent's.
		"NodeCreated path:/zw/new",
		"NodeChildrenChanged path:/zw",
		"NodeCreated path:/zp",
		"NodeDataChanged path:/zp",
		"NodeChildrenChanged path:/zp",
		"NodeCreated path:/zr",
		"NodeCreated path:/zr/a",
		"NodeDataChanged path:/zr/a",
		"NodeDeleted path:/zr/a",
	}
	eventRE := regexp.MustCompile(`(?m)^WatchedEvent state:SyncConnected type:(\w+ path:\S+)$`)
	// Events print in the order they arrive, so once the last one is in,
	// any duplicate or spurious event has printed before it.
	if a.waitFor(events, regexp.MustCompile(`(?m)^WatchedEvent state:SyncConnected type:NodeDeleted path:/zr/a$`), stepTimeout) == nil {
		t.Errorf("%s: the last watch event (NodeDeleted /zr/a) did not arrive within %v", srv.Name, stepTimeout)
	}
	var got []string
	for _, m := range eventRE.FindAllStringSubmatch(a.text()[events:], -1) {
		got = append(got, m[1])
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("%s: zkCli A saw watch events\n  %s\nwant, in this order and each once,\n  %s\n--- zkCli A output ---\n%s",
			srv.Name, strings.Join(got, "\n  "), strings.Join(want, "\n  "), a.text())
	}

	step("get /zw", `(?m)^w2$`)
	step("removewatches /zr", `(?m)^WatchedEvent state:SyncConnected type:PersistentWatchRemoved path:/zr$`)
	a.send("quit")
	if out, err := a.finish(zkCliTimeout); err != nil {
		t.Errorf("%s: zkCli A quit: %v\n%s", srv.Name, err, out)
	}
}

// testZkCliDigestAuth protects nodes with digest ACLs and checks that only a
// session that ran addauth with the right password gets in.
func testZkCliDigestAuth(t *testing.T, srv *zktest.Server) {
	alice := zktest.DigestID("alice", "secret")
	tr := zkCliSession(t, srv, "zkCli session 1 (alice)",
		"create /za open",
		"create /za/locked data digest:"+alice+":cdrwa",
		"get /za/locked",
		"create /za/mine m auth::cdrwa",
		"addauth digest alice:wrong",
		"get /za/locked",
		"addauth digest alice:secret",
		"get -s /za/locked",
		"set /za/locked d2",
		"get /za/locked",
		"getAcl /za/locked",
		"create /za/mine m auth::cdrwa",
		"getAcl /za/mine",
		"setAcl /za digest:"+alice+":cdrwa,world:anyone:r",
		"getAcl -s /za",
		"create /za/x x",
	)
	tr.expect("create", `(?m)^Created /za/locked$`)
	tr.expect("get without auth", `(?m)^Insufficient permission : /za/locked$`)
	tr.expect("auth ACL without an identity", `(?m)^Acl is not valid : /za/mine$`)
	tr.expect("get after a wrong password", `(?m)^Insufficient permission : /za/locked$`)
	if st, _, ok := tr.expectStat("get -s after addauth", `(?m)^data\n`); ok && st.version != 0 {
		tr.errorf("get -s /za/locked stat = %+v, want dataVersion 0", st)
	}
	tr.expect("get after set", `(?m)^d2$`)
	tr.expect("getAcl digest", `(?m)^'digest,'`+regexp.QuoteMeta(alice)+`\n: cdrwa$`)
	tr.expect("create with auth ACL", `(?m)^Created /za/mine$`)
	tr.expect("getAcl of an auth ACL", `(?m)^'digest,'`+regexp.QuoteMeta(alice)+`\n: cdrwa$`)
	if st, _, ok := tr.expectStat("getAcl -s two entries",
		`(?m)^'digest,'`+regexp.QuoteMeta(alice)+`\n: cdrwa\n'world,'anyone\n: r\n`); ok && st.aversion != 1 {
		tr.errorf("getAcl -s /za stat = %+v, want aclVersion 1", st)
	}
	tr.expect("create with CREATE from digest", `(?m)^Created /za/x$`)

	// A session without alice's credentials.
	tr = zkCliSession(t, srv, "zkCli session 2 (anonymous, then alice)",
		"get /za/locked",
		"getAcl /za/locked",
		"get /za",
		"create /za/y y",
		"getAcl /za",
		"addauth digest alice:secret",
		"delete /za/locked",
		"ls /za",
	)
	tr.expect("get without auth", `(?m)^Insufficient permission : /za/locked$`)
	tr.expect("getAcl without READ or ADMIN", `(?m)^Insufficient permission : /za/locked$`)
	tr.expect("get with world READ", `(?m)^open$`)
	tr.expect("create without CREATE", `(?m)^Insufficient permission : /za/y$`)
	// ZooKeeper 3.8 hides digest hashes from a caller without ADMIN.
	tr.expect("getAcl masks digests", `(?m)^'digest,'alice:x\n: cdrwa\n'world,'anyone\n: r$`)
	if m := tr.expect("ls after delete", `(?m)^(\[.*\])$`); m != nil && !sameSet(splitList(m[1]), []string{"mine", "x"}) {
		tr.errorf("ls /za = %s, want [mine, x] in any order", m[1])
	}
}

// testZkCliQuota sets, lists and deletes quotas; the usage half of
// listquota comes from the zookeeper_stats node the server maintains.
func testZkCliQuota(t *testing.T, srv *zktest.Server) {
	tr := zkCliSession(t, srv, "zkCli quota session",
		"create /zq abc",
		"create /zq/a de",
		"create /zq/b f",
		"setquota -n 5 /zq",
		"listquota /zq",
		"setquota -b 100 /zq",
		"create /zq/c ghij",
		"set /zq abcdef",
		"listquota /zq",
		"delete /zq/a",
		"listquota /zq",
		"delquota -n /zq",
		"listquota /zq",
		"delquota /zq",
		"listquota /zq",
		"ls /zookeeper/quota",
	)
	tr.expect("create", `(?m)^Created /zq/b$`)
	quota := func(step, limits, usage string) {
		t.Helper()
		tr.expect(step+" limits", `(?m)^Output quota for /zq `+regexp.QuoteMeta(limits)+`$`)
		tr.expect(step+" usage", `(?m)^Output stat for /zq `+regexp.QuoteMeta(usage)+`$`)
	}
	quota("setquota -n", "count=5,bytes=-1=;byteHardLimit=-1;countHardLimit=-1", "count=3,bytes=6")
	quota("setquota -b, create, set", "count=5,bytes=100=;byteHardLimit=-1;countHardLimit=-1", "count=4,bytes=13")
	quota("delete", "count=5,bytes=100=;byteHardLimit=-1;countHardLimit=-1", "count=3,bytes=11")
	quota("delquota -n", "count=-1,bytes=100=;byteHardLimit=-1;countHardLimit=-1", "count=3,bytes=11")
	tr.expect("delquota", `(?m)^quota for /zq does not exist\.$`)
	tr.expect("quota tree", `(?m)^\[\]$`)
}

// TestZkCliTTLAndContainer needs extended types and a fast container sweep:
// a TTL node and an emptied container must disappear on their own.
func TestZkCliTTLAndContainer(t *testing.T) {
	opts := zktest.Options{ExtendedTypes: true, Extra: []string{"znode.container.checkIntervalMs=100"}}
	eachServer(t, opts, func(t *testing.T, srv *zktest.Server) {
		c := zkCliConsole(t, srv, srv.Name+" zkCli")
		step := func(cmd, pattern string) []int {
			t.Helper()
			from := c.mark()
			c.send(cmd)
			return c.mustWaitFor(from, regexp.MustCompile(pattern), "output of "+cmd)
		}
		step("create -t 500 /zttl t", `(?m)^Created /zttl$`)
		step("create -c /zcont c", `(?m)^Created /zcont$`)
		step("create /zcont/kid k", `(?m)^Created /zcont/kid$`)
		step("create /zkeep k", `(?m)^Created /zkeep$`)
		m := step("stat /zttl", `(?m)^`+statPattern)
		// ZooKeeper stores a TTL in ephemeralOwner but shows clients 0.
		if st := parseStat(submatches(c.text(), m)); st.ephemeralOwner != 0 || st.version != 0 {
			t.Errorf("%s: stat /zttl = %+v, want ephemeralOwner 0 and dataVersion 0", srv.Name, st)
		}
		c.send("delete /zcont/kid")

		// Poll ls / until the sweep has removed both, within a deadline.
		deadline := time.Now().Add(20 * time.Second)
		listRE := regexp.MustCompile(`(?m)^(\[.*\])$`)
		for {
			from := c.mark()
			c.send("ls /")
			m := c.mustWaitFor(from, listRE, "output of ls /")
			kids := splitList(submatches(c.text(), m)[1])
			if sameSet(kids, []string{"zkeep", "zookeeper"}) {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("%s: ls / = %v 20s after the TTL (500ms) passed and the container emptied; want [zkeep zookeeper]\n%s",
					srv.Name, kids, c.text())
			}
			time.Sleep(200 * time.Millisecond)
		}
		c.send("quit")
		if out, err := c.finish(zkCliTimeout); err != nil {
			t.Errorf("%s: zkCli quit: %v\n%s", srv.Name, err, out)
		}
	})
}
