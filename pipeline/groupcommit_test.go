package pipeline

import (
	"sync"
	"testing"
	"time"

	"github.com/meerkat-zk/meerkat/engine"
	"github.com/meerkat-zk/meerkat/jute"
	"github.com/meerkat-zk/meerkat/wal"
)

// heldLog is a real WAL whose next append, once hold is armed, waits until
// release: an fsync that takes as long as the test wants. It records how
// many entries each append carried.
type heldLog struct {
	*wal.WAL
	mu      sync.Mutex
	batches []int32
	hold    chan struct{} // closed by release; nil when not armed
	held    chan struct{} // closed when an append starts waiting
}

func (h *heldLog) Append(index uint64, payload []byte) error {
	h.mu.Lock()
	_, n, _ := engine.BatchSpan(payload)
	h.batches = append(h.batches, n)
	hold, held := h.hold, h.held
	h.hold = nil
	h.mu.Unlock()
	if hold != nil {
		close(held)
		<-hold
	}
	return h.WAL.Append(index, payload)
}

// TestGroupCommitCarriesEveryWriteQueuedBehindAnFsync holds one write's
// fsync while 63 more are submitted: the next batch, and so the next
// fsync, must carry all 63, and each is acknowledged only after it.
func TestGroupCommitCarriesEveryWriteQueuedBehindAnFsync(t *testing.T) {
	w, err := wal.Open(t.TempDir(), wal.Options{Logger: quiet, OnSyncError: func(err error) { t.Error(err) }})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { w.Close() }) // after the pipeline stops (cleanups run last first)
	log := &heldLog{WAL: w}
	p, c, sid := startWithSession(t, Config{ServerID: 1, Tick: time.Hour, Log: log, Logger: quiet}, nil)

	release := make(chan struct{})
	held := make(chan struct{})
	log.mu.Lock()
	log.hold, log.held = release, held
	before := len(log.batches)
	log.mu.Unlock()
	body := func(i int) []byte {
		return (&jute.CreateRequest{Path: "/n" + string(rune('A'+i%26)) + string(rune('a'+i/26)), ACL: engine.OpenACL}).AppendCreate(nil, false)
	}
	if err := p.Submit(write(jute.OpCreate, sid, body(0), c)); err != nil {
		t.Fatal(err)
	}
	<-held
	const queued = 63
	for i := 1; i <= queued; i++ {
		if err := p.Submit(write(jute.OpCreate, sid, body(i), c)); err != nil {
			t.Fatal(err)
		}
	}
	// Nothing is acknowledged while the fsync is held.
	select {
	case <-c.ch:
		t.Fatal("a write was acknowledged before its fsync")
	case <-time.After(50 * time.Millisecond):
	}
	close(release)
	c.wait(t, 1+queued)
	for _, r := range c.done[1:] {
		if r.Result.Err != jute.CodeOK {
			t.Fatalf("create: %v", r.Result.Err)
		}
	}
	log.mu.Lock()
	defer log.mu.Unlock()
	if got := log.batches[before:]; len(got) != 2 || got[0] != 1 || got[1] != queued {
		t.Fatalf("appends carried %v entries; want [1 %d]: every write queued behind the held fsync shares the next", got, queued)
	}
}
