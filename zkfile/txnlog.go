package zkfile

import (
	"encoding/binary"
	"fmt"
	"hash/adler32"
	"os"
)

// LogEnd tells how a log file's transactions ended.
type LogEnd struct {
	// Txns counts the transactions read.
	Txns int
	// Torn says the file ends inside a transaction (a crash while ZooKeeper
	// wrote it: the transaction was never acknowledged); Reason says where.
	Torn   bool
	Reason string
}

// endOfRecord follows every log entry; a missing one marks a partial write.
const endOfRecord = 'B'

// ReadLog calls fn on every transaction of the ZooKeeper log file at path,
// in order. The log ends, as ZooKeeper reads it, at the first empty entry
// (the zero padding it preallocates) or at a partial one (reported as
// Torn); a whole entry whose checksum is wrong is ErrCorrupt, which
// ZooKeeper refuses to start on too.
func ReadLog(path string, fn func(Txn) error) (LogEnd, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return LogEnd{}, fmt.Errorf("zkfile: %w", err)
	}
	return readLog(b, path, fn)
}

// readLog reads the log file content b (named path in errors).
func readLog(b []byte, path string, fn func(Txn) error) (LogEnd, error) {
	var end LogEnd
	if len(b) < 16 || int32(binary.BigEndian.Uint32(b)) != logMagic || int32(binary.BigEndian.Uint32(b[4:])) != fileFormat {
		return end, fmt.Errorf("%w: %s is not a ZooKeeper transaction log", ErrCorrupt, path)
	}
	off := 16
	for {
		rest := b[off:]
		if len(rest) < 12 || binary.BigEndian.Uint32(rest[8:]) == 0 {
			if !allZero(rest) {
				end.Torn, end.Reason = true, fmt.Sprintf("partial entry at offset %d", off)
			}
			return end, nil
		}
		sum, n := binary.BigEndian.Uint64(rest), int(int32(binary.BigEndian.Uint32(rest[8:])))
		if n < 0 || n > len(rest)-13 || rest[12+n] != endOfRecord {
			end.Torn, end.Reason = true, fmt.Sprintf("partial entry at offset %d", off)
			return end, nil
		}
		entry := rest[12 : 12+n]
		if uint64(adler32.Checksum(entry)) != sum {
			return end, fmt.Errorf("%w: %s: checksum mismatch in the entry at offset %d", ErrCorrupt, path, off)
		}
		txn, err := DecodeTxn(entry)
		if err != nil {
			return end, fmt.Errorf("%w: %s: entry at offset %d: %v", ErrCorrupt, path, off, err)
		}
		if err := fn(txn); err != nil {
			return end, err
		}
		end.Txns++
		off += 12 + n + 1
	}
}

func allZero(b []byte) bool {
	for _, c := range b {
		if c != 0 {
			return false
		}
	}
	return true
}
