package wal

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"
)

// ErrNoSpace is returned by Append when the disk is full. Nothing of the
// record was acknowledged; the WAL is unchanged and usable.
var ErrNoSpace = errors.New("wal: no space left on device")

// ErrCorrupt is wrapped by Open's error when the log is damaged in a way a
// crash cannot explain.
var ErrCorrupt = errors.New("wal: corrupt")

// ErrFailed is returned once a sync or write failed: the WAL cannot be used
// again.
var ErrFailed = errors.New("wal: failed earlier; the process must restart")

// Options configures a WAL.
type Options struct {
	// FS is the file system; nil means OSFS.
	FS FS
	// SegmentSize is the size segments are preallocated to, in bytes; 0
	// means 64 MiB.
	SegmentSize int64
	// NoSync skips fdatasync (zoo.cfg forceSync=no). For tests only: an
	// acknowledged write may then be lost by a power failure.
	NoSync bool
	// Repair makes Open cut the log at a corrupt record, after logging what
	// it drops, instead of refusing to open.
	Repair bool
	// OnSyncError is called when a sync or write fails; the data was not
	// made durable and the WAL is unusable. Nil logs and exits the process.
	OnSyncError func(error)
	// Logger receives the WAL's logs; nil means slog.Default().
	Logger *slog.Logger
}

type segment struct {
	name string
	hdr  segmentHeader
	// end is the offset just past the last valid record.
	end int64
}

// WAL is an open write-ahead log. It is owned by one goroutine.
type WAL struct {
	opts     Options
	dir      string
	segments []segment
	cur      File
	lastCRC  uint32
	// lastIndex is the index of the last record (0 when empty).
	lastIndex uint64
	buf       []byte
	failed    bool
	// unsynced says the current segment's last record was written by
	// AppendUnsynced and is not known to be durable.
	unsynced bool
	// zeroed is the offset in the current segment up to which its blocks
	// have been written at least once (see zeroAhead).
	zeroed   int64
	prealloc chan preallocated
	preN     int
}

type preallocated struct {
	f    File
	path string
	err  error
}

// Open opens or creates the log in dir and recovers it (see the package
// documentation): a torn tail is cut, corruption fails with ErrCorrupt.
func Open(dir string, opts Options) (*WAL, error) {
	if opts.FS == nil {
		opts.FS = OSFS
	}
	if opts.SegmentSize <= 0 {
		opts.SegmentSize = 64 << 20
	}
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	if opts.OnSyncError == nil {
		opts.OnSyncError = func(err error) {
			opts.Logger.Error("wal: sync failed; stopping: acknowledged data would be at risk", "err", err)
			os.Exit(2)
		}
	}
	if err := opts.FS.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("wal: %w", err)
	}
	w := &WAL{opts: opts, dir: dir}
	if err := w.recover(); err != nil {
		return nil, err
	}
	return w, nil
}

func segmentName(seq, firstIndex uint64) string {
	return fmt.Sprintf("%016x-%016x.wal", seq, firstIndex)
}

// segmentNames returns the segment files in dir in order, and the leftovers
// of unfinished preallocation.
func segmentNames(fsys FS, dir string) (names, tmps []string, err error) {
	entries, err := fsys.ReadDir(dir)
	if err != nil {
		return nil, nil, fmt.Errorf("wal: %w", err)
	}
	for _, e := range entries {
		switch {
		case strings.HasSuffix(e.Name(), ".tmp"):
			tmps = append(tmps, e.Name())
		case strings.HasSuffix(e.Name(), ".wal"):
			names = append(names, e.Name())
		}
	}
	slices.Sort(names)
	return names, tmps, nil
}

