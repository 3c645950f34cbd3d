package jute

import (
	"encoding/binary"
	"slices"
)

// Record is a jute record that can be appended to a buffer and decoded.
type Record interface {
	// Append appends the record's encoding to b.
	Append(b []byte) []byte
	// Decode reads the record; errors stick in d.
	Decode(d *Decoder)
}

// RequestHeader precedes every client frame after the handshake.
type RequestHeader struct {
	Xid  int32
	Type OpCode
}

// Append implements Record.
func (r *RequestHeader) Append(b []byte) []byte {
	return AppendInt(AppendInt(b, r.Xid), int32(r.Type))
}

// Decode implements Record.
func (r *RequestHeader) Decode(d *Decoder) { r.Xid, r.Type = d.Int(), OpCode(d.Int()) }

// ReplyHeader precedes every server frame after the handshake.
type ReplyHeader struct {
	Xid  int32
	Zxid int64
	Err  Code
}

// Append implements Record.
func (r *ReplyHeader) Append(b []byte) []byte {
	return AppendInt(AppendLong(AppendInt(b, r.Xid), r.Zxid), int32(r.Err))
}

// Decode implements Record.
func (r *ReplyHeader) Decode(d *Decoder) {
	r.Xid, r.Zxid, r.Err = d.Int(), d.Long(), Code(d.Int())
}

// ConnectRequest is the first frame a client sends.
type ConnectRequest struct {
	ProtocolVersion int32
	LastZxidSeen    int64
	TimeOut         int32
	SessionID       int64
	Passwd          []byte
	// ReadOnly is the trailing flag of clients since 3.4; HasReadOnly tells
	// whether the client sent it at all (the reply mirrors its presence).
	ReadOnly    bool
	HasReadOnly bool
}

// Append implements Record.
func (r *ConnectRequest) Append(b []byte) []byte {
	b = AppendInt(b, r.ProtocolVersion)
	b = AppendLong(b, r.LastZxidSeen)
	b = AppendInt(b, r.TimeOut)
	b = AppendLong(b, r.SessionID)
	b = AppendBuffer(b, r.Passwd)
	if r.HasReadOnly {
		b = AppendBool(b, r.ReadOnly)
	}
	return b
}

// Decode implements Record. The readOnly byte is optional, as in ZooKeeper.
func (r *ConnectRequest) Decode(d *Decoder) {
	r.ProtocolVersion = d.Int()
	r.LastZxidSeen = d.Long()
	r.TimeOut = d.Int()
	r.SessionID = d.Long()
	r.Passwd = d.Buffer()
	r.HasReadOnly = d.Err() == nil && d.Len() > 0
	if r.HasReadOnly {
		r.ReadOnly = d.Bool()
	}
}

// ConnectResponse answers a ConnectRequest.
type ConnectResponse struct {
	ProtocolVersion int32
	TimeOut         int32
	SessionID       int64
	Passwd          []byte
	ReadOnly        bool
	HasReadOnly     bool
}

// Append implements Record.
func (r *ConnectResponse) Append(b []byte) []byte {
	b = AppendInt(b, r.ProtocolVersion)
	b = AppendInt(b, r.TimeOut)
	b = AppendLong(b, r.SessionID)
	b = AppendBuffer(b, r.Passwd)
	if r.HasReadOnly {
		b = AppendBool(b, r.ReadOnly)
	}
	return b
}

// Decode implements Record.
func (r *ConnectResponse) Decode(d *Decoder) {
	r.ProtocolVersion = d.Int()
	r.TimeOut = d.Int()
	r.SessionID = d.Long()
	r.Passwd = d.Buffer()
	r.HasReadOnly = d.Err() == nil && d.Len() > 0
	if r.HasReadOnly {
		r.ReadOnly = d.Bool()
	}
}

