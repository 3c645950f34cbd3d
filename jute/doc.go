// Package jute is ZooKeeper's wire format: the primitive encodings of the
// jute binary archive, the request and response records of protocol 3.8, the
// opcodes and the error codes. The server, the bench client and the tools
// share it; it has no state and does no I/O.
//
// # Framing
//
// Every message in either direction is a frame: a big-endian int32 length
// followed by that many bytes of payload.
//
//	+--------+-------------------------------+
//	| len:4  | payload: len bytes            |
//	+--------+-------------------------------+
//
// The first client frame on a connection is a bare ConnectRequest, the first
// server frame a ConnectResponse. After that, a client frame is a
// RequestHeader followed by the op's request record, and a server frame is a
// ReplyHeader followed by the response record (absent when err != 0).
//
//	RequestHeader  +--------+--------+
//	               | xid:4  | type:4 |
//	               +--------+--------+
//	ReplyHeader    +--------+--------+--------+
//	               | xid:4  | zxid:8 | err:4  |
//	               +--------+--------+--------+
//
// # Primitives
//
//	int      4 bytes, big-endian two's complement
//	long     8 bytes, big-endian
//	boolean  1 byte, 0 is false, anything else true
//	buffer   int32 length n, then n bytes; n == -1 means null
//	ustring  as buffer, UTF-8; -1 means null
//	vector   int32 count n, then n elements; -1 means null
//	record   its fields back to back, no tags and no length
//
// # Allocation
//
// Decoder hands out byte slices that alias its input; callers that keep a
// value beyond the life of the input copy it. Encoding appends to a caller's
// slice (the Append* functions and the records' Append methods), so a hot
// path can reuse one buffer and allocate nothing.
package jute
