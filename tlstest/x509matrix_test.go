package tlstest

import (
	"fmt"
	"strings"

	"github.com/meerkat-zk/meerkat/internal/testcert"
	"github.com/meerkat-zk/meerkat/jute"
)

// matrixPerms are the permission sets the x509 matrix grants: none, each
// bit alone, and all.
var matrixPerms = []struct {
	name  string
	perms int32
}{
	{"none", 0}, {"READ", jute.PermRead}, {"WRITE", jute.PermWrite}, {"CREATE", jute.PermCreate},
	{"DELETE", jute.PermDelete}, {"ADMIN", jute.PermAdmin}, {"ALL", jute.PermAll},
}

// matrixOps are the operations the x509 matrix tries on a node, in order,
// each with the permission ZooKeeper 3.8 checks for it (0: none).
var matrixOps = []struct {
	name string
	need int32
	body func(dir string) (jute.OpCode, []byte)
}{
	{"exists", 0, func(d string) (jute.OpCode, []byte) {
		return jute.OpExists, (&jute.PathWatchRequest{Path: d}).Append(nil)
	}},
	{"getData", jute.PermRead, func(d string) (jute.OpCode, []byte) {
		return jute.OpGetData, (&jute.PathWatchRequest{Path: d}).Append(nil)
	}},
	{"getChildren2", jute.PermRead, func(d string) (jute.OpCode, []byte) {
		return jute.OpGetChildren2, (&jute.PathWatchRequest{Path: d}).Append(nil)
	}},
	{"getAllChildrenNumber", jute.PermRead, func(d string) (jute.OpCode, []byte) {
		return jute.OpGetAllChildrenNumber, jute.AppendString(nil, d)
	}},
	{"getACL", jute.PermRead | jute.PermAdmin, func(d string) (jute.OpCode, []byte) {
		return jute.OpGetACL, jute.AppendString(nil, d)
	}},
	{"setData", jute.PermWrite, func(d string) (jute.OpCode, []byte) {
		return jute.OpSetData, (&jute.SetDataRequest{Path: d, Data: []byte("w"), Version: -1}).Append(nil)
	}},
	{"create", jute.PermCreate, func(d string) (jute.OpCode, []byte) {
		return jute.OpCreate, (&jute.CreateRequest{Path: d + "/new", ACL: openACL}).AppendCreate(nil, false)
	}},
	{"delete", jute.PermDelete, func(d string) (jute.OpCode, []byte) {
		return jute.OpDelete, (&jute.PathVersionRequest{Path: d + "/victim", Version: -1}).Append(nil)
	}},
	{"setACL", jute.PermAdmin, func(d string) (jute.OpCode, []byte) {
		return jute.OpSetACL, (&jute.SetACLRequest{Path: d, ACL: openACL, Version: -1}).Append(nil)
	}},
}

var openACL = []jute.ACL{{Perms: jute.PermAll, ID: jute.ID{Scheme: "world", ID: "anyone"}}}

// x509MatrixWant is what ZooKeeper 3.8 answers the matrix when the node's
// x509 entry names the client (owner) or another subject.
func x509MatrixWant(owner bool) string {
	var lines []string
	for _, p := range matrixPerms {
		var codes []string
		for _, op := range matrixOps {
			code := "OK"
			if op.need != 0 && (!owner || p.perms&op.need == 0) {
				code = "NOAUTH"
			}
			codes = append(codes, op.name+"="+code)
		}
		lines = append(lines, p.name+": "+strings.Join(codes, " "))
	}
	return strings.Join(lines, "\n")
}

// x509Matrix sets up, as the super user admin, a node per permission set
// whose only ACL entry grants it to x509:<id> (with a child to delete), and
// returns what cert's client is answered for every operation on each.
func (e *env) x509Matrix(tag string, cert *testcert.Cert, id string) string {
	root := "/x509matrix-" + tag
	setup := e.tlsSession(e.admin, func(s *session) string {
		if c, err := s.create(root, nil, openACL); err != nil || c != jute.CodeOK {
			return fmt.Sprintf("create %s: %v %v", root, c, err)
		}
		for _, p := range matrixPerms {
			dir := root + "/" + p.name
			for _, path := range []string{dir, dir + "/victim"} {
				if c, err := s.create(path, nil, openACL); err != nil || c != jute.CodeOK {
					return fmt.Sprintf("create %s: %v %v", path, c, err)
				}
			}
			entry := []jute.ACL{{Perms: p.perms, ID: jute.ID{Scheme: "x509", ID: id}}}
			if c, _, err := s.call(jute.OpSetACL, (&jute.SetACLRequest{Path: dir, ACL: entry, Version: -1}).Append(nil)); err != nil || c != jute.CodeOK {
				return fmt.Sprintf("setACL %s: %v %v", dir, c, err)
			}
		}
		return "ok"
	})
	if setup != "ok" {
		return "setup: " + setup
	}
	return e.tlsSession(cert, func(s *session) string {
		var lines []string
		for _, p := range matrixPerms {
			var codes []string
			for _, op := range matrixOps {
				code, _, err := s.call(op.body(root + "/" + p.name))
				if err != nil {
					return fmt.Sprintf("%s %s: %v", p.name, op.name, err)
				}
				name := "OK"
				if code != jute.CodeOK {
					name = code.String()
				}
				codes = append(codes, op.name+"="+name)
			}
			lines = append(lines, p.name+": "+strings.Join(codes, " "))
		}
		return strings.Join(lines, "\n")
	})
}
