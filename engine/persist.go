package engine

import (
	"cmp"
	"fmt"
	"slices"

	"github.com/meerkat-zk/meerkat/jute"
)

// Delta is what changed in the state since the previous Delta: what a
// checkpoint must write to catch up with View.
type Delta struct {
	// View is the version the delta leads to; read the changed znodes from
	// it.
	View *View
	// Paths are the znodes created, changed or deleted (absent from View).
	Paths []string
	// ACLs are the ACL table's entries taken or freed (List nil) since the
	// previous Delta, in order of Ref; for a full image, every entry in use.
	ACLs []ACLEntry
	// Sessions are the sessions opened (Timeout > 0) or closed (Timeout 0).
	Sessions []SessionRecord
	// Reset marks a full image (FullDelta) that replaces everything the
	// checkpoint holds: a member installed from a snapshot.
	Reset bool
}

// ACLEntry is one slot of the ACL table: the list that znodes refer to by
// Ref, or nil when the slot is free.
type ACLEntry struct {
	Ref  uint32
	List []jute.ACL
}

// SessionRecord is a session as checkpoints and snapshots store it.
type SessionRecord struct {
	ID      int64
	Timeout int32
}

// TakeDelta returns the changes since the last call, up to the last
// Publish, and starts a new delta. Call it right after Publish.
func (s *State) TakeDelta(v *View) Delta {
	d := Delta{View: v}
	for ref := range s.acls.dirty {
		d.ACLs = append(d.ACLs, ACLEntry{Ref: ref, List: v.acls.get(ref)})
	}
	clear(s.acls.dirty)
	slices.SortFunc(d.ACLs, func(a, b ACLEntry) int { return cmp.Compare(a.Ref, b.Ref) })
	for p := range s.dirty {
		d.Paths = append(d.Paths, p)
	}
	clear(s.dirty)
	for id := range s.dirtySessions {
		rec := SessionRecord{ID: id}
		if ss, ok := s.sessions[id]; ok {
			rec.Timeout = ss.Timeout
		}
		d.Sessions = append(d.Sessions, rec)
	}
	clear(s.dirtySessions)
	return d
}

// SessionRecords returns every open session.
func (s *State) SessionRecords() []SessionRecord {
	out := make([]SessionRecord, 0, len(s.sessions))
	for _, ss := range s.sessions {
		out = append(out, SessionRecord{ID: ss.ID, Timeout: ss.Timeout})
	}
	slices.SortFunc(out, func(a, b SessionRecord) int { return cmp.Compare(a.ID, b.ID) })
	return out
}

// ACLTable returns the ACL table of v: index i holds the list with ACL
// reference i, nil for a free slot (none of v's znodes refers to it).
func (v *View) ACLTable() [][]jute.ACL {
	out := make([][]jute.ACL, v.acls.n)
	for ref := range out {
		out[ref] = v.acls.get(uint32(ref))
	}
	return out
}

// A node's persistent encoding, used by checkpoints and snapshots (the path
// is stored beside it, as the key):
//
//	+--------+--------+--------+--------+--------+--------+
//	| czxid  | mzxid  | pzxid  | ctime  | mtime  | owner  |  8 bytes each
//	+--------+--------+--------+--------+--------+--------+
//	| version | aversion | creates | numChildren | acl |     4 bytes each
//	+---------+----------+---------+-------------+-----+
//	| data: jute buffer (-1 for null) |
//	+---------------------------------+

// AppendNode appends n's persistent encoding.
func AppendNode(b []byte, n *Node) []byte {
	for _, v := range []int64{n.Czxid, n.Mzxid, n.Pzxid, n.Ctime, n.Mtime, n.Owner} {
		b = jute.AppendLong(b, v)
	}
	for _, v := range []int32{n.Version, n.Aversion, n.Creates, n.NumChildren, int32(n.acl)} {
		b = jute.AppendInt(b, v)
	}
	return n.AppendData(b)
}

