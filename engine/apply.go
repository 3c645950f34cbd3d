package engine

import (
	"fmt"

	"github.com/meerkat-zk/meerkat/jute"
)

// Create modes (the create request's flags).
const (
	modePersistent           = 0
	modeEphemeral            = 1
	modePersistentSequential = 2
	modeEphemeralSequential  = 3
	modeContainer            = 4
	modeTTL                  = 5
	modeTTLSequential        = 6
)

func validMode(flags int32) bool      { return flags >= 0 && flags <= modeTTLSequential }
func sequentialMode(flags int32) bool { return flags == 2 || flags == 3 || flags == 6 }
func ephemeralMode(flags int32) bool  { return flags == 1 || flags == 3 }
func ttlMode(flags int32) bool        { return flags == 5 || flags == 6 }
func containerMode(flags int32) bool  { return flags == 4 }

// op is one decoded write operation, alone or inside a multi.
type op struct {
	code    jute.OpCode
	path    string
	data    []byte
	acl     []jute.ACL
	flags   int32
	ttl     int64
	version int32
}

// change is one effect of an operation on the tree, kept until the
// operation (or the whole multi) is known to succeed; then it updates the
// session and sweep indexes and becomes watch events.
type change struct {
	kind  int32 // jute.EventNodeCreated, EventNodeDeleted or EventNodeDataChanged
	path  string
	owner int64
	// acl and parentACL are the ACL references of the node and its parent
	// when the change happened, for filtering the events. They resolve
	// until the entry ends: only then may a slot be freed.
	acl, parentACL uint32
}

// Apply applies one log entry and returns its result. It is deterministic:
// it reads no clock and no random source, only the entry and the state.
// Every entry consumes one zxid, failed ones included, as in ZooKeeper.
func (s *State) Apply(e *Entry) Result {
	res := s.apply(e)
	// ACL lists left without a znode are freed between entries, never
	// within one (acltable.go).
	s.acls.collect()
	return res
}

// apply is Apply but for freeing the ACL lists the entry left unused.
func (s *State) apply(e *Entry) Result {
	s.policy = e.Policy
	s.zxid = NextZxid(s.zxid)
	zxid := s.zxid
	res := Result{Zxid: zxid}
	switch e.Op {
	case jute.OpCreateSession:
		d := jute.NewDecoder(e.Body)
		timeout := d.Int()
		if d.Err() != nil {
			res.Err = jute.CodeMarshallingError
			return res
		}
		// A client may send createSession on an open session; ZooKeeper
		// logs it and leaves the session as it is.
		if _, open := s.sessions[e.Session]; !open {
			s.sessions[e.Session] = &Session{ID: e.Session, Timeout: timeout, ephemerals: map[string]int64{}}
			s.dirtySessions[e.Session] = struct{}{}
		}
	case jute.OpCloseSession:
		s.closeSession(e.Session, zxid)
	case jute.OpMulti:
		res.Body, res.Err = s.applyMulti(e, zxid)
	case jute.OpReconfig:
		// Reconfig needs reconfigEnabled and a quorum: ZooKeeper answers
		// RECONFIGDISABLED without the first and, standalone, UNIMPLEMENTED;
		// an ensemble's entry carries its leader's verdict (reconfig.go).
		switch {
		case !s.policy.ReconfigEnabled:
			res.Err = jute.CodeReconfigDisabled
		case s.checkSession(e) != jute.CodeOK:
			res.Err = jute.CodeSessionExpired
		case e.Ref.Member == 0:
			// A standalone server's: it has no quorum to change.
			res.Err = jute.CodeUnimplemented
		default:
			res.Body, res.Err = s.reconfig(e, zxid)
		}
	case jute.OpDeleteContainer:
		res.Err = s.deleteContainer(string(e.Body), zxid)
	default:
		o, err := decodeOp(e.Op, e.Body)
		if err != nil {
			res.Err = jute.CodeMarshallingError
			return res
		}
		mark := len(s.pending)
		var out opResult
		out, res.Err = s.exec(&o, e, zxid)
		if res.Err != jute.CodeOK {
			s.pending = s.pending[:mark]
			return res
		}
		s.commitChanges()
		res.Body = out.single(o.code)
	}
	return res
}

