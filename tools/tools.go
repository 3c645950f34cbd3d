// Package tools holds Meerkat's operator tools: fetching a snapshot from a
// running server, restoring a data directory from one, and printing a
// write-ahead log or a snapshot in readable form. cmd/meerkat exposes them
// as subcommands.
package tools

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"time"

	"github.com/meerkat-zk/meerkat/checkpoint"
	"github.com/meerkat-zk/meerkat/engine"
	"github.com/meerkat-zk/meerkat/internal/atomicfile"
	"github.com/meerkat-zk/meerkat/jute"
	"github.com/meerkat-zk/meerkat/snapshot"
	"github.com/meerkat-zk/meerkat/wal"
)

// FetchSnapshot downloads a snapshot from the admin server at adminAddr
// into path, checks it whole, and only then moves it into place.
func FetchSnapshot(adminAddr, path string) (snapshot.Stats, error) {
	client := &http.Client{Timeout: 30 * time.Minute}
	resp, err := client.Get("http://" + adminAddr + "/commands/snapshot")
	if err != nil {
		return snapshot.Stats{}, fmt.Errorf("tools: %w", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return snapshot.Stats{}, fmt.Errorf("tools: %s answered %s", adminAddr, resp.Status)
	}
	var st snapshot.Stats
	err = atomicfile.Write(path, func(f *os.File) error {
		if _, err := io.Copy(f, resp.Body); err != nil {
			return fmt.Errorf("download: %w", err)
		}
		var err error
		st, err = verify(f.Name())
		return err
	})
	if err != nil {
		return st, fmt.Errorf("tools: %w", err)
	}
	return st, nil
}

// verify reads the snapshot at path whole and checks it loads.
func verify(path string) (snapshot.Stats, error) {
	_, st, err := loadSnapshot(path)
	return st, err
}

// loadSnapshot reads the snapshot at path into a new state.
func loadSnapshot(path string) (*engine.State, snapshot.Stats, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, snapshot.Stats{}, fmt.Errorf("tools: %w", err)
	}
	defer f.Close()
	l := engine.NewLoader()
	st, err := snapshot.Read(bufio.NewReader(f), l)
	if err != nil {
		return nil, st, err
	}
	state, err := l.Finish(st.Zxid)
	return state, st, err
}

// Restore builds a data directory from a snapshot: a checkpoint holding
// exactly the snapshot, and an empty log (a member's raft log starting at
// that image). The target's directories must be absent or empty, so a
// restore never mixes with live data. The snapshot may come from a
// standalone server or from a member of any ensemble.
func Restore(snapPath string, to Target) (snapshot.Stats, error) {
	if err := to.checkEmpty(); err != nil {
		return snapshot.Stats{}, err
	}
	state, st, err := loadSnapshot(snapPath)
	if err != nil {
		return st, err
	}
	return st, to.build(state)
}

// checkEmpty fails unless every one of dirs is missing or empty, so that a
// restore or an import never mixes with live data.
func checkEmpty(dirs ...string) error {
	for _, d := range dirs {
		if entries, err := os.ReadDir(d); err == nil && len(entries) > 0 {
			return fmt.Errorf("tools: %s is not empty; build into a new data directory", d)
		} else if err != nil && !errors.Is(err, os.ErrNotExist) {
			return fmt.Errorf("tools: %w", err)
		}
	}
	return nil
}

// writeDataDir makes state the whole of a new data directory: a checkpoint
// holding it under checkpointDir, then the log initLog starts.
func writeDataDir(state *engine.State, checkpointDir string, initLog func() error) error {
	store, err := checkpoint.Open(checkpointDir, nil, nil)
	if err != nil {
		return err
	}
	defer store.Close()
	if err := store.Write(state.FullDelta(state.Publish())); err != nil {
		return err
	}
	if err := store.Flush(); err != nil {
		return err
	}
	return initLog()
}

