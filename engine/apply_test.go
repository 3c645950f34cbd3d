package engine

import (
	"fmt"
	"slices"
	"testing"

	"github.com/meerkat-zk/meerkat/jute"
)

var openACL = []jute.ACL{{Perms: jute.PermAll, ID: jute.ID{Scheme: "world", ID: "anyone"}}}

// harness drives a State with a session, like the pipeline does.
type harness struct {
	t      *testing.T
	s      *State
	policy Policy
	sess   int64
	ids    []jute.ID
	now    int64
}

func newHarness(t *testing.T, policy Policy) *harness {
	h := &harness{t: t, s: NewState(), policy: policy, sess: 0x0100000000000001, now: 1000,
		ids: []jute.ID{{Scheme: "ip", ID: "127.0.0.1"}}}
	h.apply(jute.OpCreateSession, jute.AppendInt(nil, 30000))
	return h
}

func (h *harness) apply(op jute.OpCode, body []byte) Result {
	h.now++
	return h.s.Apply(&Entry{Time: h.now, Session: h.sess, Op: op, Identities: h.ids, Body: body, Policy: h.policy})
}

func (h *harness) create(op jute.OpCode, path string, flags int32, ttl int64) Result {
	req := jute.CreateRequest{Path: path, Data: []byte("d"), ACL: openACL, Flags: flags, TTL: ttl}
	return h.apply(op, req.AppendCreate(nil, op == jute.OpCreateTTL))
}

func (h *harness) node(path string) *Node {
	h.t.Helper()
	n, ok := h.s.Publish().Tree.Get(path)
	if !ok {
		h.t.Fatalf("%s missing", path)
	}
	return n
}

func TestSystemNodesStartAsZooKeeper(t *testing.T) {
	// Values read off a fresh Apache ZooKeeper 3.8.0.
	v := NewState().Publish()
	for _, tc := range []struct {
		path                     string
		cversion, aversion, kids int32
		acl                      []jute.ACL
	}{
		{"/", -1, 0, 1, OpenACL},
		{"/zookeeper", -2, 0, 2, OpenACL},
		{"/zookeeper/quota", 0, 0, 0, OpenACL},
		{"/zookeeper/config", 0, -1, 0, ReadACL},
	} {
		n, ok := v.Tree.Get(tc.path)
		if !ok {
			t.Fatalf("%s missing", tc.path)
		}
		st := n.Stat()
		if st.Cversion != tc.cversion || st.Aversion != tc.aversion || st.NumChildren != tc.kids ||
			st.Czxid != 0 || st.Mzxid != 0 || st.Ctime != 0 || st.DataLength != 0 {
			t.Errorf("%s: %+v", tc.path, st)
		}
		if !slices.Equal(v.ACL(n), tc.acl) {
			t.Errorf("%s acl %v", tc.path, v.ACL(n))
		}
	}
}

func TestStatRulesAndSequentialNames(t *testing.T) {
	h := newHarness(t, Policy{})
	r := h.create(jute.OpCreate, "/p", 0, -1)
	if r.Err != jute.CodeOK || r.Zxid != 2 {
		t.Fatalf("create /p: %+v", r)
	}
	h.create(jute.OpCreate, "/p/a", 0, -1)      // creates=1
	r = h.create(jute.OpCreate, "/p/s-", 2, -1) // suffix 1
	h.apply(jute.OpDelete, (&jute.PathVersionRequest{Path: "/p/a", Version: -1}).Append(nil))
	r2 := h.create(jute.OpCreate, "/p/s-", 2, -1) // suffix 2
	if got := string(r.Body[4:]); got != "/p/s-0000000001" {
		t.Errorf("first sequential name %q", got)
	}
	if got := string(r2.Body[4:]); got != "/p/s-0000000002" {
		t.Errorf("second sequential name %q", got)
	}
	p := h.node("/p").Stat()
	// 3 creates + 1 delete; 2 children left.
	if p.Cversion != 4 || p.NumChildren != 2 || p.Pzxid != r2.Zxid || p.Mzxid != 2 || p.Version != 0 {
		t.Errorf("parent stat %+v", p)
	}
	set := h.apply(jute.OpSetData, (&jute.SetDataRequest{Path: "/p", Data: nil, Version: 0}).Append(nil))
	n := h.node("/p")
	if set.Err != jute.CodeOK || n.Version != 1 || n.Mzxid != set.Zxid || !n.DataNull() || n.Stat().DataLength != 0 || n.Mtime <= n.Ctime {
		t.Errorf("after setData null: %+v %+v", set, n.Stat())
	}
	if h.node("/").Stat().Pzxid != 2 {
		t.Errorf("root pzxid %d", h.node("/").Stat().Pzxid)
	}
}

