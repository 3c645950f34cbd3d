package replication

import (
	"bytes"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"go.etcd.io/raft/v3"
	pb "go.etcd.io/raft/v3/raftpb"
	"go.etcd.io/raft/v3/tracker"

	"github.com/meerkat-zk/meerkat/wal"
	"github.com/meerkat-zk/meerkat/wal/walfs"
)

var quiet = slog.New(slog.NewTextHandler(io.Discard, nil))

// member is one core of a test network, with its log on a real wal under
// dir and the payloads it applied, in order.
type member struct {
	id      uint64
	dir     string
	c       *core
	storage *Storage
	applied []string
}

// network is an in-process network of cores with logical time: nothing
// runs unless the test says so.
type network struct {
	t       *testing.T
	boot    *pb.ConfState
	members map[uint64]*member
	queue   []*pb.Message
	// down members receive nothing and do nothing; cut links drop what
	// crosses them, either way.
	down map[uint64]bool
	cut  map[[2]uint64]bool
	// raftCut members exchange no raft messages with anyone (but the
	// ensemble tests' members still exchange their own messages).
	raftCut map[uint64]bool
	// wire, when set, adjusts each core's configuration as it starts (the
	// ensemble tests connect cores to pipelines with it).
	wire func(*member, *coreConfig)
	// also, when set, runs in every round of settle and reports whether it
	// moved anything; onTick runs before every tick.
	also   func() bool
	onTick func()
	// watch, when set, sees every message delivered.
	watch func(*pb.Message)
	// slowDisk members write nothing their Readys ask for until the test
	// clears them: their fsync has not returned. stallOnSnapshot members
	// write normally until asked to write a snapshot, then stall so.
	slowDisk, stallOnSnapshot map[uint64]bool
}

func newNetwork(t *testing.T, voters, learners []uint64) *network {
	return newWiredNetwork(t, voters, learners, nil)
}

func newWiredNetwork(t *testing.T, voters, learners []uint64, wire func(*member, *coreConfig)) *network {
	n := &network{t: t, boot: &pb.ConfState{Voters: voters, Learners: learners},
		members: map[uint64]*member{}, down: map[uint64]bool{}, cut: map[[2]uint64]bool{}, raftCut: map[uint64]bool{}, slowDisk: map[uint64]bool{}, stallOnSnapshot: map[uint64]bool{}, wire: wire}
	dir := t.TempDir()
	for _, id := range slices.Concat(voters, learners) {
		n.start(&member{id: id, dir: filepath.Join(dir, fmt.Sprint(id))})
	}
	t.Cleanup(func() {
		for _, m := range n.members {
			m.storage.Close()
		}
	})
	return n
}

// start opens m's log (bootstrapping it the first time) and makes its core.
func (n *network) start(m *member) {
	n.t.Helper()
	s, err := OpenStorage(m.dir, wal.Options{SegmentSize: 1 << 20, NoSync: true, Logger: quiet, OnSyncError: func(err error) { n.t.Error(err) }}, n.boot)
	if err != nil {
		n.t.Fatal(err)
	}
	cfg := coreConfig{ID: m.id, Storage: s, Logger: quiet,
		Send: func(msgs []*pb.Message) { n.queue = append(n.queue, msgs...) },
		Apply: func(ents []*pb.Entry) {
			for _, e := range ents {
				if e.GetType() == pb.EntryNormal && len(e.GetData()) > 0 {
					m.applied = append(m.applied, string(e.GetData()))
				}
			}
		}}
	if n.wire != nil {
		n.wire(m, &cfg)
	}
	c, err := newCore(cfg)
	if err != nil {
		n.t.Fatal(err)
	}
	m.c, m.storage = c, s
	n.members[m.id] = m
}

// crash throws a member's core away, as a SIGKILL would: only its wal
// survives.
func (n *network) crash(id uint64) {
	n.members[id].storage.Close()
	n.down[id] = true
}

// restart brings a crashed member back from its wal; it applies the log
// again from the start (Applied 0), as a state machine without a
// checkpoint does.
func (n *network) restart(id uint64) {
	m := n.members[id]
	m.applied = nil
	n.start(m)
	delete(n.down, id)
}

// isolate cuts every link of id; heal restores every link.
func (n *network) isolate(id uint64) {
	for other := range n.members {
		n.cut[[2]uint64{id, other}], n.cut[[2]uint64{other, id}] = true, true
	}
}

func (n *network) heal() { clear(n.cut) }

// settle processes Readys and delivers messages until nothing moves.
func (n *network) settle() {
	n.t.Helper()
	for range 10000 {
		if !n.round() {
			return
		}
	}
	n.t.Fatal("the network never settled")
}

// round processes one Ready of every live member, then delivers the
// messages sent meanwhile; it reports whether anything moved.
func (n *network) round() bool {
	n.t.Helper()
	moved := false
	for _, id := range n.ids() {
		if n.down[id] {
			continue
		}
		did, err := n.members[id].c.process()
		if err != nil {
			n.t.Fatal(err)
		}
		moved = n.persist(n.members[id]) || did || moved
	}
	queue := n.queue
	n.queue = nil
	for _, msg := range queue {
		to, from := msg.GetTo(), msg.GetFrom()
		if n.down[to] || n.down[from] || n.cut[[2]uint64{from, to}] || n.raftCut[to] || n.raftCut[from] {
			continue
		}
		if n.watch != nil {
			n.watch(msg)
		}
		_ = n.members[to].c.Step(msg)
		moved = true
	}
	if n.also != nil && n.also() {
		moved = true
	}
	return moved
}

