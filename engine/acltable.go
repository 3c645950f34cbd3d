package engine

import (
	"fmt"

	"github.com/meerkat-zk/meerkat/jute"
)

// The ACL table interns ACL lists, as ZooKeeper's ReferenceCountedACLCache
// does: a znode holds a uint32 reference instead of its list (so it stays
// free of pointers but its kv string), equal lists share one entry, and an
// entry is freed when no znode refers to it any more.
//
// # Readers
//
// A View resolves its znodes' references through the slots as they were
// when it was published, for as long as it is held. The slots live in a
// persistent radix tree of pages (aclLists), copied on write by generation
// as the znode tree's pages are: Publish freezes the current pages, and the
// writer copies a frozen page before it changes a slot in it. A slot freed
// and then reused for another list is therefore changed only in the
// writer's copy; an older View keeps the page in which its znodes'
// references still name their own lists, and the garbage collector takes a
// freed list once no View holds a page with it. A write copies at most one
// page per level (64 slots each) and a batch copies each page once.
//
// # Counting
//
// Each slot counts the znodes of the writer's tree that refer to it. The
// counts follow the tree itself: State.putNode and State.removePath, which
// every change to the tree goes through (create, setACL, delete, the
// ephemerals of a closed session, the container and TTL sweep, reconfig,
// quotas), take the new znode's reference and drop the one of the znode it
// replaces or removes. A multi that fails puts its counts back from a
// journal, as it puts the tree back. A loaded image is counted afresh from
// its znodes (Loader.Finish).
//
// A slot whose count falls to zero is freed only when the entry being
// applied ends (collect): within an entry a list may lose its last znode
// and gain another (a multi that deletes and creates, a failed multi put
// back), and the events it fires still name the references of the znodes
// they are about.
//
// # Determinism
//
// The log carries ACL lists, never references; references leave the
// process only inside an image that carries its own table (a checkpoint, a
// snapshot, where a free slot is an empty list that Loader.Finish drops).
// Still, every replica and every replay gives a list the same reference,
// and an image restored goes on giving the references the state that wrote
// it would have given: a new list takes the lowest free slot, or a new one
// past the end when none is free, so which slot a list gets is a function
// of the entries applied, never of when versions were published or read.
// Between entries the free slots are exactly those no znode refers to, so a
// state loaded from an image, whose free slots are its gaps, chooses as the
// original would have. The table's size is the most lists in use at once.
//
// The table belongs to the apply goroutine; Views hold frozen aclLists.

// Slot tree geometry: 64 slots (or pages) a page.
const (
	aclPageBits = 6
	aclPageSize = 1 << aclPageBits
	aclPageMask = aclPageSize - 1
)

// maxACLRef bounds the references an image may hold: a node encodes its
// reference as a non-negative jute int.
const maxACLRef = 1<<31 - 1

// aclPage is a page of the slot tree: a leaf holds aclPageSize lists, an
// inner page aclPageSize pages (nil where no slot was ever used). Pages
// stamped with the table's current generation belong to the writer alone.
//
// A leaf also points to the counts of its slots, which only the writer
// reads: its copies share them, so counting never copies a page.
type aclPage struct {
	gen   uint64
	kids  []*aclPage
	lists [][]jute.ACL
	refs  *[aclPageSize]uint32
}

// aclLists is one version of the table's slots: slot i holds the list with
// reference i, nil when it is free (a list in use is never nil, even an
// empty one). A version that a View holds never changes.
type aclLists struct {
	root *aclPage
	// shift is the root's level times aclPageBits: 0 when it is a leaf.
	shift uint
	// n bounds the slots: every reference is below it, and a list that
	// finds no free slot takes slot n.
	n uint32
	// live is the number of slots in use.
	live int
}

// get returns the list in slot ref, nil when it is free.
func (l *aclLists) get(ref uint32) []jute.ACL {
	if ref >= l.n {
		return nil
	}
	p := l.root
	for sh := l.shift; sh > 0 && p != nil; sh -= aclPageBits {
		p = p.kids[ref>>sh&aclPageMask]
	}
	if p == nil {
		return nil
	}
	return p.lists[ref&aclPageMask]
}

// each calls fn for every slot in use, in order, skipping the pages that
// hold none.
func (l *aclLists) each(fn func(ref uint32, list []jute.ACL)) {
	var walk func(p *aclPage, base uint32, shift uint)
	walk = func(p *aclPage, base uint32, shift uint) {
		if shift == 0 {
			for i, list := range p.lists {
				if ref := base | uint32(i); list != nil && ref < l.n {
					fn(ref, list)
				}
			}
			return
		}
		for i, kid := range p.kids {
			if kid != nil {
				walk(kid, base|uint32(i)<<shift, shift-aclPageBits)
			}
		}
	}
	if l.root != nil {
		walk(l.root, 0, l.shift)
	}
}

// resolve returns the list in slot ref, which a znode refers to. A free
// slot there is a bug: failing open (a nil list allows everything) is not
// an option.
func (l *aclLists) resolve(ref uint32) []jute.ACL {
	if list := l.get(ref); list != nil {
		return list
	}
	panic(fmt.Sprintf("BUG: engine: a znode refers to the free ACL slot %d", ref))
}