// decodeOp reads the request record of a single write operation. A create
// or delete whose path is null fails (jute.ErrNullPath), as ZooKeeper's
// does with an exception; the other writes read a null path as "", which
// fails their path check.
func decodeOp(code jute.OpCode, body []byte) (op, error) {
	switch code {
	case jute.OpCreate, jute.OpCreate2, jute.OpCreateContainer, jute.OpCreateTTL, jute.OpDelete:
		d := jute.NewDecoder(body)
		if d.PathBytes(); d.Err() != nil {
			return op{code: code}, d.Err()
		}
	}
	d := jute.NewDecoder(body)
	o, ok := decodeRecord(code, d)
	if !ok {
		return o, fmt.Errorf("engine: %v is not a write", code)
	}
	return o, d.Err()
}

// decodeRecord reads the request record of a write, alone or in a multi.
func decodeRecord(code jute.OpCode, d *jute.Decoder) (op, bool) {
	o := op{code: code, ttl: -1}
	switch code {
	case jute.OpCreate, jute.OpCreate2, jute.OpCreateContainer, jute.OpCreateTTL:
		var r jute.CreateRequest
		r.DecodeCreate(d, code == jute.OpCreateTTL)
		o.path, o.data, o.acl, o.flags = r.Path, r.Data, r.ACL, r.Flags
		if code == jute.OpCreateTTL {
			o.ttl = r.TTL
		}
	case jute.OpDelete, jute.OpCheck:
		var r jute.PathVersionRequest
		r.Decode(d)
		o.path, o.version = r.Path, r.Version
	case jute.OpSetData:
		var r jute.SetDataRequest
		r.Decode(d)
		o.path, o.data, o.version = r.Path, r.Data, r.Version
	case jute.OpSetACL:
		var r jute.SetACLRequest
		r.Decode(d)
		o.path, o.acl, o.version = r.Path, r.ACL, r.Version
	default:
		return o, false
	}
	return o, true
}

// opResult is what a successful operation returns to its caller.
type opResult struct {
	path string
	stat jute.Stat
}

// single encodes the response record of a lone operation.
func (r *opResult) single(code jute.OpCode) []byte {
	switch code {
	case jute.OpCreate:
		return jute.AppendString(make([]byte, 0, 4+len(r.path)), r.path)
	case jute.OpCreate2, jute.OpCreateContainer, jute.OpCreateTTL:
		return r.stat.Append(jute.AppendString(make([]byte, 0, 4+len(r.path)+jute.StatSize), r.path))
	case jute.OpSetData, jute.OpSetACL, jute.OpCheck:
		return r.stat.Append(nil)
	}
	return nil
}

// exec runs one operation against the current tree, recording its changes
// in s.pending. On error it may have changed the tree already; callers
// restore it (a multi) or rely on the error paths never reaching a change
// (a lone operation checks everything before it writes).
func (s *State) exec(o *op, e *Entry, zxid int64) (opResult, jute.Code) {
	switch o.code {
	case jute.OpCreate, jute.OpCreate2, jute.OpCreateContainer, jute.OpCreateTTL:
		return s.create(o, e, zxid)
	case jute.OpDelete:
		return opResult{}, s.delete(o, e, zxid)
	case jute.OpSetData:
		return s.setData(o, e, zxid)
	case jute.OpSetACL:
		return s.setACL(o, e)
	case jute.OpCheck:
		return s.check(o, e)
	}
	return opResult{}, jute.CodeUnimplemented
}

// checkSession reports whether e's session may write: an open session,
// or a local session of the member that accepted e (see
// Policy.LocalSessions).
func (s *State) checkSession(e *Entry) jute.Code {
	if _, ok := s.sessions[e.Session]; ok || s.fromLocalSession(e) {
		return jute.CodeOK
	}
	return jute.CodeSessionExpired
}

// checkOwner reports whether e's session may own an ephemeral: only an
// open (global) session may.
func (s *State) checkOwner(e *Entry) jute.Code {
	switch _, ok := s.sessions[e.Session]; {
	case ok:
		return jute.CodeOK
	case s.fromLocalSession(e):
		return jute.CodeEphemeralOnLocalSession
	}
	return jute.CodeSessionExpired
}

