package engine

import "strings"

// Page sizes of the B+tree. A leaf copy on write moves at most
// maxLeaf*sizeof(Node) bytes (3 KiB); an inner copy maxInner pointers. 32
// measured better than 64 on lookups and updates alike (BenchmarkTreeGet,
// BenchmarkTreeUpdate), with a third less copied per write.
const (
	maxLeaf  = 32
	maxInner = 64
)

// Tree is one immutable version of the znode tree. It is a persistent B+tree
// ordered by (parent path, child name), so that a lookup by full path is one
// descent and the children of a node are one contiguous, sorted range. A Tree
// value is safe for concurrent readers and never changes; writers derive new
// versions through a treeWriter.
type Tree struct {
	root  *page
	count int
	// bytes is the sum of the znodes' path and data lengths.
	bytes int64
}

// page is a B+tree node. Leaves hold znodes inline (no pointer per znode);
// inner pages hold children and, for i >= 1, keys[i] is a lower bound of
// kids[i] and greater than everything in kids[i-1]. keys[0] is unused.
type page struct {
	gen   uint64
	items []Node
	kids  []*page
	keys  []sepKey
}

// sepKey is an inner page's separator: a path with where its name starts.
type sepKey struct {
	path    string
	nameOff uint32
}

func sepOf(n *Node) sepKey { return sepKey{path: n.Path(), nameOff: n.nameOff} }

// compare orders the key (parent, name) against the separator.
func (k sepKey) compare(parent, name string) int {
	var kp string
	if k.nameOff > 0 {
		kp = k.path[:k.nameOff-1]
	}
	if c := strings.Compare(parent, kp); c != 0 {
		return c
	}
	return strings.Compare(name, k.path[k.nameOff:])
}

func (p *page) leaf() bool { return p.kids == nil }

// Count returns the number of znodes.
func (t Tree) Count() int { return t.count }

// DataSize returns the sum of the znodes' path and data lengths, as
// ZooKeeper's approximate_data_size counts them.
func (t Tree) DataSize() int64 { return t.bytes }

// splitPath splits a path into its parent and its name so that the pair
// sorts as the tree orders it: "/" is ("", ""), "/a" is ("", "a"), "/a/b" is
// ("/a", "b"). A path without a slash is its own name under parent "".
func splitPath(p string) (parent, name string) {
	i := strings.LastIndexByte(p, '/')
	if i < 0 {
		return "", p
	}
	return p[:i], p[i+1:]
}

// compareNode orders the key (parent, name) against the znode n. Nodes
// know where their name starts, so this is two memory compares.
func compareNode(parent, name string, n *Node) int {
	if c := strings.Compare(parent, n.parent()); c != 0 {
		return c
	}
	return strings.Compare(name, n.Name())
}

// searchItems returns the index of the first item not less than the key and
// whether it equals the key.
func searchItems(items []Node, parent, name string) (int, bool) {
	lo, hi := 0, len(items)
	for lo < hi {
		m := int(uint(lo+hi) >> 1)
		if compareNode(parent, name, &items[m]) > 0 {
			lo = m + 1
		} else {
			hi = m
		}
	}
	return lo, lo < len(items) && compareNode(parent, name, &items[lo]) == 0
}

// searchKids returns the index of the child page that may hold the key.
func searchKids(p *page, parent, name string) int {
	lo, hi := 1, len(p.keys)
	for lo < hi {
		m := int(uint(lo+hi) >> 1)
		if p.keys[m].compare(parent, name) >= 0 {
			lo = m + 1
		} else {
			hi = m
		}
	}
	return lo - 1
}

// Get returns the znode at path. For a published Tree the pointer stays
// valid, and the znode unchanged, for as long as the caller holds the Tree.
// (A treeWriter's own unpublished pages change in place: copy the Node
// before the next put or remove.)
func (t Tree) Get(path string) (*Node, bool) { return t.locate(path, nil) }

// maxSpotDepth bounds the inner pages a spot records: at the fewest
// children a split leaves, 12 levels hold far more znodes than memory.
const maxSpotDepth = 12

// spot is where a znode sits in a writer's current version: the child
// taken at each inner page from the root down, then the item in the leaf.
// It holds while the writer makes no other edit (edit counts them); found
// is false when nothing was recorded.
type spot struct {
	kids  [maxSpotDepth]int
	depth int
	item  int
	edit  uint64
	found bool
}

