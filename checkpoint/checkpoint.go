// Package checkpoint keeps the durable image of Meerkat's state machine in
// pebble: every znode, session and ACL list, and the zxid the image is
// complete through. It is written incrementally from engine Deltas, off the
// request path, with pebble's own WAL off: Meerkat's wal is the source of
// truth, and a checkpoint only has to be durable after Flush, when the wal
// before its zxid can be removed.
//
// # Keys
//
//	"m" "zxid"                 -> int64, the last zxid the image covers
//	"m" "applied"              -> uint64, the log index it covers (ensembles)
//	"m" "term"                 -> uint64, the raft term it was applied through
//	"a" index(4, big-endian)   -> ACL list (jute vector of ACL)
//	"s" session id(8, BE)      -> timeout (jute int)
//	"n" parent "\x00" name     -> node (engine.AppendNode)
//
// The node key sorts like the tree orders znodes (parent, then name; NUL
// sorts before every path byte), so loading reads znodes in tree order.
//
// An ACL list's index is the reference its znodes hold. The engine frees a
// list when no znode refers to it any more, and the next write deletes its
// key, so the indexes have gaps (a gap is a free slot). Stores written
// before lists were freed hold every list ever used, without gaps; they
// load the same way, and the first write after the load deletes the lists
// no znode uses. A build from before lists were freed refuses a store with
// gaps ("ACL reference out of order").
package checkpoint

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"strings"
	"sync"
	"syscall"
	"time"
	"unsafe"

	"github.com/cockroachdb/pebble/v2"
	"github.com/cockroachdb/pebble/v2/vfs"

	"github.com/meerkat-zk/meerkat/engine"
	"github.com/meerkat-zk/meerkat/jute"
)

var (
	keyZxid    = []byte("mzxid")
	keyApplied = []byte("mapplied")
	keyTerm    = []byte("mterm")
)

// Store is a checkpoint in pebble. Write and Flush are called from one
// goroutine (the checkpointer); Load before it starts.
type Store struct {
	db *pebble.DB
	// key and buf are reused for every record Write sets: pebble's Batch
	// copies keys and values.
	key, buf []byte
}

// Open opens or creates the checkpoint in dir. onFatal is called when
// pebble fails in the background in a way that will not heal (anything but
// a full disk); nil logs and exits the process, as a failed fsync does.
// Nothing is lost then: the wal holds everything the checkpoint lacks.
func Open(dir string, logger *slog.Logger, onFatal func(error)) (*Store, error) {
	if logger == nil {
		logger = slog.Default()
	}
	if onFatal == nil {
		onFatal = func(err error) {
			logger.Error("checkpoint: pebble failed in the background; stopping (the wal keeps the data)", "err", err)
			os.Exit(2)
		}
	}
	pl := &pebbleLogger{l: logger}
	opts := &pebble.Options{
		DisableWAL: true,
		Logger:     pl,
		// Pebble retries a failed flush at once, forever. On a full disk the
		// wrapper holds its writes for a while first, so the retries come at
		// a walk until space returns, and the checkpoint then catches up.
		FS: vfs.OnDiskFull(vfs.Default, func() {
			pl.Errorf("checkpoint: disk full; retrying in %v", diskFullPause)
			time.Sleep(diskFullPause)
		}),
		EventListener: &pebble.EventListener{BackgroundError: backgroundError(onFatal)},
	}
	db, err := pebble.Open(dir, opts)
	if err != nil {
		return nil, fmt.Errorf("checkpoint: open %s: %w", dir, err)
	}
	return &Store{db: db}, nil
}

// backgroundError handles pebble's background failures: a full disk heals
// when space returns (pebble retries), anything else is fatal.
func backgroundError(onFatal func(error)) func(error) {
	return func(err error) {
		if !errors.Is(err, syscall.ENOSPC) {
			onFatal(err)
		}
	}
}

// diskFullPause is how long checkpoint writes wait after a full disk.
const diskFullPause = time.Second

// Close closes the store without flushing.
func (s *Store) Close() error { return s.db.Close() }

// nodeKey returns the key of the znode at path.
func nodeKey(b []byte, path string) []byte {
	b = append(b, 'n')
	if path == "/" {
		return append(b, 0)
	}
	i := strings.LastIndexByte(path, '/')
	b = append(b, path[:i]...)
	b = append(b, 0)
	return append(b, path[i+1:]...)
}

