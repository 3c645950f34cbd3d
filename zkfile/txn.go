package zkfile

import (
	"fmt"
	"math"

	"github.com/meerkat-zk/meerkat/jute"
)

// Txn is one transaction of a ZooKeeper log: its TxnHeader and the record
// that follows it.
type Txn struct {
	Session int64
	Cxid    int32
	Zxid    int64
	Time    int64
	Type    jute.OpCode
	// Body is the type's record, followed by the TxnDigest ZooKeeper 3.6+
	// appends (which replay does not need).
	Body []byte
}

// decoder returns a jute decoder over b that accepts any length the
// bytes can hold: the files were written by a server that already checked
// its limits.
func decoder(b []byte) *jute.Decoder {
	var d jute.Decoder
	d.Reset(b, math.MaxInt32)
	return &d
}

// DecodeTxn decodes a log entry's bytes: TxnHeader, then the record.
func DecodeTxn(b []byte) (Txn, error) {
	d := decoder(b)
	t := Txn{Session: d.Long(), Cxid: d.Int(), Zxid: d.Long(), Time: d.Long(), Type: jute.OpCode(d.Int())}
	if d.Err() != nil {
		return Txn{}, fmt.Errorf("zkfile: transaction header: %w", d.Err())
	}
	t.Body = d.Rest()
	return t, nil
}

// Apply replays t on the tree as ZooKeeper's DataTree.processTxn does when
// it loads a log on top of a fuzzy snapshot: a create of an existing node,
// or a change to a missing one, is skipped (the snapshot already holds its
// effect), so replaying transactions the snapshot covers does no harm. It
// fails only on a record it cannot decode or a type no log holds.
func (t *Tree) Apply(txn Txn) error {
	if err := t.apply(txn.Type, txn.Body, txn); err != nil {
		return fmt.Errorf("zkfile: zxid 0x%x (%s): %w", txn.Zxid, txn.Type, err)
	}
	if txn.Zxid > t.Zxid {
		t.Zxid = txn.Zxid
	}
	return nil
}

// apply replays one record of type op (a whole transaction's, or one of a
// multi's) with the header h.
func (t *Tree) apply(op jute.OpCode, body []byte, h Txn) error {
	d := decoder(body)
	switch op {
	case jute.OpCreateSession:
		timeout := d.Int()
		if d.Err() == nil {
			t.Sessions[h.Session] = timeout
		}
	case jute.OpCloseSession:
		// 3.6+ names the ephemerals to delete; older logs have no record.
		var paths []string
		if d.Len() > 0 {
			paths = d.Strings()
		}
		if d.Err() == nil {
			t.closeSession(h.Session, paths, h.Zxid)
		}
	case jute.OpCreate, jute.OpCreate2, jute.OpCreateContainer, jute.OpCreateTTL:
		path, data, acl := d.String(), d.Buffer(), d.ACLs()
		owner := int64(0)
		if op == jute.OpCreate || op == jute.OpCreate2 {
			if d.Bool() {
				owner = h.Session
			}
		}
		parentCVersion := d.Int()
		switch op {
		case jute.OpCreateContainer:
			owner = containerOwner
		case jute.OpCreateTTL:
			owner = ttlOwnerMask | d.Long()&(1<<40-1)
		}
		if d.Err() == nil {
			t.create(path, data, acl, owner, parentCVersion, h.Zxid, h.Time)
		}
	case jute.OpDelete, jute.OpDeleteContainer:
		path := d.String()
		if d.Err() == nil {
			t.delete(path, h.Zxid)
		}
	case jute.OpSetData, jute.OpReconfig:
		path, data, version := d.String(), d.Buffer(), d.Int()
		if n, ok := t.Nodes[path]; ok && d.Err() == nil {
			n.Data, n.Version, n.Mzxid, n.Mtime = data, version, h.Zxid, h.Time
		}
	case jute.OpSetACL:
		path, acl, version := d.String(), d.ACLs(), d.Int()
		if n, ok := t.Nodes[path]; ok && d.Err() == nil {
			n.ACL, n.Aversion = acl, version
		}
	case jute.OpCheck, jute.OpError:
		// No effect on the tree.
	case jute.OpMulti:
		return t.applyMulti(d, h)
	default:
		return fmt.Errorf("unknown transaction type %d", int32(op))
	}
	if d.Err() != nil {
		return d.Err()
	}
	return nil
}

// applyMulti replays a MultiTxn: all of its records, or none when one of
// them is an error (a multi that failed, which changed nothing).
func (t *Tree) applyMulti(d *jute.Decoder, h Txn) error {
	type sub struct {
		op   jute.OpCode
		body []byte
	}
	// Each record takes at least its type and its length.
	n := d.VectorLenMin(8)
	subs := make([]sub, 0, n)
	failed := false
	for i := 0; i < n && d.Err() == nil; i++ {
		s := sub{op: jute.OpCode(d.Int()), body: d.Buffer()}
		failed = failed || s.op == jute.OpError
		subs = append(subs, s)
	}
	if d.Err() != nil || failed {
		return d.Err()
	}
	for _, s := range subs {
		if s.op == jute.OpMulti || s.op == jute.OpCreateSession || s.op == jute.OpCloseSession {
			return fmt.Errorf("a multi holds a %s record", s.op)
		}
		if err := t.apply(s.op, s.body, h); err != nil {
			return err
		}
	}
	return nil
}

// create is DataTree.createNode: the parent's cversion moves to
// parentCVersion (or up by one for -1) only when that is larger, so a
// replayed create never takes it back.
func (t *Tree) create(path string, data []byte, acl []jute.ACL, owner int64, parentCVersion int32, zxid, time int64) {
	parentPath, name := parentOf(path)
	parent, ok := t.Nodes[parentPath]
	if !ok || path == "/" {
		return
	}
	if _, exists := parent.Children[name]; exists {
		return
	}
	if parentCVersion == -1 {
		parentCVersion = parent.Cversion + 1
	}
	if parentCVersion > parent.Cversion {
		parent.Cversion, parent.Pzxid = parentCVersion, zxid
	}
	t.Add(path, &Node{Data: data, ACL: acl, Czxid: zxid, Mzxid: zxid, Pzxid: zxid, Ctime: time, Mtime: time, Owner: owner})
}

// delete is DataTree.deleteNode: the parent's pzxid moves only forward.
// ZooKeeper only ever logs the delete of a leaf; the subtree goes with it
// here all the same, so that no node is left without a parent.
func (t *Tree) delete(path string, zxid int64) {
	n, ok := t.Nodes[path]
	if !ok || path == "/" {
		return
	}
	for name := range n.Children {
		t.delete(path+"/"+name, zxid)
	}
	delete(t.Nodes, path)
	if set := t.ephemerals[n.Owner]; set != nil {
		delete(set, path)
	}
	parentPath, name := parentOf(path)
	if parent, ok := t.Nodes[parentPath]; ok {
		delete(parent.Children, name)
		if zxid > parent.Pzxid {
			parent.Pzxid = zxid
		}
	}
}

// closeSession is DataTree.killSession: the paths the transaction names,
// then whatever ephemerals of the session are left.
func (t *Tree) closeSession(session int64, paths []string, zxid int64) {
	delete(t.Sessions, session)
	for _, p := range paths {
		t.delete(p, zxid)
	}
	for p := range t.ephemerals[session] {
		t.delete(p, zxid)
	}
	delete(t.ephemerals, session)
}
