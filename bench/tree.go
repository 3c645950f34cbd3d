package bench

import (
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/meerkat-zk/meerkat/jute"
)

// TreeResult is what the large-tree scenario measured.
type TreeResult struct {
	Znodes    int `json:"znodes"`
	ValueSize int `json:"value_size"`
	// LoadRate is creates per second while loading (8 connections × 32
	// outstanding).
	LoadRate float64 `json:"load_creates_per_sec"`
	// RSSEmpty and RSSLoaded are VmRSS of the server with an empty tree and
	// after the load (2 s settle, no forced GC), in bytes; RSSPerZnode is
	// their difference over the znodes.
	RSSEmpty    int64   `json:"rss_empty"`
	RSSLoaded   int64   `json:"rss_loaded"`
	RSSPerZnode float64 `json:"rss_per_znode"`
	// KillRestartMs is the time from starting the server again after a
	// SIGKILL until a session opens; CleanRestartMs the same after SIGTERM
	// (and CleanStopMs how long the stop took).
	KillRestartMs  float64 `json:"kill_restart_ms"`
	CleanStopMs    float64 `json:"clean_stop_ms"`
	CleanRestartMs float64 `json:"clean_restart_ms"`
	// RSSAfterRestart is VmRSS after the clean restart.
	RSSAfterRestart int64 `json:"rss_after_restart"`
	// SnapshotBytes is the size of a snapshot of the loaded tree: Meerkat's
	// zstd stream from its admin server (SnapshotMs to take it), ZooKeeper's
	// newest snapshot file.
	SnapshotBytes int64   `json:"snapshot_bytes"`
	SnapshotMs    float64 `json:"snapshot_ms,omitempty"`
	// SnapshotsWritten is what the load cost in snapshots and checkpoints:
	// ZooKeeper's snapshot files (it writes one every snapCount
	// transactions, each the whole tree), Meerkat's pebble checkpoint
	// flushes (incremental: only what changed since the last one).
	SnapshotsWritten      int   `json:"snapshots_written"`
	SnapshotsWrittenBytes int64 `json:"snapshots_written_bytes"`
}

// treePath is znode i of the large tree: 1,000 children per parent.
func treePath(i int) string { return fmt.Sprintf("/tree/p%04d/n%07d", i/1000, i) }

// treeSteps creates the large tree of znodes znodes of value bytes each:
// /tree, the parents, then the znodes.
func treeSteps(znodes, value int) []Creates {
	return []Creates{
		{Paths: func(int) string { return "/tree" }, Count: 1},
		{Paths: func(i int) string { return fmt.Sprintf("/tree/p%04d", i) }, Count: (znodes + 999) / 1000},
		{Paths: treePath, Count: znodes, ValueSize: value},
	}
}

// treeScenario loads the large tree into a fresh server and measures its
// memory and restart times.
func (c *Config) treeScenario(system string) Run {
	run := Run{Scenario: ScTree, Label: fmt.Sprintf("znodes=%d value=%d", c.TreeZnodes, c.TreeValue), System: system}
	srv, err := startServer(system, c.JVM)
	if err != nil {
		run.Error = err.Error()
		return run
	}
	defer c.stop(srv, "tree")
	res := &TreeResult{Znodes: c.TreeZnodes, ValueSize: c.TreeValue}
	run.Tree = res
	err = guard(func() error {
		time.Sleep(2 * time.Second)
		if res.RSSEmpty, err = ProcessRSS(srv.Pid()); err != nil {
			return err
		}
		if res.LoadRate, err = createAll(srv.Addr, nil, treeSteps(c.TreeZnodes, c.TreeValue), 30*time.Minute); err != nil {
			return err
		}
		time.Sleep(2 * time.Second)
		if res.RSSLoaded, err = ProcessRSS(srv.Pid()); err != nil {
			return err
		}
		res.RSSPerZnode = float64(res.RSSLoaded-res.RSSEmpty) / float64(c.TreeZnodes)
		if err := snapshotCost(srv, res); err != nil {
			return err
		}
		last := treePath(c.TreeZnodes - 1)

		d, _, err := restart(srv, false)
		if err != nil {
			return fmt.Errorf("restart after SIGKILL: %w", err)
		}
		res.KillRestartMs = ms(d)
		if err := checkExists(srv.Addr, last); err != nil {
			return fmt.Errorf("after SIGKILL restart: %w", err)
		}
		d, stop, err := restart(srv, true)
		if err != nil {
			return fmt.Errorf("clean restart: %w", err)
		}
		res.CleanRestartMs, res.CleanStopMs = ms(d), ms(stop)
		if err := checkExists(srv.Addr, last); err != nil {
			return fmt.Errorf("after clean restart: %w", err)
		}
		time.Sleep(2 * time.Second)
		res.RSSAfterRestart, _ = ProcessRSS(srv.Pid())
		return nil
	})
	run.Error = errString(err)
	return run
}