// appendPathOfKey appends the path of node key k to b.
func appendPathOfKey(b, k []byte) ([]byte, error) {
	k = k[1:]
	i := bytes.IndexByte(k, 0)
	if i < 0 || bytes.IndexByte(k[i+1:], '/') >= 0 {
		// No separator, or a name holding a '/': nodeKey splits a path
		// at its last '/', so no znode's key looks like that.
		return b, fmt.Errorf("checkpoint: malformed node key %q", k)
	}
	if i == 0 && len(k) == 1 {
		return append(b, '/'), nil
	}
	b = append(b, k[:i]...)
	b = append(b, '/')
	return append(b, k[i+1:]...), nil
}

// aclKey appends the key of ACL list i to b.
func aclKey(b []byte, i uint32) []byte {
	return binary.BigEndian.AppendUint32(append(b, 'a'), i)
}

// sessionKey appends the key of session id to b.
func sessionKey(b []byte, id int64) []byte {
	return binary.BigEndian.AppendUint64(append(b, 's'), uint64(id))
}

// storedWord returns the 8-byte record at key; found is false when the
// store has none.
func (s *Store) storedWord(key []byte) (word uint64, found bool, err error) {
	v, closer, err := s.db.Get(key)
	if errors.Is(err, pebble.ErrNotFound) {
		return 0, false, nil
	}
	if err != nil {
		return 0, false, fmt.Errorf("checkpoint: %w", err)
	}
	defer closer.Close()
	if len(v) != 8 {
		return 0, false, fmt.Errorf("checkpoint: malformed %s record", key[1:])
	}
	return binary.BigEndian.Uint64(v), true, nil
}

// Write applies a Delta in one pebble batch, with the zxid it leads to. It
// is not durable until Flush.
func (s *Store) Write(d engine.Delta) error {
	b := s.db.NewBatch()
	defer b.Close()
	if d.Reset {
		// Everything goes but the metadata, in the same batch as the image
		// that replaces it.
		for _, prefix := range []byte{'a', 'n', 's'} {
			if err := b.DeleteRange([]byte{prefix}, []byte{prefix + 1}, nil); err != nil {
				return fmt.Errorf("checkpoint: %w", err)
			}
		}
	}
	for _, p := range d.Paths {
		s.key = nodeKey(s.key[:0], p)
		if n, ok := d.View.Tree.Get(p); ok {
			s.buf = engine.AppendNode(s.buf[:0], n)
			if err := b.Set(s.key, s.buf, nil); err != nil {
				return fmt.Errorf("checkpoint: %w", err)
			}
		} else if err := b.Delete(s.key, nil); err != nil {
			return fmt.Errorf("checkpoint: %w", err)
		}
	}
	for _, e := range d.ACLs {
		s.key = aclKey(s.key[:0], e.Ref)
		var err error
		if e.List != nil {
			s.buf = jute.AppendACLs(s.buf[:0], e.List)
			err = b.Set(s.key, s.buf, nil)
		} else {
			// Freed: no znode refers to it any more.
			err = b.Delete(s.key, nil)
		}
		if err != nil {
			return fmt.Errorf("checkpoint: %w", err)
		}
	}
	for _, ss := range d.Sessions {
		s.key = sessionKey(s.key[:0], ss.ID)
		var err error
		if ss.Timeout > 0 {
			s.buf = jute.AppendInt(s.buf[:0], ss.Timeout)
			err = b.Set(s.key, s.buf, nil)
		} else {
			err = b.Delete(s.key, nil)
		}
		if err != nil {
			return fmt.Errorf("checkpoint: %w", err)
		}
	}
	s.buf = binary.BigEndian.AppendUint64(s.buf[:0], uint64(d.View.Zxid))
	if err := b.Set(keyZxid, s.buf, nil); err != nil {
		return fmt.Errorf("checkpoint: %w", err)
	}
	for _, kv := range []struct {
		key []byte
		v   uint64
	}{{keyApplied, d.View.Applied}, {keyTerm, d.View.Term}} {
		s.buf = binary.BigEndian.AppendUint64(s.buf[:0], kv.v)
		if err := b.Set(kv.key, s.buf, nil); err != nil {
			return fmt.Errorf("checkpoint: %w", err)
		}
	}
	if err := b.Commit(pebble.NoSync); err != nil {
		return fmt.Errorf("checkpoint: %w", err)
	}
	if cap(s.buf) > 1<<20 {
		s.buf = nil
	}
	return nil
}

