package pipeline

import (
	"time"

	"github.com/meerkat-zk/meerkat/engine"
	"github.com/meerkat-zk/meerkat/jute"
)

// Local sessions (localSessionsEnabled) and read-only mode
// (readonlymode.enabled): what a member answers on its own, without the
// leader, as ZooKeeper's learners and its ReadOnlyZooKeeperServer do.

// role is what a member tells OnRole: the leader it follows (0: none),
// and whether it serves read-only clients meanwhile.
type role struct {
	leader   uint64
	readOnly bool
}

// createLocal opens r's session as a local one: no log entry, no zxid.
func (m *member) createLocal(r *Request, now time.Time) {
	p := m.p
	s := p.addSession(p.allocSessionID(), r.Timeout, r.Conn, now)
	s.local = true
	r.Session = s
	r.Result.Zxid = p.state.Zxid()
	p.finish(r)
}

// reopenLocal resumes r's local session on r's connection (on this member:
// elsewhere the session is unknown and its client is told it expired).
func (m *member) reopenLocal(r *Request, now time.Time) {
	p := m.p
	s := p.checkReopen(r)
	if s == nil {
		m.invalid(r)
		return
	}
	p.takeOver(s, r, now)
	r.Result.Zxid = p.state.Zxid()
	p.finish(r)
}

// answerLocally answers a write the member does not send to the leader
// and reports whether it did: a local session's closeSession, and in
// read-only mode every other write, which fails NOTREADONLY. A local
// session's first ephemeral create is preceded by the createSession that
// makes it global, with UpgradeLocalSessions (without it, the log answers
// the create EPHEMERALONLOCALSESSION, consuming a zxid as ZooKeeper does).
func (m *member) answerLocally(r *Request, now time.Time) bool {
	p := m.p
	s, known := p.sessions[r.Entry.Session]
	local := known && s.local
	switch {
	case local && r.Entry.Op == jute.OpCloseSession:
		delete(p.sessions, s.ID)
		r.Result = engine.Result{Zxid: p.state.Zxid()}
		p.finish(r)
		return true
	case m.readOnly:
		m.notReadOnly(r)
		return true
	case local && p.cfg.UpgradeLocalSessions && engine.CreatesEphemeral(r.Entry.Op, r.Entry.Body) && !m.upgrading(s.ID):
		m.enqueue(&Request{Kind: KindCreateSession, Conn: r.Conn,
			Entry: engine.Entry{Session: s.ID, Op: jute.OpCreateSession, Body: jute.AppendInt(nil, s.Timeout)}}, now)
	}
	return false
}

// upgrading reports whether the createSession that makes local session id
// global is on its way (until it is applied, or fails with the writes in
// flight).
func (m *member) upgrading(id int64) bool {
	for _, w := range m.waiting {
		if w.r.Kind == KindCreateSession && w.r.Entry.Session == id {
			return true
		}
	}
	return false
}

// notReadOnly answers r as a read-only server answers writes and syncs.
func (m *member) notReadOnly(r *Request) {
	r.Result = engine.Result{Zxid: m.p.state.Zxid(), Err: jute.CodeNotReadOnly}
	m.p.finish(r)
}

// admitSession takes a request to open or resume a session.
func (m *member) admitSession(r *Request, now time.Time) {
	p := m.p
	s, known := p.sessions[r.Entry.Session]
	switch {
	case r.Kind == KindCreateSession && p.cfg.Policy.LocalSessions:
		m.createLocal(r, now)
	case r.Kind == KindCreateSession && m.readOnly:
		// A read-only server opens no global session.
		p.lost(r)
	case r.Kind == KindCreateSession:
		r.Entry = engine.Entry{Session: p.allocSessionID(), Op: jute.OpCreateSession, Body: jute.AppendInt(nil, r.Timeout)}
		m.enqueue(r, now)
	case known && s.local:
		m.reopenLocal(r, now)
	case m.readOnly && known:
		// ZooKeeper refuses a global session's reconnection in read-only
		// mode: the connection closes, and the client tries elsewhere.
		p.lost(r)
	case m.readOnly:
		m.invalid(r)
	case known:
		m.reopen(r, now, now)
	default:
		// Perhaps created elsewhere and not applied here yet: look again
		// once this member has caught up with the leader.
		m.lookups = append(m.lookups, r)
	}
}

// checkReadOnly enters read-only mode once the member has been without a
// leader for ReadOnlyAfter.
func (m *member) checkReadOnly(now time.Time) {
	after := m.p.cfg.ReadOnlyAfter
	if after <= 0 || m.readOnly || m.leader != 0 || now.Sub(m.leaderless) < after {
		return
	}
	m.readOnly = true
	m.p.cfg.Logger.Info("no leader: serving read-only clients until there is one", "member", m.id,
		"without_leader", now.Sub(m.leaderless).String())
}

// leaveReadOnly ends read-only mode when a leader is known again: the
// sessions opened meanwhile are dropped with their connections, as
// ZooKeeper shuts its read-only server down.
func (m *member) leaveReadOnly() {
	if !m.readOnly {
		return
	}
	m.readOnly = false
	m.dropLocals()
}

// dropLocals forgets every local session and closes its connection: they
// do not outlive the member's leader (ZooKeeper's learner starts a new
// session tracker with every leader).
func (m *member) dropLocals() {
	for _, s := range m.p.sessions {
		if s.local {
			m.p.dropLocal(s)
		}
	}
}
