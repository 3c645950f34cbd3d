package zkfile

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/meerkat-zk/meerkat/jute"
)

// testdata/version-2 was written by Apache ZooKeeper 3.8.0 (the Debian
// package) with snapCount=40, driven by kazoo, then SIGKILLed:
//
//	create /a "hello"; 30 × create /a/s- (sequential); create /e
//	(ephemeral); create /c, /c/x; set /a "again"; multi {create /m,
//	delete /a/s-0000000000}; a failing multi {create /never, check /a 99};
//	delete /a/s-0000000001; a second session creates the ephemeral /gone
//	and closes; setACL /a digest u:p.
//
// ZooKeeper snapshotted at zxid 0x1c and rolled to log.1e; the logs' zero
// padding is cut off (the reader ends at the end of the file as at zeros).

// copyFixture copies testdata/version-2 into a new directory and returns it.
func copyFixture(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	v := filepath.Join(dir, "version-2")
	if err := os.Mkdir(v, 0o755); err != nil {
		t.Fatal(err)
	}
	entries, err := os.ReadDir("testdata/version-2")
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		b, err := os.ReadFile(filepath.Join("testdata/version-2", e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(v, e.Name()), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

func TestLoadZooKeeperDirectory(t *testing.T) {
	tree, rep, err := Load("testdata", "testdata")
	if err != nil {
		t.Fatal(err)
	}
	if filepath.Base(rep.Snapshot) != "snapshot.1c" || len(rep.Logs) != 2 || rep.Txns != 16 || len(rep.Skipped)+len(rep.Torn) != 0 {
		t.Fatalf("report %+v", rep)
	}
	a := tree.Nodes["/a"]
	switch {
	case tree.Zxid != 0x2c:
		t.Fatalf("zxid 0x%x, want 0x2c", tree.Zxid)
	case a == nil || string(a.Data) != "again" || a.Version != 1 || a.Aversion != 1 || a.Cversion != 30 || len(a.Children) != 28:
		t.Fatalf("/a: %+v", a)
	case len(a.ACL) != 1 || a.ACL[0].ID.Scheme != "digest" || !strings.HasPrefix(a.ACL[0].ID.ID, "u:") || a.ACL[0].Perms != jute.PermAll:
		t.Fatalf("/a's ACL: %+v", a.ACL)
	case tree.Nodes["/m"] == nil || tree.Nodes["/c/x"] == nil:
		t.Fatal("/m (from a multi) or /c/x is missing")
	case tree.Nodes["/never"] != nil || tree.Nodes["/gone"] != nil || tree.Nodes["/a/s-0000000000"] != nil || tree.Nodes["/a/s-0000000001"] != nil:
		t.Fatal("a node that was deleted, or created by a failed multi, is there")
	}
	e := tree.Nodes["/e"]
	if e == nil || !sessionOwner(e.Owner) || len(tree.Sessions) != 1 {
		t.Fatalf("/e %+v, sessions %v", e, tree.Sessions)
	}
	if _, ok := tree.Sessions[e.Owner]; !ok {
		t.Fatalf("/e's session 0x%x is not open: %v", e.Owner, tree.Sessions)
	}
	// The root's system children come from the snapshot.
	for _, p := range []string{"/", "/zookeeper", "/zookeeper/quota", "/zookeeper/config"} {
		if tree.Nodes[p] == nil {
			t.Fatalf("%s is missing", p)
		}
	}
}

// A damaged newest snapshot is skipped, as ZooKeeper skips it: the tree then
// comes from snapshot.0 and every logged transaction, and must be exactly
// the tree of snapshot.1c plus the transactions after it.
func TestDamagedSnapshotFallsBackToTheLog(t *testing.T) {
	want, _, err := Load("testdata", "testdata")
	if err != nil {
		t.Fatal(err)
	}
	dir := copyFixture(t)
	snap := filepath.Join(dir, "version-2", "snapshot.1c")
	b, _ := os.ReadFile(snap)
	b[len(b)/2] ^= 0xff
	if err := os.WriteFile(snap, b, 0o644); err != nil {
		t.Fatal(err)
	}
	got, rep, err := Load(dir, dir)
	if err != nil {
		t.Fatal(err)
	}
	if filepath.Base(rep.Snapshot) != "snapshot.0" || len(rep.Skipped) != 1 || !strings.Contains(rep.Skipped[0], "snapshot.1c") {
		t.Fatalf("report %+v", rep)
	}
	if !reflect.DeepEqual(want.Nodes, got.Nodes) || !reflect.DeepEqual(want.Sessions, got.Sessions) || want.Zxid != got.Zxid {
		t.Fatal("replaying the whole log from snapshot.0 gives another tree than snapshot.1c and the log after it")
	}
}

// A log cut inside its last transaction ends before it: that transaction
// was never acknowledged.
func TestTornLogTail(t *testing.T) {
	dir := copyFixture(t)
	log := filepath.Join(dir, "version-2", "log.1e")
	b, _ := os.ReadFile(log)
	if err := os.WriteFile(log, b[:len(b)-10], 0o644); err != nil {
		t.Fatal(err)
	}
	tree, rep, err := Load(dir, dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(rep.Torn) != 1 || !strings.Contains(rep.Torn[0], "log.1e") || tree.Zxid != 0x2b {
		t.Fatalf("report %+v, zxid 0x%x (want 0x2b)", rep, tree.Zxid)
	}
	if a := tree.Nodes["/a"]; a.Aversion != 0 || a.ACL[0].ID.Scheme != "world" {
		t.Fatalf("the torn setACL was applied: %+v", a)
	}
}

// A whole entry whose checksum is wrong is corruption, not a torn tail:
// ZooKeeper refuses to start on it, and so does the import.
func TestCorruptLogEntry(t *testing.T) {
	dir := copyFixture(t)
	log := filepath.Join(dir, "version-2", "log.1e")
	b, _ := os.ReadFile(log)
	b[16+12+5] ^= 0x01 // inside the first entry's transaction
	if err := os.WriteFile(log, b, 0o644); err != nil {
		t.Fatal(err)
	}
	if _, _, err := Load(dir, dir); !errors.Is(err, ErrCorrupt) || !strings.Contains(err.Error(), "log.1e") {
		t.Fatalf("want ErrCorrupt naming log.1e, got %v", err)
	}
}

func TestNotAZooKeeperDirectory(t *testing.T) {
	dir := t.TempDir()
	if _, _, err := Load(dir, dir); err == nil || !strings.Contains(err.Error(), "version-2") {
		t.Fatalf("an empty directory: %v", err)
	}
	fixture := copyFixture(t)
	for _, name := range []string{"snapshot.0", "snapshot.1c"} {
		if err := os.Remove(filepath.Join(fixture, "version-2", name)); err != nil {
			t.Fatal(err)
		}
	}
	if _, _, err := Load(fixture, fixture); err == nil || !strings.Contains(err.Error(), "no snapshot") {
		t.Fatalf("logs without a snapshot: %v", err)
	}
}

// FuzzDecodeSnapshot feeds snapshot streams to the decoder: it must return
// a tree or an error, never panic or loop.
func FuzzDecodeSnapshot(f *testing.F) {
	for _, name := range []string{"snapshot.0", "snapshot.1c"} {
		b, err := os.ReadFile(filepath.Join("testdata/version-2", name))
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		if tree, err := decodeSnapshot(b); err == nil && tree.Nodes["/"] == nil {
			t.Fatal("a snapshot without a root was accepted")
		}
	})
}

// FuzzReadLog feeds log files to the reader and replays what it reads on
// the fixture's snapshot.
func FuzzReadLog(f *testing.F) {
	for _, name := range []string{"log.1", "log.1e"} {
		b, err := os.ReadFile(filepath.Join("testdata/version-2", name))
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	snap, err := os.ReadFile("testdata/version-2/snapshot.0")
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		tree, err := decodeSnapshot(snap)
		if err != nil {
			t.Fatal(err)
		}
		_, _ = readLog(b, "fuzz", func(txn Txn) error { return tree.Apply(txn) })
		for path := range tree.Nodes {
			if parent, _ := parentOf(path); path != "/" && tree.Nodes[parent] == nil {
				t.Fatalf("%s is left without its parent", path)
			}
		}
	})
}

func TestSnappyStream(t *testing.T) {
	// Two chunks behind snappy-java's header, and the header again between
	// them, as concatenated streams have it.
	var b []byte
	header := append(append([]byte{}, snappyHeader...), 0, 0, 0, 1, 0, 0, 0, 1)
	b = append(b, header...)
	for i, chunk := range [][]byte{{0x05, 0x10, 'h', 'e', 'l', 'l', 'o'}, {0x01, 0x00, '!'}} {
		if i == 1 {
			b = append(b, header...)
		}
		b = append(b, 0, 0, 0, byte(len(chunk)))
		b = append(b, chunk...)
	}
	out, err := decodeSnappyStream(b)
	if err != nil || !bytes.Equal(out, []byte("hello!")) {
		t.Fatalf("%q %v", out, err)
	}
	if _, err := decodeSnappyStream(b[:len(b)-1]); err == nil {
		t.Fatal("a cut chunk was accepted")
	}
}

// A written snapshot reads back as the same tree, seal and all.
func TestWriteSnapshotReadsBack(t *testing.T) {
	want, _, err := Load("testdata", "testdata")
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	if err := WriteSnapshot(&buf, want); err != nil {
		t.Fatal(err)
	}
	got, err := decodeSnapshot(buf.Bytes())
	if err != nil {
		t.Fatal(err)
	}
	got.Zxid = want.Zxid
	if !reflect.DeepEqual(want.Nodes, got.Nodes) || !reflect.DeepEqual(want.Sessions, got.Sessions) {
		t.Fatal("the snapshot read back differs from the tree written")
	}
	b := buf.Bytes()
	b[len(b)/2] ^= 1
	if _, err := decodeSnapshot(b); err == nil {
		t.Fatal("a damaged snapshot was accepted")
	}
}

// A ZooKeeper with a dataLogDir of its own keeps its logs there: Load
// reads the snapshots from one directory and the logs from the other.
func TestSeparateLogDirectory(t *testing.T) {
	want, _, err := Load("testdata", "testdata")
	if err != nil {
		t.Fatal(err)
	}
	data, logs := copyFixture(t), copyFixture(t)
	for _, name := range []string{"log.1", "log.1e"} {
		if err := os.Remove(filepath.Join(data, "version-2", name)); err != nil {
			t.Fatal(err)
		}
	}
	for _, name := range []string{"snapshot.0", "snapshot.1c"} {
		if err := os.Remove(filepath.Join(logs, "version-2", name)); err != nil {
			t.Fatal(err)
		}
	}
	got, rep, err := Load(data, logs)
	if err != nil {
		t.Fatal(err)
	}
	if len(rep.Logs) != 2 || !reflect.DeepEqual(want.Nodes, got.Nodes) || want.Zxid != got.Zxid {
		t.Fatalf("with the logs apart: %+v, zxid 0x%x", rep, got.Zxid)
	}
	// Without its logs the snapshot alone loads, older, as ZooKeeper would
	// load it: only the zxid tells.
	if older, _, err := Load(data, data); err != nil || older.Zxid >= want.Zxid {
		t.Fatalf("the snapshot alone: %v", err)
	}
}

func TestFiles(t *testing.T) {
	got, err := Files("testdata")
	if want := []string{"version-2/snapshot.0", "version-2/snapshot.1c", "version-2/log.1", "version-2/log.1e"}; err != nil || !reflect.DeepEqual(got, want) {
		t.Fatalf("Files(testdata) = %q %v, want %q", got, err, want)
	}
	if got, err := Files(t.TempDir()); err != nil || len(got) != 0 {
		t.Fatalf("a directory without version-2: %q %v", got, err)
	}
}
