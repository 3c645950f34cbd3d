package tools

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/meerkat-zk/meerkat/checkpoint"
	"github.com/meerkat-zk/meerkat/engine"
	"github.com/meerkat-zk/meerkat/internal/atomicfile"
	"github.com/meerkat-zk/meerkat/pipeline"
	"github.com/meerkat-zk/meerkat/replication"
	"github.com/meerkat-zk/meerkat/wal"
	"github.com/meerkat-zk/meerkat/zkfile"
)

// ExportStats tells what ExportZooKeeper wrote.
type ExportStats struct {
	// Snapshot is the file written.
	Snapshot string
	Zxid     int64
	Nodes    int
	Sessions int
}

// ExportZooKeeper writes the state of a stopped standalone server (its
// checkpoint under checkpointDir and its log under walDir, which are only
// read) as an Apache ZooKeeper data directory: outDir/version-2/snapshot.
// <zxid>, which ZooKeeper 3.5+ loads as its whole state (it needs no log
// beside it). outDir/version-2 must be missing or empty. A running server
// holds its checkpoint's lock, so exporting its directory fails.
func ExportZooKeeper(checkpointDir, walDir, outDir string) (ExportStats, error) {
	state, err := recoverOffline(checkpointDir, walDir)
	if err != nil {
		return ExportStats{}, err
	}
	return writeZooKeeper(state, outDir)
}

// ExportMember is ExportZooKeeper for ensemble member id: the state
// written is its checkpoint's, brought up to date with the entries its
// raft log (under raftDir) commits after it, as the member applies them on
// start. So a member killed rather than stopped exports what its log
// records as committed. Both directories are only read.
func ExportMember(checkpointDir, raftDir string, id uint64, outDir string) (ExportStats, error) {
	state, err := loadCheckpoint(checkpointDir)
	if err != nil {
		return ExportStats{}, err
	}
	entries, err := replication.ReadCommitted(raftDir, state.Applied())
	if err != nil {
		return ExportStats{}, err
	}
	if err := pipeline.RecoverMember(state, id, entries); err != nil {
		return ExportStats{}, err
	}
	return writeZooKeeper(state, outDir)
}

// writeZooKeeper writes state as outDir/version-2/snapshot.<zxid>.
func writeZooKeeper(state *engine.State, outDir string) (ExportStats, error) {
	var st ExportStats
	tree := zooKeeperTree(state)
	st.Zxid, st.Nodes, st.Sessions = tree.Zxid, len(tree.Nodes), len(tree.Sessions)
	dir := filepath.Join(outDir, "version-2")
	if err := checkEmpty(dir); err != nil {
		return st, err
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return st, fmt.Errorf("tools: %w", err)
	}
	st.Snapshot = filepath.Join(dir, fmt.Sprintf("snapshot.%x", tree.Zxid))
	if err := atomicfile.Write(st.Snapshot, func(f *os.File) error { return zkfile.WriteSnapshot(f, tree) }); err != nil {
		return st, fmt.Errorf("tools: %w", err)
	}
	return st, nil
}

// recoverOffline rebuilds a standalone server's state from its checkpoint
// and log as the server does on start, without writing to either: a torn
// log tail is left where it is (the state stops before it).
func recoverOffline(checkpointDir, walDir string) (*engine.State, error) {
	state, err := loadCheckpoint(checkpointDir)
	if err != nil {
		return nil, err
	}
	if _, err := pipeline.Recover(state, scannedLog(walDir)); err != nil {
		return nil, err
	}
	return state, nil
}

// loadCheckpoint loads the checkpoint under checkpointDir (an empty state
// when it holds none yet).
func loadCheckpoint(checkpointDir string) (*engine.State, error) {
	if _, err := os.Stat(checkpointDir); errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("tools: %s holds no Meerkat data", filepath.Dir(checkpointDir))
	}
	store, err := checkpoint.Open(checkpointDir, nil, nil)
	if err != nil {
		return nil, err
	}
	defer store.Close()
	state, err := store.Load()
	if err != nil {
		return nil, err
	}
	if state == nil {
		state = engine.NewState()
	}
	return state, nil
}

// scannedLog replays a write-ahead log through wal.Scan, which only reads.
type scannedLog string

// Replay implements pipeline.Replayer.
func (dir scannedLog) Replay(fn func(index uint64, payload []byte) error) error {
	return wal.ScanIntact(string(dir), func(r wal.Record) error { return fn(r.Index, r.Payload) })
}

// zooKeeperTree turns Meerkat's state into ZooKeeper's tree, field for
// field (Creates is the cversion ZooKeeper stores).
func zooKeeperTree(state *engine.State) *zkfile.Tree {
	v := state.Publish()
	t := zkfile.NewTree()
	t.Zxid = state.Zxid()
	// All visits every parent before its children.
	v.Tree.All(func(n *engine.Node) bool {
		var data []byte
		if !n.DataNull() {
			data = []byte(n.Data())
		}
		t.Add(n.Path(), &zkfile.Node{Data: data, ACL: v.ACL(n), Czxid: n.Czxid, Mzxid: n.Mzxid, Ctime: n.Ctime, Mtime: n.Mtime,
			Version: n.Version, Cversion: n.Creates, Aversion: n.Aversion, Owner: n.Owner, Pzxid: n.Pzxid})
		return true
	})
	for _, s := range state.SessionRecords() {
		t.Sessions[s.ID] = s.Timeout
	}
	return t
}
