package replication

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"sync"

	"go.etcd.io/raft/v3"
	pb "go.etcd.io/raft/v3/raftpb"
	"google.golang.org/protobuf/proto"

	"github.com/meerkat-zk/meerkat/engine"
	"github.com/meerkat-zk/meerkat/pipeline"
	"github.com/meerkat-zk/meerkat/wal"
	"github.com/meerkat-zk/meerkat/zkmetrics"
)

// The kind byte of a record: what one Ready asked to persist, or a
// compaction (the log dropped through a snapshot's index).
const (
	readyRecord   = 'R'
	compactRecord = 'C'
)

// Storage is raft's log kept in a wal: raft reads it from memory (the
// embedded raft.MemoryStorage, safe from any goroutine), and what raft
// asks to persist is written to the wal before it reaches memory. Writes
// (Persist, Save, Compact) may come from two goroutines, the node's and
// its appender; they take turns.
type Storage struct {
	*raft.MemoryStorage
	mu  sync.Mutex
	log *wal.WAL
	buf []byte
}

// OpenStorage opens the raft log in dir, replaying every record into
// memory. An empty log is bootstrapped with the membership boot, persisted
// as a snapshot that holds only it (index 0), as raft v3.7 allows.
func OpenStorage(dir string, opts wal.Options, boot *pb.ConfState) (*Storage, error) {
	log, err := wal.Open(dir, opts)
	if err != nil {
		return nil, err
	}
	s := &Storage{MemoryStorage: raft.NewMemoryStorage(), log: log}
	records, err := s.load(log.Replay)
	if err != nil {
		log.Close()
		return nil, err
	}
	if records == 0 {
		if err := s.Save(nil, nil, &pb.Snapshot{Metadata: &pb.SnapshotMetadata{ConfState: boot}}); err != nil {
			log.Close()
			return nil, err
		}
	}
	return s, nil
}

// load replays the records scan reads into memory and returns how many
// there were. Compaction removes only the segments all of whose records it
// covers, so the first segment kept may begin with entries the compaction
// record further on covers: raft's log starts at the last compaction, and
// entries replayed before it then only fill in what follows it.
func (s *Storage) load(scan func(func(index uint64, payload []byte) error) error) (int, error) {
	var last []byte
	err := scan(func(index uint64, payload []byte) error {
		if len(payload) > 0 && payload[0] == compactRecord {
			last = append(last[:0], payload...)
		}
		return nil
	})
	if err != nil {
		return 0, err
	}
	if last != nil {
		_, _, snap, err := decodeReady(last)
		if err == nil && snap == nil {
			err = errors.New("no snapshot in it")
		}
		if err != nil {
			return 0, fmt.Errorf("replication: raft log compaction record: %w", err)
		}
		if err := s.ApplySnapshot(snap); err != nil {
			return 0, err
		}
	}
	records := 0
	err = scan(func(index uint64, payload []byte) error {
		records++
		hs, ents, snap, err := decodeReady(payload)
		if err != nil {
			return fmt.Errorf("replication: raft log record at index %d: %w", index, err)
		}
		if payload[0] == compactRecord {
			return s.rememberCompaction(hs, snap)
		}
		return s.remember(hs, ents, snap)
	})
	return records, err
}

// ImportedIndex is the raft index and term at which InitStorage starts a
// log: the image every member imported, as if committed at index 1.
const ImportedIndex = 1

// InitStorage starts the raft log in dir (empty) at an image that every
// member of the ensemble holds already, built by the same import on each:
// a snapshot at ImportedIndex (term 1) of membership boot, committed.
// Members that all start so agree on the log before the first election,
// and the leader appends after the image.
func InitStorage(dir string, opts wal.Options, boot *pb.ConfState) error {
	s, err := OpenStorage(dir, opts, boot)
	if err != nil {
		return err
	}
	idx := uint64(ImportedIndex)
	err = s.Save(&pb.HardState{Term: new(idx), Commit: new(idx)}, nil,
		&pb.Snapshot{Metadata: &pb.SnapshotMetadata{Index: new(idx), Term: new(idx), ConfState: boot}})
	return errors.Join(err, s.Close())
}

