package netpoll_test

import (
	"fmt"
	"net"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/meerkat-zk/meerkat/bench"
	"github.com/meerkat-zk/meerkat/internal/wire"
	"github.com/meerkat-zk/meerkat/internal/zktest"
	"github.com/meerkat-zk/meerkat/jute"
)

// The floods below each run the server binary on loopback, flood it in
// one way, bounded in count and time, and check that a well-behaved client
// on its own connection keeps being answered throughout, and that the
// server's resident memory stays under a stated bound. The latency bound
// is one of liveness (a client starved for a second), not of speed.
const starved = time.Second

// rssBound is a bound on the server's RSS growth, given for the server
// built without the race detector; under it (make test), the detector's
// shadow memory multiplies a process's memory by about three.
func rssBound(b int64) int64 {
	if zktest.RaceEnabled {
		return 3 * b
	}
	return b
}

// wellBehaved reads a znode over and over on its own session until stop
// is closed.
type wellBehaved struct {
	ops, failures atomic.Int64
	worst         atomic.Int64 // ns
	stop          chan struct{}
	done          chan struct{}
}

func startWellBehaved(t *testing.T, addr string) *wellBehaved {
	t.Helper()
	c, err := wire.Dial(addr, 30000)
	if err != nil {
		t.Fatal(err)
	}
	if r, err := c.Create("/good", []byte("data"), 0); err != nil || r.Header.Err != jute.CodeOK && r.Header.Err != jute.CodeNodeExists {
		t.Fatalf("create /good: %v %v", err, r.Header.Err)
	}
	w := &wellBehaved{stop: make(chan struct{}), done: make(chan struct{})}
	go func() {
		defer close(w.done)
		defer c.Close()
		for {
			select {
			case <-w.stop:
				return
			default:
			}
			begin := time.Now()
			r, err := c.GetData("/good", false)
			took := time.Since(begin)
			if err != nil || r.Header.Err != jute.CodeOK {
				w.failures.Add(1)
				return
			}
			w.ops.Add(1)
			if int64(took) > w.worst.Load() {
				w.worst.Store(int64(took))
			}
			time.Sleep(time.Millisecond)
		}
	}()
	return w
}

// finish stops the client and fails t if it was ever refused or starved.
func (w *wellBehaved) finish(t *testing.T) {
	t.Helper()
	close(w.stop)
	<-w.done
	worst := time.Duration(w.worst.Load())
	t.Logf("well-behaved client: %d reads, %d failures, slowest %v", w.ops.Load(), w.failures.Load(), worst.Round(time.Microsecond))
	if w.failures.Load() > 0 || w.ops.Load() == 0 {
		t.Errorf("the well-behaved client failed (%d failures, %d reads)", w.failures.Load(), w.ops.Load())
	}
	if worst > starved {
		t.Errorf("the well-behaved client waited %v for a read", worst)
	}
}

// rssGrowth samples the server's RSS until stop is closed and returns the
// growth of the peak over the start.
func rssGrowth(t *testing.T, pid int, stop <-chan struct{}) func() int64 {
	t.Helper()
	base, err := bench.ProcessRSS(pid)
	if err != nil {
		t.Fatal(err)
	}
	var peak atomic.Int64
	peak.Store(base)
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			if rss, err := bench.ProcessRSS(pid); err == nil && rss > peak.Load() {
				peak.Store(rss)
			}
			select {
			case <-stop:
				return
			case <-time.After(20 * time.Millisecond):
			}
		}
	}()
	return func() int64 {
		<-done
		return peak.Load() - base
	}
}

