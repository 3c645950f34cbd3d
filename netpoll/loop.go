package netpoll

import (
	"sync/atomic"
	"time"

	"github.com/meerkat-zk/meerkat/engine"
	"github.com/meerkat-zk/meerkat/internal/reactor"
	"github.com/meerkat-zk/meerkat/jute"
	"github.com/meerkat-zk/meerkat/pipeline"
	"github.com/meerkat-zk/meerkat/zkmetrics"
)

// loop is the state one event loop owns. Every field but the atomics
// is touched only from that loop's goroutine.
type loop struct {
	srv     *Server
	rl      *reactor.Loop
	conns   map[*conn]struct{}
	watches *engine.Watches[*conn]
	// seen is the last Changes whose events this loop has delivered.
	seen *engine.Changes
	// dirty are the connections with output to flush; flushing is the
	// spare slice flush swaps with it.
	dirty, flushing []*conn
	// now is the time of the callback being run, read once per callback.
	now time.Time
	// woken is set while a catch-up task is queued, to coalesce wakes.
	woken atomic.Bool
	// backlog holds, in order, the requests the pipeline's full queue did
	// not take yet. backlogged says it is not empty, for the pipeline's
	// goroutine, which wakes such a loop after every batch.
	backlog    []*pipeline.Request
	backlogged atomic.Bool
	stats      loopStats
}

// loopStats are the counters the four-letter words sum over loops. They
// belong to the loop's goroutine; the words read them there (onLoops).
type loopStats struct {
	connections int64
	received    int64
	sent        int64
	// reads and updates are the latencies (ms) of read and write requests:
	// ZooKeeper's readlatency and updatelatency.
	reads, updates zkmetrics.Histogram
}

// latencyStats tracks a connection's request latencies in ms, as
// ZooKeeper's connection stats.
type latencyStats struct {
	count, total, min, max int64
}

// avg is the mean latency in whole ms, 0 before the first.
func (s *latencyStats) avg() int64 {
	if s.count == 0 {
		return 0
	}
	return s.total / s.count
}

// add records one latency.
func (s *latencyStats) add(ms int64) { s.merge(latencyStats{count: 1, total: ms, min: ms, max: ms}) }

// merge adds the latencies o recorded.
func (s *latencyStats) merge(o latencyStats) {
	if o.count == 0 {
		return
	}
	if s.count == 0 || o.min < s.min {
		s.min = o.min
	}
	s.count += o.count
	s.total += o.total
	s.max = max(s.max, o.max)
}

func newLoop(s *Server, rl *reactor.Loop) *loop {
	v := s.pipe.View()
	return &loop{
		srv:     s,
		rl:      rl,
		conns:   map[*conn]struct{}{},
		watches: engine.NewWatches[*conn](),
		seen:    v.Changes,
	}
}

// view returns the current version after delivering the watch events of
// every version up to it. Everything the loop answers comes from a view it
// got here.
func (l *loop) view() *engine.View {
	v := l.srv.pipe.View()
	for {
		next := l.seen.Next()
		if next == nil || next.Zxid > v.Zxid {
			return v
		}
		skip := l.srv.cfg.SkipACL
		for _, ev := range next.Events {
			l.watches.Trigger(ev, func(cn *conn) {
				// The watch is spent either way; only readers hear of it.
				if skip || engine.Allowed(ev.ACL, jute.PermRead, cn.ids) {
					cn.notify(ev)
				}
			})
		}
		l.seen = next
	}
}

// offer hands r to the pipeline. When the pipeline's queue is full, r
// waits in the loop's backlog, behind any request already there, so that
// requests reach the pipeline in the order the loop read them; the loop
// meanwhile goes on answering reads (ZooKeeper, in contrast, stalls them
// behind the queued writes). The pipeline wakes the loop after each batch
// while the backlog lasts (Server.batchDone).
//
// The backlog is bounded: past maxBacklog the loop waits for the pipeline
// until the backlog is half that, reading nothing meanwhile, so that a
// flood of writes is held back by TCP rather than by the server's memory.
func (l *loop) offer(r *pipeline.Request) {
	if len(l.backlog) == 0 && l.try(r) {
		return
	}
	l.backlog = append(l.backlog, r)
	if len(l.backlog) >= maxBacklog {
		backlogWaits.Inc()
		l.pushBacklog(true)
	}
	if len(l.backlog) > 0 && !l.backlogged.Load() {
		// Raise the flag, then offer once more: the queue was full after
		// the flag went up, so a batch ends after it and sees it.
		l.backlogged.Store(true)
		l.pushBacklog(false)
	}
}

