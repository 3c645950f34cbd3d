package replication

import (
	"bytes"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	pb "go.etcd.io/raft/v3/raftpb"

	"github.com/meerkat-zk/meerkat/engine"
	"github.com/meerkat-zk/meerkat/jute"
	"github.com/meerkat-zk/meerkat/membership"
	"github.com/meerkat-zk/meerkat/pipeline"
)

// The ensemble tests run members' pipelines on the in-process network of
// raft cores, on one goroutine, with logical time: a raft tick is 100 ms of
// the pipelines' clock, and nothing happens unless the test says so.

// site is one member of a test ensemble: the pipeline its core feeds.
type site struct {
	id uint64
	p  *pipeline.Pipeline
	// leader and readOnly are what the pipeline last reported through
	// OnRole; reported is every leader reported.
	leader   uint64
	readOnly bool
	reported []uint64
	// done maps each completed request to the zxid of the View it was
	// completed with.
	done map[*pipeline.Request]int64
}

func (s *site) Complete(reqs []*pipeline.Request) {
	for _, r := range reqs {
		s.done[r] = s.p.View().Zxid
	}
}

// conn is a client connection as the pipeline sees it.
type conn struct{ closed bool }

func (c *conn) Close() error { c.closed = true; return nil }

type appMsg struct {
	from, to uint64
	data     []byte
}

// ensemble is a test network whose cores feed pipelines.
type ensemble struct {
	*network
	now   time.Time
	sites map[uint64]*site
	app   []appMsg
	// dupForwards delivers every forwarded batch twice.
	dupForwards bool
	// lose counts, by kind (the first byte), application messages to lose
	// without a sign, as on a connection whose peer restarted.
	lose  map[byte]int
	moved bool
	// proposals counts each member's proposals; drop is how many of the
	// next ones to lose, as raft drops a proposal it cannot take.
	proposals map[uint64]int
	drop      int
}

// repl is a site's pipeline.Replicator: its core, and the test network for
// messages.
type repl struct {
	e  *ensemble
	id uint64
}

func (r repl) Propose(data []byte) {
	r.e.moved = true
	r.e.proposals[r.id]++
	if r.e.drop > 0 {
		r.e.drop--
		return
	}
	_ = r.e.members[r.id].c.Propose(data)
}

func (r repl) ReadIndex(ctx uint64) {
	r.e.moved = true
	r.e.members[r.id].c.ReadIndex(readCtx(ctx))
}

func (r repl) Synced(id uint64) bool { return r.e.members[r.id].c.synced()[id] }

func (r repl) Send(to uint64, msg []byte) {
	r.e.moved = true
	r.e.app = append(r.e.app, appMsg{from: r.id, to: to, data: bytes.Clone(msg)})
}

const sessionTick = 2 * time.Second

func newEnsemble(t *testing.T, voters, learners []uint64) *ensemble {
	return newEnsembleWith(t, voters, learners, nil)
}

// newEnsembleWith is newEnsemble with every member's pipeline
// configuration changed by configure.
func newEnsembleWith(t *testing.T, voters, learners []uint64, configure func(*pipeline.Config)) *ensemble {
	e := &ensemble{now: time.Unix(1_800_000_000, 0), sites: map[uint64]*site{}, proposals: map[uint64]int{}}
	e.network = newWiredNetwork(t, voters, learners, func(m *member, cfg *coreConfig) {
		s := &site{id: m.id, done: map[*pipeline.Request]int64{}}
		pcfg := pipeline.Config{ServerID: int64(m.id), Tick: sessionTick, Replicator: repl{e, m.id},
			OnRole: func(lead uint64, readOnly bool) {
				s.leader, s.readOnly, s.reported = lead, readOnly, append(s.reported, lead)
			},
			OnMembership: func(c membership.Config) {
				var want pb.ConfState
				for _, srv := range c.Servers {
					if srv.Observer {
						want.Learners = append(want.Learners, uint64(srv.ID))
					} else {
						want.Voters = append(want.Voters, uint64(srv.ID))
					}
				}
				m.c.want = &want
			}, Logger: quiet}
		if configure != nil {
			configure(&pcfg)
		}
		state := engine.NewState()
		state.SetConfigNode([]byte(testMembership(voters, learners).Text()), 0)
		var err error
		s.p, err = pipeline.New(pcfg, state)
		if err != nil {
			t.Fatal(err)
		}
		e.sites[m.id] = s
		connect(cfg, s.p)
	})
	e.also = e.round
	e.onTick = func() { e.now = e.now.Add(100 * time.Millisecond) }
	return e
}

