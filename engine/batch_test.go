package engine_test

import (
	"reflect"
	"strings"
	"testing"

	"github.com/meerkat-zk/meerkat/engine"
	"github.com/meerkat-zk/meerkat/engine/enginetest"
	"github.com/meerkat-zk/meerkat/jute"
)

func TestBatchRoundTrip(t *testing.T) {
	for _, policy := range []engine.Policy{{}, {ExtendedTypes: true, EnforceQuota: true}, {SkipACL: true, ReconfigEnabled: true},
		{ExtendedTypes: true, SkipACL: true, ReconfigEnabled: true, EnforceQuota: true}} {
		entries := enginetest.RandomEntries(3, 50, policy)
		// Identities repeat from entry to entry, differ, or are absent:
		// the decoder shares the strings of repeats.
		identities := [][]jute.ID{
			{{Scheme: "ip", ID: "127.0.0.1"}, {Scheme: "digest", ID: "bob:x"}},
			{{Scheme: "ip", ID: "127.0.0.1"}, {Scheme: "digest", ID: "bob:x"}},
			{{Scheme: "ip", ID: "127.0.0.2"}},
			nil,
			{{Scheme: "ip", ID: "127.0.0.2"}, {Scheme: "ip", ID: "127.0.0.1"}, {Scheme: "digest", ID: "eve:y"}},
		}
		for i, e := range entries {
			e.Identities = identities[i%len(identities)]
		}
		b := engine.AppendBatch(nil, 42, policy, entries)
		first, got, err := engine.DecodeBatch(b)
		if err != nil || first != 42 || len(got) != len(entries) {
			t.Fatalf("decode: %v first %d n %d", err, first, len(got))
		}
		for i := range got {
			if !reflect.DeepEqual(&got[i], entries[i]) {
				t.Fatalf("entry %d: %+v != %+v", i, got[i], *entries[i])
			}
		}
		if _, _, err := engine.DecodeBatch(b[:len(b)-1]); err == nil {
			t.Fatal("a truncated batch decoded")
		}
	}
}

// TestBatchWithoutPolicyIsRefused: a batch as written before batches
// carried their policy must not be applied with a guessed one.
func TestBatchWithoutPolicyIsRefused(t *testing.T) {
	entry := &engine.Entry{Time: 1, Session: 7, Op: jute.OpCreate,
		Body: (&jute.CreateRequest{Path: "/a", ACL: engine.OpenACL}).AppendCreate(nil, false)}
	b := engine.AppendBatch(nil, 5, engine.Policy{}, []*engine.Entry{entry})
	old := append(append([]byte(nil), b[:12]...), b[16:]...) // without the policy word
	if _, _, err := engine.DecodeBatch(old); err == nil || !strings.Contains(err.Error(), "policy") {
		t.Fatalf("a batch without a policy word: %v", err)
	}
}

// TestReplayDecidesByTheLoggedPolicy applies the same logged writes as a
// replica, or a replay after a restart, would: a TTL create succeeds or
// fails as the accepting server's policy said, not as the replaying one's
// configuration would.
func TestReplayDecidesByTheLoggedPolicy(t *testing.T) {
	ttl := (&jute.CreateRequest{Path: "/t", ACL: engine.OpenACL, Flags: 5, TTL: 1000}).AppendCreate(nil, true)
	for _, extended := range []bool{true, false} {
		policy := engine.Policy{ExtendedTypes: extended}
		entries := []*engine.Entry{
			{Time: 1, Session: 7, Op: jute.OpCreateSession, Body: jute.AppendInt(nil, 30000), Policy: policy},
			{Time: 2, Session: 7, Op: jute.OpCreateTTL, Body: ttl, Policy: policy},
		}
		leader := engine.NewState()
		var want []jute.Code
		for _, e := range entries {
			want = append(want, leader.Apply(e).Err)
		}
		_, logged, err := engine.DecodeBatch(engine.AppendBatch(nil, 1, policy, entries))
		if err != nil {
			t.Fatal(err)
		}
		replica := engine.NewState()
		for i := range logged {
			if got := replica.Apply(&logged[i]).Err; got != want[i] {
				t.Fatalf("extendedTypes=%v: entry %d replayed %v, first applied %v", extended, i, got, want[i])
			}
		}
		if _, ok := replica.Publish().Tree.Get("/t"); ok != extended {
			t.Fatalf("extendedTypes=%v: the TTL node exists: %v", extended, ok)
		}
	}
}

