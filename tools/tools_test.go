package tools

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/meerkat-zk/meerkat/admin"
	"github.com/meerkat-zk/meerkat/checkpoint"
	"github.com/meerkat-zk/meerkat/engine"
	"github.com/meerkat-zk/meerkat/internal/dirtest"
	"github.com/meerkat-zk/meerkat/jute"
	"github.com/meerkat-zk/meerkat/pipeline"
	"github.com/meerkat-zk/meerkat/snapshot"
	"github.com/meerkat-zk/meerkat/wal"
)

var quiet = slog.New(slog.NewTextHandler(io.Discard, nil))

type waiter chan *pipeline.Request

func (w waiter) Complete(reqs []*pipeline.Request) {
	for _, r := range reqs {
		w <- r
	}
}

// running starts a pipeline logging to a wal in dir and fills it.
func running(t *testing.T, dir string) *pipeline.Pipeline {
	t.Helper()
	log, err := wal.Open(dir, wal.Options{Logger: quiet, OnSyncError: func(err error) { t.Error(err) }})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { log.Close() })
	p, err := pipeline.New(pipeline.Config{ServerID: 1, Tick: time.Hour, Log: log, Logger: quiet}, nil)
	if err != nil {
		t.Fatal(err)
	}
	p.Start()
	t.Cleanup(p.Stop)
	w := make(waiter, 1)
	_ = p.Submit(&pipeline.Request{Kind: pipeline.KindCreateSession, Timeout: 9000, From: w})
	sid := (<-w).Session.ID
	for i := 0; i < 300; i++ {
		path, flags := fmt.Sprintf("/t%d", i%30), int32(0)
		if i >= 30 {
			// Ephemeral leaves under persistent parents.
			path, flags = fmt.Sprintf("/t%d/c%d", i%30, i), int32(i%2)
		}
		body := (&jute.CreateRequest{Path: path, Data: []byte(path), ACL: engine.OpenACL, Flags: flags}).AppendCreate(nil, false)
		_ = p.Submit(&pipeline.Request{Kind: pipeline.KindWrite, Entry: engine.Entry{Session: sid, Op: jute.OpCreate, Body: body}, From: w})
		if r := <-w; r.Result.Err != jute.CodeOK {
			t.Fatalf("create %s: %v", path, r.Result.Err)
		}
	}
	return p
}

func image(v *engine.View) map[string]string {
	out := map[string]string{}
	v.Tree.All(func(n *engine.Node) bool {
		out[n.Path()] = fmt.Sprintf("%+v %q %v", n.Stat(), n.Data(), v.ACL(n))
		return true
	})
	return out
}

