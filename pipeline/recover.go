package pipeline

import (
	"fmt"

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
		if first, count, ok := engine.BatchSpan(payload); ok && first+int64(count)-1 <= state.Zxid() {
			return nil
		}
		first, entries, err := engine.DecodeBatch(payload)
		if err != nil {
			return fmt.Errorf("pipeline: log record at zxid %d: %w", index, err)
		}
		if uint64(first) != index {
			return fmt.Errorf("pipeline: log record indexed %d holds zxid %d", index, first)
		}
		for i := range entries {
			zxid := first + int64(i)
			if zxid <= state.Zxid() {
				continue
			}
			if zxid != state.Zxid()+1 {
				return fmt.Errorf("pipeline: the log jumps from zxid %#x to %#x: records are missing", state.Zxid(), zxid)
			}
			state.Apply(&entries[i])
			applied++
		}
		return nil
	})
	return applied, err
}
