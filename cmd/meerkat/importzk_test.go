package main

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/go-zookeeper/zk"

	"github.com/meerkat-zk/meerkat/internal/zktest"
)

// The importer is tested on data directories written by a real Apache
// ZooKeeper 3.8: a workload with every kind of znode, then a clean stop or
// a SIGKILL under load, with small snapCount so the directory holds several
// fuzzy snapshots and logs. `meerkat import-zk` converts the directory;
// ZooKeeper restarts on it; a walk of the whole tree through a client
// (data, every stat field, ACLs, children) must be identical on both.
// Then containers, TTL nodes and sequential numbering must go on behaving
// on Meerkat as on ZooKeeper. Last, `meerkat export-zk` writes Meerkat's
// data back as a ZooKeeper data directory, and a ZooKeeper started on it
// must serve the tree Meerkat served. The scenarios run one at a time:
// each runs two or three JVMs, and more at once starve the ZooKeeper
// ensembles other packages test meanwhile.

// walkerAuth is the digest identity the workload's protected nodes name;
// the walk authenticates as it to read them.
const walkerAuth = "walker:secret"

func TestImportZooKeeperCleanStop(t *testing.T) {
	testImport(t, false, "")
}

func TestImportZooKeeperKilledUnderLoad(t *testing.T) {
	testImport(t, true, "")
}

func TestImportZooKeeperGzipSnapshots(t *testing.T) {
	testImport(t, false, "gz")
}

func TestImportZooKeeperSnappySnapshotsKilled(t *testing.T) {
	testImport(t, true, "snappy")
}

