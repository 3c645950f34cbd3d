package wal

import (
	"bytes"
	"errors"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"testing"
)

// memFS is a file system of segments held in memory, read-only: what
// readLog needs to read a log without a disk.
type memFS map[string][]byte

func (m memFS) OpenFile(name string, flag int, _ fs.FileMode) (File, error) {
	b, ok := m[name]
	switch {
	case !ok:
		return nil, fs.ErrNotExist
	case flag != os.O_RDONLY:
		return nil, fs.ErrPermission
	}
	return memFile(b), nil
}

func (memFS) Rename(string, string) error           { return errors.ErrUnsupported }
func (memFS) Remove(string) error                   { return errors.ErrUnsupported }
func (memFS) ReadDir(string) ([]fs.DirEntry, error) { return nil, errors.ErrUnsupported }
func (memFS) MkdirAll(string, fs.FileMode) error    { return errors.ErrUnsupported }
func (memFS) SyncDir(string) error                  { return errors.ErrUnsupported }
func (memFile) WriteAt([]byte, int64) (int, error)  { return 0, errors.ErrUnsupported }
func (memFile) Sync() error                         { return errors.ErrUnsupported }
func (memFile) Allocate(int64) error                { return errors.ErrUnsupported }
func (memFile) Truncate(int64) error                { return errors.ErrUnsupported }
func (f memFile) Size() (int64, error)              { return int64(len(f)), nil }
func (memFile) Close() error                        { return nil }
func (f memFile) ReadAt(p []byte, off int64) (int, error) {
	if off >= int64(len(f)) {
		return 0, io.EOF
	}
	n := copy(p, f[off:])
	if n < len(p) {
		return n, io.EOF
	}
	return n, nil
}

type memFile []byte

// scanMem reads the log of segments (in order, empty ones left out) and
// returns what readLog found and every record it read, with its payload
// copied.
func scanMem(t *testing.T, segments ...[]byte) (memFS, []string, *logState, []Record) {
	t.Helper()
	fsys := memFS{}
	var names []string
	for i, data := range segments {
		if len(data) > 0 {
			names = append(names, segmentName(uint64(i+1), 1))
			fsys[names[len(names)-1]] = data
		}
	}
	var recs []Record
	st, err := readLog(fsys, "", names, func(r Record) error {
		r.Payload = bytes.Clone(r.Payload)
		recs = append(recs, r)
		return nil
	})
	if err != nil {
		t.Fatalf("reading segments that cannot fail to read: %v", err)
	}
	return fsys, names, st, recs
}

// sameRecords compares what two reads delivered, index and payload.
func sameRecords(a, b []Record) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i].Index != b[i].Index || !bytes.Equal(a[i].Payload, b[i].Payload) {
			return false
		}
	}
	return true
}

// FuzzScan feeds the recovery's reader (readLog, behind Open and Scan) a
// log of two segments, as torn, damaged or foreign as the fuzzer makes
// them. It proves that reading never fails on bytes alone; that every
// record it delivers is whole and checksummed where it says it is; that
// cutting the log where it reports damage, as Open does, leaves exactly
// the records before it and a clean end; and that the records it read,
// written afresh, read back the same.
func FuzzScan(f *testing.F) {
	dir := f.TempDir()
	w, err := Open(dir, quiet())
	if err != nil {
		f.Fatal(err)
	}
	for _, r := range testRecords(30) {
		if err := w.Append(r.index, []byte(r.payload)); err != nil {
			f.Fatal(err)
		}
	}
	w.Close()
	var segs [][]byte
	for _, name := range w.Segments() {
		b, err := os.ReadFile(filepath.Join(dir, name))
		if err != nil {
			f.Fatal(err)
		}
		segs = append(segs, b)
	}
	for i := range segs {
		next := []byte(nil)
		if i+1 < len(segs) {
			next = segs[i+1]
		}
		f.Add(segs[i], next)
	}
	f.Fuzz(func(t *testing.T, first, second []byte) {
		fsys, names, st, recs := scanMem(t, first, second)
		for i, r := range recs {
			p, ok, _ := parseRecord(fsys[r.Segment], r.Offset)
			if !ok || p.index != r.Index || !bytes.Equal(p.payload, r.Payload) {
				t.Fatalf("record %d at %s:%d does not parse as delivered", i, r.Segment, r.Offset)
			}
		}
		if d := st.damage; d != nil {
			if d.Offset < 0 || d.Offset > int64(len(fsys[d.Segment])) {
				t.Fatalf("damage %v outside the %d bytes of the segment", d, len(fsys[d.Segment]))
			}
			if d.kind == damageTornTail || d.kind == damageCorruptRecord {
				cut := bytes.Clone(fsys[d.Segment])
				clear(cut[d.Offset:])
				segments := make([][]byte, st.at+1)
				for i, name := range names[:st.at+1] {
					segments[i] = fsys[name]
				}
				segments[st.at] = cut
				_, _, st2, recs2 := scanMem(t, segments...)
				if st2.damage != nil || !sameRecords(recs, recs2) {
					t.Fatalf("cut at %v, the log reads %d records (not %d) and damage %v", d, len(recs2), len(recs), st2.damage)
				}
			}
		}
		if len(recs) == 0 {
			return
		}
		data := segmentHeader{seq: 1, firstIndex: recs[0].Index}.encode()
		var crc uint32
		for _, r := range recs {
			data, crc = appendRecord(data, crc, r.Index, r.Payload)
		}
		if _, _, st2, recs2 := scanMem(t, data); st2.damage != nil || !sameRecords(recs, recs2) {
			t.Fatalf("%d records written afresh read back as %d, damage %v", len(recs), len(recs2), st2.damage)
		}
	})
}