// TestFloodReconnectStorm opens and closes 10,000 sessions from 16
// workers, with the connection throttle off and then on.
func TestFloodReconnectStorm(t *testing.T) {
	for _, tc := range []struct {
		name  string
		extra []string
	}{
		{"unthrottled", nil},
		// 100 sessions in a burst, then 100 a second.
		{"throttled", []string{"zookeeper.connection_throttle_tokens=100", "zookeeper.connection_throttle_fill_time=10",
			"zookeeper.connection_throttle_fill_count=1"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			// Sessions go through the log; its fsyncs are not what is
			// under test here.
			srv := zktest.StartMeerkat(t, zktest.Options{Extra: append([]string{"maxClientCnxns=0", "forceSync=no"}, tc.extra...)})
			good := startWellBehaved(t, srv.Addr)
			stop := make(chan struct{})
			growth := rssGrowth(t, srv.Pid(), stop)
			const workers, sessions = 16, 10_000
			var opened, refused, next atomic.Int64
			deadline := time.Now().Add(2 * time.Minute)
			var wg sync.WaitGroup
			for range workers {
				wg.Add(1)
				go func() {
					defer wg.Done()
					for next.Add(1) <= sessions && time.Now().Before(deadline) {
						c, err := wire.Dial(srv.Addr, 10000)
						if err != nil || c.Session.TimeOut == 0 {
							refused.Add(1)
							if c != nil {
								c.Close()
							}
							continue
						}
						opened.Add(1)
						_, _ = c.Call(jute.OpCloseSession, nil)
						c.Close()
					}
				}()
			}
			wg.Wait()
			close(stop)
			grew := growth()
			good.finish(t)
			t.Logf("%d sessions opened and closed, %d refused; RSS grew %d MiB", opened.Load(), refused.Load(), grew>>20)
			if opened.Load()+refused.Load() != sessions {
				t.Errorf("the storm did not finish in time: %d of %d handshakes", opened.Load()+refused.Load(), sessions)
			}
			if tc.extra != nil && refused.Load() == 0 {
				t.Error("the connection throttle refused nothing")
			}
			if tc.extra == nil && refused.Load() != 0 {
				t.Errorf("%d sessions refused without a throttle", refused.Load())
			}
			bound := rssBound(128 << 20)
			if grew > bound {
				t.Errorf("RSS grew %d MiB, above %d MiB", grew>>20, bound>>20)
			}
		})
	}
}

// TestFloodMillionWatches has one session register a million watches (an
// exists watch on a million distinct missing paths, pipelined), then
// close, while another client reads; the server's memory must stay
// bounded.
func TestFloodMillionWatches(t *testing.T) {
	srv := zktest.StartMeerkat(t, zktest.Options{})
	good := startWellBehaved(t, srv.Addr)
	stop := make(chan struct{})
	growth := rssGrowth(t, srv.Pid(), stop)
	c, err := wire.Dial(srv.Addr, 30000)
	if err != nil {
		t.Fatal(err)
	}
	const watches, window = 1_000_000, 2000
	deadline := time.Now().Add(3 * time.Minute)
	_ = c.Raw().SetDeadline(deadline)
	var frames []byte
	sent, answered := 0, 0
	for answered < watches && time.Now().Before(deadline) {
		frames = frames[:0]
		for ; sent < watches && sent-answered < window; sent++ {
			req := jute.PathWatchRequest{Path: fmt.Sprintf("/missing/%d", sent), Watch: true}
			frames = append(frames, wire.RequestFrame(int32(sent+1), jute.OpExists, req.Append(nil))...)
		}
		if _, err := c.Raw().Write(frames); err != nil {
			t.Fatalf("after %d watches: %v", answered, err)
		}
		for ; answered < sent-window/2 || answered < sent && sent == watches; answered++ {
			r, err := c.Recv()
			if err != nil {
				t.Fatalf("after %d watches: %v", answered, err)
			}
			if r.Header.Err != jute.CodeNoNode {
				t.Fatalf("exists: %v", r.Header.Err)
			}
		}
	}
	if answered != watches {
		t.Fatalf("only %d of %d watches registered in time", answered, watches)
	}
	out, _ := zktest.FourLetter(srv.Addr, "wchs")
	t.Logf("wchs: %s", out)
	c.Close()
	close(stop)
	grew := growth()
	good.finish(t)
	t.Logf("%d watches: RSS grew %d MiB (%d B per watch)", watches, grew>>20, grew/watches)
	// About 470 B per watch (the path, its entry in both tables, and the
	// collector's headroom).
	bound := rssBound(640 << 20)
	if grew > bound {
		t.Errorf("RSS grew %d MiB for a million watches, above %d MiB", grew>>20, bound>>20)
	}
}

