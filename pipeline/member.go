package pipeline

import (
	"fmt"
	"sync"
	"time"

	"github.com/meerkat-zk/meerkat/engine"
	"github.com/meerkat-zk/meerkat/jute"
	"github.com/meerkat-zk/meerkat/zkmetrics"
)

// Replicator is the consensus layer as a member's pipeline uses it (raft
// and the peer transport). Its methods must not block for long: what they
// start is answered through the pipeline's event methods (Committed,
// LeaderChanged, ReadIndexDone, Received, PeerLost).
type Replicator interface {
	// Propose hands raft one proposal, an engine.AppendRefBatch. Only the
	// leader proposes; a proposal that raft drops is never committed, and
	// its requests fail when the leadership changes.
	Propose(data []byte)
	// ReadIndex asks raft for its commit index as of now: once a quorum
	// has confirmed the leader, ReadIndexDone reports it with ctx.
	ReadIndex(ctx uint64)
	// Send sends msg to member to; a message that cannot be delivered is
	// reported with PeerLost.
	Send(to uint64, msg []byte)
	// Synced reports, on the leader, whether member id is connected and
	// caught up with the log (ZooKeeper's synced learner).
	Synced(id uint64) bool
}

// LogEntry is one committed raft entry.
type LogEntry struct {
	// Index and Term are the entry's raft index and term.
	Index, Term uint64
	// Data is a proposal (engine.AppendRefBatch); empty for the entry a
	// new leader opens its term with (or a conf change raft refused).
	Data []byte
	// Config marks a membership change, which raft has applied itself.
	Config bool
}

// The events a member's pipeline takes from the consensus layer; the
// methods are safe from any goroutine and never block. Each is handled at
// the next step, in the order they came.

// Committed hands over committed entries, in log order.
func (p *Pipeline) Committed(entries []LogEntry) {
	p.member.mail.put(event{kind: evCommitted, entries: entries})
}

// LeaderChanged reports the member's view of the leader (0: none known)
// and the raft term.
func (p *Pipeline) LeaderChanged(leader, term uint64) {
	p.member.mail.put(event{kind: evLeader, a: leader, b: term})
}

// ReadIndexDone answers ReadIndex(ctx): raft had committed through index.
func (p *Pipeline) ReadIndexDone(ctx, index uint64) {
	p.member.mail.put(event{kind: evReadIndex, a: ctx, b: index})
}

// Received hands over a message another member's pipeline sent.
func (p *Pipeline) Received(from uint64, msg []byte) {
	p.member.mail.put(event{kind: evMessage, a: from, msg: msg})
}

// PeerLost reports that messages to member id may have been lost (its
// connection broke).
func (p *Pipeline) PeerLost(id uint64) {
	p.member.mail.put(event{kind: evPeerLost, a: id})
}

type eventKind uint8

const (
	evCommitted eventKind = iota
	evLeader
	evReadIndex
	evMessage
	evPeerLost
)

type event struct {
	kind    eventKind
	entries []LogEntry
	a, b    uint64
	msg     []byte
}

// mailbox is an unbounded queue of events with a wake-up channel. It is
// unbounded so that the raft goroutine never waits for the pipeline (which
// may itself be waiting to propose); raft's own flow control bounds it.
type mailbox struct {
	mu     sync.Mutex
	events []event
	ready  chan struct{}
}

func (mb *mailbox) put(ev event) {
	mb.mu.Lock()
	mb.events = append(mb.events, ev)
	mb.mu.Unlock()
	select {
	case mb.ready <- struct{}{}:
	default:
	}
}

func (mb *mailbox) take(buf []event) []event {
	mb.mu.Lock()
	defer mb.mu.Unlock()
	buf = append(buf[:0], mb.events...)
	clear(mb.events)
	mb.events = mb.events[:0]
	return buf
}

// readRetry is how long a read index may stay unanswered before it is
// asked for again, with a fresh ctx.
const readRetry = time.Second

