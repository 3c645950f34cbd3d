// Package snapshot writes and reads Meerkat snapshots: a streaming,
// zstd-compressed dump of one immutable version of the state. Because the
// version never changes, a snapshot is consistent (not fuzzy, as
// ZooKeeper's are) and is taken while writes go on. Snapshots are the
// backup and restore format for operators, and what a lagging replica will
// be installed from.
//
// # Format
//
// A zstd frame with a content checksum (Read refuses a frame without one),
// whose content is:
//
//	+-------------+-------------+----------+-------------+----------+----------+
//	| "MKSNAP01"  | version: 4  | zxid: 8  | applied: 8  | term: 8  | time: 8  |
//	+-------------+-------------+----------+-------------+----------+----------+
//	| acls: buffer holding an int count, then each a   |   reference i is the i-th
//	|       jute vector<ACL>                            |
//	+---------------------------------------------------+
//	| sessions: int count, then each id: 8, timeout: 4  |
//	+---------------------------------------------------+
//	| nodes: (path: ustring, node: buffer)* then a null |   node = engine.AppendNode
//	|        path (-1) to end the list                   |
//	+---------------------------------------------------+
//	| node count: 8                                     |
//	+---------------------------------------------------+
//
// Integers are big-endian (jute encoding). Nodes come in tree order. The
// content has no checksum of its own: zstd's frame checksum (XXH64 of the
// content), which Read checks by reading the frame to its end, covers its
// integrity. The node count guards against a list that ends early.
// applied is the log index the state covers (engine.View.Applied): in an
// ensemble, the raft index, which a member installed from the snapshot
// goes on from; term is the raft term it was applied through (View.Term).
// Version 2 had neither (Read takes them as 0);
// version 1 had a CRC32C trailer and no length before the ACLs, and Read
// refuses it.
package snapshot

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"time"
	"unsafe"

	"github.com/klauspost/compress/zstd"

	"github.com/meerkat-zk/meerkat/engine"
	"github.com/meerkat-zk/meerkat/jute"
)

const (
	magic   = "MKSNAP01"
	version = 3
)

// ErrCorrupt is wrapped by Read's errors for a damaged snapshot.
var ErrCorrupt = errors.New("snapshot: corrupt")

// Stats describes a written or read snapshot.
type Stats struct {
	Zxid int64
	// Applied is the log index the state covers, Term the raft term it
	// was applied through.
	Applied, Term uint64
	Time          time.Time
	Nodes         int64
	ACLs          int
	Sessions      int
	// Bytes is the uncompressed size.
	Bytes int64
}

// countingWriter counts the bytes on their way to w.
type countingWriter struct {
	w io.Writer
	n int64
}

func (c *countingWriter) Write(p []byte) (int, error) {
	c.n += int64(len(p))
	return c.w.Write(p)
}

// Write streams a snapshot of v with sessions to w.
func Write(w io.Writer, v *engine.View, sessions []engine.SessionRecord, now time.Time) (Stats, error) {
	enc, err := zstd.NewWriter(w, zstd.WithEncoderLevel(zstd.SpeedFastest), zstd.WithEncoderCRC(true))
	if err != nil {
		return Stats{}, fmt.Errorf("snapshot: %w", err)
	}
	cw := &countingWriter{w: enc}
	bw := bufio.NewWriterSize(cw, 256<<10)
	st, err := writeContent(bw, v, sessions, now)
	if err == nil {
		err = bw.Flush()
	}
	if err != nil {
		return st, fmt.Errorf("snapshot: %w", err)
	}
	st.Bytes = cw.n
	if err := enc.Close(); err != nil {
		return st, fmt.Errorf("snapshot: %w", err)
	}
	return st, nil
}

// writeContent writes the uncompressed content of a snapshot of v with
// sessions to w, record by record (Write buffers it).
func writeContent(w io.Writer, v *engine.View, sessions []engine.SessionRecord, now time.Time) (Stats, error) {
	st := Stats{Zxid: v.Zxid, Applied: v.Applied, Term: v.Term, Time: now, ACLs: len(v.ACLTable()), Sessions: len(sessions)}
	var b []byte
	b = append(b, magic...)
	b = jute.AppendInt(b, version)
	b = jute.AppendLong(b, v.Zxid)
	b = jute.AppendLong(b, int64(v.Applied))
	b = jute.AppendLong(b, int64(v.Term))
	b = jute.AppendLong(b, now.UnixMilli())
	var acls []byte
	acls = jute.AppendInt(acls, int32(len(v.ACLTable())))
	for _, acl := range v.ACLTable() {
		acls = jute.AppendACLs(acls, acl)
	}
	b = jute.AppendBuffer(b, acls)
	b = jute.AppendInt(b, int32(len(sessions)))
	for _, s := range sessions {
		b = jute.AppendLong(b, s.ID)
		b = jute.AppendInt(b, s.Timeout)
	}
	if _, err := w.Write(b); err != nil {
		return st, err
	}
	var werr error
	var node []byte
	v.Tree.All(func(n *engine.Node) bool {
		b = jute.AppendString(b[:0], n.Path())
		node = engine.AppendNode(node[:0], n)
		b = jute.AppendBuffer(b, node)
		_, werr = w.Write(b)
		st.Nodes++
		return werr == nil
	})
	if werr != nil {
		return st, werr
	}
	if _, err := w.Write(jute.AppendInt(nil, -1)); err != nil {
		return st, err
	}
	_, err := w.Write(jute.AppendLong(nil, st.Nodes))
	return st, err
}

// source records the errors of the compressed input, so that Read can tell
// a failure to read it from damage zstd finds in it.
type source struct {
	r   io.Reader
	err error
}