// locate is Get that also records in at, unless at is nil, where the
// znode sits, so that a writer can replace it without searching again
// (treeWriter.replaceAt).
func (t Tree) locate(path string, at *spot) (*Node, bool) {
	parent, name := splitPath(path)
	p := t.root
	if p == nil {
		return nil, false
	}
	depth := 0
	for ; !p.leaf(); depth++ {
		k := searchKids(p, parent, name)
		if at != nil && depth < maxSpotDepth {
			at.kids[depth] = k
		}
		p = p.kids[k]
	}
	i, ok := searchItems(p.items, parent, name)
	if !ok {
		return nil, false
	}
	if at != nil {
		at.depth, at.item, at.found = depth, i, depth <= maxSpotDepth
	}
	return &p.items[i], true
}

// childParent returns the parent string under which path's children are
// stored: "/" keeps its children under "".
func childParent(path string) string {
	if path == "/" {
		return ""
	}
	return path
}

// Children calls fn for each child of path in name order until fn returns
// false. The root is not its own child.
func (t Tree) Children(path string, fn func(*Node) bool) {
	if t.root == nil {
		return
	}
	parent := childParent(path)
	// Under parent "" the root itself sorts first with name ""; start after it.
	ascend(t.root, parent, "\x00", func(n *Node) bool {
		if n.parent() != parent {
			return false
		}
		return fn(n)
	})
}

// ascend visits, in order, every item not less than (parent, name).
func ascend(p *page, parent, name string, fn func(*Node) bool) bool {
	if p.leaf() {
		i, _ := searchItems(p.items, parent, name)
		for ; i < len(p.items); i++ {
			if !fn(&p.items[i]) {
				return false
			}
		}
		return true
	}
	for i := searchKids(p, parent, name); i < len(p.kids); i++ {
		if !ascend(p.kids[i], parent, name, fn) {
			return false
		}
	}
	return true
}

// Descendants calls fn for every znode below path (not path itself), each
// parent before its children.
func (t Tree) Descendants(path string, fn func(*Node)) {
	t.Children(path, func(k *Node) bool {
		fn(k)
		if k.NumChildren > 0 {
			t.Descendants(k.Path(), fn)
		}
		return true
	})
}

// All calls fn for every znode in tree order until fn returns false.
func (t Tree) All(fn func(*Node) bool) {
	if t.root != nil {
		ascend(t.root, "", "", fn)
	}
}

// treeBuilder builds a tree from znodes that come in tree order (a
// checkpoint's or a snapshot's), bottom up, in linear time: full leaves,
// then each level of inner pages over the one below.
type treeBuilder struct {
	leaves []*page
	count  int
	bytes  int64
}

// add appends n, which must sort after everything added before (after
// reports whether it does).
func (b *treeBuilder) add(n Node) {
	if len(b.leaves) == 0 || len(b.leaves[len(b.leaves)-1].items) == maxLeaf {
		b.leaves = append(b.leaves, &page{items: make([]Node, 0, maxLeaf)})
	}
	last := b.leaves[len(b.leaves)-1]
	last.items = append(last.items, n)
	b.count++
	b.bytes += n.size()
}

// after reports whether n sorts after the last znode added.
func (b *treeBuilder) after(n *Node) bool {
	if len(b.leaves) == 0 {
		return true
	}
	items := b.leaves[len(b.leaves)-1].items
	last := &items[len(items)-1]
	return compareNode(n.parent(), n.Name(), last) > 0
}

// tree returns the built tree.
func (b *treeBuilder) tree() Tree {
	if len(b.leaves) == 0 {
		return Tree{}
	}
	level := b.leaves
	mins := make([]sepKey, len(level))
	for i, p := range level {
		p.items = p.items[:len(p.items):len(p.items)]
		mins[i] = sepOf(&p.items[0])
	}
	for len(level) > 1 {
		var up []*page
		var upMins []sepKey
		for i := 0; i < len(level); i += maxInner {
			j := min(i+maxInner, len(level))
			p := &page{kids: append([]*page(nil), level[i:j]...), keys: append([]sepKey(nil), mins[i:j]...)}
			p.keys[0] = sepKey{}
			up = append(up, p)
			upMins = append(upMins, mins[i])
		}
		level, mins = up, upMins
	}
	return Tree{root: level[0], count: b.count, bytes: b.bytes}
}

