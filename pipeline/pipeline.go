package pipeline

import (
	"errors"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/meerkat-zk/meerkat/engine"
	"github.com/meerkat-zk/meerkat/jute"
)

// Config is the pipeline's part of the server configuration.
type Config struct {
	// ServerID goes into the high byte of session ids (1 in standalone, as
	// ZooKeeper uses; at most 254 when extended types are on).
	ServerID int64
	// Tick is ZooKeeper's tickTime: the granularity of session expiry.
	Tick time.Duration
	// ContainerCheckInterval is how often empty containers and expired TTL
	// nodes are swept (znode.container.checkIntervalMs).
	ContainerCheckInterval time.Duration
	// ContainerMaxPerMinute caps the sweep's deletions per minute
	// (znode.container.maxPerMinute): they come a minute / this apart.
	ContainerMaxPerMinute int
	// ContainerMaxNeverUsed, when non-zero, also removes containers that
	// never had a child once they are older than this
	// (znode.container.maxNeverUsedIntervalMs).
	ContainerMaxNeverUsed time.Duration
	// QueueSize bounds the requests waiting for the pipeline.
	QueueSize int
	// MaxBatch bounds how many requests one batch applies.
	MaxBatch int
	// CommitWait bounds how long a batch may wait for more writes when the
	// previous batch showed concurrent writers (see gather); 0 means the
	// duration of the last log append, at most 1 ms. A negative value never
	// waits.
	CommitWait time.Duration
	// CheckpointEvery is the least time between two deltas offered to the
	// checkpointer: changes to the same znodes in between are written to
	// it once. 0 means 50 ms.
	CheckpointEvery time.Duration
	// Policy is what this server stamps into the writes it accepts: the
	// settings that decide what a write does (see engine.Policy).
	Policy engine.Policy
	// Log, when set, makes every batch durable before it is applied: a
	// write is acknowledged only once its batch is on disk.
	Log Log
	// Checkpoints, when set, receives the state's changes after every batch
	// it is ready for, and tells how far they are durable, so that the log
	// can be removed up to there.
	Checkpoints Checkpoints
	// Logger receives the pipeline's logs.
	Logger *slog.Logger
}

// Log is the write-ahead log as the pipeline uses it (wal.WAL).
type Log interface {
	// Append makes payload durable, or fails without acknowledging it.
	Append(index uint64, payload []byte) error
	// RemoveThrough drops what is no longer needed once index is durable
	// in a checkpoint.
	RemoveThrough(index uint64) error
}

// Checkpoints is the checkpointer as the pipeline uses it.
type Checkpoints interface {
	// Ready reports whether Offer takes a delta now.
	Ready() bool
	// Offer hands over the changes since the previous delta.
	Offer(engine.Delta)
	// Durable is the zxid the checkpoint is durable through.
	Durable() int64
}

