package server

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"slices"
	"strings"

	"github.com/meerkat-zk/meerkat/config"
	"github.com/meerkat-zk/meerkat/zkfile"
)

// prepareDataDirs checks cfg's data directories before anything is written
// into them, then creates what is missing. It refuses, so that no
// operator's mistake turns into an empty database:
//   - a data directory that holds Apache ZooKeeper's files (version-2/)
//     and no Meerkat data: Meerkat would serve an empty tree beside them;
//   - with zookeeper.datadir.autocreate=false, a missing directory (a
//     volume that was not mounted), as ZooKeeper refuses a missing
//     version-2 directory.
func prepareDataDirs(cfg *config.Config) error {
	own := []string{cfg.CheckpointDir(), cfg.WALDir()}
	if cfg.Distributed() {
		own[1] = cfg.RaftDir()
	}
	var missing []string
	for _, d := range own {
		switch _, err := os.Stat(d); {
		case errors.Is(err, fs.ErrNotExist):
			missing = append(missing, d)
		case err != nil:
			return fmt.Errorf("data directory: %w", err)
		}
	}
	if len(missing) == len(own) {
		found, err := zooKeeperFiles(cfg.DataDir, cfg.DataLogDir)
		if err != nil {
			return fmt.Errorf("data directory: %w", err)
		}
		if len(found) > 0 {
			if len(found) > 3 {
				found = append(found[:3], "…")
			}
			return fmt.Errorf("data directory %s holds Apache ZooKeeper's data (%s) and no Meerkat data: Meerkat does not read ZooKeeper's files and would serve an empty tree. "+
				"Convert them with `meerkat import-zk [zoo.cfg] %s` (it builds Meerkat's data beside them and leaves them as they are), or point dataDir at another directory",
				cfg.DataDir, strings.Join(found, ", "), cfg.DataDir)
		}
	}
	if !cfg.DataDirAutocreate && len(missing) > 0 {
		return fmt.Errorf("missing data directory %s, automatic data directory creation is disabled (zookeeper.datadir.autocreate is false). Please create this directory manually",
			strings.Join(missing, " and "))
	}
	for _, d := range own {
		if err := os.MkdirAll(d, 0o755); err != nil {
			return fmt.Errorf("data directory: %w", err)
		}
	}
	return nil
}

// zooKeeperFiles lists the snapshots and transaction logs Apache ZooKeeper
// keeps under version-2/ in dirs (its dataDir and dataLogDir), as paths
// relative to their directory.
func zooKeeperFiles(dirs ...string) ([]string, error) {
	var found []string
	for _, dir := range slices.Compact(slices.Sorted(slices.Values(dirs))) {
		files, err := zkfile.Files(dir)
		if err != nil {
			return nil, err
		}
		found = append(found, files...)
	}
	return found, nil
}
