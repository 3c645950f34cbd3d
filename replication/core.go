package replication

import (
	"bytes"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"time"

	"go.etcd.io/raft/v3"
	pb "go.etcd.io/raft/v3/raftpb"
	"go.etcd.io/raft/v3/tracker"
	"google.golang.org/protobuf/proto"
)

// coreConfig configures a core.
type coreConfig struct {
	// ID is the member's id (its myid).
	ID uint64
	// Storage is its raft log.
	Storage *Storage
	// ElectionTicks and HeartbeatTicks are raft's timeouts in ticks; 0
	// means 10 and 1 (with 100 ms ticks: an election after 1-2 s of
	// silence, heartbeats every 100 ms).
	ElectionTicks, HeartbeatTicks int
	// Applied is the index the state machine has applied through; raft
	// hands over only the committed entries after it.
	Applied uint64
	// Send delivers messages to the other members; it must not block.
	Send func([]*pb.Message)
	// Apply receives the committed entries in log order, configuration
	// changes included (already applied to raft).
	Apply func([]*pb.Entry)
	// OnLeader, when set, is told the leader (0: none) and term whenever
	// either changes, after the committed entries of the same Ready.
	OnLeader func(leader, term uint64)
	// OnReadIndex, when set, receives each answered ReadIndex: its ctx and
	// the commit index to apply through before reading.
	OnReadIndex func(ctx []byte, index uint64)
	// Logger receives raft's logs.
	Logger *slog.Logger
}

// core is one member's raft node and the Ready contract around it (see the
// package doc). Its methods are called from one goroutine.
type core struct {
	cfg     coreConfig
	rn      *raft.RawNode
	storage *Storage
	// leader and term are what OnLeader was last told; raftLead is raft's
	// own idea of the leader (a learner may have given up on it).
	leader, term, raftLead uint64
	// voters and learner follow the membership: who may vote, and whether
	// this member is a learner (an observer).
	voters  []uint64
	learner bool
	// silent counts the ticks since the leader was last heard from; a
	// learner, which never campaigns, takes the leader for lost after
	// twice the election timeout of silence.
	silent int
	// suspect is a leader whose connection broke and that has not been
	// heard from since (leaderLost), suspectTerm the term it led.
	suspect, suspectTerm uint64
	// applied is the index of the last entry handed to Apply; confs the
	// memberships from the log's first index on, each with the index it
	// took effect at (what a compaction's snapshot must name).
	applied uint64
	confs   []confAt
	// lostLog is set when the leader spoke of entries this member should
	// have and has not: its data was wiped. It asks to rejoin (see
	// rejoin).
	lostLog bool
	// rejoining are the members removed so that they can rejoin with a
	// fresh log, and whether each was a learner; any leader adds them
	// back when they ask.
	rejoining map[uint64]bool
	readd     []uint64
	// leaderSince is when this member last became leader (by the node's
	// clock); proposals sums up the sizes of what it proposed since.
	leaderSince time.Time
	proposals   ProposalSizes
	// want is the membership /zookeeper/config asks for (nil until told);
	// a leader moves raft's towards it one change at a time (reconcile;
	// a change of several members is one joint-consensus change), the
	// last proposed at index changing.
	want     *pb.ConfState
	changing uint64
	// outbox is the messages to other members of one Ready or one run of
	// persisted appends, reused from one to the next; appends are the
	// MsgStorageAppend messages not yet taken to be persisted
	// (takeAppends).
	outbox  []*pb.Message
	appends []*pb.Message
	// acked is the last acknowledgement of appended entries this member
	// sent its leader, at tick ackedAt (see repeatsAck).
	acked   ack
	ackedAt uint64
	// ticks counts Tick calls; heard is the tick each member was last
	// heard from at.
	ticks uint64
	heard map[uint64]uint64
	// ledFrom is the tick this member last became leader at.
	ledFrom uint64
}

// reconfigContext marks the conf changes that make raft's membership
// follow the one a reconfig wrote into /zookeeper/config.
var reconfigContext = []byte("reconfig")

// promoteSlack is how far behind the leader's commit index a learner may
// be and still be promoted to voter: close enough that it will not hold
// the new quorum back.
const promoteSlack = 256

