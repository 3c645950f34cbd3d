package engine_test

import (
	"encoding/binary"
	"fmt"
	"reflect"
	"strings"
	"testing"

	"github.com/meerkat-zk/meerkat/engine"
	"github.com/meerkat-zk/meerkat/engine/enginetest"
	"github.com/meerkat-zk/meerkat/internal/alloctest"
	"github.com/meerkat-zk/meerkat/jute"
)

// fuzzPolicy is the policy the seeds are written with: TTL nodes allowed,
// so that every kind of write succeeds somewhere.
var fuzzPolicy = engine.Policy{ExtendedTypes: true, EnforceQuota: true}

// batchSeeds returns real log records: batches of every kind of write
// (enginetest.RandomEntries), as a standalone log holds them and, with
// their Refs, as a replicated log or a forwarding member carries them.
func batchSeeds() [][]byte {
	entries := enginetest.RandomEntries(11, 12, fuzzPolicy)
	for i, e := range entries {
		e.Identities = []jute.ID{{Scheme: "ip", ID: "127.0.0.1"}}
		e.Ref = engine.Ref{Member: 2, Request: uint64(i + 1)}
	}
	return [][]byte{
		engine.AppendBatch(nil, 0x100000001, fuzzPolicy, entries),
		engine.AppendRefBatch(nil, engine.Policy{SkipACL: true, LocalSessions: true}, entries[:4]),
		engine.AppendBatch(nil, 7, engine.Policy{}, nil),
	}
}

// FuzzDecodeBatch feeds DecodeBatch what a wal record, a raft entry or a
// member forwarding writes to its leader may hold. It proves that decoding
// allocates in proportion to the input whatever its counts claim, that a
// batch that decodes re-encodes to one that decodes to the same entries
// (and is no longer), and that BatchSpan agrees with it.
func FuzzDecodeBatch(f *testing.F) {
	for _, b := range batchSeeds() {
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, in []byte) {
		var first int64
		var entries []engine.Entry
		var err error
		// An Entry is 96 bytes and takes at least 32 of the input; each
		// identity (appended one by one) 32 bytes for at least 8.
		limit := 16*uint64(len(in)) + 64<<10
		if n := alloctest.AllocatedBy(limit, func() { first, entries, err = engine.DecodeBatch(in) }); n > limit {
			t.Fatalf("decoding %d bytes allocated %d", len(in), n)
		}
		if err != nil {
			return
		}
		if f2, count, ok := engine.BatchSpan(in); !ok || f2 != first || int(count) != len(entries) && !(count == -1 && len(entries) == 0) {
			t.Fatalf("BatchSpan says %d, %d (%v); DecodeBatch read %d entries from %d", f2, count, ok, len(entries), first)
		}
		ptrs := make([]*engine.Entry, len(entries))
		for i := range entries {
			ptrs[i] = &entries[i]
		}
		var policy engine.Policy
		if len(entries) > 0 {
			policy = entries[0].Policy
		}
		var out []byte
		if binary.BigEndian.Uint32(in[12:])&(1<<8) != 0 {
			out = engine.AppendRefBatch(nil, policy, ptrs)
		} else {
			out = engine.AppendBatch(nil, first, policy, ptrs)
		}
		if len(out) > len(in) {
			t.Fatalf("%d bytes re-encode as %d", len(in), len(out))
		}
		_, back, err := engine.DecodeBatch(out)
		if err != nil || len(back) != len(entries) || len(back) > 0 && !reflect.DeepEqual(back, entries) {
			t.Fatalf("entries %+v re-encoded as %x decode to %+v (err %v)", entries, out, back, err)
		}
	})
}

// applySeeds returns the writes a client sends, as the log carries them:
// the opcode and request record of every kind of write, and a reconfig
// entry's body.
func applySeeds() []*engine.Entry {
	seeds := enginetest.RandomEntries(5, 30, fuzzPolicy)
	return append(seeds, &engine.Entry{Op: jute.OpReconfig,
		Body: append(jute.AppendBuffer(jute.AppendInt(nil, 0), []byte("server.1=127.0.0.1:2888:3888:participant;0.0.0.0:2181")),
			(&jute.ReconfigRequest{NewMembersNull: true, CurConfigID: -1}).Append(nil)...)})
}

