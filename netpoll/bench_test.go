package netpoll

import (
	"fmt"
	"testing"
	"time"

	"github.com/meerkat-zk/meerkat/engine"
	"github.com/meerkat-zk/meerkat/jute"
	"github.com/meerkat-zk/meerkat/pipeline"
)

// countDone is a Completer that signals each completed batch.
type countDone chan int

func (c countDone) Complete(reqs []*pipeline.Request) { c <- len(reqs) }

// loadedPipeline returns a running pipeline holding n znodes /n0000000..
// with 100 bytes each.
func loadedPipeline(b testing.TB, n int) *pipeline.Pipeline {
	pipe, err := pipeline.New(pipeline.Config{ServerID: 1, Tick: time.Second}, nil)
	if err != nil {
		b.Fatal(err)
	}
	pipe.Start()
	b.Cleanup(pipe.Stop)
	// Room for every completion (each batch holds at least one request):
	// the pipeline must never block on it while Submit blocks on a full
	// queue, or the two wait on each other.
	done := make(countDone, n+1)
	submit := func(r *pipeline.Request) {
		r.From = done
		if err := pipe.Submit(r); err != nil {
			b.Fatal(err)
		}
	}
	submit(&pipeline.Request{Kind: pipeline.KindCreateSession, Timeout: 30000})
	<-done
	data := make([]byte, 100)
	for i := 0; i < n; i++ {
		body := (&jute.CreateRequest{Path: fmt.Sprintf("/n%07d", i), Data: data, ACL: engine.OpenACL}).AppendCreate(nil, false)
		submit(&pipeline.Request{Kind: pipeline.KindWrite, Entry: engine.Entry{Op: jute.OpCreate, Body: body}})
	}
	for got := 0; got < n; got += <-done {
	}
	return pipe
}

// readPath returns one step of the read path without the socket over a
// pipeline of n znodes: decode a getData request, look the node up in the
// current View, encode the reply frame into the connection's output buffer,
// then reset the buffer as flush does after the write syscall.
func readPath(tb testing.TB, n int) func(i int) {
	pipe := loadedPipeline(tb, n)
	srv := &Server{cfg: Config{MaxBuffer: jute.DefaultMaxBuffer}, pipe: pipe}
	l := newLoop(srv, nil)
	cn := &conn{loop: l, state: stateOpen}
	reqs := make([][]byte, 64)
	for i := range reqs {
		reqs[i] = (&jute.PathWatchRequest{Path: fmt.Sprintf("/n%07d", (i*7919)%n)}).Append(nil)
	}
	l.now = time.Now()
	return func(i int) {
		cn.answer(int32(i), jute.OpGetData, reqs[i%len(reqs)], nil, l.now)
		if len(cn.out) == 0 {
			tb.Fatal("getData wrote no reply")
		}
		cn.out = cn.out[:0]
		cn.dirty = false
		l.dirty = l.dirty[:0]
	}
}

// BenchmarkReadPathGetData measures the read path; see readPath.
func BenchmarkReadPathGetData(b *testing.B) {
	for _, n := range []int{1_000, 100_000} {
		step := readPath(b, n)
		b.Run(fmt.Sprintf("nodes=%d", n), func(b *testing.B) {
			b.ReportAllocs()
			for i := 0; i < b.N; i++ {
				step(i)
			}
		})
	}
}

// TestReadPathGetDataDoesNotAllocate holds the read path to zero
// allocations per request once the output buffer has grown.
func TestReadPathGetDataDoesNotAllocate(t *testing.T) {
	step := readPath(t, 1_000)
	i := 0
	next := func() { step(i); i++ }
	next()
	if allocs := testing.AllocsPerRun(1000, next); allocs != 0 {
		t.Fatalf("the read path allocates %.2f times per getData", allocs)
	}
}