// nextChange is the next step from raft's membership towards want, if
// one is due, as one change (raft's joint consensus when it changes more
// than one member): new members join as learners; then the voters change
// in one step, learners that are to vote and are caught up promoted and
// voters that are to observe or leave demoted, once the caught-up voters
// of want are a majority of it (a learner that is to vote and was behind
// is promoted on its own once caught up); members no longer wanted leave
// once they go quiet. Members rejoining with a fresh log are left to
// rejoin, and nothing is due while raft leaves a joint membership.
func (c *core) nextChange() *pb.ConfChangeV2 {
	if c.want == nil {
		return nil
	}
	cur := c.confs[len(c.confs)-1].cs
	if len(cur.GetVotersOutgoing()) > 0 {
		return nil
	}
	voter := func(id uint64) bool { return slices.Contains(cur.GetVoters(), id) }
	learner := func(id uint64) bool { return slices.Contains(cur.GetLearners(), id) }
	rejoining := func(id uint64) bool { _, back := c.rejoining[id]; return back }
	wanted := slices.Sorted(slices.Values(append(slices.Clone(c.want.GetVoters()), c.want.GetLearners()...)))
	var cc pb.ConfChangeV2
	change := func(t pb.ConfChangeType, id uint64) {
		cc.Changes = append(cc.Changes, &pb.ConfChangeSingle{Type: t.Enum(), NodeId: &id})
	}
	for _, id := range wanted {
		if !rejoining(id) && !voter(id) && !learner(id) {
			change(pb.ConfChangeAddLearnerNode, id)
		}
	}
	if len(cc.Changes) > 0 {
		return &cc
	}
	st := c.rn.Status()
	caughtUp := 0
	for _, id := range c.want.GetVoters() {
		switch {
		case voter(id):
			if id == c.cfg.ID || c.caughtUp(id, st) {
				caughtUp++
			}
		case learner(id) && c.caughtUp(id, st):
			caughtUp++
			change(pb.ConfChangeAddNode, id)
		}
	}
	promotions := len(cc.Changes)
	for _, id := range cur.GetVoters() {
		// Observers to be and members to leave stop voting; a member that
		// left goes on following, as ZooKeeper's removed server does, until
		// it goes quiet.
		if !rejoining(id) && !slices.Contains(c.want.GetVoters(), id) {
			change(pb.ConfChangeAddLearnerNode, id)
		}
	}
	if len(cc.Changes) > promotions && caughtUp <= len(c.want.GetVoters())/2 {
		// Demoting now would leave a membership most of whose voters
		// cannot vote yet: promote whoever is ready, wait for the rest.
		cc.Changes = cc.Changes[:promotions]
	}
	if len(cc.Changes) > 0 {
		return &cc
	}
	for _, id := range cur.GetLearners() {
		if !rejoining(id) && !slices.Contains(wanted, id) && c.quiet(id) {
			change(pb.ConfChangeRemoveNode, id)
		}
	}
	if len(cc.Changes) > 0 {
		return &cc
	}
	return nil
}

// lingerTicks is how long a member that left the membership, and follows
// on as a learner, may go unheard before the leader drops it.
const lingerTicks = 100

// quiet reports whether the leader has not heard from member id for
// lingerTicks (counting from when it became leader).
func (c *core) quiet(id uint64) bool {
	last := max(c.heard[id], c.ledFrom)
	return c.ticks-last > lingerTicks
}

// reconcile has the leader propose the next change towards want, unless
// one is still on its way.
func (c *core) reconcile() error {
	if c.leader != c.cfg.ID || c.changing > c.applied {
		return nil
	}
	cc := c.nextChange()
	if cc == nil {
		return nil
	}
	if c.stopsVoting(cc) && c.transferLeadership() {
		// This leader is to stop voting: it hands the leadership to a
		// caught-up voter that stays, which then makes the change, rather
		// than step down and leave the others to elect.
		return nil
	}
	c.cfg.Logger.Info("replication: membership change", "changes", pb.ConfChangesToString(cc.Changes))
	cc.Context = reconfigContext
	err := c.rn.ProposeConfChange(cc)
	if err != nil && !errors.Is(err, raft.ErrProposalDropped) {
		return err
	}
	if err == nil {
		c.changing = c.rn.Status().Progress[c.cfg.ID].Match
	}
	return nil
}

