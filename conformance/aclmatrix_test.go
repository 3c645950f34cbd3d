package conformance

import (
	"fmt"

	"github.com/meerkat-zk/meerkat/jute"
)

// The ACL matrix: every operation (everyOp) against a node whose ACL
// grants one permission set to one id, played by clients that hold the id
// and by clients that do not, for each scheme: digest, ip, auth (the
// creator's identities), super (the superDigest user) and x509 (ids only:
// this suite speaks plaintext; x509 over TLS is tlstest's).

// permSets are the permission sets of the matrix: none, each bit alone,
// and all.
var permSets = []struct {
	name  string
	perms int32
}{
	{"none", 0},
	{"read", jute.PermRead},
	{"write", jute.PermWrite},
	{"create", jute.PermCreate},
	{"delete", jute.PermDelete},
	{"admin", jute.PermAdmin},
	{"all", jute.PermAll},
}

// actor is one client of a matrix scenario: it adds the digest
// credentials creds (user:password), in order, then plays every operation
// against a node of its own, named after its label, whose ACL is acl.
type actor struct {
	label string
	creds []string
	acl   []jute.ACL
}

// matrixScenario: client A adds the digest credentials creator, then
// makes each actor's node (data, a child victim, the actor's ACL set last
// and read back: an auth id shows its expansion). Then each actor in turn
// connects, adds its credentials, says who it is and plays every
// operation on its node.
func matrixScenario(name string, creator []string, actors ...actor) scenario {
	return scenario{name, func(e *env) {
		a := e.connect("A")
		a.create(e.p(""), nil, 0)
		for _, cred := range creator {
			a.auth("digest", cred)
		}
		for _, ac := range actors {
			n := e.p(ac.label)
			a.create(n, []byte("d"), 0)
			a.create(n+"/victim", nil, 0)
			a.setACL(n, ac.acl, -1)
			a.getACL(n)
		}
		for _, ac := range actors {
			c := e.connect(ac.label)
			for _, cred := range ac.creds {
				c.auth("digest", cred)
			}
			c.whoAmI()
			c.everyOp(e.p(ac.label))
		}
	}}
}

func authACL(perms int32) jute.ACL {
	return jute.ACL{Perms: perms, ID: jute.ID{Scheme: "auth", ID: ""}}
}

func x509ACL(perms int32, dn string) jute.ACL {
	return jute.ACL{Perms: perms, ID: jute.ID{Scheme: "x509", ID: dn}}
}

// superCred is the super user's digest credential on a pair configured
// with superDigest of superPassword.
const superCred = "super:" + superPassword

// aclMatrixScenarios play the matrix for the schemes of the shared pair
// (no x509 provider there: x509 ids are refused).
func aclMatrixScenarios() []scenario {
	var l []scenario
	for _, ps := range permSets {
		p := ps.perms
		user := []jute.ACL{digestACL(p, "user", "pw")}
		l = append(l,
			matrixScenario("acl_matrix_digest_"+ps.name, nil,
				actor{"holder", []string{"user:pw"}, user},
				actor{"nobody", nil, user},
				actor{"other", []string{"other:pw"}, user},
				actor{"wrongpw", []string{"user:wrong"}, user},
				actor{"both", []string{"other:pw", "user:pw"}, user}),
			matrixScenario("acl_matrix_ip_"+ps.name, nil,
				actor{"exact", nil, []jute.ACL{ipACL(p, "127.0.0.1")}},
				actor{"net8", nil, []jute.ACL{ipACL(p, "127.0.0.0/8")}},
				actor{"elsewhere", nil, []jute.ACL{ipACL(p, "10.0.0.1")}},
				actor{"elsewheredigest", []string{"user:pw"}, []jute.ACL{ipACL(p, "10.0.0.1")}}),
			// The creator is user:pw: each node's auth entry becomes
			// digest:user:<digest>.
			matrixScenario("acl_matrix_auth_"+ps.name, []string{"user:pw"},
				actor{"holder", []string{"user:pw"}, []jute.ACL{authACL(p)}},
				actor{"nobody", nil, []jute.ACL{authACL(p)}},
				actor{"other", []string{"other:pw"}, []jute.ACL{authACL(p)}}),
			matrixScenario("acl_matrix_super_"+ps.name, nil,
				actor{"digest", []string{superCred}, user},
				actor{"ip", []string{superCred}, []jute.ACL{ipACL(p, "10.0.0.1")}},
				actor{"world", []string{superCred}, []jute.ACL{worldACL(p)}},
				actor{"superanduser", []string{"user:pw", superCred}, user}),
		)
	}
	return append(l,
		scenario{"acl_matrix_auth_creator_without_identity", func(e *env) {
			a := e.connect("A")
			a.create(e.p(""), nil, 0)
			a.createACL(e.p("n"), nil, creatorACL, 0)
			a.createOp(jute.OpCreate2, e.p("n"), nil, []jute.ACL{authACL(jute.PermRead)}, 0)
			a.createACL(e.p("n"), nil, []jute.ACL{worldACL(jute.PermAll), authACL(jute.PermAll)}, 0)
			a.multi(multiOp{jute.OpCreate, createBody(e.p("m"), nil, creatorACL, 0)})
			a.setACL(e.p(""), creatorACL, -1)
			// An ip identity is not one an auth id takes.
			a.auth("ip", "127.0.0.1")
			a.whoAmI()
			a.createACL(e.p("n"), nil, creatorACL, 0)
			a.auth("digest", "user:pw")
			a.createACL(e.p("n"), nil, []jute.ACL{worldACL(jute.PermRead), authACL(jute.PermAll)}, 0)
			a.getACL(e.p("n"))
			a.setACL(e.p(""), creatorACL, -1)
			a.getACL(e.p(""))
			a.getChildren(e.p(""), false)
		}},
		x509IDsScenario("acl_x509_ids_without_provider"),
		digestAlgScenario("acl_digest_alg_default_sha1", "SHA1"),
	)
}

