// Package snapshot writes and reads Meerkat snapshots: a streaming,
// zstd-compressed dump of one immutable version of the state. Because the
// version never changes, a snapshot is consistent (not fuzzy, as
// ZooKeeper's are) and is taken while writes go on. Snapshots are the
// backup and restore format for operators, and what a lagging replica will
// be installed from.
//
// # Format
//
// A zstd frame whose content is:
//
//	+-------------+-------------+----------+----------+
//	| "MKSNAP01"  | version: 4  | zxid: 8  | time: 8  |   header
//	+-------------+-------------+----------+----------+
//	| acls: int count, then each a jute vector<ACL>    |   reference i is the i-th
//	+---------------------------------------------------+
//	| sessions: int count, then each id: 8, timeout: 4  |
//	+---------------------------------------------------+
//	| nodes: (path: ustring, node: buffer)* then a null |   node = engine.AppendNode
//	|        path (-1) to end the list                   |
//	+---------------------------------------------------+
//	| node count: 8 | crc: 4                            |   crc = CRC32C of every byte
//	+---------------------------------------------------+   before it
//
// Integers are big-endian (jute encoding). Nodes come in tree order.
package snapshot

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"hash"
	"hash/crc32"
	"io"
	"time"
	"unsafe"

	"github.com/klauspost/compress/zstd"

	"github.com/meerkat-zk/meerkat/engine"
	"github.com/meerkat-zk/meerkat/jute"
)

const (
	magic   = "MKSNAP01"
	version = 1
)

// ErrCorrupt is wrapped by Read's errors for a damaged snapshot.
var ErrCorrupt = errors.New("snapshot: corrupt")

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// Stats describes a written or read snapshot.
type Stats struct {
	Zxid     int64
	Time     time.Time
	Nodes    int64
	ACLs     int
	Sessions int
	// Bytes is the uncompressed size.
	Bytes int64
}

// checksumWriter feeds a CRC and counts bytes on the way to w.
type checksumWriter struct {
	w   io.Writer
	crc hash.Hash32
	n   int64
}

func (c *checksumWriter) Write(p []byte) (int, error) {
	c.crc.Write(p)
	c.n += int64(len(p))
	return c.w.Write(p)
}

// Write streams a snapshot of v with sessions to w.
func Write(w io.Writer, v *engine.View, sessions []engine.SessionRecord, now time.Time) (Stats, error) {
	enc, err := zstd.NewWriter(w, zstd.WithEncoderLevel(zstd.SpeedFastest))
	if err != nil {
		return Stats{}, fmt.Errorf("snapshot: %w", err)
	}
	cw := &checksumWriter{w: enc, crc: crc32.New(castagnoli)}
	bw := bufio.NewWriterSize(cw, 256<<10)
	st := Stats{Zxid: v.Zxid, Time: now, ACLs: len(v.ACLTable()), Sessions: len(sessions)}
	var b []byte
	b = append(b, magic...)
	b = jute.AppendInt(b, version)
	b = jute.AppendLong(b, v.Zxid)
	b = jute.AppendLong(b, now.UnixMilli())
	b = jute.AppendInt(b, int32(len(v.ACLTable())))
	for _, acl := range v.ACLTable() {
		b = jute.AppendACLs(b, acl)
	}
	b = jute.AppendInt(b, int32(len(sessions)))
	for _, s := range sessions {
		b = jute.AppendLong(b, s.ID)
		b = jute.AppendInt(b, s.Timeout)
	}
	if _, err := bw.Write(b); err != nil {
		return st, fmt.Errorf("snapshot: %w", err)
	}
	var werr error
	var node []byte
	v.Tree.All(func(n *engine.Node) bool {
		b = jute.AppendString(b[:0], n.Path())
		node = engine.AppendNode(node[:0], n)
		b = jute.AppendBuffer(b, node)
		_, werr = bw.Write(b)
		st.Nodes++
		return werr == nil
	})
	if werr != nil {
		return st, fmt.Errorf("snapshot: %w", werr)
	}
	if _, err := bw.Write(jute.AppendInt(nil, -1)); err != nil {
		return st, fmt.Errorf("snapshot: %w", err)
	}
	if _, err := bw.Write(jute.AppendLong(nil, st.Nodes)); err != nil {
		return st, fmt.Errorf("snapshot: %w", err)
	}
	if err := bw.Flush(); err != nil {
		return st, fmt.Errorf("snapshot: %w", err)
	}
	sum := cw.crc.Sum32()
	st.Bytes = cw.n + 4
	if _, err := enc.Write(binary.BigEndian.AppendUint32(nil, sum)); err != nil {
		return st, fmt.Errorf("snapshot: %w", err)
	}
	if err := enc.Close(); err != nil {
		return st, fmt.Errorf("snapshot: %w", err)
	}
	return st, nil
}

