package engine

import (
	"fmt"
	"math/rand/v2"
	"reflect"
	"testing"

	"github.com/meerkat-zk/meerkat/jute"
)

// memCheckpoint is a checkpoint store kept in maps, fed only by Deltas, the
// way the pebble checkpointer is.
type memCheckpoint struct {
	nodes    map[string][]byte
	acls     [][]jute.ACL
	sessions map[int64]int32
	zxid     int64
}

func (m *memCheckpoint) apply(d Delta) {
	for _, p := range d.Paths {
		if n, ok := d.View.Tree.Get(p); ok {
			m.nodes[p] = AppendNode(nil, n)
		} else {
			delete(m.nodes, p)
		}
	}
	m.acls = append(m.acls, d.ACLs[d.ACLFrom:]...)
	for _, s := range d.Sessions {
		if s.Timeout > 0 {
			m.sessions[s.ID] = s.Timeout
		} else {
			delete(m.sessions, s.ID)
		}
	}
	m.zxid = d.View.Zxid
}

func (m *memCheckpoint) load(t *testing.T) *State {
	l := NewLoader(Config{ExtendedTypes: true})
	for i, a := range m.acls {
		if err := l.AddACL(uint32(i), a); err != nil {
			t.Fatal(err)
		}
	}
	for p, v := range m.nodes {
		if err := l.AddNode(p, v); err != nil {
			t.Fatal(err)
		}
	}
	for id, to := range m.sessions {
		l.AddSession(id, to)
	}
	s, err := l.Finish(m.zxid)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// randomEntries makes a deterministic mix of every write, sessions
// included, over a small namespace so that many of them fail.
func randomEntries(seed uint64, n int) []*Entry {
	rng := rand.New(rand.NewPCG(seed, 7))
	sessions := []int64{101, 102, 103}
	path := func() string {
		p := "/n" + fmt.Sprint(rng.IntN(4))
		if rng.IntN(2) == 0 {
			p += "/c" + fmt.Sprint(rng.IntN(4))
		}
		return p
	}
	acl := func() []jute.ACL {
		if rng.IntN(4) == 0 {
			return []jute.ACL{{Perms: jute.PermRead | jute.PermWrite, ID: jute.ID{Scheme: "ip", ID: fmt.Sprintf("10.0.0.%d", rng.IntN(3))}}}
		}
		return OpenACL
	}
	var out []*Entry
	for _, s := range sessions {
		out = append(out, &Entry{Session: s, Op: jute.OpCreateSession, Body: jute.AppendInt(nil, 5000)})
	}
	for i := 0; i < n; i++ {
		e := &Entry{Time: int64(1000 + i), Session: sessions[rng.IntN(len(sessions))]}
		switch rng.IntN(9) {
		case 0, 1:
			e.Op = jute.OpCreate
			e.Body = (&jute.CreateRequest{Path: path(), Data: []byte(fmt.Sprint(i)), ACL: acl(), Flags: int32(rng.IntN(4))}).AppendCreate(nil, false)
		case 2:
			e.Op = jute.OpCreateContainer
			e.Body = (&jute.CreateRequest{Path: path(), ACL: OpenACL, Flags: 4}).AppendCreate(nil, false)
		case 3:
			e.Op = jute.OpCreateTTL
			e.Body = (&jute.CreateRequest{Path: path(), ACL: OpenACL, Flags: 5, TTL: 100}).AppendCreate(nil, true)
		case 4:
			e.Op = jute.OpDelete
			e.Body = (&jute.PathVersionRequest{Path: path(), Version: -1}).Append(nil)
		case 5:
			e.Op = jute.OpSetData
			e.Body = (&jute.SetDataRequest{Path: path(), Data: []byte("v"), Version: -1}).Append(nil)
		case 6:
			e.Op = jute.OpSetACL
			e.Body = (&jute.SetACLRequest{Path: path(), ACL: acl(), Version: -1}).Append(nil)
		case 7:
			e.Op = jute.OpMulti
			var b []byte
			for k := 0; k < 3; k++ {
				b = append(b, (&jute.MultiHeader{Type: jute.OpCreate, Err: -1}).Append(nil)...)
				b = append(b, (&jute.CreateRequest{Path: path(), ACL: OpenACL}).AppendCreate(nil, false)...)
			}
			e.Body = jute.AppendMultiEnd(b)
		case 8:
			if rng.IntN(3) == 0 {
				e.Op = jute.OpCloseSession
				id := int64(200 + i)
				out = append(out, &Entry{Session: id, Op: jute.OpCreateSession, Body: jute.AppendInt(nil, 5000)})
				sessions[rng.IntN(len(sessions))] = id
			} else {
				e.Op = jute.OpDeleteContainer
				e.Body = []byte(path())
			}
		}
		out = append(out, e)
	}
	return out
}

type stateImage struct {
	Nodes    map[string]jute.Stat
	Data     map[string]string
	ACLs     map[string][]jute.ACL
	Sessions map[int64][]string
	Expiring map[string]bool
	Zxid     int64
}

func imageOf(s *State) stateImage {
	v := s.Publish()
	img := stateImage{Nodes: map[string]jute.Stat{}, Data: map[string]string{}, ACLs: map[string][]jute.ACL{},
		Sessions: map[int64][]string{}, Expiring: map[string]bool{}, Zxid: s.Zxid()}
	v.Tree.All(func(n *Node) bool {
		img.Nodes[n.Path()] = n.Stat()
		img.Data[n.Path()] = n.Data()
		img.ACLs[n.Path()] = v.ACL(n)
		return true
	})
	for id, ss := range s.sessions {
		img.Sessions[id] = ss.Ephemerals()
	}
	s.Expiring(func(p string) { img.Expiring[p] = true })
	return img
}

// TestCheckpointPlusReplayRebuildsTheSameState is the durability model in
// miniature: checkpoints are built only from Deltas, taken after every batch
// of a random size; a restart loads the checkpoint and replays the entries
// after it. Whatever the cut, the rebuilt state must equal the original,
// and replay must give the same results the original Apply gave.
func TestCheckpointPlusReplayRebuildsTheSameState(t *testing.T) {
	for seed := uint64(1); seed <= 20; seed++ {
		entries := randomEntries(seed, 300)
		rng := rand.New(rand.NewPCG(seed, 99))
		orig := NewState(Config{ExtendedTypes: true})
		cp := &memCheckpoint{nodes: map[string][]byte{}, sessions: map[int64]int32{}}
		cp.apply(orig.TakeDelta(orig.Publish()))
		var results []Result
		var checkpointAt []int // entries applied when each checkpoint was taken
		for i := 0; i < len(entries); {
			batch := 1 + rng.IntN(20)
			for ; batch > 0 && i < len(entries); batch-- {
				results = append(results, orig.Apply(entries[i]))
				i++
			}
			v := orig.Publish()
			if rng.IntN(3) == 0 {
				cp.apply(orig.TakeDelta(v))
				checkpointAt = append(checkpointAt, i)
			}
		}
		last := 0
		if len(checkpointAt) > 0 {
			last = checkpointAt[len(checkpointAt)-1]
		}
		restored := cp.load(t)
		for i := last; i < len(entries); i++ {
			r := restored.Apply(entries[i])
			if !reflect.DeepEqual(r, results[i]) {
				t.Fatalf("seed %d: replay of entry %d (%v) gave %+v, originally %+v", seed, i, entries[i].Op, r, results[i])
			}
		}
		if a, b := imageOf(orig), imageOf(restored); !reflect.DeepEqual(a, b) {
			t.Fatalf("seed %d: restored state differs from the original\norig %+v\nrest %+v", seed, a, b)
		}
	}
}

func TestBatchRoundTrip(t *testing.T) {
	entries := randomEntries(3, 50)
	for _, e := range entries {
		e.Identities = []jute.ID{{Scheme: "ip", ID: "127.0.0.1"}, {Scheme: "digest", ID: "bob:x"}}
	}
	b := AppendBatch(nil, 42, entries)
	first, got, err := DecodeBatch(b)
	if err != nil || first != 42 || len(got) != len(entries) {
		t.Fatalf("decode: %v first %d n %d", err, first, len(got))
	}
	for i := range got {
		if !reflect.DeepEqual(&got[i], entries[i]) {
			t.Fatalf("entry %d: %+v != %+v", i, got[i], *entries[i])
		}
	}
	if _, _, err := DecodeBatch(b[:len(b)-1]); err == nil {
		t.Fatal("a truncated batch decoded")
	}
}