// member is the ensemble side of a pipeline: what it forwards, proposes
// and waits for. It lives on the pipeline goroutine.
type member struct {
	p    *Pipeline
	id   uint64
	repl Replicator
	mail mailbox
	// leader and term are the member's view of raft's leadership.
	leader, term uint64
	// nextRef numbers this member's requests. It starts at the clock in
	// ns and rises past every ref of this member applied, so refs never
	// repeat across restarts.
	nextRef uint64
	// waiting are this member's writes in flight, by ref.
	waiting map[uint64]*waiter
	// outbox holds this step's writes, to forward or propose at its end.
	outbox []*engine.Entry
	// accepted is, per member, the highest ref the log holds or this
	// leader proposed: a forwarded write at or below it is a duplicate
	// (or overtaken by later ones) and is dropped.
	accepted map[int32]uint64
	// proposal holds what this leader proposes at the end of the step;
	// refused the refusals to send, per member.
	proposal []*engine.Entry
	refused  map[int32][]refusal
	// unapplied counts the proposals this leader made in its term that
	// it has not applied yet; proposedAt is when it made the last one,
	// lastRound how many writes it carried, and roundApplied when the
	// last of it was applied (see holdProposal).
	unapplied    int
	proposedAt   time.Time
	lastRound    int
	roundApplied time.Time
	// reads are syncs and session lookups waiting for a read index or
	// for the state to be applied through it.
	reads   []*readWait
	nextCtx uint64
	// syncs and lookups are this step's, to ask one read index for.
	syncs, lookups []*Request
	// reopens are sessions being revalidated with the leader, by ref;
	// deferred are revalidations this leader answers once it has applied
	// through their index.
	reopens  map[uint64]*waiter
	deferred []revalidation
	// nextReport is when a follower next reports its sessions' liveness.
	nextReport time.Time
	// told is the role OnRole was last told of; leaderless is since when
	// no leader is known (zero while one is). For LeaderGrace after that,
	// requests wait for the election rather than fail; after ReadOnlyAfter
	// the member is readOnly until it has a leader again.
	told       role
	leaderless time.Time
	readOnly   bool
	// reconfiguring is set on the leader from proposing a reconfig that
	// passed its checks until it is applied: one at a time.
	reconfiguring bool
	// policySeen is set once a batch of the applied term (since this
	// process started or installed an image) has been applied: the first
	// one's Policy is the leader's, which may version the membership.
	policySeen bool
	// held are the reopens waiting for a leader to ask: they came while
	// none was known, or their revalidation was lost with the old one
	// (asking again is harmless).
	held   []*waiter
	events []event
	buf    []byte
}

// waiter is a request in flight: sent to leader via at since (a reopen
// last asked at asked).
type waiter struct {
	r            *Request
	via          uint64
	since, asked time.Time
}

// readWait is a group of requests waiting for one read index.
type readWait struct {
	syncs, lookups []*Request
	ctx            uint64
	// index is 0 until raft answers.
	index        uint64
	asked, since time.Time
}

func newMember(p *Pipeline, now time.Time) *member {
	m := &member{p: p, id: uint64(p.cfg.ServerID), repl: p.cfg.Replicator,
		mail: mailbox{ready: make(chan struct{}, 1)}, nextRef: uint64(now.UnixNano()), leaderless: now,
		waiting: map[uint64]*waiter{}, accepted: map[int32]uint64{}, refused: map[int32][]refusal{},
		reopens: map[uint64]*waiter{}}
	return m
}

func (m *member) isLeader() bool { return m.leader == m.id }

// gaveUp reports whether the member has been without a leader for longer
// than LeaderGrace: then what waits for one fails.
func (m *member) gaveUp(now time.Time) bool {
	return m.leader == 0 && now.Sub(m.leaderless) >= m.p.cfg.LeaderGrace
}

func (m *member) newRef() uint64 {
	m.nextRef++
	return m.nextRef
}

// admit takes a step's requests: writes wait in the outbox for the end of
// the step, syncs for a read index, reopens for the leader.
func (m *member) admit(now time.Time, batch []*Request) {
	p := m.p
	for _, r := range batch {
		switch r.Kind {
		case KindWrite:
			if m.answerLocally(r, now) {
				continue
			}
			if p.movedAway(r) {
				r.Result = engine.Result{Zxid: p.state.Zxid(), Err: jute.CodeSessionMoved}
				p.finish(r)
				continue
			}
			m.enqueue(r, now)
		case KindCreateSession, KindReopenSession:
			m.admitSession(r, now)
		case KindSync:
			if m.readOnly {
				m.notReadOnly(r)
				continue
			}
			m.syncs = append(m.syncs, r)
		case KindGetEphemerals:
			p.getEphemerals(r)
			p.finish(r)
		case KindInstall:
			m.install(r.Install, now)
			p.finish(r)
		default:
			p.finish(r)
		}
	}
}