// DecodeNode reads a node stored by AppendNode under path.
func DecodeNode(path string, b []byte) (Node, error) {
	var d jute.Decoder
	d.Reset(b, len(b))
	var f [6]int64
	for i := range f {
		f[i] = d.Long()
	}
	var g [5]int32
	for i := range g {
		g[i] = d.Int()
	}
	data := d.Buffer()
	if d.Err() != nil {
		return Node{}, fmt.Errorf("engine: node %s: %w", path, d.Err())
	}
	n := newNode(path, data)
	n.Czxid, n.Mzxid, n.Pzxid, n.Ctime, n.Mtime, n.Owner = f[0], f[1], f[2], f[3], f[4], f[5]
	n.Version, n.Aversion, n.Creates, n.NumChildren, n.acl = g[0], g[1], g[2], g[3], uint32(g[4])
	return n, nil
}

// Loader rebuilds a State from a durable image: call AddACL for every ACL
// reference in increasing order, AddNode for every znode (in any order,
// tree order is fastest), AddSession for every session, then Finish.
type Loader struct {
	s *State
	// build takes znodes while they come in tree order; the first one out of
	// order moves them all into the tree writer, which takes any order.
	build    treeBuilder
	building bool
}

// NewLoader starts an empty state (no system nodes: the image has them).
func NewLoader() *Loader {
	return &Loader{building: true, s: emptyState(newACLTable())}
}

// AddACL adds the ACL list with reference index. References come in
// increasing order; those an image skips are free slots. A list that no
// znode refers to is dropped at Finish.
func (l *Loader) AddACL(index uint32, acls []jute.ACL) error {
	return l.s.acls.load(index, acls)
}

// AddNode adds a znode stored by AppendNode. path is copied.
func (l *Loader) AddNode(path string, value []byte) error {
	n, err := DecodeNode(path, value)
	if err != nil {
		return err
	}
	l.Put(n)
	return nil
}

// NewNode returns a znode at path holding data (nil for null data) under
// the ACL list with reference aclRef, for an image in another format (an
// import from ZooKeeper's files): the caller sets its stat, then Puts it.
func NewNode(path string, data []byte, aclRef uint32) Node {
	n := newNode(path, data)
	n.acl = aclRef
	return n
}

// Put adds a znode built by NewNode.
func (l *Loader) Put(n Node) {
	if l.building && l.build.after(&n) {
		l.build.add(n)
		return
	}
	l.flushBuild()
	l.s.tree.put(n)
}

// flushBuild hands what was built in order to the tree writer.
func (l *Loader) flushBuild() {
	if !l.building {
		return
	}
	l.building = false
	l.s.tree.restore(l.build.tree())
}

// AddSession adds an open session.
func (l *Loader) AddSession(id int64, timeout int32) {
	l.s.sessions[id] = &Session{ID: id, Timeout: timeout, ephemerals: map[string]int64{}}
}

// Finish checks the image and returns the state, last applied zxid zxid.
func (l *Loader) Finish(zxid int64) (*State, error) {
	l.flushBuild()
	s := l.s
	s.zxid = zxid
	tree := s.tree.freeze()
	if _, ok := tree.Get("/"); !ok {
		return nil, fmt.Errorf("engine: image has no root")
	}
	if err := s.acls.recount(tree); err != nil {
		return nil, err
	}
	tree.All(func(n *Node) bool {
		if _, ok := s.sessions[n.Owner]; !ok && n.IsEphemeral() {
			// Its session closed in a part of the log the image does not
			// cover yet; the replay will close it. Track it so it does.
			s.sessions[n.Owner] = &Session{ID: n.Owner, ephemerals: map[string]int64{}}
		}
		s.track(n.Path(), n.Owner, n.Czxid, true)
		return true
	})
	return s, nil
}

// FullDelta returns a Delta that holds the whole of v and the state's
// sessions: what a new checkpoint must write (a restore from a snapshot),
// marked Reset.
func (s *State) FullDelta(v *View) Delta {
	d := Delta{View: v, Sessions: s.SessionRecords(), Reset: true}
	v.acls.each(func(ref uint32, list []jute.ACL) {
		d.ACLs = append(d.ACLs, ACLEntry{Ref: ref, List: list})
	})
	v.Tree.All(func(n *Node) bool {
		d.Paths = append(d.Paths, n.Path())
		return true
	})
	return d
}