// TestRefBatchRoundTrip: a replicated batch carries each entry's Ref, and
// a standalone batch's entries decode with a zero Ref.
func TestRefBatchRoundTrip(t *testing.T) {
	policy := engine.Policy{SkipACL: true}
	entries := enginetest.RandomEntries(5, 20, policy)
	for i, e := range entries {
		e.Ref = engine.Ref{Member: int32(1 + i%3), Request: 1<<62 + uint64(i)}
	}
	first, got, err := engine.DecodeBatch(engine.AppendRefBatch(nil, policy, entries))
	if err != nil || first != 0 || len(got) != len(entries) {
		t.Fatalf("decode: %v first %d n %d", err, first, len(got))
	}
	for i := range got {
		if !reflect.DeepEqual(&got[i], entries[i]) {
			t.Fatalf("entry %d: %+v != %+v", i, got[i], *entries[i])
		}
	}
	_, plain, err := engine.DecodeBatch(engine.AppendBatch(nil, 9, policy, entries))
	if err != nil || plain[0].Ref != (engine.Ref{}) {
		t.Fatalf("a standalone batch: %v ref %+v", err, plain[0].Ref)
	}
}

// TestBatchIsEncodedInOneAllocation: a batch's buffer is sized once from
// its entries (identities, bodies, refs) instead of growing by doublings,
// each a copy, on the path of every proposal and every forward.
func TestBatchIsEncodedInOneAllocation(t *testing.T) {
	policy := engine.Policy{ExtendedTypes: true}
	entries := enginetest.RandomEntries(7, 64, policy)
	for i, e := range entries {
		e.Ref = engine.Ref{Member: 2, Request: uint64(i + 1)}
		e.Identities = []jute.ID{{Scheme: "ip", ID: "127.0.0.1"}, {Scheme: "digest", ID: "bob:x"}}
	}
	for name, encode := range map[string]func() []byte{
		"ref batch":   func() []byte { return engine.AppendRefBatch(nil, policy, entries) },
		"zxid batch":  func() []byte { return engine.AppendBatch(nil, 7, policy, entries) },
		"empty batch": func() []byte { return engine.AppendRefBatch(nil, policy, nil) },
	} {
		if allocs := testing.AllocsPerRun(20, func() { encode() }); allocs != 1 {
			t.Errorf("%s: %v allocations, want 1", name, allocs)
		}
	}
}

// TestZxidEpochs: a new epoch starts at counter 1 and the counter never
// wraps: the entry after 0xfffffffe opens the next epoch.
func TestZxidEpochs(t *testing.T) {
	s := engine.NewState()
	create := func(path string) engine.Result {
		return s.Apply(&engine.Entry{Time: 1, Op: jute.OpCreate,
			Body: (&jute.CreateRequest{Path: path, ACL: engine.OpenACL}).AppendCreate(nil, false)})
	}
	if r := create("/a"); r.Zxid != 1 {
		t.Fatalf("first zxid %#x", r.Zxid)
	}
	s.EnterTerm(3)
	if r := create("/b"); r.Zxid != 1<<32|1 {
		t.Fatalf("first zxid of epoch 1: %#x", r.Zxid)
	}
	// Entries of the same or an older term stay in the epoch.
	s.EnterTerm(3)
	s.EnterTerm(2)
	if r := create("/c"); r.Zxid != 1<<32|2 || s.Term() != 3 {
		t.Fatalf("zxid %#x term %d after entries of terms 3 and 2", r.Zxid, s.Term())
	}
	if got := engine.NextZxid(5<<32 | 0xfffffffd); got != 5<<32|0xfffffffe {
		t.Fatalf("next of ...fffd: %#x", got)
	}
	if got := engine.NextZxid(5<<32 | 0xfffffffe); got != 6<<32|1 {
		t.Fatalf("next of ...fffe: %#x, want the next epoch", got)
	}
	v := s.Publish()
	if v.Zxid != 1<<32|2 || v.Term != 3 {
		t.Fatalf("published zxid %#x term %d", v.Zxid, v.Term)
	}
}