// stopsVoting reports whether cc takes this member's vote away.
func (c *core) stopsVoting(cc *pb.ConfChangeV2) bool {
	return slices.ContainsFunc(cc.Changes, func(ch *pb.ConfChangeSingle) bool {
		return ch.GetNodeId() == c.cfg.ID && ch.GetType() != pb.ConfChangeAddNode
	})
}

// transferLeadership hands the leadership to the most caught-up member
// that votes now and is to go on voting, and reports whether there is
// one. Without one (every voter is replaced) the leader makes the change
// itself and steps down once it is out (raft's StepDownOnRemoval).
func (c *core) transferLeadership() bool {
	st := c.rn.Status()
	if st.LeadTransferee != 0 {
		return true
	}
	cur := c.confs[len(c.confs)-1].cs
	var best uint64
	for _, id := range c.want.GetVoters() {
		if id != c.cfg.ID && slices.Contains(cur.GetVoters(), id) && (best == 0 || st.Progress[id].Match > st.Progress[best].Match) {
			best = id
		}
	}
	if best == 0 {
		return false
	}
	if c.caughtUp(best, st) {
		c.cfg.Logger.Info("replication: handing the leadership over before leaving", "to", best)
		c.rn.TransferLeader(best)
	}
	return true
}

// synced returns, on the leader, the members connected and caught up.
func (c *core) synced() map[uint64]bool {
	out := map[uint64]bool{}
	if c.leader != c.cfg.ID {
		return out
	}
	st := c.rn.Status()
	for id := range st.Progress {
		if id != c.cfg.ID && c.caughtUp(id, st) {
			out[id] = true
		}
	}
	return out
}

// caughtUp reports, on the leader whose status is st, whether member id
// was heard from within an election timeout (raft's RecentActive is
// cleared by every check-quorum), is replicated to, and is close to the
// commit index.
func (c *core) caughtUp(id uint64, st raft.Status) bool {
	pr, ok := st.Progress[id]
	heard, seen := c.heard[id]
	return ok && seen && c.ticks-heard <= uint64(c.cfg.ElectionTicks) &&
		pr.State == tracker.StateReplicate && pr.Match+promoteSlack >= st.HardState.GetCommit()
}

// rejoinContext marks the conf changes that remove and add back a member
// whose log was lost.
var rejoinContext = []byte("rejoin")

// confAt is a membership and the index it took effect at.
type confAt struct {
	index uint64
	cs    *pb.ConfState
}