// ReadCommitted returns the entries the raft log in dir commits after
// index after: those a member applied, or would have, beyond a checkpoint
// at after. The log is read with wal.ScanIntact, which writes nothing, so
// the log of a stopped or killed member stays as it is. Its commit is the
// highest one the log records; a killed member may have applied a little
// more, which its log holds but does not yet mark committed.
func ReadCommitted(dir string, after uint64) ([]pipeline.LogEntry, error) {
	s := &Storage{MemoryStorage: raft.NewMemoryStorage()}
	if _, err := s.load(func(fn func(uint64, []byte) error) error {
		return wal.ScanIntact(dir, func(r wal.Record) error { return fn(r.Index, r.Payload) })
	}); err != nil {
		return nil, err
	}
	hs, _, err := s.InitialState()
	if err != nil {
		return nil, err
	}
	snap, err := s.Snapshot()
	if err != nil {
		return nil, err
	}
	commit := max(hs.GetCommit(), snap.GetMetadata().GetIndex())
	if commit <= after {
		return nil, nil
	}
	if first, _ := s.FirstIndex(); after+1 < first {
		return nil, fmt.Errorf("replication: the raft log starts at index %d, after the checkpoint's %d: it was compacted past it", first, after)
	}
	ents, err := s.Entries(after+1, commit+1, math.MaxUint64)
	if err != nil {
		return nil, fmt.Errorf("replication: the raft log's entries %d to %d: %w", after+1, commit, err)
	}
	return logEntries(ents), nil
}

// Save makes a HardState, entries and a snapshot durable, as one record,
// then serves them from memory. Any of hs, ents and snap may be empty.
func (s *Storage) Save(hs *pb.HardState, ents []*pb.Entry, snap *pb.Snapshot) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.write(hs, ents, snap); err != nil {
		return err
	}
	return s.log.Sync()
}

// Persist does what a run of raft's MsgStorageAppend messages ask, in
// order: each becomes one record, written without waiting for the disk,
// and then, if any of them holds what raft must find again after a crash
// (entries, a snapshot, a new term or vote), one fdatasync covers them all
// (group commit across Readys). A record that only moves the commit index
// is not synced, even when it carries responses: a crash may lose it (raft
// learns the index again from the leader), and what its responses vouch
// for, the log up to its last index, was synced by the runs before it, as
// the appender persists runs one after the other. A follower's every
// commit-only append carries such a response (its acknowledgement to the
// leader), so syncing for responses alone would double its fsyncs. The
// client writes an fdatasync covers go to sync_processor_batch_size.
func (s *Storage) Persist(msgs []*pb.Message) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	sync, writes := false, int64(0)
	for _, m := range msgs {
		writes += writesIn(m.GetEntries())
		var hs *pb.HardState
		if m.Term != nil {
			hs = &pb.HardState{Term: m.Term, Vote: m.Vote, Commit: m.Commit}
		}
		sync = sync || len(m.GetEntries()) > 0 || m.GetSnapshot() != nil || s.changesVote(hs)
		if err := s.write(hs, m.GetEntries(), m.GetSnapshot()); err != nil {
			return err
		}
	}
	if !sync {
		return nil
	}
	if err := s.log.Sync(); err != nil {
		return err
	}
	if writes > 0 {
		zkmetrics.SyncProcessorBatchSize.Add(writes)
	}
	return nil
}

// writesIn counts the client writes (ZooKeeper's txns) in ents, which
// sync_processor_batch_size reports per fsync as ZooKeeper's sync
// processor does on every member.
func writesIn(ents []*pb.Entry) int64 {
	var n int64
	for _, e := range ents {
		if e.GetType() != pb.EntryNormal {
			continue
		}
		if _, count, ok := engine.BatchSpan(e.GetData()); ok {
			n += int64(count)
		}
	}
	return n
}

