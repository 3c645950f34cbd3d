package engine

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"
)

// checkTree verifies the tree against a model: every key present, order
// correct, counts right, and the version frozen earlier unchanged.
func checkTree(t *testing.T, tr Tree, model map[string]string) {
	t.Helper()
	if tr.Count() != len(model) {
		t.Fatalf("count %d, model %d", tr.Count(), len(model))
	}
	var bytes int64
	for p, d := range model {
		bytes += int64(len(p) + len(d))
	}
	if tr.DataSize() != bytes {
		t.Fatalf("data size %d, model %d", tr.DataSize(), bytes)
	}
	for p, d := range model {
		n, ok := tr.Get(p)
		if !ok || n.Data() != d {
			t.Fatalf("get %q: ok=%v node=%v want %q", p, ok, n, d)
		}
	}
	var prev string
	seen := 0
	tr.All(func(n *Node) bool {
		if seen > 0 {
			pp, pn := splitPath(prev)
			if compareNode(pp, pn, n) >= 0 {
				t.Fatalf("order: %q before %q", prev, n.Path())
			}
		}
		prev = n.Path()
		seen++
		return true
	})
	if seen != len(model) {
		t.Fatalf("iterated %d, model %d", seen, len(model))
	}
}

func TestTreeRandomAgainstModel(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	w := &treeWriter{}
	model := map[string]string{}
	type frozen struct {
		tr    Tree
		model map[string]string
	}
	var versions []frozen
	for step := 0; step < 40000; step++ {
		p := fmt.Sprintf("/d%d/n%d", rng.IntN(8), rng.IntN(3000))
		if rng.IntN(3) == 0 {
			_, inModel := model[p]
			if _, removed := w.remove(p); removed != inModel {
				t.Fatalf("remove %q disagreed with model", p)
			}
			delete(model, p)
		} else {
			d := fmt.Sprint(step * rng.IntN(1000))
			w.put(newNode(p, []byte(d)))
			model[p] = d
		}
		if step%5000 == 0 {
			versions = append(versions, frozen{w.freeze(), cloneMap(model)})
		}
	}
	checkTree(t, w.freeze(), model)
	for _, v := range versions {
		checkTree(t, v.tr, v.model)
	}
	// Drain everything: the tree must end empty.
	for p := range model {
		w.remove(p)
	}
	if tr := w.freeze(); tr.Count() != 0 || tr.root != nil {
		t.Fatalf("after removing all: count %d root %v", tr.Count(), tr.root)
	}
}

// TestTreeReplaceAtAgainstModel replaces znodes where find left them,
// fresh spots and stale ones (another key put or removed in between, in
// the same generation, so no page pointer tells them apart), in a tree
// several levels deep, and checks every version against a model.
func TestTreeReplaceAtAgainstModel(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	w := &treeWriter{}
	model := map[string]string{}
	key := func() string { return fmt.Sprintf("/d%d/n%d", rng.IntN(4), rng.IntN(5000)) }
	for range 12000 {
		p := key()
		w.put(newNode(p, []byte("x")))
		model[p] = "x"
	}
	if w.root.leaf() || w.root.kids[0].leaf() {
		t.Fatal("the tree should be at least three levels deep")
	}
	type frozen struct {
		tr    Tree
		model map[string]string
	}
	var versions []frozen
	fast := 0
	for step := range 30000 {
		p := key()
		_, at, ok := w.find(p)
		if _, inModel := model[p]; ok != inModel {
			t.Fatalf("find %q: %v, model %v", p, ok, inModel)
		}
		if !ok {
			continue
		}
		if rng.IntN(4) == 0 {
			// Something else changes first: the spot is stale.
			q := key()
			if rng.IntN(2) == 0 {
				w.put(newNode(q, []byte("y")))
				model[q] = "y"
			} else {
				w.remove(q)
				delete(model, q)
			}
			if q == p {
				continue
			}
		} else {
			fast++
		}
		d := fmt.Sprint(step)
		old := w.replaceAt(at, newNode(p, []byte(d)))
		if old.Path() != p || old.Data() != model[p] {
			t.Fatalf("replaceAt %q returned %q=%q, model %q", p, old.Path(), old.Data(), model[p])
		}
		model[p] = d
		if step%3000 == 0 {
			versions = append(versions, frozen{w.freeze(), cloneMap(model)})
		}
	}
	if fast < 10000 {
		t.Fatalf("only %d fresh spots", fast)
	}
	checkTree(t, w.freeze(), model)
	for _, v := range versions {
		checkTree(t, v.tr, v.model)
	}
}

func cloneMap(m map[string]string) map[string]string {
	c := make(map[string]string, len(m))
	for k, v := range m {
		c[k] = v
	}
	return c
}

func TestTreeChildrenAreTheContiguousSortedRange(t *testing.T) {
	w := &treeWriter{}
	paths := []string{"/", "/a", "/ab", "/a/x", "/a/b", "/a/b/c", "/a-", "/b", "/a/a"}
	for _, p := range paths {
		w.put(newNode(p, nil))
	}
	tr := w.freeze()
	kids := func(p string) []string {
		var out []string
		tr.Children(p, func(n *Node) bool { out = append(out, n.Path()); return true })
		return out
	}
	if got, want := kids("/"), []string{"/a", "/a-", "/ab", "/b"}; !slices.Equal(got, want) {
		t.Errorf("children of /: %q want %q", got, want)
	}
	if got, want := kids("/a"), []string{"/a/a", "/a/b", "/a/x"}; !slices.Equal(got, want) {
		t.Errorf("children of /a: %q want %q", got, want)
	}
	if got := kids("/b"); len(got) != 0 {
		t.Errorf("children of /b: %q", got)
	}
}

func TestTreeSequentialAppendsFillPages(t *testing.T) {
	w := &treeWriter{}
	for i := 0; i < 100000; i++ {
		w.put(newNode(fmt.Sprintf("/q/n%010d", i), nil))
	}
	tr := w.freeze()
	leaves, items := 0, 0
	var walk func(p *page)
	walk = func(p *page) {
		if p.leaf() {
			leaves++
			items += len(p.items)
			return
		}
		for _, k := range p.kids {
			walk(k)
		}
	}
	walk(tr.root)
	if fill := float64(items) / float64(leaves*maxLeaf); fill < 0.9 {
		t.Errorf("leaf fill after sequential appends %.2f, want >= 0.9", fill)
	}
}

// TestDataSizeCountsPathsAsJavaDoes: ZooKeeper's approximate data size
// adds each path's String.length (UTF-16 units) to its data's bytes.
func TestDataSizeCountsPathsAsJavaDoes(t *testing.T) {
	for _, c := range []struct {
		path string
		want int
	}{
		{"/plain", 6},
		{"/é", 2},          // two bytes in UTF-8, one unit in Java
		{"/\u200b", 2},     // three bytes, one unit
		{"/\U0001F600", 3}, // four bytes, a surrogate pair
	} {
		n := newNode(c.path, []byte("data"))
		if got := n.size(); got != int64(c.want+4) {
			t.Errorf("%q counts %d, want %d", c.path, got, c.want+4)
		}
	}
}