// testMembership is the membership of a test ensemble, as
// /zookeeper/config holds it: member N's ports are 2000+N (peer),
// 3000+N (election) and 4000+N (client).
func testMembership(voters, learners []uint64) membership.Config {
	var c membership.Config
	for _, id := range slices.Sorted(slices.Values(slices.Concat(voters, learners))) {
		c.Servers = append(c.Servers, testServer(id, slices.Contains(learners, id)))
	}
	return c
}

func testServer(id uint64, observer bool) membership.Server {
	return membership.Server{ID: int64(id), PeerAddr: fmt.Sprintf("127.0.0.1:%d", 2000+id),
		ElectionAddr: fmt.Sprintf("127.0.0.1:%d", 3000+id), ClientAddr: fmt.Sprint(4000 + id), Observer: observer}
}

// round delivers the members' messages to each other and steps every
// live pipeline; it reports whether anything moved.
func (e *ensemble) round() bool {
	e.moved = false
	msgs := e.app
	e.app = nil
	for _, m := range msgs {
		if e.down[m.from] {
			continue
		}
		if e.lose[m.data[0]] > 0 {
			e.lose[m.data[0]]--
			continue
		}
		if e.down[m.to] || e.cut[[2]uint64{m.from, m.to}] {
			// The sender's connection breaks.
			e.sites[m.from].p.PeerLost(m.to)
			e.moved = true
			continue
		}
		e.sites[m.to].p.Received(m.from, m.data)
		if e.dupForwards && m.data[0] == 'F' {
			e.sites[m.to].p.Received(m.from, m.data)
		}
		e.moved = true
	}
	for _, id := range e.ids() {
		if !e.down[id] {
			e.sites[id].p.Step(e.now)
		}
	}
	return e.moved
}

func (e *ensemble) submit(id uint64, r *pipeline.Request) *pipeline.Request {
	e.t.Helper()
	r.From = e.sites[id]
	if r.Conn == nil {
		r.Conn = &conn{}
	}
	if err := e.sites[id].p.Submit(r); err != nil {
		e.t.Fatal(err)
	}
	return r
}

func (e *ensemble) isDone(id uint64, r *pipeline.Request) bool {
	_, ok := e.sites[id].done[r]
	return ok
}

// tickUntilDone ticks up to ticks times until member id has completed r.
func (e *ensemble) tickUntilDone(id uint64, r *pipeline.Request, ticks int) {
	for range ticks {
		if e.isDone(id, r) {
			return
		}
		e.tick(1)
	}
}

// openSession creates a session through member id.
func (e *ensemble) openSession(id uint64, timeout int32) (*pipeline.Session, *conn) {
	e.t.Helper()
	c := &conn{}
	r := e.submit(id, &pipeline.Request{Kind: pipeline.KindCreateSession, Timeout: timeout, Conn: c})
	e.settle()
	if !e.isDone(id, r) || r.Session == nil {
		e.t.Fatalf("createSession through %d: done %v session %v result %+v", id, e.isDone(id, r), r.Session, r.Result)
	}
	return r.Session, c
}

func createReq(session int64, c *conn, path string, flags int32) *pipeline.Request {
	return &pipeline.Request{Kind: pipeline.KindWrite, Conn: c, Entry: engine.Entry{Session: session, Op: jute.OpCreate,
		Body: (&jute.CreateRequest{Path: path, Data: []byte(path), ACL: engine.OpenACL, Flags: flags}).AppendCreate(nil, false)}}
}

// image is a member's published state, for comparing members.
func (e *ensemble) image(id uint64) string {
	v := e.sites[id].p.View()
	var b strings.Builder
	fmt.Fprintf(&b, "zxid %#x\n", v.Zxid)
	v.Tree.All(func(n *engine.Node) bool {
		fmt.Fprintf(&b, "%s %+v %q\n", n.Path(), n.Stat(), n.Data())
		return true
	})
	return b.String()
}

