package jute

import (
	"encoding/binary"
	"errors"
	"fmt"
)

// ErrShort reports input that ends inside a record.
var ErrShort = errors.New("jute: record truncated")

// ErrLength reports a buffer, string or vector length that is negative (other
// than -1, null) or larger than the decoder's limit.
var ErrLength = errors.New("jute: unreasonable length")

// ErrNullPath reports a null where a request needs a path.
var ErrNullPath = errors.New("jute: null path")

// DefaultMaxBuffer is ZooKeeper's default jute.maxbuffer: 0xfffff bytes.
const DefaultMaxBuffer = 0xfffff

// Decoder reads jute primitives from a byte slice. The first error sticks:
// every later read returns a zero value and Err reports the first failure,
// so a record can be decoded field by field and checked once.
type Decoder struct {
	buf []byte
	off int
	max int
	err error
}

// NewDecoder returns a decoder over b that rejects lengths above
// DefaultMaxBuffer.
func NewDecoder(b []byte) *Decoder {
	return &Decoder{buf: b, max: DefaultMaxBuffer}
}

// Reset points the decoder at b, clears its error and sets the largest
// buffer, string or vector length it accepts.
func (d *Decoder) Reset(b []byte, maxLen int) {
	d.buf, d.off, d.max, d.err = b, 0, maxLen, nil
}

// Err returns the first error met, or nil.
func (d *Decoder) Err() error { return d.err }

// Len returns how many bytes are left.
func (d *Decoder) Len() int { return len(d.buf) - d.off }

// Offset returns how many bytes have been consumed.
func (d *Decoder) Offset() int { return d.off }

// Rest returns the unread bytes without consuming them.
func (d *Decoder) Rest() []byte { return d.buf[d.off:] }

func (d *Decoder) fail(err error) {
	if d.err == nil {
		d.err = err
	}
	d.off = len(d.buf)
}

func (d *Decoder) take(n int) []byte {
	if d.err != nil {
		return nil
	}
	if n > len(d.buf)-d.off {
		d.fail(ErrShort)
		return nil
	}
	b := d.buf[d.off : d.off+n : d.off+n]
	d.off += n
	return b
}

// Int reads a jute int.
func (d *Decoder) Int() int32 {
	b := d.take(4)
	if b == nil {
		return 0
	}
	return int32(binary.BigEndian.Uint32(b))
}

// Long reads a jute long.
func (d *Decoder) Long() int64 {
	b := d.take(8)
	if b == nil {
		return 0
	}
	return int64(binary.BigEndian.Uint64(b))
}

// Bool reads a jute boolean: any non-zero byte is true.
func (d *Decoder) Bool() bool {
	b := d.take(1)
	return b != nil && b[0] != 0
}

// length reads a length prefix; -1 (null) is returned as is.
func (d *Decoder) length() int {
	n := int(d.Int())
	if d.err != nil {
		return 0
	}
	if n < -1 || n > d.max {
		d.fail(fmt.Errorf("%w: %d", ErrLength, n))
		return 0
	}
	return n
}

// Buffer reads a jute buffer. It returns nil for null (-1) and a non-nil,
// possibly empty slice otherwise. The slice aliases the decoder's input.
func (d *Decoder) Buffer() []byte {
	n := d.length()
	if n < 0 || d.err != nil {
		return nil
	}
	if n == 0 {
		return d.buf[d.off:d.off:d.off]
	}
	return d.take(n)
}

// StringBytes reads a jute ustring as bytes aliasing the input; nil means
// null. It does not check the bytes are UTF-8.
func (d *Decoder) StringBytes() []byte { return d.Buffer() }

// PathBytes reads a request's path like StringBytes, but a null path is a
// decode error (ErrNullPath): ZooKeeper's read handlers fail one with an
// exception, which the client sees as MARSHALLINGERROR.
func (d *Decoder) PathBytes() []byte {
	b := d.Buffer()
	if b == nil {
		d.fail(ErrNullPath)
	}
	return b
}

// String reads a jute ustring into a new string; null reads as "".
func (d *Decoder) String() string { return string(d.Buffer()) }

// StringOr reads a ustring like String, but returns known instead of a new
// string when the two are equal: decoding many records that repeat a value
// (the identities of a log batch's entries) then allocates it once.
func (d *Decoder) StringOr(known string) string {
	if b := d.Buffer(); string(b) != known {
		return string(b)
	}
	return known
}

// VectorLen reads the element count of a vector; null (-1) reads as 0.
func (d *Decoder) VectorLen() int { return d.VectorLenMin(1) }

// VectorLenMin reads the element count of a vector whose elements take at
// least minSize bytes each; null (-1) reads as 0. A count the remaining
// input cannot hold is certainly a lie and would only make callers
// allocate: it fails with ErrShort, so a caller that sizes its result by
// the count allocates no more than the input could really fill.
func (d *Decoder) VectorLenMin(minSize int) int {
	n := d.length()
	if n < 0 {
		return 0
	}
	if n > d.Len()/minSize {
		d.fail(ErrShort)
		return 0
	}
	return n
}

// Strings reads a vector of ustrings.
func (d *Decoder) Strings() []string {
	// Each takes at least its length.
	n := d.VectorLenMin(4)
	if n == 0 {
		return nil
	}
	out := make([]string, 0, n)
	for i := 0; i < n && d.err == nil; i++ {
		out = append(out, d.String())
	}
	return out
}