// persist writes what m's Readys asked to, as its appender would, and
// delivers the responses; it reports whether there was anything to write.
func (n *network) persist(m *member) bool {
	if n.stallOnSnapshot[m.id] && slices.ContainsFunc(m.c.appends, func(a *pb.Message) bool { return !raft.IsEmptySnap(a.GetSnapshot()) }) {
		n.slowDisk[m.id] = true
		delete(n.stallOnSnapshot, m.id)
	}
	if n.slowDisk[m.id] {
		return false
	}
	did, err := persistNow(m.c)
	if err != nil {
		n.t.Fatal(err)
	}
	return did
}

// persistNow does c's appender's work on the caller's goroutine: it writes
// what c's Readys asked to and delivers the responses. It reports whether
// there was anything to write.
func persistNow(c *core) (bool, error) {
	appends := c.takeAppends()
	if len(appends) == 0 {
		return false, nil
	}
	if err := c.storage.Persist(appends); err != nil {
		return true, err
	}
	c.persisted(appends)
	return true, nil
}

// tick advances every live member's clock k times, settling after each.
func (n *network) tick(k int) {
	for range k {
		if n.onTick != nil {
			n.onTick()
		}
		for _, id := range n.ids() {
			if !n.down[id] {
				n.members[id].c.Tick()
				if err := n.members[id].c.reconcile(); err != nil {
					n.t.Fatal(err)
				}
			}
		}
		n.settle()
	}
}