func newCore(cfg coreConfig) (*core, error) {
	if cfg.ElectionTicks == 0 {
		cfg.ElectionTicks = 10
	}
	if cfg.HeartbeatTicks == 0 {
		cfg.HeartbeatTicks = 1
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	rn, err := raft.NewRawNode(&raft.Config{
		ID:            cfg.ID,
		ElectionTick:  cfg.ElectionTicks,
		HeartbeatTick: cfg.HeartbeatTicks,
		Storage:       cfg.Storage,
		Applied:       cfg.Applied,
		// A partitioned member must not disrupt the majority when it comes
		// back (pre-vote), and a leader cut off from it must step down
		// (check-quorum).
		PreVote:     true,
		CheckQuorum: true,
		// The leader decides what an entry holds (it stamps the time and
		// the policy), so writes reach it at the application level.
		DisableProposalForwarding: true,
		MaxSizePerMsg:             1 << 20,
		MaxInflightMsgs:           256,
		MaxUncommittedEntriesSize: 1 << 30,
		ReadOnlyOption:            raft.ReadOnlySafe,
		// A leader a reconfig removes hands over at once.
		StepDownOnRemoval: true,
		// A Ready never waits for the disk: commits are learnt, applied
		// and answered while the next fsync runs (see process).
		AsyncStorageWrites: true,
		Logger:             raftLogger{cfg.Logger},
	})
	if err != nil {
		return nil, fmt.Errorf("replication: %w", err)
	}
	c := &core{cfg: cfg, rn: rn, storage: cfg.Storage, applied: cfg.Applied, rejoining: map[uint64]bool{}, heard: map[uint64]uint64{}}
	_, cs, err := cfg.Storage.InitialState()
	if err != nil {
		return nil, fmt.Errorf("replication: %w", err)
	}
	snap, err := cfg.Storage.Snapshot()
	if err != nil {
		return nil, fmt.Errorf("replication: %w", err)
	}
	c.setMembership(cs)
	c.confs = []confAt{{snap.GetMetadata().GetIndex(), cs}}
	return c, nil
}

// removed reports whether a membership change took this member out of
// the ensemble (a member that never had a membership is not removed).
func (c *core) removed() bool {
	return len(c.confs) > 1 && !c.learner && !slices.Contains(c.voters, c.cfg.ID)
}

// setMembership records the membership cs. In a joint membership the
// voters are those of both halves, and a voter to be demoted stays one
// until raft leaves it.
func (c *core) setMembership(cs *pb.ConfState) {
	c.voters = slices.Compact(slices.Sorted(slices.Values(slices.Concat(cs.GetVoters(), cs.GetVotersOutgoing()))))
	c.learner = !slices.Contains(c.voters, c.cfg.ID) && slices.Contains(cs.GetLearners(), c.cfg.ID)
}

// Tick advances raft's logical clock by one tick.
func (c *core) Tick() {
	c.silent++
	c.ticks++
	c.rn.Tick()
}

// Step hands raft a message from another member.
func (c *core) Step(m *pb.Message) error {
	c.heard[m.GetFrom()] = c.ticks
	if m.GetFrom() == c.raftLead {
		c.silent = 0
	}
	if m.GetFrom() == c.suspect {
		c.suspect = 0
	}
	if m.GetType() == pb.MsgHeartbeat {
		// A heartbeat commits what the leader knows this member has; a
		// member whose log was wiped has less, and raft would panic.
		if last, _ := c.storage.LastIndex(); m.GetCommit() > last {
			m.Commit = &last
			c.lostLog = true
		}
	}
	return c.rn.Step(m)
}

// rejoin is the leader's answer to member id asking to rejoin with a
// fresh log: raft never lowers what it knows a member has, so the member
// is removed and then added back, with a fresh progress (it then gets a
// snapshot). Pre-vote and check-quorum stay safe meanwhile; the ensemble
// runs one member short between the two changes.
func (c *core) rejoin(id uint64) error {
	if c.rn.BasicStatus().RaftState != raft.StateLeader || id == c.cfg.ID {
		return nil
	}
	if pr, ok := c.rn.Status().Progress[id]; ok && pr.State == tracker.StateSnapshot {
		// It was taken back and a snapshot is on its way: until that is
		// installed its log is empty, and it asks again. Removing it now
		// would make the snapshot in flight one whose membership lacks it,
		// which raft refuses to restore, over and over.
		return nil
	}
	cur := c.confs[len(c.confs)-1].cs
	member := slices.Contains(cur.GetVoters(), id) || slices.Contains(cur.GetLearners(), id)
	learner, removed := c.rejoining[id]
	switch {
	case removed && !member:
		t := pb.ConfChangeAddNode
		if learner {
			t = pb.ConfChangeAddLearnerNode
		}
		return c.proposeConfChange(t, id)
	case member && !removed:
		return c.proposeConfChange(pb.ConfChangeRemoveNode, id)
	}
	return nil
}

func (c *core) proposeConfChange(t pb.ConfChangeType, id uint64) error {
	err := c.rn.ProposeConfChange(&pb.ConfChange{Type: t.Enum(), NodeId: &id, Context: rejoinContext})
	if err != nil && !errors.Is(err, raft.ErrProposalDropped) {
		return err
	}
	return nil
}

// leaderLost is told that the connection from member id broke. If id is
// the leader, it probably died: this member stops trusting its lease (it
// runs its election clock out), so that it grants pre-votes at once, and
// returns its place in line to campaign: 0 for the lowest id among the
// other voters, 1 for the next, and so on (ok false when it is not a
// candidate). The Node staggers the campaigns by place, so that the first
// usually wins alone and the next tries only if it could not (its log was
// behind, say). Pre-vote keeps a wrong guess harmless: while the leader is
// alive the others are in its lease and refuse.
func (c *core) leaderLost(id uint64) (place int, ok bool) {
	if id == 0 || id != c.leader || c.learner || !slices.Contains(c.voters, c.cfg.ID) {
		return 0, false
	}
	c.suspect, c.suspectTerm = id, c.term
	for range c.cfg.ElectionTicks {
		c.rn.Tick()
	}
	for _, v := range c.voters {
		switch v {
		case id:
		case c.cfg.ID:
			return place, true
		default:
			place++
		}
	}
	return 0, false
}

// campaign starts an election (a pre-vote first) if the leader that
// leaderLost was told of has still not been heard from, no other has taken
// its place meanwhile, and no election this member voted in is under way.
// Running its election clock out lets another member campaign before its
// turn; once this member has given that one its vote, a campaign of its
// own would only start a higher term before the winner's first append
// arrives, and the members that had no leader yet would follow it there:
// the new leader steps down, and the ensemble waits out an election
// timeout (a SIGKILL soak saw a second's gap so).
func (c *core) campaign() error {
	if c.suspect == 0 || c.raftLead != 0 && c.raftLead != c.suspect {
		return nil
	}
	if st := c.rn.BasicStatus(); st.GetTerm() > c.suspectTerm && st.GetVote() != 0 && st.GetVote() != c.cfg.ID {
		return nil
	}
	return c.rn.Campaign()
}

// Propose asks raft to replicate data; only the leader can.
func (c *core) Propose(data []byte) error {
	if err := c.rn.Propose(data); err != nil {
		return err
	}
	c.proposals.add(len(data))
	return nil
}

// ReadIndex asks for the commit index as of now, answered through
// OnReadIndex with ctx once the leadership is confirmed.
func (c *core) ReadIndex(ctx []byte) { c.rn.ReadIndex(ctx) }

// Quorum returns what this member knows of its ensemble (see
// QuorumStatus).
func (c *core) Quorum() QuorumStatus {
	q := QuorumStatus{Leader: c.leader, Voters: len(c.voters)}
	if c.leader != c.cfg.ID {
		return q
	}
	q.LeaderSince, q.Proposals = c.leaderSince, c.proposals
	st := c.rn.Status()
	for id, pr := range st.Progress {
		if id == c.cfg.ID || !pr.RecentActive {
			continue
		}
		q.Learners++
		if pr.State != tracker.StateReplicate {
			continue
		}
		switch {
		case !pr.IsLearner:
			q.SyncedFollowers++
		case c.want == nil || slices.Contains(c.want.GetLearners(), id):
			q.SyncedObservers++
		default:
			q.SyncedNonVotingFollowers++
		}
	}
	return q
}

// Status returns raft's view of the member.
func (c *core) Status() raft.BasicStatus { return c.rn.BasicStatus() }

// process handles one Ready, if raft has one, and reports whether it did.
// Raft runs with asynchronous storage writes: a Ready does not wait for
// the disk. Its messages to other members go out at once (raft holds
// back those that vouch for this member's disk: they ride on the append
// they depend on). What is to be persisted, a MsgStorageAppend, waits in
// appends for the appender (takeAppends, then persisted). The committed
// entries, which raft hands over only once they are on this member's
// disk, are applied here and now. An error means the state machine could
// not take a configuration change: the member must stop.
func (c *core) process() (bool, error) {
	if !c.rn.HasReady() {
		c.checkLeader()
		return false, nil
	}
	rd := c.rn.Ready()
	c.outbox = c.outbox[:0]
	defer clear(c.outbox)
	var applies []*pb.Message
	for _, m := range rd.Messages {
		switch m.GetTo() {
		case raft.LocalAppendThread:
			c.appends = append(c.appends, m)
		case raft.LocalApplyThread:
			applies = append(applies, m)
		default:
			c.outbox = append(c.outbox, m)
		}
	}
	if len(c.outbox) > 0 {
		c.cfg.Send(c.outbox)
	}
	for _, m := range applies {
		if err := c.apply(m.GetEntries()); err != nil {
			return true, err
		}
		for _, r := range m.GetResponses() {
			c.stepLocal(r)
		}
	}
	// Leadership and read indexes, after the entries committed with them.
	c.checkLeader()
	if c.cfg.OnReadIndex != nil {
		for _, rs := range rd.ReadStates {
			c.cfg.OnReadIndex(rs.RequestCtx, rs.Index)
		}
	}
	for _, id := range c.readd {
		if err := c.rejoin(id); err != nil {
			return true, err
		}
	}
	c.readd = c.readd[:0]
	return true, nil
}

// takeAppends returns the MsgStorageAppend messages the Readys so far
// asked for, in order, and forgets them: the caller persists them
// (Storage.Persist) and then hands them to persisted.
func (c *core) takeAppends() []*pb.Message {
	msgs := c.appends
	c.appends = nil
	return msgs
}

// persisted delivers the responses of appends that are now durable: those
// to this member are stepped (raft learns its log is stable; a leader
// counts its own vote), the others are sent. It is called in the order
// the appends were taken.
func (c *core) persisted(appends []*pb.Message) {
	c.outbox = c.outbox[:0]
	defer clear(c.outbox)
	for _, m := range appends {
		if snap := m.GetSnapshot(); !raft.IsEmptySnap(snap) {
			// The image was installed before raft saw the MsgSnap; now the
			// log starts after it too, and the member stands at its index.
			// (Not before: a compaction up to an index the log has not
			// reached would fail.)
			meta := snap.GetMetadata()
			c.confs = []confAt{{meta.GetIndex(), meta.GetConfState()}}
			c.setMembership(meta.GetConfState())
			c.applied = max(c.applied, meta.GetIndex())
		}
		for _, r := range m.GetResponses() {
			if r.GetTo() == c.cfg.ID {
				c.stepLocal(r)
			} else if !c.repeatsAck(r) {
				c.outbox = append(c.outbox, r)
			}
		}
	}
	if len(c.outbox) > 0 {
		c.cfg.Send(c.outbox)
	}
}

// ack is an acknowledgement of appended entries: the term it was sent in
// and the last index it vouches for.
type ack struct{ term, index uint64 }

// repeatsAck reports whether r, a response of an append, is an
// acknowledgement to leave unsent because it repeats the last one, sent in
// the same tick. Once a round's entries are acknowledged, the leader sends
// an append without entries to tell the followers the new commit index,
// and raft answers it with the same acknowledgement again: a message each
// way per follower per round that tells the leader nothing. Only a leader
// that lost the first one (a broken connection) would miss the repeat: it
// probes this member with an empty append and waits; the acknowledgement
// it then gets, a tick later at the latest, is sent. Raft takes any lost
// message in its stride, so skipping one never costs safety, only time.
func (c *core) repeatsAck(r *pb.Message) bool {
	if r.GetType() != pb.MsgAppResp || r.GetReject() {
		return false
	}
	a := ack{r.GetTerm(), r.GetIndex()}
	if a == c.acked && c.ackedAt == c.ticks {
		return true
	}
	c.acked, c.ackedAt = a, c.ticks
	return false
}

// stepLocal steps a response addressed to this member by its own append
// or apply work; raft refuses it only once stopped.
func (c *core) stepLocal(m *pb.Message) {
	if err := c.rn.Step(m); err != nil {
		c.cfg.Logger.Debug("replication: step local", "type", m.GetType(), "err", err)
	}
}

// apply hands committed entries to the applier, configuration changes to
// raft first, in their place in the log.
func (c *core) apply(ents []*pb.Entry) error {
	if len(ents) == 0 {
		return nil
	}
	for _, e := range ents {
		if err := c.applyConfChange(e); err != nil {
			return err
		}
	}
	c.cfg.Apply(ents)
	c.applied = ents[len(ents)-1].GetIndex()
	return nil
}

// checkLeader reports a change of leader or term to OnLeader. A learner
// that has not heard from its leader for twice the election timeout
// reports none: raft never makes it look for another.
func (c *core) checkLeader() {
	st := c.rn.BasicStatus()
	c.raftLead = st.Lead
	lead := st.Lead
	if c.learner && c.silent > 2*c.cfg.ElectionTicks || c.removed() {
		// A learner's leader gone silent; or this member was removed from
		// the ensemble, and no leader will talk to it again.
		lead = 0
	}
	if lead != c.leader || st.GetTerm() != c.term {
		if c.cfg.OnLeader != nil {
			c.cfg.OnLeader(lead, st.GetTerm())
		}
		if lead == c.cfg.ID && c.leader != lead {
			c.leaderSince, c.proposals, c.ledFrom = time.Now(), ProposalSizes{}, c.ticks
		}
		c.leader, c.term = lead, st.GetTerm()
	}
}

// applyConfChange applies a committed configuration change to raft.
func (c *core) applyConfChange(e *pb.Entry) error {
	var cc pb.ConfChangeI
	switch e.GetType() {
	case pb.EntryConfChange:
		var v1 pb.ConfChange
		if err := proto.Unmarshal(e.GetData(), &v1); err != nil {
			return fmt.Errorf("replication: conf change at index %d: %w", e.GetIndex(), err)
		}
		cc = &v1
	case pb.EntryConfChangeV2:
		var v2 pb.ConfChangeV2
		if err := proto.Unmarshal(e.GetData(), &v2); err != nil {
			return fmt.Errorf("replication: conf change at index %d: %w", e.GetIndex(), err)
		}
		cc = &v2
	default:
		return nil
	}
	prev := c.confs[len(c.confs)-1].cs
	cs := c.rn.ApplyConfChange(cc)
	c.setMembership(cs)
	c.confs = append(c.confs, confAt{e.GetIndex(), cs})
	if v1, ok := cc.(*pb.ConfChange); ok && bytes.Equal(v1.GetContext(), rejoinContext) {
		id := v1.GetNodeId()
		switch v1.GetType() {
		case pb.ConfChangeRemoveNode:
			c.rejoining[id] = slices.Contains(prev.GetLearners(), id)
			// The leader adds it back once this Ready is done (raft
			// refuses a conf change while one is being applied).
			c.readd = append(c.readd, id)
		default:
			delete(c.rejoining, id)
		}
	}
	return nil
}

// lastWithEveryMember returns the latest of c.confs[:at+1] that holds every
// member of the current membership and every member being taken back to
// rejoin, or at when none does (a member new to the ensemble is in no
// earlier membership, and holds nothing back).
func (c *core) lastWithEveryMember(at int) int {
	wanted := members(c.confs[len(c.confs)-1].cs)
	for id := range c.rejoining {
		wanted = append(wanted, id)
	}
	for i := at; i >= 0; i-- {
		held := members(c.confs[i].cs)
		if !slices.ContainsFunc(wanted, func(id uint64) bool { return !slices.Contains(held, id) }) {
			return i
		}
	}
	return at
}

// members lists every member cs names, voting or not, in either half of a
// joint membership.
func members(cs *pb.ConfState) []uint64 {
	return slices.Concat(cs.GetVoters(), cs.GetLearners(), cs.GetVotersOutgoing(), cs.GetLearnersNext())
}

// compact drops the log through durable-keep: the state machine's
// checkpoint is durable through durable, and the keep entries before it
// stay for members slightly behind (further behind, they get a snapshot).
func (c *core) compact(durable, keep uint64) error {
	if durable <= keep {
		return nil
	}
	target := min(durable-keep, c.applied)
	first, err := c.storage.FirstIndex()
	if err != nil || target < first {
		return err
	}
	at := 0
	for i, conf := range c.confs {
		if conf.index <= target {
			at = i
		}
	}
	if i := c.lastWithEveryMember(at); i < at {
		// A member of today's membership, or one taken back to rejoin, was
		// out of it at target: removed to rejoin with a fresh log, and
		// added back later. A snapshot there is one that member refuses to
		// restore ("not in the ConfState"), again and again until the
		// checkpoint passes its return; so compact only up to before it
		// left, while the log still holds that.
		target, at = c.confs[i+1].index-1, i
		if target < first {
			return nil
		}
	}
	if err := c.storage.Compact(target, c.confs[at].cs); err != nil {
		return err
	}
	c.confs = c.confs[at:]
	return nil
}