// fuzzBase is the state a fuzzed write is applied to, small so that each
// run is cheap: two sessions, a znode with a child only 10.0.0.1 may read
// and write, and an ephemeral, on the paths the seeds write to.
var fuzzBase = []*engine.Entry{
	{Session: 101, Op: jute.OpCreateSession, Body: jute.AppendInt(nil, 5000)},
	{Session: 102, Op: jute.OpCreateSession, Body: jute.AppendInt(nil, 5000)},
	{Time: 1, Session: 101, Op: jute.OpCreate, Body: (&jute.CreateRequest{Path: "/n0", Data: []byte("0"), ACL: engine.OpenACL}).AppendCreate(nil, false)},
	{Time: 2, Session: 101, Op: jute.OpCreate, Body: (&jute.CreateRequest{Path: "/n0/c1",
		ACL: []jute.ACL{{Perms: jute.PermRead | jute.PermWrite, ID: jute.ID{Scheme: "ip", ID: "10.0.0.1"}}}}).AppendCreate(nil, false)},
	{Time: 3, Session: 102, Op: jute.OpCreate, Body: (&jute.CreateRequest{Path: "/n1", ACL: engine.OpenACL, Flags: 1}).AppendCreate(nil, false)},
}

func baseState() *engine.State {
	s := engine.NewState()
	for _, e := range fuzzBase {
		if r := s.Apply(e); r.Err != jute.CodeOK {
			panic(fmt.Sprintf("the base state's %v failed: %v", e.Op, r.Err))
		}
	}
	return s
}

// FuzzApply feeds a client's write request, as the log carries it (opcode
// and request record, with any of the policy bits), to the decoders of
// entry bodies: Apply, CreatesEphemeral, MultiRead and ReconfigRequest. It
// proves they return an error code rather than panic, that Apply is
// deterministic (two replicas of the same state reach the same result and
// the same image), and that the tree stays whole: every znode has its
// parent, which counts it among its children.
func FuzzApply(f *testing.F) {
	for _, e := range applySeeds() {
		bits := uint8(0b1001) // fuzzPolicy
		if e.Op == jute.OpReconfig {
			bits |= 0b1000100 // reconfigEnabled, in an ensemble
		}
		f.Add(int32(e.Op), e.Body, bits)
	}
	f.Fuzz(func(t *testing.T, op int32, body []byte, bits uint8) {
		e := &engine.Entry{Time: 5000, Session: 101, Op: jute.OpCode(op), Body: body,
			Identities: []jute.ID{{Scheme: "ip", ID: "10.0.0.1"}},
			Policy: engine.Policy{ExtendedTypes: bits&1 != 0, SkipACL: bits&2 != 0, ReconfigEnabled: bits&4 != 0,
				EnforceQuota: bits&8 != 0, LocalSessions: bits&16 != 0, X509: bits&32 != 0}}
		if bits&64 != 0 {
			e.Ref = engine.Ref{Member: 1, Request: 1}
		}
		engine.CreatesEphemeral(e.Op, body)
		_, _, _ = engine.ReconfigRequest(body)

		s1, s2 := baseState(), baseState()
		r1 := s1.Apply(e)
		r2 := s2.Apply(e)
		if !reflect.DeepEqual(r1, r2) {
			t.Fatalf("%v applied twice: %+v, then %+v", e.Op, r1, r2)
		}
		img := enginetest.ImageOf(s1)
		if !reflect.DeepEqual(img, enginetest.ImageOf(s2)) {
			t.Fatalf("%v left two replicas with different images", e.Op)
		}
		v := s1.Publish()
		children := map[string]int32{}
		for path := range img.Nodes {
			if path == "/" {
				continue
			}
			parent := path[:max(strings.LastIndexByte(path, '/'), 1)]
			if _, ok := img.Nodes[parent]; !ok {
				t.Fatalf("%v left %q without its parent", e.Op, path)
			}
			children[parent]++
		}
		for path, st := range img.Nodes {
			if st.NumChildren != children[path] {
				t.Fatalf("%v left %q with %d children, counting %d", e.Op, path, children[path], st.NumChildren)
			}
		}

		out, code := v.MultiRead(body, e.Identities, false, nil)
		if code == jute.CodeOK && !endsMulti(out) {
			t.Fatalf("multiRead answered %x", out)
		}
	})
}

// endsMulti reports whether a multi response ends with the header that
// closes it.
func endsMulti(b []byte) bool {
	end := jute.AppendMultiEnd(nil)
	return len(b) >= len(end) && string(b[len(b)-len(end):]) == string(end)
}
