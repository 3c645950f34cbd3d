package snapshot

import (
	"bytes"
	"errors"
	"fmt"
	"reflect"
	"testing"
	"time"

	"github.com/klauspost/compress/zstd"

	"github.com/meerkat-zk/meerkat/engine"
	"github.com/meerkat-zk/meerkat/jute"
)

func sampleState(t testing.TB, n int) *engine.State {
	s := engine.NewState(engine.Config{ExtendedTypes: true})
	apply := func(op jute.OpCode, sess int64, body []byte) {
		if r := s.Apply(&engine.Entry{Time: 1, Session: sess, Op: op, Body: body}); r.Err != jute.CodeOK {
			t.Fatalf("%v: %v", op, r.Err)
		}
	}
	apply(jute.OpCreateSession, 9, jute.AppendInt(nil, 6000))
	apply(jute.OpCreate, 9, (&jute.CreateRequest{Path: "/d", ACL: engine.OpenACL}).AppendCreate(nil, false))
	apply(jute.OpCreateContainer, 9, (&jute.CreateRequest{Path: "/c", ACL: engine.OpenACL}).AppendCreate(nil, false))
	for i := 0; i < n; i++ {
		acl := engine.OpenACL
		if i%7 == 0 {
			acl = []jute.ACL{{Perms: 1, ID: jute.ID{Scheme: "digest", ID: fmt.Sprintf("u%d:x", i%3)}}}
		}
		apply(jute.OpCreate, 9, (&jute.CreateRequest{Path: fmt.Sprintf("/d/n%05d", i), Data: bytes.Repeat([]byte{byte(i)}, i%50), ACL: acl, Flags: int32(i % 2)}).AppendCreate(nil, false))
	}
	return s
}

func image(s *engine.State) map[string]string {
	v := s.Publish()
	out := map[string]string{"zxid": fmt.Sprint(v.Zxid), "sessions": fmt.Sprint(s.SessionRecords())}
	v.Tree.All(func(n *engine.Node) bool {
		out[n.Path()] = fmt.Sprintf("%+v %q %v", n.Stat(), n.Data(), v.ACL(n))
		return true
	})
	return out
}

func TestWriteReadRoundTrip(t *testing.T) {
	s := sampleState(t, 2000)
	var buf bytes.Buffer
	ws, err := Write(&buf, s.Publish(), s.SessionRecords(), time.UnixMilli(1234))
	if err != nil {
		t.Fatal(err)
	}
	l := engine.NewLoader(engine.Config{ExtendedTypes: true})
	rs, err := Read(bytes.NewReader(buf.Bytes()), l)
	if err != nil {
		t.Fatal(err)
	}
	if ws != rs {
		t.Fatalf("stats written %+v, read %+v", ws, rs)
	}
	got, err := l.Finish(rs.Zxid)
	if err != nil {
		t.Fatal(err)
	}
	if a, b := image(s), image(got); !reflect.DeepEqual(a, b) {
		t.Fatalf("restored state differs (%d vs %d entries)", len(a), len(b))
	}
	if buf.Len() >= int(ws.Bytes) {
		t.Fatalf("%d bytes of snapshot took %d compressed: zstd is not working", ws.Bytes, buf.Len())
	}
}

func TestDamageIsDetected(t *testing.T) {
	s := sampleState(t, 300)
	var buf bytes.Buffer
	if _, err := Write(&buf, s.Publish(), s.SessionRecords(), time.Now()); err != nil {
		t.Fatal(err)
	}
	good := buf.Bytes()
	for _, tc := range []struct {
		name string
		data []byte
	}{
		{"truncated", good[:len(good)*2/3]},
		{"flipped byte", func() []byte { b := append([]byte(nil), good...); b[len(b)/2] ^= 0x10; return b }()},
		{"not a snapshot", []byte("hello")},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Read(bytes.NewReader(tc.data), engine.NewLoader(engine.Config{}))
			if err == nil {
				t.Fatal("a damaged snapshot was read without error")
			}
			if tc.name != "not a snapshot" && !errors.Is(err, ErrCorrupt) && !bytes.Contains([]byte(err.Error()), []byte("snapshot:")) {
				t.Fatalf("unhelpful error %v", err)
			}
		})
	}
}

// TestSnapshotIsConsistentWhileWritesGoOn takes a snapshot of one version
// while the state keeps changing: it must hold exactly that version.
func TestSnapshotIsConsistentWhileWritesGoOn(t *testing.T) {
	s := sampleState(t, 500)
	v := s.Publish()
	want := map[string]string{}
	v.Tree.All(func(n *engine.Node) bool {
		want[n.Path()] = n.Data()
		return true
	})
	sessions := s.SessionRecords()
	var buf bytes.Buffer
	done := make(chan error, 1)
	go func() {
		_, err := Write(&buf, v, sessions, time.Now())
		done <- err
	}()
	// Meanwhile the owner goes on writing (deletes and rewrites).
	for i := 0; i < 500; i++ {
		s.Apply(&engine.Entry{Time: 2, Session: 9, Op: jute.OpDelete, Body: (&jute.PathVersionRequest{Path: fmt.Sprintf("/d/n%05d", i), Version: -1}).Append(nil)})
		if i%50 == 0 {
			s.Publish()
		}
	}
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	l := engine.NewLoader(engine.Config{})
	st, err := Read(&buf, l)
	if err != nil {
		t.Fatal(err)
	}
	got, _ := l.Finish(st.Zxid)
	gv := got.Publish()
	if gv.Tree.Count() != len(want) {
		t.Fatalf("snapshot holds %d nodes, the version had %d", gv.Tree.Count(), len(want))
	}
	for p, d := range want {
		if n, ok := gv.Tree.Get(p); !ok || n.Data() != d {
			t.Fatalf("%s missing or changed in the snapshot", p)
		}
	}
}

// FuzzRead feeds Read mutated snapshot contents (compressed again, so the
// mutations reach the parser): it must return an error or a loadable
// state, never panic or allocate without bound.
func FuzzRead(f *testing.F) {
	s := sampleState(f, 20)
	var buf bytes.Buffer
	if _, err := Write(&buf, s.Publish(), s.SessionRecords(), time.UnixMilli(1)); err != nil {
		f.Fatal(err)
	}
	dec, err := zstd.NewReader(nil)
	if err != nil {
		f.Fatal(err)
	}
	plain, err := dec.DecodeAll(buf.Bytes(), nil)
	if err != nil {
		f.Fatal(err)
	}
	f.Add(plain)
	f.Add(plain[:len(plain)/2])
	enc, err := zstd.NewWriter(nil)
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, content []byte) {
		l := engine.NewLoader(engine.Config{ExtendedTypes: true})
		st, err := Read(bytes.NewReader(enc.EncodeAll(content, nil)), l)
		if err != nil {
			return
		}
		if _, err := l.Finish(st.Zxid); err != nil && bytes.Equal(content, plain) {
			t.Fatalf("the intact snapshot does not load: %v", err)
		}
	})
}