// Stat is a znode's metadata as clients see it (68 bytes on the wire).
type Stat struct {
	Czxid          int64
	Mzxid          int64
	Ctime          int64
	Mtime          int64
	Version        int32
	Cversion       int32
	Aversion       int32
	EphemeralOwner int64
	DataLength     int32
	NumChildren    int32
	Pzxid          int64
}

// StatSize is the encoded size of a Stat.
const StatSize = 68

// Append implements Record. It grows b once for the whole Stat, not once
// per field: a write's reply is often a Stat appended to nil.
func (s *Stat) Append(b []byte) []byte {
	b = slices.Grow(b, StatSize)
	b = AppendLong(b, s.Czxid)
	b = AppendLong(b, s.Mzxid)
	b = AppendLong(b, s.Ctime)
	b = AppendLong(b, s.Mtime)
	b = AppendInt(b, s.Version)
	b = AppendInt(b, s.Cversion)
	b = AppendInt(b, s.Aversion)
	b = AppendLong(b, s.EphemeralOwner)
	b = AppendInt(b, s.DataLength)
	b = AppendInt(b, s.NumChildren)
	return AppendLong(b, s.Pzxid)
}

// Decode implements Record.
func (s *Stat) Decode(d *Decoder) {
	s.Czxid, s.Mzxid, s.Ctime, s.Mtime = d.Long(), d.Long(), d.Long(), d.Long()
	s.Version, s.Cversion, s.Aversion = d.Int(), d.Int(), d.Int()
	s.EphemeralOwner = d.Long()
	s.DataLength, s.NumChildren = d.Int(), d.Int()
	s.Pzxid = d.Long()
}

// ID is an identity: a scheme and an id within it ("digest", "bob:hash").
type ID struct {
	Scheme string
	ID     string
}

// Append implements Record.
func (r *ID) Append(b []byte) []byte { return AppendString(AppendString(b, r.Scheme), r.ID) }

// Decode implements Record.
func (r *ID) Decode(d *Decoder) { r.Scheme, r.ID = d.String(), d.String() }

// ACL grants Perms to the identities matching ID.
type ACL struct {
	Perms int32
	ID    ID
}

// Permission bits of an ACL.
const (
	PermRead   int32 = 1
	PermWrite  int32 = 2
	PermCreate int32 = 4
	PermDelete int32 = 8
	PermAdmin  int32 = 16
	PermAll    int32 = 31
)

// AppendACLs appends a vector of ACLs.
func AppendACLs(b []byte, acls []ACL) []byte {
	b = AppendInt(b, int32(len(acls)))
	for i := range acls {
		b = AppendInt(b, acls[i].Perms)
		b = acls[i].ID.Append(b)
	}
	return b
}

// ACLs reads a vector of ACLs.
func (d *Decoder) ACLs() []ACL {
	// Each takes at least its perms and two string lengths.
	n := d.VectorLenMin(12)
	if n == 0 {
		return nil
	}
	out := make([]ACL, 0, n)
	for i := 0; i < n && d.err == nil; i++ {
		var a ACL
		a.Perms = d.Int()
		a.ID.Decode(d)
		out = append(out, a)
	}
	return out
}

// WatcherEvent is the body of a notification (xid -1).
type WatcherEvent struct {
	Type  int32
	State int32
	Path  string
}

// Event types and the one state a server sends.
const (
	EventNodeCreated         int32 = 1
	EventNodeDeleted         int32 = 2
	EventNodeDataChanged     int32 = 3
	EventNodeChildrenChanged int32 = 4
	StateSyncConnected       int32 = 3
)

// Append implements Record.
func (r *WatcherEvent) Append(b []byte) []byte {
	return AppendString(AppendInt(AppendInt(b, r.Type), r.State), r.Path)
}

// Decode implements Record.
func (r *WatcherEvent) Decode(d *Decoder) { r.Type, r.State, r.Path = d.Int(), d.Int(), d.String() }

