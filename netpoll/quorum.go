package netpoll

import (
	"fmt"
	"strings"
	"time"

	"github.com/meerkat-zk/meerkat/zkmetrics"
)

// Quorum is a member's view of its ensemble as srvr and mntr show it.
type Quorum struct {
	// Size counts the voting members (mntr's zk_quorum_size).
	Size int
	// LeaderID is the member followed (an observer's
	// zk_observer_master_id).
	LeaderID int64
	// The rest is reported by the leader only: the other members it heard
	// from lately (zk_learners), those of them caught up (voters,
	// observers, and followers without a vote), the syncs it has not
	// answered yet, and how long it has led.
	Learners, SyncedFollowers, SyncedObservers, SyncedNonVotingFollowers, PendingSyncs int
	LeaderUptime                                                                       time.Duration
	// ProposalLast, ProposalMin and ProposalMax are the sizes in bytes of
	// the leader's proposals, -1 before the first.
	ProposalLast, ProposalMin, ProposalMax int
}

// Membership describes an ensemble member for conf.
type Membership struct {
	InitLimit, SyncLimit     int
	ElectionPort, QuorumPort int
	Observer                 bool
}

// quorum asks the member for its view; ok is false on a standalone server.
func (s *Server) quorum() (Quorum, bool) {
	if s.cfg.Quorum == nil {
		return Quorum{}, false
	}
	return s.cfg.Quorum(), true
}

// peerState is mntr's zk_peer_state for a member in mode (ZooKeeper adds
// the phase of its sync with the leader; a serving member is past it).
func peerState(mode string) string {
	switch mode {
	case ModeLeader:
		return "leading - broadcast"
	case ModeObserver:
		return "observing - broadcast"
	}
	return "following - broadcast"
}

// monitorQuorum is what mntr adds for a member in mode: the keys of
// ZooKeeper 3.8's QuorumZooKeeperServer and, on the leader, those of
// LeaderZooKeeperServer.
func monitorQuorum(mode string, q Quorum) []zkmetrics.Gauge {
	g := []zkmetrics.Gauge{{Name: "peer_state", Value: peerState(mode)}}
	switch mode {
	case ModeObserver:
		g = append(g, zkmetrics.Gauge{Name: "observer_master_id", Value: q.LeaderID})
	case ModeLeader:
		g = append(g,
			zkmetrics.Gauge{Name: "synced_followers", Value: q.SyncedFollowers},
			zkmetrics.Gauge{Name: "synced_non_voting_followers", Value: q.SyncedNonVotingFollowers},
			zkmetrics.Gauge{Name: "synced_observers", Value: q.SyncedObservers},
			zkmetrics.Gauge{Name: "last_proposal_size", Value: q.ProposalLast},
			zkmetrics.Gauge{Name: "pending_syncs", Value: q.PendingSyncs},
			zkmetrics.Gauge{Name: "leader_uptime", Value: q.LeaderUptime.Milliseconds()},
			zkmetrics.Gauge{Name: "learners", Value: q.Learners},
			zkmetrics.Gauge{Name: "max_proposal_size", Value: q.ProposalMax},
			zkmetrics.Gauge{Name: "min_proposal_size", Value: q.ProposalMin})
	}
	return append(g, zkmetrics.Gauge{Name: "quorum_size", Value: q.Size})
}

// writeMembership is what conf adds for an ensemble member; text is the
// membership as /zookeeper/config holds it (which reconfigs change).
func writeMembership(b *strings.Builder, m *Membership, text string) {
	peerType := 0
	if m.Observer {
		peerType = 1
	}
	fmt.Fprintf(b, "initLimit=%d\nsyncLimit=%d\nelectionAlg=3\nelectionPort=%d\nquorumPort=%d\npeerType=%d\n",
		m.InitLimit, m.SyncLimit, m.ElectionPort, m.QuorumPort, peerType)
	// ZooKeeper ends the membership without a newline.
	b.WriteString("membership: \n" + text)
}