// aclTable is the writer's ACL table: the slots being written (with their
// counts of znodes, in the leaves), the lists' index and the free slots.
type aclTable struct {
	aclLists
	// gen is the generation of pages written since the last freeze.
	gen uint64
	// index finds the slot of a list by its jute encoding.
	index map[string]uint32
	// The free slots below n are those in free, a min-heap of the slots
	// freed, and in gaps, the ranges an image skipped, in order.
	free []uint32
	gaps []aclGap
	// loaded are the slots an image filled, in order (until Finish).
	loaded []uint32
	// zero holds slots whose count fell to zero (or that were interned)
	// during the entry being applied: collect frees those still at zero.
	zero []uint32
	// journal records the count changes of a multi while journaling, so
	// that a failed multi can undo them.
	journal    []aclCount
	journaling bool
	// dirty holds the slots taken or freed since the last Delta.
	dirty map[uint32]struct{}
	// key is scratch space for encoding a list.
	key []byte
}

// aclGap is a range of free slots, lo included, hi not.
type aclGap struct{ lo, hi uint32 }

// aclCount is one journaled count change: up is an increment.
type aclCount struct {
	ref uint32
	up  bool
}

// newACLTable returns an empty table.
func newACLTable() *aclTable {
	return &aclTable{index: map[string]uint32{}, dirty: map[uint32]struct{}{}}
}

// freeze returns the current slots and makes every page reachable from
// them immutable, by moving the table to a new generation.
func (t *aclTable) freeze() aclLists {
	t.gen++
	return t.aclLists
}

// own returns p if the writer may change it in place, else a copy of it
// that it may.
func (t *aclTable) own(p *aclPage) *aclPage {
	if p.gen == t.gen {
		return p
	}
	c := &aclPage{gen: t.gen, refs: p.refs}
	if p.kids != nil {
		c.kids = append(make([]*aclPage, 0, aclPageSize), p.kids...)
	} else {
		c.lists = append(make([][]jute.ACL, 0, aclPageSize), p.lists...)
	}
	return c
}

// newPage returns an empty page of the writer's generation.
func (t *aclTable) newPage(leaf bool) *aclPage {
	if leaf {
		return &aclPage{gen: t.gen, lists: make([][]jute.ACL, aclPageSize), refs: new([aclPageSize]uint32)}
	}
	return &aclPage{gen: t.gen, kids: make([]*aclPage, aclPageSize)}
}

// set puts list into slot ref, copying the pages on its way that a
// published version may hold. It does not move n.
func (t *aclTable) set(ref uint32, list []jute.ACL) {
	if t.root == nil {
		t.root = t.newPage(true)
	}
	for uint64(ref) >= aclPageSize<<t.shift {
		up := t.newPage(false)
		up.kids[0] = t.root
		t.root = up
		t.shift += aclPageBits
	}
	t.root = t.own(t.root)
	p := t.root
	for sh := t.shift; sh > 0; sh -= aclPageBits {
		k := ref >> sh & aclPageMask
		kid := p.kids[k]
		if kid == nil {
			kid = t.newPage(sh == aclPageBits)
		} else {
			kid = t.own(kid)
		}
		p.kids[k] = kid
		p = kid
	}
	p.lists[ref&aclPageMask] = list
}

// intern returns the reference of acls, taking a slot for it when it is
// new. A new slot counts no znode: the caller puts one that refers to it,
// or collect frees it again.
func (t *aclTable) intern(acls []jute.ACL) uint32 {
	t.key = jute.AppendACLs(t.key[:0], acls)
	if ref, ok := t.index[string(t.key)]; ok {
		return ref
	}
	ref, ok := t.takeFree()
	if !ok {
		ref = t.n
		t.n++
	}
	t.set(ref, append(make([]jute.ACL, 0, len(acls)), acls...))
	t.index[string(t.key)] = ref
	t.live++
	t.zero = append(t.zero, ref)
	t.dirty[ref] = struct{}{}
	return ref
}

// counter returns the count of slot ref, which has been used.
func (t *aclTable) counter(ref uint32) *uint32 {
	p := t.root
	for sh := t.shift; sh > 0; sh -= aclPageBits {
		p = p.kids[ref>>sh&aclPageMask]
	}
	return &p.refs[ref&aclPageMask]
}

// count returns the number of znodes that refer to slot ref.
func (t *aclTable) count(ref uint32) uint32 {
	if t.get(ref) == nil {
		return 0
	}
	return *t.counter(ref)
}

// ref counts one more znode referring to slot ref, which is in use.
func (t *aclTable) ref(ref uint32) {
	*t.counter(ref)++
	if t.journaling {
		t.journal = append(t.journal, aclCount{ref: ref, up: true})
	}
}

// unref counts one znode less referring to slot ref.
func (t *aclTable) unref(ref uint32) {
	c := t.counter(ref)
	if *c == 0 {
		panic(fmt.Sprintf("BUG: engine: ACL reference %d dropped more often than taken", ref))
	}
	*c--
	if *c == 0 {
		t.zero = append(t.zero, ref)
	}
	if t.journaling {
		t.journal = append(t.journal, aclCount{ref: ref})
	}
}