func (n *network) ids() []uint64 {
	ids := make([]uint64, 0, len(n.members))
	for id := range n.members {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	return ids
}

// leader ticks until exactly one live member among those of ids sees
// itself leader and every one of them agrees, and returns it.
func (n *network) leader(ids ...uint64) uint64 {
	n.t.Helper()
	for range 200 {
		n.tick(1)
		var lead uint64
		agreed := true
		for _, id := range ids {
			st := n.members[id].c.Status()
			if st.RaftState == raft.StateLeader {
				lead = id
			}
			if lead != 0 && st.Lead != lead {
				agreed = false
			}
		}
		if lead != 0 && agreed {
			for _, id := range ids {
				if n.members[id].c.Status().Lead != lead {
					agreed = false
				}
			}
			if agreed {
				return lead
			}
		}
	}
	n.t.Fatalf("no leader among %v after 200 ticks", ids)
	return 0
}

func (n *network) propose(id uint64, payloads ...string) {
	n.t.Helper()
	for _, p := range payloads {
		if err := n.members[id].c.Propose([]byte(p)); err != nil {
			n.t.Fatalf("propose %q on %d: %v", p, id, err)
		}
	}
	n.settle()
}

func (n *network) mustApply(ids []uint64, want []string) {
	n.t.Helper()
	for _, id := range ids {
		if got := n.members[id].applied; !slices.Equal(got, want) {
			n.t.Fatalf("member %d applied %q, want %q", id, got, want)
		}
	}
}

// mustCatchUp has lead order payload and checks, a few ticks later, that
// each of ids applied it last: they follow the log again.
func (n *network) mustCatchUp(lead uint64, payload string, ids ...uint64) {
	n.t.Helper()
	n.propose(lead, payload)
	n.tick(3)
	for _, id := range ids {
		if got := n.members[id].applied; len(got) == 0 || got[len(got)-1] != payload {
			n.t.Fatalf("member %d applied %q, want %q last", id, got, payload)
		}
	}
}

func seq(prefix string, from, to int) []string {
	var out []string
	for i := from; i < to; i++ {
		out = append(out, fmt.Sprintf("%s%d", prefix, i))
	}
	return out
}

func TestElectsOneLeaderAndReplicatesInOrder(t *testing.T) {
	n := newNetwork(t, []uint64{1, 2, 3}, nil)
	lead := n.leader(1, 2, 3)
	n.propose(lead, seq("w", 0, 50)...)
	n.mustApply([]uint64{1, 2, 3}, seq("w", 0, 50))
	// A follower cannot propose: writes reach the leader at the
	// application level.
	follower := n.ids()[0]
	if follower == lead {
		follower = n.ids()[1]
	}
	if err := n.members[follower].c.Propose([]byte("x")); err == nil {
		t.Fatal("a follower accepted a proposal")
	}
}

// TestLeaderCutOffIsReplaced cuts the leader off: the others elect a new
// one in a later term and go on committing; the old leader steps down
// (check-quorum), what it accepted alone never commits, and once healed it
// applies exactly what the majority did.
// TestCommitsApplyWhileTheDiskIsBusy: a member whose fsync has not
// returned still learns of commits and applies the entries already on its
// disk (a Ready never waits for the disk); it applies nothing that is not
// on its disk, and the others commit without it meanwhile.
func TestCommitsApplyWhileTheDiskIsBusy(t *testing.T) {
	// onDisk is, for each member and each entry it applied, the last index
	// of its log on disk when it did.
	onDisk := map[uint64]map[uint64]uint64{}
	n := newWiredNetwork(t, []uint64{1, 2, 3}, nil, func(m *member, cfg *coreConfig) {
		apply, s := cfg.Apply, cfg.Storage
		onDisk[m.id] = map[uint64]uint64{}
		cfg.Apply = func(ents []*pb.Entry) {
			last, err := s.LastIndex()
			if err != nil {
				t.Fatal(err)
			}
			for _, e := range ents {
				if e.GetIndex() > last {
					t.Errorf("member %d applied entry %d with its log on disk through %d", m.id, e.GetIndex(), last)
				}
				onDisk[m.id][e.GetIndex()] = last
			}
			apply(ents)
		}
	})
	lead := n.leader(1, 2, 3)
	slow := n.ids()[0]
	if slow == lead {
		slow = n.ids()[1]
	}
	if err := n.members[lead].c.Propose([]byte("w1")); err != nil {
		t.Fatal(err)
	}
	w1 := n.members[lead].c.rn.Status().GetCommit() + 1
	// The leader sends w1; the followers write it and acknowledge, and the
	// leader takes it for committed. Nobody has heard so yet.
	n.round()
	n.round()
	if got := n.members[lead].c.rn.Status().GetCommit(); got != w1 {
		t.Fatalf("the leader's commit index is %d after two rounds, want w1's %d", got, w1)
	}
	if len(n.members[slow].applied) != 0 {
		t.Fatalf("member %d applied %q before hearing of a commit", slow, n.members[slow].applied)
	}
	// Now one follower's disk stalls, and w2 comes: that follower learns
	// w1 committed while w2 waits to be written.
	n.slowDisk[slow] = true
	if err := n.members[lead].c.Propose([]byte("w2")); err != nil {
		t.Fatal(err)
	}
	n.settle()
	n.mustApply([]uint64{slow}, []string{"w1"})
	if last := onDisk[slow][w1]; last != w1 {
		t.Errorf("member %d applied w1 (%d) with its log on disk through %d", slow, w1, last)
	}
	if len(n.members[slow].c.appends) == 0 {
		t.Fatalf("member %d has no write pending: w2 was never sent to it", slow)
	}
	for _, id := range n.ids() {
		if id != slow {
			n.mustApply([]uint64{id}, []string{"w1", "w2"})
		}
	}
	// The disk comes back: w2 is written, then applied.
	delete(n.slowDisk, slow)
	n.settle()
	n.mustApply([]uint64{1, 2, 3}, []string{"w1", "w2"})
}

// TestFollowersSkipRepeatedAcks: a follower acknowledges a round's entries
// once, not again when the append that only carries the new commit index
// follows, and every member still applies them. A leader that probes a
// follower after a lost connection hears a repeat at its next heartbeat and
// replicates to it again.
func TestFollowersSkipRepeatedAcks(t *testing.T) {
	n := newNetwork(t, []uint64{1, 2, 3}, nil)
	lead := n.leader(1, 2, 3)
	acks := map[[2]uint64]int{}
	n.watch = func(m *pb.Message) {
		if m.GetType() == pb.MsgAppResp && !m.GetReject() {
			acks[[2]uint64{m.GetFrom(), m.GetIndex()}]++
		}
	}
	n.propose(lead, "a")
	n.propose(lead, "b", "c")
	n.mustApply([]uint64{1, 2, 3}, []string{"a", "b", "c"})
	for key, count := range acks {
		if count != 1 {
			t.Errorf("member %d acknowledged index %d %d times", key[0], key[1], count)
		}
	}
	if len(acks) < 4 {
		t.Fatalf("acknowledgements seen: %v", acks)
	}
	follower := uint64(1)
	if lead == 1 {
		follower = 2
	}
	n.members[lead].c.rn.ReportUnreachable(follower)
	n.tick(3)
	n.mustCatchUp(lead, "d", 1, 2, 3)
}

func TestLeaderCutOffIsReplaced(t *testing.T) {
	n := newNetwork(t, []uint64{1, 2, 3}, nil)
	old := n.leader(1, 2, 3)
	n.propose(old, "a", "b")
	oldTerm := n.members[old].c.Status().GetTerm()
	n.isolate(old)
	if err := n.members[old].c.Propose([]byte("lost")); err != nil {
		t.Fatalf("the cut-off leader refused a proposal before stepping down: %v", err)
	}
	n.settle()
	var rest []uint64
	for _, id := range n.ids() {
		if id != old {
			rest = append(rest, id)
		}
	}
	lead := n.leader(rest...)
	if st := n.members[lead].c.Status(); st.GetTerm() <= oldTerm {
		t.Fatalf("new leader in term %d, old term %d", st.GetTerm(), oldTerm)
	}
	// Check-quorum: within an election timeout without a quorum's
	// answers, the old leader steps down.
	n.tick(20)
	if st := n.members[old].c.Status(); st.RaftState == raft.StateLeader {
		t.Fatal("the cut-off leader did not step down")
	}
	n.propose(lead, "c", "d")
	n.mustApply(rest, []string{"a", "b", "c", "d"})
	n.heal()
	n.tick(30)
	n.mustApply(n.ids(), []string{"a", "b", "c", "d"})
}

// TestPreVoteKeepsAHealedMemberFromDisrupting isolates a follower for
// long enough to time out many times: pre-vote keeps it from raising its
// term, so on healing the leader stays leader in the same term.
func TestPreVoteKeepsAHealedMemberFromDisrupting(t *testing.T) {
	n := newNetwork(t, []uint64{1, 2, 3}, nil)
	lead := n.leader(1, 2, 3)
	term := n.members[lead].c.Status().GetTerm()
	follower := n.ids()[0]
	if follower == lead {
		follower = n.ids()[1]
	}
	n.isolate(follower)
	n.tick(100)
	n.heal()
	n.tick(10)
	if st := n.members[lead].c.Status(); st.RaftState != raft.StateLeader || st.GetTerm() != term {
		t.Fatalf("after the healed member came back: leader %v in term %d, before term %d", st.RaftState, st.GetTerm(), term)
	}
	n.propose(lead, "after")
	n.mustApply(n.ids(), []string{"after"})
}

// TestRestartRecoversFromTheWal crashes a follower, goes on writing, and
// brings it back from its wal: it keeps its term and log and catches up.
// Then every member crashes at once and comes back: nothing committed is
// lost, and the ensemble goes on.
func TestRestartRecoversFromTheWal(t *testing.T) {
	n := newNetwork(t, []uint64{1, 2, 3}, nil)
	lead := n.leader(1, 2, 3)
	n.propose(lead, seq("a", 0, 20)...)
	follower := n.ids()[0]
	if follower == lead {
		follower = n.ids()[1]
	}
	n.crash(follower)
	n.propose(lead, seq("b", 0, 20)...)
	n.restart(follower)
	n.tick(5)
	want := slices.Concat(seq("a", 0, 20), seq("b", 0, 20))
	n.mustApply(n.ids(), want)

	for _, id := range n.ids() {
		n.crash(id)
	}
	for _, id := range n.ids() {
		n.restart(id)
	}
	lead = n.leader(1, 2, 3)
	n.propose(lead, "c")
	n.mustApply(n.ids(), append(want, "c"))
}

// TestLearnerReplicatesAndDoesNotVote runs two voters and a learner (an
// observer): the learner applies everything, but with one voter down the
// other cannot be elected, since the learner's vote does not count.
func TestLearnerReplicatesAndDoesNotVote(t *testing.T) {
	n := newNetwork(t, []uint64{1, 2}, []uint64{3})
	lead := n.leader(1, 2, 3)
	if lead == 3 {
		t.Fatal("the learner became leader")
	}
	n.propose(lead, "x", "y")
	n.mustApply([]uint64{1, 2, 3}, []string{"x", "y"})
	other := uint64(3 - lead)
	n.crash(lead)
	n.tick(100)
	if st := n.members[other].c.Status(); st.RaftState == raft.StateLeader {
		t.Fatal("one voter and a learner elected a leader")
	}
	n.restart(lead)
	lead = n.leader(1, 2, 3)
	n.propose(lead, "z")
	n.tick(5)
	n.mustApply([]uint64{1, 2, 3}, []string{"x", "y", "z"})
}

// TestQuorumStatus: the leader counts the members it hears from and those
// it replicates to entry by entry, voters and learners apart, and the
// sizes of its proposals; a member cut off drops out of both counts.
func TestQuorumStatus(t *testing.T) {
	n := newNetwork(t, []uint64{1, 2, 3}, []uint64{4})
	lead := n.leader(1, 2, 3, 4)
	if q := n.members[lead].c.Quorum(); q.Voters != 3 || q.Proposals.Last() != -1 || q.Proposals.Max() != -1 {
		t.Fatalf("before any proposal: %+v", q)
	}
	n.propose(lead, "xx", "y", "zzzz", "w")
	n.tick(2)
	q := n.members[lead].c.Quorum()
	if q.Leader != lead || q.Voters != 3 || q.Learners != 3 || q.SyncedFollowers != 2 || q.SyncedObservers != 1 ||
		q.Proposals.Last() != 1 || q.Proposals.Min() != 1 || q.Proposals.Max() != 4 || q.LeaderSince.IsZero() {
		t.Fatalf("leader's quorum status %+v", q)
	}
	var follower uint64
	for _, id := range []uint64{1, 2, 3} {
		if id != lead {
			follower = id
		}
	}
	if q := n.members[follower].c.Quorum(); q.Leader != lead || q.Voters != 3 || q.Learners != 0 || !q.LeaderSince.IsZero() {
		t.Fatalf("a follower's quorum status %+v", q)
	}
	// A learner the membership does not name as an observer (a removed
	// member following on, here) is a follower without a vote.
	n.members[lead].c.want = &pb.ConfState{Voters: []uint64{1, 2, 3}}
	if q := n.members[lead].c.Quorum(); q.SyncedObservers != 0 || q.SyncedNonVotingFollowers != 1 {
		t.Fatalf("with member 4 out of the membership: %+v", q)
	}
	n.members[lead].c.want = &pb.ConfState{Voters: []uint64{1, 2, 3}, Learners: []uint64{4}}
	n.isolate(follower)
	n.tick(25)
	if q := n.members[lead].c.Quorum(); q.Leader != lead || q.Learners != 2 || q.SyncedFollowers != 1 || q.SyncedObservers != 1 {
		t.Fatalf("with member %d cut off: %+v", follower, q)
	}
}

func TestStorageRecordRoundTrip(t *testing.T) {
	hs := &pb.HardState{Term: new(uint64(7)), Vote: new(uint64(2)), Commit: new(uint64(41))}
	ents := []*pb.Entry{{Term: new(uint64(7)), Index: new(uint64(42)), Type: pb.EntryNormal.Enum(), Data: []byte("batch")},
		{Term: new(uint64(7)), Index: new(uint64(43)), Type: pb.EntryNormal.Enum()}}
	snap := &pb.Snapshot{Metadata: &pb.SnapshotMetadata{Index: new(uint64(40)), Term: new(uint64(6)), ConfState: &pb.ConfState{Voters: []uint64{1, 2, 3}}}}
	b, err := appendRecord(nil, readyRecord, hs, ents, snap)
	if err != nil {
		t.Fatal(err)
	}
	ghs, gents, gsnap, err := decodeReady(b)
	if err != nil || ghs.GetTerm() != 7 || ghs.GetCommit() != 41 || len(gents) != 2 || string(gents[0].GetData()) != "batch" ||
		gents[1].GetIndex() != 43 || gsnap.GetMetadata().GetIndex() != 40 || len(gsnap.GetMetadata().GetConfState().GetVoters()) != 3 {
		t.Fatalf("decoded %v %v %v %v", ghs, gents, gsnap, err)
	}
	for cut := 0; cut < len(b); cut++ {
		if _, _, _, err := decodeReady(b[:cut]); err == nil {
			t.Fatalf("a record cut to %d of %d bytes decoded", cut, len(b))
		}
	}
}

// TestPersistSyncsOnlyWhatACrashMustKeep: a run of appends is written in
// order and synced once if any of them holds entries or a new term or
// vote; a run that only moves the commit index does not wait for the disk,
// even when it carries responses (a follower's acknowledgement of a
// commit-only append). What was written replays after a restart.
func TestPersistSyncsOnlyWhatACrashMustKeep(t *testing.T) {
	boot := &pb.ConfState{Voters: []uint64{1}}
	entry := func(i uint64) *pb.Entry {
		return &pb.Entry{Term: new(uint64(1)), Index: new(i), Type: pb.EntryNormal.Enum(), Data: fmt.Appendf(nil, "e%d", i)}
	}
	appendMsg := func(term, commit uint64, responses int, ents ...*pb.Entry) *pb.Message {
		m := &pb.Message{Type: pb.MsgStorageAppend.Enum(), Term: new(term), Vote: new(uint64(1)), Commit: new(commit), Entries: ents}
		for range responses {
			m.Responses = append(m.Responses, &pb.Message{Type: pb.MsgStorageAppendResp.Enum()})
		}
		return m
	}
	// open returns a storage holding entries 1-3 (synced) whose disk
	// fails every fdatasync from now on, and its directory.
	open := func(t *testing.T) (*Storage, string) {
		dir := t.TempDir()
		disk := walfs.NewFaulty(wal.OSFS)
		s, err := OpenStorage(dir, wal.Options{FS: disk, SegmentSize: 1 << 20, Logger: quiet, OnSyncError: func(error) {}}, boot)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { s.Close() })
		if err := s.Persist([]*pb.Message{appendMsg(1, 0, 0, entry(1)), appendMsg(1, 0, 1, entry(2), entry(3))}); err != nil {
			t.Fatal(err)
		}
		disk.SetBroken(true)
		return s, dir
	}
	s, dir := open(t)
	for _, run := range [][]*pb.Message{{appendMsg(1, 2, 0)}, {appendMsg(1, 3, 1)}, {appendMsg(1, 3, 1), appendMsg(1, 3, 2)}} {
		if err := s.Persist(run); err != nil {
			t.Fatalf("a commit index alone waited for the disk: %v", err)
		}
	}
	s.Close()
	s, err := OpenStorage(dir, wal.Options{SegmentSize: 1 << 20, Logger: quiet}, boot)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	ents, err := s.Entries(1, 4, 1<<20)
	if err != nil || len(ents) != 3 || string(ents[2].GetData()) != "e3" {
		t.Fatalf("replayed %v, %v", ents, err)
	}
	for what, run := range map[string][]*pb.Message{
		"entries without responses": {appendMsg(1, 3, 0, entry(4))},
		"entries with responses":    {appendMsg(1, 3, 1, entry(4))},
		"a new term":                {appendMsg(2, 3, 1)},
		"a commit, then entries":    {appendMsg(1, 3, 1), appendMsg(1, 3, 0, entry(4))},
	} {
		if s, _ := open(t); s.Persist(run) == nil {
			t.Errorf("%s went unsynced", what)
		}
	}
}