func testImport(t *testing.T, kill bool, compression string) {
	extra := []string{"zookeeper.snapCount=200", "znode.container.checkIntervalMs=3600000"}
	if compression != "" {
		extra = append(extra, "zookeeper.snapshot.compression.method="+compression)
	}
	zkSrv := zktest.StartZooKeeper(t, zktest.Options{ExtendedTypes: true, Extra: extra})
	c := zktest.Session(t, zkSrv.Addr, 30*time.Second)
	// The owner of live ephemerals: its session stays open through the
	// stop, so both servers restore it (and expire it only after 40 s).
	owner := zktest.Session(t, zkSrv.Addr, 40*time.Second)
	populate(t, c, owner)
	if kill {
		// Writes keep coming until the SIGKILL, so the log may end inside a
		// transaction.
		stop := make(chan struct{})
		var wg sync.WaitGroup
		for w := range 4 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for i := 0; i < 5000; i++ {
					select {
					case <-stop:
						return
					default:
					}
					if _, err := c.Create(fmt.Sprintf("/load/w%d-%d", w, i), make([]byte, 300), 0, zk.WorldACL(zk.PermAll)); err != nil {
						return
					}
				}
			}()
		}
		time.Sleep(700 * time.Millisecond)
		zkSrv.Kill()
		close(stop)
		wg.Wait()
	} else {
		zkSrv.Stop()
	}
	zkData := filepath.Join(zkSrv.Dir, "data")
	if names := zkFiles(t, zkData, "snapshot."); len(names) < 2 {
		t.Fatalf("the workload should leave several snapshots, found %v", names)
	}

	meerkatData := filepath.Join(t.TempDir(), "meerkat")
	out, err := run(t, zktest.MeerkatBinary(t), "import-zk", "-data-dir", meerkatData, zkData)
	if err != nil || !strings.Contains(out, "imported") {
		t.Fatalf("import-zk: %v\n%s", err, out)
	}
	t.Logf("import-zk: %s", strings.TrimSpace(out))
	if again, err := run(t, zktest.MeerkatBinary(t), "import-zk", "-data-dir", meerkatData, zkData); err == nil || !strings.Contains(again, "not empty") {
		t.Errorf("a second import into the same directory: %v\n%s", err, again)
	}

	zkSrv.Restart(t)
	mk := zktest.StartMeerkat(t, zktest.Options{ExtendedTypes: true, Extra: []string{"dataDir=" + meerkatData, "znode.container.checkIntervalMs=100"}})
	zc, mc := authedSession(t, zkSrv.Addr), authedSession(t, mk.Addr)
	want, got := walk(t, zc), walk(t, mc)
	if len(want) < 1900 {
		t.Fatalf("ZooKeeper's tree has only %d znodes; the workload did not run", len(want))
	}
	if d := zktest.LineDiff(want, got, 2); d != "" {
		t.Fatalf("the imported tree differs from the one ZooKeeper serves (- ZooKeeper, + Meerkat):\n%s", d)
	}

	// Sequential names go on from the same counter.
	for _, conn := range []*zk.Conn{zc, mc} {
		name, err := conn.Create("/seq/s-", nil, zk.FlagSequence, zk.WorldACL(zk.PermAll))
		if err != nil || name != "/seq/s-0000000300" {
			t.Errorf("next sequential create: %q %v, want /seq/s-0000000300", name, err)
		}
	}
	// A container whose last child goes is reaped; a TTL node past its TTL
	// without children is too; a long TTL stays.
	for _, p := range []string{"/containers/c0/child", "/ttl/short/child"} {
		if err := mc.Delete(p, -1); err != nil {
			t.Fatalf("delete %s on Meerkat: %v", p, err)
		}
	}
	zktest.Eventually(t, "the emptied container and the expired TTL node are deleted on Meerkat", func() error {
		for _, p := range []string{"/containers/c0", "/ttl/short"} {
			if ok, _, err := mc.Exists(p); err != nil || ok {
				return fmt.Errorf("%s exists: %v %v", p, ok, err)
			}
		}
		return nil
	})
	for _, p := range []string{"/containers/c1", "/containers/unused", "/ttl/long"} {
		if ok, _, err := mc.Exists(p); err != nil || !ok {
			t.Errorf("%s should stay on Meerkat: %v %v", p, ok, err)
		}
	}

	// And back: export-zk from the stopped server, then ZooKeeper starts
	// on the output and serves the very same tree.
	want = walk(t, mc)
	mk.Stop()
	zkOut := filepath.Join(t.TempDir(), "zookeeper")
	if out, err := run(t, zktest.MeerkatBinary(t), "export-zk", "-data-dir", meerkatData, zkOut); err != nil || !strings.Contains(out, "exported") {
		t.Fatalf("export-zk: %v\n%s", err, out)
	}
	back := zktest.StartZooKeeper(t, zktest.Options{ExtendedTypes: true, Extra: []string{"dataDir=" + zkOut, "znode.container.checkIntervalMs=3600000"}})
	if d := zktest.LineDiff(want, walk(t, authedSession(t, back.Addr)), 2); d != "" {
		t.Fatalf("ZooKeeper started from export-zk's output serves another tree (- Meerkat, + ZooKeeper):\n%s", d)
	}
}

