package conformance

import (
	"bytes"
	"fmt"

	"github.com/meerkat-zk/meerkat/jute"
)

// nodeScenarios cover the znode operations and their errors.
var nodeScenarios = []scenario{
	{"create_persistent", func(e *env) {
		a := e.connect("A")
		p, ok := a.create(e.p(""), []byte("root"), 0)
		e.expect(ok && p == e.p(""), "create returns the path, got %q", p)
		a.create(e.p("x"), []byte("hello"), 0)
		st, _ := a.exists(e.p("x"), false)
		e.expect(st.Ctime == st.Mtime && st.Ctime != 0, "ctime == mtime != 0 after create")
		e.expect(st.Czxid == st.Mzxid && st.Czxid == st.Pzxid, "czxid == mzxid == pzxid after create")
		a.getData(e.p("x"), false)
	}},
	{"create2_returns_stat", func(e *env) {
		a := e.connect("A")
		a.create(e.p(""), nil, 0)
		_, st, _ := a.create2(e.p("x"), []byte("abc"), 0)
		e.expect(st.DataLength == 3 && st.Version == 0, "create2 stat: dataLength 3, version 0")
		st2, _ := a.exists(e.p("x"), false)
		e.expect(st == st2, "create2 stat equals exists stat")
	}},
	{"create_null_and_empty_data", func(e *env) {
		a := e.connect("A")
		a.create(e.p(""), nil, 0)
		a.create(e.p("null"), nil, 0)
		a.create(e.p("empty"), []byte{}, 0)
		d, st, _ := a.getData(e.p("null"), false)
		e.expect(d == nil && st.DataLength == 0, "null data reads back as length -1, dataLength 0")
		d, _, _ = a.getData(e.p("empty"), false)
		e.expect(d != nil && len(d) == 0, "empty data reads back as length 0")
	}},
	{"create_nodeexists_consumes_zxid", func(e *env) {
		a := e.connect("A")
		a.create(e.p(""), nil, 0)
		a.create(e.p("x"), nil, 0)
		a.create(e.p("x"), []byte("again"), 0)
		a.create(e.p("x"), nil, 0)
		a.exists(e.p("x"), false)
		a.ping()
	}},
	{"create_parent_missing", func(e *env) {
		a := e.connect("A")
		a.create(e.p("missing/child"), nil, 0)
		a.create(e.p(""), nil, 0)
		a.create(e.p("a/b/c"), nil, 0)
		a.create(e.p("")+"//b", nil, 0)
	}},
	{"create_bad_paths", func(e *env) {
		a := e.connect("A")
		a.create(e.p(""), nil, 0)
		for _, p := range []string{
			"", "noslash", e.p("trailing/"), e.p("./x"), e.p("x/."), e.p("../x"), e.p("x/.."),
			e.p("nul\x00byte"), e.p("ctl\x01char"), e.p("del\x7fchar"), e.p("c1\u0085x"), "/",
			e.p("ok.name"), e.p("..x"), e.p("sp ace"), e.p("uni\u00e9"), e.p("zw\u200bsp"),
			e.p("priv\ue000use"), e.p("bom\ufeffx"), e.p("surrog\ufff0x"),
		} {
			a.create(p, nil, 0)
		}
		a.getChildren(e.p(""), false)
	}},
	{"create_bad_flags", func(e *env) {
		a := e.connect("A")
		a.create(e.p(""), nil, 0)
		for _, f := range []int32{-1, 7, 8, 100, 5, 6} {
			a.create(e.p(fmt.Sprintf("f%d", f)), nil, f)
		}
		// Flag 4 with the plain create opcode is a plain persistent node.
		a.create(e.p("f4"), nil, 4)
		a.create(e.p("f4/child"), nil, 0)
		a.delete(e.p("f4/child"), -1)
		a.exists(e.p("f4"), false)
		a.getChildren(e.p(""), false)
	}},
	{"create_bad_flags_create2", func(e *env) {
		a := e.connect("A")
		a.create(e.p(""), nil, 0)
		for _, f := range []int32{-1, 7, 5, 6, 4} {
			a.create2(e.p(fmt.Sprintf("f%d", f)), nil, f)
		}
	}},
	{"create_sequential_shared_counter", func(e *env) {
		a := e.connect("A")
		a.create(e.p(""), nil, 0)
		a.create(e.p("s-"), nil, 2)
		a.create(e.p("plain"), nil, 0)
		a.create(e.p("s-"), nil, 2)
		a.delete(e.p("plain"), -1)
		a.create(e.p("s-"), []byte("x"), 2)
		a.create(e.p(""), nil, 2)
		a.create2(e.p("t"), nil, 2)
		a.create(e.p("dup"), nil, 0)
		a.create(e.p("dup"), nil, 0) // NODEEXISTS does not bump the counter
		a.create(e.p("s-"), nil, 2)
		a.getChildren2(e.p(""), false)
	}},
	{"create_ephemeral_sequential", func(e *env) {
		a := e.connect("A")
		a.create(e.p(""), nil, 0)
		a.create(e.p("e-"), []byte("1"), 3)
		a.create(e.p("e-"), []byte("2"), 3)
		a.create2(e.p("e-"), []byte("3"), 3)
		a.create(e.p("eph"), nil, 1)
		a.getChildren2(e.p(""), false)
		a.exists(e.p("eph"), false)
		a.exists(e.p("e-0000000000"), false)
	}},
	{"create_sequential_name_forms", func(e *env) {
		a := e.connect("A")
		a.create(e.p(""), nil, 0)
		a.create(e.p("d"), nil, 0)
		a.create(e.p("d/"), nil, 2)
		a.create(e.p("d/x-"), nil, 2)
		a.create(e.p("d/0000000005"), nil, 0)
		a.create(e.p("d/"), nil, 2)
		a.getChildren(e.p("d"), false)
	}},
	{"create_under_ephemeral", func(e *env) {
		a := e.connect("A")
		a.create(e.p(""), nil, 0)
		a.create(e.p("eph"), nil, 1)
		a.create(e.p("eph/child"), nil, 0)
		a.create(e.p("eph/child"), nil, 1)
		a.create(e.p("eph/s-"), nil, 2)
		a.create2(e.p("eph/child"), nil, 0)
		a.createContainer(e.p("eph/c"), nil)
		a.createTTL(e.p("eph/t"), nil, 5, 10000)
		a.create(e.p("eph"), nil, 1)
		a.exists(e.p("eph"), false)
	}},
	{"create_under_zookeeper", func(e *env) {
		a := e.connect("A")
		a.create("/zookeeper", nil, 0)
		a.create("/zookeeper/quota", nil, 0)
		a.create("/zookeeper/config", nil, 0)
		a.create("/zookeeper"+e.p(""), []byte("ok"), 0)
		a.getData("/zookeeper"+e.p(""), false)
		a.delete("/zookeeper"+e.p(""), 0)
		a.create("/", nil, 0)
	}},
	{"create_large_data", func(e *env) {
		a := e.connect("A")
		a.create(e.p(""), nil, 0)
		big := bytes.Repeat([]byte("z"), 1000*1000)
		_, st, _ := a.create2(e.p("big"), big, 0)
		e.expect(st.DataLength == int32(len(big)), "dataLength of 1e6 bytes")
		d, _, _ := a.getData(e.p("big"), false)
		e.expect(bytes.Equal(d, big), "large data reads back intact")
	}},
	{"request_over_maxbuffer_closes", func(e *env) {
		a := e.connect("A")
		a.create(e.p(""), nil, 0)
		huge := bytes.Repeat([]byte("z"), 1<<20)
		a.create(e.p("huge"), huge, 0)
		e.expect(a.dropped, "a frame over jute.maxbuffer closes the connection")
		b := e.connect("B")
		b.exists(e.p("huge"), false)
	}},
	{"delete_basic", func(e *env) {
		a := e.connect("A")
		a.create(e.p(""), nil, 0)
		a.create(e.p("x"), nil, 0)
		a.create(e.p("y"), nil, 0)
		a.exists(e.p(""), false)
		a.delete(e.p("x"), -1)
		a.exists(e.p(""), false)
		a.exists(e.p("x"), false)
		a.delete(e.p("x"), -1)
		a.delete(e.p("y"), 0)
		a.exists(e.p(""), false)
	}},
	{"delete_errors", func(e *env) {
		a := e.connect("A")
		a.create(e.p(""), nil, 0)
		a.create(e.p("x"), nil, 0)
		a.create(e.p("x/c"), nil, 0)
		a.delete(e.p("missing"), -1)
		a.delete(e.p("missing/deeper"), -1)
		a.delete(e.p("x"), -1)
		a.delete(e.p("x"), 5)
		a.delete(e.p("x/c"), 1)
		a.delete(e.p("x/c"), 0)
		a.delete(e.p("x"), 0)
		a.delete(e.p("x/"), -1)
		a.delete("", -1)
		a.delete("rel", -1)
		a.exists(e.p(""), false)
	}},
	{"delete_version_checks", func(e *env) {
		a := e.connect("A")
		a.create(e.p(""), nil, 0)
		a.create(e.p("x"), nil, 0)
		a.setData(e.p("x"), []byte("1"), -1)
		a.setData(e.p("x"), []byte("2"), -1)
		a.delete(e.p("x"), 0)
		a.delete(e.p("x"), 1)
		a.delete(e.p("x"), 3)
		a.delete(e.p("x"), 2)
	}},
	{"delete_system_nodes", func(e *env) {
		a := e.connect("A")
		for _, p := range []string{"/", "/zookeeper", "/zookeeper/quota", "/zookeeper/config"} {
			a.delete(p, -1)
			a.delete(p, 0)
		}
		a.exists("/zookeeper/config", false)
		a.ping()
	}},
	{"exists_present_and_missing", func(e *env) {
		a := e.connect("A")
		a.exists(e.p(""), false)
		a.create(e.p(""), []byte("r"), 0)
		a.exists(e.p(""), false)
		a.exists(e.p("nope"), false)
		a.exists(e.p("nope/deeper"), false)
		a.exists("bad", false)
		a.exists(e.p("bad/"), false)
	}},
	{"getData_errors", func(e *env) {
		a := e.connect("A")
		a.getData(e.p(""), false)
		a.getData(e.p("")+"/", false)
		a.getData("relative", false)
		a.getData("", false)
		a.create(e.p(""), []byte{0, 1, 2, 255}, 0)
		a.getData(e.p(""), false)
	}},
	{"setData_updates_stat", func(e *env) {
		a := e.connect("A")
		a.create(e.p(""), nil, 0)
		_, st0, _ := a.create2(e.p("x"), []byte("v0"), 0)
		st1, _ := a.setData(e.p("x"), []byte("v1-longer"), 0)
		e.expect(st1.Version == 1 && st1.Mzxid > st0.Mzxid && st1.Czxid == st0.Czxid && st1.Mtime >= st0.Mtime,
			"setData: version+1, new mzxid, same czxid, mtime not earlier")
		st2, _ := a.setData(e.p("x"), []byte("v2"), -1)
		e.expect(st2.Version == 2 && st2.Pzxid == st0.Pzxid, "setData -1: version 2, pzxid unchanged")
		a.setData(e.p("x"), nil, 2)
		d, st, _ := a.getData(e.p("x"), false)
		e.expect(d == nil && st.DataLength == 0, "setData null: getData length -1, dataLength 0")
		a.setData(e.p("x"), []byte{}, 3)
		a.getData(e.p("x"), false)
		a.exists(e.p(""), false)
	}},
	{"setData_errors", func(e *env) {
		a := e.connect("A")
		a.setData(e.p(""), []byte("x"), -1)
		a.create(e.p(""), nil, 0)
		a.setData(e.p(""), []byte("x"), 1)
		a.setData(e.p(""), []byte("x"), -2)
		a.setData(e.p("")+"/", []byte("x"), -1)
		a.setData("rel", []byte("x"), -1)
		a.setData(e.p(""), bytes.Repeat([]byte("y"), 500*1000), 0)
		a.exists(e.p(""), false)
	}},
	{"setData_system_nodes", func(e *env) {
		a := e.connect("A")
		a.setData("/zookeeper/config", []byte("x"), -1)
		a.setData("/zookeeper/quota", []byte("q"), -1)
		a.getData("/zookeeper/quota", false)
		a.setData("/zookeeper/quota", nil, -1)
		a.getData("/zookeeper/quota", false)
	}},
	{"getChildren_and_getChildren2", func(e *env) {
		a := e.connect("A")
		a.getChildren(e.p(""), false)
		a.getChildren2(e.p(""), false)
		a.create(e.p(""), nil, 0)
		a.getChildren(e.p(""), false)
		a.getChildren2(e.p(""), false)
		for _, n := range []string{"b", "a", "zz", "m", "0", "A"} {
			a.create(e.p(n), nil, 0)
		}
		a.create(e.p("m/deep"), nil, 0)
		a.getChildren(e.p(""), false)
		a.getChildren2(e.p(""), false)
		a.getChildren2(e.p("m"), false)
		a.getChildren(e.p("")+"/", false)
	}},
	{"getAllChildrenNumber", func(e *env) {
		a := e.connect("A")
		a.getAllChildrenNumber(e.p(""))
		a.create(e.p(""), nil, 0)
		a.getAllChildrenNumber(e.p(""))
		a.create(e.p("a"), nil, 0)
		a.create(e.p("a/b"), nil, 0)
		a.create(e.p("a/b/c"), nil, 0)
		a.create(e.p("d"), nil, 1)
		a.getAllChildrenNumber(e.p(""))
		a.getAllChildrenNumber(e.p("a"))
		a.getAllChildrenNumber(e.p("a/b/c"))
		a.getAllChildrenNumber("/zookeeper")
		a.getAllChildrenNumber(e.p("a/"))
		a.getAllChildrenNumber("bad")
	}},
	{"getEphemerals", func(e *env) {
		a := e.connect("A")
		b := e.connect("B")
		a.create(e.p(""), nil, 0)
		a.create(e.p("ea"), nil, 1)
		a.create(e.p("ea-seq"), nil, 3)
		a.create(e.p("p"), nil, 0)
		a.create(e.p("p/eb"), nil, 1)
		b.create(e.p("b1"), nil, 1)
		a.getEphemerals(e.p(""))
		a.getEphemerals(e.p("e"))
		a.getEphemerals(e.p("p"))
		a.getEphemerals(e.p("p/"))
		a.getEphemerals(e.p("nothing"))
		b.getEphemerals(e.p(""))
		e2 := e.connect("C")
		e2.getEphemerals("/")
		e2.getEphemerals("")
		b.getEphemerals(e.root[:4])
	}},
	{"sync", func(e *env) {
		a := e.connect("A")
		a.sync(e.p(""))
		a.create(e.p(""), nil, 0)
		a.sync(e.p(""))
		a.sync("/")
		a.sync("bad")
		a.sync("")
		a.sync(e.p("missing/x"))
	}},
	{"ephemeral_owner_and_close", func(e *env) {
		a := e.connect("A")
		b := e.connect("B")
		a.create(e.p(""), nil, 0)
		a.create(e.p("ea"), nil, 1)
		b.create(e.p("eb"), nil, 1)
		a.exists(e.p("ea"), false)
		a.exists(e.p("eb"), false)
		b.closeSession()
		a.exists(e.p("eb"), false)
		a.getChildren2(e.p(""), false)
	}},
	{"createContainer_opcode", func(e *env) {
		a := e.connect("A")
		a.create(e.p(""), nil, 0)
		a.createContainer(e.p("c"), []byte("d"))
		a.createOp(jute.OpCreateContainer, e.p("c0"), nil, openACL, 0)
		a.createOp(jute.OpCreateContainer, e.p("c1"), nil, openACL, 1)
		a.createOp(jute.OpCreateContainer, e.p("c2"), nil, openACL, 2)
		a.createOp(jute.OpCreateContainer, e.p("c3"), nil, openACL, 3)
		a.createOp(jute.OpCreateContainer, e.p("c5"), nil, openACL, 5)
		a.createOp(jute.OpCreateContainer, e.p("c9"), nil, openACL, 9)
		a.createContainer(e.p("c"), nil)
		a.create(e.p("c/child"), nil, 1)
		a.getEphemerals(e.p(""))
		a.getChildren2(e.p(""), false)
		a.delete(e.p("c/child"), -1)
		// Remove the containers now, before a sweep does.
		for _, n := range []string{"c", "c0", "c1", "c2", "c3", "c5", "c9"} {
			a.delete(e.p(n), -1)
		}
	}},
	{"createTTL_arguments", func(e *env) {
		a := e.connect("A")
		a.create(e.p(""), nil, 0)
		a.createTTL(e.p("t"), []byte("x"), 5, 600000)
		a.createTTL(e.p("ts-"), nil, 6, 600000)
		a.createTTL(e.p("t0"), nil, 5, 0)
		a.createTTL(e.p("tneg"), nil, 5, -1)
		a.createTTL(e.p("tmax"), nil, 5, 0xFFFFFFFFFF)
		a.createTTL(e.p("tover"), nil, 5, 0x10000000000)
		for _, f := range []int32{0, 1, 2, 3, 4, 7} {
			a.createTTL(e.p(fmt.Sprintf("tf%d", f)), nil, f, 600000)
		}
		a.createTTL(e.p("t"), nil, 5, 600000)
		a.createTTL(e.p("missing/t"), nil, 5, 600000)
		a.getChildren2(e.p(""), false)
		a.getEphemerals(e.p(""))
		for _, n := range []string{"t", "ts-0000000001", "tmax"} {
			a.delete(e.p(n), -1)
		}
	}},
	{"createTTL_under_ttl_and_container", func(e *env) {
		a := e.connect("A")
		a.create(e.p(""), nil, 0)
		a.createTTL(e.p("t"), nil, 5, 600000)
		a.create(e.p("t/child"), nil, 0)
		a.create(e.p("t/eph"), nil, 1)
		a.createContainer(e.p("c"), nil)
		a.create(e.p("c/eph"), nil, 1)
		a.exists(e.p("t"), false)
		a.exists(e.p("c"), false)
		for _, n := range []string{"t/child", "t/eph", "c/eph", "t", "c"} {
			a.delete(e.p(n), -1)
		}
	}},
	{"truncated_request_bodies", func(e *env) {
		a := e.connect("A")
		a.create(e.p(""), []byte("d"), 0)
		full := createBody(e.p("x"), []byte("data"), openACL, 0)
		a.call("create truncated after path", jute.OpCreate, full[:4+len(e.p("x"))])
		a.ping()
	}},
}

