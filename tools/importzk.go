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

// Target is the Meerkat data directory an import or a restore builds: a
// checkpoint under CheckpointDir, and a standalone server's empty log
// under WALDir, or, with Member set, an ensemble member's raft log.
type Target struct {
	CheckpointDir, WALDir string
	Member                *MemberTarget
}

// MemberTarget is what an ensemble member's data directory starts with.
// Every member builds from the same files with the same membership, so
// that all start from the same image at the same raft index.
type MemberTarget struct {
	// RaftDir holds the raft log; WAL are its options.
	RaftDir string
	WAL     wal.Options
	// Voters and Learners are the membership raft starts with; Membership
	// is its text for /zookeeper/config (the zoo.cfg's server lines).
	Voters, Learners []uint64
	Membership       []byte
}

// logDir is where the target's log goes.
func (to Target) logDir() string {
	if to.Member != nil {
		return to.Member.RaftDir
	}
	return to.WALDir
}

// checkEmpty fails unless the target's directories are missing or empty.
func (to Target) checkEmpty() error { return checkEmpty(to.CheckpointDir, to.logDir()) }

// build makes state the whole of the target's data directory. A member's
// state is the image raft starts from, committed at ImportedIndex, its
// /zookeeper/config the zoo.cfg's membership (whatever the source held)
// stamped with the latest time in the state, so that every member that
// builds from the same files builds the same image.
func (to Target) build(state *engine.State) error {
	initLog := func() error { return os.MkdirAll(to.WALDir, 0o755) }
	if m := to.Member; m != nil {
		state.SetConfigNode(m.Membership, latestTime(state))
		state.SetApplied(replication.ImportedIndex)
		state.SetTerm(replication.ImportedIndex)
		boot := &pb.ConfState{Voters: m.Voters, Learners: m.Learners}
		initLog = func() error { return replication.InitStorage(m.RaftDir, m.WAL, boot) }
	}
	return writeDataDir(state, to.CheckpointDir, initLog)
}

// latestTime is the latest ctime or mtime of the state's znodes.
func latestTime(state *engine.State) int64 {
	var t int64
	state.Publish().Tree.All(func(n *engine.Node) bool {
		t = max(t, n.Mtime, n.Ctime)
		return true
	})
	return t
}

// ImportZooKeeper builds a Meerkat data directory (its directories
// missing or empty) holding the tree an Apache ZooKeeper server would load
// from its dataDir and dataLogDir: every znode with its data, ACL and stat,
// the open sessions (their ephemerals stay theirs) and the last zxid. The
// ZooKeeper files are only read.
func ImportZooKeeper(zkDataDir, zkLogDir string, to Target) (ImportStats, error) {
	var st ImportStats
	if err := to.checkEmpty(); err != nil {
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
	return st, to.build(state)
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