// TestFloodChildrenUntilQuota has a client create children under a node
// whose count quota is enforced until the server refuses more
// (QUOTAEXCEEDED), pipelined, while another client reads.
func TestFloodChildrenUntilQuota(t *testing.T) {
	srv := zktest.StartMeerkat(t, zktest.Options{Extra: []string{"enforceQuota=true"}})
	good := startWellBehaved(t, srv.Addr)
	c, err := wire.Dial(srv.Addr, 30000)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	const limit = 5000
	for _, step := range []struct {
		path string
		data string
	}{{"/flood", ""}, {"/zookeeper/quota/flood", ""},
		{"/zookeeper/quota/flood/zookeeper_limits", fmt.Sprintf("count=-1,bytes=-1,countHardLimit=%d,byteHardLimit=-1", limit)},
		{"/zookeeper/quota/flood/zookeeper_stats", "count=1,bytes=0"}} {
		if r, err := c.Create(step.path, []byte(step.data), 0); err != nil || r.Header.Err != jute.CodeOK {
			t.Fatalf("create %s: %v %v", step.path, err, r.Header.Err)
		}
	}
	stop := make(chan struct{})
	growth := rssGrowth(t, srv.Pid(), stop)
	created, exceeded := 0, 0
	deadline := time.Now().Add(2 * time.Minute)
	for i := 0; exceeded == 0 && i < 4*limit && time.Now().Before(deadline); i += 100 {
		var frames []byte
		for j := range 100 {
			req := jute.CreateRequest{Path: fmt.Sprintf("/flood/c%07d", i+j), Data: make([]byte, 100),
				ACL: []jute.ACL{{Perms: jute.PermAll, ID: jute.ID{Scheme: "world", ID: "anyone"}}}}
			frames = append(frames, wire.RequestFrame(int32(i+j+1), jute.OpCreate, req.AppendCreate(nil, false))...)
		}
		if _, err := c.Raw().Write(frames); err != nil {
			t.Fatal(err)
		}
		for range 100 {
			r, err := c.Recv()
			switch {
			case err != nil:
				t.Fatal(err)
			case r.Header.Err == jute.CodeOK:
				created++
			case r.Header.Err == jute.CodeQuotaExceeded:
				exceeded++
			default:
				t.Fatalf("create: %v", r.Header.Err)
			}
		}
	}
	close(stop)
	grew := growth()
	good.finish(t)
	t.Logf("%d children created, %d refused QUOTAEXCEEDED; RSS grew %d MiB", created, exceeded, grew>>20)
	// The quota node itself counts toward the count quota, as in
	// ZooKeeper.
	if created != limit-1 || exceeded == 0 {
		t.Errorf("created %d children before QUOTAEXCEEDED (%d refused), want %d", created, exceeded, limit-1)
	}
	bound := rssBound(128 << 20)
	if grew > bound {
		t.Errorf("RSS grew %d MiB, above %d MiB", grew>>20, bound>>20)
	}
}

// TestFloodPastMaxCnxns opens ten times maxCnxns connections: those past
// the cap are closed at once, the well-behaved client (connected first)
// goes on, and memory stays flat.
func TestFloodPastMaxCnxns(t *testing.T) {
	const maxCnxns, attempts = 50, 500
	srv := zktest.StartMeerkat(t, zktest.Options{Extra: []string{"maxClientCnxns=0", fmt.Sprintf("maxCnxns=%d", maxCnxns)}})
	good := startWellBehaved(t, srv.Addr)
	stop := make(chan struct{})
	growth := rssGrowth(t, srv.Pid(), stop)
	var held []net.Conn
	defer func() {
		for _, c := range held {
			c.Close()
		}
	}()
	served, refused := 0, 0
	for range attempts {
		c, err := wire.Dial(srv.Addr, 30000)
		if err != nil || c.Session.TimeOut == 0 {
			refused++
			if c != nil {
				c.Close()
			}
			continue
		}
		served++
		held = append(held, c.Raw())
	}
	close(stop)
	grew := growth()
	good.finish(t)
	for _, c := range held {
		c.Close()
	}
	held = nil
	t.Logf("%d served, %d refused; RSS grew %d MiB", served, refused, grew>>20)
	// The well-behaved client holds one of the connections; a four-letter
	// word needs one too, so it is asked once the flood's are closed.
	if served != maxCnxns-1 || refused != attempts-served {
		t.Errorf("%d connections served and %d refused, want %d and %d", served, refused, maxCnxns-1, attempts-maxCnxns+1)
	}
	var mntr string
	for range 50 {
		// The closed connections leave the count as the server sees them go.
		if mntr, _ = zktest.FourLetter(srv.Addr, "mntr"); mntr != "" {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	if want := fmt.Sprintf("zk_connection_rejected\t%d\n", refused); !strings.Contains(mntr, want) {
		t.Errorf("mntr does not count the refused connections (%q):\n%s", want, mntr)
	}
	bound := rssBound(64 << 20)
	if grew > bound {
		t.Errorf("RSS grew %d MiB, above %d MiB", grew>>20, bound>>20)
	}
}