// moreNodeScenarios are small cases on ephemerals and deletes across
// sessions.
var moreNodeScenarios = []scenario{
	{"delete_other_sessions_ephemeral", func(e *env) {
		a := e.connect("A")
		b := e.connect("B")
		a.create(e.p(""), nil, 0)
		a.create(e.p("eph"), []byte("a"), 1)
		b.setData(e.p("eph"), []byte("b"), 0)
		b.exists(e.p("eph"), false)
		b.delete(e.p("eph"), 1)
		a.getEphemerals(e.p(""))
		a.closeSession()
		b.exists(e.p(""), false)
	}},
	{"ephemeral_in_failed_multi_not_owned", func(e *env) {
		a := e.connect("A")
		a.create(e.p(""), nil, 0)
		a.multi(mCreate(e.p("eph"), nil, 1), mCheck(e.p("missing"), -1))
		a.getEphemerals(e.p(""))
		a.exists(e.p("eph"), false)
	}},
	{"getChildren_of_ephemeral_and_leaf", func(e *env) {
		a := e.connect("A")
		a.create(e.p(""), nil, 0)
		a.create(e.p("eph"), nil, 1)
		a.getChildren2(e.p("eph"), false)
		a.getAllChildrenNumber(e.p("eph"))
		a.getChildren("/zookeeper/config", false)
	}},
}