// TestLeaderLossElectsWithoutWaitingForTheTimeout crashes the leader and
// tells the followers its connections broke, as the transport does when
// its process dies: a new leader is elected without a single tick.
func TestLeaderLossElectsWithoutWaitingForTheTimeout(t *testing.T) {
	n := newNetwork(t, []uint64{1, 2, 3}, nil)
	old := n.leader(1, 2, 3)
	n.propose(old, "a")
	n.crash(old)
	var first uint64
	places := map[int]bool{}
	for _, id := range n.ids() {
		if id == old {
			continue
		}
		place, ok := n.members[id].c.leaderLost(old)
		if !ok || places[place] {
			t.Fatalf("member %d: place %d in line (ok %v) after %v", id, place, ok, places)
		}
		places[place] = true
		if place == 0 {
			first = id
		}
	}
	if first == 0 {
		t.Fatal("no follower took itself for the first to campaign")
	}
	// The first campaigns a moment later (the Node waits campaignDelay),
	// unless a leader came up meanwhile: another follower may have run
	// into its own (randomized) timeout while leaving the lease.
	n.settle()
	if err := n.members[first].c.campaign(); err != nil {
		t.Fatal(err)
	}
	n.settle()
	var rest []uint64
	var lead uint64
	for _, id := range n.ids() {
		if id != old {
			rest = append(rest, id)
			if n.members[id].c.Status().RaftState == raft.StateLeader {
				lead = id
			}
		}
	}
	if lead == 0 {
		t.Fatal("no leader right after the campaign")
	}
	n.propose(lead, "b")
	n.mustApply(rest, []string{"a", "b"})
}

