package zkfile

import (
	"bytes"
	"compress/gzip"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/adler32"
	"io"
	"os"
	"strings"

	"github.com/klauspost/compress/s2"

	"github.com/meerkat-zk/meerkat/jute"
)

// File magics of ZooKeeper's FileHeader records.
const (
	snapMagic  int32 = 0x5A4B534E // "ZKSN"
	logMagic   int32 = 0x5A4B4C47 // "ZKLG"
	fileFormat int32 = 2
)

// snappyHeader opens the stream of snappy-java's SnappyOutputStream, which
// ZooKeeper uses for snapshot.<zxid>.snappy: the magic, then the format
// version and the oldest compatible one (1 and 1).
var snappyHeader = []byte{0x82, 'S', 'N', 'A', 'P', 'P', 'Y', 0}

// ErrCorrupt marks a file that is not a whole, valid ZooKeeper file.
var ErrCorrupt = errors.New("zkfile: corrupt")

// openAclRef is the ACL reference ZooKeeper gives a node whose ACL list is
// null: OPEN_ACL_UNSAFE, without an entry in the ACL cache.
const openAclRef = -1

// openACL is ZooKeeper's OPEN_ACL_UNSAFE.
var openACL = []jute.ACL{{Perms: jute.PermAll, ID: jute.ID{Scheme: "world", ID: "anyone"}}}

// readStream reads a snapshot file whole, decompressed as its name says.
func readStream(path string) ([]byte, error) {
	raw, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("zkfile: %w", err)
	}
	switch {
	case strings.HasSuffix(path, ".gz"):
		zr, err := gzip.NewReader(bytes.NewReader(raw))
		if err != nil {
			return nil, fmt.Errorf("%w: %s: %v", ErrCorrupt, path, err)
		}
		out, err := io.ReadAll(zr)
		if err != nil {
			return nil, fmt.Errorf("%w: %s: %v", ErrCorrupt, path, err)
		}
		return out, nil
	case strings.HasSuffix(path, ".snappy"):
		out, err := decodeSnappyStream(raw)
		if err != nil {
			return nil, fmt.Errorf("%w: %s: %v", ErrCorrupt, path, err)
		}
		return out, nil
	}
	return raw, nil
}

// maxSnappyExpansion bounds how many bytes a snappy block decodes to per
// byte of its own: its densest element, a 3-byte copy, yields 64.
const maxSnappyExpansion = 22

// decodeSnappyStream decodes snappy-java's stream format: a 16-byte header,
// then chunks of a big-endian int length and a snappy block. A header may
// appear again between chunks (concatenated streams).
func decodeSnappyStream(b []byte) ([]byte, error) {
	var out []byte
	for len(b) > 0 {
		if bytes.HasPrefix(b, snappyHeader) {
			if len(b) < 16 {
				return nil, errors.New("short snappy header")
			}
			b = b[16:]
			continue
		}
		if len(b) < 4 {
			return nil, errors.New("short snappy chunk length")
		}
		n := int(binary.BigEndian.Uint32(b))
		if n > len(b)-4 {
			return nil, fmt.Errorf("snappy chunk of %d bytes, %d left", n, len(b)-4)
		}
		// s2 allocates the length a block's header claims before it
		// decodes a byte: a claim the block cannot back is refused first.
		switch size, err := s2.DecodedLen(b[4 : 4+n]); {
		case err != nil:
			return nil, err
		case size > maxSnappyExpansion*n:
			return nil, fmt.Errorf("snappy chunk of %d bytes claims %d decoded", n, size)
		}
		block, err := s2.Decode(nil, b[4:4+n])
		if err != nil {
			return nil, err
		}
		out = append(out, block...)
		b = b[4+n:]
	}
	return out, nil
}

// snapReader reads a snapshot's records and checks its seals: each is the
// Adler32 of every byte before it, and the string "/".
type snapReader struct {
	*jute.Decoder
	buf []byte
}

