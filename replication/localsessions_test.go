package replication

import (
	"testing"
	"time"

	"github.com/meerkat-zk/meerkat/engine"
	"github.com/meerkat-zk/meerkat/jute"
	"github.com/meerkat-zk/meerkat/pipeline"
)

func localSessions(upgrade bool) func(*pipeline.Config) {
	return func(c *pipeline.Config) {
		c.Policy.LocalSessions = true
		c.UpgradeLocalSessions = upgrade
	}
}

func closeReq(session int64, c *conn) *pipeline.Request {
	return &pipeline.Request{Kind: pipeline.KindWrite, Conn: c, Entry: engine.Entry{Session: session, Op: jute.OpCloseSession}}
}

func reopenReq(s *pipeline.Session, c *conn) *pipeline.Request {
	return &pipeline.Request{Kind: pipeline.KindReopenSession, Timeout: s.Timeout, Conn: c, Passwd: s.Passwd[:],
		Entry: engine.Entry{Session: s.ID}}
}

// zxids returns every member's published zxid.
func (e *ensemble) zxids() map[uint64]int64 {
	out := map[uint64]int64{}
	for _, id := range e.ids() {
		out[id] = e.sites[id].p.View().Zxid
	}
	return out
}

// TestLocalSessionsStayOnTheirMember follows ZooKeeper's local sessions
// (localSessionsEnabled without upgrading): a session opens on its member
// without a log entry; it writes through the log; its ephemeral create
// fails EPHEMERALONLOCALSESSION and consumes a zxid; it resumes on its own
// member only (elsewhere it has expired); closing it and expiring it
// write nothing.
func TestLocalSessionsStayOnTheirMember(t *testing.T) {
	e := newEnsembleWith(t, []uint64{1, 2, 3}, nil, localSessions(false))
	lead := e.leader(1, 2, 3)
	f, other := e.others(lead)[0], e.others(lead)[1]
	e.settle()
	before := e.zxids()
	s, c := e.openSession(f, 6000)
	e.settle()
	if !s.Local() || uint64(s.ID)>>56 != f {
		t.Fatalf("session %#x local %v, want a local session with member %d's id", s.ID, s.Local(), f)
	}
	if got := e.zxids(); got[f] != before[f] || got[lead] != before[lead] {
		t.Fatalf("opening a local session moved the zxids from %v to %v", before, got)
	}
	r := e.submit(f, createReq(s.ID, c, "/persistent", 0))
	e.settle()
	if r.Result.Err != jute.CodeOK || r.Result.Zxid != before[f]+1 {
		t.Fatalf("persistent create from a local session: %v zxid %#x, want OK at %#x", r.Result.Err, r.Result.Zxid, before[f]+1)
	}
	eph := e.submit(f, createReq(s.ID, c, "/eph", 1))
	e.settle()
	if eph.Result.Err != jute.CodeEphemeralOnLocalSession || eph.Result.Zxid != r.Result.Zxid+1 {
		t.Fatalf("ephemeral create from a local session: %v zxid %#x, want EPHEMERALONLOCALSESSION consuming zxid %#x",
			eph.Result.Err, eph.Result.Zxid, r.Result.Zxid+1)
	}
	for _, id := range e.ids() {
		if !e.has(id, "/persistent") || e.has(id, "/eph") {
			t.Fatalf("member %d: /persistent %v /eph %v", id, e.has(id, "/persistent"), e.has(id, "/eph"))
		}
	}
	// Elsewhere the session does not exist.
	away := e.submit(other, reopenReq(s, &conn{}))
	e.tickUntilDone(other, away, 30)
	if !e.isDone(other, away) || away.Session != nil || away.Result.Err != jute.CodeOK {
		t.Fatalf("reopen on another member: done %v session %v err %v, want expired", e.isDone(other, away), away.Session, away.Result.Err)
	}
	// On its member it resumes, and the old connection closes.
	fresh := &conn{}
	back := e.submit(f, reopenReq(s, fresh))
	e.settle()
	if back.Session != s || !c.closed {
		t.Fatalf("reopen on its member: session %v, old connection closed %v", back.Session, c.closed)
	}
	zxid := e.sites[f].p.View().Zxid
	cl := e.submit(f, closeReq(s.ID, fresh))
	e.settle()
	if cl.Result.Err != jute.CodeOK || cl.Result.Zxid != zxid || e.sites[f].p.View().Zxid != zxid {
		t.Fatalf("close of a local session: %v zxid %#x (state %#x), want OK without a zxid (%#x)",
			cl.Result.Err, cl.Result.Zxid, e.sites[f].p.View().Zxid, zxid)
	}
	gone := e.submit(f, reopenReq(s, &conn{}))
	e.tickUntilDone(f, gone, 30)
	if gone.Session != nil {
		t.Fatal("a closed local session resumed")
	}
	// A silent local session expires on its member, writing nothing.
	quiet, qc := e.openSession(f, 4000)
	zxid = e.sites[f].p.View().Zxid
	start := e.now
	for !qc.closed && e.now.Sub(start) < time.Minute {
		e.tick(1)
	}
	if !qc.closed || e.now.Sub(start) < 4*time.Second {
		t.Fatalf("silent local session: closed %v after %v, want closed after its 4 s timeout", qc.closed, e.now.Sub(start))
	}
	again := e.submit(f, reopenReq(quiet, &conn{}))
	e.tickUntilDone(f, again, 30)
	if again.Session != nil {
		t.Fatal("an expired local session resumed")
	}
	if got := e.sites[f].p.View().Zxid; got != zxid {
		t.Fatalf("a local session's expiry wrote to the log: zxid %#x -> %#x", zxid, got)
	}
	e.mustAgree(1, 2, 3)
}

