package ensemble

import (
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/go-zookeeper/zk"

	"github.com/meerkat-zk/meerkat/internal/zktest"
)

// connect opens a go-zookeeper session to the servers at addrs (a
// comma-separated connect string) and waits until it is established.
func connect(t *testing.T, addrs string, timeout time.Duration) *zk.Conn {
	t.Helper()
	return zktest.Session(t, addrs, timeout)
}

// eventually retries fn until it succeeds or 30 s pass.
func eventually(t *testing.T, what string, fn func() error) {
	t.Helper()
	zktest.Eventually(t, what, fn)
}

// children returns, after a sync, the children of path as member i sees
// them, through a session with that member alone.
func children(t *testing.T, e *zktest.Ensemble, i int, path string) map[string]bool {
	t.Helper()
	c := connect(t, e.Members[i].Addr, 10*time.Second)
	defer c.Close()
	var kids []string
	eventually(t, fmt.Sprintf("member %d: sync and list %s", i+1, path), func() error {
		if _, err := c.Sync(path); err != nil {
			return err
		}
		var err error
		kids, _, err = c.Children(path)
		return err
	})
	out := map[string]bool{}
	for _, k := range kids {
		out[k] = true
	}
	return out
}

// writers runs n sessions that create /w/<writer>-<seq> one after the
// other through the whole ensemble, and records what was acknowledged.
// They write until allowed writes are acknowledged (allowUpTo raises it)
// and pause there, and stop for good when stop is closed (finish, or the
// test's end).
type writers struct {
	mu      sync.Mutex
	acked   []string
	allowed int
	wg      sync.WaitGroup
	stop    chan struct{}
	halt    sync.Once
}

func startWriters(t *testing.T, addrs string, n, allowed int) *writers {
	t.Helper()
	w := &writers{stop: make(chan struct{}), allowed: allowed}
	t.Cleanup(w.stopAll)
	for i := range n {
		c := connect(t, addrs, 6*time.Second)
		w.wg.Add(1)
		go func() {
			defer w.wg.Done()
			for seq := 0; ; {
				select {
				case <-w.stop:
					return
				default:
				}
				if !w.mayWrite() {
					time.Sleep(5 * time.Millisecond)
					continue
				}
				name := fmt.Sprintf("%d-%d", i, seq)
				seq++
				if _, err := c.Create("/w/"+name, nil, 0, zk.WorldACL(zk.PermAll)); err != nil {
					// Unknown outcome: the next write gets a new name.
					time.Sleep(10 * time.Millisecond)
					continue
				}
				w.mu.Lock()
				w.acked = append(w.acked, name)
				w.mu.Unlock()
			}
		}()
	}
	return w
}

// mayWrite reports whether fewer writes than allowed are acknowledged.
func (w *writers) mayWrite() bool {
	w.mu.Lock()
	defer w.mu.Unlock()
	return len(w.acked) < w.allowed
}

// allowUpTo lets the writers go on until n writes are acknowledged.
func (w *writers) allowUpTo(n int) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.allowed = max(w.allowed, n)
}

func (w *writers) stopAll() { w.halt.Do(func() { close(w.stop) }) }

// count returns how many writes were acknowledged so far.
func (w *writers) count() int {
	w.mu.Lock()
	defer w.mu.Unlock()
	return len(w.acked)
}

// waitFor waits until n writes are acknowledged.
func (w *writers) waitFor(t *testing.T, n int) {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for w.count() < n {
		if time.Now().After(deadline) {
			t.Fatalf("only %d of %d writes acknowledged within 60 s", w.count(), n)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func (w *writers) finish() []string {
	w.stopAll()
	w.wg.Wait()
	return w.acked
}

// mustHaveEverywhere checks that every member has every acknowledged write
// under /w and that all members list the same children.
func mustHaveEverywhere(t *testing.T, e *zktest.Ensemble, acked []string) {
	t.Helper()
	var first map[string]bool
	for i := range e.Members {
		got := children(t, e, i, "/w")
		for _, name := range acked {
			if !got[name] {
				t.Fatalf("member %d lacks the acknowledged write /w/%s", i+1, name)
			}
		}
		if first == nil {
			first = got
		} else if len(got) != len(first) {
			t.Fatalf("member %d has %d children of /w, member 1 has %d", i+1, len(got), len(first))
		}
	}
}