// quotaScenarios cover the quota bookkeeping the server does when
// clients (zkCli setquota) create zookeeper_limits / zookeeper_stats.
var quotaScenarios = []scenario{
	{"quota_stats_node_tracks_subtree", func(e *env) {
		a := e.connect("A")
		a.create(e.p(""), []byte("12345"), 0)
		a.create(e.p("a"), []byte("xy"), 0)
		q := "/zookeeper/quota" + e.p("")
		a.create(q, nil, 0)
		a.create(q+"/zookeeper_limits", []byte("count=5,bytes=-1"), 0)
		a.getData(q+"/zookeeper_limits", false)
		a.create(q+"/zookeeper_stats", []byte("count=0,bytes=0"), 0)
		a.getData(q+"/zookeeper_stats", false)
		a.create(e.p("b"), []byte("abc"), 0)
		a.getData(q+"/zookeeper_stats", false)
		a.setData(e.p("a"), []byte("longer data"), -1)
		a.getData(q+"/zookeeper_stats", false)
		a.delete(e.p("b"), -1)
		a.getData(q+"/zookeeper_stats", false)
		for i := 0; i < 6; i++ {
			a.create(e.p(fmt.Sprintf("n%d", i)), nil, 0)
		}
		a.getData(q+"/zookeeper_stats", false)
		a.getChildren(q, false)
		a.delete(q+"/zookeeper_stats", -1)
		a.delete(q+"/zookeeper_limits", -1)
		a.delete(q, -1)
	}},
	{"quota_stats_node_created_with_unparsable_data", func(e *env) {
		// Creating the stats node recounts the subtree whatever it held.
		a := e.connect("A")
		a.create(e.p(""), []byte("abc"), 0)
		q := "/zookeeper/quota" + e.p("")
		a.create(q, nil, 0)
		a.create(q+"/zookeeper_limits", []byte("count=5,bytes=-1"), 0)
		a.create(q+"/zookeeper_stats", []byte("not a stats track"), 0)
		a.getData(q+"/zookeeper_stats", false)
		a.create(e.p("a"), []byte("xy"), 0)
		a.getData(q+"/zookeeper_stats", false)
	}},
	{"quota_stats_node_for_missing_path", func(e *env) {
		a := e.connect("A")
		q := "/zookeeper/quota" + e.p("")
		a.create(q, nil, 0)
		a.create(q+"/zookeeper_stats", []byte("count=7,bytes=9"), 0)
		a.getData(q+"/zookeeper_stats", false)
		a.delete(q+"/zookeeper_stats", -1)
		a.delete(q, -1)
	}},
}