// DumpWAL prints every valid record of the log in dir, then where and why
// the log ends. It only reads (see wal.Scan), so it is safe on the log of a
// running server, and it shows a damaged log up to the damage: a torn tail
// is reported in the last line, corruption there too and as the error.
func DumpWAL(out io.Writer, dir string) error {
	bw := bufio.NewWriter(out)
	defer bw.Flush()
	var segment string
	batches := 0
	damage, err := wal.Scan(dir, func(r wal.Record) error {
		if r.Segment != segment {
			segment = r.Segment
			fmt.Fprintf(bw, "segment %s\n", filepath.Join(dir, segment))
		}
		first, entries, err := engine.DecodeBatch(r.Payload)
		if err != nil {
			return fmt.Errorf("tools: segment %s offset %d: %w", filepath.Join(dir, r.Segment), r.Offset, err)
		}
		batches++
		fmt.Fprintf(bw, "batch zxid 0x%x..0x%x (%d entries, %d bytes)\n", first, first+int64(len(entries))-1, len(entries), len(r.Payload))
		for i, e := range entries {
			fmt.Fprintf(bw, "  0x%x %s session 0x%x xid %d %s\n", first+int64(i),
				time.UnixMilli(e.Time).UTC().Format(time.RFC3339Nano), uint64(e.Session), e.Xid, describe(&e))
		}
		return nil
	})
	if err != nil {
		return err
	}
	switch {
	case damage == nil:
		fmt.Fprintf(bw, "end of log: %d batches, ends cleanly\n", batches)
	case damage.Corrupt:
		fmt.Fprintf(bw, "end of log: %d batches, then CORRUPTION in %s at offset %d: %s (the server refuses to start on this log)\n",
			batches, filepath.Join(dir, damage.Segment), damage.Offset, damage.Reason)
		return fmt.Errorf("tools: %w: %s", wal.ErrCorrupt, damage)
	default:
		fmt.Fprintf(bw, "end of log: %d batches, then what a crash (or an append in progress) left in %s at offset %d: %s (the server cuts it when it starts)\n",
			batches, filepath.Join(dir, damage.Segment), damage.Offset, damage.Reason)
	}
	return nil
}

// describe summarises an entry's request.
func describe(e *engine.Entry) string {
	d := jute.NewDecoder(e.Body)
	switch e.Op {
	case jute.OpCreateSession:
		return fmt.Sprintf("createSession timeout=%d", d.Int())
	case jute.OpCloseSession:
		return "closeSession"
	case jute.OpDeleteContainer:
		return "deleteContainer " + string(e.Body)
	case jute.OpMulti:
		return fmt.Sprintf("multi (%d bytes)", len(e.Body))
	}
	path := d.String()
	if d.Err() != nil {
		return fmt.Sprintf("%v (malformed body, %d bytes)", e.Op, len(e.Body))
	}
	return fmt.Sprintf("%v %s", e.Op, path)
}

// DumpSnapshot prints a snapshot's header, sessions and znodes.
func DumpSnapshot(out io.Writer, path string) error {
	state, st, err := loadSnapshot(path)
	if err != nil {
		return err
	}
	bw := bufio.NewWriter(out)
	defer bw.Flush()
	fmt.Fprintf(bw, "snapshot zxid 0x%x taken %s: %d znodes, %d sessions, %d ACL lists, %d bytes uncompressed\n",
		st.Zxid, st.Time.UTC().Format(time.RFC3339), st.Nodes, st.Sessions, st.ACLs, st.Bytes)
	for _, s := range state.SessionRecords() {
		fmt.Fprintf(bw, "session 0x%x timeout %d\n", uint64(s.ID), s.Timeout)
	}
	v := state.Publish()
	v.Tree.All(func(n *engine.Node) bool {
		s := n.Stat()
		fmt.Fprintf(bw, "%s czxid=0x%x mzxid=0x%x pzxid=0x%x version=%d cversion=%d aversion=%d owner=0x%x dataLength=%d numChildren=%d acl=%v\n",
			n.Path(), s.Czxid, s.Mzxid, s.Pzxid, s.Version, s.Cversion, s.Aversion, uint64(n.Owner), s.DataLength, s.NumChildren, v.ACL(n))
		return true
	})
	return nil
}
