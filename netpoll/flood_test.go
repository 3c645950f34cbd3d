package netpoll_test

import (
	"testing"
	"time"

	"github.com/meerkat-zk/meerkat/bench"
	"github.com/meerkat-zk/meerkat/internal/zktest"
)

// TestFloodOfUnreadRepliesIsBounded runs the server binary and floods it,
// on real TCP, with replies its clients do not read: four connections
// pipeline 300 getData each of a 1,000,000-byte znode (1.2 GB of replies)
// and read nothing for three seconds, while a well-behaved client reads on
// another connection. Every read of the well-behaved client must succeed,
// the server's resident memory must grow by far less than what the
// flooders asked for, and once they read, every flooder must get every
// reply, in order; the server then still answers.
func TestFloodOfUnreadRepliesIsBounded(t *testing.T) {
	srv := zktest.StartMeerkat(t, zktest.Options{Extra: []string{"maxClientCnxns=0"}})
	res, err := bench.Flood(bench.FloodOptions{
		Addr: srv.Addr, ServerPid: srv.Pid(),
		Flooders: 4, Requests: 300, ValueSize: 1_000_000,
		Hold: 3 * time.Second, Drain: true, DrainLimit: 2 * time.Minute,
	})
	if err != nil {
		t.Fatalf("%v (result so far %+v)", err, res)
	}
	t.Logf("server RSS: %d MiB before, peak %d MiB, %d MiB after; well-behaved client: %d reads, p50 %.0f µs, p99 %.0f µs, max %.0f µs",
		res.BaseRSS>>20, res.PeakRSS>>20, res.EndRSS>>20, res.GoodOps, res.Good.P50, res.Good.P99, res.Good.Max)
	if res.GoodFailures > 0 || res.GoodOps == 0 {
		t.Errorf("the well-behaved client had %d failures in %d reads", res.GoodFailures, res.GoodOps)
	}
	// Unbounded buffering would hold up to 1.2 GB; the server holds about
	// OutboundThrottleBytes and a reply per flooder.
	const bound = 256 << 20
	if grew := res.PeakRSS - res.BaseRSS; grew > bound {
		t.Errorf("the server's RSS grew by %d MiB under the flood, above %d MiB", grew>>20, bound>>20)
	}
	if res.Served != 4 || res.Replies != 4*300 {
		t.Errorf("after the flood, %d of 4 flooders got all their replies (%d of %d replies, %d closed by the server)",
			res.Served, res.Replies, 4*300, res.Closed)
	}
}