// Validate fills defaults and rejects impossible settings.
func (c *Config) Validate() error {
	if c.ServerID < 0 || c.ServerID > 254 {
		return errors.New("pipeline: server id must be in [0, 254]")
	}
	if c.Tick <= 0 {
		return errors.New("pipeline: tick must be positive")
	}
	if c.ContainerCheckInterval <= 0 {
		c.ContainerCheckInterval = time.Minute
	}
	if c.ContainerMaxPerMinute <= 0 {
		c.ContainerMaxPerMinute = 10000
	}
	if c.QueueSize <= 0 {
		c.QueueSize = 16384
	}
	if c.MaxBatch <= 0 {
		c.MaxBatch = 1024
	}
	if c.CheckpointEvery <= 0 {
		c.CheckpointEvery = 50 * time.Millisecond
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	return nil
}

// Kind says what a Request asks of the pipeline.
type Kind uint8

// Request kinds.
const (
	// KindWrite applies Entry (a client write, or closeSession).
	KindWrite Kind = iota
	// KindCreateSession opens a session with timeout Timeout.
	KindCreateSession
	// KindReopenSession resumes session Entry.Session with Passwd.
	KindReopenSession
	// KindSync is a barrier: it completes after every earlier write.
	KindSync
	// KindGetEphemerals lists the ephemerals of Entry.Session under Prefix.
	KindGetEphemerals
	// KindInspect runs Inspect on the pipeline goroutine, at the end of its
	// batch, when the state is the published View.
	KindInspect
)

// Completer receives completed requests. Complete is called from the
// pipeline goroutine, once per batch per Completer, with requests in the
// order they were submitted; it must not block.
type Completer interface {
	Complete(reqs []*Request)
}

// Request is one unit of work for the pipeline and, once completed, its
// result.
type Request struct {
	Kind  Kind
	Entry engine.Entry
	// Conn is the connection that sent the request: it becomes the owner of
	// a created or reopened session, and a write from a connection that no
	// longer owns its session fails with SESSIONMOVED.
	Conn Closer
	// Timeout is the negotiated timeout of a session to create or reopen.
	Timeout int32
	// Passwd is the password offered to reopen a session.
	Passwd []byte
	// Prefix filters KindGetEphemerals.
	Prefix string
	// Inspect is run by KindInspect with the state, on the pipeline
	// goroutine; it must not keep the state or the map.
	Inspect func(*engine.State, map[int64]*Session)
	// From receives the request when it completes.
	From Completer

	// Result is set on completion. For KindGetEphemerals its Body is the
	// response record.
	Result engine.Result
	// Session is the opened or reopened session; nil when reopening failed.
	Session *Session
	// Tag is the submitter's own bookkeeping, untouched by the pipeline.
	Tag any
}

// ErrStopped is returned by Submit and Offer after Stop.
var ErrStopped = errors.New("pipeline: stopped")

// Pipeline owns the state and applies writes. Create it with New, start it
// with Start, stop it with Stop.
type Pipeline struct {
	cfg      Config
	state    *engine.State
	view     atomic.Pointer[engine.View]
	in       chan *Request
	stop     chan struct{}
	done     chan struct{}
	stopOnce sync.Once
	// sessions and nextID are owned by the pipeline goroutine.
	sessions map[int64]*Session
	nextID   int64
	// nextSweepDelete is the earliest the sweep may delete again: as
	// ZooKeeper's ContainerManager, it waits a minute / maxPerMinute after
	// each deletion.
	nextSweepDelete time.Time
	// onBatch is called after each batch, from the pipeline goroutine.
	onBatch func(published bool)
	// entries and payload are reused by every batch.
	entries []*engine.Entry
	payload []byte
	// removed is how far the log has been removed.
	removed int64
	// noSpace rate-limits the full-disk warning.
	noSpace time.Time
	// lastLogged and lastAppend describe the previous log append: how many
	// entries it carried and how long it took (for gather).
	lastLogged int
	lastAppend time.Duration
	// lastOffer is when the checkpointer last got a delta.
	lastOffer time.Time
}

// commitSiblings is how many writes the previous batch must have carried
// before a batch waits for more: a lone writer never waits.
const commitSiblings = 4

// logged reports whether r becomes a log entry.
func logged(r *Request) bool { return r.Kind == KindWrite || r.Kind == KindCreateSession }

// gather completes a batch of writes. Closed-loop writers that share the
// log split into two groups that take turns: while one group's batch is
// being synced, the other's requests queue up, and neither ever joins the
// other. When the previous batch carried several writes and this one has
// fewer, gather waits a little (at most the time of the last sync) for the
// rest, so one sync carries them all; PostgreSQL's commit_delay and
// commit_siblings do the same. A lone write never waits.
func (p *Pipeline) gather(batch []*Request) []*Request {
	if p.cfg.Log == nil || p.cfg.CommitWait < 0 || p.lastLogged < commitSiblings {
		return batch
	}
	n := 0
	for _, r := range batch {
		if logged(r) {
			n++
		}
	}
	if n == 0 || n >= p.lastLogged {
		return batch
	}
	wait := p.cfg.CommitWait
	if wait == 0 {
		wait = min(2*p.lastAppend, time.Millisecond)
	}
	timer := time.NewTimer(wait)
	defer timer.Stop()
	for n < p.lastLogged && len(batch) < p.cfg.MaxBatch {
		select {
		case r := <-p.in:
			batch = append(batch, r)
			if logged(r) {
				n++
			}
		case <-timer.C:
			return batch
		case <-p.stop:
			return batch
		}
	}
	return batch
}

// New returns a pipeline over state (nil for a fresh one). The sessions of a
// recovered state start their timeouts afresh, as in ZooKeeper: their
// clients have until then to reconnect.
func New(cfg Config, state *engine.State) (*Pipeline, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if state == nil {
		state = engine.NewState()
	}
	now := time.Now()
	p := &Pipeline{
		cfg:      cfg,
		state:    state,
		in:       make(chan *Request, cfg.QueueSize),
		stop:     make(chan struct{}),
		done:     make(chan struct{}),
		sessions: map[int64]*Session{},
		nextID:   sessionIDBase(cfg.ServerID, now.UnixMilli()),
	}
	for _, rec := range state.SessionRecords() {
		s := &Session{ID: rec.ID, Timeout: rec.Timeout, Passwd: Password(rec.ID)}
		s.Touch(now)
		p.sessions[rec.ID] = s
		// Never hand out an id this server gave before a restart.
		if rec.ID>>56 == cfg.ServerID && rec.ID >= p.nextID {
			p.nextID = rec.ID + 1
		}
	}
	p.view.Store(state.Publish())
	return p, nil
}

// SetOnBatch sets the hook called after every batch, once its requests are
// completed, with whether it published a new View; call it before Start.
// The event loops use it to deliver watch events to idle connections and
// to offer again what a full queue refused.
func (p *Pipeline) SetOnBatch(fn func(published bool)) { p.onBatch = fn }

// View returns the latest published version. Safe from any goroutine.
func (p *Pipeline) View() *engine.View { return p.view.Load() }

// Start runs the pipeline goroutine.
func (p *Pipeline) Start() { go p.run() }

// Stop ends the pipeline goroutine after the batch in progress and waits
// for it. Requests still queued are dropped with their connections.
func (p *Pipeline) Stop() {
	p.stopOnce.Do(func() { close(p.stop) })
	<-p.done
}

// Submit queues r, waiting while the queue is full.
func (p *Pipeline) Submit(r *Request) error {
	select {
	case p.in <- r:
		return nil
	case <-p.stop:
		return ErrStopped
	}
}

// Offer queues r if the queue has room, and reports whether it did; it
// never blocks. An event loop offers rather than submits, so that a full
// queue holds back its writes but not its reads.
func (p *Pipeline) Offer(r *Request) (bool, error) {
	select {
	case <-p.stop:
		return false, ErrStopped
	default:
	}
	select {
	case p.in <- r:
		return true, nil
	default:
		return false, nil
	}
}

func (p *Pipeline) run() {
	defer close(p.done)
	// Sessions expire on tick boundaries (ZooKeeper's expiry buckets), so
	// the check runs right at each boundary rather than up to a tick late.
	expiry := time.NewTimer(p.untilNextTick(time.Now()))
	defer expiry.Stop()
	sweep := time.NewTicker(p.cfg.ContainerCheckInterval)
	defer sweep.Stop()
	// pace runs the sweep again when it has more to delete than its rate
	// allows now; nil while it has not.
	var pace <-chan time.Time
	resweep := func(at time.Time) {
		if !at.IsZero() && pace == nil {
			pace = time.After(time.Until(at))
		}
	}
	batch := make([]*Request, 0, p.cfg.MaxBatch)
	for {
		select {
		case r := <-p.in:
			batch = append(batch[:0], r)
		drain:
			for len(batch) < p.cfg.MaxBatch {
				select {
				case r := <-p.in:
					batch = append(batch, r)
				default:
					break drain
				}
			}
			batch = p.gather(batch)
			p.process(batch)
			clear(batch)
		case now := <-expiry.C:
			p.expireSessions(now)
			expiry.Reset(p.untilNextTick(time.Now()))
		case now := <-sweep.C:
			resweep(p.sweep(now))
		case now := <-pace:
			pace = nil
			resweep(p.sweep(now))
		case <-p.stop:
			return
		}
	}
}

// untilNextTick is the time from now to the next multiple of the tick.
func (p *Pipeline) untilNextTick(now time.Time) time.Duration {
	tick := p.cfg.Tick.Milliseconds()
	ms := now.UnixMilli()
	return time.Duration((ms/tick+1)*tick-ms) * time.Millisecond
}

// process makes one batch durable (one log record, one sync), applies it,
// publishes once and completes every request.
func (p *Pipeline) process(batch []*Request) {
	now := time.Now()
	entries := p.entries[:0]
	for _, r := range batch {
		switch r.Kind {
		case KindWrite:
			if s, ok := p.sessions[r.Entry.Session]; ok && r.Conn != nil && s.owner != r.Conn {
				r.Result = engine.Result{Zxid: p.state.Zxid(), Err: jute.CodeSessionMoved}
				continue
			}
			r.Entry.Time, r.Entry.Policy = now.UnixMilli(), p.cfg.Policy
			entries = append(entries, &r.Entry)
		case KindCreateSession:
			r.Entry = engine.Entry{Time: now.UnixMilli(), Session: p.allocSessionID(), Op: jute.OpCreateSession,
				Body: jute.AppendInt(nil, r.Timeout), Policy: p.cfg.Policy}
			entries = append(entries, &r.Entry)
		}
	}
	p.entries = entries
	logged := p.log(entries)
	var closeAfter []Closer
	for _, r := range batch {
		switch r.Kind {
		case KindWrite:
			switch {
			case r.Result.Err == jute.CodeSessionMoved: // refused before logging
			case !logged:
				r.Result = engine.Result{Zxid: p.state.Zxid(), Err: jute.CodeSystemError}
			default:
				r.Result = p.state.Apply(&r.Entry)
				if r.Entry.Op == jute.OpCloseSession {
					if s, ok := p.sessions[r.Entry.Session]; ok {
						// An expiry closes the owner's connection; a client's
						// own closeSession closes its connection itself.
						if s.owner != nil && s.owner != r.Conn {
							closeAfter = append(closeAfter, s.owner)
						}
						delete(p.sessions, r.Entry.Session)
					}
				}
			}
		case KindCreateSession:
			if logged {
				p.state.Apply(&r.Entry)
				s := &Session{ID: r.Entry.Session, Timeout: r.Timeout, Passwd: Password(r.Entry.Session), owner: r.Conn}
				s.Touch(now)
				p.sessions[s.ID] = s
				r.Session = s
			}
			r.Result.Zxid = p.state.Zxid()
		case KindReopenSession:
			r.Session, closeAfter = p.reopenSession(r, now, closeAfter)
			r.Result.Zxid = p.state.Zxid()
		case KindSync:
			r.Result.Zxid = p.state.Zxid()
		case KindGetEphemerals:
			r.Result.Zxid = p.state.Zxid()
			r.Result.Body = p.state.GetEphemerals(r.Entry.Session, r.Prefix, nil)
		}
	}
	clear(p.entries)
	published := logged && len(entries) > 0
	if published {
		p.publish()
	}
	// Inspections see the batch's end state, which is also the View.
	for _, r := range batch {
		if r.Kind == KindInspect {
			r.Inspect(p.state, p.sessions)
		}
	}
	for _, c := range closeAfter {
		_ = c.Close()
	}
	p.complete(batch)
	// After the completions: a loop that gets completions catches up with
	// the new View then, and this wake finds nothing more to do.
	if p.onBatch != nil {
		p.onBatch(published)
	}
}

// log makes entries durable as one record; false means they must not be
// applied (the disk is full, or the log failed for good).
func (p *Pipeline) log(entries []*engine.Entry) bool {
	if p.cfg.Log == nil || len(entries) == 0 {
		return true
	}
	first := engine.NextZxid(p.state.Zxid())
	p.payload = engine.AppendBatch(p.payload[:0], first, p.cfg.Policy, entries)
	start := time.Now()
	err := p.cfg.Log.Append(uint64(first), p.payload)
	p.lastLogged, p.lastAppend = len(entries), time.Since(start)
	if cap(p.payload) > 16<<20 {
		p.payload = nil
	}
	if err == nil {
		batchEntries.Update(float64(len(entries)))
		return true
	}
	logFailures.Inc()
	if time.Since(p.noSpace) > 10*time.Second {
		p.noSpace = time.Now()
		p.cfg.Logger.Error("writes are failing: the log could not be written; reads go on", "err", err)
	}
	return false
}

// allocSessionID returns the next unused session id.
func (p *Pipeline) allocSessionID() int64 {
	id := p.nextID
	for {
		if _, taken := p.state.Session(id); !taken && id != -1<<63 {
			break
		}
		id++
	}
	p.nextID = id + 1
	return id
}

// Inspect runs fn on the pipeline goroutine, at the end of a batch when the
// state is the published View, and waits for it. It must not be called from
// a goroutine the pipeline waits on (an event loop's callback).
func (p *Pipeline) Inspect(fn func(*engine.State, map[int64]*Session)) error {
	done := make(doneCompleter, 1)
	if err := p.Submit(&Request{Kind: KindInspect, Inspect: fn, From: done}); err != nil {
		return err
	}
	<-done
	return nil
}

type doneCompleter chan struct{}

func (d doneCompleter) Complete([]*Request) { d <- struct{}{} }

// Capture returns the current View and the sessions of that same version:
// what a snapshot holds.
func (p *Pipeline) Capture() (*engine.View, []engine.SessionRecord, error) {
	var v *engine.View
	var sessions []engine.SessionRecord
	err := p.Inspect(func(s *engine.State, _ map[int64]*Session) {
		v = p.view.Load()
		sessions = s.SessionRecords()
	})
	return v, sessions, err
}

// publish makes the state applied so far the current View.
func (p *Pipeline) publish() {
	v := p.state.Publish()
	p.view.Store(v)
	if cp := p.cfg.Checkpoints; cp != nil {
		if cp.Ready() && time.Since(p.lastOffer) >= p.cfg.CheckpointEvery {
			cp.Offer(p.state.TakeDelta(v))
			p.lastOffer = time.Now()
		}
		if d := cp.Durable(); d > p.removed && p.cfg.Log != nil {
			if err := p.cfg.Log.RemoveThrough(uint64(d)); err != nil {
				p.cfg.Logger.Warn("could not remove old log segments", "err", err)
			} else {
				p.removed = d
			}
		}
	}
}

// FinalDelta returns the changes not yet offered to the checkpointer; call
// it after Stop, to checkpoint them on a clean shutdown.
func (p *Pipeline) FinalDelta() engine.Delta {
	return p.state.TakeDelta(p.view.Load())
}

// complete hands each Completer its requests, in order, in one call.
func (p *Pipeline) complete(batch []*Request) {
	for i, r := range batch {
		if r == nil || r.From == nil {
			continue
		}
		from := r.From
		group := []*Request{r}
		for j := i + 1; j < len(batch); j++ {
			if batch[j] != nil && batch[j].From == from {
				group = append(group, batch[j])
				batch[j] = nil
			}
		}
		from.Complete(group)
	}
}

// reopenSession resumes a session on a new connection. As in ZooKeeper, the
// old connection is dropped before the password is checked.
func (p *Pipeline) reopenSession(r *Request, now time.Time, closeAfter []Closer) (*Session, []Closer) {
	s, ok := p.sessions[r.Entry.Session]
	if !ok {
		return nil, closeAfter
	}
	if s.owner != nil && s.owner != r.Conn {
		closeAfter = append(closeAfter, s.owner)
		s.owner = nil
	}
	// ZooKeeper compares the whole password: any other length is wrong.
	if len(r.Passwd) != len(s.Passwd) || [16]byte(r.Passwd) != s.Passwd {
		return nil, closeAfter
	}
	s.owner = r.Conn
	s.Timeout = r.Timeout
	s.Touch(now)
	return s, closeAfter
}

// expireSessions closes every session not heard from within its timeout,
// through a closeSession entry like a client's, and drops its connection.
func (p *Pipeline) expireSessions(now time.Time) {
	nowMs := now.UnixMilli()
	tickMs := p.cfg.Tick.Milliseconds()
	var batch []*Request
	for _, s := range p.sessions {
		if expiresAt(s.lastHeard.Load(), s.Timeout, tickMs) <= nowMs {
			batch = append(batch, &Request{Kind: KindWrite, Entry: engine.Entry{Session: s.ID, Op: jute.OpCloseSession}})
			p.cfg.Logger.Debug("session expired", "session", s.ID)
		}
	}
	if len(batch) > 0 {
		p.process(batch)
	}
}

// sweep deletes empty containers that once had a child, containers never
// used for longer than ContainerMaxNeverUsed, and TTL nodes without children
// whose mtime is older than their TTL, as ZooKeeper's ContainerManager does:
// one at a time, a minute / ContainerMaxPerMinute apart. It returns when to
// run again for the rest, or the zero time when nothing is left.
func (p *Pipeline) sweep(now time.Time) time.Time {
	if now.Before(p.nextSweepDelete) {
		return p.nextSweepDelete
	}
	nowMs := now.UnixMilli()
	view := p.view.Load()
	var doomed []string
	p.state.Expiring(func(path string) {
		n, ok := view.Tree.Get(path)
		if !ok || n.NumChildren > 0 {
			return
		}
		switch {
		case n.IsContainer():
			neverUsed := p.cfg.ContainerMaxNeverUsed > 0 && n.Creates == 0 &&
				nowMs-n.Mtime > p.cfg.ContainerMaxNeverUsed.Milliseconds()
			if n.Creates > 0 || neverUsed {
				doomed = append(doomed, path)
			}
		case n.IsTTL():
			if nowMs-n.Mtime > n.TTL() {
				doomed = append(doomed, path)
			}
		}
	})
	if len(doomed) == 0 {
		return time.Time{}
	}
	p.process([]*Request{{Kind: KindWrite, Entry: engine.Entry{Op: jute.OpDeleteContainer, Body: []byte(doomed[0])}}})
	p.nextSweepDelete = now.Add(time.Minute / time.Duration(p.cfg.ContainerMaxPerMinute))
	if len(doomed) == 1 {
		return time.Time{}
	}
	return p.nextSweepDelete
}