// enqueue gives r's entry a ref and puts it in the outbox.
func (m *member) enqueue(r *Request, now time.Time) {
	ref := m.newRef()
	r.Entry.Ref = engine.Ref{Member: int32(m.id), Request: ref}
	m.waiting[ref] = &waiter{r: r, since: now}
	m.outbox = append(m.outbox, &r.Entry)
}

// reopen resumes a session known here: the local checks, then the leader's
// revalidation (which also restarts the session's clock there). since is
// when the client asked.
func (m *member) reopen(r *Request, since, now time.Time) {
	p := m.p
	s := p.checkReopen(r)
	switch {
	case s == nil:
		m.invalid(r)
	case m.leader == 0 && m.gaveUp(now):
		p.lost(r)
	case m.leader == 0:
		m.held = append(m.held, &waiter{r: r, since: since})
	case m.isLeader():
		if m.revalidate(int32(m.id), r.Entry.Session, r.Timeout, now) {
			p.takeOver(s, r, now)
		}
		r.Result.Zxid = p.state.Zxid()
		p.finish(r)
	default:
		ref := m.newRef()
		w := &waiter{r: r, since: since}
		m.reopens[ref] = w
		m.askRevalidation(ref, w, now)
	}
}

// askRevalidation asks the leader whether w's session may resume here. It
// is asked again every readRetry until answered (the message may be lost
// on a connection that broke; the leader answers each ask the same way).
func (m *member) askRevalidation(ref uint64, w *waiter, now time.Time) {
	w.via, w.asked = m.leader, now
	m.send(m.leader, appendRevalidate(m.buf[:0], revalidation{ref: ref, session: w.r.Entry.Session,
		timeout: w.r.Timeout, index: m.p.state.Applied()}))
}

// invalid completes a reopen that failed: the client is told its session
// expired.
func (m *member) invalid(r *Request) {
	r.Session = nil
	r.Result.Zxid = m.p.state.Zxid()
	m.p.finish(r)
}

// revalidate is the leader's answer to a client resuming session on
// member from: yes if the session is open and not being expired; then it
// belongs to that member and its clock restarts.
func (m *member) revalidate(from int32, session int64, timeout int32, now time.Time) bool {
	s, ok := m.p.sessions[session]
	if !ok || s.closing || s.local {
		return false
	}
	s.ownerMember = from
	s.Timeout = timeout
	s.Touch(now)
	return true
}

// propose takes entries this leader decided on its own (expiries, sweeps).
func (m *member) propose(now time.Time, entries []*engine.Entry) {
	if !m.isLeader() {
		return
	}
	for _, e := range entries {
		m.stamp(e, now)
	}
	m.proposal = append(m.proposal, entries...)
}

func (m *member) stamp(e *engine.Entry, now time.Time) {
	e.Time, e.Policy = now.UnixMilli(), m.p.cfg.Policy
}

// accept is the leader taking writes from member from into its next
// proposal: duplicates are dropped, and a write whose session belongs to
// another member is refused with SESSIONMOVED, as ZooKeeper's leader
// refuses it.
func (m *member) accept(from int32, entries []*engine.Entry, now time.Time) {
	p := m.p
	for _, e := range entries {
		if e.Ref.Request <= m.accepted[from] {
			continue
		}
		m.accepted[from] = e.Ref.Request
		if s, ok := p.sessions[e.Session]; ok && e.Op != jute.OpCreateSession && e.Op != jute.OpCloseSession {
			switch s.ownerMember {
			case 0:
				s.ownerMember = from
			case from:
			default:
				m.refuse(from, e.Ref.Request, jute.CodeSessionMoved)
				continue
			}
		}
		m.stamp(e, now)
		if e.Op == jute.OpReconfig {
			m.stampReconfig(e)
		}
		m.proposal = append(m.proposal, e)
	}
}

// refuse answers a write without ordering it.
func (m *member) refuse(from int32, ref uint64, code jute.Code) {
	if uint64(from) != m.id {
		m.refused[from] = append(m.refused[from], refusal{ref: ref, code: code})
		return
	}
	if w, ok := m.waiting[ref]; ok {
		delete(m.waiting, ref)
		w.r.Result = engine.Result{Zxid: m.p.state.Zxid(), Err: code}
		m.p.finish(w.r)
	}
}

