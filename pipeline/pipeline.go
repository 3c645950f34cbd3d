package pipeline

import (
	"errors"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/meerkat-zk/meerkat/engine"
	"github.com/meerkat-zk/meerkat/jute"
	"github.com/meerkat-zk/meerkat/membership"
)

// Config is the pipeline's part of the server configuration.
type Config struct {
	// ServerID goes into the high byte of session ids (1 in standalone, as
	// ZooKeeper uses; at most 254 when extended types are on); in an
	// ensemble it is also the member's id.
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
	// MaxBatch bounds how many requests one step takes.
	MaxBatch int
	// CommitWait bounds how long a batch may wait for more writes when the
	// previous batch showed concurrent writers (see gather, and on an
	// ensemble's leader holdProposal); 0 means the duration of the last
	// log append, at most 1 ms (on the leader, gatherPatience). A negative
	// value never waits.
	CommitWait time.Duration
	// CheckpointEvery is the least time between two deltas offered to the
	// checkpointer: changes to the same znodes in between are written to
	// it once. 0 means 1 s: a hot znode then costs the checkpoint one
	// write a second, and since the checkpoint is made durable only every
	// snapCount entries or 30 s, a restart replays little more for it.
	CheckpointEvery time.Duration
	// Policy is what this server stamps into the writes it accepts: the
	// settings that decide what a write does (see engine.Policy).
	Policy engine.Policy
	// Log, when set, makes every batch durable before it is applied: a
	// write is acknowledged only once its batch is on disk. A standalone
	// server has a Log; a member of an ensemble has a Replicator instead.
	Log Log
	// Replicator, when set, makes the pipeline a member of an ensemble:
	// writes are ordered by consensus, and the pipeline applies what it
	// commits (see Replicator).
	Replicator Replicator
	// SyncTimeout bounds how long a sync, or a session's revalidation,
	// waits for the leader's answer before its connection is closed; 0
	// means 10 s.
	SyncTimeout time.Duration
	// OnRole, when set, is told from the pipeline goroutine who leads
	// whenever that changes: 0 once no leader has been known for
	// LeaderGrace, when no client can be served, and then readOnly once
	// the member serves read-only clients (ReadOnlyAfter). A member starts
	// without a leader.
	OnRole func(leader uint64, readOnly bool)
	// LeaderGrace is how long a member without a leader holds its clients'
	// requests, waiting for an election, before it gives up on them (and
	// tells OnRole); 0 means 1 s, raft's election timeout.
	LeaderGrace time.Duration
	// ReadOnlyAfter, when positive, is readonlymode.enabled: a member that
	// has been without a leader this long serves read-only clients (reads,
	// and NOTREADONLY to writes and syncs) until it has one again. Only
	// local sessions can be opened meanwhile (Policy.LocalSessions);
	// ZooKeeper waits max(2 s, tickTime).
	ReadOnlyAfter time.Duration
	// ReconfigMinVoters is the fewest voters a reconfig may leave: 2 with
	// standaloneEnabled (a single voter would run standalone), else 1.
	ReconfigMinVoters int
	// OnMembership, when set, is told from the pipeline goroutine the
	// membership /zookeeper/config holds whenever a reconfig changed it,
	// or an installed image brought another.
	OnMembership func(membership.Config)
	// UpgradeLocalSessions is localSessionsUpgradingEnabled: a local
	// session's first ephemeral create makes it global first; without it
	// that create fails EPHEMERALONLOCALSESSION.
	UpgradeLocalSessions bool
	// OnFatal is called when the pipeline cannot go on (a committed entry
	// it cannot decode); nil panics.
	OnFatal func(error)
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
	// Reset hands over a full image that replaces the checkpoint's
	// content; it may wait for the checkpointer.
	Reset(engine.Delta)
}