// populate writes the workload: persistent nodes with data changed several
// times, ACLs of every scheme, sequential nodes with gaps, ephemerals of a
// session that stays and of one that closed, containers, TTL nodes, quota
// nodes, and multis that succeeded and failed.
func populate(t *testing.T, c, owner *zk.Conn) {
	t.Helper()
	open := zk.WorldACL(zk.PermAll)
	step := 0
	must := func(_ any, err error) {
		t.Helper()
		step++
		if err != nil {
			t.Fatalf("workload step %d: %v", step, err)
		}
	}
	for _, p := range []string{"/app", "/seq", "/eph", "/containers", "/ttl", "/load", "/acl"} {
		must(c.Create(p, []byte(p), 0, open))
	}
	for i := range 1500 {
		p := fmt.Sprintf("/app/n%04d", i)
		must(c.Create(p, []byte(strings.Repeat("x", i%97)), 0, open))
		for v := 0; v < i%4; v++ {
			must(c.Set(p, []byte(fmt.Sprintf("v%d", v)), int32(v)))
		}
		if i%10 == 0 {
			must(c.Create(p+"/leaf", nil, 0, open))
		}
	}
	for i := range 300 {
		must(c.Create("/seq/s-", []byte{byte(i)}, zk.FlagSequence, open))
	}
	for i := 0; i < 300; i += 3 {
		must(nil, c.Delete(fmt.Sprintf("/seq/s-%010d", i), -1))
	}
	must(nil, c.AddAuth("digest", []byte(walkerAuth)))
	user, pass, _ := strings.Cut(walkerAuth, ":")
	acls := [][]zk.ACL{
		zk.WorldACL(zk.PermRead),
		zk.DigestACL(zk.PermAll, user, pass),
		{{Perms: zk.PermRead | zk.PermWrite, Scheme: "ip", ID: "127.0.0.1"}, {Perms: zk.PermAdmin, Scheme: "world", ID: "anyone"}},
		zk.AuthACL(zk.PermRead | zk.PermAdmin),
	}
	for i, acl := range acls {
		p := fmt.Sprintf("/acl/a%d", i)
		must(c.Create(p, []byte("protected"), 0, open))
		must(c.SetACL(p, acl, 0))
	}
	for i := range 60 {
		must(owner.Create(fmt.Sprintf("/eph/live%02d", i), []byte("mine"), zk.FlagEphemeral, open))
	}
	must(owner.Create("/eph/seq-", nil, zk.FlagEphemeralSequential, open))
	gone := zktest.Session(t, c.Server(), 10*time.Second)
	for i := range 20 {
		must(gone.Create(fmt.Sprintf("/eph/gone%02d", i), nil, zk.FlagEphemeral, open))
	}
	gone.Close()
	for i := range 2 {
		p := fmt.Sprintf("/containers/c%d", i)
		must(c.CreateContainer(p, nil, zk.FlagContainer, open))
		must(c.Create(p+"/child", nil, 0, open))
	}
	must(c.CreateContainer("/containers/unused", nil, zk.FlagContainer, open))
	must(c.CreateTTL("/ttl/long", nil, zk.FlagTTL, open, time.Hour))
	must(c.CreateTTL("/ttl/short", nil, zk.FlagTTL, open, time.Second))
	must(c.Create("/ttl/short/child", nil, 0, open))
	must(c.Create("/zookeeper/quota/app", nil, 0, open))
	must(c.Create("/zookeeper/quota/app/zookeeper_limits", []byte("count=100000,bytes=-1"), 0, open))
	must(c.Create("/zookeeper/quota/app/zookeeper_stats", []byte("count=0,bytes=0"), 0, open))
	must(c.Multi(
		&zk.CreateRequest{Path: "/app/multi", Data: []byte("m"), Acl: open},
		&zk.SetDataRequest{Path: "/seq", Data: []byte("by multi"), Version: -1},
		&zk.DeleteRequest{Path: "/app/n0002", Version: -1},
	))
	if _, err := c.Multi(
		&zk.CreateRequest{Path: "/app/never", Acl: open},
		&zk.CheckVersionRequest{Path: "/app/n0003", Version: 99},
	); !errors.Is(err, zk.ErrBadVersion) {
		t.Fatalf("failing multi: %v", err)
	}
	// Enough writes after the last snapshot that the log matters.
	for i := 3; i < 403; i++ {
		must(c.Set(fmt.Sprintf("/app/n%04d", i), []byte("late"), -1))
	}
}

// authedSession opens a session authenticated as the walker.
func authedSession(t *testing.T, addr string) *zk.Conn {
	t.Helper()
	c := zktest.Session(t, addr, 30*time.Second)
	if err := c.AddAuth("digest", []byte(walkerAuth)); err != nil {
		t.Fatal(err)
	}
	return c
}

// walk renders every znode under / in path order: its stat, data, ACL and
// children, one line each.
func walk(t *testing.T, c *zk.Conn) []string {
	t.Helper()
	var lines []string
	queue := []string{"/"}
	for len(queue) > 0 {
		p := queue[0]
		queue = queue[1:]
		data, st, err := c.Get(p)
		if err != nil {
			t.Fatalf("get %s: %v", p, err)
		}
		acl, _, err := c.GetACL(p)
		if err != nil {
			t.Fatalf("getACL %s: %v", p, err)
		}
		kids, _, err := c.Children(p)
		if err != nil {
			t.Fatalf("children %s: %v", p, err)
		}
		slices.Sort(kids)
		lines = append(lines, fmt.Sprintf("%s stat=%+v data=%q acl=%v children=%v", p, *st, data, acl, kids))
		for _, k := range kids {
			queue = append(queue, strings.TrimSuffix(p, "/")+"/"+k)
		}
	}
	return lines
}