// flush ends a step: the outbox goes to the leader (or into this leader's
// proposal), the step's syncs and lookups ask for one read index, and the
// proposal goes to raft.
func (m *member) flush(now time.Time) {
	p := m.p
	if m.leader == 0 && m.gaveUp(now) {
		m.giveUp()
	}
	if len(m.outbox) > 0 && m.leader != 0 {
		if m.isLeader() {
			for _, e := range m.outbox {
				if w, ok := m.waiting[e.Ref.Request]; ok {
					w.via = m.id
				}
			}
			m.accept(int32(m.id), m.outbox, now)
		} else {
			for _, e := range m.outbox {
				m.waiting[e.Ref.Request].via = m.leader
			}
			m.send(m.leader, appendForward(m.buf[:0], m.outbox))
		}
		clear(m.outbox)
		m.outbox = m.outbox[:0]
	}
	if len(m.held) > 0 && m.leader != 0 {
		held := m.held
		m.held = nil
		for _, w := range held {
			m.reopen(w.r, w.since, now)
		}
	}
	if len(m.syncs)+len(m.lookups) > 0 {
		w := &readWait{syncs: m.syncs, lookups: m.lookups, since: now}
		m.syncs, m.lookups = nil, nil
		m.reads = append(m.reads, w)
		if m.leader != 0 {
			m.ask(w, now)
		} else if m.gaveUp(now) {
			m.giveUp()
		}
	}
	for from, rs := range m.refused {
		m.send(uint64(from), appendRefused(m.buf[:0], rs))
		delete(m.refused, from)
	}
	if len(m.proposal) > 0 && !m.holdProposal(now) {
		m.proposeAll(now)
	}
	m.checkReadOnly(now)
	if tell := (role{m.leader, m.readOnly}); tell != m.told && (tell.leader != 0 || m.gaveUp(now)) {
		if tell == (role{}) {
			m.dropLocals()
		}
		m.told = tell
		if p.cfg.OnRole != nil {
			p.cfg.OnRole(tell.leader, tell.readOnly)
		}
	}
	syncs := 0
	for _, w := range m.reads {
		syncs += len(w.syncs)
	}
	p.pendingSyncs.Store(int64(syncs))
}

// giveUp fails what waits for a leader: the writes not yet sent, the held
// reopens, and the syncs and lookups not yet asked.
func (m *member) giveUp() {
	for _, e := range m.outbox {
		if w, ok := m.waiting[e.Ref.Request]; ok {
			delete(m.waiting, e.Ref.Request)
			m.p.lost(w.r)
		}
	}
	clear(m.outbox)
	m.outbox = m.outbox[:0]
	for _, w := range m.held {
		m.p.lost(w.r)
	}
	m.held = nil
	kept := m.reads[:0]
	for _, w := range m.reads {
		if w.index == 0 {
			m.failRead(w)
		} else {
			kept = append(kept, w)
		}
	}
	clear(m.reads[len(kept):])
	m.reads = kept
}

// proposalPatience bounds how long a leader holds its next proposal for
// the last one to be applied (holdProposal): well past a round of the
// log under load, and the most a proposal raft dropped can stall the next.
const proposalPatience = 20 * time.Millisecond

// gatherPatience bounds how long, once a round is applied, the leader
// waits for the next round's writes to gather (holdProposal), unless
// Config.CommitWait says otherwise: about two rounds of the log under
// load. Longer than the standalone log's wait (gather), which covers one
// fsync, not a round of messages between the members.
const gatherPatience = 2 * time.Millisecond

