package replication

import (
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/meerkat-zk/meerkat/engine"
	"github.com/meerkat-zk/meerkat/jute"
	"github.com/meerkat-zk/meerkat/membership"
	"github.com/meerkat-zk/meerkat/pipeline"
)

func reconfigEnabled(c *pipeline.Config) {
	c.Policy.ReconfigEnabled = true
	c.Policy.SkipACL = true
}

// reconfigReq is a reconfig request as a client sends it; a nil
// newMembers is null (an incremental request).
func reconfigReq(session int64, c *conn, joining, leaving string, newMembers *string, from int64) *pipeline.Request {
	rr := jute.ReconfigRequest{JoiningServers: joining, LeavingServers: leaving, NewMembersNull: newMembers == nil, CurConfigID: from}
	if newMembers != nil {
		rr.NewMembers = *newMembers
	}
	return &pipeline.Request{Kind: pipeline.KindWrite, Conn: c,
		Entry: engine.Entry{Session: session, Op: jute.OpReconfig, Body: rr.Append(nil)}}
}

// configOf returns the membership /zookeeper/config holds on member id.
func (e *ensemble) configOf(id uint64) membership.Config {
	e.t.Helper()
	n, ok := e.sites[id].p.View().Tree.Get(engine.ConfigNodePath)
	if !ok {
		e.t.Fatalf("member %d has no %s", id, engine.ConfigNodePath)
	}
	c, err := membership.Parse(string(n.Data()))
	if err != nil {
		e.t.Fatalf("member %d: %v", id, err)
	}
	return c
}

// raftMembers returns member id's raft membership.
func (e *ensemble) raftMembers(id uint64) (voters, learners []uint64) {
	cs := e.members[id].c.confs[len(e.members[id].c.confs)-1].cs
	return slices.Sorted(slices.Values(cs.GetVoters())), slices.Sorted(slices.Values(cs.GetLearners()))
}

