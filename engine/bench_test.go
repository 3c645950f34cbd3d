package engine

import (
	"fmt"
	"math/rand/v2"
	"testing"

	"github.com/meerkat-zk/meerkat/jute"
)

var benchSizes = []int{1_000, 10_000, 100_000, 1_000_000}

// benchTree builds a tree of n znodes shaped like big-data metadata: 100
// parents under /app with n/100 children each, 100 bytes of data apiece.
func benchTree(n int) (*treeWriter, []string) {
	w := &treeWriter{}
	w.put(newNode("/", nil))
	w.put(newNode("/app", nil))
	data := make([]byte, 100)
	paths := make([]string, 0, n)
	for g := 0; g < 100; g++ {
		w.put(newNode(fmt.Sprintf("/app/g%03d", g), nil))
	}
	for i := 0; i < n; i++ {
		p := fmt.Sprintf("/app/g%03d/n%08d", i%100, i)
		w.put(newNode(p, data))
		paths = append(paths, p)
	}
	return w, paths
}

func BenchmarkTreeGet(b *testing.B) {
	for _, n := range benchSizes {
		w, paths := benchTree(n)
		tr := w.freeze()
		rng := rand.New(rand.NewPCG(1, uint64(n)))
		b.Run(fmt.Sprintf("nodes=%d", n), func(b *testing.B) {
			b.ReportAllocs()
			for i := 0; i < b.N; i++ {
				if _, ok := tr.Get(paths[rng.IntN(len(paths))]); !ok {
					b.Fatal("missing")
				}
			}
		})
	}
}

// BenchmarkTreeUpdate replaces one znode per op. batch=1 freezes after every
// write (each write copies its path of pages); batch=100 freezes every 100
// writes, as the pipeline does under load.
func BenchmarkTreeUpdate(b *testing.B) {
	for _, n := range benchSizes {
		for _, batch := range []int{1, 100} {
			w, paths := benchTree(n)
			w.freeze()
			rng := rand.New(rand.NewPCG(2, uint64(n)))
			data := make([]byte, 100)
			b.Run(fmt.Sprintf("nodes=%d/batch=%d", n, batch), func(b *testing.B) {
				b.ReportAllocs()
				for i := 0; i < b.N; i++ {
					p := paths[rng.IntN(len(paths))]
					old, _ := (Tree{root: w.root}).Get(p)
					w.put(old.withData(data))
					if i%batch == 0 {
						w.freeze()
					}
				}
			})
		}
	}
}

// BenchmarkApplySetData measures a whole setData through Apply: decode,
// checks, copy-on-write update, event.
func BenchmarkApplySetData(b *testing.B) {
	for _, n := range []int{1_000, 100_000} {
		s := NewState()
		s.Apply(&Entry{Session: 1, Op: jute.OpCreateSession, Body: jute.AppendInt(nil, 30000)})
		var bodies [][]byte
		for i := 0; i < n; i++ {
			p := fmt.Sprintf("/n%07d", i)
			s.Apply(&Entry{Session: 1, Op: jute.OpCreate, Body: (&jute.CreateRequest{Path: p, ACL: OpenACL}).AppendCreate(nil, false)})
			bodies = append(bodies, (&jute.SetDataRequest{Path: p, Data: make([]byte, 100), Version: -1}).Append(nil))
		}
		s.Publish()
		b.Run(fmt.Sprintf("nodes=%d", n), func(b *testing.B) {
			b.ReportAllocs()
			for i := 0; i < b.N; i++ {
				s.Apply(&Entry{Session: 1, Op: jute.OpSetData, Body: bodies[i%len(bodies)]})
				if i%100 == 99 {
					s.Publish()
				}
			}
		})
	}
}