func ms(d time.Duration) float64 { return float64(d) / 1e6 }

// snapshotCost measures what snapshots and checkpoints of the loaded tree
// cost each server.
func snapshotCost(srv *server, res *TreeResult) error {
	if srv.Name == ZooKeeper {
		files, err := filepath.Glob(filepath.Join(srv.Dir, "data", "version-2", "snapshot.*"))
		if err != nil {
			return err
		}
		var newest time.Time
		for _, f := range files {
			st, err := os.Stat(f)
			if err != nil {
				return err
			}
			res.SnapshotsWritten++
			res.SnapshotsWrittenBytes += st.Size()
			if st.ModTime().After(newest) {
				newest, res.SnapshotBytes = st.ModTime(), st.Size()
			}
		}
		return nil
	}
	m := srv.sample()
	res.SnapshotsWritten = int(m["meerkat_checkpoint_flushes_total"])
	res.SnapshotsWrittenBytes = int64(m["meerkat_checkpoint_flushed_bytes_total"] + m["meerkat_checkpoint_compacted_bytes_total"])
	cl := http.Client{Timeout: 10 * time.Minute}
	start := time.Now()
	resp, err := cl.Get(fmt.Sprintf("http://127.0.0.1:%d/commands/snapshot", srv.adminPort))
	if err != nil {
		return fmt.Errorf("snapshot: %w", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		msg, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
		return fmt.Errorf("snapshot: %s: %s", resp.Status, strings.TrimSpace(string(msg)))
	}
	n, err := io.Copy(io.Discard, resp.Body)
	if err != nil {
		return fmt.Errorf("snapshot: %w", err)
	}
	res.SnapshotBytes, res.SnapshotMs = n, ms(time.Since(start))
	return nil
}

// restart stops the server (SIGTERM when clean, else SIGKILL), starts it
// again and returns the time from the start until a session could be
// opened, polled every 5 ms, and how long the stop took.
func restart(srv *server, clean bool) (ready, stop time.Duration, err error) {
	t := time.Now()
	if clean {
		srv.Stop()
	} else {
		srv.Kill()
	}
	stop = time.Since(t)
	fmt.Fprintf(&srv.past, "%s=== %s, restarting ===\n", srv.Log(), map[bool]string{true: "SIGTERM", false: "SIGKILL"}[clean])
	got := make(chan time.Duration, 1)
	quit := make(chan struct{})
	start := time.Now()
	go func() {
		for time.Since(start) < 5*time.Minute {
			select {
			case <-quit:
				return
			default:
			}
			if c, err := dial(srv.Addr, 30*time.Second, time.Now().Add(2*time.Second)); err == nil {
				got <- time.Since(start)
				c.close(1, time.Second)
				return
			}
			time.Sleep(5 * time.Millisecond)
		}
	}()
	// Restart kills (a no-op now) and starts the process, then waits in
	// its own 50 ms poll; the 5 ms poll above times the start.
	srv.Restart(srv.tb)
	select {
	case d := <-got:
		return d, stop, nil
	case <-time.After(5 * time.Minute):
		close(quit)
		return 0, stop, fmt.Errorf("no session within 5 minutes")
	}
}

// checkExists opens a session and checks that path exists.
func checkExists(addr, path string) error {
	c, err := dial(addr, 30*time.Second, time.Now().Add(10*time.Second))
	if err != nil {
		return err
	}
	defer c.close(1<<30, time.Second)
	return setupCall(c, jute.OpExists, (&jute.PathWatchRequest{Path: path}).Append(nil), jute.CodeOK)
}