// TestReconfigChangesTheMembership removes a voter with a reconfig and
// adds it back, under writes: each reconfig is answered with the new
// /zookeeper/config (versioned with its zxid) on every member, raft's
// membership follows it, a reconfig while one is on its way is refused
// RECONFIGINPROGRESS, a stale version BADVERSION, and the members agree.
func TestReconfigChangesTheMembership(t *testing.T) {
	e := newEnsembleWith(t, []uint64{1, 2, 3}, nil, reconfigEnabled)
	lead := e.leader(1, 2, 3)
	f, gone := e.others(lead)[0], e.others(lead)[1]
	rest := []uint64{lead, f}
	slices.Sort(rest)
	s, c := e.openSession(f, 30000)
	write := func(path string) {
		t.Helper()
		r := e.submit(f, createReq(s.ID, c, path, 0))
		e.tickUntilDone(f, r, 50)
		if r.Result.Err != jute.CodeOK {
			t.Fatalf("create %s: %v", path, r.Result.Err)
		}
	}
	write("/before")
	old := e.configOf(f)
	leave := e.submit(f, reconfigReq(s.ID, c, "", fmt.Sprint(gone), nil, old.Version))
	// Forwarded with it, so the leader has it before the first is applied.
	busy := e.submit(f, reconfigReq(s.ID, c, "", fmt.Sprint(f), nil, -1))
	e.settle()
	if busy.Result.Err != jute.CodeReconfigInProgress {
		t.Fatalf("a reconfig while another is on its way: %v, want RECONFIGINPROGRESS", busy.Result.Err)
	}
	if leave.Result.Err != jute.CodeOK {
		t.Fatalf("reconfig leaving %d: %v", gone, leave.Result.Err)
	}
	d := jute.NewDecoder(leave.Result.Body)
	text := string(d.Buffer())
	want := testMembership(rest, nil)
	want.Version = leave.Result.Zxid
	if text != want.Text() {
		t.Fatalf("reconfig answered\n%s\nwant\n%s", text, want.Text())
	}
	var st jute.Stat
	st.Decode(d)
	if st.Mzxid != leave.Result.Zxid || st.Version != -1 {
		t.Fatalf("reconfig's stat %+v: want mzxid %#x and version -1", st, leave.Result.Zxid)
	}
	// It stops voting and, as ZooKeeper's removed server, follows on.
	if !e.tickUntil(100, func() bool {
		v, l := e.raftMembers(lead)
		return slices.Equal(v, rest) && slices.Equal(l, []uint64{gone})
	}) {
		v, l := e.raftMembers(lead)
		t.Fatalf("raft's membership did not follow: voters %v learners %v", v, l)
	}
	write("/without")
	e.settle()
	if !e.has(gone, "/without") {
		t.Fatal("the removed member stopped following")
	}
	for _, id := range e.ids() {
		if id != gone {
			if got := e.configOf(id); got.Text() != want.Text() {
				t.Fatalf("member %d holds\n%s", id, got.Text())
			}
		}
	}
	stale := e.submit(f, reconfigReq(s.ID, c, "", fmt.Sprint(f), nil, old.Version))
	e.tickUntilDone(f, stale, 50)
	if stale.Result.Err != jute.CodeBadVersion {
		t.Fatalf("a reconfig from a stale version: %v, want BADVERSION", stale.Result.Err)
	}
	back := e.submit(f, reconfigReq(s.ID, c, testServer(gone, false).Line(), "", nil, -1))
	e.tickUntilDone(f, back, 50)
	if back.Result.Err != jute.CodeOK {
		t.Fatalf("reconfig joining %d again: %v", gone, back.Result.Err)
	}
	if !e.tickUntil(200, func() bool {
		v, l := e.raftMembers(lead)
		return slices.Equal(v, []uint64{1, 2, 3}) && len(l) == 0
	}) {
		v, l := e.raftMembers(lead)
		t.Fatalf("member %d did not come back as a voter: voters %v learners %v", gone, v, l)
	}
	write("/with")
	e.tick(20)
	e.mustAgree(1, 2, 3)
}

// TestReconfigNeedsASyncedQuorum: a new membership most of whose voters
// are not connected and caught up is refused NEWCONFIGNOQUORUM, and one
// that leaves a single voter BADARGUMENTS (with standaloneEnabled's two
// voters at least), each consuming a zxid as in ZooKeeper.
func TestReconfigNeedsASyncedQuorum(t *testing.T) {
	e := newEnsembleWith(t, []uint64{1, 2, 3}, nil, func(c *pipeline.Config) {
		reconfigEnabled(c)
		c.ReconfigMinVoters = 2
	})
	lead := e.leader(1, 2, 3)
	f, cut := e.others(lead)[0], e.others(lead)[1]
	s, c := e.openSession(f, 30000)
	e.raftCut[cut] = true
	e.tick(30) // the leader notices cut is gone
	members := strings.Join([]string{testServer(lead, false).Line(), testServer(cut, false).Line(), testServer(9, false).Line()}, ",")
	zxid := e.sites[f].p.View().Zxid
	r := e.submit(f, reconfigReq(s.ID, c, "", "", &members, -1))
	e.tickUntilDone(f, r, 50)
	if r.Result.Err != jute.CodeNewConfigNoQuorum || r.Result.Zxid != zxid+1 {
		t.Fatalf("reconfig to a membership without a synced quorum: %v at %#x, want NEWCONFIGNOQUORUM at %#x", r.Result.Err, r.Result.Zxid, zxid+1)
	}
	one := e.submit(f, reconfigReq(s.ID, c, "", "1,2,3", nil, -1))
	e.tickUntilDone(f, one, 50)
	if one.Result.Err != jute.CodeBadArguments {
		t.Fatalf("reconfig leaving no voter: %v, want BADARGUMENTS", one.Result.Err)
	}
	if v, _ := e.raftMembers(lead); !slices.Equal(v, []uint64{1, 2, 3}) {
		t.Fatalf("refused reconfigs changed raft's voters: %v", v)
	}
}

