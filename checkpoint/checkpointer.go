package checkpoint

import (
	"log/slog"
	"sync/atomic"
	"time"

	"github.com/VictoriaMetrics/metrics"

	"github.com/meerkat-zk/meerkat/engine"
	"github.com/meerkat-zk/meerkat/zkmetrics"
)

// Metrics of checkpointing.
var (
	flushDuration = metrics.NewPrometheusHistogram("meerkat_checkpoint_flush_duration_seconds")
	writeDuration = metrics.NewPrometheusHistogram("meerkat_checkpoint_write_duration_seconds")
	pathsWritten  = metrics.NewCounter("meerkat_checkpoint_znodes_written_total")
	flushes       = metrics.NewCounter("meerkat_checkpoint_flushes_total")
	// current is the checkpointer the lag gauge reports on: the latest made.
	current atomic.Pointer[Checkpointer]
	_       = metrics.NewGauge("meerkat_checkpoint_lag_zxids", func() float64 {
		c := current.Load()
		if c == nil {
			return 0
		}
		return float64(c.applied.Load() - c.durable.Load())
	})
	// flushedBytes and compactedBytes are pebble's table bytes written by
	// flushes and by compactions, read after each flush.
	flushedBytes   atomic.Uint64
	compactedBytes atomic.Uint64
	_              = metrics.NewGauge("meerkat_checkpoint_flushed_bytes_total", func() float64 {
		return float64(flushedBytes.Load())
	})
	_ = metrics.NewGauge("meerkat_checkpoint_compacted_bytes_total", func() float64 {
		return float64(compactedBytes.Load())
	})
)

// Policy says when the checkpointer flushes: after Entries zxids, or Every
// of time with unflushed changes, whichever comes first.
type Policy struct {
	// Entries is how many zxids may accumulate unflushed (zoo.cfg snapCount).
	Entries int64
	// Every bounds the time a change stays unflushed.
	Every time.Duration
}

// Checkpointer owns a Store and writes Deltas to it on its own goroutine,
// off the request path. The pipeline offers it deltas and reads back how
// far the checkpoint is durable, to remove the wal up to there.
type Checkpointer struct {
	store  *Store
	policy Policy
	logger *slog.Logger
	in     chan engine.Delta
	// durable is the zxid the store is durable through; applied is that of
	// the last delta offered. durableIndex is the log index it is durable
	// through (an ensemble's raft index).
	durable, applied atomic.Int64
	durableIndex     atomic.Uint64
	// durableAt is when durable last moved (unix ms), or the start.
	durableAt atomic.Int64
	// failed is set when a write or flush failed; the checkpointer then
	// stops advancing and the wal is kept whole.
	failed atomic.Bool
	// lastWritten and lastIndex are the zxid and log index of the last
	// delta written; owned by the checkpointer goroutine (and by Stop once
	// it has ended).
	lastWritten int64
	lastIndex   uint64
	stop        chan struct{}
	done        chan struct{}
}

// NewCheckpointer returns a checkpointer whose store is durable through
// zxid and log index (what Load found).
func NewCheckpointer(store *Store, zxid int64, index uint64, p Policy, logger *slog.Logger) *Checkpointer {
	if p.Entries <= 0 {
		p.Entries = 100_000
	}
	if p.Every <= 0 {
		p.Every = 30 * time.Second
	}
	c := &Checkpointer{store: store, policy: p, logger: logger,
		in: make(chan engine.Delta, 1), stop: make(chan struct{}), done: make(chan struct{})}
	c.durable.Store(zxid)
	c.applied.Store(zxid)
	c.durableIndex.Store(index)
	c.durableAt.Store(time.Now().UnixMilli())
	c.lastWritten, c.lastIndex = zxid, index
	current.Store(c)
	return c
}

// Ready reports whether Offer will take a delta now. Only the one goroutine
// that offers may rely on it.
func (c *Checkpointer) Ready() bool { return len(c.in) < cap(c.in) && !c.failed.Load() }

// Offer hands over a delta; call it only when Ready.
func (c *Checkpointer) Offer(d engine.Delta) {
	c.applied.Store(d.View.Zxid)
	c.in <- d
}