// TestSnapshotOfARunningServerRestores takes a snapshot through the admin
// server, restores a new data directory from it, and loads that: the state
// must be the one snapshotted.
func TestSnapshotOfARunningServerRestores(t *testing.T) {
	dir := t.TempDir()
	p := running(t, filepath.Join(dir, "wal"))
	srv, err := admin.Start("127.0.0.1:0", admin.Handlers{Snapshot: func(w io.Writer) (snapshot.Stats, error) {
		v, sessions, err := p.Capture()
		if err != nil {
			return snapshot.Stats{}, err
		}
		return snapshot.Write(w, v, sessions, time.Now())
	}, Metrics: func(w io.Writer) error { admin.WriteProcessMetrics(w); return nil }}, quiet)
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Stop(t.Context())
	file := filepath.Join(dir, "backup.snap")
	st, err := FetchSnapshot(srv.Addr().String(), file)
	if err != nil {
		t.Fatal(err)
	}
	want := image(p.View())
	if st.Nodes != int64(len(want)) || st.Sessions != 1 {
		t.Fatalf("snapshot stats %+v for %d znodes", st, len(want))
	}

	restored := filepath.Join(dir, "restored")
	if _, err := Restore(file, Target{CheckpointDir: filepath.Join(restored, "checkpoint"), WALDir: filepath.Join(restored, "wal")}); err != nil {
		t.Fatal(err)
	}
	store, err := checkpoint.Open(filepath.Join(restored, "checkpoint"), quiet, func(err error) { t.Error(err) })
	if err != nil {
		t.Fatal(err)
	}
	state, err := store.Load()
	store.Close()
	if err != nil || state == nil {
		t.Fatalf("load restored: %v", err)
	}
	got := image(state.Publish())
	for p, w := range want {
		if got[p] != w {
			t.Errorf("%s: restored %q, snapshot %q", p, got[p], w)
		}
	}
	if len(got) != len(want) {
		t.Fatalf("restored %d znodes, snapshot had %d", len(got), len(want))
	}
	if state.Zxid() != st.Zxid || len(state.SessionRecords()) != 1 {
		t.Fatalf("restored zxid %x sessions %v, snapshot zxid %x", state.Zxid(), state.SessionRecords(), st.Zxid)
	}
	// A restore never lands on live data.
	if _, err := Restore(file, Target{CheckpointDir: filepath.Join(restored, "checkpoint"), WALDir: filepath.Join(restored, "wal")}); err == nil ||
		!strings.Contains(err.Error(), "not empty") {
		t.Fatalf("restore over existing data: %v", err)
	}

	var out bytes.Buffer
	if err := DumpSnapshot(&out, file); err != nil || !strings.Contains(out.String(), "/t7/c37 czxid=") {
		t.Fatalf("dump-snapshot: %v\n%.400s", err, out.String())
	}
	out.Reset()
	if err := DumpWAL(&out, filepath.Join(dir, "wal")); err != nil || !strings.Contains(out.String(), "create /t7/c37") ||
		!strings.Contains(out.String(), "createSession timeout=9000") {
		t.Fatalf("dump-wal: %v\n%.400s", err, out.String())
	}

	resp, err := http.Get("http://" + srv.Addr().String() + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	for _, m := range []string{"meerkat_wal_fsync_duration_seconds", "meerkat_pipeline_batch_entries", "meerkat_snapshot_duration_seconds"} {
		if !bytes.Contains(body, []byte(m)) {
			t.Errorf("/metrics lacks %s", m)
		}
	}
}

func TestFetchRejectsADamagedSnapshot(t *testing.T) {
	srv, err := admin.Start("127.0.0.1:0", admin.Handlers{Snapshot: func(w io.Writer) (snapshot.Stats, error) {
		_, err := w.Write([]byte("not a snapshot"))
		return snapshot.Stats{}, err
	}}, quiet)
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Stop(t.Context())
	file := filepath.Join(t.TempDir(), "x.snap")
	if _, err := FetchSnapshot(srv.Addr().String(), file); err == nil {
		t.Fatal("a damaged snapshot was accepted")
	}
	if _, err := os.Stat(file); !os.IsNotExist(err) {
		t.Fatal("a damaged snapshot was left in place")
	}
}

// TestDumpWALChangesNothing dumps logs that opening would change (a leftover
// preallocated *.tmp file, a torn tail, a corrupt record): the dump must show
// the valid records, say where and why the log ends, and leave every file's
// name and bytes as they were.
func TestDumpWALChangesNothing(t *testing.T) {
	dir := t.TempDir()
	log, err := wal.Open(dir, wal.Options{SegmentSize: 4096, NoSync: true, Logger: quiet, OnSyncError: func(err error) { t.Error(err) }})
	if err != nil {
		t.Fatal(err)
	}
	const batches = 40
	for i := 0; i < batches; i++ {
		path := fmt.Sprintf("/node%02d", i)
		body := (&jute.CreateRequest{Path: path, Data: []byte("data"), ACL: engine.OpenACL}).AppendCreate(nil, false)
		payload := engine.AppendBatch(nil, int64(100+i), engine.Policy{}, []*engine.Entry{{Time: 1, Session: 7, Xid: int32(i), Op: jute.OpCreate, Body: body}})
		if err := log.Append(uint64(100+i), payload); err != nil {
			t.Fatal(err)
		}
	}
	log.Close()
	// A preallocated segment not yet renamed into place.
	if err := os.WriteFile(filepath.Join(dir, "prealloc-3.tmp"), make([]byte, 4096), 0o644); err != nil {
		t.Fatal(err)
	}
	var recs []wal.Record
	if _, err := wal.Scan(dir, func(r wal.Record) error {
		r.Payload = append([]byte(nil), r.Payload...)
		recs = append(recs, r)
		return nil
	}); err != nil || len(recs) != batches {
		t.Fatalf("scan found %d records: %v", len(recs), err)
	}
	if recs[0].Segment == recs[len(recs)-1].Segment {
		t.Fatal("bad fixture: the log should span several segments")
	}
	last, prev := recs[len(recs)-1], recs[len(recs)-2]
	segPath := filepath.Join(dir, last.Segment)
	clean, err := os.ReadFile(segPath)
	if err != nil {
		t.Fatal(err)
	}
	const hdr = 24 // a record's header, before its payload

	dump := func(name string) (string, error) {
		t.Helper()
		before := dirtest.Image(t, dir)
		var out bytes.Buffer
		err := DumpWAL(&out, dir)
		if !maps.Equal(before, dirtest.Image(t, dir)) {
			t.Fatalf("%s: dump-wal changed the log directory", name)
		}
		return out.String(), err
	}

	out, err := dump("clean")
	if err != nil || !strings.Contains(out, "create /node39") || !strings.Contains(out, fmt.Sprintf("end of log: %d batches, ends cleanly", batches)) {
		t.Fatalf("dump of a clean log: %v\n%s", err, out)
	}

	// Tear the last record: the end of its payload never reached the disk.
	torn := append([]byte(nil), clean...)
	clear(torn[last.Offset+hdr+10 : last.Offset+hdr+int64(len(last.Payload))])
	if err := os.WriteFile(segPath, torn, 0o644); err != nil {
		t.Fatal(err)
	}
	out, err = dump("torn tail")
	wantEnd := fmt.Sprintf("end of log: %d batches, then what a crash (or an append in progress) left in %s at offset %d: torn tail", batches-1, segPath, last.Offset)
	if err != nil || !strings.Contains(out, "create /node38") || strings.Contains(out, "create /node39") || !strings.Contains(out, wantEnd) {
		t.Fatalf("dump of a torn log: %v\n%s\nwant a line starting %q", err, out, wantEnd)
	}

	// Damage the record before the last: a valid record follows, so this
	// is corruption, shown up to the damage and reported as an error.
	corrupt := append([]byte(nil), clean...)
	corrupt[prev.Offset+hdr+1] ^= 0x10
	if err := os.WriteFile(segPath, corrupt, 0o644); err != nil {
		t.Fatal(err)
	}
	out, err = dump("corrupt")
	wantEnd = fmt.Sprintf("end of log: %d batches, then CORRUPTION in %s at offset %d: record is damaged", batches-2, segPath, prev.Offset)
	if !errors.Is(err, wal.ErrCorrupt) || !strings.Contains(out, "create /node37") || strings.Contains(out, "create /node38") || !strings.Contains(out, wantEnd) {
		t.Fatalf("dump of a corrupt log: %v\n%s\nwant a line starting %q", err, out, wantEnd)
	}
}
