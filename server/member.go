package server

import (
	"fmt"
	"io"
	"net"
	"os"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	pb "go.etcd.io/raft/v3/raftpb"

	"github.com/meerkat-zk/meerkat/config"
	"github.com/meerkat-zk/meerkat/engine"
	"github.com/meerkat-zk/meerkat/membership"
	"github.com/meerkat-zk/meerkat/netpoll"
	"github.com/meerkat-zk/meerkat/pipeline"
	"github.com/meerkat-zk/meerkat/replication"
	"github.com/meerkat-zk/meerkat/snapshot"
	"github.com/meerkat-zk/meerkat/wal"
	"github.com/meerkat-zk/meerkat/zktls"
)

// member is a server's part in an ensemble: its raft log, its raft node
// and the peer transport.
type member struct {
	self      config.Member
	storage   *replication.Storage
	transport *replication.Transport
	node      *replication.Node
	// replicator is what the pipeline proposes through; its node is set
	// once the pipeline it feeds exists.
	replicator *replicator
	// applied is the raft index the recovered state covers.
	applied uint64
	// initial is what /zookeeper/config held at start; observer is
	// whether the latest membership makes this member an observer.
	initial  membership.Config
	observer atomic.Bool
}

// keepMembership gives a state without a membership (a new member's) the
// one zoo.cfg names, as each ZooKeeper member writes /zookeeper/config
// when it starts; afterwards the replicated one, which reconfigs change,
// stands.
func keepMembership(state *engine.State, cfg *config.Config) {
	if mc, err := state.Membership(); err == nil && len(mc.Servers) > 0 {
		return
	}
	state.SetConfigNode(membershipText(cfg), time.Now().UnixMilli())
}

// follow takes membership c on: the peers to talk to, raft's membership
// (which the leader changes one step at a time) and this member's role.
// It reports whether c names this member.
func (m *member) follow(c membership.Config) (in bool) {
	self, in := c.Server(m.self.ID)
	m.observer.Store(in && self.Observer)
	if m.transport == nil || m.node == nil {
		return in // not started: start follows the membership it begins with
	}
	for _, srv := range c.Servers {
		if srv.ID != m.self.ID {
			m.transport.AddPeer(uint64(srv.ID), srv.PeerAddr)
		}
	}
	m.node.SetMembership(membership.RaftIDs(c.Servers))
	return in
}

// membershipChanged follows a membership a reconfig (or an image from
// the leader) brought, and rewrites the configuration files as ZooKeeper
// does.
func (s *Server) membershipChanged(c membership.Config) {
	in := s.member.follow(c)
	cfg := *s.cfg
	path, err := cfg.WriteMembership(c)
	switch {
	case err != nil:
		s.logger.Warn("could not record the new membership in the configuration files", "err", err)
	case path != "":
		s.logger.Info("membership changed", "version", fmt.Sprintf("%x", c.Version), "dynamic_config", path,
			"members", len(c.Servers), "in", in)
	}
}

// replicator is a pipeline's Replicator: the node, which is made after the
// pipeline it feeds (and which calls it only once started).
type replicator struct{ *replication.Node }

