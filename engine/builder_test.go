package engine

import (
	"fmt"
	"testing"
	"unsafe"
)

func unsafeString(b []byte) string { return unsafe.String(unsafe.SliceData(b), len(b)) }

// TestBuilderMatchesWriter builds a tree bottom up from znodes in tree
// order and checks it answers as the writer's does.
func TestBuilderMatchesWriter(t *testing.T) {
	w := &treeWriter{}
	b := &treeBuilder{}
	var nodes []Node
	for i := 0; i < 5000; i++ {
		nodes = append(nodes, newNode(fmt.Sprintf("/a%d/b%d", i%7, i), []byte("x")))
	}
	nodes = append(nodes, newNode("/", nil))
	for i := 0; i < 7; i++ {
		nodes = append(nodes, newNode(fmt.Sprintf("/a%d", i), nil))
	}
	for _, n := range nodes {
		w.put(n)
	}
	tw := w.freeze()
	tw.All(func(n *Node) bool {
		if !b.after(n) {
			t.Fatalf("not after: %s", n.Path())
		}
		b.add(*n)
		return true
	})
	tb := b.tree()
	if tb.Count() != tw.Count() || tb.DataSize() != tw.DataSize() {
		t.Fatalf("builder tree has %d znodes, %d bytes; writer's %d, %d", tb.Count(), tb.DataSize(), tw.Count(), tw.DataSize())
	}
	for _, n := range nodes {
		if got, ok := tb.Get(n.Path()); !ok || got.Path() != n.Path() {
			t.Fatalf("builder tree lost %s (ok=%v)", n.Path(), ok)
		}
	}
	var kids []string
	tb.Children("/a3", func(n *Node) bool { kids = append(kids, n.Path()); return true })
	var want []string
	tw.Children("/a3", func(n *Node) bool { want = append(want, n.Path()); return true })
	if fmt.Sprint(kids) != fmt.Sprint(want) {
		t.Fatalf("children differ: %d vs %d", len(kids), len(want))
	}
}

// TestNodesOwnTheirBytes: a node must not share memory with the path it was
// made from (a caller's scratch buffer) nor with an older node.
func TestNodesOwnTheirBytes(t *testing.T) {
	scratch := []byte("/scratch")
	alias := newNode(unsafeString(scratch), nil)
	scratch[1] = 'X'
	if alias.Path() != "/scratch" {
		t.Fatalf("node shares its caller's bytes: %q", alias.Path())
	}
	// A node whose data is emptied must not keep the older node's bytes
	// (its data included) alive through a substring of them.
	old := newNode("/p", []byte("old data"))
	for _, data := range [][]byte{nil, {}} {
		if n := old.withData(data); unsafe.StringData(n.kv) == unsafe.StringData(old.kv) {
			t.Fatalf("withData(%v) shares the older node's bytes", data)
		}
	}
}
