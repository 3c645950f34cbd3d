package conformance

import (
	"github.com/meerkat-zk/meerkat/jute"
)

// watchScenarios cover standard, persistent and recursive watches, their
// removal, and SetWatches on reconnect.
var watchScenarios = []scenario{
	{"watch_data_one_shot", func(e *env) {
		a := e.connect("A")
		w := e.connect("W")
		a.create(e.p(""), []byte("0"), 0)
		w.getData(e.p(""), true)
		a.setData(e.p(""), []byte("1"), -1)
		w.events()
		a.setData(e.p(""), []byte("2"), -1)
		w.events()
	}},
	{"watch_data_on_delete", func(e *env) {
		a := e.connect("A")
		w := e.connect("W")
		a.create(e.p(""), nil, 0)
		a.create(e.p("x"), nil, 0)
		w.getData(e.p("x"), true)
		w.getChildren(e.p("x"), true)
		a.delete(e.p("x"), -1)
		w.events()
	}},
	{"watch_exists_on_missing_node", func(e *env) {
		a := e.connect("A")
		w := e.connect("W")
		a.create(e.p(""), nil, 0)
		w.exists(e.p("x"), true)
		a.create(e.p("x"), nil, 0)
		w.events()
		w.exists(e.p("x"), true)
		a.setData(e.p("x"), []byte("d"), -1)
		w.events()
		w.exists(e.p("x"), true)
		a.delete(e.p("x"), -1)
		w.events()
	}},
	{"watch_getData_missing_registers_nothing", func(e *env) {
		a := e.connect("A")
		w := e.connect("W")
		a.create(e.p(""), nil, 0)
		w.getData(e.p("x"), true)
		w.getChildren(e.p("x"), true)
		a.create(e.p("x"), nil, 0)
		a.create(e.p("x/c"), nil, 0)
		w.events()
		w.checkWatches(e.p("x"), watcherAny)
	}},
	{"watch_child_events", func(e *env) {
		a := e.connect("A")
		w := e.connect("W")
		a.create(e.p(""), nil, 0)
		w.getChildren(e.p(""), true)
		a.create(e.p("c1"), nil, 0)
		w.events()
		a.create(e.p("c2"), nil, 0)
		w.events()
		w.getChildren2(e.p(""), true)
		a.setData(e.p(""), []byte("no child event"), -1)
		a.setData(e.p("c1"), []byte("no child event"), -1)
		a.create(e.p("c1/grandchild"), nil, 0)
		w.events()
		a.delete(e.p("c2"), -1)
		w.events()
	}},
	{"watch_one_event_per_connection", func(e *env) {
		a := e.connect("A")
		w := e.connect("W")
		v := e.connect("V")
		a.create(e.p(""), nil, 0)
		a.create(e.p("x"), nil, 0)
		w.getData(e.p("x"), true)
		w.exists(e.p("x"), true)
		w.getData(e.p("x"), true)
		w.getChildren(e.p("x"), true)
		v.exists(e.p("x"), true)
		a.delete(e.p("x"), -1)
		w.events()
		v.events()
	}},
	{"watch_setACL_fires_nothing", func(e *env) {
		a := e.connect("A")
		w := e.connect("W")
		a.create(e.p(""), nil, 0)
		w.getData(e.p(""), true)
		w.getChildren(e.p(""), true)
		a.setACL(e.p(""), openACL, -1)
		a.sync(e.p(""))
		w.events()
		w.checkWatches(e.p(""), watcherData)
		w.checkWatches(e.p(""), watcherChildren)
	}},
	{"watch_events_for_writer_and_others", func(e *env) {
		a := e.connect("A")
		b := e.connect("B")
		a.create(e.p(""), nil, 0)
		a.exists(e.p("n"), true)
		b.exists(e.p("n"), true)
		b.getChildren(e.p(""), true)
		a.create(e.p("n"), []byte("x"), 0)
		b.getData(e.p("n"), false)
		b.events()
	}},
	{"watch_ephemeral_deleted_by_close", func(e *env) {
		a := e.connect("A")
		w := e.connect("W")
		a.create(e.p(""), nil, 0)
		a.create(e.p("eph"), nil, 1)
		a.create(e.p("eph2"), nil, 1)
		w.exists(e.p("eph"), true)
		w.getData(e.p("eph2"), true)
		w.getChildren(e.p(""), true)
		a.closeSession()
		w.events()
		w.getChildren(e.p(""), false)
	}},
	{"watch_notification_zxid", func(e *env) {
		a := e.connect("A")
		a.create(e.p(""), nil, 0)
		a.exists(e.p(""), true)
		a.setData(e.p(""), []byte("x"), -1)
	}},
	{"persistent_watch_all_events", func(e *env) {
		a := e.connect("A")
		w := e.connect("W")
		a.create(e.p(""), nil, 0)
		w.addWatch(e.p("x"), modePersistent)
		a.create(e.p("x"), nil, 0)
		a.setData(e.p("x"), []byte("1"), -1)
		a.setData(e.p("x"), []byte("2"), -1)
		a.create(e.p("x/c"), nil, 0)
		a.create(e.p("x/c/g"), nil, 0)
		a.setData(e.p("x/c"), []byte("3"), -1)
		a.delete(e.p("x/c/g"), -1)
		a.delete(e.p("x/c"), -1)
		a.delete(e.p("x"), -1)
		a.create(e.p("x"), nil, 0)
		w.events()
		w.checkWatches(e.p("x"), watcherData)
		w.checkWatches(e.p("x"), watcherChildren)
		w.checkWatches(e.p("x"), watcherAny)
	}},
	{"persistent_recursive_watch", func(e *env) {
		a := e.connect("A")
		w := e.connect("W")
		a.create(e.p(""), nil, 0)
		w.addWatch(e.p(""), modePersistentRecursive)
		a.create(e.p("a"), nil, 0)
		a.create(e.p("a/b"), nil, 0)
		a.setData(e.p("a/b"), []byte("1"), -1)
		a.setData(e.p(""), []byte("r"), -1)
		a.create(e.p("a/b/c"), nil, 1)
		a.delete(e.p("a/b/c"), -1)
		a.delete(e.p("a/b"), -1)
		a.create(e.p("zz"), nil, 0)
		a.create(e.root+"zz-sibling-not-below", nil, 0)
		a.delete(e.root+"zz-sibling-not-below", -1)
		w.events()
	}},
	{"addWatch_replaces_standard_watch", func(e *env) {
		a := e.connect("A")
		w := e.connect("W")
		a.create(e.p(""), nil, 0)
		// ZooKeeper <= 3.8: a path holds one watch mode per connection and
		// table, so the recursive watch replaces the child watch.
		w.getChildren(e.p(""), true)
		w.addWatch(e.p(""), modePersistentRecursive)
		a.create(e.p("new"), nil, 0)
		w.events()
		w.removeWatches(e.p(""), watcherChildren)
		w.removeWatches(e.p(""), watcherAny)
		a.create(e.p("new2"), nil, 0)
		w.events()
	}},
	{"standard_watch_replaces_persistent", func(e *env) {
		a := e.connect("A")
		w := e.connect("W")
		a.create(e.p(""), nil, 0)
		w.addWatch(e.p(""), modePersistent)
		w.getData(e.p(""), true)
		a.setData(e.p(""), []byte("1"), -1)
		a.setData(e.p(""), []byte("2"), -1)
		a.create(e.p("c"), nil, 0)
		a.create(e.p("d"), nil, 0)
		w.events()
	}},
	{"addWatch_arguments", func(e *env) {
		a := e.connect("A")
		a.addWatch(e.p("missing/deep"), modePersistent)
		a.addWatch(e.p(""), 2)
		a.addWatch(e.p(""), -1)
		a.addWatch("bad", modePersistent)
		a.addWatch("", modePersistent)
		a.addWatch(e.p(""), modePersistent)
		a.addWatch(e.p(""), modePersistent)
		a.create(e.p(""), nil, 0)
		a.create(e.p("missing"), nil, 0)
		a.create(e.p("missing/deep"), nil, 0)
		a.events()
	}},
	{"removeWatches_by_type", func(e *env) {
		a := e.connect("A")
		w := e.connect("W")
		a.create(e.p(""), nil, 0)
		a.create(e.p("x"), nil, 0)
		w.getData(e.p("x"), true)
		w.getChildren(e.p("x"), true)
		w.removeWatches(e.p("x"), watcherData)
		w.removeWatches(e.p("x"), watcherData)
		w.checkWatches(e.p("x"), watcherData)
		w.checkWatches(e.p("x"), watcherChildren)
		a.setData(e.p("x"), []byte("1"), -1)
		a.create(e.p("x/c"), nil, 0)
		w.events()
		w.exists(e.p("x"), true)
		w.getChildren(e.p("x"), true)
		w.removeWatches(e.p("x"), watcherAny)
		w.removeWatches(e.p("x"), watcherAny)
		a.delete(e.p("x/c"), -1)
		a.delete(e.p("x"), -1)
		w.events()
	}},
	{"removeWatches_errors", func(e *env) {
		a := e.connect("A")
		a.removeWatches(e.p("nothing"), watcherData)
		a.removeWatches(e.p("nothing"), watcherChildren)
		a.removeWatches(e.p("nothing"), watcherAny)
		a.removeWatches(e.p("nothing"), 4)
		a.removeWatches(e.p("nothing"), 0)
		a.removeWatches("bad", watcherAny)
		a.checkWatches(e.p("nothing"), watcherAny)
		a.checkWatches(e.p("nothing"), 9)
		a.exists(e.p("nothing"), true)
		a.checkWatches(e.p("nothing"), watcherData)
		a.checkWatches(e.p("nothing"), watcherChildren)
		a.checkWatches(e.p("nothing"), 4)
		a.removeWatches(e.p("nothing"), 5)
		a.removeWatches(e.p("nothing"), watcherData)
	}},
	{"removeWatches_other_connection_unaffected", func(e *env) {
		a := e.connect("A")
		w := e.connect("W")
		a.create(e.p(""), nil, 0)
		a.getData(e.p(""), true)
		w.getData(e.p(""), true)
		w.removeWatches(e.p(""), watcherData)
		a.setData(e.p(""), []byte("x"), -1)
		w.events()
		a.events()
	}},
	{"persistent_watch_removed_by_any", func(e *env) {
		a := e.connect("A")
		w := e.connect("W")
		a.create(e.p(""), nil, 0)
		w.addWatch(e.p(""), modePersistent)
		w.addWatch(e.p("r"), modePersistentRecursive)
		w.checkWatches(e.p(""), watcherData)
		w.checkWatches(e.p(""), watcherChildren)
		w.checkWatches(e.p("r"), watcherData)
		w.checkWatches(e.p("r"), watcherChildren)
		w.removeWatches(e.p(""), watcherData)
		w.removeWatches(e.p("r"), watcherAny)
		a.create(e.p("r"), nil, 0)
		a.setData(e.p(""), []byte("x"), -1)
		w.events()
	}},
	{"setWatches_replay_rules", func(e *env) {
		a := e.connect("A")
		a.create(e.p(""), nil, 0)
		for _, n := range []string{"changed", "same", "deleted", "kids", "quiet", "cdel"} {
			a.create(e.p(n), nil, 0)
		}
		st, _ := a.exists(e.p("quiet"), false)
		rel := st.Mzxid
		a.setData(e.p("changed"), []byte("x"), -1)
		a.delete(e.p("deleted"), -1)
		a.create(e.p("kids/c"), nil, 0)
		a.delete(e.p("cdel"), -1)
		a.create(e.p("born"), nil, 0)
		w := e.connect("W")
		w.setWatches(false, jute.SetWatches{
			RelativeZxid: rel,
			DataWatches:  []string{e.p("changed"), e.p("same"), e.p("deleted"), e.p("never")},
			ExistWatches: []string{e.p("born"), e.p("absent")},
			ChildWatches: []string{e.p("kids"), e.p("quiet"), e.p("cdel")},
		})
		w.checkWatches(e.p("same"), watcherData)
		w.checkWatches(e.p("absent"), watcherData)
		w.checkWatches(e.p("quiet"), watcherChildren)
		w.checkWatches(e.p("changed"), watcherData)
		a.setData(e.p("same"), []byte("now"), -1)
		a.create(e.p("absent"), nil, 0)
		a.create(e.p("quiet/c"), nil, 0)
		w.events()
	}},
	{"setWatches_relative_zxid_extremes", func(e *env) {
		a := e.connect("A")
		a.create(e.p(""), nil, 0)
		a.create(e.p("n"), nil, 0)
		a.create(e.p("n/c"), nil, 0)
		w := e.connect("W")
		w.setWatches(false, jute.SetWatches{RelativeZxid: 0, DataWatches: []string{e.p("n")}, ChildWatches: []string{e.p("n")}})
		w.setWatches(false, jute.SetWatches{RelativeZxid: 1 << 62, DataWatches: []string{e.p("n")}, ChildWatches: []string{e.p("n")}})
		w.checkWatches(e.p("n"), watcherAny)
		a.setData(e.p("n"), nil, -1)
		w.events()
	}},
	{"setWatches2_persistent_no_catch_up", func(e *env) {
		a := e.connect("A")
		a.create(e.p(""), nil, 0)
		a.create(e.p("p"), nil, 0)
		a.setData(e.p("p"), []byte("changed"), -1)
		w := e.connect("W")
		w.setWatches(true, jute.SetWatches{
			RelativeZxid:        0,
			DataWatches:         []string{e.p("p")},
			PersistentWatches:   []string{e.p("p"), e.p("gone")},
			PersistentRecursive: []string{e.p("")},
		})
		a.setData(e.p("p"), []byte("again"), -1)
		a.create(e.p("gone"), nil, 0)
		a.create(e.p("p/c"), nil, 0)
		w.events()
	}},
	{"setWatches_on_session_reconnect", func(e *env) {
		a := e.connect("A")
		a.create(e.p(""), nil, 0)
		a.create(e.p("n"), nil, 0)
		w := e.connect("W")
		w.getData(e.p("n"), true)
		rel := w.lastZxid
		w.close()
		a.setData(e.p("n"), []byte("while away"), -1)
		r, ok := w.reconnect("W2")
		if !ok {
			return
		}
		r.setWatches(false, jute.SetWatches{RelativeZxid: rel, DataWatches: []string{e.p("n")}})
		r.ping()
	}},
	{"setWatches_bad_paths", func(e *env) {
		a := e.connect("A")
		a.setWatches(false, jute.SetWatches{DataWatches: []string{"bad", ""}, ExistWatches: []string{"also/bad"}, ChildWatches: []string{"/"}})
		a.ping()
	}},
}