// changesVote reports whether hs changes the term or vote this storage holds.
func (s *Storage) changesVote(hs *pb.HardState) bool {
	if hs == nil {
		return false
	}
	cur, _, err := s.InitialState()
	return err != nil || hs.GetTerm() != cur.GetTerm() || hs.GetVote() != cur.GetVote()
}

// write appends one record to the wal, unsynced, and applies it to
// memory; a record with nothing in it is not written.
func (s *Storage) write(hs *pb.HardState, ents []*pb.Entry, snap *pb.Snapshot) error {
	if raft.IsEmptyHardState(hs) && len(ents) == 0 && raft.IsEmptySnap(snap) && !bootstrapSnap(snap) {
		return nil
	}
	index, err := s.LastIndex()
	if err != nil {
		return err
	}
	if len(ents) > 0 {
		index = ents[0].GetIndex()
	}
	if s.buf, err = appendRecord(s.buf[:0], readyRecord, hs, ents, snap); err != nil {
		return err
	}
	if err := s.log.AppendUnsynced(index, s.buf); err != nil {
		return err
	}
	return s.remember(hs, ents, snap)
}

// remember applies a saved record to memory: the snapshot, the HardState,
// then the entries (which replace any from their first index on).
func (s *Storage) remember(hs *pb.HardState, ents []*pb.Entry, snap *pb.Snapshot) error {
	if snap != nil && (!raft.IsEmptySnap(snap) || bootstrapSnap(snap)) {
		if err := s.ApplySnapshot(snap); err != nil && !errors.Is(err, raft.ErrSnapOutOfDate) {
			return err
		}
	}
	if !raft.IsEmptyHardState(hs) {
		if err := s.SetHardState(hs); err != nil {
			return err
		}
	}
	if len(ents) > 0 {
		return s.Append(ents)
	}
	return nil
}

// Compact drops the log through index, which the state machine's
// checkpoint covers durably; cs is the membership at index. A member that
// needs what was dropped gets a snapshot instead. The compaction is one
// record (the snapshot's metadata and the HardState, which the removed
// records carried), then the segments before it go.
func (s *Storage) Compact(index uint64, cs *pb.ConfState) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	first, err := s.FirstIndex()
	if err != nil {
		return err
	}
	if index < first {
		return nil
	}
	snap, err := s.CreateSnapshot(index, cs, nil)
	if err != nil {
		return fmt.Errorf("replication: compact through %d: %w", index, err)
	}
	hs, _, err := s.InitialState()
	if err != nil {
		return err
	}
	last, err := s.LastIndex()
	if err != nil {
		return err
	}
	if s.buf, err = appendRecord(s.buf[:0], compactRecord, hs, nil, snap); err != nil {
		return err
	}
	if err := s.log.Append(last, s.buf); err != nil {
		return err
	}
	if err := s.MemoryStorage.Compact(index); err != nil {
		return fmt.Errorf("replication: compact through %d: %w", index, err)
	}
	return s.log.RemoveThrough(index)
}

// rememberCompaction replays a compaction record: the entries after its
// index stay (unlike a snapshot received from the leader, which replaces
// the log).
func (s *Storage) rememberCompaction(hs *pb.HardState, snap *pb.Snapshot) error {
	meta := snap.GetMetadata()
	last, err := s.LastIndex()
	if err != nil {
		return err
	}
	if first, _ := s.FirstIndex(); meta.GetIndex() < first || meta.GetIndex() > last {
		// The entries it covers are gone already, or were never here: the
		// snapshot stands for them.
		if err := s.ApplySnapshot(snap); err != nil && !errors.Is(err, raft.ErrSnapOutOfDate) {
			return err
		}
	} else {
		if _, err := s.CreateSnapshot(meta.GetIndex(), meta.GetConfState(), nil); err != nil && !errors.Is(err, raft.ErrSnapOutOfDate) {
			return err
		}
		if err := s.MemoryStorage.Compact(meta.GetIndex()); err != nil && !errors.Is(err, raft.ErrCompacted) {
			return err
		}
	}
	if !raft.IsEmptyHardState(hs) {
		return s.SetHardState(hs)
	}
	return nil
}

