package conformance

import (
	"fmt"

	"github.com/meerkat-zk/meerkat/jute"
)

// permScenario checks every operation against a node whose only ACL entry
// grants world the permissions perms.
func permScenario(name string, perms int32) scenario {
	return scenario{name, func(e *env) {
		a := e.connect("A")
		a.create(e.p(""), nil, 0)
		a.create(e.p("n"), []byte("d"), 0)
		a.create(e.p("n/victim"), nil, 0)
		a.setACL(e.p("n"), []jute.ACL{worldACL(perms)}, -1)
		b := e.connect("B")
		b.everyOp(e.p("n"))
	}}
}

// everyOp plays every operation as c against n, a node with data and one
// child, victim: what c may and may not do there, the ACL check of each
// operation (or its absence) shows in the replies. The operations that
// need ADMIN come last, setACL opening n to all.
func (c *client) everyOp(n string) {
	c.exists(n, false)
	c.getData(n, false)
	c.getChildren(n, false)
	c.getChildren2(n, false)
	c.getAllChildrenNumber(n)
	c.getACL(n)
	c.setData(n, []byte("w"), -1)
	c.create(n+"/new", nil, 0)
	c.create2(n+"/new2", nil, 0)
	c.createContainer(n+"/container", nil)
	c.createTTL(n+"/ttl", nil, 5, 60000)
	c.create(n+"/eph", nil, 1)
	c.getEphemerals(n)
	c.addWatch(n, modePersistent)
	c.checkWatches(n, watcherAny)
	c.removeWatches(n, watcherAny)
	// No ACL check: each watch on an existing node fires at once.
	c.setWatches(true, jute.SetWatches{DataWatches: []string{n}, ChildWatches: []string{n}, ExistWatches: []string{n + "/none"}})
	c.delete(n+"/victim", -1)
	c.multi(mCheck(n, -1))
	c.multi(mCreate(n+"/m", nil, 0), mSetData(n, []byte("m"), -1))
	c.multiRead(mGetData(n), mGetChildren(n))
	c.sync(n)
	c.setACL(n, openACL, -1)
	c.getACL(n)
}

// invalidACLScenario creates a node with acl and then sets acl on it.
func invalidACLScenario(name string, acl []jute.ACL) scenario {
	return scenario{name, func(e *env) {
		a := e.connect("A")
		a.create(e.p(""), nil, 0)
		a.createACL(e.p("n"), nil, acl, 0)
		a.createOp(jute.OpCreate2, e.p("n2"), nil, acl, 0)
		a.setACL(e.p(""), acl, -1)
		a.getACL(e.p(""))
		a.getChildren(e.p(""), false)
	}}
}