// zkFiles lists the names under dir/version-2 that start with prefix.
func zkFiles(t *testing.T, dir, prefix string) []string {
	t.Helper()
	var out []string
	for name := range files(t, filepath.Join(dir, "version-2")) {
		if strings.HasPrefix(filepath.Base(name), prefix) {
			out = append(out, filepath.Base(name))
		}
	}
	return out
}

// An ensemble imports too: every member runs import-zk on the same
// ZooKeeper directory with its own zoo.cfg, and all start from that one
// image. Each member then serves the tree ZooKeeper serves (but for
// /zookeeper/config, which holds the ensemble's membership), and writes go
// on from ZooKeeper's counters and replicate.
func TestImportZooKeeperIntoAnEnsemble(t *testing.T) {
	zkSrv := zktest.StartZooKeeper(t, zktest.Options{ExtendedTypes: true, Extra: []string{"zookeeper.snapCount=200", "znode.container.checkIntervalMs=3600000"}})
	c := zktest.Session(t, zkSrv.Addr, 30*time.Second)
	owner := zktest.Session(t, zkSrv.Addr, 40*time.Second)
	populate(t, c, owner)
	zkSrv.Stop()
	zkData := filepath.Join(zkSrv.Dir, "data")
	bin := zktest.MeerkatBinary(t)
	ens := zktest.StartMeerkatEnsemble(t, zktest.EnsembleOptions{Options: zktest.Options{ExtendedTypes: true}, Prepare: func(cfg string) error {
		out, err := exec.Command(bin, "import-zk", cfg, zkData).CombinedOutput()
		if err != nil {
			return fmt.Errorf("import-zk: %v\n%s", err, out)
		}
		return nil
	}})
	zkSrv.Restart(t)
	want := walk(t, authedSession(t, zkSrv.Addr))
	_, st, err := authedSession(t, zkSrv.Addr).Get("/app")
	if err != nil {
		t.Fatal(err)
	}
	servesTheImage(t, ens, want, st.Pzxid)
}

// servesTheImage checks that every member of ens serves the tree want (a
// walk of the server the image came from, /zookeeper/config aside, which
// holds the ensemble's membership) after an election, and that a write
// through one member takes the next sequential number of populate's /seq
// and a zxid past zxid, and reaches every member.
func servesTheImage(t *testing.T, ens *zktest.Ensemble, want []string, zxid int64) {
	t.Helper()
	for i, m := range ens.Members {
		mc := authedSession(t, m.Addr)
		if _, err := mc.Sync("/"); err != nil {
			t.Fatal(err)
		}
		got := walk(t, mc)
		if d := zktest.LineDiff(withoutConfigNode(want), withoutConfigNode(got), 2); d != "" {
			t.Fatalf("member %d serves another tree than the image's source (- source, + member):\n%s", i+1, d)
		}
		if out, _ := zktest.FourLetter(m.Addr, "mntr"); !regexp.MustCompile(`zk_cnt_election_time\t[1-9]`).MatchString(out) {
			t.Errorf("member %d: mntr counts no election:\n%s", i+1, out)
		}
		cfg, _, err := mc.Get("/zookeeper/config")
		if err != nil || !strings.Contains(string(cfg), fmt.Sprintf("server.%d=", len(ens.Members))) {
			t.Errorf("member %d: /zookeeper/config %q %v, want the ensemble's membership", i+1, cfg, err)
		}
	}
	w := authedSession(t, ens.Members[0].Addr)
	name, err := w.Create("/seq/s-", nil, zk.FlagSequence, zk.WorldACL(zk.PermAll))
	if err != nil || name != "/seq/s-0000000300" {
		t.Fatalf("create through the ensemble: %q %v", name, err)
	}
	for i, m := range ens.Members {
		mc := authedSession(t, m.Addr)
		if _, err := mc.Sync("/seq"); err != nil {
			t.Fatal(err)
		}
		_, st, err := mc.Get(name)
		if err != nil || st.Czxid <= zxid {
			t.Errorf("member %d: %s: %+v %v (want a zxid past 0x%x)", i+1, name, st, err, zxid)
		}
	}
}