func TestCreateErrorPrecedence(t *testing.T) {
	h := newHarness(t, Policy{})
	h.create(jute.OpCreate, "/e", 1, -1)
	for _, tc := range []struct {
		name  string
		op    jute.OpCode
		path  string
		flags int32
		ttl   int64
		acl   []jute.ACL
		want  jute.Code
	}{
		{"bad flag", jute.OpCreate, "/x", 9, -1, openACL, jute.CodeBadArguments},
		{"ttl without extended types", jute.OpCreateTTL, "/x", 5, 100, openACL, jute.CodeUnimplemented},
		{"no slash", jute.OpCreate, "x", 0, -1, openACL, jute.CodeBadArguments},
		{"empty acl before parent check", jute.OpCreate, "/missing/x", 0, -1, nil, jute.CodeInvalidACL},
		{"missing parent", jute.OpCreate, "/missing/x", 0, -1, openACL, jute.CodeNoNode},
		{"double slash is a missing parent", jute.OpCreate, "/a//b", 0, -1, openACL, jute.CodeNoNode},
		{"trailing slash", jute.OpCreate, "/e2/", 0, -1, openACL, jute.CodeNoNode},
		{"dot segment", jute.OpCreate, "/.", 0, -1, openACL, jute.CodeBadArguments},
		{"exists", jute.OpCreate, "/zookeeper", 0, -1, openACL, jute.CodeNodeExists},
		{"root exists", jute.OpCreate, "/", 0, -1, openACL, jute.CodeNodeExists},
		{"child of ephemeral", jute.OpCreate, "/e/c", 0, -1, openACL, jute.CodeNoChildrenForEphemerals},
		{"unknown acl scheme", jute.OpCreate, "/x", 0, -1, []jute.ACL{{Perms: 31, ID: jute.ID{Scheme: "foo", ID: "x"}}}, jute.CodeInvalidACL},
		{"auth acl without identity", jute.OpCreate, "/x", 0, -1, []jute.ACL{{Perms: 31, ID: jute.ID{Scheme: "auth"}}}, jute.CodeInvalidACL},
		{"bad ip acl", jute.OpCreate, "/x", 0, -1, []jute.ACL{{Perms: 31, ID: jute.ID{Scheme: "ip", ID: "10.0.0.1/33"}}}, jute.CodeInvalidACL},
	} {
		t.Run(tc.name, func(t *testing.T) {
			before := h.s.Zxid()
			req := jute.CreateRequest{Path: tc.path, ACL: tc.acl, Flags: tc.flags, TTL: tc.ttl}
			r := h.apply(tc.op, req.AppendCreate(nil, tc.op == jute.OpCreateTTL))
			if r.Err != tc.want {
				t.Fatalf("got %v want %v", r.Err, tc.want)
			}
			if r.Zxid != before+1 {
				t.Fatalf("a failed write must still consume one zxid: %d after %d", r.Zxid, before)
			}
		})
	}
}

func TestDeleteAndVersionChecks(t *testing.T) {
	h := newHarness(t, Policy{})
	h.create(jute.OpCreate, "/d", 0, -1)
	h.create(jute.OpCreate, "/d/c", 0, -1)
	del := func(path string, version int32) jute.Code {
		return h.apply(jute.OpDelete, (&jute.PathVersionRequest{Path: path, Version: version}).Append(nil)).Err
	}
	for _, tc := range []struct {
		path    string
		version int32
		want    jute.Code
	}{
		{"/", -1, jute.CodeBadArguments},
		{"/zookeeper", -1, jute.CodeBadArguments},
		{"/zookeeper/quota", -1, jute.CodeBadArguments},
		{"/zookeeper/config", -1, jute.CodeBadArguments},
		{"/nope/x", -1, jute.CodeNoNode},
		{"/nope", -1, jute.CodeNoNode},
		{"/d", 3, jute.CodeBadVersion},
		{"/d", -1, jute.CodeNotEmpty},
		{"/d/c", 0, jute.CodeOK},
		{"/d", 0, jute.CodeOK},
	} {
		if got := del(tc.path, tc.version); got != tc.want {
			t.Errorf("delete %s@%d: %v want %v", tc.path, tc.version, got, tc.want)
		}
	}
}

