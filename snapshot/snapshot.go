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

// reader reads the uncompressed stream, checksumming what it reads.
type reader struct {
	r   *bufio.Reader
	crc hash.Hash32
	n   int64
	buf []byte
}

func (r *reader) read(n int) ([]byte, error) {
	if cap(r.buf) < n {
		r.buf = make([]byte, n)
	}
	b := r.buf[:n]
	if _, err := io.ReadFull(r.r, b); err != nil {
		if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
			return nil, fmt.Errorf("%w: truncated at byte %d", ErrCorrupt, r.n)
		}
		return nil, fmt.Errorf("snapshot: %w", err)
	}
	r.crc.Write(b)
	r.n += int64(n)
	return b, nil
}

func (r *reader) int() (int32, error) {
	b, err := r.read(4)
	if err != nil {
		return 0, err
	}
	return int32(binary.BigEndian.Uint32(b)), nil
}

func (r *reader) long() (int64, error) {
	b, err := r.read(8)
	if err != nil {
		return 0, err
	}
	return int64(binary.BigEndian.Uint64(b)), nil
}

// bytes reads a jute buffer (nil for -1) into a fresh slice.
func (r *reader) bytes() ([]byte, error) {
	n, err := r.int()
	if err != nil || n == -1 {
		return nil, err
	}
	if n < 0 || n > 1<<30 {
		return nil, fmt.Errorf("%w: length %d at byte %d", ErrCorrupt, n, r.n)
	}
	b, err := r.read(int(n))
	return append([]byte(nil), b...), err
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
	head, err := r.read(len(magic))
	if err != nil {
		return st, err
	}
	if string(head) != magic {
		return st, fmt.Errorf("%w: not a Meerkat snapshot", ErrCorrupt)
	}
	if v, err := r.int(); err != nil || v != version {
		return st, fmt.Errorf("%w: version %d", ErrCorrupt, v)
	}
	if st.Zxid, err = r.long(); err != nil {
		return st, err
	}
	ms, err := r.long()
	if err != nil {
		return st, err
	}
	st.Time = time.UnixMilli(ms)
	nacl, err := r.int()
	if err != nil {
		return st, err
	}
	for i := int32(0); i < nacl; i++ {
		count, err := r.int()
		if err != nil {
			return st, err
		}
		acls := make([]jute.ACL, 0, max(0, min(count, 1024)))
		for j := int32(0); j < count; j++ {
			perms, err := r.int()
			if err != nil {
				return st, err
			}
			scheme, err := r.bytes()
			if err != nil {
				return st, err
			}
			id, err := r.bytes()
			if err != nil {
				return st, err
			}
			acls = append(acls, jute.ACL{Perms: perms, ID: jute.ID{Scheme: string(scheme), ID: string(id)}})
		}
		if err := l.AddACL(uint32(i), acls); err != nil {
			return st, err
		}
	}
	st.ACLs = int(nacl)
	nsess, err := r.int()
	if err != nil {
		return st, err
	}
	for i := int32(0); i < nsess; i++ {
		id, err := r.long()
		if err != nil {
			return st, err
		}
		to, err := r.int()
		if err != nil {
			return st, err
		}
		l.AddSession(id, to)
	}
	st.Sessions = int(nsess)
	for {
		path, err := r.bytes()
		if err != nil {
			return st, err
		}
		if path == nil {
			break
		}
		node, err := r.bytes()
		if err != nil {
			return st, err
		}
		if err := l.AddNode(string(path), node); err != nil {
			return st, fmt.Errorf("%w: %v", ErrCorrupt, err)
		}
		st.Nodes++
	}
	count, err := r.long()
	if err != nil {
		return st, err
	}
	if count != st.Nodes {
		return st, fmt.Errorf("%w: %d nodes read, trailer says %d", ErrCorrupt, st.Nodes, count)
	}
	want := r.crc.Sum32()
	st.Bytes = r.n + 4
	sum, err := r.read(4)
	if err != nil {
		return st, err
	}
	if binary.BigEndian.Uint32(sum) != want {
		return st, fmt.Errorf("%w: checksum mismatch", ErrCorrupt)
	}
	return st, nil
}