// restartAll crashes every member and brings them all back from their
// wals with empty state machines, which replay the log; it returns the
// next leader once the members agree.
func (e *ensemble) restartAll() uint64 {
	e.t.Helper()
	for _, id := range e.ids() {
		e.crash(id)
	}
	for _, id := range e.ids() {
		e.restart(id)
	}
	lead := e.leader(e.ids()...)
	e.tick(3)
	e.mustAgree(e.ids()...)
	return lead
}

func (e *ensemble) mustAgree(ids ...uint64) {
	e.t.Helper()
	want := e.image(ids[0])
	for _, id := range ids[1:] {
		if got := e.image(id); got != want {
			e.t.Fatalf("member %d and member %d differ:\n%s", ids[0], id, lineDiff(want, got))
		}
	}
}

func lineDiff(a, b string) string {
	al, bl := strings.Split(a, "\n"), strings.Split(b, "\n")
	var out []string
	for _, l := range al {
		if !slices.Contains(bl, l) {
			out = append(out, "- "+l)
		}
	}
	for _, l := range bl {
		if !slices.Contains(al, l) {
			out = append(out, "+ "+l)
		}
	}
	return strings.Join(out, "\n")
}

func (e *ensemble) has(id uint64, path string) bool {
	_, ok := e.sites[id].p.View().Tree.Get(path)
	return ok
}

// others returns the members but lead, in order.
func (e *ensemble) others(lead uint64) []uint64 {
	var out []uint64
	for _, id := range e.ids() {
		if id != lead {
			out = append(out, id)
		}
	}
	return out
}

// TestForwardedWritesApplyEverywhereInOrder writes through the leader and
// both followers at once: every write is answered by the member that took
// it, with the zxid it has on every member, and the members' trees are
// identical, sequential names included.
func TestForwardedWritesApplyEverywhereInOrder(t *testing.T) {
	e := newEnsemble(t, []uint64{1, 2, 3}, nil)
	lead := e.leader(1, 2, 3)
	type sent struct {
		id uint64
		r  *pipeline.Request
	}
	var reqs []sent
	sessions := map[uint64]*pipeline.Session{}
	conns := map[uint64]*conn{}
	for _, id := range e.ids() {
		sessions[id], conns[id] = e.openSession(id, 30000)
	}
	for i := range 60 {
		id := e.ids()[i%3]
		r := e.submit(id, createReq(sessions[id].ID, conns[id], "/s-", 2))
		reqs = append(reqs, sent{id, r})
		if i%7 == 0 {
			e.settle()
		}
	}
	// A tick, for the last writes if the leader holds them for more to
	// gather (holdProposal).
	e.tick(1)
	zxids := map[int64]bool{}
	for _, s := range reqs {
		if !e.isDone(s.id, s.r) || s.r.Result.Err != jute.CodeOK {
			t.Fatalf("write through %d: done %v, %v", s.id, e.isDone(s.id, s.r), s.r.Result.Err)
		}
		if zxids[s.r.Result.Zxid] {
			t.Fatalf("zxid %#x answered twice", s.r.Result.Zxid)
		}
		zxids[s.r.Result.Zxid] = true
		// The zxid's epoch is the first leadership's.
		if s.r.Result.Zxid>>32 != 1 {
			t.Fatalf("zxid %#x is not in epoch 1", s.r.Result.Zxid)
		}
		// The answer names the node this write created on every member.
		d := jute.NewDecoder(s.r.Result.Body)
		if name := d.String(); !e.has(lead, name) {
			t.Fatalf("write through %d answered %s, which the leader does not have", s.id, name)
		}
	}
	if n, _ := e.sites[lead].p.View().Tree.Get("/"); n.NumChildren != 61 {
		t.Fatalf("the root has %d children, want 60 and /zookeeper", n.NumChildren)
	}
	e.mustAgree(1, 2, 3)
}

