package main

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/meerkat-zk/meerkat/engine"
	"github.com/meerkat-zk/meerkat/internal/wire"
	"github.com/meerkat-zk/meerkat/internal/zktest"
	"github.com/meerkat-zk/meerkat/jute"
)

// readTree reads every znode but /zookeeper through a client: its data,
// version, ACL and children, by path.
func readTree(t *testing.T, c *wire.Conn) map[string]string {
	t.Helper()
	out := map[string]string{}
	level := []string{"/"}
	for len(level) > 0 {
		var next []string
		for _, p := range level {
			r, err := c.GetData(p, false)
			if err != nil || r.Header.Err != jute.CodeOK {
				t.Fatalf("getData %s: %+v %v", p, r.Header, err)
			}
			d := jute.NewDecoder(r.Body)
			data := d.Buffer()
			var st jute.Stat
			st.Decode(d)
			ar, err := c.Call(jute.OpGetACL, (&jute.PathRequest{Path: p}).Append(nil))
			if err != nil || ar.Header.Err != jute.CodeOK {
				t.Fatalf("getACL %s: %+v %v", p, ar.Header, err)
			}
			cr, err := c.Call(jute.OpGetChildren, (&jute.PathWatchRequest{Path: p}).Append(nil))
			if err != nil || cr.Header.Err != jute.CodeOK {
				t.Fatalf("getChildren %s: %+v %v", p, cr.Header, err)
			}
			children := jute.NewDecoder(cr.Body).Strings()
			out[p] = fmt.Sprintf("data=%q version=%d czxid=%#x owner=%#x acl=%x children=%v", data, st.Version, st.Czxid, st.EphemeralOwner, ar.Body, children)
			for _, ch := range children {
				if p == "/" && ch == "zookeeper" {
					continue
				}
				next = append(next, strings.TrimSuffix(p, "/")+"/"+ch)
			}
		}
		level = next
	}
	return out
}

// run runs the meerkat binary with args and returns its combined output.
func run(t *testing.T, bin string, args ...string) (string, error) {
	t.Helper()
	out, err := exec.Command(bin, args...).CombinedOutput()
	return string(out), err
}

// TestSnapshotAndRestoreAsAUserRunsThem snapshots a running server with
// `meerkat snapshot`, restores the file into a new data directory with
// `meerkat restore`, starts the binary on that directory and reads the
// whole tree back through a client: data, versions, zxids, ACLs and
// ephemerals of a live session must be what the first server served. A
// second restore into the same directory is refused.
func TestSnapshotAndRestoreAsAUserRunsThem(t *testing.T) {
	bin := zktest.MeerkatBinary(t)
	adminPort := zktest.FreePort(t)
	srv := zktest.StartMeerkat(t, zktest.Options{Extra: []string{
		"admin.enableServer=true", "admin.serverAddress=127.0.0.1", fmt.Sprintf("admin.serverPort=%d", adminPort),
		"admin.snapshot.enabled=true"}})
	c, err := wire.Dial(srv.Addr, 30000)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	secret := []jute.ACL{{Perms: jute.PermRead, ID: jute.ID{Scheme: "ip", ID: "127.0.0.1"}}}
	for i := 0; i < 20; i++ {
		acl := engine.OpenACL
		if i%4 == 0 {
			acl = secret
		}
		body := (&jute.CreateRequest{Path: fmt.Sprintf("/app%d", i), Data: []byte(fmt.Sprint("value ", i)), ACL: engine.OpenACL}).AppendCreate(nil, false)
		if r, err := c.Call(jute.OpCreate, body); err != nil || r.Header.Err != jute.CodeOK {
			t.Fatalf("create: %+v %v", r.Header, err)
		}
		body = (&jute.CreateRequest{Path: fmt.Sprintf("/app%d/child", i), Data: []byte("c"), ACL: acl, Flags: int32(i % 3)}).AppendCreate(nil, false)
		if r, err := c.Call(jute.OpCreate, body); err != nil || r.Header.Err != jute.CodeOK {
			t.Fatalf("create child: %+v %v", r.Header, err)
		}
		if r, err := c.SetData(fmt.Sprintf("/app%d", i), []byte("updated"), -1); err != nil || r.Header.Err != jute.CodeOK {
			t.Fatalf("setData: %+v %v", r.Header, err)
		}
	}
	want := readTree(t, c)

	dir := t.TempDir()
	file := filepath.Join(dir, "backup.snap")
	out, err := run(t, bin, "snapshot", "-admin", fmt.Sprintf("127.0.0.1:%d", adminPort), file)
	if err != nil || !strings.Contains(out, "snapshot "+file+": zxid 0x") {
		t.Fatalf("meerkat snapshot: %v\n%s", err, out)
	}
	restored := filepath.Join(dir, "restored")
	out, err = run(t, bin, "restore", "-data-dir", restored, file)
	if err != nil || !strings.Contains(out, "restored "+file) {
		t.Fatalf("meerkat restore: %v\n%s", err, out)
	}
	if out, err := run(t, bin, "restore", "-data-dir", restored, file); err == nil || !strings.Contains(out, "not empty") {
		t.Fatalf("a second restore into the same directory: %v\n%s", err, out)
	}
	if out, err := run(t, bin, "dump-snapshot", file); err != nil || !strings.Contains(out, "/app7/child") {
		t.Fatalf("meerkat dump-snapshot: %v\n%.400s", err, out)
	}

	port := zktest.FreePort(t)
	cmd := exec.Command(bin, "-port", fmt.Sprint(port), "-data-dir", restored, "-set", "admin.enableServer=false")
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = cmd.Process.Signal(syscall.SIGTERM)
		_ = cmd.Wait()
	})
	addr := fmt.Sprintf("127.0.0.1:%d", port)
	var rc *wire.Conn
	for try := 0; ; try++ {
		if rc, err = wire.Dial(addr, 30000); err == nil && rc.Session.TimeOut > 0 {
			break
		}
		if try == 400 {
			t.Fatalf("the server on the restored directory does not serve: %v", err)
		}
		time.Sleep(25 * time.Millisecond)
	}
	defer rc.Close()
	if got := readTree(t, rc); !reflect.DeepEqual(got, want) {
		for p, w := range want {
			if got[p] != w {
				t.Errorf("%s: restored %s, served before %s", p, got[p], w)
			}
		}
		t.Fatalf("the restored server holds %d znodes, the snapshotted one %d", len(got), len(want))
	}
}