// Validate fills defaults and rejects impossible settings.
func (c *Config) Validate() error {
	if c.ServerID < 0 || c.ServerID > 254 {
		return errors.New("pipeline: server id must be in [0, 254]")
	}
	if c.Tick <= 0 {
		return errors.New("pipeline: tick must be positive")
	}
	if c.Log != nil && c.Replicator != nil {
		return errors.New("pipeline: a pipeline has a Log or a Replicator, not both")
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
		c.CheckpointEvery = time.Second
	}
	if c.SyncTimeout <= 0 {
		c.SyncTimeout = 10 * time.Second
	}
	if c.ReconfigMinVoters <= 0 {
		c.ReconfigMinVoters = 1
	}
	if c.LeaderGrace <= 0 {
		c.LeaderGrace = time.Second
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
	// KindSync is a barrier: it completes after every earlier write, and
	// in an ensemble after everything the leader had committed when it
	// arrived.
	KindSync
	// KindGetEphemerals lists the ephemerals of Entry.Session under Prefix.
	KindGetEphemerals
	// KindInspect runs Inspect on the pipeline goroutine, at the end of its
	// step, when the state is the published View.
	KindInspect
	// KindInstall replaces a member's state with Install, an image its
	// leader sent (see Pipeline.Install).
	KindInstall
)

// Completer receives completed requests. Complete is called from the
// pipeline goroutine, once per step per Completer; it must not block. A
// Completer gets its requests in the order they were submitted, except
// that in an ensemble a write, sync or reopen completes when its answer
// comes, possibly after requests submitted behind it: a connection answers
// in its own order (netpoll does).
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
	// Install is the state KindInstall installs.
	Install *engine.State
	// From receives the request when it completes.
	From Completer

	// Result is set on completion. For KindGetEphemerals its Body is the
	// response record. Err CONNECTIONLOSS means the outcome is unknown (the
	// leader changed or could not be reached): the connection is closed.
	Result engine.Result
	// Session is the opened or reopened session; nil when reopening failed.
	Session *Session
	// Tag is the submitter's own bookkeeping, untouched by the pipeline.
	Tag any
}

// ErrStopped is returned by Submit and Offer after Stop.
var ErrStopped = errors.New("pipeline: stopped")

// Pipeline owns the state and applies writes. Create it with New, start it
// with Start, stop it with Stop; or drive it without a goroutine with Step.
type Pipeline struct {
	cfg   Config
	state *engine.State
	view  atomic.Pointer[engine.View]
	// pendingSyncs counts the syncs waiting for a read index, as of the
	// last step.
	pendingSyncs atomic.Int64
	in           chan *Request
	stop         chan struct{}
	done         chan struct{}
	stopOnce     sync.Once
	started      bool
	// sessions and nextID are owned by the pipeline goroutine.
	sessions map[int64]*Session
	nextID   int64
	// nextSweepDelete is the earliest the sweep may delete again: as
	// ZooKeeper's ContainerManager, it waits a minute / maxPerMinute after
	// each deletion.
	nextSweepDelete time.Time
	// nextExpiry, nextSweep and nextPace are when the session expiry and
	// the sweep run next (nextPace is zero unless the sweep paces itself).
	nextExpiry, nextSweep, nextPace time.Time
	// onBatch is called after each step that completed or published
	// something, from the pipeline goroutine.
	onBatch func(published bool)

	// What one step gathers: the requests it completes (in order), the
	// inspections it runs and the connections it closes at its end, and
	// whether it applied anything (then it publishes).
	completed  []*Request
	inspects   []*Request
	closeAfter []Closer
	applied    bool

	// entries and payload are reused by every standalone batch.
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
	// lastOffer is when the checkpointer last got a delta; unoffered is
	// set while the View holds changes it has not been offered yet.
	lastOffer time.Time
	unoffered bool

	// member is the ensemble side; nil for a standalone pipeline.
	member *member
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
		p.addSession(rec.ID, rec.Timeout, nil, now)
	}
	if cfg.Replicator != nil {
		p.member = newMember(p, now)
	}
	p.view.Store(state.Publish())
	return p, nil
}

// addSession starts tracking session id, owned by conn (nil when its
// client is elsewhere), as heard from now.
func (p *Pipeline) addSession(id int64, timeout int32, conn Closer, now time.Time) *Session {
	s := &Session{ID: id, Timeout: timeout, Passwd: Password(id), owner: conn}
	s.Touch(now)
	p.sessions[id] = s
	// Never hand out an id this server gave before a restart.
	if id>>56 == p.cfg.ServerID && id >= p.nextID {
		p.nextID = id + 1
	}
	return s
}

// SetOnBatch sets the hook called after every step that completed or
// published something, with whether it published a new View; call it
// before Start. The event loops use it to deliver watch events to idle
// connections and to offer again what a full queue refused.
func (p *Pipeline) SetOnBatch(fn func(published bool)) { p.onBatch = fn }