// TestLeaderProposesOneBatchAtATime: while the leader's last proposal is
// not applied, the writes that come in wait and go out together in its
// next one (group commit across the ensemble). A proposal raft drops holds
// the next ones back only for a while.
func TestLeaderProposesOneBatchAtATime(t *testing.T) {
	e := newEnsemble(t, []uint64{1, 2, 3}, nil)
	lead := e.leader(1, 2, 3)
	s, c := e.openSession(lead, 30000)
	step := func() { e.sites[lead].p.Step(e.now) }
	write := func(path string) *pipeline.Request {
		r := e.submit(lead, createReq(s.ID, c, path, 0))
		step()
		return r
	}
	base := e.proposals[lead]
	first := write("/a")
	if got := e.proposals[lead] - base; got != 1 {
		t.Fatalf("the first write made %d proposals, want 1", got)
	}
	// Steps while the first proposal is in flight: nothing is proposed.
	held := []*pipeline.Request{write("/b"), write("/c"), write("/d")}
	if got := e.proposals[lead] - base; got != 1 {
		t.Fatalf("%d proposals while the first was in flight, want 1", got)
	}
	e.settle()
	for _, r := range append(held, first) {
		if !e.isDone(lead, r) || r.Result.Err != jute.CodeOK {
			t.Fatalf("write %q: done %v, %v", r.Entry.Body, e.isDone(lead, r), r.Result.Err)
		}
	}
	if got := e.proposals[lead] - base; got != 2 {
		t.Fatalf("%d proposals for 4 writes, want 2: the first, then the 3 that waited", got)
	}

	// A proposal raft drops is never applied: the next write waits for a
	// while, then goes out anyway. (A tick first, so that the write after
	// the round of 3 does not wait for the next round to gather.)
	e.tick(1)
	e.drop = 1
	lost := write("/lost")
	next := write("/next")
	e.settle()
	if e.isDone(lead, next) {
		t.Fatal("the write after a dropped proposal went out at once")
	}
	e.tick(1)
	if !e.isDone(lead, next) || next.Result.Err != jute.CodeOK {
		t.Fatalf("the write after a dropped proposal: done %v, %v", e.isDone(lead, next), next.Result.Err)
	}
	if e.isDone(lead, lost) {
		t.Fatal("a dropped proposal's write was answered")
	}
	e.mustAgree(1, 2, 3)
}

// TestLeaderGathersTheNextRound checks the second half of holdProposal:
// once a round of 10 writes is applied, the leader holds its next
// proposal until 9 writes wait, or for the configured CommitWait; after a
// round of one write, the next goes at once.
func TestLeaderGathersTheNextRound(t *testing.T) {
	const commitWait = 3 * time.Millisecond
	e := newEnsembleWith(t, []uint64{1, 2, 3}, nil, func(c *pipeline.Config) { c.CommitWait = commitWait })
	lead := e.leader(1, 2, 3)
	s, c := e.openSession(lead, 30000)
	e.tick(1)
	n := 0
	writes := func(k int) []*pipeline.Request {
		var rs []*pipeline.Request
		for range k {
			rs = append(rs, e.submit(lead, createReq(s.ID, c, fmt.Sprintf("/w%d", n), 0)))
			n++
		}
		e.settle()
		return rs
	}
	mustBeDone := func(what string, rs ...*pipeline.Request) {
		t.Helper()
		for _, r := range rs {
			if !e.isDone(lead, r) || r.Result.Err != jute.CodeOK {
				t.Fatalf("%s: %q done %v, %v", what, r.Entry.Body, e.isDone(lead, r), r.Result.Err)
			}
		}
	}
	base := e.proposals[lead]
	proposed := func(want int) {
		t.Helper()
		if got := e.proposals[lead] - base; got != want {
			t.Fatalf("%d proposals, want %d", got, want)
		}
	}

	mustBeDone("a round of 10", writes(10)...)
	proposed(1)
	gathering := writes(8)
	proposed(1)
	gathering = append(gathering, writes(1)...)
	proposed(2)
	mustBeDone("9 writes after a round of 10", gathering...)

	// Short of 9*9/10 = 8 writes, the next round waits for the clock.
	late := writes(7)
	proposed(2)
	e.now = e.now.Add(commitWait - time.Microsecond)
	e.settle()
	proposed(2)
	e.now = e.now.Add(time.Microsecond)
	e.settle()
	proposed(3)
	mustBeDone("7 writes after a round of 9", late...)

	// A round of 7 waits for 6; a round of 1 holds nothing back.
	e.tick(1)
	alone := writes(1)
	proposed(4)
	mustBeDone("a write alone", alone...)
	mustBeDone("the write after a round of one", writes(1)...)
	proposed(5)
	e.mustAgree(1, 2, 3)
}

