package replication

import (
	"errors"
	"fmt"
	"io"
	"log/slog"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"go.etcd.io/raft/v3"
	pb "go.etcd.io/raft/v3/raftpb"
)

// ErrStopped is returned by a Node that has stopped.
var ErrStopped = errors.New("replication: node stopped")

// NodeConfig configures a Node.
type NodeConfig struct {
	// ID is this member's id (its myid).
	ID uint64
	// Storage is its raft log (OpenStorage).
	Storage *Storage
	// Transport carries its messages (NewTransport).
	Transport *Transport
	// Tick is the length of one raft tick; 0 means 100 ms. Elections start
	// after 10 to 20 ticks without a leader.
	Tick time.Duration
	// Applied is the index the state machine has applied through.
	Applied uint64
	// Applier receives the committed entries in log order, the changes of
	// leader and the read indexes, from the node's goroutine, and the
	// other members' application messages.
	Applier Applier
	// Durable, when set, tells how far the state machine's checkpoint is
	// durable (a raft index); the log is compacted up to KeepEntries
	// before it, about once a second.
	Durable func() uint64
	// KeepEntries is how many entries before the durable index the log
	// keeps for members slightly behind; 0 means 10000.
	KeepEntries uint64
	// Snapshot, when set, streams the state machine's current image for a
	// member too far behind for the log (snapshot.Write of a View whose
	// Applied is at least the compacted index).
	Snapshot func(io.Writer) error
	// Install, when set, installs an image a leader sent: once it returns
	// nil the state machine holds it durably, and raft is told.
	Install func(io.Reader) error
	// Logger receives the node's and raft's logs.
	Logger *slog.Logger
}

// Node runs a core on its own goroutine: it owns the RawNode, ticks it,
// feeds it the transport's messages and the proposals, and handles its
// Readys (see the package doc). Everything else talks to it through its
// methods, which are safe from any goroutine. It is the
// pipeline.Replicator of its member.
type Node struct {
	cfg  NodeConfig
	core *core
	// rejoinAsked is when this member last asked to rejoin (askToRejoin).
	rejoinAsked time.Time
	inbound     chan *pb.Message
	proposals   chan []byte
	reads       chan uint64
	inspect     chan func(*core)
	unreach     chan uint64
	lost        chan uint64
	snapped     chan snapResult
	rejoins     chan uint64
	stop        chan struct{}
	done        chan struct{}
	// appender writes what raft asks to persist, on its own goroutine, so
	// that the node's goroutine never waits for the disk; written brings
	// back the appends it made durable, failed why it could not.
	appender *appender
	written  chan []*pb.Message
	failed   chan error
	once     sync.Once
	err      error // why the node stopped on its own; read after done
	// wanted is the membership raft is to follow (SetMembership); synced
	// is what Synced reports, refreshed by followMembership.
	wanted atomic.Pointer[pb.ConfState]
	synced atomic.Pointer[map[uint64]bool]
	// followed is when followMembership last ran.
	followed time.Time
}

// SetMembership tells the node the membership /zookeeper/config holds:
// on the leader, raft's follows it (new members as learners first,
// promoted once caught up; the voters in one joint-consensus change).
func (n *Node) SetMembership(voters, learners []uint64) {
	n.wanted.Store(&pb.ConfState{Voters: voters, Learners: learners})
}

// Synced reports, on the leader, whether member id is connected and
// caught up (as of the last tick).
func (n *Node) Synced(id uint64) bool {
	m := n.synced.Load()
	return m != nil && (*m)[id]
}

// followMembership moves raft's membership towards the wanted one and
// refreshes what Synced reports.
func (n *Node) followMembership() {
	n.core.want = n.wanted.Load()
	if err := n.core.reconcile(); err != nil {
		n.cfg.Logger.Warn("replication: proposing a membership change failed", "err", err)
	}
	synced := n.core.synced()
	n.synced.Store(&synced)
}

// snapResult is how sending a snapshot to a member went.
type snapResult struct {
	to  uint64
	err error
}

// campaignDelay is how long the first in line waits, after the leader's
// connection broke, before it campaigns: long enough for the other
// members to notice the same break and leave the leader's lease. Each
// next in line waits campaignStagger more, time enough for the one before
// to win (a pre-vote and a vote round) and be heard from.
const (
	campaignDelay   = 20 * time.Millisecond
	campaignStagger = 150 * time.Millisecond
)