// View returns the latest published version. Safe from any goroutine.
func (p *Pipeline) View() *engine.View { return p.view.Load() }

// PendingSyncs returns how many syncs wait for a read index or for the
// state to be applied through it (mntr's zk_pending_syncs).
func (p *Pipeline) PendingSyncs() int { return int(p.pendingSyncs.Load()) }

// Start runs the pipeline goroutine.
func (p *Pipeline) Start() {
	p.started = true
	go p.run()
}

// Stop ends the pipeline goroutine after the step in progress and waits
// for it. Requests still queued are dropped with their connections.
func (p *Pipeline) Stop() {
	p.stopOnce.Do(func() { close(p.stop) })
	if p.started {
		<-p.done
	}
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

// run is the pipeline goroutine: it sleeps until a request, an event from
// the ensemble or a deadline, then takes a step.
func (p *Pipeline) run() {
	defer close(p.done)
	timer := time.NewTimer(time.Hour)
	defer timer.Stop()
	var events <-chan struct{}
	if p.member != nil {
		events = p.member.mail.ready
	}
	for {
		timer.Reset(time.Until(p.nextDeadline(time.Now())))
		var first *Request
		select {
		case first = <-p.in:
		case <-events:
		case <-timer.C:
		case <-p.stop:
			return
		}
		p.step(time.Now(), first)
	}
}

// Step takes one step at now without waiting: it handles the events from
// the ensemble, the queued requests (up to MaxBatch) and the deadlines due
// by now. Start calls it from the pipeline goroutine; a test that never
// calls Start drives the pipeline with it, on a clock of its own.
func (p *Pipeline) Step(now time.Time) { p.step(now, nil) }

func (p *Pipeline) step(now time.Time, first *Request) {
	if p.member != nil {
		p.member.handleEvents(now)
	}
	var batch []*Request
	if first != nil {
		batch = append(batch, first)
	}
drain:
	for len(batch) < p.cfg.MaxBatch {
		select {
		case r := <-p.in:
			batch = append(batch, r)
		default:
			break drain
		}
	}
	if len(batch) > 0 {
		if p.member != nil {
			p.member.admit(now, batch)
		} else {
			p.admit(now, p.gather(batch))
		}
	}
	p.runDeadlines(now)
	if p.member != nil {
		p.member.flush(now)
	}
	p.finishStep()
}

// nextDeadline is when the pipeline must take a step even if nothing
// arrives.
func (p *Pipeline) nextDeadline(now time.Time) time.Time {
	next := now.Add(time.Hour)
	for _, t := range []time.Time{p.nextExpiry, p.nextSweep, p.nextPace} {
		if !t.IsZero() && t.Before(next) {
			next = t
		}
	}
	if p.member != nil {
		if t := p.member.nextDeadline(); !t.IsZero() && t.Before(next) {
			next = t
		}
	}
	if t := p.offerDeadline(now); !t.IsZero() && t.Before(next) {
		next = t
	}
	return next
}

// offerDeadline is when waiting changes are next offered to the
// checkpointer (zero if none wait): CheckpointEvery after the last offer,
// or, if that has passed and the checkpointer was busy, a little later.
func (p *Pipeline) offerDeadline(now time.Time) time.Time {
	if !p.unoffered {
		return time.Time{}
	}
	if at := p.lastOffer.Add(p.cfg.CheckpointEvery); at.After(now) {
		return at
	}
	return now.Add(p.cfg.CheckpointEvery / 8)
}

// runDeadlines runs what is due by now: session expiry on tick boundaries
// (ZooKeeper's expiry buckets) and the sweep, on a standalone server or
// the leader; the ensemble's own timers.
func (p *Pipeline) runDeadlines(now time.Time) {
	if p.nextExpiry.IsZero() {
		p.nextExpiry = now.Add(p.untilNextTick(now))
		p.nextSweep = now.Add(p.cfg.ContainerCheckInterval)
	}
	decides := p.member == nil || p.member.isLeader()
	if !now.Before(p.nextExpiry) {
		p.expireSessions(now, decides)
		p.nextExpiry = now.Add(p.untilNextTick(now))
	}
	sweepNow := !now.Before(p.nextSweep)
	if sweepNow {
		p.nextSweep = now.Add(p.cfg.ContainerCheckInterval)
	}
	if !p.nextPace.IsZero() && !now.Before(p.nextPace) {
		p.nextPace, sweepNow = time.Time{}, true
	}
	if sweepNow && decides {
		if at := p.sweep(now); !at.IsZero() {
			p.nextPace = at
		}
	}
	if p.member != nil {
		p.member.runDeadlines(now)
	}
}

// untilNextTick is the time from now to the next multiple of the tick.
func (p *Pipeline) untilNextTick(now time.Time) time.Duration {
	tick := p.cfg.Tick.Milliseconds()
	ms := now.UnixMilli()
	return time.Duration((ms/tick+1)*tick-ms) * time.Millisecond
}

// finishStep publishes what the step applied, runs its inspections,
// closes the connections it dropped and hands every Completer its
// requests.
func (p *Pipeline) finishStep() {
	published := p.applied
	if published {
		p.publish()
		p.applied = false
	} else if p.unoffered {
		p.offerCheckpoint()
	}
	// Inspections see the step's end state, which is also the View.
	for _, r := range p.inspects {
		r.Inspect(p.state, p.sessions)
	}
	p.completed = append(p.completed, p.inspects...)
	clear(p.inspects)
	p.inspects = p.inspects[:0]
	for _, c := range p.closeAfter {
		_ = c.Close()
	}
	clear(p.closeAfter)
	p.closeAfter = p.closeAfter[:0]
	if len(p.completed) == 0 && !published {
		return
	}
	p.complete(p.completed)
	clear(p.completed)
	p.completed = p.completed[:0]
	// After the completions: a loop that gets completions catches up with
	// the new View then, and this wake finds nothing more to do.
	if p.onBatch != nil {
		p.onBatch(published)
	}
}

// finish completes r at the end of the step.
func (p *Pipeline) finish(r *Request) {
	if r.Kind == KindInspect {
		p.inspects = append(p.inspects, r)
		return
	}
	p.completed = append(p.completed, r)
}

// lost completes r as a request whose outcome is unknown: its connection
// is closed, and its client sees ConnectionLoss, as ZooKeeper's do when
// their server loses the leader.
func (p *Pipeline) lost(r *Request) {
	r.Result = engine.Result{Zxid: p.state.Zxid(), Err: jute.CodeConnectionLoss}
	r.Session = nil
	if r.Conn != nil {
		p.closeAfter = append(p.closeAfter, r.Conn)
	}
	p.finish(r)
}

// applyEntry applies one ordered entry and keeps the session table in
// step with it; r, when set, is the local request that waits for it.
func (p *Pipeline) applyEntry(e *engine.Entry, r *Request, now time.Time) engine.Result {
	res := p.state.Apply(e)
	p.applied = true
	switch e.Op {
	case jute.OpCreateSession:
		s, ok := p.sessions[e.Session]
		if ok && s.local {
			// The upgrade of a local session: the same Session, which its
			// connection touches, is now global.
			s.local = false
		}
		if !ok {
			var conn Closer
			if r != nil {
				conn = r.Conn
			}
			d := jute.NewDecoder(e.Body)
			s = p.addSession(e.Session, d.Int(), conn, now)
		}
		if p.member != nil {
			s.ownerMember = e.Ref.Member
		}
		if r != nil {
			r.Session = s
		}
	case jute.OpCloseSession:
		if s, ok := p.sessions[e.Session]; ok {
			// An expiry closes the owner's connection; a client's own
			// closeSession closes its connection itself.
			if s.owner != nil && (r == nil || s.owner != r.Conn) {
				p.closeAfter = append(p.closeAfter, s.owner)
			}
			delete(p.sessions, e.Session)
		}
	}
	if r != nil {
		r.Result = res
	}
	return res
}

// allocSessionID returns the next unused session id.
func (p *Pipeline) allocSessionID() int64 {
	id := p.nextID
	for {
		if _, taken := p.state.Session(id); !taken && id != -1<<63 {
			if _, tracked := p.sessions[id]; !tracked {
				break
			}
		}
		id++
	}
	p.nextID = id + 1
	return id
}

// Inspect runs fn on the pipeline goroutine, at the end of a step when the
// state is the published View, and waits for it. It must not be called
// from a goroutine the pipeline waits on (an event loop's callback).
func (p *Pipeline) Inspect(fn func(*engine.State, map[int64]*Session)) error {
	return p.await(&Request{Kind: KindInspect, Inspect: fn})
}

// Install replaces a member's state with state, an image of its leader's
// that covers more of the log than this member has applied, and waits
// until the pipeline took it. The writes this member had in flight fail
// (their outcome is unknown), its clients are disconnected (their watches
// are set again when they reconnect, against the new state), and the
// checkpoint gets the whole image (Checkpoints.Reset). The entries raft
// delivers afterwards up to the image's Applied are skipped.
func (p *Pipeline) Install(state *engine.State) error {
	if p.member == nil {
		return errors.New("pipeline: only a member of an ensemble installs images")
	}
	return p.await(&Request{Kind: KindInstall, Install: state})
}

// await submits r and waits until the pipeline has completed it.
func (p *Pipeline) await(r *Request) error {
	done := make(doneCompleter, 1)
	r.From = done
	if err := p.Submit(r); err != nil {
		return err
	}
	select {
	case <-done:
		return nil
	case <-p.stop:
		return ErrStopped
	}
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
	if p.cfg.Checkpoints != nil {
		p.unoffered = true
		p.offerCheckpoint()
	}
}

// offerCheckpoint hands Config.Checkpoints (which must be set) the
// changes published since its last delta, at most every CheckpointEvery,
// and drops the log its durable checkpoint covers. publish calls it, and
// so does a deadline while changes wait (offerDeadline): after the last
// write of a burst, they would otherwise wait for the next write, and the
// checkpoint and the log's compaction with them.
func (p *Pipeline) offerCheckpoint() {
	cp := p.cfg.Checkpoints
	if p.unoffered && cp.Ready() && time.Since(p.lastOffer) >= p.cfg.CheckpointEvery {
		cp.Offer(p.state.TakeDelta(p.view.Load()))
		p.lastOffer, p.unoffered = time.Now(), false
	}
	if d := cp.Durable(); d > p.removed && p.cfg.Log != nil {
		if err := p.cfg.Log.RemoveThrough(uint64(d)); err != nil {
			p.cfg.Logger.Warn("could not remove old log segments", "err", err)
		} else {
			p.removed = d
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

// expireSessions closes every session not heard from within its timeout
// and drops its connection: a local session here and now, a global one,
// where the server decides (standalone, or the leader), through a
// closeSession entry like a client's.
func (p *Pipeline) expireSessions(now time.Time, decides bool) {
	nowMs := now.UnixMilli()
	tickMs := p.cfg.Tick.Milliseconds()
	var expired []*engine.Entry
	for _, s := range p.sessions {
		if s.closing || expiresAt(s.lastHeard.Load(), s.Timeout, tickMs) > nowMs {
			continue
		}
		switch {
		case s.local:
			p.dropLocal(s)
		case decides:
			expired = append(expired, &engine.Entry{Session: s.ID, Op: jute.OpCloseSession})
			s.closing = p.member != nil
		default:
			continue
		}
		p.cfg.Logger.Debug("session expired", "session", s.ID, "local", s.local)
	}
	p.order(now, expired)
}

// dropLocal forgets local session s and closes its connection.
func (p *Pipeline) dropLocal(s *Session) {
	delete(p.sessions, s.ID)
	if s.owner != nil {
		p.closeAfter = append(p.closeAfter, s.owner)
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
	p.order(now, []*engine.Entry{{Op: jute.OpDeleteContainer, Body: []byte(doomed[0])}})
	p.nextSweepDelete = now.Add(time.Minute / time.Duration(p.cfg.ContainerMaxPerMinute))
	if len(doomed) == 1 {
		return time.Time{}
	}
	return p.nextSweepDelete
}

// order hands entries the server decided on its own (expiries, sweeps) to
// the log: a standalone server logs and applies them now; a leader
// proposes them.
func (p *Pipeline) order(now time.Time, entries []*engine.Entry) {
	if len(entries) == 0 {
		return
	}
	if p.member != nil {
		p.member.propose(now, entries)
		return
	}
	for _, e := range entries {
		e.Time, e.Policy = now.UnixMilli(), p.cfg.Policy
	}
	if p.log(entries) {
		for _, e := range entries {
			p.applyEntry(e, nil, now)
		}
	}
}
