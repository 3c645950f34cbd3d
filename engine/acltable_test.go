package engine

import (
	"fmt"
	"reflect"
	"runtime"
	"slices"
	"sync"
	"testing"

	"github.com/meerkat-zk/meerkat/jute"
)

// userACL is a list no other test list equals: everything for one digest
// user, and for everyone too, so that anonymous writes get past it.
func userACL(user string) []jute.ACL {
	return []jute.ACL{
		{Perms: jute.PermAll, ID: jute.ID{Scheme: "digest", ID: user + ":h"}},
		{Perms: jute.PermAll, ID: jute.ID{Scheme: "world", ID: "anyone"}},
	}
}

func createBody(path string, flags int32, acl []jute.ACL) []byte {
	return (&jute.CreateRequest{Path: path, Data: []byte("d"), ACL: acl, Flags: flags}).AppendCreate(nil, false)
}

func deleteBody(path string) []byte {
	return (&jute.PathVersionRequest{Path: path, Version: -1}).Append(nil)
}

func inMulti(code jute.OpCode, rec []byte) []byte {
	return append((&jute.MultiHeader{Type: code, Err: -1}).Append(nil), rec...)
}

// must applies and fails the test unless the entry succeeded.
func (h *harness) must(op jute.OpCode, body []byte) Result {
	h.t.Helper()
	r := h.apply(op, body)
	if r.Err != jute.CodeOK {
		h.t.Fatalf("%v: %v", op, r.Err)
	}
	return r
}

// checkACLTable checks the table against the tree it serves: each slot's
// count is the number of znodes that refer to it, a slot is in use exactly
// when some znode refers to it, the index names every list in use, the
// free heap holds exactly the free slots, and the published version agrees.
func checkACLTable(t testing.TB, s *State) {
	t.Helper()
	v := s.Publish()
	tab := s.acls
	counts := make([]uint32, tab.n)
	v.Tree.All(func(n *Node) bool {
		if n.acl >= tab.n {
			t.Fatalf("%s refers to ACL %d beyond the table (%d slots)", n.Path(), n.acl, tab.n)
		}
		counts[n.acl]++
		return true
	})
	for ref := range tab.n {
		if tab.count(ref) != counts[ref] {
			t.Fatalf("ACL %d counts %d znodes, a recount from the tree gives %d", ref, tab.count(ref), counts[ref])
		}
	}
	live := 0
	var free []uint32
	for ref := range tab.n {
		list := tab.get(ref)
		switch {
		case counts[ref] > 0 && list == nil:
			t.Fatalf("ACL %d is free though %d znodes refer to it", ref, counts[ref])
		case counts[ref] == 0 && list != nil:
			t.Fatalf("ACL %d (%v) is kept though no znode refers to it", ref, list)
		case list == nil:
			free = append(free, ref)
			continue
		}
		live++
		if got := tab.index[string(jute.AppendACLs(nil, list))]; got != ref {
			t.Fatalf("the index names ACL %d for the list in slot %d", got, ref)
		}
		if !slices.Equal(v.acls.get(ref), list) {
			t.Fatalf("the published version holds %v in slot %d, the writer %v", v.acls.get(ref), ref, list)
		}
	}
	if live != tab.live || live != v.ACLCount() || len(tab.index) != live {
		t.Fatalf("%d lists in use, the table counts %d (%d published, %d indexed)", live, tab.live, v.ACLCount(), len(tab.index))
	}
	known := slices.Clone(tab.free)
	for _, g := range tab.gaps {
		for ref := g.lo; ref < g.hi; ref++ {
			known = append(known, ref)
		}
	}
	slices.Sort(known)
	if !slices.Equal(known, free) {
		t.Fatalf("free heap %v and gaps %v, free slots %v", tab.free, tab.gaps, free)
	}
}

