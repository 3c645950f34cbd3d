package engine

import (
	"errors"

	"github.com/meerkat-zk/meerkat/jute"
)

var errMultiKind = errors.New("engine: multi mixes reads and writes or holds an op it cannot")

// multiOp is one operation of a multi as MultiOperationRecord decodes it.
type multiOp struct {
	op
	read bool
	// badRecord marks a create whose flags ask for a TTL node but whose
	// record has no TTL: ZooKeeper fails the whole multi with
	// MARSHALLINGERROR (a ClassCastException) when it reaches such an op.
	badRecord bool
}

// decodeMulti reads a MultiOperationRecord. The opcode of a create is
// derived from its flags, as ZooKeeper's Op.create does: a container flag
// makes it createContainer, a TTL flag createTTL, anything else create.
func decodeMulti(body []byte) ([]multiOp, error) {
	d := jute.NewDecoder(body)
	var ops []multiOp
	var h jute.MultiHeader
	h.Decode(d)
	for d.Err() == nil && !h.Done {
		var m multiOp
		switch h.Type {
		case jute.OpCreate, jute.OpCreate2, jute.OpCreateContainer, jute.OpCreateTTL:
			m.op, _ = decodeRecord(h.Type, d)
			switch {
			case ttlMode(m.flags):
				// Only a createTTL record carries the TTL.
				m.badRecord = h.Type != jute.OpCreateTTL
				m.code = jute.OpCreateTTL
			case containerMode(m.flags):
				m.code, m.ttl = jute.OpCreateContainer, -1
			default:
				m.code, m.ttl = jute.OpCreate, -1
			}
		case jute.OpDelete, jute.OpCheck, jute.OpSetData:
			m.op, _ = decodeRecord(h.Type, d)
		case jute.OpGetChildren, jute.OpGetData:
			var r jute.PathWatchRequest
			r.Decode(d)
			m.code, m.path, m.read = h.Type, r.Path, true
		default:
			return nil, errMultiKind
		}
		if len(ops) > 0 && ops[0].read != m.read {
			return nil, errMultiKind
		}
		ops = append(ops, m)
		h.Decode(d)
	}
	return ops, d.Err()
}

// applyMulti runs a multi on a scratch version of the tree and keeps it only
// if every op succeeds (the ACL counts are journaled, to be put back with
// the tree). A failed multi still answers with err 0 in the reply header;
// its results say which op failed.
func (s *State) applyMulti(e *Entry, zxid int64) ([]byte, jute.Code) {
	ops, err := decodeMulti(e.Body)
	if err != nil || len(ops) > 0 && ops[0].read {
		return nil, jute.CodeMarshallingError
	}
	saved := s.tree.freeze()
	s.multiBase = &saved
	s.acls.startJournal()
	defer func() {
		s.multiBase = nil
		s.acls.stopJournal()
	}()
	mark := len(s.pending)
	results := make([]opResult, len(ops))
	failed, failCode := -1, jute.CodeOK
	for i := range ops {
		if ops[i].badRecord {
			s.tree.restore(saved)
			s.acls.undoJournal()
			s.pending = s.pending[:mark]
			return nil, jute.CodeMarshallingError
		}
		r, c := s.exec(&ops[i].op, e, zxid)
		if c != jute.CodeOK {
			failed, failCode = i, c
			break
		}
		results[i] = r
	}
	var out []byte
	if failed >= 0 {
		s.tree.restore(saved)
		s.acls.undoJournal()
		s.pending = s.pending[:mark]
		for i := range ops {
			c := jute.CodeOK
			switch {
			case i == failed:
				c = failCode
			case i > failed:
				c = jute.CodeRuntimeInconsistency
			}
			out = appendErrorResult(out, c)
		}
		return jute.AppendMultiEnd(out), jute.CodeOK
	}
	s.commitChanges()
	for i := range ops {
		out = appendOpResult(out, ops[i].code, &results[i])
	}
	return jute.AppendMultiEnd(out), jute.CodeOK
}

func appendErrorResult(b []byte, c jute.Code) []byte {
	b = (&jute.MultiHeader{Type: jute.OpError, Err: c}).Append(b)
	return jute.AppendInt(b, int32(c))
}

// appendOpResult appends one successful result of a write multi. Creates
// that return a stat (containers and TTL nodes) are reported as create2.
func appendOpResult(b []byte, code jute.OpCode, r *opResult) []byte {
	switch code {
	case jute.OpCreate:
		b = (&jute.MultiHeader{Type: jute.OpCreate}).Append(b)
		return jute.AppendString(b, r.path)
	case jute.OpCreateContainer, jute.OpCreateTTL:
		b = (&jute.MultiHeader{Type: jute.OpCreate2}).Append(b)
		return r.stat.Append(jute.AppendString(b, r.path))
	case jute.OpSetData:
		b = (&jute.MultiHeader{Type: jute.OpSetData}).Append(b)
		return r.stat.Append(b)
	}
	// delete and check carry no body.
	return (&jute.MultiHeader{Type: code}).Append(b)
}

// CreatesEphemeral reports whether a write request creates an ephemeral
// node: a create or create2 in an ephemeral mode, or a multi holding one.
// ZooKeeper upgrades a local session to a global one before such a write.
func CreatesEphemeral(code jute.OpCode, body []byte) bool {
	switch code {
	case jute.OpCreate, jute.OpCreate2:
		o, err := decodeOp(code, body)
		return err == nil && ephemeralMode(o.flags)
	case jute.OpMulti:
		ops, err := decodeMulti(body)
		if err != nil {
			return false
		}
		for _, m := range ops {
			if m.code == jute.OpCreate && ephemeralMode(m.flags) {
				return true
			}
		}
	}
	return false
}
