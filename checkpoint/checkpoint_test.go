package checkpoint

import (
	"fmt"
	"io"
	"log/slog"
	"os"
	"reflect"
	"syscall"
	"testing"

	"github.com/meerkat-zk/meerkat/engine"
	"github.com/meerkat-zk/meerkat/jute"
)

var quiet = slog.New(slog.NewTextHandler(io.Discard, nil))

type world struct {
	s    *engine.State
	time int64
}

func (w *world) apply(op jute.OpCode, session int64, body []byte) engine.Result {
	w.time++
	return w.s.Apply(&engine.Entry{Time: w.time, Session: session, Op: op, Body: body})
}

func (w *world) create(path string, flags int32, acl []jute.ACL) {
	w.apply(jute.OpCreate, 7, (&jute.CreateRequest{Path: path, Data: []byte(path), ACL: acl, Flags: flags}).AppendCreate(nil, false))
}

func snapshotOf(s *engine.State) map[string]string {
	v := s.Publish()
	out := map[string]string{"zxid": fmt.Sprint(s.Zxid())}
	v.Tree.All(func(n *engine.Node) bool {
		out[n.Path()] = fmt.Sprintf("%+v %q %v", n.Stat(), n.Data(), v.ACL(n))
		return true
	})
	for _, r := range s.SessionRecords() {
		out[fmt.Sprint("session ", r.ID)] = fmt.Sprint(r.Timeout)
	}
	return out
}

func TestWriteFlushReopenLoad(t *testing.T) {
	dir := t.TempDir()
	st, err := Open(dir, quiet, func(err error) { t.Error(err) })
	if err != nil {
		t.Fatal(err)
	}
	w := &world{s: engine.NewState()}
	w.apply(jute.OpCreateSession, 7, jute.AppendInt(nil, 4000))
	secret := []jute.ACL{{Perms: jute.PermRead, ID: jute.ID{Scheme: "ip", ID: "10.0.0.1"}}}
	for i := 0; i < 200; i++ {
		w.create(fmt.Sprintf("/a%d", i%20), 0, engine.OpenACL)
		w.create(fmt.Sprintf("/a%d/b%d", i%20, i), int32(i%4), secret)
		if i%3 == 0 {
			w.apply(jute.OpDelete, 7, (&jute.PathVersionRequest{Path: fmt.Sprintf("/a%d/b%d", i%20, i-3), Version: -1}).Append(nil))
		}
		if i%25 == 0 {
			w.s.SetApplied(uint64(1000 + i))
			if err := st.Write(w.s.TakeDelta(w.s.Publish())); err != nil {
				t.Fatal(err)
			}
		}
	}
	w.s.SetApplied(5000)
	w.s.SetTerm(9)
	if err := st.Write(w.s.TakeDelta(w.s.Publish())); err != nil {
		t.Fatal(err)
	}
	if err := st.Flush(); err != nil {
		t.Fatal(err)
	}
	want := snapshotOf(w.s)
	st.Close()

	st, err = Open(dir, quiet, func(err error) { t.Error(err) })
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	loaded, err := st.Load()
	if err != nil {
		t.Fatal(err)
	}
	if loaded.Applied() != 5000 || loaded.Term() != 9 || loaded.Zxid() != w.s.Zxid() {
		t.Fatalf("loaded applied index %d zxid %#x, want 5000 and %#x", loaded.Applied(), loaded.Zxid(), w.s.Zxid())
	}
	if got := snapshotOf(loaded); !reflect.DeepEqual(got, want) {
		for k, v := range want {
			if got[k] != v {
				t.Errorf("%s: loaded %q, want %q", k, got[k], v)
			}
		}
		t.Fatalf("loaded %d entries, want %d", len(got), len(want))
	}
}