// holdProposal reports whether the leader holds this step's proposal back.
//
// It does while its last one is not applied yet. One proposal at a time
// is group commit across the ensemble: what comes in during a round of
// the log (append and fsync on every member, acknowledgements, commit)
// goes out together in the next, so each round's fixed costs (raft
// messages, peer writes and reads, an fdatasync per member) are shared by
// more writes. With a proposal in every step instead, rounds overlap with
// a few writes each, and on the 64-writer benchmark the ensemble spent
// 14 % more CPU per write. A proposal raft dropped is never applied: after
// proposalPatience the leader proposes anyway.
//
// Once the last round is applied, it holds the proposal until it has
// nine tenths of the last round's count of writes (rounded down), for at
// most gatherPatience. Clients that wait for each answer before the next
// write send the next round's writes as they get the last round's
// answers, and the answers of the followers' clients come a hop later
// than the leader's: a round that starts without them carries only part
// of the load, the rest waits a whole round for the one after, and the
// rounds fall out of step with the clients. Waiting until they are back
// keeps each client's write in the first round after its answer. On the
// 64-writer benchmark through a 3-server ensemble it raised writes per
// second by about a fifth and cut CPU per write by a quarter. The tenth
// left out and the rounding down keep a load that thins out (clients
// that leave, or writes that come at random times) from waiting: a round
// of one write never holds the next, and a shortfall makes the next
// round's target smaller, not the wait longer.
func (m *member) holdProposal(now time.Time) bool { return now.Before(m.heldUntil()) }

// heldUntil is when holdProposal stops holding the proposal back (zero,
// or a time past, when it does not): proposalPatience after the last
// proposal while that is unapplied; else, while the proposal is short of
// its target, the gathering's bound after the last round was applied
// (Config.CommitWait when set, a negative one never holding; else
// gatherPatience).
func (m *member) heldUntil() time.Time {
	if m.unapplied > 0 {
		return m.proposedAt.Add(proposalPatience)
	}
	if len(m.proposal) >= m.lastRound*9/10 {
		return time.Time{}
	}
	wait := gatherPatience
	if m.p.cfg.CommitWait != 0 {
		wait = m.p.cfg.CommitWait
	}
	return m.roundApplied.Add(wait)
}

// maxProposal bounds the bytes of one proposal: a batch larger than raft's
// message size would travel alone and delay the entries behind it.
const maxProposal = 512 << 10

// proposeAll hands this step's proposal to raft, in pieces of at most
// maxProposal (one write larger than that goes alone).
func (m *member) proposeAll(now time.Time) {
	start, size := 0, 0
	m.unapplied, m.proposedAt, m.lastRound = 0, now, len(m.proposal)
	for i, e := range m.proposal {
		size += len(e.Body) + 64
		if size >= maxProposal || i == len(m.proposal)-1 {
			m.repl.Propose(engine.AppendRefBatch(nil, m.p.cfg.Policy, m.proposal[start:i+1]))
			m.unapplied++
			start, size = i+1, 0
		}
	}
	clear(m.proposal)
	m.proposal = m.proposal[:0]
}

// ask requests a fresh read index for w.
func (m *member) ask(w *readWait, now time.Time) {
	m.nextCtx++
	w.ctx, w.asked = m.nextCtx, now
	m.repl.ReadIndex(w.ctx)
}

// failRead gives up on w: its syncs' and lookups' connections close.
func (m *member) failRead(w *readWait) {
	for _, r := range w.syncs {
		m.p.lost(r)
	}
	for _, r := range w.lookups {
		m.p.lost(r)
	}
}

func (m *member) send(to uint64, msg []byte) {
	m.repl.Send(to, msg)
	if cap(msg) > 1<<20 {
		m.buf = nil
	} else {
		m.buf = msg[:0]
	}
}

// handleEvents takes what the consensus layer reported since the last
// step, in order, then resolves what waited for the state to catch up.
func (m *member) handleEvents(now time.Time) {
	m.events = m.mail.take(m.events)
	for i := range m.events {
		ev := &m.events[i]
		switch ev.kind {
		case evCommitted:
			m.apply(ev.entries, now)
		case evLeader:
			m.leaderChanged(ev.a, ev.b, now)
		case evReadIndex:
			for _, w := range m.reads {
				if w.ctx == ev.a && w.index == 0 {
					w.index = max(ev.b, 1)
				}
			}
		case evMessage:
			m.receive(ev.a, ev.msg, now)
		case evPeerLost:
			m.peerLost(ev.a)
		}
		*ev = event{}
	}
	m.caughtUp(now)
}

