// Package zkfile reads and writes Apache ZooKeeper's on-disk files: the
// snapshots (snapshot.<zxid>, plain, gz or snappy) and transaction logs
// (log.<zxid>) of its version-2 directories, and replays them as
// ZooKeeper's DataTree does, so that Meerkat can take over a ZooKeeper data
// directory and hand one back.
package zkfile

import (
	"slices"
	"strconv"
	"strings"

	"github.com/meerkat-zk/meerkat/jute"
)

// Tree is ZooKeeper's DataTree as its files describe it: every znode by
// path ("/" is the root), the open sessions and the last applied zxid.
type Tree struct {
	Nodes map[string]*Node
	// Sessions maps each open session to its timeout in milliseconds.
	Sessions map[int64]int32
	// Zxid is the last transaction applied (the snapshot's, until a log
	// is replayed on top of it).
	Zxid int64
	// ephemerals lists the paths each session owns, as ZooKeeper's
	// DataTree.ephemerals does, for closeSession.
	ephemerals map[int64]map[string]struct{}
}

// Node is one znode with ZooKeeper's persisted stat. Cversion is the
// internal counter of children created (what ZooKeeper stores; a client
// sees 2*Cversion-len(Children)).
type Node struct {
	Data     []byte
	ACL      []jute.ACL
	Czxid    int64
	Mzxid    int64
	Ctime    int64
	Mtime    int64
	Version  int32
	Cversion int32
	Aversion int32
	// Owner is the ephemeralOwner as ZooKeeper stores it: a session, the
	// container marker or a TTL encoding, 0 for a persistent node.
	Owner    int64
	Pzxid    int64
	Children map[string]struct{}
}

// Owner encodings of ZooKeeper's EphemeralType.
const (
	containerOwner int64 = -1 << 63 // 0x8000000000000000
	ttlOwnerMask   int64 = -1 << 56 // high byte 0xff
)

// sessionOwner reports whether owner is a session (an ephemeral node), not
// 0, a container or a TTL node.
func sessionOwner(owner int64) bool {
	return owner != 0 && owner != containerOwner && owner&ttlOwnerMask != ttlOwnerMask
}

// NewTree returns an empty tree: no nodes, not even the root.
func NewTree() *Tree {
	return &Tree{Nodes: map[string]*Node{}, Sessions: map[int64]int32{}, ephemerals: map[int64]map[string]struct{}{}}
}

// parentOf splits path into its parent's path and its name.
func parentOf(path string) (parent, name string) {
	i := strings.LastIndexByte(path, '/')
	if i <= 0 {
		return "/", path[i+1:]
	}
	return path[:i], path[i+1:]
}

// Add puts n at path, linking it to its parent (which must be there
// already, unless path is "/") and to its session.
func (t *Tree) Add(path string, n *Node) {
	if n.Children == nil {
		n.Children = map[string]struct{}{}
	}
	t.Nodes[path] = n
	if path != "/" {
		parent, name := parentOf(path)
		if p, ok := t.Nodes[parent]; ok {
			p.Children[name] = struct{}{}
		}
	}
	if sessionOwner(n.Owner) {
		set := t.ephemerals[n.Owner]
		if set == nil {
			set = map[string]struct{}{}
			t.ephemerals[n.Owner] = set
		}
		set[path] = struct{}{}
	}
}

// Walk calls fn on every node in pre-order from the root, children in
// name order, as ZooKeeper serializes them (in its own order).
func (t *Tree) Walk(fn func(path string, n *Node) error) error {
	var walk func(path string) error
	walk = func(path string) error {
		n, ok := t.Nodes[path]
		if !ok {
			return nil
		}
		if err := fn(path, n); err != nil {
			return err
		}
		for _, name := range sortedNames(n.Children) {
			child := path + "/" + name
			if path == "/" {
				child = "/" + name
			}
			if err := walk(child); err != nil {
				return err
			}
		}
		return nil
	}
	return walk("/")
}

func sortedNames(set map[string]struct{}) []string {
	names := make([]string, 0, len(set))
	for name := range set {
		names = append(names, name)
	}
	slices.Sort(names)
	return names
}

// ACLKey identifies an ACL list, so that the nodes which have the same list
// can share one reference to it.
func ACLKey(acls []jute.ACL) string {
	var b strings.Builder
	for _, a := range acls {
		b.WriteString(strconv.Itoa(int(a.Perms)))
		for _, s := range []string{a.ID.Scheme, a.ID.ID} {
			b.WriteByte(0)
			b.WriteString(s)
		}
		b.WriteByte(0)
	}
	return b.String()
}