// openMember opens the raft log of a member and sets the pipeline up to
// replicate through it.
func (s *Server) openMember(state *engine.State, pcfg *pipeline.Config) error {
	cfg := s.cfg
	if state.Zxid() > 0 && state.Applied() == 0 || hasFiles(cfg.WALDir()) {
		return fmt.Errorf("%s holds the data of a standalone server: a member of an ensemble starts from an empty data directory; to move the data into an ensemble, take a snapshot of the standalone server (meerkat snapshot) and run meerkat restore with each member's zoo.cfg on an empty data directory", cfg.DataDir)
	}
	self, _ := cfg.Self()
	boot := &pb.ConfState{}
	boot.Voters, boot.Learners = membership.RaftIDs(cfg.Members)
	storage, err := replication.OpenStorage(cfg.RaftDir(),
		wal.Options{SegmentSize: cfg.PreAllocSize, NoSync: !cfg.ForceSync, Logger: s.logger}, boot)
	if err != nil {
		return err
	}
	// Raft hands over the committed entries after applied; the checkpoint
	// may be ahead of the log (an image installed just before a crash),
	// and the pipeline skips what it covers.
	hs, _, err := storage.InitialState()
	if err != nil {
		storage.Close()
		return err
	}
	keepMembership(state, cfg)
	m := &member{self: self, storage: storage, replicator: &replicator{}, applied: min(state.Applied(), hs.GetCommit())}
	m.observer.Store(self.Observer)
	if mc, err := state.Membership(); err == nil {
		m.initial = mc
	}
	s.member = m
	pcfg.Replicator = m.replicator
	pcfg.OnMembership = s.membershipChanged
	pcfg.ReconfigMinVoters = 1
	if cfg.StandaloneEnabled {
		// A reconfig may not leave a single voter, which would then run
		// standalone, as ZooKeeper refuses it.
		pcfg.ReconfigMinVoters = 2
	}
	pcfg.OnRole = func(leader uint64, readOnly bool) { s.client.SetMode(m.mode(leader, readOnly)) }
	pcfg.UpgradeLocalSessions = cfg.LocalSessionsUpgrading
	if cfg.ReadOnlyMode {
		pcfg.ReadOnlyAfter = max(2*time.Second, cfg.TickTime)
	}
	s.logger.Info("recovered", "zxid", fmt.Sprintf("0x%x", state.Zxid()), "raft_applied", state.Applied(),
		"znodes", state.Publish().Tree.Count(), "member", self.ID, "observer", self.Observer)
	return nil
}

// mode is what the member reports when leader leads (0: none, and then
// whether it serves read-only clients).
func (m *member) mode(leader uint64, readOnly bool) string {
	switch {
	case leader == 0 && readOnly:
		return netpoll.ModeReadOnly
	case leader == 0:
		return netpoll.ModeNotServing
	case leader == uint64(m.self.ID):
		return netpoll.ModeLeader
	case m.observer.Load():
		return netpoll.ModeObserver
	}
	return netpoll.ModeFollower
}

// membership is what conf says of the member and its ensemble.
func (m *member) membership(cfg *config.Config) *netpoll.Membership {
	return &netpoll.Membership{
		InitLimit: cfg.InitLimit, SyncLimit: cfg.SyncLimit,
		ElectionPort: portOf(m.self.ElectionAddr), QuorumPort: portOf(m.self.PeerAddr),
		Observer: m.self.Observer,
	}
}

// membershipText is /zookeeper/config's data: the membership lines
// without a final newline, as ZooKeeper writes them.
func membershipText(cfg *config.Config) []byte {
	return []byte(strings.Join(cfg.Membership(), "\n"))
}

func portOf(addr string) int {
	_, p, _ := net.SplitHostPort(addr)
	n, _ := strconv.Atoi(p)
	return n
}

// quorum is the member's view of its ensemble for srvr and mntr.
func (s *Server) quorum() netpoll.Quorum {
	q, err := s.member.node.Quorum()
	if err != nil {
		return netpoll.Quorum{ProposalLast: -1, ProposalMin: -1, ProposalMax: -1}
	}
	nq := netpoll.Quorum{
		Size: q.Voters, LeaderID: int64(q.Leader),
		Learners: q.Learners, SyncedFollowers: q.SyncedFollowers, SyncedObservers: q.SyncedObservers,
		SyncedNonVotingFollowers: q.SyncedNonVotingFollowers,
		PendingSyncs:             s.pipe.PendingSyncs(),
		ProposalLast:             q.Proposals.Last(), ProposalMin: q.Proposals.Min(), ProposalMax: q.Proposals.Max(),
	}
	if !q.LeaderSince.IsZero() {
		nq.LeaderUptime = time.Since(q.LeaderSince)
	}
	return nq
}