func (s *source) Read(p []byte) (int, error) {
	n, err := s.r.Read(p)
	if err != nil && err != io.EOF {
		s.err = err
	}
	return n, err
}

// reader reads the uncompressed stream. Like jute.Decoder, its first error
// sticks: later reads return zero values, so a section is read field by
// field and checked once.
type reader struct {
	r   *bufio.Reader
	src *source
	n   int64
	buf []byte
	err error
}

// readInto reads the next n bytes into dst[:n], growing it if need be.
func (r *reader) readInto(dst []byte, n int) []byte {
	if r.err != nil {
		return nil
	}
	// A length is trusted only as far as the data it announces arrives:
	// the buffer grows a chunk at a time, so a corrupt length costs the
	// bytes the stream really holds, not the gigabyte it claims.
	const chunk = 1 << 20
	b := dst[:0]
	for len(b) < n {
		k := min(n-len(b), max(len(b), chunk))
		if cap(b)-len(b) < k {
			grown := make([]byte, len(b), len(b)+k)
			copy(grown, b)
			b = grown
		}
		if _, err := io.ReadFull(r.r, b[len(b):len(b)+k]); err != nil {
			r.fail(err)
			return nil
		}
		b = b[:len(b)+k]
	}
	r.n += int64(n)
	return b
}

// fail records an error met reading the content.
func (r *reader) fail(err error) {
	switch {
	case r.src.err != nil:
		r.err = fmt.Errorf("snapshot: %w", r.src.err)
	case errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF):
		r.err = fmt.Errorf("%w: truncated at byte %d", ErrCorrupt, r.n)
	default:
		// The input was read but did not decompress, or its content
		// checksum did not match.
		r.err = fmt.Errorf("%w: at byte %d: %w", ErrCorrupt, r.n, err)
	}
}

// read returns the next n bytes, valid until the next read.
func (r *reader) read(n int) []byte {
	b := r.readInto(r.buf, n)
	if b != nil {
		r.buf = b
	}
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

// buffer reads a jute buffer into dst[:0] (growing it if need be); null
// reads as nil with null set.
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
	return r.readInto(dst, int(n)), false
}

// end checks the content ends here. Reading to the end of the frame is also
// what makes zstd check its content checksum.
func (r *reader) end() {
	if r.err != nil {
		return
	}
	switch _, err := r.r.ReadByte(); {
	case err == nil:
		r.err = fmt.Errorf("%w: data after the end at byte %d", ErrCorrupt, r.n)
	case err != io.EOF:
		r.fail(err)
	}
}

// checkFrame peeks at the zstd frame header: Read only accepts a frame
// whose content is checksummed.
func checkFrame(br *bufio.Reader) error {
	head, err := br.Peek(zstd.HeaderMaxSize)
	if err != nil && err != io.EOF {
		return fmt.Errorf("snapshot: %w", err)
	}
	var h zstd.Header
	if err := h.Decode(head); err != nil || h.Skippable {
		return fmt.Errorf("%w: not a zstd frame", ErrCorrupt)
	}
	if !h.HasCheckSum {
		return fmt.Errorf("%w: the zstd frame has no content checksum", ErrCorrupt)
	}
	return nil
}

// Read reads a snapshot into l and checks it whole; the caller finishes the
// loader with the returned Stats.Zxid (and sets Stats.Applied and Term on
// the state).
func Read(in io.Reader, l *engine.Loader) (Stats, error) {
	src := &source{r: in}
	br := bufio.NewReader(src)
	if err := checkFrame(br); err != nil {
		return Stats{}, err
	}
	dec, err := zstd.NewReader(br, zstd.WithDecoderConcurrency(1))
	if err != nil {
		return Stats{}, fmt.Errorf("snapshot: %w", err)
	}
	defer dec.Close()
	return readContent(&reader{r: bufio.NewReaderSize(dec, 256<<10), src: src}, l)
}

// readContent reads a snapshot's uncompressed content from r into l, to
// its end.
func readContent(r *reader, l *engine.Loader) (Stats, error) {
	var st Stats
	if head := r.read(len(magic)); r.err == nil && string(head) != magic {
		return st, fmt.Errorf("%w: not a Meerkat snapshot", ErrCorrupt)
	}
	v := r.int()
	if r.err == nil && v != version && v != 2 {
		return st, fmt.Errorf("%w: format version %d (this build reads versions 2 and %d)", ErrCorrupt, v, version)
	}
	st.Zxid = r.long()
	if v >= 3 {
		st.Applied = uint64(r.long())
		st.Term = uint64(r.long())
	}
	st.Time = time.UnixMilli(r.long())
	if b, _ := r.buffer(nil); r.err == nil {
		var d jute.Decoder
		d.Reset(b, len(b))
		nacl := int(d.Int())
		for i := 0; i < nacl && d.Err() == nil; i++ {
			acls := d.ACLs()
			if d.Err() == nil {
				if err := l.AddACL(uint32(i), acls); err != nil {
					return st, err
				}
			}
		}
		switch {
		case d.Err() != nil:
			return st, fmt.Errorf("%w: ACL table: %w", ErrCorrupt, d.Err())
		case nacl < 0 || d.Len() != 0:
			return st, fmt.Errorf("%w: ACL table of %d lists in %d bytes", ErrCorrupt, nacl, len(b))
		}
		st.ACLs = nacl
	}
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
	st.Bytes = r.n
	r.end()
	switch {
	case r.err != nil:
		return st, r.err
	case count != st.Nodes:
		return st, fmt.Errorf("%w: %d nodes read, trailer says %d", ErrCorrupt, st.Nodes, count)
	}
	return st, nil
}