// output is a process's output, written by exec's goroutine and read by
// the test.
type output struct {
	mu sync.Mutex
	b  strings.Builder
}

func (o *output) Write(p []byte) (int, error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.b.Write(p)
}

func (o *output) String() string {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.b.String()
}

// startBinary runs the server binary with args on a free port and waits
// until it sets up a session; the test's cleanup SIGKILLs it.
func startBinary(t *testing.T, bin string, args ...string) (*exec.Cmd, string, *output) {
	t.Helper()
	port := zktest.FreePort(t)
	log := &output{}
	cmd := exec.Command(bin, append([]string{"-port", fmt.Sprint(port), "-set", "admin.enableServer=false"}, args...)...)
	cmd.Stderr = log
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
	})
	addr := fmt.Sprintf("127.0.0.1:%d", port)
	for try := 0; ; try++ {
		if c, err := wire.Dial(addr, 30000); err == nil && c.Session.TimeOut > 0 {
			c.Close()
			return cmd, addr, log
		}
		if try == 400 {
			t.Fatalf("the server does not serve:\n%s", log.String())
		}
		time.Sleep(25 * time.Millisecond)
	}
}

// TestSettingsChangedAcrossACrashReplayAsLogged creates TTL nodes with
// extendedTypesEnabled on, SIGKILLs the server before any checkpoint, and
// restarts it with the setting off: the replay must decide each logged
// write as it was first decided (the log carries the policy), so the TTL
// nodes are there.
func TestSettingsChangedAcrossACrashReplayAsLogged(t *testing.T) {
	bin := zktest.MeerkatBinary(t)
	dir := filepath.Join(t.TempDir(), "data")
	cmd, addr, _ := startBinary(t, bin, "-data-dir", dir, "-set", "extendedTypesEnabled=true", "-set", "snapCount=1000000")
	c, err := wire.Dial(addr, 30000)
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 5; i++ {
		body := (&jute.CreateRequest{Path: fmt.Sprintf("/ttl%d", i), ACL: engine.OpenACL, Flags: 5, TTL: 3600000}).AppendCreate(nil, true)
		if r, err := c.Call(jute.OpCreateTTL, body); err != nil || r.Header.Err != jute.CodeOK {
			t.Fatalf("createTTL: %+v %v", r.Header, err)
		}
	}
	c.Close()
	_ = cmd.Process.Kill()
	_ = cmd.Wait()

	_, addr, log := startBinary(t, bin, "-data-dir", dir)
	if !strings.Contains(log.String(), "log_entries_replayed=") || strings.Contains(log.String(), "log_entries_replayed=0 ") {
		t.Fatalf("the restart replayed nothing:\n%s", log.String())
	}
	c, err = wire.Dial(addr, 30000)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	for i := 0; i < 5; i++ {
		r, err := c.Call(jute.OpExists, (&jute.PathWatchRequest{Path: fmt.Sprintf("/ttl%d", i)}).Append(nil))
		if err != nil || r.Header.Err != jute.CodeOK {
			t.Fatalf("/ttl%d after the replay: %+v %v", i, r.Header, err)
		}
	}
	// The new setting governs new writes.
	body := (&jute.CreateRequest{Path: "/ttl-new", ACL: engine.OpenACL, Flags: 5, TTL: 3600000}).AppendCreate(nil, true)
	if r, err := c.Call(jute.OpCreateTTL, body); err != nil || r.Header.Err != jute.CodeUnimplemented {
		t.Fatalf("a TTL create with extendedTypesEnabled off: %+v %v", r.Header, err)
	}
}

// TestDockerImageConfigServes starts the binary on the configuration the
// official ZooKeeper image writes (one server.N line with its client port,
// standaloneEnabled, no clientPort): it serves on that port.
func TestDockerImageConfigServes(t *testing.T) {
	bin := zktest.MeerkatBinary(t)
	dir := t.TempDir()
	port := zktest.FreePort(t)
	cfg := filepath.Join(dir, "zoo.cfg")
	text := fmt.Sprintf("dataDir=%s\ndataLogDir=%s\ntickTime=2000\ninitLimit=5\nsyncLimit=2\nautopurge.snapRetainCount=3\nautopurge.purgeInterval=0\nmaxClientCnxns=60\nstandaloneEnabled=true\nadmin.enableServer=false\nserver.1=127.0.0.1:2888:3888;%d\n",
		filepath.Join(dir, "data"), filepath.Join(dir, "datalog"), port)
	if err := os.WriteFile(cfg, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	log := &output{}
	cmd := exec.Command(bin, cfg)
	cmd.Stderr = log
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
	})
	for try := 0; ; try++ {
		c, err := wire.Dial(fmt.Sprintf("127.0.0.1:%d", port), 30000)
		if err == nil && c.Session.TimeOut > 0 {
			c.Close()
			return
		}
		if try == 400 {
			t.Fatalf("no session on the server line's client port %d: %v\n%s", port, err, log.String())
		}
		time.Sleep(25 * time.Millisecond)
	}
}