// Durable returns the zxid the checkpoint is durable through.
func (c *Checkpointer) Durable() int64 { return c.durable.Load() }

// DurableIndex returns the log index the checkpoint is durable through.
func (c *Checkpointer) DurableIndex() uint64 { return c.durableIndex.Load() }

// Reset hands over a full image (engine.State.FullDelta) that replaces the
// checkpoint's content, waiting while a delta is queued; it is flushed as
// soon as it is written (watch DurableIndex).
func (c *Checkpointer) Reset(d engine.Delta) {
	c.applied.Store(d.View.Zxid)
	c.in <- d
}

// Start runs the checkpointer goroutine.
func (c *Checkpointer) Start() { go c.run() }

// Stop writes the delta it is given (the last one, nil for none), flushes,
// and stops, waiting at most wait for the flush (a full disk can hold it up
// for as long as it stays full; the wal keeps what the checkpoint lacks).
// It reports whether the checkpoint is complete. The store stays open; the
// caller closes it, unless Stop returned false.
func (c *Checkpointer) Stop(last *engine.Delta, wait time.Duration) bool {
	close(c.stop)
	<-c.done
	if c.failed.Load() {
		return false
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		if last != nil {
			c.write(*last)
		}
		c.flush()
	}()
	select {
	case <-done:
		return !c.failed.Load()
	case <-time.After(wait):
		c.logger.Error("checkpoint: the final flush did not finish; stopping without it (the wal keeps the data)", "waited", wait.String())
		return false
	}
}

func (c *Checkpointer) run() {
	defer close(c.done)
	tick := time.NewTicker(c.policy.Every / 4)
	defer tick.Stop()
	lastFlush := time.Now()
	for {
		select {
		case d := <-c.in:
			c.write(d)
			if d.Reset || c.lastWritten-c.Durable() >= c.policy.Entries {
				c.flush()
				lastFlush = time.Now()
			}
		case now := <-tick.C:
			if c.lastWritten > c.Durable() && now.Sub(lastFlush) >= c.policy.Every {
				c.flush()
				lastFlush = now
			}
		case <-c.stop:
			select {
			case d := <-c.in:
				c.write(d)
			default:
			}
			return
		}
	}
}

func (c *Checkpointer) write(d engine.Delta) {
	if c.failed.Load() {
		return
	}
	start := time.Now()
	if err := c.store.Write(d); err != nil {
		c.fail(err)
		return
	}
	writeDuration.UpdateDuration(start)
	pathsWritten.Add(len(d.Paths))
	c.lastWritten, c.lastIndex = d.View.Zxid, d.View.Applied
}

// flush makes everything written durable, through c.lastWritten.
func (c *Checkpointer) flush() {
	zxid, index := c.lastWritten, c.lastIndex
	if c.failed.Load() || zxid == c.Durable() && index == c.DurableIndex() {
		return
	}
	start := time.Now()
	if err := c.store.Flush(); err != nil {
		c.fail(err)
		return
	}
	took := time.Since(start)
	flushDuration.Update(took.Seconds())
	zkmetrics.SnapshotTime.Add(took.Milliseconds())
	flushes.Inc()
	var flushed, compacted uint64
	for _, l := range c.store.Metrics().Levels {
		flushed += l.TableBytesFlushed + l.BlobBytesFlushed
		compacted += l.TableBytesCompacted + l.BlobBytesCompacted
	}
	flushedBytes.Store(flushed)
	compactedBytes.Store(compacted)
	c.durable.Store(zxid)
	c.durableIndex.Store(index)
	c.durableAt.Store(time.Now().UnixMilli())
}

// LastFlush returns the zxid the checkpoint is durable through and when
// it got there (ZooKeeper's last snapshot).
func (c *Checkpointer) LastFlush() (zxid int64, at time.Time) {
	return c.Durable(), time.UnixMilli(c.durableAt.Load())
}

// fail stops the checkpointer from advancing: the wal keeps everything, so
// nothing is lost, but restarts replay more. It is logged loudly.
func (c *Checkpointer) fail(err error) {
	if c.failed.CompareAndSwap(false, true) {
		c.logger.Error("checkpoint failed; the wal will no longer be truncated until a restart", "err", err)
	}
}
