package replication

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
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
	// Apply receives the committed entries in log order, on the node's
	// goroutine.
	Apply func([]*pb.Entry)
	// Logger receives the node's and raft's logs.
	Logger *slog.Logger
}

// Node runs a core on its own goroutine: it owns the RawNode, ticks it,
// feeds it the transport's messages and the proposals, and handles its
// Readys (see the package doc). Everything else talks to it through its
// methods, which are safe from any goroutine.
type Node struct {
	cfg       NodeConfig
	core      *core
	inbound   chan *pb.Message
	proposals chan proposal
	status    chan chan raft.BasicStatus
	unreach   chan uint64
	stop      chan struct{}
	done      chan struct{}
	once      sync.Once
	err       error // why the node stopped on its own; read after done
}

// proposal is a Propose call waiting for raft's answer.
type proposal struct {
	data []byte
	err  chan error
}

// StartNode makes the node and starts its goroutine. The transport's
// Receive and Unreachable must lead to the node's Deliver and
// ReportUnreachable.
func StartNode(cfg NodeConfig) (*Node, error) {
	if cfg.Tick == 0 {
		cfg.Tick = 100 * time.Millisecond
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	n := &Node{cfg: cfg, inbound: make(chan *pb.Message, 4096), proposals: make(chan proposal),
		status: make(chan chan raft.BasicStatus), unreach: make(chan uint64, 64),
		stop: make(chan struct{}), done: make(chan struct{})}
	c, err := newCore(coreConfig{ID: cfg.ID, Storage: cfg.Storage, Applied: cfg.Applied,
		Send: cfg.Transport.Send, Apply: cfg.Apply, Logger: cfg.Logger})
	if err != nil {
		return nil, err
	}
	n.core = c
	go n.run()
	return n, nil
}

// Deliver hands the node a message from a peer; a node that cannot keep
// up drops it (raft sends again).
func (n *Node) Deliver(m *pb.Message) {
	select {
	case n.inbound <- m:
	default:
	}
}

// ReportUnreachable tells raft a peer could not be reached.
func (n *Node) ReportUnreachable(id uint64) {
	select {
	case n.unreach <- id:
	default:
	}
}

// Propose hands data to raft; it returns once raft took it (not once it
// committed) or refused it, for example because this member is not the
// leader.
func (n *Node) Propose(ctx context.Context, data []byte) error {
	p := proposal{data: data, err: make(chan error, 1)}
	select {
	case n.proposals <- p:
	case <-n.done:
		return ErrStopped
	case <-ctx.Done():
		return ctx.Err()
	}
	select {
	case err := <-p.err:
		return err
	case <-n.done:
		return ErrStopped
	}
}

// Status returns a copy of raft's view of this member.
func (n *Node) Status() (raft.BasicStatus, error) {
	c := make(chan raft.BasicStatus, 1)
	select {
	case n.status <- c:
		return <-c, nil
	case <-n.done:
		return raft.BasicStatus{}, ErrStopped
	}
}

// Stop stops the node's goroutine and waits for it. It returns the error
// that stopped the node on its own, if one did.
func (n *Node) Stop() error {
	n.once.Do(func() { close(n.stop) })
	<-n.done
	return n.err
}

func (n *Node) run() {
	defer close(n.done)
	ticker := time.NewTicker(n.cfg.Tick)
	defer ticker.Stop()
	for {
		select {
		case <-n.stop:
			return
		case <-ticker.C:
			n.core.Tick()
		case m := <-n.inbound:
			if err := n.core.Step(m); err != nil {
				n.cfg.Logger.Debug("replication: step", "from", m.GetFrom(), "type", m.GetType(), "err", err)
			}
		case p := <-n.proposals:
			p.err <- n.core.Propose(p.data)
		case id := <-n.unreach:
			n.core.rn.ReportUnreachable(id)
		case c := <-n.status:
			c <- n.core.Status()
		}
		for {
			did, err := n.core.process()
			if err != nil {
				n.err = fmt.Errorf("replication: member %d: %w", n.cfg.ID, err)
				n.cfg.Logger.Error("replication: the raft log failed; stopping", "err", err)
				return
			}
			if !did {
				break
			}
		}
	}
}
