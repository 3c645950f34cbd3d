package wal

import (
	"encoding/binary"
	"hash/crc32"
)

const (
	segmentMagic      = "MKWAL\x00\x00\x01"
	segmentHeaderSize = 32
	recordHeaderSize  = 24
	// maxRecord bounds a record's payload; Append refuses larger ones and
	// recovery treats a larger length as damage.
	maxRecord = 1 << 30
)

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

func align8(n int64) int64 { return (n + 7) &^ 7 }

// recordSize is the space a record with n payload bytes takes.
func recordSize(n int) int64 { return align8(int64(recordHeaderSize + n)) }

// appendRecord appends the encoding of one record to b and returns its crc.
func appendRecord(b []byte, prev uint32, index uint64, payload []byte) ([]byte, uint32) {
	start := len(b)
	b = binary.BigEndian.AppendUint32(b, uint32(len(payload)))
	b = binary.BigEndian.AppendUint32(b, 0) // crc, filled below
	b = binary.BigEndian.AppendUint32(b, prev)
	b = binary.BigEndian.AppendUint32(b, 0) // flags
	b = binary.BigEndian.AppendUint64(b, index)
	b = append(b, payload...)
	crc := recordCRC(b[start:start+recordHeaderSize], payload)
	binary.BigEndian.PutUint32(b[start+4:], crc)
	for int64(len(b)-start) < recordSize(len(payload)) {
		b = append(b, 0)
	}
	return b, crc
}

// recordCRC is CRC32C over the header without its crc field, then the payload.
func recordCRC(hdr []byte, payload []byte) uint32 {
	c := crc32.Update(0, castagnoli, hdr[0:4])
	c = crc32.Update(c, castagnoli, hdr[8:recordHeaderSize])
	return crc32.Update(c, castagnoli, payload)
}

// record is a record parsed from a segment's bytes.
type record struct {
	crc     uint32
	prev    uint32
	index   uint64
	payload []byte
	size    int64
}

// parseRecord reads the record at off in data. ok is false when the bytes
// there are not a self-consistent record; zero is true when they are the
// all-zero header that ends a segment's data.
func parseRecord(data []byte, off int64) (r record, ok, zero bool) {
	if off >= int64(len(data)) {
		return r, false, true
	}
	if off+recordHeaderSize > int64(len(data)) {
		return r, false, allZero(data[off:])
	}
	hdr := data[off : off+recordHeaderSize]
	if allZero(hdr) {
		return r, false, true
	}
	n := int64(binary.BigEndian.Uint32(hdr[0:4]))
	if n > maxRecord || off+recordHeaderSize+n > int64(len(data)) {
		return r, false, false
	}
	payload := data[off+recordHeaderSize : off+recordHeaderSize+n]
	r = record{
		crc:     binary.BigEndian.Uint32(hdr[4:8]),
		prev:    binary.BigEndian.Uint32(hdr[8:12]),
		index:   binary.BigEndian.Uint64(hdr[16:24]),
		payload: payload,
		size:    recordSize(int(n)),
	}
	return r, recordCRC(hdr, payload) == r.crc, false
}

func allZero(b []byte) bool {
	for _, c := range b {
		if c != 0 {
			return false
		}
	}
	return true
}

// segmentHeader is the first segmentHeaderSize bytes of a segment.
type segmentHeader struct {
	seq        uint64
	firstIndex uint64
	prev       uint32
}

func (h segmentHeader) encode() []byte {
	b := make([]byte, 0, segmentHeaderSize)
	b = append(b, segmentMagic...)
	b = binary.BigEndian.AppendUint64(b, h.seq)
	b = binary.BigEndian.AppendUint64(b, h.firstIndex)
	b = binary.BigEndian.AppendUint32(b, h.prev)
	return binary.BigEndian.AppendUint32(b, crc32.Checksum(b, castagnoli))
}

func decodeSegmentHeader(b []byte) (segmentHeader, bool) {
	if len(b) < segmentHeaderSize || string(b[:8]) != segmentMagic {
		return segmentHeader{}, false
	}
	if crc32.Checksum(b[:28], castagnoli) != binary.BigEndian.Uint32(b[28:32]) {
		return segmentHeader{}, false
	}
	return segmentHeader{
		seq:        binary.BigEndian.Uint64(b[8:16]),
		firstIndex: binary.BigEndian.Uint64(b[16:24]),
		prev:       binary.BigEndian.Uint32(b[24:28]),
	}, true
}
