package jute

import (
	"reflect"
	"testing"
)

// FuzzDecodeVector proves that a vector's count cannot make the decoder
// allocate beyond its input: whatever Strings and ACLs return, whole or cut
// short by an error, has room for no more elements than the bytes after the
// count could hold; and a vector that decodes comes back unchanged through
// an encode/decode round trip.
func FuzzDecodeVector(f *testing.F) {
	f.Add(AppendStrings(nil, []string{"config", "quota"}))
	f.Add(AppendACLs(nil, goldenRecords["set_acl_request"].(*SetACLRequest).ACL))
	f.Add(AppendACLs(nil, []ACL{{Perms: PermAll, ID: ID{Scheme: "world", ID: "anyone"}}, {Perms: PermRead, ID: ID{Scheme: "ip", ID: "10.0.0.1"}}}))
	f.Add(AppendInt(nil, -1))
	f.Add(AppendInt(nil, 1_000_000))
	f.Fuzz(func(t *testing.T, in []byte) {
		// The count's own 4 bytes hold no element.
		room := max(len(in)-4, 0)

		d := NewDecoder(in)
		s := d.Strings()
		if cap(s) > room/4 {
			t.Fatalf("%d bytes made Strings allocate %d elements", len(in), cap(s))
		}
		if d.Err() == nil {
			d2 := NewDecoder(AppendStrings(nil, s))
			if back := d2.Strings(); d2.Err() != nil || len(back) != len(s) || len(s) > 0 && !reflect.DeepEqual(back, s) {
				t.Fatalf("strings %q decode back as %q (err %v)", s, back, d2.Err())
			}
		}

		d = NewDecoder(in)
		a := d.ACLs()
		if cap(a) > room/12 {
			t.Fatalf("%d bytes made ACLs allocate %d elements", len(in), cap(a))
		}
		if d.Err() == nil {
			d2 := NewDecoder(AppendACLs(nil, a))
			if back := d2.ACLs(); d2.Err() != nil || len(back) != len(a) || len(a) > 0 && !reflect.DeepEqual(back, a) {
				t.Fatalf("ACLs %+v decode back as %+v (err %v)", a, back, d2.Err())
			}
		}
	})
}