// recover validates every segment and finds where appending resumes: it
// removes leftovers of unfinished preallocation and an empty last segment,
// cuts a torn tail and refuses corruption (or, with Options.Repair, cuts
// at a corrupt record).
func (w *WAL) recover() error {
	names, tmps, err := segmentNames(w.opts.FS, w.dir)
	if err != nil {
		return err
	}
	for _, tmp := range tmps {
		_ = w.opts.FS.Remove(filepath.Join(w.dir, tmp))
	}
	st, err := readLog(w.opts.FS, w.dir, names, nil)
	if err != nil {
		return err
	}
	w.segments, w.lastCRC, w.lastIndex = st.segments, st.lastCRC, st.lastIndex
	if d := st.damage; d != nil {
		switch d.kind {
		case damageEmptySegment:
			w.opts.Logger.Warn("wal: removing an empty segment left by a crash", "segment", d.Segment)
			_ = w.opts.FS.Remove(filepath.Join(w.dir, d.Segment))
		case damageBadSegment:
			return fmt.Errorf("%w: %s", ErrCorrupt, d)
		case damageCorruptRecord:
			if !w.opts.Repair {
				return fmt.Errorf("%w: %s; refusing to start (the repair option cuts the log there, losing what follows)", ErrCorrupt, d)
			}
			w.opts.Logger.Warn("wal: repair: cutting the log at a corrupt record, dropping everything after it", "detail", d.String())
			if err := w.cut(st.at, names, d.Offset, st.data); err != nil {
				return err
			}
		case damageTornTail:
			w.opts.Logger.Warn("wal: cutting a torn tail left by a crash mid-append",
				"segment", d.Segment, "offset", d.Offset, "bytes", nonZeroExtent(st.data, d.Offset))
			if err := w.cut(st.at, names, d.Offset, st.data); err != nil {
				return err
			}
		}
	}
	if len(w.segments) > 0 {
		last := w.segments[len(w.segments)-1]
		f, err := w.opts.FS.OpenFile(filepath.Join(w.dir, last.name), os.O_RDWR, 0)
		if err != nil {
			return fmt.Errorf("wal: %w", err)
		}
		w.cur, w.zeroed = f, last.end
	}
	return nil
}

// Damage says where a log's valid records stop short of the end of its
// data, and why.
type Damage struct {
	// Segment is the file name of the damaged segment; Offset is where in
	// it the first bad record starts (0 when the segment's header is bad).
	Segment string
	Offset  int64
	// Reason says what is wrong there.
	Reason string
	// Corrupt is true when a crash cannot explain the damage: Open refuses
	// such a log (Options.Repair cuts a corrupt record and what follows).
	// Otherwise the damage is what a crash leaves (a torn tail of an
	// append that never returned, or a last segment whose header never
	// reached the disk), which Open removes.
	Corrupt bool
	kind    damageKind
}

type damageKind int

const (
	damageTornTail damageKind = iota
	damageEmptySegment
	damageCorruptRecord
	damageBadSegment
)

func (d *Damage) String() string {
	if d.Offset == 0 {
		return fmt.Sprintf("segment %s: %s", d.Segment, d.Reason)
	}
	return fmt.Sprintf("segment %s offset %d: %s", d.Segment, d.Offset, d.Reason)
}

// Record is one record of a log, as Scan reads it.
type Record struct {
	// Segment is the file name of the segment holding the record and
	// Offset its byte offset there.
	Segment string
	Offset  int64
	Index   uint64
	// Payload is only valid during the call to Scan's fn.
	Payload []byte
}

// Scan reads the log in dir and calls fn for every valid record, in order.
// Unlike Open it only reads: it opens files read-only and never removes,
// cuts or creates anything, so it may be pointed at the log of a running
// server (whose append in progress it may then see as a torn tail). It
// returns where and why the valid records stop short of the end of the
// data, or nil when the log ends cleanly; an error is a failure to read or
// fn's error, returned as it is.
func Scan(dir string, fn func(Record) error) (*Damage, error) {
	names, _, err := segmentNames(OSFS, dir)
	if err != nil {
		return nil, err
	}
	st, err := readLog(OSFS, dir, names, fn)
	if err != nil {
		return nil, err
	}
	return st.damage, nil
}

