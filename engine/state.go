package engine

import (
	"sync/atomic"

	"github.com/meerkat-zk/meerkat/jute"
)

// Policy is the part of the server's configuration that changes what a
// write does. The server that accepts a write stamps its Policy into the
// entry, and the log carries it (once per batch), so that every replica and
// every replay decides the entry as it was decided first, whatever its own
// zoo.cfg says.
type Policy struct {
	// ExtendedTypes enables TTL nodes (zookeeper.extendedTypesEnabled).
	ExtendedTypes bool
	// SkipACL disables every ACL check (zookeeper.skipACL).
	SkipACL bool
	// ReconfigEnabled is reconfigEnabled. Without a quorum a reconfig then
	// fails UNIMPLEMENTED rather than RECONFIGDISABLED.
	ReconfigEnabled bool
	// EnforceQuota makes a create or setData that would take a quota root
	// past a hard limit fail QUOTAEXCEEDED (zookeeper.enforceQuota).
	EnforceQuota bool
	// LocalSessions is localSessionsEnabled: a write from a session the
	// log does not know is taken as one from a local session of the
	// member that accepted it, if the session's id names that member
	// (local sessions never reach the log and never move). It may write,
	// but not own an ephemeral: that fails EPHEMERALONLOCALSESSION.
	LocalSessions bool
	// X509 is an x509 authentication provider configured
	// (authProvider.x509=...X509AuthenticationProvider): only then are
	// x509 ids valid in an ACL, as ZooKeeper validates an id with the
	// provider of its scheme.
	X509 bool
}

// Entry is one write request as the log carries it: the client's request
// record plus what the leader adds (the time, the session, the caller's
// identities). Apply turns the same entries into the same state on every
// replica.
type Entry struct {
	// Time is the leader's wall clock in ms when it accepted the request;
	// it becomes ctime and mtime.
	Time int64
	// Session is the session that sent the request, or the session being
	// created or closed.
	Session int64
	// Xid is the client's xid, kept for logs and tools.
	Xid int32
	// Op is the request's opcode.
	Op jute.OpCode
	// Identities are the caller's authenticated ids, for ACL checks.
	Identities []jute.ID
	// Body is the request record as the client sent it. For OpCreateSession
	// it is the negotiated timeout (a jute int); for OpDeleteContainer the
	// path.
	Body []byte
	// Policy is the accepting server's settings, which Apply decides by.
	Policy Policy
	// Ref names the request the entry came from, so that the server
	// holding it can answer once the entry is applied. Apply ignores it.
	Ref Ref
}

// Ref names a request across an ensemble: the member that accepted it (its
// myid) and that member's number for it. A standalone log leaves it zero.
type Ref struct {
	Member  int32
	Request uint64
}

// Result is what Apply made of an entry.
type Result struct {
	// Zxid is the transaction id the entry consumed.
	Zxid int64
	// Err is the reply's error code.
	Err jute.Code
	// Body is the encoded response record; nil when there is none.
	Body []byte
}

// Event is one watch trigger: something happened to Path.
type Event struct {
	Type int32
	Path string
	// ACL is the ACL of the node the event is about (of the parent, for
	// NodeChildrenChanged) when it happened. ZooKeeper (with the fix for
	// CVE-2024-23944, in Debian's 3.8.0 and in 3.8.4) delivers an event only
	// to watchers whose connection may read that node.
	ACL []jute.ACL
}

// Changes holds the events of one published version. Versions link in
// order, so a reader that has handled the events up to one version can walk
// to the next; the link is set before the next version is published.
type Changes struct {
	// Zxid is the last zxid of the version the events belong to.
	Zxid   int64
	Events []Event
	next   atomic.Pointer[Changes]
}

// Next returns the changes of the following version, or nil.
func (c *Changes) Next() *Changes { return c.next.Load() }

// View is one published version of the state: what readers see. All of it
// is immutable.
type View struct {
	Tree Tree
	// Zxid is the last zxid applied.
	Zxid int64
	// Applied is the index of the last log entry applied; Term is the
	// raft term of the latest leadership applied (an ensemble's).
	Applied uint64
	Term    uint64
	// acls are the ACL table's slots as of this version (acltable.go).
	acls aclLists
	// Changes holds the events that produced this version.
	Changes *Changes
}

