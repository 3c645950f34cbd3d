package engine

import (
	"strings"

	"github.com/meerkat-zk/meerkat/jute"
)

// The read operations answer from one immutable View, as FinalRequestProcessor
// does: no path validation beyond what ZooKeeper does (a malformed path is
// simply not found), the ACL checked on the node read, and the response
// record appended to out so that a caller can encode into its output buffer
// without allocating. They never change the View and are safe to call from
// any goroutine.

// Exists returns the node at path. A path with a NUL is BADARGUMENTS; a
// missing node is NONODE (and the caller still registers an exists watch).
func (v *View) Exists(path string) (*Node, jute.Code) {
	if hasNUL(path) {
		return nil, jute.CodeBadArguments
	}
	n, ok := v.Tree.Get(path)
	if !ok {
		return nil, jute.CodeNoNode
	}
	return n, jute.CodeOK
}

// readable returns the node at path if the caller may read it.
func (v *View) readable(path string, perm int32, ids []jute.ID, skipACL bool) (*Node, jute.Code) {
	n, ok := v.Tree.Get(path)
	if !ok {
		return nil, jute.CodeNoNode
	}
	if !skipACL && !Allowed(v.ACL(n), perm, ids) {
		return nil, jute.CodeNoAuth
	}
	return n, jute.CodeOK
}

// GetData appends a GetDataResponse (data, stat) for path.
func (v *View) GetData(path string, ids []jute.ID, skipACL bool, out []byte) ([]byte, jute.Code) {
	n, c := v.readable(path, jute.PermRead, ids, skipACL)
	if c != jute.CodeOK {
		return out, c
	}
	return n.AppendStat(n.AppendData(out)), jute.CodeOK
}

// GetChildren appends a GetChildrenResponse, or with withStat a
// GetChildren2Response, for path. Children come in name order (ZooKeeper's
// order is its hash set's; clients do not rely on it).
func (v *View) GetChildren(path string, ids []jute.ID, skipACL, withStat bool, out []byte) ([]byte, jute.Code) {
	n, c := v.readable(path, jute.PermRead, ids, skipACL)
	if c != jute.CodeOK {
		return out, c
	}
	out = jute.AppendInt(out, n.NumChildren)
	v.Tree.Children(path, func(k *Node) bool {
		out = jute.AppendString(out, k.Name())
		return true
	})
	if withStat {
		out = n.AppendStat(out)
	}
	return out, jute.CodeOK
}

// GetACL appends a GetACLResponse. It needs READ or ADMIN; without ADMIN the
// digest secrets are masked, as ZooKeeper 3.6+ does.
func (v *View) GetACL(path string, ids []jute.ID, skipACL bool, out []byte) ([]byte, jute.Code) {
	n, c := v.readable(path, jute.PermRead|jute.PermAdmin, ids, skipACL)
	if c != jute.CodeOK {
		return out, c
	}
	acls := v.ACL(n)
	if !skipACL && !Allowed(acls, jute.PermAdmin, ids) {
		acls = maskDigests(acls)
	}
	return n.AppendStat(jute.AppendACLs(out, acls)), jute.CodeOK
}

// AllChildrenNumber appends the number of descendants of path.
func (v *View) AllChildrenNumber(path string, ids []jute.ID, skipACL bool, out []byte) ([]byte, jute.Code) {
	if _, c := v.readable(path, jute.PermRead, ids, skipACL); c != jute.CodeOK {
		return out, c
	}
	total := int32(0)
	v.Tree.Descendants(path, func(*Node) { total++ })
	return jute.AppendInt(out, total), jute.CodeOK
}

// MultiRead answers a multiRead: each getData or getChildren independently,
// failures as error results. A request that is not all reads is
// MARSHALLINGERROR; when every op decodes but one is a write, ZooKeeper has
// already started its response and sends it empty.
func (v *View) MultiRead(body []byte, ids []jute.ID, skipACL bool, out []byte) ([]byte, jute.Code) {
	ops, err := decodeMulti(body)
	if err != nil {
		return out, jute.CodeMarshallingError
	}
	if len(ops) > 0 && !ops[0].read {
		return jute.AppendMultiEnd(out), jute.CodeMarshallingError
	}
	for i := range ops {
		mark := len(out)
		var c jute.Code
		if ops[i].code == jute.OpGetData {
			out = (&jute.MultiHeader{Type: jute.OpGetData}).Append(out)
			out, c = v.GetData(ops[i].path, ids, skipACL, out)
		} else {
			out = (&jute.MultiHeader{Type: jute.OpGetChildren}).Append(out)
			out, c = v.GetChildren(ops[i].path, ids, skipACL, false, out)
		}
		if c != jute.CodeOK {
			out = appendErrorResult(out[:mark], c)
		}
	}
	return jute.AppendMultiEnd(out), jute.CodeOK
}

// WhoAmI appends a WhoAmIResponse for the caller's identities.
func WhoAmI(ids []jute.ID, out []byte) []byte {
	out = jute.AppendInt(out, int32(len(ids)))
	for _, id := range ids {
		out = jute.AppendString(out, id.Scheme)
		out = jute.AppendString(out, UserName(id))
	}
	return out
}

// GetEphemerals appends a GetEphemeralsResponse: the session's ephemerals
// whose path starts with prefix ("" or "/" after trimming means all). It
// reads the sessions, so it runs on the applier goroutine.
func (s *State) GetEphemerals(session int64, prefix string, out []byte) []byte {
	var paths []string
	if ss, ok := s.sessions[session]; ok {
		paths = ss.Ephemerals()
	}
	all := javaTrim(prefix) == "" || javaTrim(prefix) == "/"
	mark := len(out)
	out = jute.AppendInt(out, 0)
	n := 0
	for _, p := range paths {
		if all || strings.HasPrefix(p, prefix) {
			out = jute.AppendString(out, p)
			n++
		}
	}
	jute.AppendInt(out[:mark], int32(n))
	return out
}

// javaTrim is String.trim: it strips characters up to and including space.
func javaTrim(s string) string {
	return strings.TrimFunc(s, func(r rune) bool { return r <= ' ' })
}