// apply applies committed entries; the requests of this member that
// waited for them complete.
func (m *member) apply(entries []LogEntry, now time.Time) {
	p := m.p
	for _, le := range entries {
		if le.Index <= p.state.Applied() {
			// An installed image covers it already.
			continue
		}
		if le.Term > p.state.Term() {
			// A new leadership: a new epoch of zxids.
			p.state.EnterTerm(le.Term)
			m.policySeen = false
			p.applied = true
		}
		switch {
		case le.Config || len(le.Data) == 0:
		default:
			if le.Term == m.term && m.isLeader() && m.unapplied > 0 {
				m.unapplied--
				if m.unapplied == 0 {
					m.roundApplied = now
				}
			}
			_, batch, err := engine.DecodeBatch(le.Data)
			if err == nil && !m.policySeen {
				err = m.seePolicy(le.Data)
			}
			if err != nil {
				m.fatal(fmt.Errorf("pipeline: committed entry %d: %w", le.Index, err))
				return
			}
			for i := range batch {
				e := &batch[i]
				var r *Request
				if uint64(e.Ref.Member) == m.id && e.Ref.Request != 0 {
					if w, ok := m.waiting[e.Ref.Request]; ok {
						delete(m.waiting, e.Ref.Request)
						r = w.r
					}
					m.nextRef = max(m.nextRef, e.Ref.Request)
				}
				if e.Ref.Request > m.accepted[e.Ref.Member] {
					m.accepted[e.Ref.Member] = e.Ref.Request
				}
				if e.Op == jute.OpReconfig {
					m.reconfiguring = false
				}
				if p.applyEntry(e, r, now).Err == jute.CodeOK && e.Op == jute.OpReconfig {
					p.membershipChanged()
				}
				if r != nil {
					p.finish(r)
				}
			}
		}
		p.state.SetApplied(le.Index)
	}
}

// seePolicy takes the Policy of the first batch of a term, the leader's:
// with reconfigEnabled, a membership still unversioned takes its version
// there, before the batch's entries.
func (m *member) seePolicy(batch []byte) error {
	policy, err := engine.BatchPolicy(batch)
	if err != nil {
		return err
	}
	m.policySeen = true
	if policy.ReconfigEnabled && m.p.state.VersionMembership() {
		m.p.membershipChanged()
		m.p.applied = true
	}
	return nil
}

func (m *member) fatal(err error) {
	m.p.cfg.Logger.Error("the replicated log cannot be applied; stopping", "err", err)
	if m.p.cfg.OnFatal != nil {
		m.p.cfg.OnFatal(err)
		return
	}
	panic(err)
}

// install replaces the state with an image from the leader (see
// Pipeline.Install).
func (m *member) install(state *engine.State, now time.Time) {
	p := m.p
	if state.Applied() <= p.state.Applied() {
		// Snapshots travel on connections of their own, so a member
		// catching up can receive two and install them out of order: an
		// image older than the state would take back what the log after
		// it holds (raft will not deliver it again).
		p.cfg.Logger.Info("skipping an image no newer than the state", "image_applied", state.Applied(), "applied", p.state.Applied())
		return
	}
	m.failWaiting(func(w *waiter) bool { return w.via != 0 })
	old := p.sessions
	for _, s := range old {
		if s.owner != nil {
			p.closeAfter = append(p.closeAfter, s.owner)
		}
	}
	state.FollowChanges(p.state)
	p.state = state
	m.policySeen = false
	p.sessions = map[int64]*Session{}
	for _, rec := range state.SessionRecords() {
		s := p.addSession(rec.ID, rec.Timeout, nil, now)
		if prev, ok := old[rec.ID]; ok {
			s.ownerMember = prev.ownerMember
		}
	}
	v := state.Publish()
	p.view.Store(v)
	if cp := p.cfg.Checkpoints; cp != nil {
		cp.Reset(state.FullDelta(v))
	}
	p.membershipChanged()
	p.cfg.Logger.Info("installed an image from the leader", "zxid", fmt.Sprintf("%#x", state.Zxid()), "applied", state.Applied(),
		"znodes", v.Tree.Count(), "sessions", len(p.sessions))
	p.applied = true
}