// TestACLTableFreesWhatNoZnodeUses is the workload: znodes created
// with ever-new ACL lists and deleted again, by every path that drops a
// znode. The table must come back to the two well-known lists each time,
// reuse its slots rather than grow, and a full checkpoint image must hold
// only the lists in use.
func TestACLTableFreesWhatNoZnodeUses(t *testing.T) {
	const n = 300
	for _, tc := range []struct {
		name string
		// make creates the znodes with their lists; drop removes them (or
		// moves them off their lists).
		make, drop func(h *harness, round int)
	}{
		{"delete", func(h *harness, round int) {
			for i := range n {
				h.must(jute.OpCreate, createBody(fmt.Sprintf("/n%d", i), 0, userACL(fmt.Sprintf("r%du%d", round, i))))
			}
		}, func(h *harness, round int) {
			for i := range n {
				h.must(jute.OpDelete, deleteBody(fmt.Sprintf("/n%d", i)))
			}
		}},
		{"setACL", func(h *harness, round int) {
			for i := range n {
				p := fmt.Sprintf("/n%d", i)
				if round == 0 {
					h.must(jute.OpCreate, createBody(p, 0, OpenACL))
				}
				h.must(jute.OpSetACL, (&jute.SetACLRequest{Path: p, ACL: userACL(fmt.Sprintf("r%du%d", round, i)), Version: -1}).Append(nil))
			}
		}, func(h *harness, round int) {
			for i := range n {
				h.must(jute.OpSetACL, (&jute.SetACLRequest{Path: fmt.Sprintf("/n%d", i), ACL: OpenACL, Version: -1}).Append(nil))
			}
		}},
		{"closeSession", func(h *harness, round int) {
			h.sess = int64(100 + round)
			h.must(jute.OpCreateSession, jute.AppendInt(nil, 30000))
			for i := range n {
				h.must(jute.OpCreate, createBody(fmt.Sprintf("/e%d", i), modeEphemeral, userACL(fmt.Sprintf("r%du%d", round, i))))
			}
		}, func(h *harness, round int) {
			h.must(jute.OpCloseSession, nil)
		}},
		{"container sweep", func(h *harness, round int) {
			for i := range n {
				h.must(jute.OpCreateContainer, createBody(fmt.Sprintf("/c%d", i), modeContainer, userACL(fmt.Sprintf("r%du%d", round, i))))
			}
		}, func(h *harness, round int) {
			for i := range n {
				h.must(jute.OpDeleteContainer, []byte(fmt.Sprintf("/c%d", i)))
			}
		}},
		{"failed multi", func(h *harness, round int) {
			var body []byte
			for i := range n {
				body = append(body, inMulti(jute.OpCreate, createBody(fmt.Sprintf("/m%d", i), 0, userACL(fmt.Sprintf("r%du%d", round, i))))...)
			}
			body = append(body, inMulti(jute.OpCheck, (&jute.PathVersionRequest{Path: "/m0", Version: 7}).Append(nil))...)
			h.must(jute.OpMulti, jute.AppendMultiEnd(body))
			if _, ok := h.s.Publish().Tree.Get("/m0"); ok {
				t.Fatal("the failed multi left /m0")
			}
		}, func(h *harness, round int) {}},
		{"multi", func(h *harness, round int) {
			var body []byte
			for i := range n {
				body = append(body, inMulti(jute.OpCreate, createBody(fmt.Sprintf("/m%d", i), 0, userACL(fmt.Sprintf("r%du%d", round, i))))...)
			}
			h.must(jute.OpMulti, jute.AppendMultiEnd(body))
		}, func(h *harness, round int) {
			// Delete each and create it again under a new list, in one
			// multi: the freed lists' slots go to the new lists only after.
			var body []byte
			for i := range n {
				p := fmt.Sprintf("/m%d", i)
				body = append(body, inMulti(jute.OpDelete, deleteBody(p))...)
				body = append(body, inMulti(jute.OpCreate, createBody(p, 0, userACL(fmt.Sprintf("x%du%d", round, i))))...)
			}
			h.must(jute.OpMulti, jute.AppendMultiEnd(body))
			body = nil
			for i := range n {
				body = append(body, inMulti(jute.OpDelete, deleteBody(fmt.Sprintf("/m%d", i)))...)
			}
			h.must(jute.OpMulti, jute.AppendMultiEnd(body))
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness(t, Policy{})
			if got := h.s.Publish().ACLCount(); got != 2 {
				t.Fatalf("a fresh state uses %d ACL lists, want 2", got)
			}
			var slots uint32
			for round := range 3 {
				tc.make(h, round)
				checkACLTable(t, h.s)
				tc.drop(h, round)
				checkACLTable(t, h.s)
				v := h.s.Publish()
				if got := v.ACLCount(); got != 2 {
					t.Fatalf("round %d: %d ACL lists left, want the 2 well-known ones", round, got)
				}
				if round == 0 {
					slots = h.s.acls.n
				} else if h.s.acls.n != slots {
					t.Fatalf("round %d: the table grew from %d slots to %d", round, slots, h.s.acls.n)
				}
				image := h.s.FullDelta(v).ACLs
				if want := []ACLEntry{{Ref: aclOpen, List: OpenACL}, {Ref: aclRead, List: ReadACL}}; !reflect.DeepEqual(image, want) {
					t.Fatalf("round %d: a full image holds the ACLs %v, want %v", round, image, want)
				}
			}
		})
	}
}