// CreateRequest is the body of create, create2, createContainer and (with
// TTL set) createTTL.
type CreateRequest struct {
	Path  string
	Data  []byte
	ACL   []ACL
	Flags int32
	// TTL is only on the wire for OpCreateTTL.
	TTL int64
}

// AppendCreate appends a create request; withTTL adds the createTTL field.
func (r *CreateRequest) AppendCreate(b []byte, withTTL bool) []byte {
	b = AppendString(b, r.Path)
	b = AppendBuffer(b, r.Data)
	b = AppendACLs(b, r.ACL)
	b = AppendInt(b, r.Flags)
	if withTTL {
		b = AppendLong(b, r.TTL)
	}
	return b
}

// DecodeCreate reads a create request; withTTL reads the createTTL field.
func (r *CreateRequest) DecodeCreate(d *Decoder, withTTL bool) {
	r.Path = d.String()
	r.Data = d.Buffer()
	r.ACL = d.ACLs()
	r.Flags = d.Int()
	if withTTL {
		r.TTL = d.Long()
	}
}

// PathRequest is a record holding only a path: getACL, sync,
// getAllChildrenNumber and getEphemerals requests, and the create and sync
// responses.
type PathRequest struct{ Path string }

// Append implements Record.
func (r *PathRequest) Append(b []byte) []byte { return AppendString(b, r.Path) }

// Decode implements Record.
func (r *PathRequest) Decode(d *Decoder) { r.Path = d.String() }

// PathWatchRequest is the body of exists, getData, getChildren and
// getChildren2.
type PathWatchRequest struct {
	Path  string
	Watch bool
}

// Append implements Record.
func (r *PathWatchRequest) Append(b []byte) []byte {
	return AppendBool(AppendString(b, r.Path), r.Watch)
}

// Decode implements Record.
func (r *PathWatchRequest) Decode(d *Decoder) { r.Path, r.Watch = d.String(), d.Bool() }

// PathVersionRequest is the body of delete and check.
type PathVersionRequest struct {
	Path    string
	Version int32
}

// Append implements Record.
func (r *PathVersionRequest) Append(b []byte) []byte {
	return AppendInt(AppendString(b, r.Path), r.Version)
}

// Decode implements Record.
func (r *PathVersionRequest) Decode(d *Decoder) { r.Path, r.Version = d.String(), d.Int() }

// PathTypeRequest is the body of checkWatches, removeWatches (Type is the
// watcher type) and addWatch (Type is the mode).
type PathTypeRequest struct {
	Path string
	Type int32
}

// Append implements Record.
func (r *PathTypeRequest) Append(b []byte) []byte {
	return AppendInt(AppendString(b, r.Path), r.Type)
}

// Decode implements Record.
func (r *PathTypeRequest) Decode(d *Decoder) { r.Path, r.Type = d.String(), d.Int() }

// SetDataRequest is the body of setData.
type SetDataRequest struct {
	Path    string
	Data    []byte
	Version int32
}

// Append implements Record.
func (r *SetDataRequest) Append(b []byte) []byte {
	return AppendInt(AppendBuffer(AppendString(b, r.Path), r.Data), r.Version)
}

// Decode implements Record.
func (r *SetDataRequest) Decode(d *Decoder) {
	r.Path, r.Data, r.Version = d.String(), d.Buffer(), d.Int()
}

// SetACLRequest is the body of setACL.
type SetACLRequest struct {
	Path    string
	ACL     []ACL
	Version int32
}

// Append implements Record.
func (r *SetACLRequest) Append(b []byte) []byte {
	return AppendInt(AppendACLs(AppendString(b, r.Path), r.ACL), r.Version)
}

// Decode implements Record.
func (r *SetACLRequest) Decode(d *Decoder) { r.Path, r.ACL, r.Version = d.String(), d.ACLs(), d.Int() }

// MultiHeader precedes each op of a multi request and each result of a
// multi response; a header with Done set ends the list.
type MultiHeader struct {
	Type OpCode
	Done bool
	Err  Code
}