// seal reads a seal and checks it.
func (r *snapReader) seal() error {
	sum := adler32.Checksum(r.buf[:r.Offset()])
	val, slash := r.Long(), r.String()
	if r.Err() != nil {
		return r.Err()
	}
	if uint32(val) != sum || val>>32 != 0 || slash != "/" {
		return fmt.Errorf("checksum 0x%x where the content sums to 0x%x", val, sum)
	}
	return nil
}

// ReadSnapshot reads the snapshot file at path (snapshot.<zxid>, .gz or
// .snappy) into a tree whose Zxid is the one the name gives. Every seal's
// checksum is checked; a damaged or partial file is ErrCorrupt.
func ReadSnapshot(path string) (*Tree, error) {
	zxid, ok := fileZxid(path, "snapshot")
	if !ok {
		return nil, fmt.Errorf("zkfile: %s is not named snapshot.<hex zxid>", path)
	}
	b, err := readStream(path)
	if err != nil {
		return nil, err
	}
	t, err := decodeSnapshot(b)
	if err != nil {
		return nil, fmt.Errorf("%w: %s: %v", ErrCorrupt, path, err)
	}
	t.Zxid = zxid
	return t, nil
}

// decodeSnapshot decodes a whole, decompressed snapshot stream.
func decodeSnapshot(b []byte) (*Tree, error) {
	r := &snapReader{Decoder: decoder(b), buf: b}
	if magic, version := r.Int(), r.Int(); magic != snapMagic || version != fileFormat {
		return nil, fmt.Errorf("not a ZooKeeper snapshot (magic 0x%x, version %d)", magic, version)
	}
	r.Long() // dbid
	t := NewTree()
	for n := r.Int(); n > 0 && r.Err() == nil; n-- {
		id, timeout := r.Long(), r.Int()
		t.Sessions[id] = timeout
	}
	acls := map[int64][]jute.ACL{openAclRef: openACL}
	for n := r.Int(); n > 0 && r.Err() == nil; n-- {
		ref := r.Long()
		acls[ref] = r.ACLs()
	}
	for r.Err() == nil {
		path := r.String()
		if path == "/" {
			break
		}
		n := &Node{Data: r.Buffer()}
		ref := r.Long()
		n.Czxid, n.Mzxid, n.Ctime, n.Mtime = r.Long(), r.Long(), r.Long(), r.Long()
		n.Version, n.Cversion, n.Aversion = r.Int(), r.Int(), r.Int()
		n.Owner, n.Pzxid = r.Long(), r.Long()
		if r.Err() != nil {
			break
		}
		acl, ok := acls[ref]
		if !ok {
			return nil, fmt.Errorf("node %q refers to ACL %d, which the snapshot does not hold", path, ref)
		}
		n.ACL = acl
		if path == "" {
			path = "/"
		} else if parent, _ := parentOf(path); t.Nodes[parent] == nil {
			return nil, fmt.Errorf("node %q comes before its parent", path)
		}
		t.Add(path, n)
	}
	if r.Err() != nil {
		return nil, r.Err()
	}
	if t.Nodes["/"] == nil {
		return nil, errors.New("no root node")
	}
	if err := r.seal(); err != nil {
		return nil, err
	}
	// 3.6+ appends the digest of the tree (20 bytes) and 3.9 the last
	// processed zxid (8), each behind a seal of its own (13); both are
	// optional.
	if r.Len() >= 20+13 {
		r.Long() // zxid of the digest
		r.Int()  // digest version
		r.Long() // digest
		if err := r.seal(); err != nil {
			return nil, fmt.Errorf("digest: %w", err)
		}
	}
	if r.Len() == 8+13 {
		r.Long() // last processed zxid (3.9)
		if err := r.seal(); err != nil {
			return nil, fmt.Errorf("last zxid: %w", err)
		}
	}
	if r.Len() != 0 {
		return nil, fmt.Errorf("%d bytes after the end", r.Len())
	}
	return t, nil
}
