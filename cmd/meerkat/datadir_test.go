package main

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/meerkat-zk/meerkat/engine"
	"github.com/meerkat-zk/meerkat/internal/wire"
	"github.com/meerkat-zk/meerkat/internal/zktest"
	"github.com/meerkat-zk/meerkat/jute"
)

// standaloneConfig writes a zoo.cfg for a standalone server on a free port
// with dataDir dataDir and the extra lines, and returns its path and the
// client address.
func standaloneConfig(t *testing.T, dataDir string, extra ...string) (cfg, addr string) {
	t.Helper()
	port := zktest.FreePort(t)
	lines := append([]string{"tickTime=2000", "dataDir=" + dataDir, fmt.Sprintf("clientPort=%d", port),
		"clientPortAddress=127.0.0.1", "admin.enableServer=false"}, extra...)
	cfg = filepath.Join(t.TempDir(), "zoo.cfg")
	if err := os.WriteFile(cfg, []byte(strings.Join(lines, "\n")+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	return cfg, fmt.Sprintf("127.0.0.1:%d", port)
}

// runToExit runs cmd, which is expected to refuse to start, and returns
// its output; one that exits 0, or still runs after a minute, fails t.
func runToExit(t *testing.T, cmd *exec.Cmd) string {
	t.Helper()
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	timer := time.AfterFunc(time.Minute, func() { _ = cmd.Process.Kill() })
	err := cmd.Wait()
	if !timer.Stop() || err == nil {
		t.Fatalf("%s: want a refusal (non-zero exit), got %v\n%s", cmd.Args[0], err, out.String())
	}
	return out.String()
}

// files lists every file and directory under dir with its size.
func files(t *testing.T, dir string) map[string]int64 {
	t.Helper()
	out := map[string]int64{}
	err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		info, err := d.Info()
		if err != nil {
			return err
		}
		out[path] = info.Size()
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// TestZooKeeperDataDirIsRefused points Meerkat at the data directory a real
// Apache ZooKeeper 3.8 wrote: it must refuse to start, naming import-zk and
// the files it found, and leave the directory exactly as it was (no
// checkpoint or log of its own beside ZooKeeper's files).
func TestZooKeeperDataDirIsRefused(t *testing.T) {
	zk := zktest.StartZooKeeper(t, zktest.Options{})
	c, err := wire.Dial(zk.Addr, 30000)
	if err != nil {
		t.Fatal(err)
	}
	for i := range 5 {
		body := (&jute.CreateRequest{Path: fmt.Sprintf("/z%d", i), Data: []byte("v"), ACL: engine.OpenACL}).AppendCreate(nil, false)
		if r, err := c.Call(jute.OpCreate, body); err != nil || r.Header.Err != jute.CodeOK {
			t.Fatalf("create on ZooKeeper: %+v %v", r.Header, err)
		}
	}
	c.Close()
	zk.Stop()
	dataDir := filepath.Join(zk.Dir, "data")
	before := files(t, dataDir)

	cfg, _ := standaloneConfig(t, dataDir)
	out := runToExit(t, exec.Command(zktest.MeerkatBinary(t), cfg))
	for _, want := range []string{"Apache ZooKeeper's data", "version-2/log.", "import-zk"} {
		if !strings.Contains(out, want) {
			t.Errorf("the refusal does not say %q:\n%s", want, out)
		}
	}
	if after := files(t, dataDir); !reflect.DeepEqual(before, after) {
		t.Errorf("the refused start changed ZooKeeper's data directory:\nbefore %v\nafter  %v", before, after)
	}
}

// TestDataDirAutocreateOff runs Apache ZooKeeper 3.8 and Meerkat on the
// same zoo.cfg with datadir.autocreate=false (ZooKeeper turns the key into
// the system property zookeeper.datadir.autocreate) and a dataDir that
// does not exist: both refuse with the same words and create nothing.
// Once the directories Meerkat names exist, it starts and serves.
func TestDataDirAutocreateOff(t *testing.T) {
	root := t.TempDir()
	dataDir := filepath.Join(root, "volume", "data")
	const refusal = "automatic data directory creation is disabled (zookeeper.datadir.autocreate is false). Please create this directory manually"

	cfg, addr := standaloneConfig(t, dataDir, "datadir.autocreate=false")
	out := runToExit(t, zktest.ZooKeeperCommand(t, cfg))
	if !strings.Contains(out, refusal) {
		t.Fatalf("ZooKeeper did not refuse as expected:\n%s", out)
	}
	bin := zktest.MeerkatBinary(t)
	out = runToExit(t, exec.Command(bin, cfg))
	if !strings.Contains(out, refusal) {
		t.Fatalf("Meerkat's refusal differs from ZooKeeper's:\n%s", out)
	}
	if _, err := os.Stat(filepath.Join(root, "volume")); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("a refused start created the missing directory: %v", err)
	}
	// The -set spelling of the system property refuses too.
	cfg2, _ := standaloneConfig(t, dataDir)
	if out := runToExit(t, exec.Command(bin, "-set", "zookeeper.datadir.autocreate=false", cfg2)); !strings.Contains(out, refusal) {
		t.Fatalf("-set zookeeper.datadir.autocreate=false did not refuse:\n%s", out)
	}

	m := regexp.MustCompile(`missing data directory (.*), automatic`).FindStringSubmatch(out)
	if m == nil {
		t.Fatalf("the refusal names no directory:\n%s", out)
	}
	for _, d := range strings.Split(m[1], " and ") {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	srv := exec.Command(bin, cfg)
	log := &strings.Builder{}
	srv.Stdout, srv.Stderr = log, log
	if err := srv.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { _ = srv.Process.Kill(); _ = srv.Wait() }()
	zktest.Eventually(t, "the server on the created directories serves", func() error {
		c, err := wire.Dial(addr, 30000)
		if err != nil {
			return err
		}
		defer c.Close()
		r, err := c.Call(jute.OpCreate, (&jute.CreateRequest{Path: "/ok", ACL: engine.OpenACL}).AppendCreate(nil, false))
		if err != nil {
			return err
		}
		if r.Header.Err != jute.CodeOK {
			return fmt.Errorf("create: %v", r.Header.Err)
		}
		return nil
	})
}
