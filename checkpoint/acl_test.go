package checkpoint

import (
	"encoding/binary"
	"fmt"
	"maps"
	"reflect"
	"slices"
	"testing"

	"github.com/meerkat-zk/meerkat/engine"
	"github.com/meerkat-zk/meerkat/jute"
)

// storedACLs returns the ACL lists the store holds, by reference.
func storedACLs(t *testing.T, st *Store) map[uint32][]jute.ACL {
	t.Helper()
	it, err := st.db.NewIter(nil)
	if err != nil {
		t.Fatal(err)
	}
	defer it.Close()
	out := map[uint32][]jute.ACL{}
	for ok := it.SeekGE([]byte{'a'}); ok && it.Key()[0] == 'a'; ok = it.Next() {
		out[binary.BigEndian.Uint32(it.Key()[1:])] = jute.NewDecoder(it.Value()).ACLs()
	}
	return out
}

// usedACLs returns the lists the znodes of s use, by reference.
func usedACLs(s *engine.State) map[uint32][]jute.ACL {
	v := s.Publish()
	out := map[uint32][]jute.ACL{}
	v.Tree.All(func(n *engine.Node) bool {
		out[aclRefOf(n)] = v.ACL(n)
		return true
	})
	return out
}

// aclRefOf reads n's ACL reference out of its stored encoding (after six
// longs and four ints).
func aclRefOf(n *engine.Node) uint32 {
	return binary.BigEndian.Uint32(engine.AppendNode(nil, n)[6*8+4*4:])
}

// encodings returns each znode's stored encoding, ACL reference included.
func encodings(s *engine.State) map[string]string {
	v := s.Publish()
	out := map[string]string{}
	v.Tree.All(func(n *engine.Node) bool {
		out[n.Path()] = string(engine.AppendNode(nil, n))
		return true
	})
	return out
}

func digestACL(user string) []jute.ACL {
	return []jute.ACL{{Perms: jute.PermAll, ID: jute.ID{Scheme: "digest", ID: user + ":h"}}, engine.OpenACL[0]}
}

// TestFreedACLsLeaveTheStore creates znodes with lists of their own and
// deletes them again, checkpointing along the way: the store must end with
// only the lists in use, load as the same state, and the loaded state must
// go on giving new lists the references the original gives them.
func TestFreedACLsLeaveTheStore(t *testing.T) {
	dir := t.TempDir()
	st, err := Open(dir, quiet, func(err error) { t.Error(err) })
	if err != nil {
		t.Fatal(err)
	}
	w := &world{s: engine.NewState()}
	w.apply(jute.OpCreateSession, 7, jute.AppendInt(nil, 4000))
	write := func() {
		t.Helper()
		if err := st.Write(w.s.TakeDelta(w.s.Publish())); err != nil {
			t.Fatal(err)
		}
	}
	write()
	for round := range 3 {
		for i := range 200 {
			w.create(fmt.Sprintf("/n%d", i), 0, digestACL(fmt.Sprintf("r%du%d", round, i)))
		}
		write()
		if got, want := storedACLs(t, st), usedACLs(w.s); !reflect.DeepEqual(got, want) || len(got) != 202 {
			t.Fatalf("round %d: the store holds %d lists, the znodes use %d", round, len(got), len(want))
		}
		for i := range 200 {
			w.apply(jute.OpDelete, 7, (&jute.PathVersionRequest{Path: fmt.Sprintf("/n%d", i), Version: -1}).Append(nil))
		}
		write()
	}
	if err := st.Flush(); err != nil {
		t.Fatal(err)
	}
	want := map[uint32][]jute.ACL{0: engine.OpenACL, 1: engine.ReadACL}
	if got := storedACLs(t, st); !reflect.DeepEqual(got, want) {
		t.Fatalf("after the deletes the store holds the ACLs %v, want %v", got, want)
	}
	st.Close()

	st, err = Open(dir, quiet, func(err error) { t.Error(err) })
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	loaded, err := st.Load()
	if err != nil {
		t.Fatal(err)
	}
	if got := loaded.Publish().ACLCount(); got != 2 {
		t.Fatalf("the loaded state uses %d ACL lists, want 2", got)
	}
	if got, want := snapshotOf(loaded), snapshotOf(w.s); !reflect.DeepEqual(got, want) {
		t.Fatalf("loaded %v, want %v", got, want)
	}
	other := &world{s: loaded, time: w.time}
	for i := range 50 {
		for _, x := range []*world{w, other} {
			x.create(fmt.Sprintf("/m%d", i), 0, digestACL(fmt.Sprintf("m%d", i)))
			if i%3 == 0 {
				x.apply(jute.OpDelete, 7, (&jute.PathVersionRequest{Path: fmt.Sprintf("/m%d", i-3), Version: -1}).Append(nil))
			}
		}
	}
	if got, want := encodings(other.s), encodings(w.s); !reflect.DeepEqual(got, want) {
		t.Fatal("the loaded state gave new lists other references than the original")
	}
}

// TestStoreFromBeforeListsWereFreedLoads loads a store as a build that
// never freed a list wrote it: every list ever used, some of them by no
// znode. It loads; the first write after drops the unused lists; a new list
// takes the lowest slot one of them left.
func TestStoreFromBeforeListsWereFreedLoads(t *testing.T) {
	st, err := Open(t.TempDir(), quiet, func(err error) { t.Error(err) })
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	w := &world{s: engine.NewState()}
	w.apply(jute.OpCreateSession, 7, jute.AppendInt(nil, 4000))
	w.create("/x", 0, digestACL("x"))
	v := w.s.Publish()
	old := w.s.FullDelta(v)
	if len(old.ACLs) != 3 || old.ACLs[2].Ref != 2 {
		t.Fatalf("ACLs %v", old.ACLs)
	}
	old.ACLs = append(old.ACLs, engine.ACLEntry{Ref: 3, List: digestACL("gone")}, engine.ACLEntry{Ref: 4, List: digestACL("gone too")})
	old.Reset = false
	if err := st.Write(old); err != nil {
		t.Fatal(err)
	}
	loaded, err := st.Load()
	if err != nil {
		t.Fatal(err)
	}
	if got, want := snapshotOf(loaded), snapshotOf(w.s); !reflect.DeepEqual(got, want) {
		t.Fatalf("loaded %v, want %v", got, want)
	}
	if got := loaded.Publish().ACLCount(); got != 3 {
		t.Fatalf("the loaded state uses %d ACL lists, want 3", got)
	}
	if err := st.Write(loaded.TakeDelta(loaded.Publish())); err != nil {
		t.Fatal(err)
	}
	if got, want := storedACLs(t, st), usedACLs(loaded); !reflect.DeepEqual(got, want) {
		t.Fatalf("after the first write the store holds the ACLs %v, want %v", got, want)
	}
	lw := &world{s: loaded, time: w.time}
	lw.create("/y", 0, digestACL("y"))
	n, _ := loaded.Publish().Tree.Get("/y")
	if ref := aclRefOf(n); ref != 3 {
		t.Fatalf("a new list took slot %d, want 3, the lowest free", ref)
	}
	if refs := slices.Sorted(maps.Keys(usedACLs(loaded))); !slices.Equal(refs, []uint32{0, 1, 2, 3}) {
		t.Fatalf("references in use %v", refs)
	}
}
