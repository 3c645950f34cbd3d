// Command meerkat runs a Meerkat server: a coordination service that speaks
// Apache ZooKeeper's client protocol.
//
//	meerkat [flags] [zoo.cfg]          run a server
//	meerkat snapshot [-admin addr] out  fetch a snapshot of a running server
//	meerkat restore [flags] [zoo.cfg] snapshot
//	                                    build a data directory from a snapshot
//	meerkat dump-wal dir                print a write-ahead log
//	meerkat dump-snapshot file          print a snapshot
//
// Without a zoo.cfg the embedded default is used: standalone on
// 127.0.0.1:2181 with data under ./data. Flags override the file.
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/meerkat-zk/meerkat/admin"
	"github.com/meerkat-zk/meerkat/checkpoint"
	"github.com/meerkat-zk/meerkat/config"
	"github.com/meerkat-zk/meerkat/engine"
	"github.com/meerkat-zk/meerkat/internal/gctune"
	"github.com/meerkat-zk/meerkat/netpoll"
	"github.com/meerkat-zk/meerkat/pipeline"
	"github.com/meerkat-zk/meerkat/snapshot"
	"github.com/meerkat-zk/meerkat/tools"
	"github.com/meerkat-zk/meerkat/wal"
)

func main() {
	var err error
	if len(os.Args) > 1 {
		switch os.Args[1] {
		case "snapshot":
			err = runSnapshot(os.Args[2:])
		case "restore":
			err = runRestore(os.Args[2:])
		case "dump-wal":
			err = runDump(os.Args[2:], tools.DumpWAL)
		case "dump-snapshot":
			err = runDump(os.Args[2:], tools.DumpSnapshot)
		default:
			err = runServer(os.Args[1:])
		}
	} else {
		err = runServer(nil)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "meerkat:", err)
		os.Exit(1)
	}
}

// setFlags collects repeated -set key=value flags.
type setFlags []string

func (s *setFlags) String() string     { return strings.Join(*s, ",") }
func (s *setFlags) Set(v string) error { *s = append(*s, v); return nil }

// loadConfig parses the server flags and zoo.cfg; rest are the arguments
// after the zoo.cfg (the restore's snapshot).
func loadConfig(name string, args []string, wantRest int) (*config.Config, *slog.Logger, []string, error) {
	fl := flag.NewFlagSet(name, flag.ContinueOnError)
	var sets setFlags
	port := fl.Int("port", -1, "client port (overrides clientPort)")
	dataDir := fl.String("data-dir", "", "data directory (overrides dataDir and dataLogDir)")
	logLevel := fl.String("log-level", "info", "log level: debug, info, warn or error")
	fl.Var(&sets, "set", "override a zoo.cfg key: -set key=value (repeatable)")
	if err := fl.Parse(args); err != nil {
		return nil, nil, nil, err
	}
	var level slog.Level
	if err := level.UnmarshalText([]byte(*logLevel)); err != nil {
		return nil, nil, nil, fmt.Errorf("-log-level: %w", err)
	}
	logger := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: level}))
	slog.SetDefault(logger)

	var cfg *config.Config
	var err error
	pos := fl.Args()
	switch len(pos) - wantRest {
	case 0:
		cfg, err = config.Default()
	case 1:
		cfg, err = config.Load(pos[0])
		pos = pos[1:]
	default:
		return nil, nil, nil, fmt.Errorf("usage: meerkat %s [flags] [zoo.cfg]%s", name, strings.Repeat(" arg", wantRest))
	}
	if err != nil {
		return nil, nil, nil, err
	}
	for _, kv := range sets {
		k, v, ok := strings.Cut(kv, "=")
		if !ok {
			return nil, nil, nil, fmt.Errorf("-set %q: want key=value", kv)
		}
		if err := cfg.Set(k, v); err != nil {
			return nil, nil, nil, fmt.Errorf("-set: %w", err)
		}
	}
	if *port >= 0 {
		if err := cfg.Set("clientPort", strconv.Itoa(*port)); err != nil {
			return nil, nil, nil, fmt.Errorf("-port: %w", err)
		}
	}
	if *dataDir != "" {
		cfg.DataDir, cfg.DataLogDir = *dataDir, *dataDir
	}
	if err := cfg.Validate(); err != nil {
		return nil, nil, nil, fmt.Errorf("config: %w", err)
	}
	if err := cfg.Abs(); err != nil {
		return nil, nil, nil, err
	}
	for _, k := range cfg.Unknown {
		logger.Warn("ignoring unknown configuration key", "key", k)
	}
	return cfg, logger, pos, nil
}