// A standalone server's data moves into an ensemble by either of two
// routes: `meerkat snapshot` of the running server, then `meerkat restore`
// of that file into every member's data directory with the member's own
// zoo.cfg; or, the server stopped, `meerkat export-zk`, then `meerkat
// import-zk` of the output into every member. Either way the members start
// from one image, serving the standalone server's tree and going on from
// its zxid and sequential numbers. The standalone server's own data
// directory is refused as a member's, and the refusal says how to move it.
func TestStandaloneMovesIntoAnEnsemble(t *testing.T) {
	bin := zktest.MeerkatBinary(t)
	adminPort := zktest.FreePort(t)
	srv := zktest.StartMeerkat(t, zktest.Options{ExtendedTypes: true, AdminPort: adminPort,
		Extra: []string{"admin.snapshot.enabled=true", "znode.container.checkIntervalMs=3600000"}})
	c := zktest.Session(t, srv.Addr, 30*time.Second)
	owner := zktest.Session(t, srv.Addr, 40*time.Second)
	populate(t, c, owner)
	want := walk(t, authedSession(t, srv.Addr))
	_, last, err := authedSession(t, srv.Addr).Get("/app/n0402")
	if err != nil {
		t.Fatal(err)
	}
	file := filepath.Join(t.TempDir(), "standalone.snap")
	if out, err := run(t, bin, "snapshot", "-admin", fmt.Sprintf("127.0.0.1:%d", adminPort), file); err != nil {
		t.Fatalf("meerkat snapshot: %v\n%s", err, out)
	}
	srv.Stop()
	zkOut := filepath.Join(t.TempDir(), "zookeeper")
	if out, err := run(t, bin, "export-zk", filepath.Join(srv.Dir, "zoo.cfg"), zkOut); err != nil {
		t.Fatalf("meerkat export-zk: %v\n%s", err, out)
	}

	// Its own directory, given server lines, is refused.
	cfg := filepath.Join(t.TempDir(), "member.cfg")
	lines := fmt.Sprintf("tickTime=2000\ndataDir=%s\nclientPort=%d\nclientPortAddress=127.0.0.1\nadmin.enableServer=false\nstandaloneEnabled=false\nserver.1=127.0.0.1:%d:%d\n",
		filepath.Join(srv.Dir, "data"), zktest.FreePort(t), zktest.FreePort(t), zktest.FreePort(t))
	if err := os.WriteFile(cfg, []byte(lines), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(srv.Dir, "data", "myid"), []byte("1\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if out := runToExit(t, exec.Command(bin, cfg)); !strings.Contains(out, "holds the data of a standalone server") ||
		!strings.Contains(out, "meerkat restore") {
		t.Fatalf("a standalone data directory started as a member's: want a refusal naming the way to move it, got\n%s", out)
	}

	for _, route := range [][]string{{"restore", file}, {"import-zk", zkOut}} {
		t.Run(route[0], func(t *testing.T) {
			ens := zktest.StartMeerkatEnsemble(t, zktest.EnsembleOptions{Options: zktest.Options{ExtendedTypes: true}, Prepare: func(cfg string) error {
				out, err := exec.Command(bin, route[0], cfg, route[1]).CombinedOutput()
				if err != nil {
					return fmt.Errorf("%s: %v\n%s", route[0], err, out)
				}
				return nil
			}})
			servesTheImage(t, ens, want, last.Mzxid)
		})
	}
}

// withoutConfigNode drops /zookeeper/config's line from a walk.
func withoutConfigNode(lines []string) []string { return withoutNode(lines, "/zookeeper/config") }

// withoutNode is walk's lines without the one of the znode at path.
func withoutNode(lines []string, path string) []string {
	return slices.DeleteFunc(slices.Clone(lines), func(l string) bool { return strings.HasPrefix(l, path+" ") })
}

// And back from an ensemble: `meerkat export-zk` with a member's zoo.cfg
// writes what that member applied, and a ZooKeeper server started on the
// output serves that tree. A member stopped cleanly exports its checkpoint;
// a member killed with SIGKILL, whose checkpoint lags its raft log, exports
// its checkpoint plus the entries the log records as committed.
func TestExportZooKeeperFromAMember(t *testing.T) {
	bin := zktest.MeerkatBinary(t)
	ens := zktest.StartMeerkatEnsemble(t, zktest.EnsembleOptions{Options: zktest.Options{ExtendedTypes: true,
		Extra: []string{"znode.container.checkIntervalMs=3600000"}}})
	first := ens.Members[0]
	c := zktest.Session(t, first.Addr, 30*time.Second)
	owner := zktest.Session(t, first.Addr, 40*time.Second)
	populate(t, c, owner)
	cfgOf := func(m *zktest.Server) string { return filepath.Join(m.Dir, "zoo.cfg") }

	// Writes applied by a member just before its SIGKILL: its raft log
	// commits them, and its checkpoint, made durable every 30 s, does not
	// hold them.
	killed := ens.Members[2]
	kc := zktest.Session(t, killed.Addr, 30*time.Second)
	for i := range 200 {
		if _, err := kc.Set("/app/n0000", []byte(fmt.Sprint("last ", i)), -1); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := c.Sync("/"); err != nil {
		t.Fatal(err)
	}
	beforeMark := withoutNode(walk(t, authedSession(t, first.Addr)), "/seq")
	// A write through another member that the killed member has applied:
	// the append that brought it to the member said the 200 were committed,
	// and the member logged that before applying it. Whether the mark
	// itself is marked committed in the log depends on when the SIGKILL
	// lands, so the comparison leaves its znode out.
	if _, err := c.Set("/seq", []byte("mark"), -1); err != nil {
		t.Fatal(err)
	}
	zktest.Eventually(t, "the member to be killed applies the mark", func() error {
		if data, _, err := kc.Get("/seq"); err != nil || string(data) != "mark" {
			return fmt.Errorf("/seq is %q (%v)", data, err)
		}
		return nil
	})
	killed.Kill()
	killedOut := filepath.Join(t.TempDir(), "zookeeper")
	if out, err := run(t, bin, "export-zk", cfgOf(killed), killedOut); err != nil || !strings.Contains(out, "exported") {
		t.Fatalf("export-zk of a killed member: %v\n%s", err, out)
	}
	fromKilled := zktest.StartZooKeeper(t, zktest.Options{ExtendedTypes: true, Extra: []string{"dataDir=" + killedOut, "znode.container.checkIntervalMs=3600000"}})
	got := withoutNode(walk(t, authedSession(t, fromKilled.Addr)), "/seq")
	if d := zktest.LineDiff(withoutConfigNode(beforeMark), withoutConfigNode(got), 2); d != "" {
		t.Fatalf("ZooKeeper started from a killed member's export serves another tree (- ensemble, + ZooKeeper):\n%s", d)
	}
	fromKilled.Stop()

	// What the first member serves once it has applied every write.
	if _, err := c.Sync("/"); err != nil {
		t.Fatal(err)
	}
	want := walk(t, authedSession(t, first.Addr))
	ens.Members[1].Stop()
	first.Stop()
	zkOut := filepath.Join(t.TempDir(), "zookeeper")
	if out, err := run(t, bin, "export-zk", cfgOf(first), zkOut); err != nil || !strings.Contains(out, "exported") {
		t.Fatalf("export-zk of a stopped member: %v\n%s", err, out)
	}
	back := zktest.StartZooKeeper(t, zktest.Options{ExtendedTypes: true, Extra: []string{"dataDir=" + zkOut, "znode.container.checkIntervalMs=3600000"}})
	if d := zktest.LineDiff(withoutConfigNode(want), withoutConfigNode(walk(t, authedSession(t, back.Addr))), 2); d != "" {
		t.Fatalf("ZooKeeper started from a member's export serves another tree (- member, + ZooKeeper):\n%s", d)
	}
}