// Append implements Record.
func (r *MultiHeader) Append(b []byte) []byte {
	return AppendInt(AppendBool(AppendInt(b, int32(r.Type)), r.Done), int32(r.Err))
}

// Decode implements Record.
func (r *MultiHeader) Decode(d *Decoder) {
	r.Type, r.Done, r.Err = OpCode(d.Int()), d.Bool(), Code(d.Int())
}

// AppendMultiEnd appends the header that ends a multi request or response.
func AppendMultiEnd(b []byte) []byte {
	return (&MultiHeader{Type: -1, Done: true, Err: -1}).Append(b)
}

// AuthPacket is the body of an auth request (xid -4).
type AuthPacket struct {
	Type   int32
	Scheme string
	Auth   []byte
}

// Append implements Record.
func (r *AuthPacket) Append(b []byte) []byte {
	return AppendBuffer(AppendString(AppendInt(b, r.Type), r.Scheme), r.Auth)
}

// Decode implements Record.
func (r *AuthPacket) Decode(d *Decoder) { r.Type, r.Scheme, r.Auth = d.Int(), d.String(), d.Buffer() }

// SetWatches is the body of setWatches and, with the two persistent lists,
// of setWatches2.
type SetWatches struct {
	RelativeZxid        int64
	DataWatches         []string
	ExistWatches        []string
	ChildWatches        []string
	PersistentWatches   []string
	PersistentRecursive []string
}

// AppendSetWatches appends the record; v2 adds the persistent lists.
func (r *SetWatches) AppendSetWatches(b []byte, v2 bool) []byte {
	b = AppendLong(b, r.RelativeZxid)
	b = AppendStrings(b, r.DataWatches)
	b = AppendStrings(b, r.ExistWatches)
	b = AppendStrings(b, r.ChildWatches)
	if v2 {
		b = AppendStrings(b, r.PersistentWatches)
		b = AppendStrings(b, r.PersistentRecursive)
	}
	return b
}

// DecodeSetWatches reads the record; v2 reads the persistent lists.
func (r *SetWatches) DecodeSetWatches(d *Decoder, v2 bool) {
	r.RelativeZxid = d.Long()
	r.DataWatches = d.Strings()
	r.ExistWatches = d.Strings()
	r.ChildWatches = d.Strings()
	if v2 {
		r.PersistentWatches = d.Strings()
		r.PersistentRecursive = d.Strings()
	}
}

// ReconfigRequest is the body of reconfig. NewMembersNull marks a null
// newMembers, which makes the request incremental (ZooKeeper takes any
// other newMembers, even an empty one, for a whole new membership).
type ReconfigRequest struct {
	JoiningServers string
	LeavingServers string
	NewMembers     string
	NewMembersNull bool
	CurConfigID    int64
}

// Append implements Record.
func (r *ReconfigRequest) Append(b []byte) []byte {
	b = AppendString(b, r.JoiningServers)
	b = AppendString(b, r.LeavingServers)
	if r.NewMembersNull {
		b = AppendInt(b, -1)
	} else {
		b = AppendString(b, r.NewMembers)
	}
	return AppendLong(b, r.CurConfigID)
}

// Decode implements Record.
func (r *ReconfigRequest) Decode(d *Decoder) {
	r.JoiningServers, r.LeavingServers = d.String(), d.String()
	members := d.StringBytes()
	r.NewMembers, r.NewMembersNull = string(members), members == nil
	r.CurConfigID = d.Long()
}

// ClientInfo is one identity in a whoAmI response.
type ClientInfo struct {
	AuthScheme string
	User       string
}

// ReplyHeaderSize is the encoded size of a ReplyHeader.
const ReplyHeaderSize = 16

// PutReplyErr overwrites the err field of an encoded ReplyHeader at b.
func PutReplyErr(b []byte, c Code) {
	binary.BigEndian.PutUint32(b[12:], uint32(c))
}