// policy is the engine.Policy this server stamps into the writes it accepts.
func policy(cfg *config.Config) engine.Policy {
	return engine.Policy{ExtendedTypes: cfg.ExtendedTypes, SkipACL: cfg.SkipACL, ReconfigEnabled: cfg.ReconfigEnabled,
		EnforceQuota: cfg.EnforceQuota}
}

func runServer(args []string) error {
	cfg, logger, _, err := loadConfig("server", args, 0)
	if err != nil {
		return err
	}
	for _, d := range []string{cfg.DataDir, cfg.DataLogDir} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			return fmt.Errorf("data directory: %w", err)
		}
	}

	// Recovery: the checkpoint, then the log after it.
	start := time.Now()
	store, err := checkpoint.Open(cfg.CheckpointDir(), logger, nil)
	if err != nil {
		return err
	}
	closeStore := true
	defer func() {
		// Closing pebble waits for its flushes; after a final flush that did
		// not finish, exit without it.
		if closeStore {
			_ = store.Close()
		}
	}()
	state, err := store.Load()
	if err != nil {
		return err
	}
	checkpointZxid := int64(0)
	if state != nil {
		checkpointZxid = state.Zxid()
	} else {
		state = engine.NewState()
	}
	loaded := time.Since(start)
	if !cfg.ForceSync {
		logger.Warn("forceSync=no: acknowledged writes may be lost by a power failure")
	}
	log, err := wal.Open(cfg.WALDir(), wal.Options{SegmentSize: cfg.PreAllocSize, NoSync: !cfg.ForceSync, Logger: logger})
	if err != nil {
		return err
	}
	defer log.Close()
	replayed, err := pipeline.Recover(state, log)
	if err != nil {
		return err
	}
	logger.Info("recovered", "zxid", fmt.Sprintf("0x%x", state.Zxid()), "checkpoint_zxid", fmt.Sprintf("0x%x", checkpointZxid),
		"znodes", state.Publish().Tree.Count(), "log_entries_replayed", replayed,
		"load_ms", loaded.Milliseconds(), "total_ms", time.Since(start).Milliseconds())

	cp := checkpoint.NewCheckpointer(store, checkpointZxid,
		checkpoint.Policy{Entries: int64(cfg.SnapCount), Every: 30 * time.Second}, logger)
	pipe, err := pipeline.New(pipeline.Config{
		ServerID:               cfg.ServerID,
		Tick:                   cfg.TickTime,
		ContainerCheckInterval: cfg.ContainerCheckInterval,
		ContainerMaxPerMinute:  cfg.ContainerMaxPerMinute,
		ContainerMaxNeverUsed:  cfg.ContainerMaxNeverUsed,
		Policy:                 policy(cfg),
		Log:                    log,
		Checkpoints:            cp,
		Logger:                 logger,
	}, state)
	if err != nil {
		return err
	}
	srv, err := netpoll.New(netpoll.Config{
		Addr:                  cfg.ClientAddr(),
		MaxBuffer:             cfg.MaxBuffer,
		Tick:                  cfg.TickTime,
		MinSessionTimeout:     cfg.MinSessionTimeout,
		MaxSessionTimeout:     cfg.MaxSessionTimeout,
		MaxClientCnxns:        cfg.MaxClientCnxns,
		MaxOutstanding:        cfg.GlobalOutstandingLimit,
		OutboundThrottleBytes: cfg.ClientOutboundThrottleBytes,
		SlowConsumerBytes:     cfg.ClientSlowConsumerBytes,
		FourLetterWords:       cfg.FourLetterWords,
		SuperDigest:           cfg.SuperDigest,
		SkipACL:               cfg.SkipACL,
		Info: netpoll.Info{
			ClientPort: cfg.ClientPort,
			DataDir:    cfg.DataDir,
			DataLogDir: cfg.DataLogDir,
			DirSize:    dirSize,
		},
		Logger: logger,
	}, pipe)
	if err != nil {
		return err
	}
	tuneStop := make(chan struct{})
	defer close(tuneStop)
	gctune.Start(gctune.Default, tuneStop)
	cp.Start()
	pipe.Start()
	var adm *admin.Server
	if cfg.AdminEnabled {
		adm, err = admin.Start(cfg.AdminAddr(), func(w io.Writer) (snapshot.Stats, error) {
			v, sessions, err := pipe.Capture()
			if err != nil {
				return snapshot.Stats{}, err
			}
			return snapshot.Write(w, v, sessions, time.Now())
		}, logger)
		if err != nil {
			pipe.Stop()
			return err
		}
	}
	if err := srv.Start(); err != nil {
		pipe.Stop()
		return err
	}
	logger.Info("meerkat serving", "addr", srv.Addr().String(), "dataDir", cfg.DataDir, "dataLogDir", cfg.DataLogDir)

	sig := make(chan os.Signal, 1)
	signal.Notify(sig, syscall.SIGTERM, syscall.SIGINT)
	s := <-sig
	logger.Info("stopping", "signal", s.String())
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	err = srv.Stop(ctx)
	if adm != nil {
		_ = adm.Stop(ctx)
	}
	pipe.Stop()
	// A clean stop checkpoints everything so the next start replays nothing.
	// If the checkpoint cannot finish (a full disk), the log keeps it all.
	last := pipe.FinalDelta()
	if closeStore = cp.Stop(&last, 10*time.Second); closeStore {
		if rerr := log.RemoveThrough(uint64(cp.Durable())); rerr != nil {
			logger.Warn("could not remove old log segments", "err", rerr)
		}
	}
	return err
}