// treeWriter derives new tree versions. Pages stamped with its current
// generation were made by it since the last freeze and are mutated in place;
// any other page is copied first. That makes a batch of writes copy each
// touched page once instead of once per write. It is owned by one goroutine.
type treeWriter struct {
	// Tree is the version being written.
	Tree
	gen uint64
	// edits counts the changes made to it, so that a spot knows when it
	// is stale.
	edits uint64
}

// freeze returns the current version and makes every page reachable from it
// immutable, by moving the writer to a new generation.
func (w *treeWriter) freeze() Tree {
	w.gen++
	return w.Tree
}

// current returns the version being written, without freezing it: its
// pages may still change in place, so use it before the next put or remove.
func (w *treeWriter) current() Tree { return w.Tree }

// restore makes t the writer's current version; it must come from freeze
// or a treeBuilder.
func (w *treeWriter) restore(t Tree) {
	w.edits++
	w.Tree = t
	w.gen++
}

// growItems extends a leaf's items by one, growing the array by a small
// step rather than append's doubling, which would leave up to half of a
// page's memory unused.
func growItems(items []Node) []Node {
	if len(items) < cap(items) {
		return items[:len(items)+1]
	}
	step := min(max(len(items)/8, 1), 8)
	grown := make([]Node, len(items)+1, len(items)+step)
	copy(grown, items)
	return grown
}

func (w *treeWriter) own(p *page) *page {
	if p.gen == w.gen {
		return p
	}
	c := &page{gen: w.gen}
	if p.leaf() {
		c.items = make([]Node, len(p.items), len(p.items)+1)
		copy(c.items, p.items)
	} else {
		c.kids = make([]*page, len(p.kids), len(p.kids)+1)
		copy(c.kids, p.kids)
		c.keys = make([]sepKey, len(p.keys), len(p.keys)+1)
		copy(c.keys, p.keys)
	}
	return c
}

// put inserts n or replaces the znode with the same path, which it returns
// (replaced is false when there was none).
func (w *treeWriter) put(n Node) (old Node, replaced bool) {
	w.edits++
	parent, name := splitPath(n.Path())
	if w.root == nil {
		w.root = &page{gen: w.gen, items: []Node{n}}
		w.count, w.bytes = 1, n.size()
		return Node{}, false
	}
	w.root = w.own(w.root)
	right, sep, added := w.insert(w.root, parent, name, n, &old)
	if added {
		w.count++
	}
	if right != nil {
		w.root = &page{gen: w.gen, kids: []*page{w.root, right}, keys: []sepKey{{}, sep}}
	}
	return old, !added
}

// find returns the znode at path in the writer's current version and
// where it sits, for replaceAt.
func (w *treeWriter) find(path string) (*Node, spot, bool) {
	at := spot{edit: w.edits}
	n, ok := w.Tree.locate(path, &at)
	return n, at, ok
}

// replaceAt replaces the znode at (from find) with n, which has its path,
// and returns the old one. It copies the pages on the way as put does,
// without searching again; a spot older than the writer's last edit falls
// back to put.
func (w *treeWriter) replaceAt(at spot, n Node) (old Node) {
	if !at.found || at.edit != w.edits {
		old, _ = w.put(n)
		return old
	}
	w.edits++
	w.root = w.own(w.root)
	p := w.root
	for _, k := range at.kids[:at.depth] {
		kid := w.own(p.kids[k])
		p.kids[k] = kid
		p = kid
	}
	old = p.items[at.item]
	w.bytes += n.size() - old.size()
	p.items[at.item] = n
	return old
}

