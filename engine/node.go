package engine

import (
	"strings"
	"unicode/utf16"
	"unicode/utf8"

	"github.com/meerkat-zk/meerkat/jute"
)

// Node is one znode as the tree stores it. It holds no pointer but its
// path-and-data string, so a leaf page of znodes costs the garbage collector
// one pointer per znode and pages are cheap to copy. Nodes in a published
// Tree never change.
type Node struct {
	// kv is the path followed by the data.
	kv string
	// pathLen is len(path); the top bit says the data is null (not empty).
	pathLen uint32
	// nameOff is where the name starts in the path (just past the last
	// slash), so the tree compares (parent, name) without searching.
	nameOff uint32
	// acl indexes the ACL table of the version that holds the node.
	acl uint32

	Czxid int64
	Mzxid int64
	Pzxid int64
	Ctime int64
	Mtime int64
	// Owner is ZooKeeper's internal ephemeralOwner: a session id for an
	// ephemeral, ownerContainer for a container, ownerTTLBit|ttl for a TTL
	// node, 0 otherwise. Clients see 0 for containers and TTL nodes.
	Owner int64

	Version  int32
	Aversion int32
	// Creates counts the children ever created under this node (ZooKeeper's
	// internal cversion); the client-visible cversion is 2*Creates-NumChildren.
	Creates     int32
	NumChildren int32
}

const dataNullBit = 1 << 31

// Internal ephemeralOwner encodings, as ZooKeeper's EphemeralType lays them out.
const (
	ownerContainer int64 = -1 << 63 // 0x8000000000000000
	// A TTL node's owner is 0xff in the high byte, 16 reserved zero bits
	// and the TTL in ms in the low 40 bits.
	ownerTTLBits int64 = -1 << 56 // 0xff00000000000000
	ownerTTLMask int64 = -1 << 40 // high byte and reserved bits
	ttlMask      int64 = 1<<40 - 1
	maxTTL       int64 = ttlMask
)

// joinKV allocates path followed by data as one new string. (Concatenation
// would hand back path itself when data is empty: a caller's scratch bytes,
// or another node's memory kept alive by a substring.)
func joinKV(path string, data []byte) string {
	var b strings.Builder
	b.Grow(len(path) + len(data))
	b.WriteString(path)
	b.Write(data)
	return b.String()
}

func newNode(path string, data []byte) Node {
	n := Node{kv: joinKV(path, data), pathLen: uint32(len(path)), nameOff: uint32(strings.LastIndexByte(path, '/') + 1)}
	if data == nil {
		n.pathLen |= dataNullBit
	}
	return n
}

// Path returns the znode's full path.
func (n *Node) Path() string { return n.kv[:n.pathLen&^dataNullBit] }

// Name returns the last element of the znode's path ("" for the root).
func (n *Node) Name() string { return n.kv[n.nameOff : n.pathLen&^dataNullBit] }

// parent returns the path before the name's slash, as the tree orders
// znodes: "" for the root and its children.
func (n *Node) parent() string {
	if n.nameOff == 0 {
		return ""
	}
	return n.kv[:n.nameOff-1]
}

// size is what the znode counts for in ZooKeeper's approximate data size:
// its path's length as Java counts a String (UTF-16 units) and its data's
// length in bytes.
func (n *Node) size() int64 {
	path := n.Path()
	return int64(utf16Len(path) + len(n.kv) - len(path))
}

// utf16Len is the length of s in UTF-16 code units, Java's String.length.
func utf16Len(s string) int {
	for i := 0; i < len(s); i++ {
		if s[i] >= utf8.RuneSelf {
			n := 0
			for _, r := range s {
				n += max(utf16.RuneLen(r), 1)
			}
			return n
		}
	}
	return len(s)
}

// Data returns the znode's data as a string that shares the node's memory.
func (n *Node) Data() string { return n.kv[n.pathLen&^dataNullBit:] }

// DataNull reports whether the data was set to null (getData then returns a
// buffer of length -1).
func (n *Node) DataNull() bool { return n.pathLen&dataNullBit != 0 }

// withData returns a copy of n holding data.
func (n *Node) withData(data []byte) Node {
	c := *n
	c.kv = joinKV(n.Path(), data)
	c.pathLen = uint32(len(n.Path()))
	if data == nil {
		c.pathLen |= dataNullBit
	}
	return c
}

// Cversion is the client-visible child version: creates plus deletes.
func (n *Node) Cversion() int32 { return 2*n.Creates - n.NumChildren }

// IsEphemeral reports whether n belongs to a session.
func (n *Node) IsEphemeral() bool { return n.Owner != 0 && !n.IsContainer() && !n.IsTTL() }

// IsContainer reports whether n is a container.
func (n *Node) IsContainer() bool { return n.Owner == ownerContainer }

// IsTTL reports whether n is a TTL node.
func (n *Node) IsTTL() bool { return n.Owner&ownerTTLMask == ownerTTLBits }

// TTL returns a TTL node's time to live in ms.
func (n *Node) TTL() int64 { return n.Owner & ttlMask }

// EphemeralOwner is the ephemeralOwner clients see.
func (n *Node) EphemeralOwner() int64 {
	if n.IsEphemeral() {
		return n.Owner
	}
	return 0
}

// Stat returns the client-visible stat.
func (n *Node) Stat() jute.Stat {
	return jute.Stat{
		Czxid: n.Czxid, Mzxid: n.Mzxid, Ctime: n.Ctime, Mtime: n.Mtime,
		Version: n.Version, Cversion: n.Cversion(), Aversion: n.Aversion,
		EphemeralOwner: n.EphemeralOwner(), DataLength: int32(len(n.Data())),
		NumChildren: n.NumChildren, Pzxid: n.Pzxid,
	}
}

// AppendStat appends the client-visible stat without building a jute.Stat.
func (n *Node) AppendStat(b []byte) []byte {
	b = jute.AppendLong(b, n.Czxid)
	b = jute.AppendLong(b, n.Mzxid)
	b = jute.AppendLong(b, n.Ctime)
	b = jute.AppendLong(b, n.Mtime)
	b = jute.AppendInt(b, n.Version)
	b = jute.AppendInt(b, n.Cversion())
	b = jute.AppendInt(b, n.Aversion)
	b = jute.AppendLong(b, n.EphemeralOwner())
	b = jute.AppendInt(b, int32(len(n.Data())))
	b = jute.AppendInt(b, n.NumChildren)
	return jute.AppendLong(b, n.Pzxid)
}

// AppendData appends the data as a jute buffer (length -1 when null).
func (n *Node) AppendData(b []byte) []byte {
	if n.DataNull() {
		return jute.AppendInt(b, -1)
	}
	d := n.Data()
	b = jute.AppendInt(b, int32(len(d)))
	return append(b, d...)
}