func TestMultiIsAtomicAndEncodesZooKeeperResults(t *testing.T) {
	h := newHarness(t, Policy{})
	op := func(typ jute.OpCode, rec []byte) []byte {
		return append((&jute.MultiHeader{Type: typ, Err: -1}).Append(nil), rec...)
	}
	create := func(p string) []byte {
		return op(jute.OpCreate, (&jute.CreateRequest{Path: p, ACL: openACL}).AppendCreate(nil, false))
	}
	body := append(create("/m1"), create("/m1/a")...)
	body = append(body, op(jute.OpCheck, (&jute.PathVersionRequest{Path: "/m1", Version: 5}).Append(nil))...)
	body = append(body, create("/m2")...)
	r := h.apply(jute.OpMulti, jute.AppendMultiEnd(body))
	if r.Err != jute.CodeOK {
		t.Fatalf("failed multi must answer err 0 in the header, got %v", r.Err)
	}
	d := jute.NewDecoder(r.Body)
	var want = []jute.Code{jute.CodeOK, jute.CodeOK, jute.CodeBadVersion, jute.CodeRuntimeInconsistency}
	for i, w := range want {
		var mh jute.MultiHeader
		mh.Decode(d)
		errBody := jute.Code(d.Int())
		if mh.Type != jute.OpError || mh.Err != w || errBody != w {
			t.Fatalf("result %d: %+v body %v, want error %v", i, mh, errBody, w)
		}
	}
	if _, ok := h.s.Publish().Tree.Get("/m1"); ok {
		t.Fatal("a failed multi left /m1 behind")
	}
	// The same multi without the bad check succeeds as a whole, with one zxid.
	body = append(create("/m1"), create("/m1/a")...)
	r = h.apply(jute.OpMulti, jute.AppendMultiEnd(body))
	if h.node("/m1").Czxid != r.Zxid || h.node("/m1/a").Czxid != r.Zxid {
		t.Fatal("multi ops must share the multi's zxid")
	}
}

func TestSessionCloseDeletesEphemeralsAndFiresEvents(t *testing.T) {
	h := newHarness(t, Policy{})
	h.create(jute.OpCreate, "/eph", 1, -1)
	h.create(jute.OpCreate, "/seq-", 3, -1)
	h.s.Publish()
	h.apply(jute.OpCloseSession, nil)
	v := h.s.Publish()
	if v.Tree.Count() != 4 {
		t.Fatalf("ephemerals survive their session: %d nodes", v.Tree.Count())
	}
	var deleted []string
	for _, ev := range v.Changes.Events {
		if ev.Type == jute.EventNodeDeleted {
			deleted = append(deleted, ev.Path)
		}
	}
	slices.Sort(deleted)
	if !slices.Equal(deleted, []string{"/eph", "/seq-0000000001"}) {
		t.Fatalf("deleted events %v", deleted)
	}
	if r := h.create(jute.OpCreate, "/after", 0, -1); r.Err != jute.CodeSessionExpired {
		t.Fatalf("write after close: %v", r.Err)
	}
}

func TestContainerAndTTLOwners(t *testing.T) {
	h := newHarness(t, Policy{ExtendedTypes: true})
	h.create(jute.OpCreateContainer, "/c", 0, -1)
	h.create(jute.OpCreateTTL, "/t", 5, 100)
	h.create(jute.OpCreate, "/plain4", 4, -1) // the flag alone does not make a container
	if n := h.node("/c"); !n.IsContainer() || n.EphemeralOwner() != 0 {
		t.Errorf("container owner %x", n.Owner)
	}
	if n := h.node("/t"); !n.IsTTL() || n.TTL() != 100 || n.EphemeralOwner() != 0 {
		t.Errorf("ttl owner %x", n.Owner)
	}
	if n := h.node("/plain4"); n.Owner != 0 {
		t.Errorf("create with flag 4 made owner %x", n.Owner)
	}
	got := []string{}
	h.s.Expiring(func(p string) { got = append(got, p) })
	slices.Sort(got)
	if !slices.Equal(got, []string{"/c", "/t"}) {
		t.Errorf("sweep index %v", got)
	}
	if r := h.create(jute.OpCreateTTL, "/t2", 5, maxTTL+1); r.Err != jute.CodeBadArguments {
		t.Errorf("ttl above max: %v", r.Err)
	}
	if r := h.create(jute.OpCreateTTL, "/t2", 0, 100); r.Err != jute.CodeBadArguments {
		t.Errorf("ttl with non-ttl flags: %v", r.Err)
	}
}