// reader reads the uncompressed stream, checksumming what it reads. Like
// jute.Decoder, its first error sticks: later reads return zero values, so
// a section is read field by field and checked once.
type reader struct {
	r   *bufio.Reader
	crc hash.Hash32
	n   int64
	buf []byte
	err error
}

// read returns the next n bytes, valid until the next read.
func (r *reader) read(n int) []byte {
	if r.err != nil {
		return nil
	}
	if cap(r.buf) < n {
		r.buf = make([]byte, n)
	}
	b := r.buf[:n]
	if _, err := io.ReadFull(r.r, b); err != nil {
		if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
			r.err = fmt.Errorf("%w: truncated at byte %d", ErrCorrupt, r.n)
		} else {
			r.err = fmt.Errorf("snapshot: %w", err)
		}
		return nil
	}
	r.crc.Write(b)
	r.n += int64(n)
	return b
}

func (r *reader) int() int32 {
	if b := r.read(4); b != nil {
		return int32(binary.BigEndian.Uint32(b))
	}
	return 0
}

func (r *reader) long() int64 {
	if b := r.read(8); b != nil {
		return int64(binary.BigEndian.Uint64(b))
	}
	return 0
}

// buffer reads a jute buffer into dst[:0]; null reads as nil with null set.
func (r *reader) buffer(dst []byte) (b []byte, null bool) {
	n := r.int()
	switch {
	case r.err != nil:
		return nil, false
	case n == -1:
		return nil, true
	case n < 0 || n > 1<<30:
		r.err = fmt.Errorf("%w: length %d at byte %d", ErrCorrupt, n, r.n)
		return nil, false
	}
	return append(dst[:0], r.read(int(n))...), false
}

// string reads a jute ustring; null reads as "".
func (r *reader) string() string {
	b, _ := r.buffer(nil)
	return string(b)
}

// Read reads a snapshot into l and checks it whole; the caller finishes the
// loader with the returned Stats.Zxid.
func Read(src io.Reader, l *engine.Loader) (Stats, error) {
	dec, err := zstd.NewReader(src, zstd.WithDecoderConcurrency(1))
	if err != nil {
		return Stats{}, fmt.Errorf("snapshot: %w", err)
	}
	defer dec.Close()
	r := &reader{r: bufio.NewReaderSize(dec, 256<<10), crc: crc32.New(castagnoli)}
	var st Stats
	if head := r.read(len(magic)); r.err == nil && string(head) != magic {
		return st, fmt.Errorf("%w: not a Meerkat snapshot", ErrCorrupt)
	}
	if v := r.int(); r.err == nil && v != version {
		return st, fmt.Errorf("%w: version %d", ErrCorrupt, v)
	}
	st.Zxid = r.long()
	st.Time = time.UnixMilli(r.long())
	nacl := r.int()
	for i := int32(0); i < nacl && r.err == nil; i++ {
		count := r.int()
		acls := make([]jute.ACL, 0, max(0, min(count, 1024)))
		for j := int32(0); j < count && r.err == nil; j++ {
			acls = append(acls, jute.ACL{Perms: r.int(), ID: jute.ID{Scheme: r.string(), ID: r.string()}})
		}
		if r.err == nil {
			if err := l.AddACL(uint32(i), acls); err != nil {
				return st, err
			}
		}
	}
	st.ACLs = int(nacl)
	nsess := r.int()
	for i := int32(0); i < nsess && r.err == nil; i++ {
		id, timeout := r.long(), r.int()
		if r.err == nil {
			l.AddSession(id, timeout)
		}
	}
	st.Sessions = int(nsess)
	// The path and node bytes are read into buffers reused for every node:
	// AddNode copies what it keeps.
	var path, node []byte
	for r.err == nil {
		var null bool
		if path, null = r.buffer(path); null {
			break
		}
		node, _ = r.buffer(node)
		if r.err != nil {
			break
		}
		if err := l.AddNode(unsafe.String(unsafe.SliceData(path), len(path)), node); err != nil {
			return st, fmt.Errorf("%w: %v", ErrCorrupt, err)
		}
		st.Nodes++
	}
	count := r.long()
	want := r.crc.Sum32()
	st.Bytes = r.n + 4
	sum := r.read(4)
	switch {
	case r.err != nil:
		return st, r.err
	case count != st.Nodes:
		return st, fmt.Errorf("%w: %d nodes read, trailer says %d", ErrCorrupt, st.Nodes, count)
	case binary.BigEndian.Uint32(sum) != want:
		return st, fmt.Errorf("%w: checksum mismatch", ErrCorrupt)
	}
	return st, nil
}