// ScanIntact is Scan for a reader that takes the log as a crash leaves
// it: a torn tail ends the records quietly, damage a crash cannot explain
// is an error wrapping ErrCorrupt.
func ScanIntact(dir string, fn func(Record) error) error {
	damage, err := Scan(dir, fn)
	if err == nil && damage != nil && damage.Corrupt {
		err = fmt.Errorf("%w: %s", ErrCorrupt, damage)
	}
	return err
}

// logState is what reading a log's segments found.
type logState struct {
	// segments are the segments up to and including the one the valid
	// records end in; lastCRC and lastIndex are those of the last valid
	// record.
	segments  []segment
	lastCRC   uint32
	lastIndex uint64
	// damage is nil when the data ends cleanly. Otherwise at is the
	// position in the names of the damaged segment and, for damage in its
	// records, data is all its bytes.
	damage *Damage
	at     int
	data   []byte
	// fnErr is the error the caller's function returned.
	fnErr error
}

// readLog reads the named segments of the log in dir, read-only, calling fn
// (if not nil) for every valid record, and stops at the first damage.
func readLog(fsys FS, dir string, names []string, fn func(Record) error) (*logState, error) {
	st := &logState{}
	segs := make([]*segmentData, len(names))
	defer func() {
		for _, sd := range segs {
			if sd != nil {
				sd.f.Close()
			}
		}
	}()
	for i, name := range names {
		var err error
		if segs[i], err = openSegmentData(fsys, dir, name); err != nil {
			return nil, err
		}
	}
	for i, name := range names {
		sd := segs[i]
		hdr, ok := decodeSegmentHeader(sd.data)
		if !ok {
			data, err := sd.all()
			if err != nil {
				return nil, fmt.Errorf("wal: segment %s: %w", name, err)
			}
			st.at = i
			if i == len(names)-1 && allZero(data) {
				// A segment renamed into place whose header never reached
				// the disk: nothing was ever written to it.
				st.damage = &Damage{Segment: name, Reason: "empty segment left by a crash (its header never reached the disk)", kind: damageEmptySegment}
			} else {
				st.damage = &Damage{Segment: name, Reason: "bad header", Corrupt: true, kind: damageBadSegment}
			}
			return st, nil
		}
		if i > 0 {
			prev := st.segments[len(st.segments)-1]
			if hdr.seq != prev.hdr.seq+1 || hdr.prev != st.lastCRC {
				st.at = i
				st.damage = &Damage{Segment: name, Reason: "does not follow " + prev.name, Corrupt: true, kind: damageBadSegment}
				return st, nil
			}
		} else {
			st.lastCRC = hdr.prev
		}
		seg := segment{name: name, hdr: hdr, end: segmentHeaderSize}
		bad, reason, err := st.scan(&seg, sd, fn)
		if err != nil {
			if st.fnErr != nil {
				return nil, st.fnErr
			}
			return nil, fmt.Errorf("wal: segment %s: %w", name, err)
		}
		st.segments = append(st.segments, seg)
		if bad < 0 {
			continue
		}
		// A record at bad is not valid. Is anything valid after it?
		rest := make([][]byte, 0, len(names)-i)
		for _, later := range segs[i:] {
			data, err := later.all()
			if err != nil {
				return nil, fmt.Errorf("wal: %w", err)
			}
			rest = append(rest, data)
		}
		st.at, st.data = i, rest[0]
		if where, ok := findValid(rest, bad); ok {
			st.damage = &Damage{Segment: name, Offset: bad, Corrupt: true, kind: damageCorruptRecord,
				Reason: fmt.Sprintf("record is damaged (%s) but a valid record follows (%s)", reason, where)}
		} else {
			st.damage = &Damage{Segment: name, Offset: bad, kind: damageTornTail,
				Reason: fmt.Sprintf("torn tail of %d bytes (%s) and nothing valid after it: an append that never returned",
					nonZeroExtent(st.data, bad), reason)}
		}
		return st, nil
	}
	return st, nil
}

