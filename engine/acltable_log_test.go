package engine_test

import (
	"math/rand/v2"
	"reflect"
	"slices"
	"testing"

	"github.com/meerkat-zk/meerkat/engine"
	"github.com/meerkat-zk/meerkat/engine/enginetest"
	"github.com/meerkat-zk/meerkat/jute"
)

// reload returns a state rebuilt from a full image of s, as a restart from
// a checkpoint or an install from a snapshot builds it.
func reload(t *testing.T, s *engine.State) *engine.State {
	t.Helper()
	v := s.Publish()
	d := s.FullDelta(v)
	l := engine.NewLoader()
	for _, e := range d.ACLs {
		if err := l.AddACL(e.Ref, e.List); err != nil {
			t.Fatal(err)
		}
	}
	for _, p := range d.Paths {
		n, _ := v.Tree.Get(p)
		if err := l.AddNode(p, engine.AppendNode(nil, n)); err != nil {
			t.Fatal(err)
		}
	}
	for _, r := range d.Sessions {
		l.AddSession(r.ID, r.Timeout)
	}
	r, err := l.Finish(s.Zxid())
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// refsOf returns each znode's ACL reference, and the table's slots.
func refsOf(s *engine.State) (map[string]uint32, [][]jute.ACL) {
	v := s.Publish()
	refs := map[string]uint32{}
	v.Tree.All(func(n *engine.Node) bool {
		refs[n.Path()] = engine.ACLRef(n)
		return true
	})
	table := v.ACLTable()
	// Slots past the last in use are free either way; a reloaded table
	// does not know of them.
	for len(table) > 0 && table[len(table)-1] == nil {
		table = table[:len(table)-1]
	}
	return refs, table
}

// TestACLReferencesAreAFunctionOfTheLog applies one log to three states: one
// that publishes after every entry, one that publishes in random batches,
// and one rebuilt from a full image now and then (a restart). References
// are on disk, so all three must give every znode the same reference,
// and hold the same lists in the same slots, after every batch.
func TestACLReferencesAreAFunctionOfTheLog(t *testing.T) {
	for seed := uint64(1); seed <= 6; seed++ {
		entries := enginetest.RandomEntriesWith(seed, 1500, engine.Policy{ExtendedTypes: true}, enginetest.ManyACLs)
		rng := rand.New(rand.NewPCG(seed, 5))
		a, b, c := engine.NewState(), engine.NewState(), engine.NewState()
		freed := map[uint32]bool{}
		reused := 0
		for i := 0; i < len(entries); {
			for batch := 1 + rng.IntN(30); batch > 0 && i < len(entries); batch-- {
				ra := a.Apply(entries[i])
				a.Publish()
				if rb, rc := b.Apply(entries[i]), c.Apply(entries[i]); !reflect.DeepEqual(ra, rb) || !reflect.DeepEqual(ra, rc) {
					t.Fatalf("seed %d entry %d: results %+v, %+v, %+v", seed, i, ra, rb, rc)
				}
				i++
			}
			if rng.IntN(4) == 0 {
				c = reload(t, c)
			}
			refsA, tableA := refsOf(a)
			refsB, tableB := refsOf(b)
			refsC, tableC := refsOf(c)
			if !reflect.DeepEqual(refsA, refsB) || !reflect.DeepEqual(refsA, refsC) {
				t.Fatalf("seed %d after entry %d: references differ\n%v\n%v\n%v", seed, i, refsA, refsB, refsC)
			}
			if !reflect.DeepEqual(tableA, tableB) || !reflect.DeepEqual(tableA, tableC) {
				t.Fatalf("seed %d after entry %d: tables differ\n%v\n%v\n%v", seed, i, tableA, tableB, tableC)
			}
			for ref, list := range tableA {
				if list == nil {
					freed[uint32(ref)] = true
				} else if freed[uint32(ref)] {
					reused++
					delete(freed, uint32(ref))
				}
			}
		}
		if reused == 0 {
			t.Fatalf("seed %d: no slot was freed and taken again: the test proves nothing", seed)
		}
	}
}

// TestRandomWorkloadACLsAgainstAGrowOnlyTable applies random writes of every
// kind, with many short-lived lists, to a counting table and to one whose
// every list is pinned (it only grows). After every entry both must give
// the same results and every znode the same list, the counts must equal a
// recount from the tree, and versions published along the way must still
// resolve their znodes to the lists they had.
func TestRandomWorkloadACLsAgainstAGrowOnlyTable(t *testing.T) {
	type kept struct {
		v    *engine.View
		acls map[string][]jute.ACL
	}
	for seed := uint64(1); seed <= 5; seed++ {
		entries := enginetest.RandomEntriesWith(seed, 1500, engine.Policy{ExtendedTypes: true}, enginetest.ManyACLs)
		s, grow := engine.NewState(), engine.NewState()
		pinned := map[uint32]bool{}
		var views []kept
		freed := 0
		for i, e := range entries {
			live := s.Publish().ACLCount()
			r := s.Apply(e)
			if s.Publish().ACLCount() < live {
				freed++
			}
			if rg := grow.Apply(e); !reflect.DeepEqual(r, rg) {
				t.Fatalf("seed %d entry %d (%v): %+v, the grow-only table's state gave %+v", seed, i, e.Op, r, rg)
			}
			engine.PinACLs(grow, pinned)
			v, vg := s.Publish(), grow.Publish()
			got := map[string][]jute.ACL{}
			v.Tree.All(func(n *engine.Node) bool {
				got[n.Path()] = v.ACL(n)
				return true
			})
			want := map[string][]jute.ACL{}
			vg.Tree.All(func(n *engine.Node) bool {
				want[n.Path()] = vg.ACL(n)
				return true
			})
			if !reflect.DeepEqual(got, want) {
				t.Fatalf("seed %d entry %d (%v): ACLs\n%v\nthe grow-only table's\n%v", seed, i, e.Op, got, want)
			}
			engine.CheckACLTable(t, s)
			if i%100 == 0 {
				views = append(views, kept{v, got})
			}
		}
		if freed == 0 {
			t.Fatalf("seed %d: nothing was freed", seed)
		}
		for k, kv := range views {
			kv.v.Tree.All(func(n *engine.Node) bool {
				if got := kv.v.ACL(n); !slices.Equal(got, kv.acls[n.Path()]) {
					t.Fatalf("seed %d: version %d now gives %s the ACL %v, it had %v", seed, k, n.Path(), got, kv.acls[n.Path()])
				}
				return true
			})
		}
	}
}