// ACL returns the ACL list of n, a znode of v.
func (v *View) ACL(n *Node) []jute.ACL { return v.acls.resolve(n.acl) }

// ACLCount returns how many distinct ACL lists the znodes of v use: the
// size of the ACL table.
func (v *View) ACLCount() int { return v.acls.live }

// Session is a session as the replicated state knows it.
type Session struct {
	ID      int64
	Timeout int32
	// ephemerals maps each ephemeral's path to its czxid (creation order).
	ephemerals map[string]int64
	// maxEphemerals is the most ephemerals held at once, which fixes the
	// Java iteration order ZooKeeper reports them in.
	maxEphemerals int
}

// EphemeralCount returns how many ephemerals the session owns.
func (s *Session) EphemeralCount() int { return len(s.ephemerals) }

// State is the replicated state machine: the znode tree, the ACL table, the
// sessions and the zxid counter. It is owned by one goroutine (the applier);
// readers use the Views it publishes.
type State struct {
	// policy is the Policy of the entry being applied.
	policy   Policy
	tree     treeWriter
	acls     *aclTable
	sessions map[int64]*Session
	zxid     int64
	applied  uint64
	term     uint64
	// expiring holds the paths of containers and TTL nodes, for the sweep.
	expiring map[string]struct{}
	events   []Event
	pending  []change
	changes  *Changes
	// dirty and dirtySessions are what changed since the last TakeDelta
	// (the ACL table keeps its own).
	dirty         map[string]struct{}
	dirtySessions map[int64]struct{}
	// multiBase is, while a multi runs, the tree as it was before it: what
	// quota checks read, as ZooKeeper checks against its committed tree.
	multiBase *Tree
}

// NewState returns the state of a fresh server: the root, /zookeeper,
// /zookeeper/quota and /zookeeper/config, with ZooKeeper's initial stats.
func NewState() *State {
	s := emptyState(newACLTable())
	if s.acls.intern(OpenACL) != aclOpen || s.acls.intern(ReadACL) != aclRead {
		panic("BUG: engine: a fresh ACL table does not start with the well-known lists")
	}
	// The system nodes are added without bumping their parents' create
	// counters, which is why a fresh server shows / with cversion -1 and
	// /zookeeper with cversion -2.
	system := []struct {
		path string
		acl  uint32
		kids int32
	}{
		{"/", aclOpen, 1},
		{"/zookeeper", aclOpen, 2},
		{"/zookeeper/quota", aclOpen, 0},
		{"/zookeeper/config", aclRead, 0},
	}
	for _, n := range system {
		node := newNode(n.path, []byte{})
		node.acl = n.acl
		node.NumChildren = n.kids
		if n.path == "/zookeeper/config" {
			// ZooKeeper initialises it with setACL at version -1.
			node.Aversion = -1
		}
		s.putNode(node)
	}
	s.acls.collect()
	return s
}

// SetConfigNode sets /zookeeper/config to an ensemble's membership text,
// as each ZooKeeper quorum member does by itself when it starts: outside
// the log, with version -1 and mtime the member's clock.
func (s *State) SetConfigNode(membership []byte, mtime int64) {
	n, ok := s.get("/zookeeper/config")
	if !ok {
		return
	}
	c := n.withData(membership)
	c.Version, c.Mtime = -1, mtime
	s.putNode(c)
}

// emptyState returns a state without znodes or sessions over the ACL table
// acls.
func emptyState(acls *aclTable) *State {
	return &State{
		acls:          acls,
		sessions:      map[int64]*Session{},
		expiring:      map[string]struct{}{},
		changes:       &Changes{},
		dirty:         map[string]struct{}{},
		dirtySessions: map[int64]struct{}{},
	}
}

// putNode stores n in the tree and marks it for the next checkpoint. It
// moves the ACL counts from the znode n replaces to n: every change to the
// tree comes through here or removePath, which keeps the counts equal to
// the tree's.
func (s *State) putNode(n Node) {
	old, replaced := s.tree.put(n)
	s.stored(n, old, replaced)
}

// replaceNode is putNode for a znode that replaces the one found at at
// (treeWriter.find, through permitted): the tree is not searched again
// unless something was put or removed since.
func (s *State) replaceNode(at spot, n Node) {
	s.stored(n, s.tree.replaceAt(at, n), true)
}