// TestLocalSessionUpgradesForAnEphemeral: with
// localSessionsUpgradingEnabled, a local session's ephemeral create first
// makes it global (a createSession entry: two zxids, as in ZooKeeper);
// then it resumes on another member and the leader expires it with its
// ephemeral.
func TestLocalSessionUpgradesForAnEphemeral(t *testing.T) {
	e := newEnsembleWith(t, []uint64{1, 2, 3}, nil, localSessions(true))
	lead := e.leader(1, 2, 3)
	f, other := e.others(lead)[0], e.others(lead)[1]
	s, c := e.openSession(f, 6000)
	zxid := e.sites[f].p.View().Zxid
	r := e.submit(f, createReq(s.ID, c, "/eph", 1))
	e.settle()
	if r.Result.Err != jute.CodeOK || r.Result.Zxid != zxid+2 || s.Local() {
		t.Fatalf("ephemeral create from a local session: %v zxid %#x (want %#x), still local %v", r.Result.Err, r.Result.Zxid, zxid+2, s.Local())
	}
	second := e.submit(f, createReq(s.ID, c, "/eph2", 1))
	e.settle()
	if second.Result.Err != jute.CodeOK || second.Result.Zxid != r.Result.Zxid+1 {
		t.Fatalf("second ephemeral: %v zxid %#x, want OK at %#x (no second upgrade)", second.Result.Err, second.Result.Zxid, r.Result.Zxid+1)
	}
	moved := e.submit(other, reopenReq(s, &conn{}))
	e.tickUntilDone(other, moved, 30)
	if moved.Session == nil || moved.Session.ID != s.ID {
		t.Fatalf("the upgraded session did not resume on another member: %+v", moved.Session)
	}
	for range 150 { // 15 s, past the timeout: nobody pings
		e.tick(1)
	}
	for _, id := range e.ids() {
		if e.has(id, "/eph") || e.has(id, "/eph2") {
			t.Fatalf("member %d kept the expired session's ephemerals", id)
		}
	}
	e.mustAgree(1, 2, 3)
}

// tickUntil ticks up to ticks times until cond holds.
func (e *ensemble) tickUntil(ticks int, cond func() bool) bool {
	for range ticks {
		if cond() {
			return true
		}
		e.tick(1)
	}
	return cond()
}