// aclScenarios cover ACL checks, schemes and authentication.
var aclScenarios = []scenario{
	permScenario("acl_perm_none", 0),
	permScenario("acl_perm_read", jute.PermRead),
	permScenario("acl_perm_write", jute.PermWrite),
	permScenario("acl_perm_create", jute.PermCreate),
	permScenario("acl_perm_delete", jute.PermDelete),
	permScenario("acl_perm_admin", jute.PermAdmin),
	permScenario("acl_perm_read_admin", jute.PermRead|jute.PermAdmin),
	invalidACLScenario("acl_invalid_empty_list", []jute.ACL{}),
	invalidACLScenario("acl_invalid_unknown_scheme", []jute.ACL{{Perms: 31, ID: jute.ID{Scheme: "foo", ID: "bar"}}}),
	invalidACLScenario("acl_invalid_digest_without_colon", []jute.ACL{{Perms: 31, ID: jute.ID{Scheme: "digest", ID: "nocolon"}}}),
	invalidACLScenario("acl_invalid_digest_two_colons", []jute.ACL{{Perms: 31, ID: jute.ID{Scheme: "digest", ID: "a:b:c"}}}),
	invalidACLScenario("acl_invalid_ip_address", []jute.ACL{ipACL(31, "300.1.1.1")}),
	invalidACLScenario("acl_invalid_ip_prefix", []jute.ACL{ipACL(31, "10.0.0.0/40")}),
	invalidACLScenario("acl_invalid_ip_hostname", []jute.ACL{ipACL(31, "localhost")}),
	invalidACLScenario("acl_invalid_world_id", []jute.ACL{{Perms: 31, ID: jute.ID{Scheme: "world", ID: "someone"}}}),
	invalidACLScenario("acl_invalid_auth_without_identity", creatorACL),
	invalidACLScenario("acl_invalid_second_entry", []jute.ACL{worldACL(31), {Perms: 31, ID: jute.ID{Scheme: "nope", ID: "x"}}}),
	invalidACLScenario("acl_odd_perms_accepted", []jute.ACL{worldACL(0), worldACL(64 | 1)}),
	invalidACLScenario("acl_ip_forms", []jute.ACL{ipACL(1, "127.0.0.1"), ipACL(2, "127.0.0.0/8"), ipACL(4, "::1"), ipACL(8, "0:0:0:0:0:0:0:1"), ipACL(16, "10.1.2.3/32")}),
	{"acl_default_and_system_acls", func(e *env) {
		a := e.connect("A")
		a.create(e.p(""), nil, 0)
		a.getACL(e.p(""))
		a.getACL("/")
		a.getACL("/zookeeper")
		a.getACL("/zookeeper/quota")
		a.getACL("/zookeeper/config")
		a.getACL(e.p("missing"))
		a.getACL("bad")
	}},
	{"acl_duplicate_entries_kept", func(e *env) {
		a := e.connect("A")
		a.create(e.p(""), nil, 0)
		a.createACL(e.p("n"), nil, []jute.ACL{worldACL(31), worldACL(31), worldACL(1)}, 0)
		a.getACL(e.p("n"))
	}},
	{"acl_digest_access", func(e *env) {
		a := e.connect("A")
		a.create(e.p(""), nil, 0)
		a.createACL(e.p("n"), []byte("secret"), []jute.ACL{digestACL(31, "alice", "pw")}, 0)
		a.create(e.p("n/c"), nil, 0)
		a.exists(e.p("n"), false)
		a.getData(e.p("n"), false)
		a.getACL(e.p("n"))
		a.auth("digest", "alice:wrong")
		a.getData(e.p("n"), false)
		a.auth("digest", "alice:pw")
		a.getData(e.p("n"), false)
		a.getACL(e.p("n"))
		a.setData(e.p("n"), []byte("new"), -1)
		a.create(e.p("n/d"), nil, 0)
		a.whoAmI()
	}},
	{"acl_auth_scheme_expands_identities", func(e *env) {
		a := e.connect("A")
		a.create(e.p(""), nil, 0)
		a.auth("digest", "alice:pw")
		a.createACL(e.p("one"), nil, creatorACL, 0)
		a.getACL(e.p("one"))
		a.auth("digest", "bob:pw2")
		a.createACL(e.p("two"), nil, []jute.ACL{{Perms: 5, ID: jute.ID{Scheme: "auth", ID: "ignored"}}}, 0)
		a.getACL(e.p("two"))
		a.setACL(e.p("one"), []jute.ACL{worldACL(1), {Perms: 31, ID: jute.ID{Scheme: "auth", ID: ""}}}, -1)
		a.getACL(e.p("one"))
		a.whoAmI()
		b := e.connect("B")
		b.getData(e.p("two"), false)
		b.auth("digest", "bob:pw2")
		b.getData(e.p("two"), false)
		b.setData(e.p("two"), nil, -1)
	}},
	{"acl_auth_same_identity_twice", func(e *env) {
		a := e.connect("A")
		a.auth("digest", "alice:pw")
		a.auth("digest", "alice:pw")
		a.whoAmI()
		a.create(e.p(""), nil, 0)
		a.createACL(e.p("n"), nil, creatorACL, 0)
		a.getACL(e.p("n"))
	}},
	{"acl_getACL_masks_digest_without_admin", func(e *env) {
		a := e.connect("A")
		a.create(e.p(""), nil, 0)
		acl := []jute.ACL{worldACL(jute.PermRead), digestACL(31, "bob", "pw"), digestACL(jute.PermRead, "carol", "pw")}
		a.createACL(e.p("n"), nil, acl, 0)
		a.getACL(e.p("n"))
		a.auth("digest", "carol:pw")
		a.getACL(e.p("n"))
		a.auth("digest", "bob:pw")
		a.getACL(e.p("n"))
		b := e.connect("B")
		b.createACL(e.p("adminonly"), nil, []jute.ACL{worldACL(jute.PermAdmin), digestACL(1, "dave", "pw")}, 0)
		b.getACL(e.p("adminonly"))
	}},
	{"acl_ip_scheme", func(e *env) {
		a := e.connect("A")
		a.create(e.p(""), nil, 0)
		a.createACL(e.p("exact"), []byte("1"), []jute.ACL{ipACL(31, "127.0.0.1")}, 0)
		a.createACL(e.p("net8"), []byte("2"), []jute.ACL{ipACL(jute.PermRead, "127.0.0.0/8")}, 0)
		a.createACL(e.p("other"), []byte("3"), []jute.ACL{ipACL(31, "10.0.0.0/8")}, 0)
		a.createACL(e.p("zero"), []byte("4"), []jute.ACL{ipACL(31, "0.0.0.0/0")}, 0)
		a.createACL(e.p("v6"), []byte("5"), []jute.ACL{ipACL(31, "::1")}, 0)
		for _, n := range []string{"exact", "net8", "other", "zero", "v6"} {
			a.getData(e.p(n), false)
			a.setData(e.p(n), []byte("w"), -1)
		}
		a.getACL(e.p("exact"))
		a.whoAmI()
	}},
	{"acl_exists_needs_no_permission", func(e *env) {
		a := e.connect("A")
		a.create(e.p(""), nil, 0)
		a.createACL(e.p("n"), []byte("x"), []jute.ACL{digestACL(31, "alice", "pw")}, 0)
		b := e.connect("B")
		b.exists(e.p("n"), false)
		b.exists(e.p("n"), true)
		b.exists(e.p("missing"), true)
	}},
	// The reference is Debian's 3.8.0-11+deb12u2, which carries the
	// CVE-2024-23944 fix: a watch event is delivered only to watchers
	// with READ on the znode the event is about.
	{"acl_watch_event_needs_read", func(e *env) {
		a := e.connect("A")
		a.auth("digest", "alice:pw")
		a.create(e.p(""), nil, 0)
		secret := []jute.ACL{digestACL(31, "alice", "pw")}
		a.createACL(e.p("secret"), []byte("x"), secret, 0)
		a.createACL(e.p("open"), []byte("x"), openACL, 0)
		b := e.connect("B")
		b.exists(e.p("secret"), true)
		b.exists(e.p("open"), true)
		a.setData(e.p("secret"), []byte("y"), -1)
		a.setData(e.p("open"), []byte("y"), -1)
		b.events()
		b.exists(e.p("secret"), true)
		a.setACL(e.p("secret"), append([]jute.ACL{worldACL(jute.PermRead)}, secret...), -1)
		a.setData(e.p("secret"), []byte("z"), -1)
		b.events()
	}},
	{"acl_watch_created_node_without_read", func(e *env) {
		a := e.connect("A")
		a.auth("digest", "alice:pw")
		a.create(e.p(""), nil, 0)
		b := e.connect("B")
		b.exists(e.p("secret"), true)
		b.getChildren(e.p(""), true)
		a.createACL(e.p("secret"), nil, []jute.ACL{digestACL(31, "alice", "pw")}, 0)
		b.events()
		b.getChildren(e.p(""), true)
		a.delete(e.p("secret"), -1)
		b.events()
	}},
	{"acl_persistent_recursive_events_need_read", func(e *env) {
		a := e.connect("A")
		a.auth("digest", "alice:pw")
		a.create(e.p(""), nil, 0)
		b := e.connect("B")
		b.addWatch(e.p(""), modePersistentRecursive)
		b.addWatch(e.p("hidden"), modePersistent)
		a.createACL(e.p("hidden"), nil, []jute.ACL{digestACL(31, "alice", "pw")}, 0)
		a.create(e.p("visible"), nil, 0)
		a.create(e.p("hidden/child"), nil, 0)
		a.setData(e.p("hidden"), []byte("d"), -1)
		a.setData(e.p("visible"), []byte("d"), -1)
		a.delete(e.p("hidden/child"), -1)
		a.delete(e.p("hidden"), -1)
		b.events()
	}},
	{"acl_super_watcher_gets_events", func(e *env) {
		a := e.connect("A")
		a.create(e.p(""), nil, 0)
		a.createACL(e.p("n"), nil, []jute.ACL{worldACL(jute.PermWrite)}, 0)
		s := e.connect("S")
		s.auth("digest", "super:"+superPassword)
		s.exists(e.p("n"), true)
		a.setData(e.p("n"), []byte("w"), -1)
		s.events()
	}},
	{"acl_super_digest_bypasses", func(e *env) {
		a := e.connect("A")
		a.create(e.p(""), nil, 0)
		a.createACL(e.p("n"), []byte("x"), []jute.ACL{digestACL(31, "alice", "pw")}, 0)
		a.createACL(e.p("none"), []byte("y"), []jute.ACL{worldACL(0)}, 0)
		s := e.connect("S")
		s.getData(e.p("n"), false)
		s.auth("digest", "super:"+superPassword)
		s.whoAmI()
		s.getData(e.p("n"), false)
		s.getData(e.p("none"), false)
		s.setData(e.p("n"), []byte("z"), -1)
		s.create(e.p("n/child"), nil, 0)
		s.delete(e.p("n/child"), -1)
		s.getACL(e.p("n"))
		s.setACL(e.p("n"), openACL, -1)
		s.setData("/zookeeper/config", []byte(""), -1)
		s.createACL(e.p("auth"), nil, creatorACL, 0)
		s.getACL(e.p("auth"))
		s.delete(e.p("none"), -1)
	}},
	{"auth_wrong_super_password", func(e *env) {
		a := e.connect("A")
		a.create(e.p(""), nil, 0)
		a.createACL(e.p("n"), []byte("x"), []jute.ACL{worldACL(0)}, 0)
		a.auth("digest", "super:wrong")
		a.whoAmI()
		a.getData(e.p("n"), false)
	}},
	{"auth_unknown_scheme_fails_and_closes", func(e *env) {
		a := e.connect("A")
		a.create(e.p(""), nil, 0)
		a.create(e.p("eph"), nil, 1)
		a.auth("kerberos", "whatever")
		b := e.connect("B")
		b.exists(e.p("eph"), false)
		r, ok := a.reconnect("A2")
		if ok {
			r.exists(e.p("eph"), false)
			r.whoAmI()
		}
	}},
	{"auth_other_schemes", func(e *env) {
		for i, sc := range []struct{ scheme, cred string }{
			{"world", "anyone"}, {"ip", "10.0.0.1"}, {"auth", ""}, {"sasl", "x"}, {"x509", "CN=x"}, {"super", "x"}, {"", ""},
		} {
			c := e.connect(fmt.Sprintf("C%d", i))
			if c.auth(sc.scheme, sc.cred) {
				c.whoAmI()
			}
		}
	}},
	{"auth_digest_odd_credentials", func(e *env) {
		for i, cred := range []string{"nocolon", ":", "user:", ":pass", "a:b:c", ""} {
			c := e.connect(fmt.Sprintf("C%d", i))
			if c.auth("digest", cred) {
				c.whoAmI()
			}
		}
	}},
	{"whoAmI_identities", func(e *env) {
		a := e.connect("A")
		a.whoAmI()
		a.auth("digest", "bob:pw")
		a.whoAmI()
		a.auth("digest", "alice:pw")
		a.whoAmI()
	}},
	{"acl_multi_and_multiRead_noauth", func(e *env) {
		a := e.connect("A")
		a.create(e.p(""), nil, 0)
		a.create(e.p("open"), []byte("o"), 0)
		a.createACL(e.p("closed"), []byte("c"), []jute.ACL{digestACL(31, "alice", "pw")}, 0)
		a.multi(mSetData(e.p("open"), []byte("x"), -1), mCreate(e.p("closed/c"), nil, 0))
		a.multi(mCheck(e.p("closed"), -1))
		a.multi(mSetData(e.p("closed"), nil, -1), mSetData(e.p("open"), nil, -1))
		a.multiRead(mGetData(e.p("open")), mGetData(e.p("closed")), mGetChildren(e.p("closed")), mGetChildren(e.p("open")))
		a.getData(e.p("open"), false)
	}},
}