// TestDeltasDeleteFreedLists follows the ACL part of the deltas through
// lists taken, freed and their slots reused: replaying them onto a map, as
// a checkpoint does onto its keys, must leave exactly the lists in use.
func TestDeltasDeleteFreedLists(t *testing.T) {
	h := newHarness(t, Policy{})
	stored := map[uint32][]jute.ACL{}
	save := func() {
		for _, e := range h.s.TakeDelta(h.s.Publish()).ACLs {
			if e.List == nil {
				delete(stored, e.Ref)
			} else {
				stored[e.Ref] = e.List
			}
		}
		want := map[uint32][]jute.ACL{}
		v := h.s.Publish()
		v.Tree.All(func(n *Node) bool {
			want[n.acl] = v.ACL(n)
			return true
		})
		if !reflect.DeepEqual(stored, want) {
			t.Fatalf("the deltas leave the ACLs %v, the znodes use %v", stored, want)
		}
	}
	save()
	for round := range 4 {
		for i := range 50 {
			h.must(jute.OpCreate, createBody(fmt.Sprintf("/r%dn%d", round, i), 0, userACL(fmt.Sprintf("r%du%d", round, i))))
			if i%7 == 0 {
				save()
			}
		}
		for i := range 50 {
			if round == 0 || i%3 != 0 {
				h.must(jute.OpDelete, deleteBody(fmt.Sprintf("/r%dn%d", round, i)))
			}
			if i%11 == 0 {
				save()
			}
		}
		save()
	}
}

// TestOldViewKeepsItsACLsWhenSlotsAreReused holds a version while the
// writer deletes every znode of it, which frees their lists, and creates
// others whose new lists take the same slots. Readers of the old version,
// running meanwhile (run it with -race), must go on seeing each znode's own
// list: a slot reused under them would check the wrong ACL.
func TestOldViewKeepsItsACLsWhenSlotsAreReused(t *testing.T) {
	const n = 500
	h := newHarness(t, Policy{})
	for i := range n {
		h.must(jute.OpCreate, createBody(fmt.Sprintf("/old%d", i), 0, userACL(fmt.Sprintf("old%d", i))))
	}
	old := h.s.Publish()
	want := map[string][]jute.ACL{}
	oldRefs := map[uint32]bool{}
	old.Tree.All(func(n *Node) bool {
		want[n.Path()] = slices.Clone(old.ACL(n))
		oldRefs[n.acl] = true
		return true
	})
	check := func() error {
		for p, acl := range want {
			n, ok := old.Tree.Get(p)
			if !ok {
				return fmt.Errorf("%s gone from the old version", p)
			}
			if got := old.ACL(n); !slices.Equal(got, acl) {
				return fmt.Errorf("the old version's %s has ACL %v, want %v", p, got, acl)
			}
		}
		return nil
	}
	stop := make(chan struct{})
	errs := make(chan error, 2)
	var wg sync.WaitGroup
	for range 2 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				select {
				case <-stop:
					errs <- nil
					return
				default:
				}
				if err := check(); err != nil {
					errs <- err
					return
				}
			}
		}()
	}
	reused := 0
	for i := range n {
		h.must(jute.OpDelete, deleteBody(fmt.Sprintf("/old%d", i)))
		p := fmt.Sprintf("/new%d", i)
		h.must(jute.OpCreate, createBody(p, 0, userACL(fmt.Sprintf("new%d", i))))
		if i%10 == 9 {
			if n, _ := h.s.Publish().Tree.Get(p); oldRefs[n.acl] {
				reused++
			}
		}
	}
	close(stop)
	wg.Wait()
	for range 2 {
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
	}
	if err := check(); err != nil {
		t.Fatal(err)
	}
	if reused == 0 {
		t.Fatal("no new list took an old list's slot: the test proves nothing")
	}
	if got := h.s.Publish().ACLCount(); got != n+2 {
		t.Fatalf("%d ACL lists in use, want %d", got, n+2)
	}
	checkACLTable(t, h.s)
}