// leaderChanged takes a new view of the leadership. What was in flight
// under the old one has an unknown outcome: those connections close.
func (m *member) leaderChanged(leader, term uint64, now time.Time) {
	if leader == m.leader && term == m.term {
		return
	}
	m.p.cfg.Logger.Info("leader changed", "leader", leader, "term", term, "member", m.id)
	if leader == 0 && m.leader != 0 {
		m.leaderless = now
	}
	if leader != 0 && m.leader == 0 {
		// ZooKeeper's election_time: from losing the leader (or from the
		// start) to knowing the next one.
		zkmetrics.ElectionTime.Add(now.Sub(m.leaderless).Milliseconds())
	}
	if leader != 0 {
		m.leaveReadOnly()
	}
	m.leader, m.term = leader, term
	m.reconfiguring = false
	m.unapplied, m.lastRound = 0, 0
	// What was sent under the old leadership has an unknown outcome; what
	// waits in the outbox goes to the new leader.
	m.failWaiting(func(w *waiter) bool { return w.via != 0 })
	m.askAgain(func(*waiter) bool { return true })
	m.deferred = nil
	for _, w := range m.reads {
		if w.index == 0 && leader != 0 {
			m.ask(w, now)
		}
	}
	if m.isLeader() && m.p.cfg.Policy.ReconfigEnabled {
		// The term's first batch carries this leader's policy, which
		// versions the membership (see engine.State.VersionMembership)
		// before any write needs to.
		m.repl.Propose(engine.AppendRefBatch(nil, m.p.cfg.Policy, nil))
	}
	if m.isLeader() {
		// A new leader restarts every session's clock, and learns the
		// sessions' owners afresh from their writes and revalidations.
		for _, s := range m.p.sessions {
			s.Touch(now)
			s.closing = false
			s.ownerMember = 0
		}
	}
	m.nextReport = time.Time{}
}

// failWaiting fails the writes in flight that match.
func (m *member) failWaiting(match func(*waiter) bool) {
	for ref, w := range m.waiting {
		if match(w) {
			delete(m.waiting, ref)
			m.p.lost(w.r)
		}
	}
}

// askAgain holds the revalidations that match for the next leader: the
// answer may be lost, and asking twice is harmless.
func (m *member) askAgain(match func(*waiter) bool) {
	for ref, w := range m.reopens {
		if match(w) {
			delete(m.reopens, ref)
			m.held = append(m.held, w)
		}
	}
}

// peerLost fails what was sent to the leader on a connection that broke.
func (m *member) peerLost(id uint64) {
	if id == m.id {
		return
	}
	m.failWaiting(func(w *waiter) bool { return w.via == id })
	m.askAgain(func(w *waiter) bool { return w.via == id })
}

// receive handles a message from member from.
func (m *member) receive(from uint64, b []byte, now time.Time) {
	msg, err := decodeMessage(int32(from), b)
	if err != nil {
		m.p.cfg.Logger.Warn("dropping a malformed message from a member", "from", from, "err", err)
		return
	}
	switch msg.kind {
	case msgForward:
		if !m.isLeader() {
			return // the sender fails these when it learns of the new leader
		}
		entries := make([]*engine.Entry, len(msg.entries))
		for i := range msg.entries {
			entries[i] = &msg.entries[i]
		}
		m.accept(int32(from), entries, now)
	case msgRefused:
		for _, rf := range msg.refused {
			if w, ok := m.waiting[rf.ref]; ok && w.via == from {
				delete(m.waiting, rf.ref)
				w.r.Result = engine.Result{Zxid: m.p.state.Zxid(), Err: rf.code}
				m.p.finish(w.r)
			}
		}
	case msgTouch:
		if !m.isLeader() {
			return
		}
		for _, id := range msg.sessions {
			if s, ok := m.p.sessions[id]; ok {
				s.Touch(now)
			}
		}
	case msgRevalidate:
		if m.isLeader() {
			m.deferred = append(m.deferred, msg.reval)
		}
	case msgRevalidated:
		w, ok := m.reopens[msg.reval.ref]
		if !ok || w.via != from {
			return
		}
		delete(m.reopens, msg.reval.ref)
		s, open := m.p.sessions[w.r.Entry.Session]
		if msg.ok && open {
			m.p.takeOver(s, w.r, now)
			w.r.Result.Zxid = m.p.state.Zxid()
			m.p.finish(w.r)
		} else {
			m.invalid(w.r)
		}
	}
}