func TestACLChecksAndDigest(t *testing.T) {
	h := newHarness(t, Policy{})
	bob := jute.ID{Scheme: "digest", ID: DigestID("bob:secret")}
	if bob.ID != "bob:fyVmFCwVbTJYrznoSu1koqYEYF0=" { // DigestAuthenticationProvider.generateDigest
		t.Fatalf("digest %q", bob.ID)
	}
	req := jute.CreateRequest{Path: "/sec", ACL: []jute.ACL{{Perms: jute.PermRead, ID: bob}}}
	h.apply(jute.OpCreate, req.AppendCreate(nil, false))
	v := h.s.Publish()
	if _, c := v.GetData("/sec", h.ids, false, nil); c != jute.CodeNoAuth {
		t.Errorf("anonymous read: %v", c)
	}
	if _, c := v.GetData("/sec", append(h.ids, bob), false, nil); c != jute.CodeOK {
		t.Errorf("bob read: %v", c)
	}
	if _, c := v.GetData("/sec", []jute.ID{{Scheme: "super"}}, false, nil); c != jute.CodeOK {
		t.Errorf("super read: %v", c)
	}
	out, c := v.GetACL("/sec", append(h.ids, bob), false, nil)
	d := jute.NewDecoder(out)
	acls := d.ACLs()
	if c != jute.CodeOK || len(acls) != 1 || acls[0].ID.ID != "bob:x" {
		t.Errorf("getACL without ADMIN must mask digests: %v %v", c, acls)
	}
	if !ipMatches("10.1.2.3", "10.1.0.0/16") || ipMatches("10.2.2.3", "10.1.0.0/16") || !ipMatches("1.2.3.4", "9.9.9.9/0") {
		t.Error("ip matching")
	}
}

func TestValidPath(t *testing.T) {
	for p, want := range map[string]bool{
		"/": true, "/a": true, "/a/b.c": true, "/a/...": true, "/ü": true,
		"": false, "a": false, "/a/": false, "//a": false, "/a//b": false, "/./a": false,
		"/a/..": false, "/a\x00": false, "/a\x1f": false, "/a\u007f": false, "/\U0001F600": false,
		"/\xff": false, "/\ufff5": false,
	} {
		if ValidPath(p) != want {
			t.Errorf("ValidPath(%q) = %v", p, !want)
		}
	}
}

// TestJavaOrders pins the emulated Java iteration orders to what Java 17
// printed for the same inserts.
func TestJavaOrders(t *testing.T) {
	if javaStringHash("abc") != 96354 || javaStringHash("/a") != 1554 {
		t.Fatal("String.hashCode")
	}
	if javaCloneTableSize(1) != 2 || javaCloneTableSize(3) != 8 || javaTableSize(12) != 16 || javaTableSize(13) != 32 {
		t.Fatal("table sizes")
	}
	var ids []jute.ID
	for _, id := range []jute.ID{{Scheme: "ip", ID: "127.0.0.1"}, {Scheme: "digest", ID: "bob:x"},
		{Scheme: "digest", ID: "alice:y"}, {Scheme: "super", ID: ""}, {Scheme: "digest", ID: "bob:x"}} {
		ids = AddIdentity(ids, id)
	}
	want := []jute.ID{{Scheme: "super", ID: ""}, {Scheme: "ip", ID: "127.0.0.1"},
		{Scheme: "digest", ID: "bob:x"}, {Scheme: "digest", ID: "alice:y"}}
	if !slices.Equal(ids, want) {
		t.Fatalf("identity order %v, Java %v", ids, want)
	}
	s := &Session{ephemerals: map[string]int64{}}
	for i, p := range []string{"/e1", "/e2", "/a/b", "/zz", "/seq-0000000001", "/seq-0000000002"} {
		s.ephemerals[p] = int64(i)
	}
	s.maxEphemerals = len(s.ephemerals)
	if got, want := s.Ephemerals(), []string{"/a/b", "/seq-0000000001", "/seq-0000000002", "/e1", "/e2", "/zz"}; !slices.Equal(got, want) {
		t.Fatalf("ephemeral order %v, Java %v", got, want)
	}
}

