package checkpoint

import (
	"math/rand/v2"
	"reflect"
	"testing"

	"github.com/meerkat-zk/meerkat/engine"
	"github.com/meerkat-zk/meerkat/engine/enginetest"
)

// TestCheckpointPlusReplayRebuildsTheSameState is the durability model on
// real pebble: deltas of random batches of every kind of write (ACLs,
// sessions opened and closed included) are written to the store, which is
// flushed now and then; the store is closed, reopened and loaded, and the
// entries after the last flush are replayed, as a restart does with the
// log. Whatever the cuts, the rebuilt state must equal the original (stats,
// data, ACLs, sessions and their ephemerals, what awaits the sweep), down to
// each znode's ACL reference, and replay must give the results the original
// Apply gave. Half the seeds use many short-lived ACL lists, which the
// table frees and whose slots it reuses.
func TestCheckpointPlusReplayRebuildsTheSameState(t *testing.T) {
	for seed := uint64(1); seed <= 12; seed++ {
		acls := enginetest.FewACLs
		if seed%2 == 0 {
			acls = enginetest.ManyACLs
		}
		entries := enginetest.RandomEntriesWith(seed, 300, engine.Policy{ExtendedTypes: true}, acls)
		rng := rand.New(rand.NewPCG(seed, 99))
		dir := t.TempDir()
		st, err := Open(dir, quiet, func(err error) { t.Error(err) })
		if err != nil {
			t.Fatal(err)
		}
		orig := engine.NewState()
		var results []engine.Result
		flushedAt := 0 // entries applied at the last flush
		for i := 0; i < len(entries); {
			for batch := 1 + rng.IntN(20); batch > 0 && i < len(entries); batch-- {
				results = append(results, orig.Apply(entries[i]))
				i++
			}
			v := orig.Publish()
			if rng.IntN(3) != 0 {
				continue
			}
			if err := st.Write(orig.TakeDelta(v)); err != nil {
				t.Fatal(err)
			}
			if rng.IntN(2) == 0 {
				if err := st.Flush(); err != nil {
					t.Fatal(err)
				}
				flushedAt = i
			}
		}
		st.Close()

		st, err = Open(dir, quiet, func(err error) { t.Error(err) })
		if err != nil {
			t.Fatal(err)
		}
		restored, err := st.Load()
		st.Close()
		if err != nil {
			t.Fatal(err)
		}
		if restored == nil {
			if flushedAt > 0 {
				t.Fatalf("seed %d: nothing loaded though the store was flushed after %d entries", seed, flushedAt)
			}
			restored = engine.NewState()
		}
		for i := flushedAt; i < len(entries); i++ {
			if r := restored.Apply(entries[i]); !reflect.DeepEqual(r, results[i]) {
				t.Fatalf("seed %d: replay of entry %d (%v) gave %+v, originally %+v", seed, i, entries[i].Op, r, results[i])
			}
		}
		if a, b := enginetest.ImageOf(orig), enginetest.ImageOf(restored); !reflect.DeepEqual(a, b) {
			t.Fatalf("seed %d: restored state differs from the original\norig %+v\nrest %+v", seed, a, b)
		}
		if !reflect.DeepEqual(encodings(orig), encodings(restored)) {
			t.Fatalf("seed %d: the restored state gives znodes other ACL references than the original", seed)
		}
	}
}