// TestUnflushedWritesAreNotDurable checks the premise the wal truncation
// rests on: the store's own log is off, so what is written and not flushed
// is gone after a close, and what survives is a consistent image with its
// own zxid. The image loaded must be exactly the state at the flushed
// zxid; the whole image is compared, not only the znodes of the writes.
func TestUnflushedWritesAreNotDurable(t *testing.T) {
	dir := t.TempDir()
	st, _ := Open(dir, quiet, func(err error) { t.Error(err) })
	w := &world{s: engine.NewState()}
	w.apply(jute.OpCreateSession, 7, jute.AppendInt(nil, 4000))
	w.create("/flushed", 0, engine.OpenACL)
	w.create("/changed", 0, engine.OpenACL)
	if err := st.Write(w.s.TakeDelta(w.s.Publish())); err != nil {
		t.Fatal(err)
	}
	if err := st.Flush(); err != nil {
		t.Fatal(err)
	}
	flushed := snapshotOf(w.s)
	w.create("/unflushed", 0, engine.OpenACL)
	if r := w.apply(jute.OpSetData, 7, (&jute.SetDataRequest{Path: "/changed", Data: []byte("new"), Version: -1}).Append(nil)); r.Err != jute.CodeOK {
		t.Fatalf("setData: %v", r.Err)
	}
	if r := w.apply(jute.OpCreateSession, 8, jute.AppendInt(nil, 5000)); r.Err != jute.CodeOK {
		t.Fatalf("createSession: %v", r.Err)
	}
	if err := st.Write(w.s.TakeDelta(w.s.Publish())); err != nil {
		t.Fatal(err)
	}
	unflushed := snapshotOf(w.s)
	if len(unflushed) != len(flushed)+2 || unflushed["/changed"] == flushed["/changed"] {
		t.Fatal("bad fixture: the unflushed write should add a znode and a session and change a znode")
	}
	st.Close()

	st, _ = Open(dir, quiet, func(err error) { t.Error(err) })
	defer st.Close()
	loaded, err := st.Load()
	if err != nil {
		t.Fatal(err)
	}
	if got := snapshotOf(loaded); !reflect.DeepEqual(got, flushed) {
		t.Fatalf("the image loaded is not the flushed state:\n got %v\nflushed %v\n  later %v", got, flushed, unflushed)
	}
}

func TestEmptyStoreLoadsNothing(t *testing.T) {
	st, err := Open(t.TempDir(), quiet, func(err error) { t.Error(err) })
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	if s, err := st.Load(); s != nil || err != nil {
		t.Fatalf("empty store loaded %v, %v", s, err)
	}
}

func TestNodeKeysSortInTreeOrder(t *testing.T) {
	paths := []string{"/", "/a", "/a-", "/ab", "/b", "/a/a", "/a/b", "/a/b/c"}
	for _, p := range paths {
		back, err := appendPathOfKey(nil, nodeKey(nil, p))
		if err != nil || string(back) != p {
			t.Fatalf("%q -> %q, %v", p, back, err)
		}
	}
	// Pebble order must be the tree's: children of one parent together and
	// sorted by name.
	order := []string{"/", "/a", "/a-", "/ab", "/b", "/a/a", "/a/b", "/a/b/c"}
	for i := 1; i < len(order); i++ {
		if string(nodeKey(nil, order[i-1])) >= string(nodeKey(nil, order[i])) {
			t.Fatalf("%q does not sort before %q", order[i-1], order[i])
		}
	}
}

func TestBackgroundFailuresOtherThanAFullDiskAreFatal(t *testing.T) {
	var fatal []error
	handle := backgroundError(func(err error) { fatal = append(fatal, err) })
	handle(fmt.Errorf("flush: %w", syscall.ENOSPC))
	if len(fatal) != 0 {
		t.Fatal("a full disk was treated as fatal")
	}
	handle(fmt.Errorf("creating object: %w", os.ErrNotExist))
	handle(fmt.Errorf("sync: %w", syscall.EIO))
	if len(fatal) != 2 {
		t.Fatalf("fatal errors: %v", fatal)
	}
}

// TestResetReplacesTheImage writes one state, then a full image of
// another marked Reset (a member installed from a snapshot): the store
// then loads as exactly the second state, with none of the first's
// znodes, sessions or ACLs left over.
func TestResetReplacesTheImage(t *testing.T) {
	st, err := Open(t.TempDir(), quiet, func(err error) { t.Error(err) })
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	old := &world{s: engine.NewState()}
	old.apply(jute.OpCreateSession, 7, jute.AppendInt(nil, 4000))
	secret := []jute.ACL{{Perms: jute.PermRead, ID: jute.ID{Scheme: "ip", ID: "10.0.0.1"}}}
	for i := range 50 {
		old.create(fmt.Sprintf("/old%d", i), int32(i%2), secret)
	}
	if err := st.Write(old.s.TakeDelta(old.s.Publish())); err != nil {
		t.Fatal(err)
	}
	next := &world{s: engine.NewState()}
	next.apply(jute.OpCreateSession, 9, jute.AppendInt(nil, 6000))
	for i := range 5 {
		next.create(fmt.Sprintf("/new%d", i), 0, engine.OpenACL)
	}
	next.s.SetApplied(1234)
	if err := st.Write(next.s.FullDelta(next.s.Publish())); err != nil {
		t.Fatal(err)
	}
	loaded, err := st.Load()
	if err != nil {
		t.Fatal(err)
	}
	if got, want := snapshotOf(loaded), snapshotOf(next.s); !reflect.DeepEqual(got, want) {
		t.Fatalf("after a reset the store holds %d entries, want %d:\n%v", len(got), len(want), got)
	}
	if recs := loaded.SessionRecords(); len(recs) != 1 || recs[0].ID != 9 || loaded.Applied() != 1234 {
		t.Fatalf("sessions %v applied %d", recs, loaded.Applied())
	}
}