// TestWrongLeaderLossDoesNotDisrupt: a follower whose connection from a
// live leader broke campaigns, but the other follower is in the leader's
// lease: pre-vote fails, the leader and its term stay.
func TestWrongLeaderLossDoesNotDisrupt(t *testing.T) {
	n := newNetwork(t, []uint64{1, 2, 3}, nil)
	lead := n.leader(1, 2, 3)
	term := n.members[lead].c.Status().GetTerm()
	for _, id := range n.ids() {
		if id == lead {
			continue
		}
		if place, ok := n.members[id].c.leaderLost(lead); ok && place == 0 {
			if err := n.members[id].c.campaign(); err != nil {
				t.Fatal(err)
			}
			break
		}
	}
	n.settle()
	n.tick(3)
	if st := n.members[lead].c.Status(); st.RaftState != raft.StateLeader || st.GetTerm() != term {
		t.Fatalf("the leader is %v in term %d, was leader in term %d", st.RaftState, st.GetTerm(), term)
	}
	n.propose(lead, "still")
	n.mustApply(n.ids(), []string{"still"})
}

// TestNoCampaignAfterVotingForAnother: the leader dies, and a follower
// whose turn comes later campaigns first (running the election clock out
// can do that). The follower first in line has given it its vote but not
// heard from it as leader yet when its own turn comes: it must not
// campaign, or the members still without a leader would follow it to a
// higher term and depose the new leader.
func TestNoCampaignAfterVotingForAnother(t *testing.T) {
	n := newNetwork(t, []uint64{1, 2, 3, 4, 5}, nil)
	old := n.leader(1, 2, 3, 4, 5)
	n.crash(old)
	places := map[int]uint64{}
	for _, id := range n.ids() {
		if id != old {
			place, ok := n.members[id].c.leaderLost(old)
			if !ok {
				t.Fatalf("member %d is not in line", id)
			}
			places[place] = id
		}
	}
	first, early := n.members[places[0]].c, places[1]
	if err := n.members[early].c.campaign(); err != nil {
		t.Fatal(err)
	}
	voted := false
	for range 100 {
		n.round()
		if st := first.Status(); st.GetVote() == early && st.Lead == 0 {
			voted = true
			break
		}
	}
	if !voted {
		t.Fatalf("member %d never voted for %d without knowing it leads", places[0], early)
	}
	// The new leader's first appends are slow to arrive, as they are on a
	// loaded machine.
	for _, id := range n.ids() {
		n.cut[[2]uint64{early, id}] = true
	}
	if err := first.campaign(); err != nil {
		t.Fatal(err)
	}
	n.settle()
	n.heal()
	n.tick(1)
	st := n.members[early].c.Status()
	if st.RaftState != raft.StateLeader || st.GetTerm() != first.Status().GetTerm() || first.Status().Lead != early {
		t.Fatalf("member %d is %v in term %d; member %d follows %d in term %d", early, st.RaftState, st.GetTerm(),
			places[0], first.Status().Lead, first.Status().GetTerm())
	}
	n.propose(early, "after")
	n.tick(1)
	if got := n.members[places[0]].applied; len(got) == 0 || got[len(got)-1] != "after" {
		t.Fatalf("member %d applied %q", places[0], got)
	}
}