// TestReconfigRemovesTheLeader: a reconfig that removes the leader makes
// it hand the leadership to a member that stays, which demotes it; writes
// go on, and once the old leader goes quiet it leaves raft's membership.
func TestReconfigRemovesTheLeader(t *testing.T) {
	e := newEnsembleWith(t, []uint64{1, 2, 3}, nil, reconfigEnabled)
	lead := e.leader(1, 2, 3)
	rest := e.others(lead)
	s, c := e.openSession(rest[0], 30000)
	r := e.submit(rest[0], reconfigReq(s.ID, c, "", fmt.Sprint(lead), nil, -1))
	e.tickUntilDone(rest[0], r, 50)
	if r.Result.Err != jute.CodeOK {
		t.Fatalf("reconfig leaving the leader: %v", r.Result.Err)
	}
	next := e.leader(rest...)
	if next == lead {
		t.Fatal("the removed leader still leads")
	}
	if !e.tickUntil(100, func() bool { v, _ := e.raftMembers(next); return slices.Equal(v, rest) }) {
		v, _ := e.raftMembers(next)
		t.Fatalf("voters %v, want %v", v, rest)
	}
	// The old leader follows on as a learner until it goes quiet.
	if _, l := e.raftMembers(next); !slices.Equal(l, []uint64{lead}) {
		t.Fatalf("learners %v, want the old leader", l)
	}
	e.crash(lead)
	if !e.tickUntil(lingerTicks+50, func() bool { _, l := e.raftMembers(next); return len(l) == 0 }) {
		_, l := e.raftMembers(next)
		t.Fatalf("a removed member gone quiet is still a learner: %v", l)
	}
	w := e.submit(rest[0], createReq(s.ID, c, "/after", 0))
	e.tickUntilDone(rest[0], w, 100)
	if w.Result.Err != jute.CodeOK {
		t.Fatalf("a write after the leader left: %v", w.Result.Err)
	}
	e.mustAgree(rest...)
}

// TestReconfigMakesAnObserver turns a voter into an observer and back with
// reconfigs (joining its line with :observer, then :participant): raft
// demotes it to a learner, which still applies every write, and promotes
// it again once caught up.
func TestReconfigMakesAnObserver(t *testing.T) {
	e := newEnsembleWith(t, []uint64{1, 2, 3}, nil, reconfigEnabled)
	lead := e.leader(1, 2, 3)
	f, o := e.others(lead)[0], e.others(lead)[1]
	s, c := e.openSession(f, 30000)
	for _, observer := range []bool{true, false} {
		r := e.submit(f, reconfigReq(s.ID, c, testServer(o, observer).Line(), "", nil, -1))
		e.tickUntilDone(f, r, 50)
		if r.Result.Err != jute.CodeOK {
			t.Fatalf("reconfig making %d observer=%v: %v", o, observer, r.Result.Err)
		}
		if !e.tickUntil(100, func() bool {
			_, l := e.raftMembers(lead)
			return slices.Contains(l, o) == observer
		}) {
			v, l := e.raftMembers(lead)
			t.Fatalf("observer=%v: voters %v learners %v", observer, v, l)
		}
		path := fmt.Sprintf("/observer-%v", observer)
		w := e.submit(f, createReq(s.ID, c, path, 0))
		e.tickUntilDone(f, w, 50)
		e.settle()
		if w.Result.Err != jute.CodeOK || !e.has(o, path) {
			t.Fatalf("write with %d observer=%v: %v, applied there %v", o, observer, w.Result.Err, e.has(o, path))
		}
	}
	if v, _ := e.raftMembers(lead); len(v) != 3 {
		t.Fatalf("voters %v after turning the observer back", v)
	}
	e.mustAgree(1, 2, 3)
}

