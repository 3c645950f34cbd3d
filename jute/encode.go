package jute

import "encoding/binary"

// AppendInt appends a jute int.
func AppendInt(b []byte, v int32) []byte {
	return binary.BigEndian.AppendUint32(b, uint32(v))
}

// AppendLong appends a jute long.
func AppendLong(b []byte, v int64) []byte {
	return binary.BigEndian.AppendUint64(b, uint64(v))
}

// AppendBool appends a jute boolean.
func AppendBool(b []byte, v bool) []byte {
	if v {
		return append(b, 1)
	}
	return append(b, 0)
}

// AppendBuffer appends a jute buffer; a nil slice is written as null (-1).
func AppendBuffer(b []byte, v []byte) []byte {
	if v == nil {
		return AppendInt(b, -1)
	}
	b = AppendInt(b, int32(len(v)))
	return append(b, v...)
}

// AppendString appends a jute ustring.
func AppendString(b []byte, s string) []byte {
	b = AppendInt(b, int32(len(s)))
	return append(b, s...)
}

// AppendStrings appends a vector of ustrings; nil is written as an empty
// vector, as ZooKeeper's server does for its list responses.
func AppendStrings(b []byte, v []string) []byte {
	b = AppendInt(b, int32(len(v)))
	for _, s := range v {
		b = AppendString(b, s)
	}
	return b
}

// BeginFrame appends a placeholder for a frame length and returns the
// extended slice and the offset of the placeholder, for EndFrame.
func BeginFrame(b []byte) ([]byte, int) {
	return append(b, 0, 0, 0, 0), len(b)
}

// EndFrame writes the length of everything appended since BeginFrame into
// the placeholder at start.
func EndFrame(b []byte, start int) []byte {
	binary.BigEndian.PutUint32(b[start:], uint32(len(b)-start-4))
	return b
}
