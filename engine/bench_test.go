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

// BenchmarkApplyCreateDelete measures a create and a delete through Apply,
// the writes that take and drop ACL references. acl=shared gives every node
// the same list; acl=distinct gives each of 1000 paths a list of its own,
// so every create interns a list that the delete before it may have freed.
// table=N holds N lists in use besides (one per other znode), so that the
// table's pages are three levels deep.
func BenchmarkApplyCreateDelete(b *testing.B) {
	const paths = 1000
	for _, tc := range []struct {
		table    int
		distinct bool
	}{{0, false}, {0, true}, {100_000, true}} {
		name := fmt.Sprintf("table=%d/acl=shared", tc.table+2)
		if tc.distinct {
			name = fmt.Sprintf("table=%d/acl=distinct", tc.table+2)
		}
		s := NewState()
		s.Apply(&Entry{Session: 1, Op: jute.OpCreateSession, Body: jute.AppendInt(nil, 30000)})
		for i := 0; i < tc.table; i++ {
			acl := []jute.ACL{{Perms: jute.PermAll, ID: jute.ID{Scheme: "digest", ID: fmt.Sprintf("t%d:x", i)}}}
			s.Apply(&Entry{Session: 1, Op: jute.OpCreate, Body: (&jute.CreateRequest{Path: fmt.Sprintf("/t%07d", i), ACL: acl}).AppendCreate(nil, false)})
		}
		var creates, deletes [][]byte
		for i := 0; i < paths; i++ {
			p := fmt.Sprintf("/n%07d", i)
			acl := OpenACL
			if tc.distinct {
				acl = []jute.ACL{{Perms: jute.PermAll, ID: jute.ID{Scheme: "digest", ID: DigestID(fmt.Sprintf("u%d:pw", i))}}}
			}
			creates = append(creates, (&jute.CreateRequest{Path: p, Data: make([]byte, 100), ACL: acl}).AppendCreate(nil, false))
			deletes = append(deletes, (&jute.PathVersionRequest{Path: p, Version: -1}).Append(nil))
		}
		s.Publish()
		b.Run(name, func(b *testing.B) {
			b.ReportAllocs()
			for i := 0; i < b.N; i++ {
				k := i % paths
				if r := s.Apply(&Entry{Session: 1, Op: jute.OpCreate, Body: creates[k]}); r.Err != jute.CodeOK {
					b.Fatal(r.Err)
				}
				if r := s.Apply(&Entry{Session: 1, Op: jute.OpDelete, Body: deletes[k]}); r.Err != jute.CodeOK {
					b.Fatal(r.Err)
				}
				if i%100 == 99 {
					s.Publish()
				}
			}
		})
	}
}

// BenchmarkViewGetData measures the read path, ACL check included, over
// tables of 2 lists (every node open) and of one list per node.
func BenchmarkViewGetData(b *testing.B) {
	const n = 100_000
	for _, distinct := range []bool{false, true} {
		name := "acls=2"
		if distinct {
			name = fmt.Sprintf("acls=%d", n+2)
		}
		s := NewState()
		s.Apply(&Entry{Session: 1, Op: jute.OpCreateSession, Body: jute.AppendInt(nil, 30000)})
		ids := []jute.ID{{Scheme: "ip", ID: "10.0.0.1"}}
		paths := make([]string, 0, n)
		for i := 0; i < n; i++ {
			p := fmt.Sprintf("/n%07d", i)
			acl := OpenACL
			if distinct {
				acl = []jute.ACL{{Perms: jute.PermRead, ID: jute.ID{Scheme: "digest", ID: fmt.Sprintf("u%d:x", i)}},
					{Perms: jute.PermRead, ID: jute.ID{Scheme: "world", ID: "anyone"}}}
			}
			s.Apply(&Entry{Session: 1, Op: jute.OpCreate, Body: (&jute.CreateRequest{Path: p, Data: make([]byte, 100), ACL: acl}).AppendCreate(nil, false)})
			paths = append(paths, p)
		}
		v := s.Publish()
		rng := rand.New(rand.NewPCG(3, n))
		out := make([]byte, 0, 512)
		b.Run(name, func(b *testing.B) {
			b.ReportAllocs()
			for i := 0; i < b.N; i++ {
				var c jute.Code
				if out, c = v.GetData(paths[rng.IntN(len(paths))], ids, false, out[:0]); c != jute.CodeOK {
					b.Fatal(c)
				}
			}
		})
	}
}