// TestDuplicateForwardIsAppliedOnce delivers every forwarded batch to the
// leader twice: each write is applied once.
func TestDuplicateForwardIsAppliedOnce(t *testing.T) {
	e := newEnsemble(t, []uint64{1, 2, 3}, nil)
	lead := e.leader(1, 2, 3)
	f := e.others(lead)[0]
	s, c := e.openSession(f, 30000)
	e.dupForwards = true
	var reqs []*pipeline.Request
	for range 10 {
		reqs = append(reqs, e.submit(f, createReq(s.ID, c, "/dup-", 2)))
	}
	reqs = append(reqs, e.submit(f, createReq(s.ID, c, "/plain", 0)))
	e.settle()
	for _, r := range reqs {
		if !e.isDone(f, r) || r.Result.Err != jute.CodeOK {
			t.Fatalf("write: done %v, %v", e.isDone(f, r), r.Result.Err)
		}
	}
	if n, _ := e.sites[lead].p.View().Tree.Get("/"); n.NumChildren != 12 {
		t.Fatalf("the root has %d children, want 11 and /zookeeper: a duplicate was applied", n.NumChildren)
	}
	e.mustAgree(1, 2, 3)
}

// TestOnlyTheLeaderExpiresSessions opens a session through a follower
// and has its client ping that follower only: the follower's liveness
// reports keep it open on the leader well past its timeout, through a
// change of leader too. Once the pings stop, the leader expires it within
// its timeout and a tick, on every member, with its ephemeral; the
// follower closes the client's connection.
func TestOnlyTheLeaderExpiresSessions(t *testing.T) {
	e := newEnsemble(t, []uint64{1, 2, 3}, nil)
	lead := e.leader(1, 2, 3)
	f := e.others(lead)[0]
	const timeout = 6000
	s, c := e.openSession(f, timeout)
	r := e.submit(f, createReq(s.ID, c, "/eph", 1))
	e.settle()
	if r.Result.Err != jute.CodeOK {
		t.Fatal(r.Result.Err)
	}
	ping := func(ticks int) {
		for range ticks {
			s.Touch(e.now)
			e.tick(1)
		}
	}
	ping(200) // 20 s, three times the timeout
	for _, id := range e.ids() {
		if !e.has(id, "/eph") {
			t.Fatalf("member %d expired a session whose client pings its follower", id)
		}
	}
	// A new leader restarts every session's clock; the pings go on.
	e.isolate(lead)
	e.settle()
	var next uint64
	for range 100 {
		ping(1)
		if st := e.members[f].c.Status(); st.Lead != 0 && st.Lead != lead {
			next = st.Lead
			break
		}
	}
	if next == 0 {
		t.Fatal("no new leader")
	}
	e.heal()
	ping(150)
	if !e.has(f, "/eph") || c.closed {
		t.Fatal("a change of leader expired a live session")
	}
	// The client goes away.
	stopped := e.now
	for !c.closed {
		if e.now.Sub(stopped) > timeout*time.Millisecond+sessionTick+time.Second {
			t.Fatalf("the session outlived its timeout by more than a tick and a report (%v)", e.now.Sub(stopped))
		}
		e.tick(1)
	}
	if e.now.Sub(stopped) < timeout*time.Millisecond {
		t.Fatalf("the session expired %v after its last ping, before its timeout", e.now.Sub(stopped))
	}
	for _, id := range e.ids() {
		if e.has(id, "/eph") {
			t.Fatalf("member %d still has the expired session's ephemeral", id)
		}
	}
	e.mustAgree(1, 2, 3)
}

