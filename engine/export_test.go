package engine

import "testing"

// What the external tests (package engine_test, which may import
// enginetest) reach of the ACL table.

// CheckACLTable is checkACLTable.
func CheckACLTable(t testing.TB, s *State) { checkACLTable(t, s) }

// ACLRef returns n's ACL reference.
func ACLRef(n *Node) uint32 { return n.acl }

// ACLSlots returns the slots the table has ever used.
func ACLSlots(s *State) uint32 { return s.acls.n }

// PinACLs takes one more reference to every list in use that pinned does
// not hold yet, so that the table never frees it, and records it there.
func PinACLs(s *State, pinned map[uint32]bool) {
	for ref := range s.acls.n {
		if s.acls.get(ref) != nil && !pinned[ref] {
			s.acls.ref(ref)
			pinned[ref] = true
		}
	}
}