// TestLearnerGivesUpOnASilentLeader: raft never makes a learner look for
// another leader, so the core reports none after twice the election
// timeout without hearing from it, and the leader again once it is back.
func TestLearnerGivesUpOnASilentLeader(t *testing.T) {
	var reported []uint64
	n := newWiredNetwork(t, []uint64{1, 2}, []uint64{3}, func(m *member, cfg *coreConfig) {
		if m.id == 3 {
			cfg.OnLeader = func(lead, _ uint64) { reported = append(reported, lead) }
		}
	})
	lead := n.leader(1, 2, 3)
	n.isolate(3)
	n.tick(25)
	if len(reported) == 0 || reported[len(reported)-1] != 0 {
		t.Fatalf("the learner reported leaders %v after 25 silent ticks", reported)
	}
	n.heal()
	n.tick(3)
	if reported[len(reported)-1] != lead {
		t.Fatalf("the learner reported leaders %v after healing, want %d last", reported, lead)
	}
}

// compactedWhileDown starts three members, crashes a follower, commits
// 100 entries without it and compacts the leader's log to 10 entries
// before its last applied one: the follower, back, needs a snapshot.
func compactedWhileDown(t *testing.T) (n *network, lead, follower uint64) {
	n = newNetwork(t, []uint64{1, 2, 3}, nil)
	lead = n.leader(1, 2, 3)
	follower = n.ids()[0]
	if follower == lead {
		follower = n.ids()[1]
	}
	n.crash(follower)
	n.propose(lead, seq("a", 0, 100)...)
	l := n.members[lead]
	if err := l.c.compact(l.c.applied, 10); err != nil {
		t.Fatal(err)
	}
	return n, lead, follower
}