// Close closes the wal.
func (s *Storage) Close() error { return s.log.Close() }

// bootstrapSnap reports whether snap is the membership-only snapshot an
// empty log starts with (raft.IsEmptySnap calls it empty).
func bootstrapSnap(snap *pb.Snapshot) bool {
	return snap != nil && snap.GetMetadata().GetConfState() != nil && snap.GetMetadata().GetIndex() == 0
}

// appendRecord encodes a record of kind (see the package doc).
func appendRecord(b []byte, kind byte, hs *pb.HardState, ents []*pb.Entry, snap *pb.Snapshot) ([]byte, error) {
	b = append(b, kind)
	var err error
	if b, err = appendMessage(b, hs, !raft.IsEmptyHardState(hs)); err != nil {
		return nil, err
	}
	var meta *pb.SnapshotMetadata
	if snap != nil {
		meta = snap.GetMetadata()
	}
	if b, err = appendMessage(b, meta, meta != nil); err != nil {
		return nil, err
	}
	b = binary.BigEndian.AppendUint32(b, uint32(len(ents)))
	for _, e := range ents {
		if b, err = appendMessage(b, e, true); err != nil {
			return nil, err
		}
	}
	return b, nil
}

// appendMessage appends m with its length, or a length of 0 when !present.
func appendMessage(b []byte, m proto.Message, present bool) ([]byte, error) {
	if !present {
		return binary.BigEndian.AppendUint32(b, 0), nil
	}
	start := len(b)
	b = binary.BigEndian.AppendUint32(b, 0)
	b, err := proto.MarshalOptions{}.MarshalAppend(b, m)
	if err != nil {
		return nil, fmt.Errorf("replication: encode %T: %w", m, err)
	}
	binary.BigEndian.PutUint32(b[start:], uint32(len(b)-start-4))
	return b, nil
}

// decodeReady reads a record written by appendRecord.
func decodeReady(b []byte) (hs *pb.HardState, ents []*pb.Entry, snap *pb.Snapshot, err error) {
	if len(b) == 0 || b[0] != readyRecord && b[0] != compactRecord {
		return nil, nil, nil, errors.New("not a raft log record")
	}
	r := reader{b: b[1:]}
	if m := r.message(); m != nil {
		hs = &pb.HardState{}
		r.unmarshal(m, hs)
	}
	if m := r.message(); m != nil {
		meta := &pb.SnapshotMetadata{}
		r.unmarshal(m, meta)
		snap = &pb.Snapshot{Metadata: meta}
	}
	n := r.uint32()
	for i := uint32(0); i < n && r.err == nil; i++ {
		e := &pb.Entry{}
		r.unmarshal(r.message(), e)
		ents = append(ents, e)
	}
	if r.err == nil && len(r.b) != 0 {
		r.err = fmt.Errorf("%d bytes after the entries", len(r.b))
	}
	return hs, ents, snap, r.err
}

// reader reads a record's fields, keeping the first error.
type reader struct {
	b   []byte
	err error
}

func (r *reader) uint32() uint32 {
	if r.err != nil {
		return 0
	}
	if len(r.b) < 4 {
		r.err = errors.New("record truncated")
		return 0
	}
	v := binary.BigEndian.Uint32(r.b)
	r.b = r.b[4:]
	return v
}

// message returns the next length-prefixed message's bytes, nil when its
// length is 0.
func (r *reader) message() []byte {
	n := int(r.uint32())
	if r.err != nil || n == 0 {
		return nil
	}
	if n > len(r.b) {
		r.err = fmt.Errorf("a message of %d bytes in %d", n, len(r.b))
		return nil
	}
	m := r.b[:n]
	r.b = r.b[n:]
	return m
}

func (r *reader) unmarshal(b []byte, m proto.Message) {
	if r.err == nil {
		if err := proto.Unmarshal(b, m); err != nil {
			r.err = err
		}
	}
}