// caughtUp resolves what waited for the state to be applied far enough:
// syncs and lookups whose read index is applied, and revalidations from
// members that had applied more than this leader when they asked.
func (m *member) caughtUp(now time.Time) {
	applied := m.p.state.Applied()
	kept := m.reads[:0]
	for _, w := range m.reads {
		if w.index == 0 || w.index > applied {
			kept = append(kept, w)
			continue
		}
		for _, r := range w.syncs {
			r.Result.Zxid = m.p.state.Zxid()
			m.p.finish(r)
		}
		for _, r := range w.lookups {
			if _, known := m.p.sessions[r.Entry.Session]; known {
				m.reopen(r, w.since, now)
			} else {
				m.invalid(r)
			}
		}
	}
	clear(m.reads[len(kept):])
	m.reads = kept
	if !m.isLeader() {
		return
	}
	n := 0
	for _, v := range m.deferred {
		if v.index > applied {
			m.deferred[n] = v
			n++
			continue
		}
		ok := m.revalidate(v.from, v.session, v.timeout, now)
		m.send(uint64(v.from), appendRevalidated(m.buf[:0], v.ref, ok))
	}
	m.deferred = m.deferred[:n]
}

// runDeadlines reports this follower's live sessions to the leader every
// half tick, asks again for read indexes not answered in time, and gives
// up on syncs and reopens the leader did not answer within SyncTimeout.
func (m *member) runDeadlines(now time.Time) {
	p := m.p
	if !now.Before(m.nextReport) {
		m.nextReport = now.Add(p.cfg.Tick / 2)
		if m.leader != 0 && !m.isLeader() {
			m.report()
		}
	}
	kept := m.reads[:0]
	for _, w := range m.reads {
		switch {
		case now.Sub(w.since) >= p.cfg.SyncTimeout:
			m.failRead(w)
			continue
		case w.index == 0 && now.Sub(w.asked) >= readRetry && m.leader != 0:
			m.ask(w, now)
		}
		kept = append(kept, w)
	}
	clear(m.reads[len(kept):])
	m.reads = kept
	// Reopens the leader did not answer in time: their clients give up;
	// the others are asked again now and then.
	for ref, w := range m.reopens {
		switch {
		case now.Sub(w.since) >= p.cfg.SyncTimeout:
			delete(m.reopens, ref)
			p.lost(w.r)
		case now.Sub(w.asked) >= readRetry && m.leader != 0:
			m.askRevalidation(ref, w, now)
		}
	}
	held := m.held[:0]
	for _, w := range m.held {
		if now.Sub(w.since) >= p.cfg.SyncTimeout {
			p.lost(w.r)
		} else {
			held = append(held, w)
		}
	}
	clear(m.held[len(held):])
	m.held = held
}

// report sends the leader the sessions owned here that were heard from
// since the last report.
func (m *member) report() {
	var ids []int64
	for id, s := range m.p.sessions {
		if s.owner == nil || s.local {
			continue
		}
		if h := s.lastHeard.Load(); h > s.reported {
			s.reported = h
			ids = append(ids, id)
		}
	}
	if len(ids) > 0 {
		m.send(m.leader, appendTouch(m.buf[:0], ids))
	}
}

// nextDeadline is when the member next has something to do on its own.
func (m *member) nextDeadline() time.Time {
	next := m.nextReport
	if len(m.proposal) > 0 {
		if at := m.heldUntil(); !at.IsZero() && (next.IsZero() || at.Before(next)) {
			next = at
		}
	}
	if m.leader == 0 && (m.told.leader != 0 || len(m.outbox)+len(m.held)+len(m.reads) > 0) {
		if at := m.leaderless.Add(m.p.cfg.LeaderGrace); at.Before(next) {
			next = at
		}
	}
	if m.leader == 0 && !m.readOnly && m.p.cfg.ReadOnlyAfter > 0 {
		if at := m.leaderless.Add(m.p.cfg.ReadOnlyAfter); at.Before(next) {
			next = at
		}
	}
	for _, w := range m.reads {
		at := w.since.Add(m.p.cfg.SyncTimeout)
		if retry := w.asked.Add(readRetry); w.index == 0 && !w.asked.IsZero() && retry.Before(at) {
			at = retry
		}
		if at.Before(next) {
			next = at
		}
	}
	for _, w := range m.reopens {
		at := w.since.Add(m.p.cfg.SyncTimeout)
		if retry := w.asked.Add(readRetry); retry.Before(at) {
			at = retry
		}
		if at.Before(next) {
			next = at
		}
	}
	return next
}