// TestLoaderDropsListsNoZnodeUses loads an image written before lists were
// freed: every list ever used, in order, most of them unused, and one list
// twice. The loaded table keeps only what the znodes use, the unused ones go
// in the next delta's deletions, and new lists take the lowest free slots.
func TestLoaderDropsListsNoZnodeUses(t *testing.T) {
	l := NewLoader()
	lists := [][]jute.ACL{OpenACL, ReadACL, userACL("a"), userACL("b"), userACL("c"), userACL("a"), userACL("d")}
	for i, acl := range lists {
		if err := l.AddACL(uint32(i), acl); err != nil {
			t.Fatal(err)
		}
	}
	for path, ref := range map[string]uint32{"/": 0, "/x": 3, "/y": 5, "/z": 6} {
		n := NewNode(path, nil, ref)
		if path == "/" {
			n.NumChildren = 3
		}
		l.Put(n)
	}
	s, err := l.Finish(10)
	if err != nil {
		t.Fatal(err)
	}
	checkACLTable(t, s)
	d := s.TakeDelta(s.Publish())
	if want := []ACLEntry{{Ref: 1}, {Ref: 2}, {Ref: 4}}; !reflect.DeepEqual(d.ACLs, want) {
		t.Fatalf("the first delta after the load holds ACLs %v, want the deletions %v", d.ACLs, want)
	}
	if ref := s.acls.intern(userACL("e")); ref != 1 {
		t.Fatalf("a new list took slot %d, want the lowest free one, 1", ref)
	}
	if ref := s.acls.intern(userACL("a")); ref != 5 {
		t.Fatalf("list a, kept at 5 (its first copy at 2 was unused), was given %d", ref)
	}

	l = NewLoader()
	if err := l.AddACL(3, OpenACL); err != nil {
		t.Fatal(err)
	}
	if err := l.AddACL(2, OpenACL); err == nil {
		t.Fatal("a reference below the last one loaded was taken")
	}
	l.Put(NewNode("/", nil, 1))
	if _, err := l.Finish(1); err == nil {
		t.Fatal("a znode that refers to a free slot was loaded")
	}
}

// TestLoaderMemoryFollowsTheRecords loads an image whose references are far
// apart, as a damaged store may claim: the load must cost memory for the
// records it holds, not for the references they name, and a table that
// ends in free slots ends at its last slot in use.
func TestLoaderMemoryFollowsTheRecords(t *testing.T) {
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	l := NewLoader()
	for _, e := range []ACLEntry{{0, OpenACL}, {maxACLRef - 1, userACL("far")}, {maxACLRef, userACL("unused")}} {
		if err := l.AddACL(e.Ref, e.List); err != nil {
			t.Fatal(err)
		}
	}
	root := NewNode("/", nil, 0)
	root.NumChildren = 1
	l.Put(root)
	l.Put(NewNode("/far", nil, maxACLRef-1))
	s, err := l.Finish(1)
	if err != nil {
		t.Fatal(err)
	}
	v := s.Publish()
	d := s.TakeDelta(v)
	full := s.FullDelta(v)
	runtime.ReadMemStats(&after)
	if grew := after.TotalAlloc - before.TotalAlloc; grew > 1<<20 {
		t.Fatalf("loading 3 lists allocated %d bytes", grew)
	}
	if s.acls.n != maxACLRef {
		t.Fatalf("the table ends at %d, want %d, past its last slot in use", s.acls.n, maxACLRef)
	}
	if want := []ACLEntry{{Ref: maxACLRef}}; !reflect.DeepEqual(d.ACLs, want) {
		t.Fatalf("the first delta holds ACLs %v, want the deletion %v", d.ACLs, want)
	}
	if want := []ACLEntry{{0, OpenACL}, {maxACLRef - 1, userACL("far")}}; !reflect.DeepEqual(full.ACLs, want) {
		t.Fatalf("a full image holds ACLs %v, want %v", full.ACLs, want)
	}
	n, _ := v.Tree.Get("/far")
	if got := v.ACL(n); !slices.Equal(got, userACL("far")) {
		t.Fatalf("/far has ACL %v", got)
	}
	if ref := s.acls.intern(userACL("new")); ref != 1 {
		t.Fatalf("a new list took slot %d, want 1", ref)
	}
}
