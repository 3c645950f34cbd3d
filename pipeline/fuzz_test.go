package pipeline

import (
	"reflect"
	"testing"

	"github.com/meerkat-zk/meerkat/engine"
	"github.com/meerkat-zk/meerkat/engine/enginetest"
	"github.com/meerkat-zk/meerkat/jute"
)

// fuzzFrom is the member the fuzzed messages come from.
const fuzzFrom = 2

// appendMessage encodes m with the encoder of its kind, as a member sends
// it.
func appendMessage(b []byte, m message) []byte {
	switch m.kind {
	case msgForward:
		entries := make([]*engine.Entry, len(m.entries))
		for i := range m.entries {
			entries[i] = &m.entries[i]
		}
		return appendForward(b, entries)
	case msgRefused:
		return appendRefused(b, m.refused)
	case msgTouch:
		return appendTouch(b, m.sessions)
	case msgRevalidate:
		return appendRevalidate(b, m.reval)
	case msgRevalidated:
		return appendRevalidated(b, m.reval.ref, m.ok)
	}
	return b
}

// FuzzDecodeMessage feeds decodeMessage what a member's pipeline sends
// its peers: forwarded writes, refusals, session touches and
// revalidations. It proves that a message's counts make it allocate in
// proportion to the message whatever they claim, that a forwarded write
// must be the sender's own, and that a message that decodes comes back
// the same through the encoder of its kind.
func FuzzDecodeMessage(f *testing.F) {
	entries := enginetest.RandomEntries(9, 8, engine.Policy{})
	for i, e := range entries {
		e.Ref = engine.Ref{Member: fuzzFrom, Request: uint64(i + 1)}
		e.Identities = []jute.ID{{Scheme: "ip", ID: "10.0.0.2"}}
	}
	f.Add(appendForward(nil, entries))
	f.Add(appendRefused(nil, []refusal{{ref: 1<<62 + 3, code: jute.CodeSessionMoved}, {ref: 9, code: jute.CodeSessionMoved}}))
	f.Add(appendTouch(nil, []int64{0x1000000000001, 0x2000000000007}))
	f.Add(appendRevalidate(nil, revalidation{ref: 4, session: 0x1000000000001, timeout: 30000, index: 77}))
	f.Add(appendRevalidated(nil, 4, true))
	f.Fuzz(func(t *testing.T, b []byte) {
		m, err := decodeMessage(fuzzFrom, b)
		// A refusal takes 12 bytes and a session 8; append at most doubles
		// the room.
		if cap(m.refused) > 2*len(b)/12+1 || cap(m.sessions) > 2*len(b)/8+1 {
			t.Fatalf("%d bytes made room for %d refusals and %d sessions", len(b), cap(m.refused), cap(m.sessions))
		}
		if err != nil {
			return
		}
		for i, e := range m.entries {
			if e.Ref.Member != fuzzFrom {
				t.Fatalf("a write of member %d was taken from member %d", e.Ref.Member, fuzzFrom)
			}
			// The leader stamps the policy: appendForward writes none.
			m.entries[i].Policy = engine.Policy{}
		}
		again := appendMessage(nil, m)
		if len(again) > len(b) {
			t.Fatalf("%d bytes re-encode as %d", len(b), len(again))
		}
		back, err := decodeMessage(fuzzFrom, again)
		if err != nil || !reflect.DeepEqual(back, m) {
			t.Fatalf("%+v re-encoded as %x decodes to %+v (err %v)", m, again, back, err)
		}
	})
}