func TestWatchesFireOnceAndPersist(t *testing.T) {
	w := NewWatches[string]()
	w.AddData("/a", "c1")
	w.AddChild("/", "c1")
	w.AddPersistent("/r", "c2", true)
	fired := func(ev Event) []string {
		var out []string
		w.Trigger(ev, func(c string) { out = append(out, fmt.Sprint(c, ":", ev.Type)) })
		slices.Sort(out)
		return out
	}
	if got := fired(Event{Type: jute.EventNodeDataChanged, Path: "/a"}); !slices.Equal(got, []string{"c1:3"}) {
		t.Errorf("data change %v", got)
	}
	if got := fired(Event{Type: jute.EventNodeDataChanged, Path: "/a"}); len(got) != 0 {
		t.Errorf("standard watch fired twice: %v", got)
	}
	if got := fired(Event{Type: jute.EventNodeCreated, Path: "/r/x/y"}); !slices.Equal(got, []string{"c2:1"}) {
		t.Errorf("recursive %v", got)
	}
	if got := fired(Event{Type: jute.EventNodeChildrenChanged, Path: "/r"}); len(got) != 0 {
		t.Errorf("recursive watches never get NodeChildrenChanged: %v", got)
	}
	if got := fired(Event{Type: jute.EventNodeCreated, Path: "/r/z"}); !slices.Equal(got, []string{"c2:1"}) {
		t.Errorf("recursive watch must persist: %v", got)
	}
	// A standard watch on a path replaces the connection's persistent one
	// (ZooKeeper 3.8 keeps one mode per path per connection).
	w.AddPersistent("/q", "c3", false)
	w.AddData("/q", "c3")
	fired(Event{Type: jute.EventNodeDataChanged, Path: "/q"})
	if got := fired(Event{Type: jute.EventNodeDataChanged, Path: "/q"}); len(got) != 0 {
		t.Errorf("replaced persistent watch still fires: %v", got)
	}
	// Delete fires one event per watcher across both tables.
	w.AddData("/d", "c4")
	w.AddChild("/d", "c4")
	if got := fired(Event{Type: jute.EventNodeDeleted, Path: "/d"}); !slices.Equal(got, []string{"c4:2"}) {
		t.Errorf("delete %v", got)
	}
}

// TestParentStatSurvivesLeafSplit creates children in the middle of a leaf
// that also holds their parent, so that inserting the child splits the leaf
// and moves the parent within the same batch (pages are mutated in place
// until the next Publish). The parent's stat must still be updated from its
// own values.
func TestParentStatSurvivesLeafSplit(t *testing.T) {
	h := newHarness(t, Policy{})
	for i := 0; i < 40; i++ {
		h.create(jute.OpCreate, fmt.Sprintf("/a%02d", i), 0, -1)
	}
	h.create(jute.OpCreate, "/z", 0, -1)
	h.create(jute.OpCreate, "/zz", 0, -1)
	for i := 0; i < 30; i++ {
		h.create(jute.OpCreate, fmt.Sprintf("/zz/c%02d", i), 0, -1)
	}
	h.s.Publish()
	// One batch: each child of /z lands before the /zz group.
	for i := 0; i < 40; i++ {
		if r := h.create(jute.OpCreate, fmt.Sprintf("/z/k%02d", i), 0, -1); r.Err != jute.CodeOK {
			t.Fatalf("create %d: %v", i, r.Err)
		}
	}
	v := h.s.Publish()
	z, ok := v.Tree.Get("/z")
	if !ok || z.NumChildren != 40 || z.Creates != 40 || z.Path() != "/z" {
		t.Fatalf("/z after 40 creates: ok=%v %+v", ok, z)
	}
	for i := 0; i < 40; i++ {
		if _, ok := v.Tree.Get(fmt.Sprintf("/a%02d", i)); !ok {
			t.Fatalf("/a%02d lost", i)
		}
	}
	if v.Tree.Count() != 4+40+2+30+40 {
		t.Fatalf("count %d", v.Tree.Count())
	}
}

