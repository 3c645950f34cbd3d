package zkfile

import (
	"bytes"
	"encoding/binary"
	"os"
	"testing"

	"github.com/klauspost/compress/s2"

	"github.com/meerkat-zk/meerkat/internal/alloctest"
)

// snappyJavaStream encodes b as snappy-java's SnappyOutputStream does:
// its header, then each block of at most blockSize bytes as a length and
// a snappy block.
func snappyJavaStream(b []byte, blockSize int) []byte {
	out := append(append([]byte(nil), snappyHeader...), 0, 0, 0, 1, 0, 0, 0, 1)
	for len(b) > 0 {
		n := min(len(b), blockSize)
		block := s2.EncodeSnappy(nil, b[:n])
		out = binary.BigEndian.AppendUint32(out, uint32(len(block)))
		out = append(out, block...)
		b = b[n:]
	}
	return out
}

// FuzzSnappyStream feeds the decoder of snapshot.<zxid>.snappy files the
// streams a damaged file may hold. It proves that a block's claimed length
// makes it allocate in proportion to the stream whatever the claim, and
// that what decodes, encoded again, decodes the same.
func FuzzSnappyStream(f *testing.F) {
	snap, err := os.ReadFile("testdata/version-2/snapshot.1c")
	if err != nil {
		f.Fatal(err)
	}
	f.Add(snappyJavaStream(snap, 32<<10))
	f.Add(snappyJavaStream(snap, 1<<10))
	// Concatenated streams repeat the header.
	f.Add(append(snappyJavaStream(snap[:100], 32<<10), snappyJavaStream(snap[100:300], 32<<10)...))
	f.Fuzz(func(t *testing.T, b []byte) {
		var out []byte
		var err error
		limit := 100*uint64(len(b)) + 64<<10
		if n := alloctest.AllocatedBy(limit, func() { out, err = decodeSnappyStream(b) }); n > limit {
			t.Fatalf("decoding %d bytes allocated %d", len(b), n)
		}
		if err != nil {
			return
		}
		back, err := decodeSnappyStream(snappyJavaStream(out, 32<<10))
		if err != nil || !bytes.Equal(back, out) {
			t.Fatalf("%d bytes decoded, encoded again, decode to %d (err %v)", len(out), len(back), err)
		}
	})
}