// TestReadOnlyModeServesReadOnlyClients follows ZooKeeper's read-only
// server: a member cut off from the quorum for ReadOnlyAfter opens local
// sessions only, answers writes and syncs NOTREADONLY with its last zxid,
// refuses to resume a global session (the connection closes) and expires
// an unknown one; once it has a leader again, the sessions it opened
// meanwhile are gone.
func TestReadOnlyModeServesReadOnlyClients(t *testing.T) {
	const after = 2 * time.Second
	e := newEnsembleWith(t, []uint64{1, 2, 3}, nil, func(c *pipeline.Config) {
		localSessions(false)(c)
		c.ReadOnlyAfter = after
	})
	lead := e.leader(1, 2, 3)
	f := e.others(lead)[0]
	g, gc := e.openSession(lead, 30000)
	x := e.submit(lead, createReq(g.ID, gc, "/x", 0))
	e.settle()
	if x.Result.Err != jute.CodeOK {
		t.Fatal(x.Result.Err)
	}
	// A global session opened before local sessions: upgrade one.
	e.submit(lead, &pipeline.Request{Kind: pipeline.KindWrite, Conn: gc, Entry: engine.Entry{Session: g.ID, Op: jute.OpCreateSession, Body: jute.AppendInt(nil, 30000)}})
	e.settle()
	if g.Local() {
		t.Fatal("a createSession entry left the session local")
	}
	e.isolate(f)
	cutAt := e.now
	if !e.tickUntil(300, func() bool { return e.sites[f].readOnly }) {
		t.Fatal("the cut-off member never became read-only")
	}
	if waited := e.now.Sub(cutAt); waited < after {
		t.Fatalf("read-only after %v, before ReadOnlyAfter (%v)", waited, after)
	}
	if e.sites[f].leader != 0 {
		t.Fatalf("a read-only member reports leader %d", e.sites[f].leader)
	}
	zxid := e.sites[f].p.View().Zxid
	s, c := e.openSession(f, 6000)
	if !s.Local() {
		t.Fatal("a read-only member opened a global session")
	}
	for _, r := range []*pipeline.Request{
		createReq(s.ID, c, "/y", 0),
		{Kind: pipeline.KindWrite, Conn: c, Entry: engine.Entry{Session: s.ID, Op: jute.OpSetData,
			Body: (&jute.SetDataRequest{Path: "/x", Data: []byte("no"), Version: -1}).Append(nil)}},
		{Kind: pipeline.KindSync, Conn: c, Entry: engine.Entry{Session: s.ID}},
	} {
		e.submit(f, r)
		e.settle()
		if !e.isDone(f, r) || r.Result.Err != jute.CodeNotReadOnly || r.Result.Zxid != zxid || c.closed {
			t.Fatalf("%v in read-only mode: done %v %v zxid %#x (want NOTREADONLY at %#x), connection closed %v",
				r.Kind, e.isDone(f, r), r.Result.Err, r.Result.Zxid, zxid, c.closed)
		}
	}
	gconn := &conn{}
	global := e.submit(f, reopenReq(g, gconn))
	e.settle()
	if !e.isDone(f, global) || global.Session != nil || !gconn.closed {
		t.Fatalf("resuming a global session in read-only mode: done %v session %v closed %v, want the connection closed",
			e.isDone(f, global), global.Session, gconn.closed)
	}
	unknown := e.submit(f, reopenReq(&pipeline.Session{ID: 0x7700000000000001, Timeout: 6000}, &conn{}))
	e.settle()
	if !e.isDone(f, unknown) || unknown.Session != nil || unknown.Result.Err != jute.CodeOK {
		t.Fatalf("resuming an unknown session in read-only mode: done %v session %v %v, want expired",
			e.isDone(f, unknown), unknown.Session, unknown.Result.Err)
	}
	// Back in the quorum: the read-only session ends with its mode.
	e.heal()
	if !e.tickUntil(300, func() bool { return e.sites[f].leader != 0 }) {
		t.Fatal("the member found no leader after healing")
	}
	if e.sites[f].readOnly || !c.closed {
		t.Fatalf("after healing: read-only %v, read-only session's connection closed %v", e.sites[f].readOnly, c.closed)
	}
	late := e.submit(f, reopenReq(s, &conn{}))
	e.tickUntilDone(f, late, 30)
	if late.Session != nil {
		t.Fatal("a session opened in read-only mode outlived it")
	}
	w := e.submit(f, createReq(g.ID, nil, "/after", 0))
	e.tickUntilDone(f, w, 30)
	if w.Result.Err == jute.CodeNotReadOnly {
		t.Fatal("writes still fail NOTREADONLY after healing")
	}
}

// TestReadOnlyModeWithoutLocalSessions: as in ZooKeeper 3.8, a read-only
// member without local sessions opens no session at all.
func TestReadOnlyModeWithoutLocalSessions(t *testing.T) {
	e := newEnsembleWith(t, []uint64{1, 2, 3}, nil, func(c *pipeline.Config) { c.ReadOnlyAfter = 2 * time.Second })
	lead := e.leader(1, 2, 3)
	f := e.others(lead)[0]
	e.isolate(f)
	if !e.tickUntil(300, func() bool { return e.sites[f].readOnly }) {
		t.Fatal("the cut-off member never became read-only")
	}
	c := &conn{}
	r := e.submit(f, &pipeline.Request{Kind: pipeline.KindCreateSession, Timeout: 6000, Conn: c})
	e.settle()
	if !e.isDone(f, r) || r.Session != nil || !c.closed {
		t.Fatalf("createSession in read-only mode without local sessions: done %v session %v closed %v",
			e.isDone(f, r), r.Session, c.closed)
	}
}

// TestOlderImageIsNotInstalled: snapshots travel on connections of their
// own, so a member catching up can get two and install them out of order
// (seen in ensemble/TestMemberCatchesUpFromASnapshot): an image no newer
// than the member's state is skipped, or it would take back what the log
// after it held, which raft does not deliver again.
func TestOlderImageIsNotInstalled(t *testing.T) {
	e := newEnsemble(t, []uint64{1, 2, 3}, nil)
	lead := e.leader(1, 2, 3)
	f := e.others(lead)[0]
	e.raftCut[f] = true
	image := func(applied uint64, path string) *engine.State {
		st := engine.NewState()
		st.Apply(&engine.Entry{Op: jute.OpCreateSession, Session: 1, Body: jute.AppendInt(nil, 30000)})
		st.Apply(&engine.Entry{Op: jute.OpCreate, Session: 1, Body: (&jute.CreateRequest{Path: path, ACL: engine.OpenACL}).AppendCreate(nil, false)})
		st.SetApplied(applied)
		return st
	}
	base := e.sites[f].p.View().Applied
	for _, st := range []*engine.State{image(base+100, "/newer"), image(base+50, "/older")} {
		r := e.submit(f, &pipeline.Request{Kind: pipeline.KindInstall, Install: st})
		e.settle()
		if !e.isDone(f, r) {
			t.Fatal("an install was not answered")
		}
	}
	if !e.has(f, "/newer") || e.has(f, "/older") || e.sites[f].p.View().Applied != base+100 {
		t.Fatalf("after a newer then an older image: /newer %v /older %v applied %d (want %d)",
			e.has(f, "/newer"), e.has(f, "/older"), e.sites[f].p.View().Applied, base+100)
	}
}
