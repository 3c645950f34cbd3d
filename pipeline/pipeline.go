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
	// (znode.container.maxPerMinute).
	ContainerMaxPerMinute int
	// ContainerMaxNeverUsed, when non-zero, also removes containers that
	// never had a child once they are older than this
	// (znode.container.maxNeverUsedIntervalMs).
	ContainerMaxNeverUsed time.Duration
	// QueueSize bounds the requests waiting for the pipeline.
	QueueSize int
	// MaxBatch bounds how many requests one batch applies.
	MaxBatch int
	// Engine configures the state machine.
	Engine engine.Config
	// Logger receives the pipeline's logs.
	Logger *slog.Logger
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
	// KindInspect runs Inspect on the pipeline goroutine.
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
	// Inspect is run by KindInspect with the state, on the pipeline goroutine.
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

// ErrStopped is returned by Submit after Stop.
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
	// sweepBudget is how many more deletions the sweep may make this minute.
	sweepBudget    int
	sweepBudgetEnd time.Time
	// onPublish is called after each new View is published, from the
	// pipeline goroutine.
	onPublish func(*engine.View)
}

// New returns a pipeline over a fresh state. onPublish, if not nil, is
// called after every publication (to wake the event loops).
func New(cfg Config, onPublish func(*engine.View)) (*Pipeline, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	p := &Pipeline{
		cfg:       cfg,
		state:     engine.NewState(cfg.Engine),
		in:        make(chan *Request, cfg.QueueSize),
		stop:      make(chan struct{}),
		done:      make(chan struct{}),
		sessions:  map[int64]*Session{},
		nextID:    sessionIDBase(cfg.ServerID, time.Now().UnixMilli()),
		onPublish: onPublish,
	}
	p.view.Store(p.state.Publish())
	return p, nil
}

// SetOnPublish sets the publication hook; call it before Start.
func (p *Pipeline) SetOnPublish(fn func(*engine.View)) { p.onPublish = fn }

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

// Submit queues r. It blocks while the queue is full, which is how a burst
// of writes pushes back on the event loops.
func (p *Pipeline) Submit(r *Request) error {
	select {
	case p.in <- r:
		return nil
	case <-p.stop:
		return ErrStopped
	}
}

func (p *Pipeline) run() {
	defer close(p.done)
	tick := time.NewTicker(p.cfg.Tick)
	defer tick.Stop()
	sweep := time.NewTicker(p.cfg.ContainerCheckInterval)
	defer sweep.Stop()
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
			p.process(batch)
			clear(batch)
		case now := <-tick.C:
			p.expireSessions(now)
		case now := <-sweep.C:
			p.sweep(now)
		case <-p.stop:
			return
		}
	}
}

// process applies one batch, publishes once and completes every request.
func (p *Pipeline) process(batch []*Request) {
	now := time.Now()
	applied := false
	var closeAfter []Closer
	for _, r := range batch {
		switch r.Kind {
		case KindWrite:
			if s, ok := p.sessions[r.Entry.Session]; ok && s.owner != r.Conn && r.Conn != nil {
				r.Result = engine.Result{Zxid: p.state.Zxid(), Err: jute.CodeSessionMoved}
				continue
			}
			r.Entry.Time = now.UnixMilli()
			r.Result = p.state.Apply(&r.Entry)
			applied = true
			if r.Entry.Op == jute.OpCloseSession {
				delete(p.sessions, r.Entry.Session)
			}
		case KindCreateSession:
			r.Session = p.createSession(r, now)
			r.Result.Zxid = p.state.Zxid()
			applied = true
		case KindReopenSession:
			r.Session, closeAfter = p.reopenSession(r, now, closeAfter)
			r.Result.Zxid = p.state.Zxid()
		case KindSync:
			r.Result.Zxid = p.state.Zxid()
		case KindGetEphemerals:
			r.Result.Zxid = p.state.Zxid()
			r.Result.Body = p.state.GetEphemerals(r.Entry.Session, r.Prefix, nil)
		case KindInspect:
			r.Inspect(p.state, p.sessions)
		}
	}
	if applied {
		p.publish()
	}
	for _, c := range closeAfter {
		_ = c.Close()
	}
	p.complete(batch)
}

func (p *Pipeline) publish() {
	v := p.state.Publish()
	p.view.Store(v)
	if p.onPublish != nil {
		p.onPublish(v)
	}
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

func (p *Pipeline) createSession(r *Request, now time.Time) *Session {
	id := p.nextID
	for {
		if _, taken := p.state.Session(id); !taken && id != -1<<63 {
			break
		}
		id++
	}
	p.nextID = id + 1
	p.state.Apply(&engine.Entry{
		Time:    now.UnixMilli(),
		Session: id,
		Op:      jute.OpCreateSession,
		Body:    jute.AppendInt(nil, r.Timeout),
	})
	s := &Session{ID: id, Timeout: r.Timeout, Passwd: Password(id), owner: r.Conn}
	s.Touch(now)
	p.sessions[id] = s
	return s
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
	var expired []*Session
	for _, s := range p.sessions {
		if expiresAt(s.lastHeard.Load(), s.Timeout, tickMs) <= nowMs {
			expired = append(expired, s)
		}
	}
	if len(expired) == 0 {
		return
	}
	for _, s := range expired {
		p.state.Apply(&engine.Entry{Time: nowMs, Session: s.ID, Op: jute.OpCloseSession})
		delete(p.sessions, s.ID)
		p.cfg.Logger.Debug("session expired", "session", s.ID)
	}
	p.publish()
	for _, s := range expired {
		if s.owner != nil {
			_ = s.owner.Close()
		}
	}
}

// sweep deletes empty containers that once had a child, containers never
// used for longer than ContainerMaxNeverUsed, and TTL nodes without children
// whose mtime is older than their TTL, as ZooKeeper's ContainerManager does.
func (p *Pipeline) sweep(now time.Time) {
	if now.After(p.sweepBudgetEnd) {
		p.sweepBudget = p.cfg.ContainerMaxPerMinute
		p.sweepBudgetEnd = now.Add(time.Minute)
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
	if len(doomed) > p.sweepBudget {
		doomed = doomed[:p.sweepBudget]
	}
	if len(doomed) == 0 {
		return
	}
	p.sweepBudget -= len(doomed)
	for _, path := range doomed {
		p.state.Apply(&engine.Entry{Time: nowMs, Op: jute.OpDeleteContainer, Body: []byte(path)})
	}
	p.publish()
}