// startJournal records the count changes from here on (a multi starts).
func (t *aclTable) startJournal() {
	t.journaling = true
	t.journal = t.journal[:0]
}

// undoJournal puts back the counts changed since startJournal (a multi
// failed) and stops journaling. Slots it leaves at zero go at collect.
func (t *aclTable) undoJournal() {
	for i := len(t.journal) - 1; i >= 0; i-- {
		c := t.journal[i]
		n := t.counter(c.ref)
		if c.up {
			*n--
			if *n == 0 {
				t.zero = append(t.zero, c.ref)
			}
		} else {
			*n++
		}
	}
	t.stopJournal()
}

// stopJournal stops journaling (a multi ended).
func (t *aclTable) stopJournal() {
	t.journaling = false
	t.journal = t.journal[:0]
}

// collect frees the slots that no znode refers to at the end of an entry.
func (t *aclTable) collect() {
	for _, ref := range t.zero {
		if t.count(ref) == 0 && t.get(ref) != nil {
			t.release(ref)
		}
	}
	t.zero = t.zero[:0]
}

// release frees slot ref.
func (t *aclTable) release(ref uint32) {
	t.key = jute.AppendACLs(t.key[:0], t.get(ref))
	// An image may hold a list twice; the index names the first.
	if r, ok := t.index[string(t.key)]; ok && r == ref {
		delete(t.index, string(t.key))
	}
	t.set(ref, nil)
	t.live--
	t.pushFree(ref)
	t.dirty[ref] = struct{}{}
}

// pushFree adds ref to the free heap.
func (t *aclTable) pushFree(ref uint32) {
	h := append(t.free, ref)
	for i := len(h) - 1; i > 0; {
		up := (i - 1) / 2
		if h[up] <= h[i] {
			break
		}
		h[up], h[i] = h[i], h[up]
		i = up
	}
	t.free = h
}

// takeFree takes the lowest free slot, if there is one.
func (t *aclTable) takeFree() (uint32, bool) {
	switch {
	case len(t.free) > 0 && (len(t.gaps) == 0 || t.free[0] < t.gaps[0].lo):
		return t.popFree(), true
	case len(t.gaps) > 0:
		g := &t.gaps[0]
		ref := g.lo
		if g.lo++; g.lo == g.hi {
			t.gaps = t.gaps[1:]
		}
		return ref, true
	}
	return 0, false
}

// popFree takes the lowest free slot off the heap.
func (t *aclTable) popFree() uint32 {
	h := t.free
	ref := h[0]
	last := len(h) - 1
	h[0] = h[last]
	h = h[:last]
	for i := 0; ; {
		least := i
		if l := 2*i + 1; l < len(h) && h[l] < h[least] {
			least = l
		}
		if r := 2*i + 2; r < len(h) && h[r] < h[least] {
			least = r
		}
		if least == i {
			break
		}
		h[i], h[least] = h[least], h[i]
		i = least
	}
	t.free = h
	return ref
}

// load puts list, read from an image, into slot ref; references come in
// increasing order, and the slots they skip are free.
func (t *aclTable) load(ref uint32, list []jute.ACL) error {
	if ref < t.n || ref > maxACLRef {
		return fmt.Errorf("engine: ACL reference %d out of order or out of range", ref)
	}
	t.set(ref, append(make([]jute.ACL, 0, len(list)), list...))
	t.loaded = append(t.loaded, ref)
	t.n = ref + 1
	t.live++
	return nil
}

// recount sets the counts from the znodes of tree and frees the slots none
// of them refers to, marked dirty so that the next checkpoint deletes them
// (images written before the table freed anything hold every list ever
// used). It then ends the table past its last slot in use, as the free
// slots past it are as good as new ones, and rebuilds the index and the
// free slots. It fails when a znode refers to a free slot. Its memory is
// proportional to the image's records, not to its highest reference.
func (t *aclTable) recount(tree Tree) error {
	var err error
	tree.All(func(n *Node) bool {
		if t.get(n.acl) == nil {
			err = fmt.Errorf("engine: node %s refers to missing ACL %d", n.Path(), n.acl)
			return false
		}
		*t.counter(n.acl)++
		return true
	})
	if err != nil {
		return err
	}
	clear(t.index)
	t.free, t.gaps = t.free[:0], t.gaps[:0]
	end := uint32(0)
	for _, ref := range t.loaded {
		if t.count(ref) == 0 {
			t.set(ref, nil)
			t.live--
			t.dirty[ref] = struct{}{}
			continue
		}
		if ref > end {
			t.gaps = append(t.gaps, aclGap{lo: end, hi: ref})
		}
		end = ref + 1
		t.key = jute.AppendACLs(t.key[:0], t.get(ref))
		if _, dup := t.index[string(t.key)]; !dup {
			t.index[string(t.key)] = ref
		}
	}
	t.n, t.loaded = end, nil
	return nil
}