// x509DNs are distinguished names for x509 ACL ids: plain, awkward
// (escaped comma, multi-valued RDN, spaces, quotes, other separators, an
// OID with a hex value, the empty DN) and malformed. ZooKeeper's x509
// provider takes an id that javax.security.auth.x500.X500Principal parses.
var x509DNs = []string{
	"CN=someone,O=org",
	`CN=a\,b,O=org`,
	"CN=a+UID=b,O=org",
	" CN = spaced out , O = org ",
	`CN="quoted, name",O=org`,
	"CN=a;O=b",
	"cn=lower,o=org",
	"CN=é,O=org",
	"2.5.4.3=#0403616263,O=org",
	"EMAILADDRESS=a@b.c,DC=example,DC=com",
	"CN=a, O=b",
	`CN=a\20,O=b`,
	`CN=\41b\+c\=d`,
	"CN=a=b",
	"CN=a#b",
	"CN=<a>",
	"C=USA",
	"OID.2.5.4.3=x",
	"CN=  ",
	"",
	"not a dn",
	"CN=a,,O=b",
	"CN=",
	"=a",
	"FOO=bar",
	`CN=a\`,
	"CN=#zz",
	"CN=a+",
	"CN=a,O=b,",
	"CN=a,O=b;",
	`CN=a"b`,
	`CN="unterminated`,
	`CN=\zz`,
	"CN=#",
	"1.2=x",
}

// x509IDsScenario creates a node whose ACL is one x509 id of each of
// x509DNs, and sets one on the scenario's root beside world.
func x509IDsScenario(name string) scenario {
	return scenario{name, func(e *env) {
		a := e.connect("A")
		a.create(e.p(""), nil, 0)
		for i, dn := range x509DNs {
			n := e.p(fmt.Sprintf("n%d", i))
			if _, ok := a.createACL(n, nil, []jute.ACL{worldACL(jute.PermRead), x509ACL(jute.PermAll, dn)}, 0); ok {
				a.getACL(n)
			}
			a.setACL(e.p(""), []jute.ACL{worldACL(jute.PermAll), x509ACL(jute.PermRead, dn)}, -1)
		}
		a.getACL(e.p(""))
		a.getChildren(e.p(""), false)
	}}
}

// x509MatrixScenario plays the matrix for x509 ids as a plaintext client
// sees it: it has no certificate, so no x509 identity. A node beside
// grants world READ too.
func x509MatrixScenario(name string) scenario {
	var actors []actor
	for _, ps := range permSets {
		actors = append(actors, actor{ps.name, nil, []jute.ACL{x509ACL(ps.perms, "CN=someone,O=org")}})
	}
	actors = append(actors,
		actor{"readbyworld", nil, []jute.ACL{x509ACL(jute.PermAll, "CN=someone,O=org"), worldACL(jute.PermRead)}},
		actor{"withsuper", []string{superCred}, []jute.ACL{x509ACL(jute.PermRead, "CN=someone,O=org")}})
	return matrixScenario(name, nil, actors...)
}