// start listens on the peer port and starts the raft node, feeding s's
// pipeline.
func (m *member) start(s *Server) error {
	var peerTLS *zktls.Context
	if s.cfg.QuorumTLS.Enabled {
		var err error
		if peerTLS, err = zktls.NewContext(s.cfg.QuorumTLS.Settings, s.logger); err != nil {
			return fmt.Errorf("quorum TLS: %w", err)
		}
	}
	var err error
	// The peers are added once the node exists: until then the transport
	// refuses their connections, so nothing arrives for a node not yet
	// there.
	m.transport, err = replication.NewTransport(replication.TransportConfig{
		ID:           uint64(m.self.ID),
		Listen:       m.self.PeerAddr,
		Receive:      func(msg *pb.Message) { m.node.Deliver(msg) },
		ReceiveApp:   func(from uint64, data []byte) { m.node.DeliverApp(from, data) },
		Unreachable:  func(id uint64) { m.node.ReportUnreachable(id) },
		Disconnected: func(id uint64) { m.node.Disconnected(id) },
		ReceiveSnapshot: func(msg *pb.Message, image io.Reader) error {
			return m.node.ReceiveSnapshot(msg, image)
		},
		Rejoin: func(id uint64) { m.node.Rejoin(id) },
		TLS:    peerTLS,
		Logger: s.logger,
	})
	if err != nil {
		return err
	}
	m.node, err = replication.StartNode(replication.NodeConfig{ID: uint64(m.self.ID), Storage: m.storage,
		Transport: m.transport, Applied: m.applied, Applier: s.pipe, Logger: s.logger,
		Durable: s.cp.DurableIndex, KeepEntries: s.cfg.RaftKeepEntries,
		Snapshot: s.writeSnapshot, Install: s.install})
	if err != nil {
		return err
	}
	m.replicator.Node = m.node
	m.follow(m.initial)
	go func() {
		<-m.node.Done()
		if err := m.node.Err(); err != nil {
			s.fail(err)
		}
	}()
	s.logger.Info("ensemble member", "id", m.self.ID, "peer_addr", m.transport.Addr().String(), "members", len(s.cfg.Members))
	return nil
}

// install is how a member takes an image its leader sent: it reads it,
// hands it to the pipeline, and waits until the checkpoint holds it
// durably, so that raft may drop the log it stands for.
func (s *Server) install(image io.Reader) error {
	begin := time.Now()
	l := engine.NewLoader()
	st, err := snapshot.Read(image, l)
	if err != nil {
		return err
	}
	read := time.Since(begin)
	state, err := l.Finish(st.Zxid)
	if err != nil {
		return err
	}
	state.SetApplied(st.Applied)
	state.SetTerm(st.Term)
	keepMembership(state, s.cfg)
	if err := s.pipe.Install(state); err != nil {
		return err
	}
	installed := time.Since(begin)
	deadline := time.Now().Add(5 * time.Minute)
	for s.cp.DurableIndex() < st.Applied {
		if time.Now().After(deadline) {
			return fmt.Errorf("the checkpoint did not take the image within 5 minutes")
		}
		time.Sleep(5 * time.Millisecond)
	}
	s.logger.Info("installed the leader's snapshot", "zxid", fmt.Sprintf("0x%x", st.Zxid), "znodes", st.Nodes,
		"receive_ms", read.Milliseconds(), "install_ms", (installed - read).Milliseconds(),
		"checkpoint_ms", (time.Since(begin) - installed).Milliseconds())
	return nil
}

// stop stops the node and the transport.
func (m *member) stop() {
	if m.node != nil {
		_ = m.node.Stop()
	}
	if m.transport != nil {
		_ = m.transport.Close()
	}
}

// close closes the raft log; call it after stop.
func (m *member) close() { _ = m.storage.Close() }

// hasFiles reports whether dir exists and holds anything.
func hasFiles(dir string) bool {
	ents, err := os.ReadDir(dir)
	return err == nil && len(ents) > 0
}