// TestLeaderChangeFailsWritesInFlight has a follower forward a write to a
// leader that can no longer replicate: when the others elect a new leader
// the follower closes the client's connection (the outcome is unknown; the
// client sees ConnectionLoss) rather than make up an answer, and once
// healed every member agrees (the write never committed).
func TestLeaderChangeFailsWritesInFlight(t *testing.T) {
	e := newEnsemble(t, []uint64{1, 2, 3}, nil)
	lead := e.leader(1, 2, 3)
	f := e.others(lead)[0]
	s, c := e.openSession(f, 30000)
	e.raftCut[lead] = true
	r := e.submit(f, createReq(s.ID, c, "/inflight", 0))
	e.settle()
	if e.isDone(f, r) {
		t.Fatalf("a write the leader could not replicate completed: %+v", r.Result)
	}
	e.tickUntilDone(f, r, 100)
	if !e.isDone(f, r) || r.Result.Err != jute.CodeConnectionLoss || !c.closed {
		t.Fatalf("after the leader changed: done %v, %v, connection closed %v", e.isDone(f, r), r.Result.Err, c.closed)
	}
	// Once the others have elected a leader in a later term, the old
	// leader's uncommitted entry is overwritten when it comes back.
	e.leader(e.others(lead)...)
	delete(e.raftCut, lead)
	e.heal()
	e.tick(30)
	for _, id := range e.ids() {
		if e.has(id, "/inflight") {
			t.Fatalf("member %d applied the write the cut-off leader took", id)
		}
	}
	e.mustAgree(1, 2, 3)
}

// TestSyncWaitsForTheLeadersCommitIndex: a follower cut off from raft
// cannot answer a sync; once healed, the sync completes only when the
// follower has applied what the leader had committed when it was asked.
func TestSyncWaitsForTheLeadersCommitIndex(t *testing.T) {
	e := newEnsemble(t, []uint64{1, 2, 3}, nil)
	lead := e.leader(1, 2, 3)
	f := e.others(lead)[0]
	ls, lc := e.openSession(lead, 30000)
	e.raftCut[f] = true
	w := e.submit(lead, createReq(ls.ID, lc, "/before-sync", 0))
	e.settle()
	if w.Result.Err != jute.CodeOK || e.has(f, "/before-sync") {
		t.Fatalf("write %v; the cut-off follower has it: %v", w.Result.Err, e.has(f, "/before-sync"))
	}
	sync := e.submit(f, &pipeline.Request{Kind: pipeline.KindSync})
	e.tick(5)
	if e.isDone(f, sync) {
		t.Fatal("a sync completed on a follower cut off from the leader")
	}
	delete(e.raftCut, f)
	e.heal()
	e.tickUntilDone(f, sync, 30)
	if !e.isDone(f, sync) {
		t.Fatal("the sync did not complete after healing")
	}
	if zxid := e.sites[f].done[sync]; zxid < w.Result.Zxid {
		t.Fatalf("the sync completed with zxid %#x, before the write at %#x", zxid, w.Result.Zxid)
	}
}

// TestSyncGivesUpWithoutALeader: a sync on a follower that can never
// reach a leader closes its connection after SyncTimeout.
func TestSyncGivesUpWithoutALeader(t *testing.T) {
	e := newEnsemble(t, []uint64{1, 2, 3}, nil)
	lead := e.leader(1, 2, 3)
	f := e.others(lead)[0]
	e.raftCut[f] = true
	c := &conn{}
	sync := e.submit(f, &pipeline.Request{Kind: pipeline.KindSync, Conn: c})
	e.tick(150)
	if !e.isDone(f, sync) || sync.Result.Err != jute.CodeConnectionLoss || !c.closed {
		t.Fatalf("sync after 15 s cut off: done %v %v closed %v", e.isDone(f, sync), sync.Result.Err, c.closed)
	}
}