// maxBacklog bounds a loop's backlog.
const maxBacklog = 4096

// pushBacklog hands the backlog to the pipeline, oldest first. It offers
// until the queue is full; with wait (a backlog at its bound) it waits for
// room instead, until half of maxBacklog is left.
func (l *loop) pushBacklog(wait bool) {
	n := 0
	for ; n < len(l.backlog); n++ {
		r := l.backlog[n]
		if wait {
			if len(l.backlog)-n <= maxBacklog/2 {
				break
			}
			if err := l.srv.pipe.Submit(r); err != nil {
				refused(r)
			}
		} else if !l.try(r) {
			break
		}
		l.backlog[n] = nil
	}
	l.backlog = l.backlog[n:]
	if len(l.backlog) == 0 && n > 0 {
		l.backlog = nil
		l.backlogged.Store(false)
	}
}

// try offers r and reports whether the pipeline took it, or refused it for
// good because it has stopped: then r's item fails with CONNECTIONLOSS (the
// server is stopping and closes its connections).
func (l *loop) try(r *pipeline.Request) bool {
	ok, err := l.srv.pipe.Offer(r)
	if err != nil {
		refused(r)
		return true
	}
	return ok
}

// refused fails the item of a request the stopped pipeline refused.
func refused(r *pipeline.Request) {
	it := r.Tag.(*item)
	it.done = true
	it.failed = jute.CodeConnectionLoss
}

// catchUp delivers pending watch events.
func (l *loop) catchUp() { l.view() }

// markDirty queues cn for the flush at the end of the callback.
func (l *loop) markDirty(cn *conn) {
	if !cn.dirty {
		cn.dirty = true
		l.dirty = append(l.dirty, cn)
	}
}

// flush writes the output of every connection that has some, one write per
// connection. A connection whose client has taken everything may go on with
// the requests held for it, which can make more output: flush goes on
// until none is left.
func (l *loop) flush() {
	for len(l.dirty) > 0 {
		batch := l.dirty
		l.dirty = l.flushing[:0]
		for i, cn := range batch {
			batch[i] = nil
			cn.dirty = false
			cn.flush()
		}
		l.flushing = batch[:0]
	}
}

// wake makes the loop deliver pending watch events soon. It is called from
// the pipeline goroutine.
func (l *loop) wake() {
	if !l.woken.CompareAndSwap(false, true) {
		return
	}
	err := l.rl.Execute(func() {
		l.woken.Store(false)
		l.now = time.Now()
		l.catchUp()
		l.pushBacklog(false)
		l.flush()
	})
	if err != nil {
		l.woken.Store(false)
	}
}

// Complete implements pipeline.Completer: it hands the completed requests to
// the loop's goroutine.
func (l *loop) Complete(reqs []*pipeline.Request) {
	// The completion catches up with the new View, so it also stands for
	// the wake that announces it (see wake).
	l.woken.Store(true)
	_ = l.rl.Execute(func() {
		l.woken.Store(false)
		l.now = time.Now()
		l.catchUp()
		l.pushBacklog(false)
		for _, r := range reqs {
			it := r.Tag.(*item)
			it.done = true
			if !it.conn.closed {
				it.conn.drain()
			}
		}
		l.flush()
	})
}

// notifyFrame appends a watch notification to b.
func notifyFrame(b []byte, ev engine.Event) []byte {
	b, start := jute.BeginFrame(b)
	b = (&jute.ReplyHeader{Xid: jute.XidNotification, Zxid: -1}).Append(b)
	b = jute.AppendInt(b, ev.Type)
	b = jute.AppendInt(b, jute.StateSyncConnected)
	b = jute.AppendString(b, ev.Path)
	return jute.EndFrame(b, start)
}
