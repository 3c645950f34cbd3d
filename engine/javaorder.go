package engine

import (
	"slices"
	"strings"
	"unicode/utf16"

	"github.com/meerkat-zk/meerkat/jute"
)

// ZooKeeper keeps a connection's identities and a session's ephemerals in
// Java hash sets, and the order it iterates them reaches clients: it is the
// order of whoAmI's answer, of the ACL entries an "auth" entry expands to,
// and of the NodeDeleted events when a session closes. These functions
// reproduce java.util.HashMap's iteration order for the cases ZooKeeper
// creates: a table of a power-of-two size, buckets in index order, entries
// within a bucket in insertion order.

// javaStringHash is java.lang.String.hashCode over UTF-16 code units.
func javaStringHash(s string) int32 {
	var h int32
	for _, r := range s {
		if r >= 0x10000 {
			r1, r2 := utf16.EncodeRune(r)
			h = 31*h + r1
			h = 31*h + r2
			continue
		}
		h = 31*h + r
	}
	return h
}

// javaSpread is HashMap.hash: the hash folded onto its low bits.
func javaSpread(h int32) uint32 {
	u := uint32(h)
	return u ^ u>>16
}

// javaTableSize returns the table size a HashMap reaches when it has held
// at most maxSize entries at once, starting from the default 16.
func javaTableSize(maxSize int) uint32 {
	size := uint32(16)
	for float64(maxSize) > 0.75*float64(size) {
		size *= 2
	}
	return size
}

// javaCloneTableSize is the table size of new HashSet(c) or clone() of a
// set of n entries: the next power of two of n/0.75+1 (at least 1).
func javaCloneTableSize(n int) uint32 {
	t := uint32(float32(n)/0.75 + 1)
	size := uint32(1)
	for size < t {
		size *= 2
	}
	return size
}

// javaBucketOrder stably reorders items, given in insertion order, into the
// order a HashMap with a table of tableSize iterates them.
func javaBucketOrder(items []string, tableSize uint32) {
	slices.SortStableFunc(items, func(a, b string) int {
		ba := javaSpread(javaStringHash(a)) & (tableSize - 1)
		bb := javaSpread(javaStringHash(b)) & (tableSize - 1)
		return int(ba) - int(bb)
	})
}

// idHash is the hashCode of the jute-generated Id record.
func idHash(id jute.ID) int32 {
	return 37*(37*17+javaStringHash(id.Scheme)) + javaStringHash(id.ID)
}

// AddIdentity adds id to a connection's identities unless it is there, and
// keeps them in the order ZooKeeper's ConcurrentHashMap-backed set iterates
// them, which is the order whoAmI reports and "auth" ACLs expand in. The
// slice is never modified in place, so a request may keep the one it was
// given.
func AddIdentity(ids []jute.ID, id jute.ID) []jute.ID {
	if slices.Contains(ids, id) {
		return ids
	}
	out := append(slices.Clip(ids), id)
	size := javaTableSize(len(out))
	slices.SortStableFunc(out, func(a, b jute.ID) int {
		return int(javaSpread(idHash(a))&(size-1)) - int(javaSpread(idHash(b))&(size-1))
	})
	return out
}

// slicesSortByValue sorts keys by the values they map to, then by key.
func slicesSortByValue(keys []string, order map[string]int64) {
	slices.SortFunc(keys, func(a, b string) int {
		switch oa, ob := order[a], order[b]; {
		case oa < ob:
			return -1
		case oa > ob:
			return 1
		}
		return strings.Compare(a, b)
	})
}