// fromLocalSession reports whether e, from a session the log does not
// know, comes from a local session of the member that accepted it: its
// id carries that member's id in its high byte.
func (s *State) fromLocalSession(e *Entry) bool {
	return s.policy.LocalSessions && e.Ref.Member > 0 && uint64(e.Session)>>56 == uint64(e.Ref.Member)
}

func (s *State) allowed(n *Node, perm int32, ids []jute.ID) bool {
	return s.policy.SkipACL || Allowed(s.acls.resolve(n.acl), perm, ids)
}

func (s *State) get(path string) (*Node, bool) {
	return s.tree.current().Get(path)
}

// create follows PrepRequestProcessor.pRequest2TxnCreate for the checks and
// DataTree.createNode for the effects; the order of the checks is the order
// of ZooKeeper's error precedence.
func (s *State) create(o *op, e *Entry, zxid int64) (opResult, jute.Code) {
	if !validMode(o.flags) {
		return opResult{}, jute.CodeBadArguments
	}
	if ttlMode(o.flags) && !s.policy.ExtendedTypes {
		return opResult{}, jute.CodeUnimplemented
	}
	if ttlMode(o.flags) {
		if o.ttl <= 0 || o.ttl > maxTTL {
			return opResult{}, jute.CodeBadArguments
		}
	} else if o.ttl >= 0 {
		return opResult{}, jute.CodeBadArguments
	}
	var c jute.Code
	if ephemeralMode(o.flags) {
		c = s.checkOwner(e)
	} else {
		c = s.checkSession(e)
	}
	if c != jute.CodeOK {
		return opResult{}, c
	}
	parentPath, ok := parentOf(o.path)
	if !ok || hasNUL(o.path) {
		return opResult{}, jute.CodeBadArguments
	}
	acl, c := fixupACL(o.acl, e.Identities, s.policy.X509)
	if c != jute.CodeOK {
		return opResult{}, c
	}
	parent, ok := s.get(lookupPath(parentPath))
	if !ok {
		return opResult{}, jute.CodeNoNode
	}
	if !s.allowed(parent, jute.PermCreate, e.Identities) {
		return opResult{}, jute.CodeNoAuth
	}
	path := o.path
	if sequentialMode(o.flags) {
		path += fmt.Sprintf("%010d", parent.Creates)
	}
	if !ValidPath(path) {
		return opResult{}, jute.CodeBadArguments
	}
	if _, exists := s.get(path); exists {
		return opResult{}, jute.CodeNodeExists
	}
	if parent.IsEphemeral() {
		return opResult{}, jute.CodeNoChildrenForEphemerals
	}
	if c := s.checkQuota(path, int64(len(o.data)), 1); c != jute.CodeOK {
		return opResult{}, c
	}

	// The opcode, not the flags, decides what kind of node the log records:
	// createContainer makes a container whatever the flags, and create with
	// the container flag makes a plain persistent node.
	var owner int64
	switch {
	case o.code == jute.OpCreateContainer:
		owner = ownerContainer
	case o.code == jute.OpCreateTTL:
		owner = ownerTTLBits | o.ttl
	case ephemeralMode(o.flags):
		owner = e.Session
	}
	// Copy the parent before the tree changes: within a batch pages are
	// updated in place, so a *Node may not survive the next put.
	p := *parent
	n := newNode(path, o.data)
	n.acl = s.acls.intern(acl)
	n.Czxid, n.Mzxid, n.Pzxid = zxid, zxid, zxid
	n.Ctime, n.Mtime = e.Time, e.Time
	n.Owner = owner
	s.putNode(n)

	p.Creates++
	p.NumChildren++
	p.Pzxid = zxid
	s.putNode(p)

	s.pending = append(s.pending, change{kind: jute.EventNodeCreated, path: path, owner: owner,
		acl: n.acl, parentACL: parent.acl})
	s.quotaCreated(path, len(o.data))
	return opResult{path: path, stat: n.Stat()}, jute.CodeOK
}

