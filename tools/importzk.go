package tools

import (
	"fmt"

	"github.com/meerkat-zk/meerkat/engine"
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

// ImportZooKeeper builds a Meerkat data directory (a checkpoint under
// checkpointDir, an empty log under walDir, both missing or empty) holding
// the tree an Apache ZooKeeper server would load from its dataDir and
// dataLogDir: every znode with its data, ACL and stat, the open sessions
// (their ephemerals stay theirs) and the last zxid. The ZooKeeper files are
// only read.
func ImportZooKeeper(zkDataDir, zkLogDir, checkpointDir, walDir string) (ImportStats, error) {
	var st ImportStats
	if err := checkEmpty(checkpointDir, walDir); err != nil {
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
	return st, writeDataDir(state, checkpointDir, walDir)
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