// TestObserverForwardsAndDoesNotVote: a learner takes sessions and writes
// and applies everything; it does not vote, so with one of two voters
// down there is no leader and the learner's writes fail with
// ConnectionLoss.
func TestObserverForwardsAndDoesNotVote(t *testing.T) {
	e := newEnsemble(t, []uint64{1, 2}, []uint64{3})
	lead := e.leader(1, 2, 3)
	if lead == 3 {
		t.Fatal("the learner leads")
	}
	if e.sites[3].leader != lead {
		t.Fatalf("the observer reports leader %d, want %d", e.sites[3].leader, lead)
	}
	s, c := e.openSession(3, 30000)
	r := e.submit(3, createReq(s.ID, c, "/from-observer", 0))
	e.settle()
	if r.Result.Err != jute.CodeOK {
		t.Fatal(r.Result.Err)
	}
	e.mustAgree(1, 2, 3)
	e.crash(lead)
	e.tick(50)
	r = e.submit(3, createReq(s.ID, c, "/no-leader", 0))
	e.tick(5)
	if !e.isDone(3, r) || r.Result.Err != jute.CodeConnectionLoss {
		t.Fatalf("a write through the observer without a quorum: done %v %v", e.isDone(3, r), r.Result.Err)
	}
	other := e.others(lead)[0]
	if st := e.members[other].c.Status(); st.Lead != 0 {
		t.Fatalf("member %d follows %d with one voter of two down", other, st.Lead)
	}
	// The observer's pipeline was told the leader is gone: its server
	// drops its clients.
	if e.sites[3].leader != 0 {
		t.Fatalf("the observer still reports leader %d", e.sites[3].leader)
	}
}

// TestSessionMovesBetweenMembers: a client resumes its session on another
// member; a write through its old connection is refused with
// SESSIONMOVED. A wrong password is refused, and a session created on one
// member can be resumed on a member that has not applied it yet.
func TestSessionMovesBetweenMembers(t *testing.T) {
	e := newEnsemble(t, []uint64{1, 2, 3}, nil)
	lead := e.leader(1, 2, 3)
	f1, f2 := e.others(lead)[0], e.others(lead)[1]
	s, old := e.openSession(f1, 30000)
	fresh := &conn{}
	reopen := e.submit(f2, &pipeline.Request{Kind: pipeline.KindReopenSession, Timeout: 20000, Conn: fresh,
		Passwd: s.Passwd[:], Entry: engine.Entry{Session: s.ID}})
	e.settle()
	if reopen.Session == nil || reopen.Session.ID != s.ID {
		t.Fatalf("reopen on another member: %+v", reopen.Session)
	}
	r := e.submit(f1, createReq(s.ID, old, "/through-old", 0))
	e.settle()
	if r.Result.Err != jute.CodeSessionMoved {
		t.Fatalf("a write through the old connection: %v, want SESSIONMOVED", r.Result.Err)
	}
	r = e.submit(f2, createReq(s.ID, fresh, "/through-new", 0))
	e.settle()
	if r.Result.Err != jute.CodeOK {
		t.Fatalf("a write through the new connection: %v", r.Result.Err)
	}

	bad := e.submit(f1, &pipeline.Request{Kind: pipeline.KindReopenSession, Timeout: 20000,
		Passwd: make([]byte, 16), Entry: engine.Entry{Session: s.ID}})
	e.settle()
	if !e.isDone(f1, bad) || bad.Session != nil {
		t.Fatalf("reopen with a wrong password: done %v session %v", e.isDone(f1, bad), bad.Session)
	}

	// A session f2 has not applied yet.
	e.raftCut[f2] = true
	s2, _ := e.openSession(f1, 30000)
	late := e.submit(f2, &pipeline.Request{Kind: pipeline.KindReopenSession, Timeout: 20000,
		Passwd: s2.Passwd[:], Entry: engine.Entry{Session: s2.ID}})
	e.tick(3)
	if e.isDone(f2, late) {
		t.Fatal("a member that has not applied the session answered its reopen")
	}
	delete(e.raftCut, f2)
	e.heal()
	e.tickUntilDone(f2, late, 30)
	if late.Session == nil || late.Session.ID != s2.ID {
		t.Fatalf("reopen of a session created elsewhere: done %v session %v", e.isDone(f2, late), late.Session)
	}
}

