package replication

import (
	"encoding/binary"

	pb "go.etcd.io/raft/v3/raftpb"

	"github.com/meerkat-zk/meerkat/pipeline"
)

// Applier is the state machine raft feeds: a member's pipeline. Its
// methods must not block.
type Applier interface {
	// Committed takes committed entries, in log order.
	Committed([]pipeline.LogEntry)
	// LeaderChanged takes the member's view of the leader and term.
	LeaderChanged(leader, term uint64)
	// ReadIndexDone answers a ReadIndex.
	ReadIndexDone(ctx, index uint64)
	// Received takes a message another member's applier sent.
	Received(from uint64, msg []byte)
	// PeerLost says messages to member id may have been lost.
	PeerLost(id uint64)
}

// connect makes a core report to a: its committed entries, leadership
// changes and read indexes.
func connect(cfg *coreConfig, a Applier) {
	cfg.Apply = func(ents []*pb.Entry) { a.Committed(logEntries(ents)) }
	cfg.OnLeader = a.LeaderChanged
	cfg.OnReadIndex = func(ctx []byte, index uint64) {
		if len(ctx) == 8 {
			a.ReadIndexDone(binary.BigEndian.Uint64(ctx), index)
		}
	}
}

// readCtx is the raft ReadIndex context of a pipeline's read ctx.
func readCtx(ctx uint64) []byte { return binary.BigEndian.AppendUint64(nil, ctx) }

// logEntries converts committed raft entries for the pipeline.
func logEntries(ents []*pb.Entry) []pipeline.LogEntry {
	out := make([]pipeline.LogEntry, len(ents))
	for i, e := range ents {
		out[i] = pipeline.LogEntry{Index: e.GetIndex(), Term: e.GetTerm(), Data: e.GetData(), Config: e.GetType() != pb.EntryNormal}
	}
	return out
}