// segmentData is a segment's bytes, read from the front as far as needed.
type segmentData struct {
	f    File
	size int64
	data []byte
}

func openSegmentData(fsys FS, dir, name string) (*segmentData, error) {
	f, err := fsys.OpenFile(filepath.Join(dir, name), os.O_RDONLY, 0)
	if err != nil {
		return nil, fmt.Errorf("wal: %w", err)
	}
	size, err := f.Size()
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("wal: segment %s: %w", name, err)
	}
	sd := &segmentData{f: f, size: size}
	return sd, sd.ensure(min(size, 1<<20))
}

// ensure makes at least n bytes (or the whole file) available.
func (sd *segmentData) ensure(n int64) error {
	n = min(n, sd.size)
	if int64(len(sd.data)) >= n {
		return nil
	}
	// Grow geometrically so a long scan reads the file in few calls.
	want := min(sd.size, max(n, 2*int64(len(sd.data))))
	buf := make([]byte, want)
	copy(buf, sd.data)
	m, err := sd.f.ReadAt(buf[len(sd.data):], int64(len(sd.data)))
	if err != nil && !errors.Is(err, io.EOF) {
		return err
	}
	sd.data = buf[:int64(len(sd.data))+int64(m)]
	return nil
}

// all reads the whole segment.
func (sd *segmentData) all() ([]byte, error) {
	err := sd.ensure(sd.size)
	return sd.data, err
}

// scan reads seg's records, updating seg.end, st.lastCRC and st.lastIndex,
// and calls fn (if not nil) for each. It returns the offset of the first
// invalid record, or -1 if the data ends cleanly.
func (st *logState) scan(seg *segment, sd *segmentData, fn func(Record) error) (int64, string, error) {
	off := int64(segmentHeaderSize)
	for {
		if err := sd.ensure(off + recordHeaderSize); err != nil {
			return 0, "", err
		}
		if int64(len(sd.data)) >= off+4 {
			n := int64(binary.BigEndian.Uint32(sd.data[off:]))
			if n <= maxRecord {
				if err := sd.ensure(off + recordHeaderSize + n); err != nil {
					return 0, "", err
				}
			}
		}
		r, ok, zero := parseRecord(sd.data, off)
		switch {
		case zero:
			return -1, "", nil
		case !ok:
			return off, "checksum or length mismatch", nil
		case r.prev != st.lastCRC:
			return off, "out of sequence", nil
		}
		if fn != nil {
			if err := fn(Record{Segment: seg.name, Offset: off, Index: r.index, Payload: r.payload}); err != nil {
				st.fnErr = err
				return 0, "", err
			}
		}
		st.lastCRC, st.lastIndex = r.crc, r.index
		off += r.size
		seg.end = off
	}
}

// findValid looks for any record, from offset from of the first segment on,
// whose own checksum holds.
func findValid(datas [][]byte, from int64) (string, bool) {
	for i, data := range datas {
		start := int64(segmentHeaderSize)
		if i == 0 {
			start = align8(from + 8)
		} else if _, ok := decodeSegmentHeader(data); ok {
			return "in a later segment", true
		}
		for off := start; off+recordHeaderSize <= int64(len(data)); off += 8 {
			if _, ok, _ := parseRecord(data, off); ok {
				return "at offset " + strconv.FormatInt(off, 10), true
			}
		}
	}
	return "", false
}

// nonZeroExtent is how many bytes from off to the last non-zero byte.
func nonZeroExtent(data []byte, off int64) int64 {
	end := int64(len(data))
	for end > off && data[end-1] == 0 {
		end--
	}
	return end - off
}