// TestMembershipVersionIsTheLeaders: only member 2's own configuration
// has reconfigEnabled. /zookeeper/config takes its version (the zxid that
// opens the epoch, as ZooKeeper's first leader gives it) under the first
// leader whose setting it is, the same on every member and on a replay of
// the log, and never from a member's own setting alone.
func TestMembershipVersionIsTheLeaders(t *testing.T) {
	const enabled = 2
	e := newEnsembleWith(t, []uint64{1, 2, 3}, nil, func(c *pipeline.Config) {
		if c.ServerID == enabled {
			reconfigEnabled(c)
		}
	})
	lead := e.leader(1, 2, 3)
	var want int64
	seen := map[bool]bool{}
	for leaderships := 0; !seen[true] || !seen[false]; leaderships++ {
		if leaderships == 8 {
			t.Fatalf("after 8 leaderships, leaders with and without reconfigEnabled: %v", seen)
		}
		e.tick(3)
		e.mustAgree(1, 2, 3)
		if lead == enabled && want == 0 {
			want = e.sites[lead].p.View().Zxid &^ 0xffffffff
		}
		if got := e.configOf(lead).Version; got != want {
			t.Fatalf("under leader %d the membership has version %#x, want %#x", lead, got, want)
		}
		seen[lead == enabled] = true
		e.crash(lead)
		next := e.leader(e.others(lead)...)
		e.restart(lead)
		lead = next
	}
	e.settle()
	before := e.image(lead)
	lead = e.restartAll()
	if got := e.configOf(lead).Version; got != want {
		t.Fatalf("after a replay of the log the membership has version %#x, want %#x\n%s", got, want, lineDiff(before, e.image(lead)))
	}
}

// TestReconfigReplacesVotersInOneJointChange replaces two of three voters
// with two observers in one reconfig (a whole new membership): raft goes
// from the old voters to the new through one joint configuration, never
// through a membership of its own making in between, and the ensemble
// writes on under the new voters.
func TestReconfigReplacesVotersInOneJointChange(t *testing.T) {
	e := newEnsembleWith(t, []uint64{1, 2, 3}, []uint64{4, 5}, reconfigEnabled)
	e.leader(1, 2, 3)
	s, c := e.openSession(1, 30000)
	members := strings.Join([]string{testServer(1, false).Line(), testServer(4, false).Line(), testServer(5, false).Line()}, ",")
	r := e.submit(1, reconfigReq(s.ID, c, "", "", &members, -1))
	e.tickUntilDone(1, r, 50)
	if r.Result.Err != jute.CodeOK {
		t.Fatalf("reconfig to voters 1, 4 and 5: %v", r.Result.Err)
	}
	newVoters := []uint64{1, 4, 5}
	if !e.tickUntil(200, func() bool { v, _ := e.raftMembers(1); return slices.Equal(v, newVoters) }) {
		v, l := e.raftMembers(1)
		t.Fatalf("voters %v learners %v, want voters %v", v, l, newVoters)
	}
	joint := false
	for _, conf := range e.members[1].c.confs {
		in := slices.Sorted(slices.Values(conf.cs.GetVoters()))
		out := slices.Sorted(slices.Values(conf.cs.GetVotersOutgoing()))
		if !slices.Equal(in, []uint64{1, 2, 3}) && !slices.Equal(in, newVoters) || len(out) > 0 && !slices.Equal(out, []uint64{1, 2, 3}) {
			t.Fatalf("raft went through voters %v (outgoing %v) at index %d", in, out, conf.index)
		}
		joint = joint || len(out) > 0 && slices.Equal(in, newVoters)
	}
	if !joint {
		t.Fatal("raft changed its voters without a joint configuration")
	}
	lead := e.leader(newVoters...)
	w := e.submit(lead, createReq(s.ID, c, "/after", 0))
	e.tickUntilDone(lead, w, 100)
	if w.Result.Err != jute.CodeOK {
		t.Fatalf("a write under the new voters: %v", w.Result.Err)
	}
	e.settle()
	e.mustAgree(newVoters...)
}
