package checkpoint

import (
	"bytes"
	"reflect"
	"testing"

	"github.com/meerkat-zk/meerkat/engine"
	"github.com/meerkat-zk/meerkat/engine/enginetest"
	"github.com/meerkat-zk/meerkat/jute"
)

// storedRecords returns the records of a real store, in key order, as
// jute buffers (key, value, key, value, ...): a state written by every
// kind of write, with ACLs, sessions and ephemerals, the metadata included.
func storedRecords(tb testing.TB) []byte {
	st, err := Open(tb.TempDir(), quiet, func(err error) { tb.Error(err) })
	if err != nil {
		tb.Fatal(err)
	}
	defer st.Close()
	s := engine.NewState()
	for _, e := range enginetest.RandomEntries(4, 40, engine.Policy{ExtendedTypes: true}) {
		s.Apply(e)
	}
	if err := st.Write(s.FullDelta(s.Publish())); err != nil {
		tb.Fatal(err)
	}
	it, err := st.db.NewIter(nil)
	if err != nil {
		tb.Fatal(err)
	}
	defer it.Close()
	var out []byte
	for ok := it.First(); ok; ok = it.Next() {
		out = jute.AppendBuffer(jute.AppendBuffer(out, it.Key()), it.Value())
	}
	return out
}

// FuzzLoadRecords feeds Load's record decoder (loadRecord) the records a
// damaged store might hold, then finishes the state. It proves that no
// key or value makes it panic, that a node record decodes to the node
// AppendNode wrote and lives under the key Write gives its path, and that
// an ACL record decodes to lists that come back the same.
func FuzzLoadRecords(f *testing.F) {
	all := storedRecords(f)
	f.Add(all)
	// The records one by one, for mutations that stay within one.
	for d := jute.NewDecoder(all); d.Len() > 0; {
		start := d.Offset()
		d.Buffer()
		d.Buffer()
		f.Add(all[start:d.Offset()])
	}
	f.Fuzz(func(t *testing.T, in []byte) {
		d := jute.NewDecoder(in)
		l := engine.NewLoader()
		var scratch []byte
		for d.Len() > 0 {
			k, v := d.Buffer(), d.Buffer()
			if d.Err() != nil {
				break
			}
			var err error
			if scratch, err = loadRecord(l, k, v, scratch); err != nil {
				return
			}
			switch k[0] {
			case 'n':
				path := string(scratch)
				if engine.ValidPath(path) && !bytes.Equal(nodeKey(nil, path), k) {
					t.Fatalf("key %q loads as %q, which Write keys %q", k, path, nodeKey(nil, path))
				}
				n, err := engine.DecodeNode(path, v)
				if err != nil {
					t.Fatalf("node %q loaded but does not decode: %v", path, err)
				}
				if out := engine.AppendNode(nil, &n); !bytes.HasPrefix(v, out) {
					t.Fatalf("node %q: %x re-encodes as %x", path, v, out)
				}
			case 'a':
				acls := jute.NewDecoder(v).ACLs()
				back := jute.NewDecoder(jute.AppendACLs(nil, acls)).ACLs()
				if len(back) != len(acls) || len(acls) > 0 && !reflect.DeepEqual(back, acls) {
					t.Fatalf("ACL %x: %+v re-encodes as %+v", k, acls, back)
				}
			}
		}
		_, _ = l.Finish(1)
	})
}