// cut makes segment i end at off: zeros over everything after it, synced,
// and removes later segments.
func (w *WAL) cut(i int, names []string, off int64, data []byte) error {
	n := nonZeroExtent(data, off)
	path := filepath.Join(w.dir, names[i])
	f, err := w.opts.FS.OpenFile(path, os.O_RDWR, 0)
	if err != nil {
		return fmt.Errorf("wal: %w", err)
	}
	defer f.Close()
	if n > 0 {
		if _, err := f.WriteAt(make([]byte, n), off); err != nil {
			return fmt.Errorf("wal: cutting %s: %w", names[i], err)
		}
		if err := f.Sync(); err != nil {
			return fmt.Errorf("wal: cutting %s: %w", names[i], err)
		}
	}
	for _, later := range names[i+1:] {
		if err := w.opts.FS.Remove(filepath.Join(w.dir, later)); err != nil {
			return fmt.Errorf("wal: %w", err)
		}
	}
	if len(names) > i+1 {
		return w.opts.FS.SyncDir(w.dir)
	}
	return nil
}

// LastIndex returns the index of the last record, 0 if there is none.
func (w *WAL) LastIndex() uint64 { return w.lastIndex }

// Replay calls fn for every record in order. The payload is only valid
// during the call.
func (w *WAL) Replay(fn func(index uint64, payload []byte) error) error {
	for _, seg := range w.segments {
		f, err := w.opts.FS.OpenFile(filepath.Join(w.dir, seg.name), os.O_RDONLY, 0)
		if err != nil {
			return fmt.Errorf("wal: %w", err)
		}
		data := make([]byte, seg.end)
		_, err = f.ReadAt(data, 0)
		f.Close()
		if err != nil && !errors.Is(err, io.EOF) {
			return fmt.Errorf("wal: segment %s: %w", seg.name, err)
		}
		for off := int64(segmentHeaderSize); off < seg.end; {
			r, ok, _ := parseRecord(data, off)
			if !ok {
				return fmt.Errorf("%w: segment %s: record at offset %d changed since open", ErrCorrupt, seg.name, off)
			}
			if err := fn(r.index, r.payload); err != nil {
				return err
			}
			off += r.size
		}
	}
	return nil
}

// Append writes one record and, unless NoSync, syncs it before returning:
// when Append returns nil the record is durable. One record is one batch;
// index is the caller's (it must not decrease).
func (w *WAL) Append(index uint64, payload []byte) error { return w.write(index, payload, true) }

// AppendUnsynced writes one record without waiting for it to be durable:
// the next Append's sync (or a new segment's, or Close) covers it. It is
// for records a crash may lose without harm, such as a new raft commit
// index alone; a later record never survives one that was lost.
func (w *WAL) AppendUnsynced(index uint64, payload []byte) error {
	return w.write(index, payload, false)
}

// Sync makes every record written so far durable: what AppendUnsynced
// left in the current segment (earlier segments were synced as they
// ended). It is for a batch of records written unsynced that must all be
// durable before its caller answers.
func (w *WAL) Sync() error {
	if w.failed {
		return ErrFailed
	}
	if !w.unsynced {
		return nil
	}
	if err := w.sync(w.cur); err != nil {
		return w.fail(fmt.Errorf("wal: sync segment %s: %w", w.tail().name, err))
	}
	w.unsynced = false
	return nil
}

func (w *WAL) write(index uint64, payload []byte, sync bool) error {
	if w.failed {
		return ErrFailed
	}
	if len(payload) > maxRecord {
		return fmt.Errorf("wal: record of %d bytes is larger than %d", len(payload), maxRecord)
	}
	size := recordSize(len(payload))
	if w.cur == nil || (w.tail().end > segmentHeaderSize && w.tail().end+size > w.opts.SegmentSize) {
		if err := w.rotate(index); err != nil {
			return err
		}
	}
	seg := w.tail()
	if err := w.zeroAhead(seg.end + size); err != nil {
		return err
	}
	var crc uint32
	w.buf, crc = appendRecord(w.buf[:0], w.lastCRC, index, payload)
	if err := w.writeAt(w.buf, seg.end, "write to"); err != nil {
		return err
	}
	w.unsynced = !sync
	if sync {
		if err := w.sync(w.cur); err != nil {
			return w.fail(fmt.Errorf("wal: sync segment %s: %w", seg.name, err))
		}
	}
	seg.end += size
	w.lastCRC, w.lastIndex = crc, index
	bytesWritten.Add(len(w.buf))
	if cap(w.buf) > 4<<20 {
		w.buf = nil
	}
	return nil
}