// TestCompactionAndSnapshotCatchUp compacts the leader's log while a
// follower is down: the follower, back, is sent a snapshot (raft's
// MsgSnap) and then the entries after it. Both logs survive a restart:
// the compaction record keeps the entries after it and the HardState.
func TestCompactionAndSnapshotCatchUp(t *testing.T) {
	n, lead, follower := compactedWhileDown(t)
	l := n.members[lead]
	first, _ := l.storage.FirstIndex()
	if want := l.c.applied - 10 + 1; first != want {
		t.Fatalf("after compacting, the log starts at %d, want %d", first, want)
	}
	n.propose(lead, seq("b", 0, 5)...)
	n.restart(follower)
	n.tick(5)
	f := n.members[follower]
	snap, _ := f.storage.Snapshot()
	if snap.GetMetadata().GetIndex() < first-1 {
		t.Fatalf("the follower's log starts after index %d; the leader's at %d: no snapshot was installed", snap.GetMetadata().GetIndex(), first)
	}
	// The follower applied what came after the snapshot, in order.
	if got := f.applied; len(got) == 0 || got[len(got)-1] != "b4" {
		t.Fatalf("the follower applied %q", got)
	}
	// Restart both from their wals: the logs read back the same.
	for _, id := range []uint64{lead, follower} {
		m := n.members[id]
		last, _ := m.storage.LastIndex()
		firstBefore, _ := m.storage.FirstIndex()
		hs, _, _ := m.storage.InitialState()
		n.crash(id)
		n.restart(id)
		l2, _ := n.members[id].storage.LastIndex()
		f2, _ := n.members[id].storage.FirstIndex()
		hs2, _, _ := n.members[id].storage.InitialState()
		if l2 != last || f2 != firstBefore || hs2.GetTerm() != hs.GetTerm() || hs2.GetCommit() < hs.GetCommit() {
			t.Fatalf("member %d read back log [%d, %d] term %d commit %d; had [%d, %d] term %d commit %d",
				id, f2, l2, hs2.GetTerm(), hs2.GetCommit(), firstBefore, last, hs.GetTerm(), hs.GetCommit())
		}
	}
	lead = n.leader(1, 2, 3)
	n.mustCatchUp(lead, "c", n.ids()...)
}

// TestCompactionWhileASnapshotIsWritten: a follower is sent a snapshot and
// its disk has not written it yet when its checkpoint, which holds the
// snapshot's image, asks for a compaction. The log must not be compacted
// past what it holds (raft's storage would panic); once the snapshot is
// written the follower catches up.
func TestCompactionWhileASnapshotIsWritten(t *testing.T) {
	n, lead, follower := compactedWhileDown(t)
	l := n.members[lead]
	n.restart(follower)
	n.stallOnSnapshot[follower] = true
	n.tick(3)
	f := n.members[follower]
	if !n.slowDisk[follower] {
		t.Fatal("the follower was never asked to write a snapshot")
	}
	if err := f.c.compact(l.c.applied, 0); err != nil {
		t.Fatal(err)
	}
	delete(n.slowDisk, follower)
	n.mustCatchUp(lead, "b", follower)
}

// wipeAFollower starts three members, has the leader order 30 entries and
// compact its log, then restarts a follower whose data is gone.
func wipeAFollower(t *testing.T) (*network, uint64, uint64) {
	n := newNetwork(t, []uint64{1, 2, 3}, nil)
	lead := n.leader(1, 2, 3)
	wiped := n.ids()[0]
	if wiped == lead {
		wiped = n.ids()[1]
	}
	n.propose(lead, seq("a", 0, 30)...)
	l := n.members[lead]
	if err := l.c.compact(l.c.applied, 5); err != nil {
		t.Fatal(err)
	}
	n.crash(wiped)
	if err := os.RemoveAll(n.members[wiped].dir); err != nil {
		t.Fatal(err)
	}
	n.restart(wiped)
	n.tick(3)
	return n, lead, wiped
}

// takeBack has the leader take the wiped member back and lets the network
// run ten ticks; during, when set, runs in every round meanwhile.
func (n *network) takeBack(lead, wiped uint64, during func()) {
	n.t.Helper()
	if during != nil {
		n.also = func() bool { during(); return false }
		defer func() { n.also = nil }()
	}
	if err := n.members[lead].c.rejoin(wiped); err != nil {
		n.t.Fatal(err)
	}
	n.tick(10)
}

// TestWipedMemberRejoins wipes a follower's log: back with an empty log,
// it hears of entries it had acknowledged and does not have. It must not
// panic (raft would, on the heartbeat's commit index); it asks to rejoin,
// and the leader removes it and adds it back with a fresh progress, which
// brings it a snapshot and the log after it.
func TestWipedMemberRejoins(t *testing.T) {
	n, lead, wiped := wipeAFollower(t)
	w := n.members[wiped]
	if !w.c.lostLog {
		t.Fatal("the wiped member did not notice it lost its log")
	}
	n.takeBack(lead, wiped, nil)
	n.mustCatchUp(lead, "after", wiped)
	snap, _ := w.storage.Snapshot()
	if snap.GetMetadata().GetIndex() == 0 {
		t.Fatal("the wiped member caught up without a snapshot")
	}
	for _, id := range n.ids() {
		if cs := n.members[id].c.confs[len(n.members[id].c.confs)-1].cs; !slices.Contains(cs.GetVoters(), wiped) {
			t.Fatalf("member %d's membership %v lacks the rejoined member", id, cs.GetVoters())
		}
	}
}