func runSnapshot(args []string) error {
	fl := flag.NewFlagSet("snapshot", flag.ContinueOnError)
	addr := fl.String("admin", "127.0.0.1:8080", "admin server address of the running server")
	if err := fl.Parse(args); err != nil {
		return err
	}
	if fl.NArg() != 1 {
		return fmt.Errorf("usage: meerkat snapshot [-admin host:port] out-file")
	}
	st, err := tools.FetchSnapshot(*addr, fl.Arg(0))
	if err != nil {
		return err
	}
	fmt.Printf("snapshot %s: zxid 0x%x, %d znodes, %d sessions\n", fl.Arg(0), st.Zxid, st.Nodes, st.Sessions)
	return nil
}

func runRestore(args []string) error {
	cfg, _, rest, err := loadConfig("restore", args, 1)
	if err != nil {
		return err
	}
	st, err := tools.Restore(rest[0], cfg.CheckpointDir(), cfg.WALDir())
	if err != nil {
		return err
	}
	fmt.Printf("restored %s into %s: zxid 0x%x, %d znodes, %d sessions\n", rest[0], cfg.DataDir, st.Zxid, st.Nodes, st.Sessions)
	return nil
}

func runDump(args []string, dump func(io.Writer, string) error) error {
	if len(args) != 1 {
		return fmt.Errorf("usage: meerkat dump-wal dir | dump-snapshot file")
	}
	return dump(os.Stdout, args[0])
}

// dirSize sums the sizes of the files under dir.
func dirSize(dir string) int64 {
	var total int64
	_ = filepath.WalkDir(dir, func(_ string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			if info, err := d.Info(); err == nil {
				total += info.Size()
			}
		}
		return nil
	})
	return total
}