// TestLostRevalidationIsAskedAgain: a revalidation lost without a sign is
// asked again, and the client resumes its session long before the sync
// timeout would close its connection.
func TestLostRevalidationIsAskedAgain(t *testing.T) {
	e := newEnsemble(t, []uint64{1, 2, 3}, nil)
	lead := e.leader(1, 2, 3)
	f1, f2 := e.others(lead)[0], e.others(lead)[1]
	s, _ := e.openSession(f1, 30000)
	e.lose = map[byte]int{'V': 1}
	reopen := e.submit(f2, &pipeline.Request{Kind: pipeline.KindReopenSession, Timeout: 20000,
		Passwd: s.Passwd[:], Entry: engine.Entry{Session: s.ID}})
	e.tickUntilDone(f2, reopen, 30)
	if e.lose['V'] != 0 || reopen.Session == nil || reopen.Session.ID != s.ID {
		t.Fatalf("after 3 s with the first revalidation lost: lost %v, done %v, session %v", e.lose['V'] == 0, e.isDone(f2, reopen), reopen.Session)
	}
}

// TestRestartAllReplaysTheSameState crashes every member and brings them
// back with empty state machines: replaying the log rebuilds the same
// tree, and the next leadership opens a new epoch.
func TestRestartAllReplaysTheSameState(t *testing.T) {
	e := newEnsemble(t, []uint64{1, 2, 3}, nil)
	lead := e.leader(1, 2, 3)
	s, c := e.openSession(lead, 30000)
	for i := range 20 {
		e.submit(lead, createReq(s.ID, c, fmt.Sprintf("/n%d", i), 2))
	}
	e.settle()
	before := e.image(lead)
	lead = e.restartAll()
	after := e.image(lead)
	// Only the zxid line differs: a new epoch opened with no write in it.
	if b, a := strings.SplitN(before, "\n", 2), strings.SplitN(after, "\n", 2); b[1] != a[1] {
		t.Fatalf("the replayed tree differs:\n%s", lineDiff(before, after))
	}
	if v := e.sites[lead].p.View(); v.Zxid>>32 != 2 || v.Zxid&0xffffffff != 0 {
		t.Fatalf("after the restart the zxid is %#x, want epoch 2 counter 0", v.Zxid)
	}
}

// TestWritesWaitForTheElection submits a write on a follower that has
// lost its leader and knows no new one yet: it waits for the election
// instead of failing, and is applied by the new leader. The follower never
// tells its server it has no leader (which would drop its clients): the
// election took less than the grace.
func TestWritesWaitForTheElection(t *testing.T) {
	e := newEnsemble(t, []uint64{1, 2, 3}, nil)
	lead := e.leader(1, 2, 3)
	rest := e.others(lead)
	sessions := map[uint64]*pipeline.Session{}
	conns := map[uint64]*conn{}
	for _, id := range rest {
		sessions[id], conns[id] = e.openSession(id, 30000)
	}
	e.crash(lead)
	// The followers cannot reach each other either for a while: each
	// times out and knows no leader.
	f, g := rest[0], rest[1]
	e.cut[[2]uint64{f, g}], e.cut[[2]uint64{g, f}] = true, true
	for range 100 {
		e.tick(1)
		if e.members[f].c.Status().Lead == 0 {
			break
		}
	}
	if e.members[f].c.Status().Lead != 0 {
		t.Fatal("the follower never noticed the leader was gone")
	}
	s, c := sessions[f], conns[f]
	r := e.submit(f, createReq(s.ID, c, "/during-election", 0))
	e.settle()
	if e.isDone(f, r) {
		t.Fatalf("a write without a leader completed at once: %v", r.Result.Err)
	}
	e.heal()
	if err := e.members[f].c.rn.Campaign(); err != nil {
		t.Fatal(err)
	}
	e.settle()
	e.tickUntilDone(f, r, 100)
	if !e.isDone(f, r) || r.Result.Err != jute.CodeOK || c.closed {
		t.Fatalf("a write during the election: done %v %v closed %v", e.isDone(f, r), r.Result.Err, c.closed)
	}
	e.mustAgree(rest...)
	if slices.Contains(e.sites[f].reported, 0) {
		t.Fatalf("the follower reported no leader during a short election: %v", e.sites[f].reported)
	}
}