// TestReopenAfterCompactionInsideASegment: compaction removes only the
// segments all of whose records it covers, so the first segment kept may
// begin with entries below the compaction index, replayed before the
// compaction record that covers them. Reopening must start the log at the
// compaction and keep every entry after it (a member once panicked here
// on restart: "missing log entry"). ReadCommitted, which reads the log
// without opening it, must find the same entries, up to the commit.
func TestReopenAfterCompactionInsideASegment(t *testing.T) {
	dir := t.TempDir()
	opts := wal.Options{SegmentSize: 4 << 10, Logger: quiet}
	boot := &pb.ConfState{Voters: []uint64{1}}
	s, err := OpenStorage(dir, opts, boot)
	if err != nil {
		t.Fatal(err)
	}
	const last = 60
	for i := uint64(1); i <= last; i++ {
		e := &pb.Entry{Term: new(uint64(1)), Index: new(i), Type: pb.EntryNormal.Enum(), Data: bytes.Repeat([]byte{byte(i)}, 300)}
		if err := s.Save(&pb.HardState{Term: new(uint64(1)), Vote: new(uint64(1)), Commit: new(i)}, []*pb.Entry{e}, nil); err != nil {
			t.Fatal(err)
		}
	}
	if len(s.log.Segments()) < 4 {
		t.Fatalf("the test needs several segments, got %v", s.log.Segments())
	}
	// An entry past the commit: logged, not yet known to be committed.
	e := &pb.Entry{Term: new(uint64(1)), Index: new(uint64(last + 1)), Type: pb.EntryNormal.Enum(), Data: []byte{last + 1}}
	if err := s.Save(nil, []*pb.Entry{e}, nil); err != nil {
		t.Fatal(err)
	}
	// An index in the middle of a segment that is not the last.
	const compactAt = 45
	if err := s.Compact(compactAt, boot); err != nil {
		t.Fatal(err)
	}
	kept := s.log.Segments()
	s.Close()
	// What an export of the member replays after a checkpoint: the
	// committed entries after it, read from the log as it is.
	for _, tc := range []struct {
		after       uint64
		first, last int
	}{{50, 51, last}, {compactAt, compactAt + 1, last}, {last, last + 1, last}} {
		got, err := ReadCommitted(dir, tc.after)
		if err != nil {
			t.Fatalf("ReadCommitted after %d: %v", tc.after, err)
		}
		if want := tc.last - tc.first + 1; len(got) != want ||
			want > 0 && (got[0].Index != uint64(tc.first) || got[0].Data[0] != byte(tc.first) || got[len(got)-1].Index != uint64(tc.last)) {
			t.Fatalf("ReadCommitted after %d: %d entries %v, want %d-%d", tc.after, len(got), got, tc.first, tc.last)
		}
	}
	if _, err := ReadCommitted(dir, compactAt-10); err == nil || !strings.Contains(err.Error(), "compacted past") {
		t.Fatalf("ReadCommitted after an index the log was compacted past: %v", err)
	}
	s, err = OpenStorage(dir, opts, boot)
	if err != nil {
		t.Fatalf("reopening after a compaction (segments %v): %v", kept, err)
	}
	defer s.Close()
	first, _ := s.FirstIndex()
	lastIndex, _ := s.LastIndex()
	if first != compactAt+1 || lastIndex != last+1 {
		t.Fatalf("reopened log spans %d-%d, want %d-%d", first, lastIndex, compactAt+1, last+1)
	}
	ents, err := s.Entries(first, lastIndex+1, 1<<30)
	if err != nil || len(ents) != last+1-compactAt || ents[0].GetData()[0] != compactAt+1 {
		t.Fatalf("entries after the compaction: %d, %v", len(ents), err)
	}
	if snap, _ := s.Snapshot(); snap.GetMetadata().GetIndex() != compactAt {
		t.Fatalf("snapshot at %d, want %d", snap.GetMetadata().GetIndex(), compactAt)
	}
}

// TestCompactionKeepsTheRejoiningMember compacts the leader's log while a
// wiped member is out of the membership, between its removal and its
// return: a snapshot there lacks the member, which raft on it refuses to
// restore, so it could not catch up until a later compaction (in the
// ensemble benchmark it looped on snapshots for a minute). Compaction must
// stop short of its removal instead.
func TestCompactionKeepsTheRejoiningMember(t *testing.T) {
	n, lead, wiped := wipeAFollower(t)
	l := n.members[lead]
	compactedOut := false
	n.takeBack(lead, wiped, func() {
		if latest := l.c.confs[len(l.c.confs)-1].cs; !compactedOut && !slices.Contains(latest.GetVoters(), wiped) {
			compactedOut = true
			if err := l.c.compact(l.c.applied, 0); err != nil {
				t.Fatal(err)
			}
		}
	})
	if !compactedOut {
		t.Fatal("the leader never compacted while the member was out: the test did not test")
	}
	if snap, _ := l.storage.Snapshot(); !slices.Contains(snap.GetMetadata().GetConfState().GetVoters(), wiped) {
		t.Fatalf("the leader's snapshot at %d lacks the rejoining member: %v", snap.GetMetadata().GetIndex(), snap.GetMetadata().GetConfState())
	}
	n.mustCatchUp(lead, "after", wiped)
}

// TestRejoinAskedAgainDuringTheSnapshot: a wiped member asks to rejoin
// again while the snapshot that brings it back is still on its way (its
// log is empty until it is installed). The leader must not remove it a
// second time: the snapshot in flight would then hold a membership
// without it, which raft refuses to restore, and the member looped on
// snapshots for a minute in the ensemble benchmark.
func TestRejoinAskedAgainDuringTheSnapshot(t *testing.T) {
	n, lead, wiped := wipeAFollower(t)
	l := n.members[lead]
	askedDuringSnapshot := false
	n.takeBack(lead, wiped, func() {
		if pr, ok := l.c.rn.Status().Progress[wiped]; ok && pr.State == tracker.StateSnapshot {
			askedDuringSnapshot = true
			if err := l.c.rejoin(wiped); err != nil {
				t.Fatal(err)
			}
		}
	})
	if !askedDuringSnapshot {
		t.Fatal("the leader never had a snapshot on its way to the rejoining member: the test did not test")
	}
	removals, had := 0, true
	for _, c := range l.c.confs {
		has := slices.Contains(c.cs.GetVoters(), wiped)
		if had && !has {
			removals++
		}
		had = has
	}
	if removals != 1 {
		t.Fatalf("the rejoining member was removed %d times, want once", removals)
	}
	n.mustCatchUp(lead, "after", wiped)
}