// TestQuotaStatsFollowTheSubtree replays what Apache ZooKeeper 3.8 showed
// for a quota on /p: the stats node is rewritten in place, without a new
// version, on every change under /p.
func TestQuotaStatsFollowTheSubtree(t *testing.T) {
	h := newHarness(t, Policy{})
	create := func(path, data string) {
		req := jute.CreateRequest{Path: path, Data: []byte(data), ACL: openACL}
		if r := h.apply(jute.OpCreate, req.AppendCreate(nil, false)); r.Err != jute.CodeOK {
			t.Fatalf("create %s: %v", path, r.Err)
		}
	}
	stats := func() (string, int32) {
		n := h.node("/zookeeper/quota/p/zookeeper_stats")
		return n.Data(), n.Version
	}
	create("/p", "12345")
	create("/p/a", "xy")
	create("/zookeeper/quota/p", "")
	create("/zookeeper/quota/p/zookeeper_limits", "count=5,bytes=-1")
	create("/zookeeper/quota/p/zookeeper_stats", "count=0,bytes=0")
	steps := []struct {
		do   func()
		want string
	}{
		{func() {}, "count=2,bytes=7"},
		{func() { create("/p/b", "abc") }, "count=3,bytes=10"},
		{func() {
			h.apply(jute.OpSetData, (&jute.SetDataRequest{Path: "/p/a", Data: []byte("longer data"), Version: -1}).Append(nil))
		}, "count=3,bytes=19"},
		{func() { h.apply(jute.OpDelete, (&jute.PathVersionRequest{Path: "/p/b", Version: -1}).Append(nil)) }, "count=2,bytes=16"},
		{func() {
			for i := 0; i < 6; i++ {
				create(fmt.Sprintf("/p/e%d", i), "")
			}
		}, "count=8,bytes=16"},
	}
	for i, st := range steps {
		st.do()
		if got, version := stats(); got != st.want || version != 0 {
			t.Fatalf("step %d: stats %q version %d, want %q version 0", i, got, version, st.want)
		}
	}
	// Hard-limit keys survive a rewrite, after the stray "=".
	parsed, ok := parseStatsTrack("count=5,bytes=-1=;byteHardLimit=-1;countHardLimit=10")
	if !ok || parsed.String() != "count=5,bytes=-1=;byteHardLimit=-1;countHardLimit=10" {
		t.Fatalf("stats track round trip: %v %q", ok, parsed.String())
	}
}

// TestLocalSessionWrites checks the rule that lets a member's local
// sessions write through the log without being in it: with LocalSessions,
// a session the log does not know may write if its id names the member
// that accepted the entry, but not own an ephemeral (ZooKeeper answers
// EPHEMERALONLOCALSESSION and consumes the zxid); any other unknown session
// is expired, and without LocalSessions every unknown one is.
func TestLocalSessionWrites(t *testing.T) {
	const member = 2
	local := int64(member)<<56 | 5
	write := func(policy Policy, session int64, ref int32, path string, flags int32) Result {
		s := NewState()
		before := s.Publish().Tree.Count()
		req := jute.CreateRequest{Path: path, Data: []byte("d"), ACL: openACL, Flags: flags}
		res := s.Apply(&Entry{Time: 1, Session: session, Op: jute.OpCreate, Body: req.AppendCreate(nil, false),
			Policy: policy, Ref: Ref{Member: ref, Request: 1}})
		if res.Zxid != 1 {
			t.Errorf("create %s: zxid %#x, want the entry to consume zxid 1", path, res.Zxid)
		}
		if created := s.Publish().Tree.Count() > before; created != (res.Err == jute.CodeOK) {
			t.Errorf("create %s answered %v but created=%v", path, res.Err, created)
		}
		return res
	}
	on := Policy{LocalSessions: true}
	for _, tc := range []struct {
		name    string
		policy  Policy
		session int64
		ref     int32
		flags   int32
		want    jute.Code
	}{
		{"persistent from a local session", on, local, member, 0, jute.CodeOK},
		{"sequential from a local session", on, local, member, 2, jute.CodeOK},
		{"ephemeral from a local session", on, local, member, 1, jute.CodeEphemeralOnLocalSession},
		{"ephemeral sequential from a local session", on, local, member, 3, jute.CodeEphemeralOnLocalSession},
		{"session of another member", on, local, member + 1, 0, jute.CodeSessionExpired},
		{"entry without a member", on, local, 0, 0, jute.CodeSessionExpired},
		{"local sessions off", Policy{}, local, member, 0, jute.CodeSessionExpired},
		{"ephemeral, local sessions off", Policy{}, local, member, 1, jute.CodeSessionExpired},
	} {
		if got := write(tc.policy, tc.session, tc.ref, "/n", tc.flags).Err; got != tc.want {
			t.Errorf("%s: %v, want %v", tc.name, got, tc.want)
		}
	}
	// A policy word carries the bit through the log.
	b := AppendRefBatch(nil, on, []*Entry{{Op: jute.OpCreate, Session: local, Ref: Ref{Member: member, Request: 1}}})
	if _, es, err := DecodeBatch(b); err != nil || len(es) != 1 || !es[0].Policy.LocalSessions {
		t.Fatalf("decoded %+v (%v), want an entry with LocalSessions", es, err)
	}
}
