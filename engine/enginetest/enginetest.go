// Package enginetest holds helpers for the tests of the engine and of the
// packages that persist its state (checkpoint, snapshot): a deterministic
// stream of every kind of write, and a comparable image of a state.
package enginetest

import (
	"fmt"
	"math/rand/v2"

	"github.com/meerkat-zk/meerkat/engine"
	"github.com/meerkat-zk/meerkat/jute"
)

// RandomEntries makes a deterministic mix of n writes of every kind that
// the log carries (creates of every mode, deletes, setData, setACL with
// restrictive ACLs, multis of creates, setData, deletes and checks,
// container deletion, sessions opened and closed), over a small namespace
// so that many of them fail. Each carries Policy, the ExtendedTypes of
// which the TTL creates need. Creates and setACL take FewACLs.
func RandomEntries(seed uint64, n int, policy engine.Policy) []*engine.Entry {
	return RandomEntriesWith(seed, n, policy, FewACLs)
}

// FewACLs is the ACL list of RandomEntries' creates and setACL: open three
// times in four, else read-write for one of three ip addresses.
func FewACLs(rng *rand.Rand) []jute.ACL {
	if rng.IntN(4) == 0 {
		return []jute.ACL{{Perms: jute.PermRead | jute.PermWrite, ID: jute.ID{Scheme: "ip", ID: fmt.Sprintf("10.0.0.%d", rng.IntN(3))}}}
	}
	return engine.OpenACL
}

// ManyACLs picks one of 600 lists, for a digest user of 200: with every
// permission for everyone too, with all but ADMIN for everyone too, or for
// the user alone (which the anonymous writes of RandomEntriesWith cannot
// get past). Few znodes share a list, so the ACL table keeps freeing lists
// and reusing their slots.
func ManyACLs(rng *rand.Rand) []jute.ACL {
	user := jute.ACL{Perms: jute.PermAll, ID: jute.ID{Scheme: "digest", ID: fmt.Sprintf("u%d:h", rng.IntN(200))}}
	world := jute.ID{Scheme: "world", ID: "anyone"}
	switch rng.IntN(3) {
	case 0:
		return []jute.ACL{user, {Perms: jute.PermAll, ID: world}}
	case 1:
		return []jute.ACL{{Perms: jute.PermAll &^ jute.PermAdmin, ID: world}, user}
	}
	return []jute.ACL{user}
}