// insert puts n into the owned page p, copying the znode it replaces to
// old. When p overflows it splits, returning the new right sibling and its
// lower-bound key.
func (w *treeWriter) insert(p *page, parent, name string, n Node, old *Node) (*page, sepKey, bool) {
	if p.leaf() {
		i, found := searchItems(p.items, parent, name)
		if found {
			w.bytes += n.size() - p.items[i].size()
			*old = p.items[i]
			p.items[i] = n
			return nil, sepKey{}, false
		}
		w.bytes += n.size()
		p.items = growItems(p.items)
		copy(p.items[i+1:], p.items[i:])
		p.items[i] = n
		if len(p.items) <= maxLeaf {
			return nil, sepKey{}, true
		}
		// Appends at the right edge (sequential names) leave the left page
		// full rather than half empty.
		cut := len(p.items) / 2
		if i == len(p.items)-1 {
			cut = len(p.items) - 1
		}
		// Both halves get arrays of their own size: leaves are most of the
		// memory, and slack in a frozen page stays until it is copied again.
		right := &page{gen: w.gen, items: append(make([]Node, 0, len(p.items)-cut), p.items[cut:]...)}
		p.items = append(make([]Node, 0, cut), p.items[:cut]...)
		return right, sepOf(&right.items[0]), true
	}
	k := searchKids(p, parent, name)
	kid := w.own(p.kids[k])
	p.kids[k] = kid
	right, sep, added := w.insert(kid, parent, name, n, old)
	if right == nil {
		return nil, sepKey{}, added
	}
	p.kids = append(p.kids, nil)
	copy(p.kids[k+2:], p.kids[k+1:])
	p.kids[k+1] = right
	p.keys = append(p.keys, sepKey{})
	copy(p.keys[k+2:], p.keys[k+1:])
	p.keys[k+1] = sep
	if len(p.kids) <= maxInner {
		return nil, sepKey{}, added
	}
	cut := len(p.kids) / 2
	if k+1 == len(p.kids)-1 {
		cut = len(p.kids) - 1
	}
	r := &page{
		gen:  w.gen,
		kids: append(make([]*page, 0, maxInner), p.kids[cut:]...),
		keys: append(make([]sepKey, 0, maxInner), p.keys[cut:]...),
	}
	rsep := r.keys[0]
	r.keys[0] = sepKey{}
	clear(p.kids[cut:])
	p.kids = p.kids[:cut:cut]
	p.keys = p.keys[:cut:cut]
	return r, rsep, added
}

// remove deletes the znode at path and returns it (ok is false when it was
// not there).
func (w *treeWriter) remove(path string) (old Node, ok bool) {
	w.edits++
	if w.root == nil {
		return Node{}, false
	}
	parent, name := splitPath(path)
	n, ok := w.current().Get(path)
	if !ok {
		return Node{}, false
	}
	old = *n
	w.bytes -= n.size()
	w.root = w.own(w.root)
	w.delete(w.root, parent, name)
	w.count--
	// Collapse a root with a single child, and an empty root leaf.
	for !w.root.leaf() && len(w.root.kids) == 1 {
		w.root = w.root.kids[0]
	}
	if w.root.leaf() && len(w.root.items) == 0 {
		w.root = nil
	}
	return old, true
}

// delete removes the key, known to exist, from the owned page p.
func (w *treeWriter) delete(p *page, parent, name string) {
	if p.leaf() {
		i, _ := searchItems(p.items, parent, name)
		copy(p.items[i:], p.items[i+1:])
		p.items[len(p.items)-1] = Node{}
		p.items = p.items[:len(p.items)-1]
		return
	}
	k := searchKids(p, parent, name)
	kid := w.own(p.kids[k])
	p.kids[k] = kid
	w.delete(kid, parent, name)
	w.rebalance(p, k)
}

// rebalance merges the child at k with a neighbour when both fit in one
// page, and drops it when it is empty, so deletes do not leave the tree full
// of near-empty pages. Lower bounds stay valid when items are removed, so no
// key needs fixing otherwise.
func (w *treeWriter) rebalance(p *page, k int) {
	kid := p.kids[k]
	size := func(q *page) int {
		if q.leaf() {
			return len(q.items)
		}
		return len(q.kids)
	}
	if size(kid) == 0 {
		p.kids = append(p.kids[:k], p.kids[k+1:]...)
		p.keys = append(p.keys[:k], p.keys[k+1:]...)
		if k == 0 && len(p.keys) > 0 {
			p.keys[0] = sepKey{}
		}
		return
	}
	limit := maxLeaf
	if !kid.leaf() {
		limit = maxInner
	}
	if size(kid) > limit/4 {
		return
	}
	l := k - 1
	if l < 0 {
		l = k
		k++
	}
	if k >= len(p.kids) || size(p.kids[l])+size(p.kids[k]) > limit*3/4 {
		return
	}
	left := w.own(p.kids[l])
	right := p.kids[k]
	if left.leaf() {
		left.items = append(left.items, right.items...)
	} else {
		left.keys = append(left.keys, p.keys[k])
		left.keys = append(left.keys, right.keys[1:]...)
		left.kids = append(left.kids, right.kids...)
	}
	p.kids[l] = left
	p.kids = append(p.kids[:k], p.kids[k+1:]...)
	p.keys = append(p.keys[:k], p.keys[k+1:]...)
}
