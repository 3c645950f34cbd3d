package pipeline

import (
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/meerkat-zk/meerkat/engine"
	"github.com/meerkat-zk/meerkat/jute"
	"github.com/meerkat-zk/meerkat/wal"
)

// countingLog counts appends (each one fsync) on the way to a real WAL.
type countingLog struct {
	*wal.WAL
	appends atomic.Int64
}

func (c *countingLog) Append(index uint64, payload []byte) error {
	c.appends.Add(1)
	return c.WAL.Append(index, payload)
}

// chanCompleter delivers completions to one writer.
type chanCompleter chan *Request

func (c chanCompleter) Complete(reqs []*Request) {
	for _, r := range reqs {
		c <- r
	}
}

// BenchmarkGroupCommit runs closed-loop writers (each waits for its write
// to be acknowledged before sending the next) through the pipeline and a
// WAL with fsync on, and reports writes/s and how many writes each fsync
// carried. With more writers, more writes queue during each fsync and share
// the next one.
func BenchmarkGroupCommit(b *testing.B) {
	for _, writers := range []int{1, 8, 64} {
		b.Run(fmt.Sprintf("writers=%d", writers), func(b *testing.B) {
			w, err := wal.Open(b.TempDir(), wal.Options{Logger: quiet, OnSyncError: func(err error) { panic(err) }})
			if err != nil {
				b.Fatal(err)
			}
			defer w.Close()
			log := &countingLog{WAL: w}
			p, err := New(Config{ServerID: 1, Tick: time.Hour, Log: log, Logger: quiet}, nil)
			if err != nil {
				b.Fatal(err)
			}
			p.Start()
			defer p.Stop()
			setup := make(chanCompleter, 1)
			_ = p.Submit(&Request{Kind: KindCreateSession, Timeout: 30000, From: setup})
			sid := (<-setup).Session.ID
			bodies := make([][]byte, writers)
			for i := range bodies {
				path := fmt.Sprintf("/w%d", i)
				_ = p.Submit(write(jute.OpCreate, sid, (&jute.CreateRequest{Path: path, ACL: engine.OpenACL}).AppendCreate(nil, false), setup))
				<-setup
				bodies[i] = (&jute.SetDataRequest{Path: path, Data: make([]byte, 100), Version: -1}).Append(nil)
			}
			log.appends.Store(0)
			var next atomic.Int64
			var wg sync.WaitGroup
			b.ResetTimer()
			start := time.Now()
			for i := 0; i < writers; i++ {
				wg.Add(1)
				go func(i int) {
					defer wg.Done()
					done := make(chanCompleter, 1)
					for next.Add(1) <= int64(b.N) {
						r := write(jute.OpSetData, sid, bodies[i], done)
						if err := p.Submit(r); err != nil {
							panic(err)
						}
						if r := <-done; r.Result.Err != jute.CodeOK {
							panic(r.Result.Err)
						}
					}
				}(i)
			}
			wg.Wait()
			elapsed := time.Since(start)
			b.StopTimer()
			b.ReportMetric(float64(b.N)/elapsed.Seconds(), "writes/s")
			b.ReportMetric(float64(b.N)/float64(max(1, log.appends.Load())), "writes/fsync")
		})
	}
}