// stored moves the ACL counts from old (when n replaced it) to n and marks
// n for the next checkpoint.
func (s *State) stored(n, old Node, replaced bool) {
	if !replaced || old.acl != n.acl {
		s.acls.ref(n.acl)
		if replaced {
			s.acls.unref(old.acl)
		}
	}
	s.dirty[n.Path()] = struct{}{}
}

// removePath deletes path from the tree, drops its znode's ACL reference
// and marks it for the next checkpoint.
func (s *State) removePath(path string) {
	if old, ok := s.tree.remove(path); ok {
		s.acls.unref(old.acl)
	}
	s.dirty[path] = struct{}{}
}

// Zxid returns the last zxid applied.
func (s *State) Zxid() int64 { return s.zxid }

// NextZxid returns the zxid that follows z: the next counter value, or,
// when the counter's 32 bits are used up, the first of the next epoch.
// ZooKeeper's leader forces an election at that point; Meerkat's log just
// moves on, so a counter never wraps.
func NextZxid(z int64) int64 {
	if uint32(z+1) == 1<<32-1 {
		return (z>>32+1)<<32 | 1
	}
	return z + 1
}

// NewEpoch starts the next epoch: the next zxid is (epoch+1)<<32 | 1.
func (s *State) NewEpoch() { s.zxid = (s.zxid>>32 + 1) << 32 }

// EnterTerm is told the raft term of each entry of a replicated log before
// it is applied: the first entry of a later term (a new leadership) opens
// a new epoch, so zxids tell leaderships apart as ZooKeeper's do. Epochs
// count leaderships that committed something, not raft terms (which also
// rise with every failed campaign), so they stay far below 2^31.
func (s *State) EnterTerm(term uint64) {
	if term <= s.term {
		return
	}
	s.term = term
	s.NewEpoch()
}

// Term returns the raft term of the latest leadership applied.
func (s *State) Term() uint64 { return s.term }

// SetTerm sets the term a loaded image was applied through.
func (s *State) SetTerm(term uint64) { s.term = term }

// Applied returns the log index applied through (SetApplied).
func (s *State) Applied() uint64 { return s.applied }

// SetApplied records that the log is applied through index i: in an
// ensemble, the raft index, which a checkpoint keeps so that a restart asks
// raft only for the entries after it. A standalone log leaves it 0.
func (s *State) SetApplied(i uint64) { s.applied = i }

// Publish freezes the current version and returns it with the events
// applied since the previous Publish, linked after that version's changes.
func (s *State) Publish() *View {
	ch := &Changes{Zxid: s.zxid, Events: s.events}
	s.events = nil
	s.changes.next.Store(ch)
	s.changes = ch
	return &View{Tree: s.tree.freeze(), Zxid: s.zxid, Applied: s.applied, Term: s.term, acls: s.acls.freeze(), Changes: ch}
}

// FollowChanges makes the changes of the state's next Publish follow those
// of prev's last: a state that replaces prev (a member installed from a
// snapshot) keeps the chain readers walk.
func (s *State) FollowChanges(prev *State) { s.changes = prev.changes }

// Session returns the session with id, if it is open.
func (s *State) Session(id int64) (*Session, bool) {
	ss, ok := s.sessions[id]
	return ss, ok
}

// Sessions calls fn for every open session.
func (s *State) Sessions(fn func(*Session)) {
	for _, ss := range s.sessions {
		fn(ss)
	}
}

// Ephemerals returns the session's ephemeral paths in the order ZooKeeper
// reports them (the iteration order of its clone of the session's set).
func (s *Session) Ephemerals() []string {
	paths := make([]string, 0, len(s.ephemerals))
	for p := range s.ephemerals {
		paths = append(paths, p)
	}
	// Creation order, then the session set's buckets, then the clone's.
	slicesSortByValue(paths, s.ephemerals)
	javaBucketOrder(paths, javaTableSize(s.maxEphemerals))
	javaBucketOrder(paths, javaCloneTableSize(len(paths)))
	return paths
}

// Expiring calls fn with every container and TTL node path.
func (s *State) Expiring(fn func(path string)) {
	for p := range s.expiring {
		fn(p)
	}
}