// isSpecialPath reports the nodes ZooKeeper refuses to delete.
func isSpecialPath(p string) bool {
	return p == "/" || p == "/zookeeper" || p == "/zookeeper/quota" || p == "/zookeeper/config"
}

func (s *State) delete(o *op, e *Entry, zxid int64) jute.Code {
	if c := s.checkSession(e); c != jute.CodeOK {
		return c
	}
	parentPath, ok := parentOf(o.path)
	if !ok || hasNUL(o.path) || isSpecialPath(o.path) {
		return jute.CodeBadArguments
	}
	parent, ok := s.get(lookupPath(parentPath))
	if !ok {
		return jute.CodeNoNode
	}
	if !s.allowed(parent, jute.PermDelete, e.Identities) {
		return jute.CodeNoAuth
	}
	n, ok := s.get(o.path)
	if !ok {
		return jute.CodeNoNode
	}
	if c := checkVersion(o, n); c != jute.CodeOK {
		return c
	}
	if n.NumChildren > 0 {
		return jute.CodeNotEmpty
	}
	s.removeNode(n, zxid)
	return jute.CodeOK
}

// deleteContainer is the sweep's delete of an empty container or expired TTL
// node. ZooKeeper takes the raw request bytes as the path, which is why a
// client that sends this opcode itself always gets BADARGUMENTS: its bytes
// include the NULs of the request header.
func (s *State) deleteContainer(path string, zxid int64) jute.Code {
	if _, ok := parentOf(path); !ok || hasNUL(path) || isSpecialPath(path) {
		return jute.CodeBadArguments
	}
	n, ok := s.get(path)
	if !ok {
		return jute.CodeNoNode
	}
	if n.NumChildren > 0 {
		return jute.CodeNotEmpty
	}
	if n.IsEphemeral() {
		return jute.CodeBadVersion
	}
	s.removeNode(n, zxid)
	s.commitChanges()
	return jute.CodeOK
}

// removeNode deletes n and updates its parent, as DataTree.deleteNode does.
func (s *State) removeNode(n *Node, zxid int64) {
	ch := change{kind: jute.EventNodeDeleted, path: n.Path(), owner: n.Owner, acl: n.acl}
	size := len(n.Data())
	parentPath, _ := parentOf(ch.path)
	s.removePath(ch.path)
	if parent, ok := s.get(lookupPath(parentPath)); ok {
		p := *parent
		p.NumChildren--
		if zxid > p.Pzxid {
			p.Pzxid = zxid
		}
		s.putNode(p)
		ch.parentACL = p.acl
	}
	s.pending = append(s.pending, ch)
	s.quotaChanged(ch.path, -int64(size), -1)
}

// checkVersion refuses an op whose expected version is not n's.
func checkVersion(o *op, n *Node) jute.Code {
	if o.version != -1 && o.version != n.Version {
		return jute.CodeBadVersion
	}
	return jute.CodeOK
}

// permitted finds the node at o.path, and where it sits (for
// replaceNode), after the session, path, existence and permission checks.
func (s *State) permitted(o *op, e *Entry, perm int32) (*Node, spot, jute.Code) {
	if c := s.checkSession(e); c != jute.CodeOK {
		return nil, spot{}, c
	}
	if !ValidPath(o.path) {
		return nil, spot{}, jute.CodeBadArguments
	}
	n, at, ok := s.tree.find(o.path)
	if !ok {
		return nil, spot{}, jute.CodeNoNode
	}
	if !s.allowed(n, perm, e.Identities) {
		return nil, spot{}, jute.CodeNoAuth
	}
	return n, at, jute.CodeOK
}

// setData checks as check does, with the quota between the permission and
// the version, as PrepRequestProcessor does.
func (s *State) setData(o *op, e *Entry, zxid int64) (opResult, jute.Code) {
	n, at, c := s.permitted(o, e, jute.PermWrite)
	if c == jute.CodeOK {
		c = s.checkQuota(o.path, int64(len(o.data))-int64(len(n.Data())), 0)
	}
	if c == jute.CodeOK {
		c = checkVersion(o, n)
	}
	if c != jute.CodeOK {
		return opResult{}, c
	}
	oldSize := len(n.Data())
	u := n.withData(o.data)
	u.Version++
	u.Mtime = e.Time
	u.Mzxid = zxid
	s.replaceNode(at, u)
	s.pending = append(s.pending, change{kind: jute.EventNodeDataChanged, path: o.path, acl: u.acl})
	s.quotaChanged(o.path, int64(len(o.data))-int64(oldSize), 0)
	return opResult{stat: u.Stat()}, jute.CodeOK
}

