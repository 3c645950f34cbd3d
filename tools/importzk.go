package tools

import (
	"fmt"
	"os"

	pb "go.etcd.io/raft/v3/raftpb"

	"github.com/meerkat-zk/meerkat/engine"
	"github.com/meerkat-zk/meerkat/replication"
	"github.com/meerkat-zk/meerkat/wal"
	"github.com/meerkat-zk/meerkat/zkfile"
)

// ImportStats tells what ImportZooKeeper read and built.
type ImportStats struct {
	zkfile.Report
	// Zxid is the last transaction ZooKeeper had applied; Meerkat goes on
	// from the next one.
	Zxid     int64
	Nodes    int
	Sessions int
}

// Target is the Meerkat data directory an import builds: a checkpoint
// under CheckpointDir, and a standalone server's empty log under WALDir,
// or, with Member set, an ensemble member's raft log.
type Target struct {
	CheckpointDir, WALDir string
	Member                *MemberTarget
}

// MemberTarget is what an ensemble member's data directory starts with.
// Every member imports the same ZooKeeper directory with the same
// membership, so that all start from the same image at the same raft
// index.
type MemberTarget struct {
	// RaftDir holds the raft log; WAL are its options.
	RaftDir string
	WAL     wal.Options
	// Voters and Learners are the membership raft starts with; Membership
	// is its text for /zookeeper/config (the zoo.cfg's server lines).
	Voters, Learners []uint64
	Membership       []byte
}

// ImportZooKeeper builds a Meerkat data directory (its directories
// missing or empty) holding the tree an Apache ZooKeeper server would load
// from its dataDir and dataLogDir: every znode with its data, ACL and stat,
// the open sessions (their ephemerals stay theirs) and the last zxid. The
// ZooKeeper files are only read.
func ImportZooKeeper(zkDataDir, zkLogDir string, to Target) (ImportStats, error) {
	var st ImportStats
	logDir := to.WALDir
	if to.Member != nil {
		logDir = to.Member.RaftDir
	}
	if err := checkEmpty(to.CheckpointDir, logDir); err != nil {
		return st, err
	}
	tree, rep, err := zkfile.Load(zkDataDir, zkLogDir)
	st.Report = rep
	if err != nil {
		return st, err
	}
	state, err := stateOf(tree)
	if err != nil {
		return st, err
	}
	st.Zxid, st.Nodes, st.Sessions = tree.Zxid, len(tree.Nodes), len(tree.Sessions)
	initLog := func() error { return os.MkdirAll(to.WALDir, 0o755) }
	if m := to.Member; m != nil {
		// The membership is the zoo.cfg's, whatever ZooKeeper's
		// /zookeeper/config held, stamped with the time of the last
		// transaction so that every member builds the same image.
		state.SetConfigNode(m.Membership, lastTime(tree))
		state.SetApplied(replication.ImportedIndex)
		state.SetTerm(replication.ImportedIndex)
		boot := &pb.ConfState{Voters: m.Voters, Learners: m.Learners}
		initLog = func() error { return replication.InitStorage(m.RaftDir, m.WAL, boot) }
	}
	return st, writeDataDir(state, to.CheckpointDir, initLog)
}

// lastTime is the latest mtime in the tree: a time every import of the
// same files agrees on.
func lastTime(tree *zkfile.Tree) int64 {
	var t int64
	for _, n := range tree.Nodes {
		t = max(t, n.Mtime, n.Ctime)
	}
	return t
}

// stateOf turns ZooKeeper's tree into Meerkat's state. ZooKeeper's stat
// maps field for field: its stored cversion is the count of children
// created, which Meerkat keeps as Creates.
func stateOf(tree *zkfile.Tree) (*engine.State, error) {
	l := engine.NewLoader()
	refs := map[string]uint32{}
	err := tree.Walk(func(path string, zn *zkfile.Node) error {
		key := zkfile.ACLKey(zn.ACL)
		ref, ok := refs[key]
		if !ok {
			ref = uint32(len(refs))
			if err := l.AddACL(ref, zn.ACL); err != nil {
				return err
			}
			refs[key] = ref
		}
		n := engine.NewNode(path, zn.Data, ref)
		n.Czxid, n.Mzxid, n.Pzxid, n.Ctime, n.Mtime, n.Owner = zn.Czxid, zn.Mzxid, zn.Pzxid, zn.Ctime, zn.Mtime, zn.Owner
		n.Version, n.Aversion, n.Creates, n.NumChildren = zn.Version, zn.Aversion, zn.Cversion, int32(len(zn.Children))
		l.Put(n)
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("tools: %w", err)
	}
	for id, timeout := range tree.Sessions {
		l.AddSession(id, timeout)
	}
	state, err := l.Finish(tree.Zxid)
	if err != nil {
		return nil, fmt.Errorf("tools: %w", err)
	}
	state.RecountQuotas()
	return state, nil
}