func (w *WAL) tail() *segment { return &w.segments[len(w.segments)-1] }

// writeAt writes b at off in the current segment. A full disk leaves the
// log usable (ErrNoSpace: nothing after the last record counts); any
// other error fails it.
func (w *WAL) writeAt(b []byte, off int64, what string) error {
	if _, err := w.cur.WriteAt(b, off); err != nil {
		if isNoSpace(err) {
			return fmt.Errorf("%w: segment %s: %v", ErrNoSpace, w.tail().name, err)
		}
		return w.fail(fmt.Errorf("wal: %s segment %s at offset %d: %w", what, w.tail().name, off, err))
	}
	return nil
}

// zeroChunk is how far at a time zeroAhead writes zeros ahead of the
// records.
const zeroChunk = 256 << 10

var zeroBlock [zeroChunk]byte

// zeroAhead is called before a record that ends at offset end is written:
// it makes sure that at least half a chunk of blocks after it have been
// written too, by writing zeros a chunk at a time ahead of the records.
// Blocks that fallocate reserved are "unwritten": the first write into one
// changes the file's extent map, so an fdatasync after it must write the
// inode as well as the data, two I/Os instead of one, and that on every
// sync of an append. Overwriting with zeros first moves the metadata write
// to one sync per chunk; the zeros read the same as the reserved blocks,
// so recovery sees no difference. Without syncs there is nothing to gain.
func (w *WAL) zeroAhead(end int64) error {
	if w.opts.NoSync || end+zeroChunk/2 <= w.zeroed || w.zeroed >= w.opts.SegmentSize {
		return nil
	}
	// The record itself writes the blocks up to end.
	from := max(w.zeroed, end)
	to := min(from+zeroChunk, w.opts.SegmentSize)
	if from < to {
		if err := w.writeAt(zeroBlock[:to-from], from, "zeroing"); err != nil {
			return err
		}
	}
	w.zeroed = to
	return nil
}

func (w *WAL) sync(f File) error {
	if w.opts.NoSync {
		return nil
	}
	start := time.Now()
	err := f.Sync()
	observeSync(time.Since(start))
	return err
}

func (w *WAL) fail(err error) error {
	w.failed = true
	w.opts.OnSyncError(err)
	return fmt.Errorf("%w: %v", ErrFailed, err)
}