func (s *State) setACL(o *op, e *Entry) (opResult, jute.Code) {
	if c := s.checkSession(e); c != jute.CodeOK {
		return opResult{}, c
	}
	if !ValidPath(o.path) {
		return opResult{}, jute.CodeBadArguments
	}
	acl, c := fixupACL(o.acl, e.Identities, s.policy.X509)
	if c != jute.CodeOK {
		return opResult{}, c
	}
	n, ok := s.get(o.path)
	if !ok {
		return opResult{}, jute.CodeNoNode
	}
	if !s.allowed(n, jute.PermAdmin, e.Identities) {
		return opResult{}, jute.CodeNoAuth
	}
	if o.version != -1 && o.version != n.Aversion {
		return opResult{}, jute.CodeBadVersion
	}
	u := *n
	u.Aversion++
	u.acl = s.acls.intern(acl)
	s.putNode(u)
	return opResult{stat: u.Stat()}, jute.CodeOK
}

// check follows ZooKeeper's order: session, path, existence, permission,
// version.
func (s *State) check(o *op, e *Entry) (opResult, jute.Code) {
	n, _, c := s.permitted(o, e, jute.PermRead)
	if c == jute.CodeOK {
		c = checkVersion(o, n)
	}
	if c != jute.CodeOK {
		return opResult{}, c
	}
	return opResult{stat: n.Stat()}, jute.CodeOK
}

// closeSession deletes the session's ephemerals, in the order ZooKeeper's
// CloseSessionTxn lists them, and forgets the session.
func (s *State) closeSession(id int64, zxid int64) {
	ss, ok := s.sessions[id]
	if !ok {
		return
	}
	for _, p := range ss.Ephemerals() {
		if n, ok := s.get(p); ok {
			s.removeNode(n, zxid)
		}
	}
	s.commitChanges()
	delete(s.sessions, id)
	s.dirtySessions[id] = struct{}{}
}

// commitChanges turns the pending changes, all made by the entry being
// applied (zxid s.zxid), into index updates and events.
func (s *State) commitChanges() {
	for _, c := range s.pending {
		switch c.kind {
		case jute.EventNodeCreated, jute.EventNodeDeleted:
			s.track(c.path, c.owner, s.zxid, c.kind == jute.EventNodeCreated)
			s.events = append(s.events,
				Event{Type: c.kind, Path: c.path, ACL: s.acls.resolve(c.acl)},
				Event{Type: jute.EventNodeChildrenChanged, Path: parentForEvents(c.path), ACL: s.acls.resolve(c.parentACL)})
		case jute.EventNodeDataChanged:
			s.events = append(s.events, Event{Type: jute.EventNodeDataChanged, Path: c.path, ACL: s.acls.resolve(c.acl)})
		}
	}
	s.pending = s.pending[:0]
}

// parentForEvents is the path a NodeChildrenChanged event names.
func parentForEvents(p string) string {
	parent, _ := parentOf(p)
	return lookupPath(parent)
}

// track keeps the session and sweep indexes in step with a znode created
// (add) at zxid, or deleted.
func (s *State) track(path string, owner, zxid int64, add bool) {
	n := Node{Owner: owner}
	switch {
	case n.IsContainer() || n.IsTTL():
		if add {
			s.expiring[path] = struct{}{}
		} else {
			delete(s.expiring, path)
		}
	case owner != 0:
		ss, ok := s.sessions[owner]
		if !ok {
			return
		}
		if add {
			ss.ephemerals[path] = zxid
			ss.maxEphemerals = max(ss.maxEphemerals, len(ss.ephemerals))
		} else {
			delete(ss.ephemerals, path)
		}
	}
}