// Flush makes everything written so far durable.
func (s *Store) Flush() error {
	if err := s.db.Flush(); err != nil {
		return fmt.Errorf("checkpoint: flush: %w", err)
	}
	return nil
}

// Load rebuilds the state from the store. It returns nil when the store is
// empty (a new server).
func (s *Store) Load() (*engine.State, error) {
	zxid, found, err := s.storedWord(keyZxid)
	if err != nil || !found {
		return nil, err
	}
	applied, _, err := s.storedWord(keyApplied)
	if err != nil {
		return nil, err
	}
	term, _, err := s.storedWord(keyTerm)
	if err != nil {
		return nil, err
	}
	l := engine.NewLoader()
	var scratch []byte
	it, err := s.db.NewIter(nil)
	if err != nil {
		return nil, fmt.Errorf("checkpoint: %w", err)
	}
	defer it.Close()
	for ok := it.First(); ok; ok = it.Next() {
		if scratch, err = loadRecord(l, it.Key(), it.Value(), scratch); err != nil {
			return nil, err
		}
	}
	if err := it.Error(); err != nil {
		return nil, fmt.Errorf("checkpoint: %w", err)
	}
	st, err := l.Finish(int64(zxid))
	if err != nil {
		return nil, err
	}
	st.SetApplied(applied)
	st.SetTerm(term)
	return st, nil
}

// loadRecord adds the ACL, session or node record of key k and value v to
// l; it skips the metadata, which Load reads on its own. scratch is a
// buffer for a node's path, returned for the next call.
func loadRecord(l *engine.Loader, k, v, scratch []byte) ([]byte, error) {
	if len(k) == 0 {
		return scratch, errors.New("checkpoint: a record with an empty key")
	}
	switch k[0] {
	case 'a':
		d := jute.NewDecoder(v)
		acls := d.ACLs()
		if d.Err() != nil || len(k) != 5 {
			return scratch, fmt.Errorf("checkpoint: malformed ACL %x", k)
		}
		if err := l.AddACL(binary.BigEndian.Uint32(k[1:]), acls); err != nil {
			return scratch, err
		}
	case 's':
		d := jute.NewDecoder(v)
		to := d.Int()
		if d.Err() != nil || len(k) != 9 {
			return scratch, fmt.Errorf("checkpoint: malformed session %x", k)
		}
		l.AddSession(int64(binary.BigEndian.Uint64(k[1:])), to)
	case 'n':
		// The path lives in a scratch buffer: AddNode copies it.
		var err error
		if scratch, err = appendPathOfKey(scratch[:0], k); err != nil {
			return scratch, err
		}
		if err := l.AddNode(unsafe.String(unsafe.SliceData(scratch), len(scratch)), v); err != nil {
			return scratch, err
		}
	}
	return scratch, nil
}

// Metrics returns pebble's view of the store (for operators).
func (s *Store) Metrics() *pebble.Metrics { return s.db.Metrics() }

// pebbleLogger routes pebble's logs to slog: information at debug level,
// errors at error level but at most one a second (a failing background job
// repeats its error without end).
type pebbleLogger struct {
	l          *slog.Logger
	mu         sync.Mutex
	last       time.Time
	suppressed int
}

func (p *pebbleLogger) Infof(format string, args ...any) {
	p.l.Debug("pebble: " + fmt.Sprintf(format, args...))
}

func (p *pebbleLogger) Errorf(format string, args ...any) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if time.Since(p.last) < time.Second {
		p.suppressed++
		return
	}
	p.l.Error("pebble: "+fmt.Sprintf(format, args...), "suppressed_since_last", p.suppressed)
	p.last, p.suppressed = time.Now(), 0
}

func (p *pebbleLogger) Fatalf(format string, args ...any) {
	p.l.Error("pebble: " + fmt.Sprintf(format, args...))
	panic(fmt.Sprintf(format, args...))
}
