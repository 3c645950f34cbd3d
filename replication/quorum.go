package replication

import "time"

// QuorumStatus is what a member knows of its ensemble, for the monitoring
// words (mntr's quorum keys, srvr's proposal sizes).
type QuorumStatus struct {
	// Leader is the member this one follows (itself when it leads), 0
	// when it knows none.
	Leader uint64
	// Voters counts the voting members of the current configuration
	// (ZooKeeper's quorum_size: the members, not the majority).
	Voters int
	// The rest is known on the leader only. Learners counts the other
	// members it heard from within the last election timeout;
	// SyncedFollowers, SyncedObservers and SyncedNonVotingFollowers those
	// of them that it replicates to entry by entry (caught up, not being
	// probed or sent a snapshot): voters; learners that are observers in
	// the membership; and learners that are not (a participant a reconfig
	// added, until it is promoted, or one it removed that follows on), as
	// ZooKeeper counts followers outside its voting view.
	Learners, SyncedFollowers, SyncedObservers, SyncedNonVotingFollowers int
	// LeaderSince is when this member became leader.
	LeaderSince time.Time
	// Proposals are the sizes of what it proposed since.
	Proposals ProposalSizes
}

// ProposalSizes sums up the sizes in bytes of the proposals a leader made:
// the last, smallest and largest (all -1 before the first, as ZooKeeper
// reports them).
type ProposalSizes struct {
	n                 int
	last, least, most int
}

// Last returns the last proposal's size (ZooKeeper's
// last_proposal_size), -1 before any.
func (p ProposalSizes) Last() int { return p.or(p.last) }

// Min returns the smallest proposal's size (see Last).
func (p ProposalSizes) Min() int { return p.or(p.least) }

// Max returns the largest proposal's size (see Last).
func (p ProposalSizes) Max() int { return p.or(p.most) }

func (p ProposalSizes) or(v int) int {
	if p.n == 0 {
		return -1
	}
	return v
}

func (p *ProposalSizes) add(size int) {
	if p.n == 0 || size < p.least {
		p.least = size
	}
	p.most = max(p.most, size)
	p.last = size
	p.n++
}
