package conformance

import "github.com/meerkat-zk/meerkat/jute"

// statScenarios cover the Stat update rules.
var statScenarios = []scenario{
	{"stat_cversion_counts_creates_and_deletes", func(e *env) {
		a := e.connect("A")
		a.create(e.p(""), nil, 0)
		a.create(e.p("a"), nil, 0)
		a.create(e.p("b"), nil, 0)
		a.delete(e.p("a"), -1)
		st, _ := a.exists(e.p(""), false)
		e.expect(st.Cversion == 3 && st.NumChildren == 1, "cversion = creates + deletes = 3, numChildren 1; got %d/%d", st.Cversion, st.NumChildren)
		p, _ := a.create(e.p("s-"), nil, 2)
		e.expect(p == e.p("s-0000000002"), "sequential suffix = internal create counter 2, got %s", p)
		a.delete(e.p("b"), -1)
		a.delete(p, -1)
		a.exists(e.p(""), false)
		a.create(e.p("s-"), nil, 2)
		a.exists(e.p(""), false)
	}},
	{"stat_parent_untouched_by_child_data_and_acl", func(e *env) {
		a := e.connect("A")
		a.create(e.p(""), []byte("p"), 0)
		a.create(e.p("c"), nil, 0)
		before, _ := a.exists(e.p(""), false)
		a.setData(e.p("c"), []byte("x"), -1)
		a.setACL(e.p("c"), readACL, -1)
		after, _ := a.exists(e.p(""), false)
		e.expect(before == after, "setData/setACL on a child leave the parent's stat alone")
		a.create(e.p("c/g"), nil, 0)
		a.exists(e.p(""), false)
		a.exists(e.p("c"), false)
	}},
	{"stat_pzxid_and_mzxid", func(e *env) {
		a := e.connect("A")
		a.create(e.p(""), nil, 0)
		a.create(e.p("a"), nil, 0)
		a.create(e.p("a/b"), nil, 0)
		a.setData(e.p(""), []byte("1"), 0)
		st, _ := a.exists(e.p(""), false)
		e.expect(st.Mzxid > st.Pzxid, "mzxid moved past pzxid")
		a.create(e.p("a/b/c"), nil, 0)
		a.exists(e.p(""), false)
		a.exists(e.p("a"), false)
		a.delete(e.p("a/b/c"), -1)
		a.exists(e.p("a/b"), false)
		a.create(e.p("a/x"), nil, 0) // failed create does not move pzxid
		a.create(e.p("a/x"), nil, 0)
		a.exists(e.p("a"), false)
	}},
	{"stat_aversion_from_setACL", func(e *env) {
		a := e.connect("A")
		a.create(e.p(""), []byte("d"), 0)
		st, _ := a.setACL(e.p(""), openACL, -1)
		e.expect(st.Aversion == 1 && st.Version == 0 && st.Mzxid == st.Czxid, "setACL: aversion 1, version and mzxid unchanged")
		a.setACL(e.p(""), openACL, 1)
		a.setACL(e.p(""), openACL, 1)
		a.setACL(e.p(""), openACL, 5)
		a.setACL(e.p(""), []jute.ACL{worldACL(jute.PermRead | jute.PermAdmin)}, 2)
		a.getACL(e.p(""))
		a.setACL(e.p("missing"), openACL, -1)
		a.setACL(e.p(""), nil, -1)
		a.setACL(e.p(""), openACL, -1)
		a.exists(e.p(""), false)
	}},
	{"stat_version_increments", func(e *env) {
		a := e.connect("A")
		a.create(e.p(""), nil, 0)
		for i := 0; i < 5; i++ {
			a.setData(e.p(""), []byte{byte('a' + i)}, int32(i))
		}
		a.setData(e.p(""), []byte("z"), 4)
		a.getData(e.p(""), false)
	}},
}