// StartNode makes the node and starts its goroutine. The transport's
// callbacks must lead to the node's Deliver, DeliverApp,
// ReportUnreachable and Disconnected.
func StartNode(cfg NodeConfig) (*Node, error) {
	if cfg.Tick == 0 {
		cfg.Tick = 100 * time.Millisecond
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.KeepEntries == 0 {
		cfg.KeepEntries = 10000
	}
	n := &Node{cfg: cfg, inbound: make(chan *pb.Message, 4096), proposals: make(chan []byte, 256),
		reads: make(chan uint64, 256), inspect: make(chan func(*core)), unreach: make(chan uint64, 64),
		lost: make(chan uint64, 64), snapped: make(chan snapResult, 16), rejoins: make(chan uint64, 16), stop: make(chan struct{}), done: make(chan struct{}),
		written: make(chan []*pb.Message, 1), failed: make(chan error, 1)}
	n.appender = &appender{storage: cfg.Storage, wake: make(chan struct{}, 1), halt: make(chan struct{}), done: make(chan struct{})}
	ccfg := coreConfig{ID: cfg.ID, Storage: cfg.Storage, Applied: cfg.Applied, Send: n.send, Logger: cfg.Logger}
	connect(&ccfg, cfg.Applier)
	c, err := newCore(ccfg)
	if err != nil {
		return nil, err
	}
	n.core = c
	go n.appender.run(n.written, n.failed)
	go n.run()
	return n, nil
}

// appender is a node's storage goroutine: it persists the MsgStorageAppend
// messages the node's Readys produce, in order, as many at a time as have
// queued (one fsync for all of them), and hands each run back once it is
// durable.
type appender struct {
	storage *Storage
	mu      sync.Mutex
	queue   []*pb.Message
	wake    chan struct{}
	// halt stops the goroutine; done is closed once it has.
	halt, done chan struct{}
}

// push queues appends; it never blocks.
func (a *appender) push(msgs []*pb.Message) {
	a.mu.Lock()
	a.queue = append(a.queue, msgs...)
	a.mu.Unlock()
	select {
	case a.wake <- struct{}{}:
	default:
	}
}

// run persists what is queued until halted: each run made durable goes to
// written, in order; the first failure goes to failed, and ends it.
func (a *appender) run(written chan<- []*pb.Message, failed chan<- error) {
	defer close(a.done)
	for {
		select {
		case <-a.halt:
			return
		case <-a.wake:
		}
		a.mu.Lock()
		msgs := a.queue
		a.queue = nil
		a.mu.Unlock()
		if len(msgs) == 0 {
			continue
		}
		if err := a.storage.Persist(msgs); err != nil {
			failed <- err
			return
		}
		select {
		case written <- msgs:
		case <-a.halt:
			return
		}
	}
}

// send hands raft's messages to the transport; a snapshot goes on its own
// connection with the state machine's image, and raft hears how it went.
func (n *Node) send(msgs []*pb.Message) {
	if n.cfg.Snapshot == nil || !slices.ContainsFunc(msgs, func(m *pb.Message) bool { return m.GetType() == pb.MsgSnap }) {
		n.cfg.Transport.Send(msgs)
		return
	}
	out := make([]*pb.Message, 0, len(msgs))
	for _, m := range msgs {
		if m.GetType() != pb.MsgSnap {
			out = append(out, m)
			continue
		}
		go func() {
			err := n.cfg.Transport.SendSnapshot(m, n.cfg.Snapshot)
			if err != nil {
				n.cfg.Logger.Warn("replication: sending a snapshot failed", "to", m.GetTo(), "err", err)
			} else {
				n.cfg.Logger.Info("replication: a member caught up from a snapshot", "member", m.GetTo(), "index", m.GetSnapshot().GetMetadata().GetIndex())
			}
			select {
			case n.snapped <- snapResult{m.GetTo(), err}:
			case <-n.done:
			}
		}()
	}
	n.cfg.Transport.Send(out)
}

// ReceiveSnapshot installs the image a leader sent with its MsgSnap m,
// then hands m to raft, which takes the log from there. It is called from
// the transport's connection goroutine and takes as long as the install.
func (n *Node) ReceiveSnapshot(m *pb.Message, image io.Reader) error {
	if n.cfg.Install == nil {
		return errors.New("replication: this member cannot install snapshots")
	}
	n.cfg.Logger.Info("replication: installing a snapshot from the leader", "from", m.GetFrom(), "index", m.GetSnapshot().GetMetadata().GetIndex())
	if err := n.cfg.Install(image); err != nil {
		return err
	}
	select {
	case n.inbound <- m:
		return nil
	case <-n.done:
		return ErrStopped
	}
}

// Rejoin hands the node a member's request to rejoin with a fresh log
// (see core.rejoin).
func (n *Node) Rejoin(from uint64) {
	select {
	case n.rejoins <- from:
	default:
	}
}

// Deliver hands the node a raft message from a peer; a node that cannot
// keep up drops it (raft sends again).
func (n *Node) Deliver(m *pb.Message) {
	select {
	case n.inbound <- m:
	default:
	}
}

// DeliverApp hands the applier a message from a peer's applier.
func (n *Node) DeliverApp(from uint64, data []byte) { n.cfg.Applier.Received(from, data) }

// ReportUnreachable tells raft and the applier that a message to a peer
// was dropped.
func (n *Node) ReportUnreachable(id uint64) {
	n.cfg.Applier.PeerLost(id)
	select {
	case n.unreach <- id:
	default:
	}
}

// Disconnected tells the node that the connection from a peer broke; if
// the peer is the leader, an election starts at once rather than after
// the election timeout.
func (n *Node) Disconnected(id uint64) {
	select {
	case n.lost <- id:
	default:
	}
}

// Propose hands data to raft (see pipeline.Replicator). It waits only
// while 256 proposals are already queued.
func (n *Node) Propose(data []byte) {
	select {
	case n.proposals <- data:
	case <-n.done:
	}
}

// ReadIndex asks raft for a read index, answered through the applier's
// ReadIndexDone (see pipeline.Replicator).
func (n *Node) ReadIndex(ctx uint64) {
	select {
	case n.reads <- ctx:
	case <-n.done:
	}
}

// Send sends an application message to member to (see
// pipeline.Replicator).
func (n *Node) Send(to uint64, msg []byte) { n.cfg.Transport.SendApp(to, msg) }

// Status returns a copy of raft's view of this member.
func (n *Node) Status() (st raft.BasicStatus, err error) {
	err = n.do(func(c *core) { st = c.Status() })
	return st, err
}

// Quorum returns what this member knows of its ensemble.
func (n *Node) Quorum() (q QuorumStatus, err error) {
	err = n.do(func(c *core) { q = c.Quorum() })
	return q, err
}

// do runs fn on the node's goroutine and waits for it.
func (n *Node) do(fn func(*core)) error {
	done := make(chan struct{})
	select {
	case n.inspect <- func(c *core) { fn(c); close(done) }:
		<-done
		return nil
	case <-n.done:
		return ErrStopped
	}
}

// Stop stops the node's goroutine and waits for it. It returns the error
// that stopped the node on its own, if one did.
func (n *Node) Stop() error {
	n.once.Do(func() { close(n.stop) })
	<-n.done
	return n.err
}

// Done is closed once the node has stopped.
func (n *Node) Done() <-chan struct{} { return n.done }

// Err is why the node stopped on its own (its log failed); nil while it
// runs or after Stop.
func (n *Node) Err() error {
	select {
	case <-n.done:
		return n.err
	default:
		return nil
	}
}

// everySecond compacts the log up to what the checkpoint covers.
func (n *Node) everySecond() {
	if n.cfg.Durable != nil {
		if err := n.core.compact(n.cfg.Durable(), n.cfg.KeepEntries); err != nil {
			n.cfg.Logger.Warn("replication: compacting the log failed", "err", err)
		}
	}
}

// rejoinEvery is how often a member whose log was wiped asks the leader to
// take it back while the leader still counts on what it lost.
const rejoinEvery = time.Second

// askToRejoin asks the leader to take this member back once it learns its
// log was wiped: at once, then at most every rejoinEvery.
func (n *Node) askToRejoin(now time.Time) {
	if !n.core.lostLog || n.core.leader == 0 || now.Sub(n.rejoinAsked) < rejoinEvery {
		return
	}
	n.cfg.Logger.Warn("replication: the leader counts on entries this member does not have (its data was wiped?); asking to rejoin", "leader", n.core.leader)
	n.cfg.Transport.RequestRejoin(n.core.leader)
	n.core.lostLog, n.rejoinAsked = false, now
}

// maxDrain bounds how many queued messages, proposals and read requests
// one Ready may gather.
const maxDrain = 1024

// drain hands raft whatever else is queued (messages, proposals, read
// requests) so that one Ready covers all of it: one wal record, one round
// of messages to each member, rather than one for each.
func (n *Node) drain() {
	for range maxDrain {
		select {
		case m := <-n.inbound:
			n.step(m)
		case data := <-n.proposals:
			n.propose(data)
		case ctx := <-n.reads:
			n.core.ReadIndex(readCtx(ctx))
		default:
			return
		}
	}
}

func (n *Node) step(m *pb.Message) {
	if err := n.core.Step(m); err != nil {
		n.cfg.Logger.Debug("replication: step", "from", m.GetFrom(), "type", m.GetType(), "err", err)
	}
}

func (n *Node) propose(data []byte) {
	if err := n.core.Propose(data); err != nil {
		n.cfg.Logger.Debug("replication: proposal dropped", "err", err)
	}
}

func (n *Node) run() {
	defer close(n.done)
	defer func() {
		// The appender may be writing: the storage is the caller's to
		// close once Stop returns.
		close(n.appender.halt)
		<-n.appender.done
	}()
	ticker := time.NewTicker(n.cfg.Tick)
	defer ticker.Stop()
	var campaign <-chan time.Time
	ticks := 0
	for {
		select {
		case <-n.stop:
			return
		case <-ticker.C:
			n.core.Tick()
			if ticks++; ticks%10 == 0 {
				n.everySecond()
			}
		case id := <-n.rejoins:
			n.cfg.Logger.Info("replication: a member lost its log and asks to rejoin", "member", id)
			// It needs everything: a snapshot of what the checkpoint holds
			// is cheaper than replaying the log kept behind it.
			if n.cfg.Durable != nil {
				if err := n.core.compact(n.cfg.Durable(), 0); err != nil {
					n.cfg.Logger.Warn("replication: compacting the log failed", "err", err)
				}
			}
			if err := n.core.rejoin(id); err != nil {
				n.cfg.Logger.Warn("replication: rejoin", "member", id, "err", err)
			}
		case r := <-n.snapped:
			status := raft.SnapshotFinish
			if r.err != nil {
				status = raft.SnapshotFailure
			}
			n.core.rn.ReportSnapshot(r.to, status)
		case m := <-n.inbound:
			n.step(m)
			n.drain()
		case data := <-n.proposals:
			n.propose(data)
			n.drain()
		case ctx := <-n.reads:
			n.core.ReadIndex(readCtx(ctx))
			n.drain()
		case id := <-n.unreach:
			n.core.rn.ReportUnreachable(id)
		case id := <-n.lost:
			if place, ok := n.core.leaderLost(id); ok {
				delay := campaignDelay + time.Duration(place)*campaignStagger
				n.cfg.Logger.Info("replication: the leader's connection broke; campaigning unless another leads first",
					"leader", id, "in", delay)
				campaign = time.After(delay)
			}
		case <-campaign:
			campaign = nil
			if err := n.core.campaign(); err != nil {
				n.cfg.Logger.Debug("replication: campaign", "err", err)
			}
		case fn := <-n.inspect:
			fn(n.core)
		case msgs := <-n.written:
			n.core.persisted(msgs)
			n.drain()
		case err := <-n.failed:
			n.err = fmt.Errorf("replication: member %d: %w", n.cfg.ID, err)
			n.cfg.Logger.Error("replication: the raft log failed; stopping", "err", err)
			return
		}
		for {
			did, err := n.core.process()
			if err != nil {
				n.err = fmt.Errorf("replication: member %d: %w", n.cfg.ID, err)
				n.cfg.Logger.Error("replication: a membership change could not be applied; stopping", "err", err)
				return
			}
			if !did {
				break
			}
		}
		if msgs := n.core.takeAppends(); len(msgs) > 0 {
			n.appender.push(msgs)
		}
		now := time.Now()
		if now.Sub(n.followed) >= followEvery {
			n.followed = now
			n.followMembership()
		}
		n.askToRejoin(now)
	}
}

// followEvery is how often, at most, the node refreshes what Synced
// reports and looks for a membership change to make: a tick, or sooner
// while raft is busy (a reconfig right after an election must see the
// followers that have caught up since).
const followEvery = 20 * time.Millisecond