// rotate starts a new segment whose first record has index: take the
// preallocated file, write and sync its header, rename it into place, sync
// the directory.
func (w *WAL) rotate(index uint64) error {
	f, tmp, err := w.takePrealloc()
	if err != nil {
		if isNoSpace(err) {
			return fmt.Errorf("%w: preallocating a segment: %v", ErrNoSpace, err)
		}
		return fmt.Errorf("wal: preallocating a segment: %w", err)
	}
	hdr := segmentHeader{seq: 1, firstIndex: index, prev: w.lastCRC}
	if len(w.segments) > 0 {
		hdr.seq = w.tail().hdr.seq + 1
	}
	name := segmentName(hdr.seq, hdr.firstIndex)
	if _, err := f.WriteAt(hdr.encode(), 0); err != nil {
		f.Close()
		_ = w.opts.FS.Remove(tmp)
		if isNoSpace(err) {
			return fmt.Errorf("%w: %v", ErrNoSpace, err)
		}
		return w.fail(fmt.Errorf("wal: writing header of %s: %w", name, err))
	}
	if err := w.sync(f); err != nil {
		f.Close()
		return w.fail(fmt.Errorf("wal: sync header of %s: %w", name, err))
	}
	if err := w.opts.FS.Rename(tmp, filepath.Join(w.dir, name)); err != nil {
		f.Close()
		return w.fail(fmt.Errorf("wal: rename %s: %w", name, err))
	}
	if !w.opts.NoSync {
		if err := w.opts.FS.SyncDir(w.dir); err != nil {
			f.Close()
			return w.fail(fmt.Errorf("wal: sync directory after creating %s: %w", name, err))
		}
	}
	if err := w.closeCurrent(); err != nil {
		f.Close()
		return w.fail(fmt.Errorf("wal: sync segment %s before %s: %w", w.tail().name, name, err))
	}
	w.cur, w.zeroed = f, segmentHeaderSize
	w.segments = append(w.segments, segment{name: name, hdr: hdr, end: segmentHeaderSize})
	w.startPrealloc()
	return nil
}

// takePrealloc returns the file the background goroutine prepared, or
// prepares one now.
func (w *WAL) takePrealloc() (File, string, error) {
	if w.prealloc != nil {
		p := <-w.prealloc
		w.prealloc = nil
		if p.err == nil {
			return p.f, p.path, nil
		}
	}
	p := w.preallocate()
	return p.f, p.path, p.err
}

func (w *WAL) startPrealloc() {
	ch := make(chan preallocated, 1)
	w.prealloc = ch
	go func() { ch <- w.preallocate() }()
}

// preallocate creates a zero-filled segment-sized file under a temporary
// name. Its contents need no sync: until a header is synced into it,
// recovery treats it as never written.
func (w *WAL) preallocate() preallocated {
	w.preN++
	path := filepath.Join(w.dir, fmt.Sprintf("prealloc-%d.tmp", w.preN))
	f, err := w.opts.FS.OpenFile(path, os.O_RDWR|os.O_CREATE|os.O_TRUNC, 0o644)
	if err != nil {
		return preallocated{err: err}
	}
	if err := f.Allocate(w.opts.SegmentSize); err != nil {
		f.Close()
		_ = w.opts.FS.Remove(path)
		return preallocated{err: err}
	}
	return preallocated{f: f, path: path}
}

// RemoveThrough deletes the segments all of whose records have an index at
// most index, once that index is durable elsewhere (in a checkpoint). The
// current segment is kept.
func (w *WAL) RemoveThrough(index uint64) error {
	keep := 0
	for keep < len(w.segments)-1 && w.segments[keep+1].hdr.firstIndex <= index+1 {
		keep++
	}
	for _, seg := range w.segments[:keep] {
		if err := w.opts.FS.Remove(filepath.Join(w.dir, seg.name)); err != nil {
			return fmt.Errorf("wal: %w", err)
		}
	}
	w.segments = slices.Delete(w.segments, 0, keep)
	return nil
}

// Segments returns the names of the segment files, oldest first.
func (w *WAL) Segments() []string {
	out := make([]string, len(w.segments))
	for i, s := range w.segments {
		out[i] = s.name
	}
	return out
}

// Close closes the log's files.
func (w *WAL) Close() error {
	if w.prealloc != nil {
		if p := <-w.prealloc; p.f != nil {
			p.f.Close()
			_ = w.opts.FS.Remove(p.path)
		}
		w.prealloc = nil
	}
	return w.closeCurrent()
}

// closeCurrent syncs what AppendUnsynced left in the current segment and
// closes it.
func (w *WAL) closeCurrent() error {
	if w.cur == nil {
		return nil
	}
	var err error
	if w.unsynced {
		err = w.sync(w.cur)
		w.unsynced = false
	}
	if cerr := w.cur.Close(); err == nil {
		err = cerr
	}
	w.cur = nil
	return err
}
