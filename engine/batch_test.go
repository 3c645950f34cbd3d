package engine_test

import (
	"reflect"
	"testing"

	"github.com/meerkat-zk/meerkat/engine"
	"github.com/meerkat-zk/meerkat/engine/enginetest"
	"github.com/meerkat-zk/meerkat/jute"
)

func TestBatchRoundTrip(t *testing.T) {
	entries := enginetest.RandomEntries(3, 50)
	for _, e := range entries {
		e.Identities = []jute.ID{{Scheme: "ip", ID: "127.0.0.1"}, {Scheme: "digest", ID: "bob:x"}}
	}
	b := engine.AppendBatch(nil, 42, entries)
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
