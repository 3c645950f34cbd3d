package wal

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/meerkat-zk/meerkat/internal/dirtest"
	"github.com/meerkat-zk/meerkat/wal/walfs"
)

var discard = slog.New(slog.NewTextHandler(io.Discard, nil))

func quiet() Options {
	return Options{SegmentSize: 4096, OnSyncError: func(error) {}, Logger: discard}
}

type rec struct {
	index   uint64
	payload string
}

func appendAll(t *testing.T, w *WAL, recs []rec) {
	t.Helper()
	for _, r := range recs {
		if err := w.Append(r.index, []byte(r.payload)); err != nil {
			t.Fatalf("append %d: %v", r.index, err)
		}
	}
}

func replay(t *testing.T, w *WAL) []rec {
	t.Helper()
	var out []rec
	if err := w.Replay(func(i uint64, p []byte) error {
		out = append(out, rec{i, string(p)})
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	return out
}

func testRecords(n int) []rec {
	var recs []rec
	for i := 1; i <= n; i++ {
		recs = append(recs, rec{uint64(i * 10), strings.Repeat(fmt.Sprint(i%10), 37*i%300+1)})
	}
	return recs
}

func equal(a, b []rec) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func TestAppendReopenReplayAcrossSegments(t *testing.T) {
	dir := t.TempDir()
	w, err := Open(dir, quiet())
	if err != nil {
		t.Fatal(err)
	}
	recs := testRecords(60)
	appendAll(t, w, recs)
	if len(w.Segments()) < 3 {
		t.Fatalf("expected rotation into several segments, got %v", w.Segments())
	}
	w.Close()
	w, err = Open(dir, quiet())
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	if got := replay(t, w); !equal(got, recs) {
		t.Fatalf("replayed %d records, want %d", len(got), len(recs))
	}
	if w.LastIndex() != recs[len(recs)-1].index {
		t.Fatalf("last index %d", w.LastIndex())
	}
	more := rec{9999, "after reopen"}
	appendAll(t, w, []rec{more})
	if got := replay(t, w); !equal(got, append(recs, more)) {
		t.Fatal("append after reopen")
	}
}

func copyDir(t *testing.T, from string) string {
	t.Helper()
	to := t.TempDir()
	entries, err := os.ReadDir(from)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		b, err := os.ReadFile(filepath.Join(from, e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(to, e.Name()), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return to
}

func lastSegment(t *testing.T, dir string) string {
	t.Helper()
	entries, _ := os.ReadDir(dir)
	var last string
	for _, e := range entries {
		if strings.HasSuffix(e.Name(), ".wal") {
			last = e.Name()
		}
	}
	return filepath.Join(dir, last)
}

// TestTornTailAtEveryOffset simulates a crash during the append of the last
// records: the bytes of those records are cut at every offset (what follows
// the cut reads as the zeros of the preallocated file, or as a prefix of the
// record with zeros after it). Recovery must keep exactly the records that
// were complete, and the log must take appends again.
func TestTornTailAtEveryOffset(t *testing.T) {
	base := t.TempDir()
	w, err := Open(base, Options{SegmentSize: 16 << 10, OnSyncError: func(error) {}, Logger: discard})
	if err != nil {
		t.Fatal(err)
	}
	recs := testRecords(6)
	appendAll(t, w, recs)
	w.Close()
	seg := lastSegment(t, base)
	data, _ := os.ReadFile(seg)
	// Where each record's bytes end (its zero padding needs no writing).
	var ends []int64
	off := int64(segmentHeaderSize)
	for range recs {
		r, ok, _ := parseRecord(data, off)
		if !ok {
			t.Fatal("bad fixture")
		}
		ends = append(ends, off+recordHeaderSize+int64(len(r.payload)))
		off += r.size
	}
	tornFrom := ends[len(ends)-4] // the last three records get torn
	for cut := tornFrom; cut <= ends[len(ends)-1]; cut++ {
		dir := copyDir(t, base)
		torn := append([]byte(nil), data...)
		clear(torn[cut:])
		if err := os.WriteFile(lastSegment(t, dir), torn, 0o644); err != nil {
			t.Fatal(err)
		}
		w, err := Open(dir, Options{SegmentSize: 16 << 10, OnSyncError: func(error) {}, Logger: discard})
		if err != nil {
			t.Fatalf("cut at %d: %v", cut, err)
		}
		kept := 0
		for kept < len(ends) && ends[kept] <= cut {
			kept++
		}
		if got := replay(t, w); !equal(got, recs[:kept]) {
			t.Fatalf("cut at %d: replayed %d records, want %d", cut, len(got), kept)
		}
		next := rec{1000, "after the crash"}
		appendAll(t, w, []rec{next})
		w.Close()
		w, err = Open(dir, Options{SegmentSize: 16 << 10, OnSyncError: func(error) {}, Logger: discard})
		if err != nil {
			t.Fatalf("cut at %d, second open: %v", cut, err)
		}
		if got := replay(t, w); !equal(got, append(recs[:kept:kept], next)) {
			t.Fatalf("cut at %d: after append and reopen got %d records", cut, len(got))
		}
		w.Close()
	}
}

func TestFlippedByteMidLogRefusesToOpen(t *testing.T) {
	dir := t.TempDir()
	w, err := Open(dir, Options{SegmentSize: 1 << 20, OnSyncError: func(error) {}, Logger: discard})
	if err != nil {
		t.Fatal(err)
	}
	recs := testRecords(20)
	appendAll(t, w, recs)
	w.Close()
	seg := lastSegment(t, dir)
	data, _ := os.ReadFile(seg)
	// Flip a payload byte of the third record.
	off := int64(segmentHeaderSize)
	for i := 0; i < 2; i++ {
		r, _, _ := parseRecord(data, off)
		off += r.size
	}
	data[off+recordHeaderSize+3] ^= 0x40
	if err := os.WriteFile(seg, data, 0o644); err != nil {
		t.Fatal(err)
	}
	_, err = Open(dir, Options{SegmentSize: 1 << 20, OnSyncError: func(error) {}, Logger: discard})
	if !errors.Is(err, ErrCorrupt) {
		t.Fatalf("open of a corrupt log: %v", err)
	}
	for _, want := range []string{filepath.Base(seg), fmt.Sprintf("offset %d", off)} {
		if !strings.Contains(err.Error(), want) {
			t.Fatalf("error %q does not name %q", err, want)
		}
	}
	// The repair option cuts the log at the damaged record.
	w, err = Open(dir, Options{SegmentSize: 1 << 20, Repair: true, OnSyncError: func(error) {}, Logger: discard})
	if err != nil {
		t.Fatal(err)
	}
	if got := replay(t, w); !equal(got, recs[:2]) {
		t.Fatalf("after repair: %d records", len(got))
	}
	w.Close()
}

func TestCorruptEarlierSegmentRefusesToOpen(t *testing.T) {
	dir := t.TempDir()
	w, _ := Open(dir, quiet())
	appendAll(t, w, testRecords(60))
	w.Close()
	first := filepath.Join(dir, w.Segments()[0])
	data, _ := os.ReadFile(first)
	data[segmentHeaderSize+recordHeaderSize] ^= 1
	_ = os.WriteFile(first, data, 0o644)
	if _, err := Open(dir, quiet()); !errors.Is(err, ErrCorrupt) {
		t.Fatalf("damage in a sealed segment must refuse to open: %v", err)
	}
}

func TestRemoveThroughKeepsWhatIsNotCheckpointed(t *testing.T) {
	dir := t.TempDir()
	w, _ := Open(dir, quiet())
	defer w.Close()
	recs := testRecords(60)
	appendAll(t, w, recs)
	before := len(w.Segments())
	if err := w.RemoveThrough(300); err != nil {
		t.Fatal(err)
	}
	if len(w.Segments()) >= before {
		t.Fatalf("nothing removed: %v", w.Segments())
	}
	// Everything after 300 must still be there, in order, to the end.
	got := replay(t, w)
	var want []rec
	for _, r := range recs {
		if r.index > 300 {
			want = append(want, r)
		}
	}
	if len(got) < len(want) || !equal(got[len(got)-len(want):], want) || got[0].index > 310 {
		t.Fatalf("after RemoveThrough(300) the log replays %d records from %d", len(got), got[0].index)
	}
}

func TestNoSpaceFailsAppendsUntilSpaceReturns(t *testing.T) {
	dir := t.TempDir()
	efs := walfs.NewFaulty(OSFS)
	opts := quiet()
	opts.FS = efs
	w, err := Open(dir, opts)
	if err != nil {
		t.Fatal(err)
	}
	acked := testRecords(5)
	appendAll(t, w, acked)
	efs.SetFull(true)
	for i := 0; i < 40; i++ { // enough to need a new segment too
		err := w.Append(uint64(1000+i), bytes.Repeat([]byte("x"), 200))
		if !errors.Is(err, ErrNoSpace) {
			t.Fatalf("append on a full disk: %v", err)
		}
	}
	efs.SetFull(false)
	later := testRecords(60)[5:]
	appendAll(t, w, later)
	w.Close()
	w, err = Open(dir, quiet())
	if err != nil {
		t.Fatalf("reopen after ENOSPC: %v", err)
	}
	defer w.Close()
	if got := replay(t, w); !equal(got, append(acked, later...)) {
		t.Fatalf("after a full disk the log holds %d records, want %d", len(got), len(acked)+len(later))
	}
}

func TestFailedSyncIsFatalAndNeverAcknowledged(t *testing.T) {
	dir := t.TempDir()
	efs := walfs.NewFaulty(OSFS)
	var fatal []error
	w, err := Open(dir, Options{FS: efs, SegmentSize: 4096, Logger: discard, OnSyncError: func(err error) { fatal = append(fatal, err) }})
	if err != nil {
		t.Fatal(err)
	}
	appendAll(t, w, testRecords(3))
	efs.SetBroken(true)
	if err := w.Append(500, []byte("lost")); err == nil || len(fatal) != 1 {
		t.Fatalf("append with a failing sync: err %v, fatal calls %d", err, len(fatal))
	}
	efs.SetBroken(false)
	// No retry: the WAL stays failed even if the disk recovers.
	if err := w.Append(501, []byte("x")); !errors.Is(err, ErrFailed) {
		t.Fatalf("append after a failed sync: %v", err)
	}
}

// TestRecordsEndingInZerosSurviveReopen guards the reader against mistaking
// a payload's trailing zero bytes for the zeros after the data.
func TestRecordsEndingInZerosSurviveReopen(t *testing.T) {
	dir := t.TempDir()
	w, _ := Open(dir, Options{SegmentSize: 1 << 20, Logger: discard, OnSyncError: func(error) {}})
	recs := []rec{{1, "abc\x00\x00\x00"}, {2, string(make([]byte, 5000))}, {3, "z\x00"}}
	appendAll(t, w, recs)
	w.Close()
	w, err := Open(dir, Options{SegmentSize: 1 << 20, Logger: discard, OnSyncError: func(error) {}})
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	if got := replay(t, w); !equal(got, recs) {
		t.Fatalf("replayed %+v", got)
	}
}

func scanAll(t *testing.T, dir string) ([]rec, *Damage) {
	t.Helper()
	var out []rec
	d, err := Scan(dir, func(r Record) error {
		out = append(out, rec{r.Index, string(r.Payload)})
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out, d
}

// TestScanChangesNothing points Scan at logs Open would change (a leftover
// preallocation, a torn tail, an empty last segment, a corrupt record): it
// must report the valid records and where and why they end, and leave every
// file as it was.
func TestScanChangesNothing(t *testing.T) {
	base := t.TempDir()
	w, err := Open(base, quiet())
	if err != nil {
		t.Fatal(err)
	}
	recs := testRecords(30)
	appendAll(t, w, recs)
	w.Close()
	if len(w.Segments()) < 2 {
		t.Fatalf("expected several segments, got %v", w.Segments())
	}
	if err := os.WriteFile(filepath.Join(base, "prealloc-7.tmp"), make([]byte, 4096), 0o644); err != nil {
		t.Fatal(err)
	}
	last := lastSegment(t, base)
	data, _ := os.ReadFile(last)
	// The offsets of the records of the last segment.
	var offs []int64
	for off := int64(segmentHeaderSize); ; {
		r, ok, _ := parseRecord(data, off)
		if !ok {
			break
		}
		offs = append(offs, off)
		off += r.size
	}
	if len(offs) < 2 {
		t.Fatalf("bad fixture: %d records in the last segment", len(offs))
	}
	lastOff := offs[len(offs)-1]

	check := func(name, dir string, want []rec, wantDamage *Damage) {
		t.Helper()
		before := dirtest.Image(t, dir)
		got, d := scanAll(t, dir)
		if !maps.Equal(before, dirtest.Image(t, dir)) {
			t.Fatalf("%s: Scan changed the directory", name)
		}
		if !equal(got, want) {
			t.Fatalf("%s: scanned %d records, want %d", name, len(got), len(want))
		}
		switch {
		case wantDamage == nil && d != nil:
			t.Fatalf("%s: damage %v on a clean log", name, d)
		case wantDamage != nil && (d == nil || d.Segment != wantDamage.Segment || d.Offset != wantDamage.Offset || d.Corrupt != wantDamage.Corrupt):
			t.Fatalf("%s: damage %+v, want %+v", name, d, wantDamage)
		}
		// ScanIntact fails on corruption alone.
		err := ScanIntact(dir, func(Record) error { return nil })
		if wantCorrupt := wantDamage != nil && wantDamage.Corrupt; errors.Is(err, ErrCorrupt) != wantCorrupt || !wantCorrupt && err != nil {
			t.Fatalf("%s: ScanIntact: %v", name, err)
		}
	}
	check("clean", base, recs, nil)

	torn := copyDir(t, base)
	b := append([]byte(nil), data...)
	clear(b[lastOff+recordHeaderSize+2:])
	_ = os.WriteFile(lastSegment(t, torn), b, 0o644)
	check("torn tail", torn, recs[:len(recs)-1], &Damage{Segment: filepath.Base(last), Offset: lastOff})

	empty := copyDir(t, base)
	_ = os.WriteFile(filepath.Join(empty, segmentName(99, 9999)), make([]byte, 4096), 0o644)
	check("empty last segment", empty, recs, &Damage{Segment: segmentName(99, 9999)})

	corrupt := copyDir(t, base)
	b = append([]byte(nil), data...)
	b[offs[len(offs)-2]+recordHeaderSize] ^= 1
	_ = os.WriteFile(lastSegment(t, corrupt), b, 0o644)
	check("corrupt", corrupt, recs[:len(recs)-2], &Damage{Segment: filepath.Base(last), Offset: offs[len(offs)-2], Corrupt: true})

	// Open agrees: it removes the leftovers and cuts the torn tail.
	w, err = Open(torn, quiet())
	if err != nil {
		t.Fatal(err)
	}
	w.Close()
	if _, err := os.Stat(filepath.Join(torn, "prealloc-7.tmp")); !os.IsNotExist(err) {
		t.Fatalf("Open left the preallocated file: %v", err)
	}
	if got, d := scanAll(t, torn); d != nil || !equal(got, recs[:len(recs)-1]) {
		t.Fatalf("after Open cut the tail, Scan finds %d records and damage %v", len(got), d)
	}
}

func TestScanReturnsFnErrorAndFailsOnAMissingDir(t *testing.T) {
	dir := t.TempDir()
	w, _ := Open(dir, quiet())
	appendAll(t, w, testRecords(3))
	w.Close()
	stop := errors.New("stop")
	n := 0
	if _, err := Scan(dir, func(Record) error { n++; return stop }); err != stop || n != 1 {
		t.Fatalf("Scan returned %v after %d calls", err, n)
	}
	missing := filepath.Join(dir, "nope")
	if _, err := Scan(missing, func(Record) error { return nil }); err == nil {
		t.Fatal("Scan of a missing directory succeeded")
	}
	if _, err := os.Stat(missing); !os.IsNotExist(err) {
		t.Fatal("Scan created the directory")
	}
}

// TestUnsyncedRecordsAreSyncedLater: AppendUnsynced does not wait for the
// disk; Close syncs what it left (as a new segment does, through the same
// closeCurrent).
func TestUnsyncedRecordsAreSyncedLater(t *testing.T) {
	dir := t.TempDir()
	efs := walfs.NewFaulty(OSFS)
	open := func() *WAL {
		w, err := Open(dir, Options{FS: efs, SegmentSize: 4096, Logger: discard, OnSyncError: func(error) {}})
		if err != nil {
			t.Fatal(err)
		}
		return w
	}
	w := open()
	appendAll(t, w, testRecords(2))
	efs.SetBroken(true)
	if err := w.AppendUnsynced(100, []byte("commit")); err != nil {
		t.Fatalf("an unsynced append waited for the disk: %v", err)
	}
	if err := w.Close(); err == nil {
		t.Fatal("Close left an unsynced record unsynced")
	}
	efs.SetBroken(false)
	w = open()
	if got := replay(t, w); len(got) != 3 || got[2] != (rec{100, "commit"}) {
		t.Fatalf("replayed %v", got)
	}
}

// TestSyncCoversUnsyncedRecords: Sync makes what AppendUnsynced left
// durable, and has nothing to do (it does not touch the disk) when the
// last record was synced already.
func TestSyncCoversUnsyncedRecords(t *testing.T) {
	efs := walfs.NewFaulty(OSFS)
	w, err := Open(t.TempDir(), Options{FS: efs, SegmentSize: 4096, Logger: discard, OnSyncError: func(error) {}})
	if err != nil {
		t.Fatal(err)
	}
	appendAll(t, w, testRecords(2))
	efs.SetBroken(true)
	if err := w.Sync(); err != nil {
		t.Fatalf("Sync after a synced record touched the disk: %v", err)
	}
	efs.SetBroken(false)
	for i := range uint64(3) {
		if err := w.AppendUnsynced(100+i, []byte("batch")); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Sync(); err != nil {
		t.Fatal(err)
	}
	// Nothing is left for Close to sync: a broken disk does not fail it.
	efs.SetBroken(true)
	if err := w.Close(); err != nil {
		t.Fatalf("Close found records Sync had left unsynced: %v", err)
	}
}

// TestSyncFailureFailsTheLog: a failed Sync is reported, and the log takes
// no more records (what it wrote may not be on the disk).
func TestSyncFailureFailsTheLog(t *testing.T) {
	efs := walfs.NewFaulty(OSFS)
	w, err := Open(t.TempDir(), Options{FS: efs, SegmentSize: 4096, Logger: discard, OnSyncError: func(error) {}})
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	if err := w.AppendUnsynced(1, []byte("x")); err != nil {
		t.Fatal(err)
	}
	efs.SetBroken(true)
	if err := w.Sync(); !errors.Is(err, ErrFailed) {
		t.Fatalf("Sync on a broken disk returned %v", err)
	}
	efs.SetBroken(false)
	if err := w.Append(2, []byte("y")); !errors.Is(err, ErrFailed) {
		t.Fatalf("Append after a failed Sync returned %v", err)
	}
}
