// Package replication runs Meerkat's consensus: a go.etcd.io/raft/v3
// RawNode, its log on the write-ahead log (package wal), the Ready
// contract between them, and the TCP transport between members. A Node is
// its member's pipeline.Replicator: the pipeline proposes and forwards
// through it, and it feeds the pipeline (an Applier) what raft commits,
// who leads, the read indexes and the other members' messages. What the
// members say to each other beside raft (forwarded writes, session
// liveness, revalidations) is the pipeline's business; the transport
// carries it as opaque application messages.
//
// # The transport
//
// Transport carries raft messages and application messages on the peer
// port: one outbound connection per member, fed by a bounded queue that
// never blocks the node (a full queue drops the batch and reports the
// member unreachable, as etcd's rafthttp does), reconnecting with back-off
// from 50 ms to 1 s; a listener hands every inbound message to the node. A
// connection starts with an 8-byte hello naming the sender, then carries
// frames:
//
//	+-----------+----------+------------------------------------------+
//	| len: 4    | kind: 1  | 'r': raftpb.Message (proto)              |
//	|           |          | 'a': an application message              |
//	+-----------+----------+------------------------------------------+
//
// A connection from an unknown member, a frame over 8 MiB, one of an
// unknown kind or a raft message not from the member that said hello is
// closed. When an inbound connection ends, the node hears of it: if it
// came from the leader, the leader probably died.
//
// # Losing the leader
//
// Raft notices a dead leader only after an election timeout (1-2 s at the
// default 100 ms tick). A follower whose connection from the leader
// breaks (a killed process resets it at once) leaves the leader's lease
// right away, so it grants pre-votes, and the lowest-numbered other voter
// campaigns 20 ms later. Pre-vote makes a wrong guess harmless: while the
// leader lives, the other followers are in its lease and refuse. A
// learner never campaigns and raft never makes it look for another
// leader, so the core reports no leader to a learner that has not heard
// from its leader for twice the election timeout.
//
// # The node core
//
// core owns one RawNode and is driven by its owner's goroutine, one call at
// a time: Tick, Step (a message from a peer), Propose, and process, which
// handles one Ready. Raft runs with asynchronous storage writes, so that a
// Ready never waits for the disk: while one fsync runs, the member goes on
// learning of commits, applying and answering them, and gathering the
// next batch. A Ready is handled so:
//
//  1. its messages to other members go out at once: appends, heartbeats,
//     votes asked for (followers write in parallel with the leader, raft
//     thesis §10.2.1); raft holds back the answers that vouch for this
//     member's disk (append acknowledgements, votes given) as responses of
//     the append they depend on;
//  2. its committed entries, which raft hands over only once they are on
//     this member's disk, go to the applier; configuration changes are
//     applied to raft itself as they come;
//  3. what it asks to persist (a MsgStorageAppend: entries, HardState, a
//     snapshot) is queued for the appender.
//
// The appender (the Node's storage goroutine) takes everything queued, in
// order, writes each as one wal record and then makes them all durable
// with one fdatasync (group commit across Readys; a run that only moves
// the commit index is not synced). Then the responses go out: those to
// other members are sent, those to this member (its log is stable; a
// leader's own vote) are stepped on the node's goroutine.
//
// Because nothing in the core reads a clock or starts a goroutine, tests
// drive several cores over an in-process network with logical ticks; the
// only thing that varies between runs is raft's own randomized election
// timeout.
//
// # The log on the wal
//
// Each Ready that has something to persist becomes one wal record, indexed
// by the raft index of its first entry (or, without entries, the last
// index). Its payload:
//
//	+---------+-------------+-----------+-------------+-----------+----------+-----------------+
//	| kind: 1 | hsLen: 4    | HardState | snapLen: 4  | Snapshot  | count: 4 | (len: 4, Entry) |
//	| 'R'     |             | (proto)   |             | metadata  |          | ...             |
//	+---------+-------------+-----------+-------------+-----------+----------+-----------------+
//
// A length of 0 means absent. Entries at an index the log already holds
// replace that entry and everything after it, as raft requires when a new
// leader overwrites an uncommitted tail; so on replay the last record to
// write an index wins. Opening replays every record into a
// raft.MemoryStorage, which serves raft's reads from memory.
package replication
