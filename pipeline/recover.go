package pipeline

import (
	"fmt"
	"time"

	"github.com/meerkat-zk/meerkat/engine"
)

// Replayer is the log as recovery reads it (wal.WAL).
type Replayer interface {
	Replay(fn func(index uint64, payload []byte) error) error
}

// Recover brings state up to date with the log: it applies, in order, every
// logged entry after the state's zxid (what the checkpoint covers), and
// fails if the log has a gap after that point. It returns how many entries
// it applied.
func Recover(state *engine.State, log Replayer) (int, error) {
	applied := 0
	err := log.Replay(func(index uint64, payload []byte) error {
		// A batch the checkpoint already covers is skipped on its header.
		if first, count, ok := engine.BatchSpan(payload); ok && count > 0 && lastZxid(first, count) <= state.Zxid() {
			return nil
		}
		first, entries, err := engine.DecodeBatch(payload)
		if err != nil {
			return fmt.Errorf("pipeline: log record at zxid %d: %w", index, err)
		}
		if uint64(first) != index {
			return fmt.Errorf("pipeline: log record indexed %d holds zxid %d", index, first)
		}
		zxid := first
		for i := range entries {
			if zxid > state.Zxid() {
				if zxid != engine.NextZxid(state.Zxid()) {
					return fmt.Errorf("pipeline: the log jumps from zxid %#x to %#x: records are missing", state.Zxid(), zxid)
				}
				state.Apply(&entries[i])
				applied++
			}
			zxid = engine.NextZxid(zxid)
		}
		return nil
	})
	return applied, err
}

// lastZxid is the zxid of the last of count entries from first.
func lastZxid(first int64, count int32) int64 {
	if uint64(uint32(first))+uint64(count) < 1<<32-1 {
		return first + int64(count) - 1
	}
	z := first
	for range count - 1 {
		z = engine.NextZxid(z)
	}
	return z
}

// RecoverMember brings the state of ensemble member id up to date with
// committed raft entries, applying them as the member's pipeline does
// (leadership terms, the leader's policy, reconfigs) with no ensemble
// around it: what a member's checkpoint lacks after it was killed.
func RecoverMember(state *engine.State, id uint64, entries []LogEntry) error {
	var fatal error
	p, err := New(Config{ServerID: int64(id), Tick: time.Second, Replicator: offline{},
		OnFatal: func(err error) { fatal = err }}, state)
	if err != nil {
		return err
	}
	p.Committed(entries)
	p.Step(time.Now())
	return fatal
}

// offline is the Replicator of a member's pipeline that only applies: it
// never leads, so it is never asked to propose or send.
type offline struct{}

func (offline) Propose([]byte)      {}
func (offline) ReadIndex(uint64)    {}
func (offline) Send(uint64, []byte) {}
func (offline) Synced(uint64) bool  { return false }
