package zkfile

import (
	"cmp"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
)

// Report tells what Load read.
type Report struct {
	// Snapshot is the snapshot file loaded.
	Snapshot string
	// Skipped lists newer snapshots that were not whole, with the reason.
	Skipped []string
	// Logs lists the log files read.
	Logs []string
	// Txns counts the transactions replayed on top of the snapshot.
	Txns int
	// Torn describes the partial entries that ended log files, if any.
	Torn []string
}

// maxSnapshotTries is how many snapshots, newest first, ZooKeeper tries
// before it gives up on a data directory.
const maxSnapshotTries = 100

// VersionDir returns the version-2 directory of a ZooKeeper dataDir or
// dataLogDir; dir may also name the version-2 directory itself.
func VersionDir(dir string) (string, error) {
	v := filepath.Join(dir, "version-2")
	if fi, err := os.Stat(v); err == nil && fi.IsDir() {
		return v, nil
	}
	if filepath.Base(filepath.Clean(dir)) == "version-2" {
		if fi, err := os.Stat(dir); err == nil && fi.IsDir() {
			return dir, nil
		}
	}
	return "", fmt.Errorf("zkfile: %s holds no ZooKeeper data (no version-2 directory)", dir)
}

// Files lists the snapshots and transaction logs in dir/version-2 (a
// ZooKeeper dataDir or dataLogDir), as paths relative to dir: none when
// there is no such directory.
func Files(dir string) ([]string, error) {
	v := filepath.Join(dir, "version-2")
	if _, err := os.Stat(v); errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	var out []string
	for _, prefix := range []string{"snapshot", "log"} {
		paths, err := filesByZxid(v, prefix)
		if err != nil {
			return nil, err
		}
		for _, p := range paths {
			out = append(out, filepath.Join("version-2", filepath.Base(p)))
		}
	}
	return out, nil
}

// fileZxid parses the zxid of a file named prefix.<hex zxid>[.suffix], as
// ZooKeeper's Util.getZxidFromName does.
func fileZxid(path, prefix string) (int64, bool) {
	parts := strings.Split(filepath.Base(path), ".")
	if len(parts) < 2 || parts[0] != prefix {
		return 0, false
	}
	z, err := strconv.ParseUint(parts[1], 16, 64)
	return int64(z), err == nil
}

// filesByZxid lists dir's files named prefix.<hex zxid>, by zxid.
func filesByZxid(dir, prefix string) ([]string, error) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, fmt.Errorf("zkfile: %w", err)
	}
	var out []string
	for _, e := range entries {
		if _, ok := fileZxid(e.Name(), prefix); ok && e.Type().IsRegular() {
			out = append(out, filepath.Join(dir, e.Name()))
		}
	}
	slices.SortFunc(out, func(a, b string) int {
		za, _ := fileZxid(a, prefix)
		zb, _ := fileZxid(b, prefix)
		return cmp.Compare(za, zb)
	})
	return out, nil
}

// Load rebuilds the tree a ZooKeeper server would start with from its
// dataDir and dataLogDir (the same directory when it has no separate log
// directory), as FileTxnSnapLog.restore does: the newest snapshot that is
// whole (of the 100 newest), then every logged transaction after its zxid,
// through the last whole entry.
func Load(dataDir, logDir string) (*Tree, Report, error) {
	var rep Report
	snapDir, err := VersionDir(dataDir)
	if err != nil {
		return nil, rep, err
	}
	txnDir, err := VersionDir(logDir)
	if err != nil {
		return nil, rep, err
	}
	snaps, err := filesByZxid(snapDir, "snapshot")
	if err != nil {
		return nil, rep, err
	}
	logs, err := filesByZxid(txnDir, "log")
	if err != nil {
		return nil, rep, err
	}
	if len(snaps) == 0 {
		if len(logs) > 0 {
			return nil, rep, fmt.Errorf("zkfile: %s has transaction logs but no snapshot; ZooKeeper refuses such a directory too", txnDir)
		}
		return nil, rep, fmt.Errorf("zkfile: %s holds no snapshot", snapDir)
	}
	var tree *Tree
	for i := len(snaps) - 1; i >= 0 && i >= len(snaps)-maxSnapshotTries; i-- {
		t, err := ReadSnapshot(snaps[i])
		if err == nil {
			tree, rep.Snapshot = t, snaps[i]
			break
		}
		if !errors.Is(err, ErrCorrupt) {
			return nil, rep, err
		}
		rep.Skipped = append(rep.Skipped, err.Error())
	}
	if tree == nil {
		return nil, rep, fmt.Errorf("zkfile: no whole snapshot in %s: %s", snapDir, strings.Join(rep.Skipped, "; "))
	}
	snapZxid := tree.Zxid
	// The log to start from is the last one that begins at or before the
	// snapshot; the ones after it follow.
	first := 0
	for i, l := range logs {
		if z, _ := fileZxid(l, "log"); z <= snapZxid {
			first = i
		}
	}
	for _, l := range logs[first:] {
		rep.Logs = append(rep.Logs, l)
		end, err := ReadLog(l, func(txn Txn) error {
			if txn.Zxid <= snapZxid {
				return nil
			}
			rep.Txns++
			return tree.Apply(txn)
		})
		if err != nil {
			return nil, rep, err
		}
		if end.Torn {
			rep.Torn = append(rep.Torn, l+": "+end.Reason)
		}
	}
	return tree, rep, nil
}