// RandomEntriesWith is RandomEntries with the ACL lists of creates and
// setACL chosen by acl (containers and TTL nodes stay open).
func RandomEntriesWith(seed uint64, n int, policy engine.Policy, acl func(*rand.Rand) []jute.ACL) []*engine.Entry {
	rng := rand.New(rand.NewPCG(seed, 7))
	sessions := []int64{101, 102, 103}
	path := func() string {
		p := "/n" + fmt.Sprint(rng.IntN(4))
		if rng.IntN(2) == 0 {
			p += "/c" + fmt.Sprint(rng.IntN(4))
		}
		return p
	}
	multiOp := func() []byte {
		var b []byte
		switch rng.IntN(4) {
		case 0:
			b = (&jute.MultiHeader{Type: jute.OpCreate, Err: -1}).Append(nil)
			b = append(b, (&jute.CreateRequest{Path: path(), Data: []byte("m"), ACL: acl(rng)}).AppendCreate(nil, false)...)
		case 1:
			b = (&jute.MultiHeader{Type: jute.OpSetData, Err: -1}).Append(nil)
			b = append(b, (&jute.SetDataRequest{Path: path(), Data: []byte("mv"), Version: -1}).Append(nil)...)
		case 2:
			b = (&jute.MultiHeader{Type: jute.OpDelete, Err: -1}).Append(nil)
			b = append(b, (&jute.PathVersionRequest{Path: path(), Version: -1}).Append(nil)...)
		default:
			b = (&jute.MultiHeader{Type: jute.OpCheck, Err: -1}).Append(nil)
			b = append(b, (&jute.PathVersionRequest{Path: path(), Version: int32(rng.IntN(2)) - 1}).Append(nil)...)
		}
		return b
	}
	var out []*engine.Entry
	for _, s := range sessions {
		out = append(out, &engine.Entry{Session: s, Op: jute.OpCreateSession, Body: jute.AppendInt(nil, 5000), Policy: policy})
	}
	for i := 0; i < n; i++ {
		e := &engine.Entry{Time: int64(1000 + i), Session: sessions[rng.IntN(len(sessions))], Policy: policy}
		switch rng.IntN(10) {
		case 0, 1:
			e.Op = jute.OpCreate
			if rng.IntN(2) == 0 {
				e.Op = jute.OpCreate2
			}
			e.Body = (&jute.CreateRequest{Path: path(), Data: []byte(fmt.Sprint(i)), ACL: acl(rng), Flags: int32(rng.IntN(4))}).AppendCreate(nil, false)
		case 2:
			e.Op = jute.OpCreateContainer
			e.Body = (&jute.CreateRequest{Path: path(), ACL: engine.OpenACL, Flags: 4}).AppendCreate(nil, false)
		case 3:
			e.Op = jute.OpCreateTTL
			e.Body = (&jute.CreateRequest{Path: path(), ACL: engine.OpenACL, Flags: 5, TTL: 100}).AppendCreate(nil, true)
		case 4:
			e.Op = jute.OpDelete
			e.Body = (&jute.PathVersionRequest{Path: path(), Version: -1}).Append(nil)
		case 5:
			e.Op = jute.OpSetData
			e.Body = (&jute.SetDataRequest{Path: path(), Data: []byte("v"), Version: -1}).Append(nil)
		case 6:
			e.Op = jute.OpSetACL
			e.Body = (&jute.SetACLRequest{Path: path(), ACL: acl(rng), Version: -1}).Append(nil)
		case 7, 8:
			e.Op = jute.OpMulti
			var b []byte
			for k := 0; k < 1+rng.IntN(3); k++ {
				b = append(b, multiOp()...)
			}
			e.Body = jute.AppendMultiEnd(b)
		case 9:
			if rng.IntN(3) == 0 {
				e.Op = jute.OpCloseSession
				id := int64(200 + i)
				out = append(out, &engine.Entry{Session: id, Op: jute.OpCreateSession, Body: jute.AppendInt(nil, 5000), Policy: policy})
				sessions[rng.IntN(len(sessions))] = id
			} else {
				e.Op = jute.OpDeleteContainer
				e.Body = []byte(path())
			}
		}
		out = append(out, e)
	}
	return out
}

// Image is everything of a state that must survive persisting it, in a
// form reflect.DeepEqual compares: each znode's stat, data and ACL, each
// session's timeout and ephemerals, the nodes waiting for the TTL and
// container sweep, and the zxid.
type Image struct {
	Nodes    map[string]jute.Stat
	Data     map[string]string
	ACLs     map[string][]jute.ACL
	Sessions map[int64]SessionImage
	Expiring map[string]bool
	Zxid     int64
}

// SessionImage is one session of an Image.
type SessionImage struct {
	Timeout    int32
	Ephemerals []string
}

// ImageOf returns the image of s; it publishes s's pending changes.
func ImageOf(s *engine.State) Image {
	v := s.Publish()
	img := Image{Nodes: map[string]jute.Stat{}, Data: map[string]string{}, ACLs: map[string][]jute.ACL{},
		Sessions: map[int64]SessionImage{}, Expiring: map[string]bool{}, Zxid: s.Zxid()}
	v.Tree.All(func(n *engine.Node) bool {
		img.Nodes[n.Path()] = n.Stat()
		img.Data[n.Path()] = n.Data()
		img.ACLs[n.Path()] = v.ACL(n)
		return true
	})
	for _, r := range s.SessionRecords() {
		ss, _ := s.Session(r.ID)
		img.Sessions[r.ID] = SessionImage{Timeout: r.Timeout, Ephemerals: ss.Ephemerals()}
	}
	s.Expiring(func(p string) { img.Expiring[p] = true })
	return img
}
