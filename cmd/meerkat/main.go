// Command meerkat runs a Meerkat server: a coordination service that speaks
// Apache ZooKeeper's client protocol.
//
//	meerkat [flags] [zoo.cfg]          run a server
//	meerkat snapshot [-admin addr] out  fetch a snapshot of a running server
//	meerkat restore [flags] [zoo.cfg] snapshot
//	                                    build a data directory from a snapshot
//	meerkat import-zk [flags] [zoo.cfg] zk-data-dir
//	                                    build a data directory from Apache
//	                                    ZooKeeper's
//	meerkat export-zk [flags] [zoo.cfg] out-dir
//	                                    write a stopped server's data as
//	                                    Apache ZooKeeper's
//	meerkat cli [-server host:port] [cmd args]
//	                                    a shell speaking zkCli's commands
//	meerkat dump-wal dir                print a write-ahead log
//	meerkat dump-snapshot file          print a snapshot
//
// Without a zoo.cfg the embedded default is used: standalone on
// 127.0.0.1:2181 with data under ./data. Flags override the file.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/meerkat-zk/meerkat/config"
	"github.com/meerkat-zk/meerkat/internal/gctune"
	"github.com/meerkat-zk/meerkat/membership"
	"github.com/meerkat-zk/meerkat/server"
	"github.com/meerkat-zk/meerkat/shell"
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
		case "import-zk":
			err = runImportZK(os.Args[2:])
		case "export-zk":
			err = runExportZK(os.Args[2:])
		case "dump-wal":
			err = runDump(os.Args[2:], tools.DumpWAL)
		case "dump-snapshot":
			err = runDump(os.Args[2:], tools.DumpSnapshot)
		case "cli":
			os.Exit(shell.Main(os.Args[2:], os.Stdin, os.Stdout, os.Stderr))
		case "version", "--version", "-version":
			fmt.Println(versionLine())
		case "help", "--help", "-help", "-h":
			printUsage(os.Stdout)
		default:
			err = runServer(os.Args[1:])
		}
	} else {
		err = runServer(nil)
	}
	if errors.Is(err, flag.ErrHelp) {
		return
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

// loadConfig parses the server flags (and the ones extra defines) and
// zoo.cfg; rest are the arguments after the zoo.cfg (the restore's
// snapshot, the import's directory).
func loadConfig(name string, args []string, wantRest int, extra func(*flag.FlagSet)) (*config.Config, *slog.Logger, []string, error) {
	fl := flag.NewFlagSet(name, flag.ContinueOnError)
	if extra != nil {
		extra(fl)
	}
	var sets setFlags
	port := fl.Int("port", -1, "client port (overrides clientPort)")
	dataDir := fl.String("data-dir", "", "data directory (overrides dataDir and dataLogDir)")
	logLevel := fl.String("log-level", "info", "log level: debug, info, warn or error")
	fl.Var(&sets, "set", "override a zoo.cfg key: -set key=value (repeatable)")
	fl.Usage = func() { printUsage(fl.Output()) }
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
	for _, w := range cfg.Warnings {
		logger.Warn(w)
	}
	return cfg, logger, pos, nil
}

// spareProcessor gives the Go scheduler one processor (P) more than its
// default, the CPUs this process may use, unless GOMAXPROCS is set. The
// server's goroutines block in system calls all the time (the log's
// fdatasync, the event loops' and the peer connections' reads and
// writes), and a goroutine made runnable while the Ps are held, one of
// them by a goroutine in such a call, waits for the runtime to take that
// P back; with a spare one it runs at once. The event loops, one per P
// by default, follow. Measured on two cores (bench/improvements.md):
// writes through a three-server ensemble +17 %, reads from one server
// +14 %.
func spareProcessor() {
	if _, set := os.LookupEnv("GOMAXPROCS"); set {
		return
	}
	runtime.GOMAXPROCS(runtime.GOMAXPROCS(0) + 1)
}

func runServer(args []string) error {
	cfg, logger, _, err := loadConfig("server", args, 0, nil)
	if err != nil {
		return err
	}
	spareProcessor()
	tuneStop := make(chan struct{})
	defer close(tuneStop)
	gctune.Start(gctune.Default, tuneStop)
	// Signals are caught before the server starts serving, so that one
	// that arrives while it starts stops it cleanly too. SIGHUP as well: a
	// closed terminal or a supervisor's HUP must stop the server cleanly
	// (ZooKeeper's JVM runs its shutdown hooks on it).
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, syscall.SIGTERM, syscall.SIGINT, syscall.SIGHUP)
	srv, err := server.Start(cfg, logger)
	if err != nil {
		return err
	}
	select {
	case s := <-sig:
		logger.Info("stopping", "signal", s.String())
	case <-srv.Failed():
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	return errors.Join(srv.Err(), srv.Stop(ctx))
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
	cfg, _, rest, err := loadConfig("restore", args, 1, nil)
	if err != nil {
		return err
	}
	st, err := tools.Restore(rest[0], targetOf(cfg))
	if err != nil {
		return err
	}
	fmt.Printf("restored %s into %s: zxid 0x%x, %d znodes, %d sessions\n", rest[0], cfg.DataDir, st.Zxid, st.Nodes, st.Sessions)
	return nil
}

// targetOf is the data directory cfg names, for a restore or an import:
// an ensemble member's when cfg has server.N lines (every member builds
// from the same files, so that all start from one image).
func targetOf(cfg *config.Config) tools.Target {
	to := tools.Target{CheckpointDir: cfg.CheckpointDir(), WALDir: cfg.WALDir()}
	if cfg.Distributed() {
		m := &tools.MemberTarget{RaftDir: cfg.RaftDir(), WAL: wal.Options{SegmentSize: cfg.PreAllocSize, NoSync: !cfg.ForceSync},
			Membership: []byte(strings.Join(cfg.Membership(), "\n"))}
		m.Voters, m.Learners = membership.RaftIDs(cfg.Members)
		to.Member = m
	}
	return to
}

func runImportZK(args []string) error {
	var zkLogDir *string
	cfg, _, rest, err := loadConfig("import-zk", args, 1, func(fl *flag.FlagSet) {
		zkLogDir = fl.String("zk-log-dir", "", "ZooKeeper's dataLogDir, when it is not its dataDir")
	})
	if err != nil {
		return err
	}
	logDir := rest[0]
	if *zkLogDir != "" {
		logDir = *zkLogDir
	}
	st, err := tools.ImportZooKeeper(rest[0], logDir, targetOf(cfg))
	for _, s := range st.Skipped {
		fmt.Fprintln(os.Stderr, "meerkat: skipped a damaged snapshot:", s)
	}
	for _, s := range st.Torn {
		fmt.Fprintln(os.Stderr, "meerkat: a log ends in a partial transaction, never acknowledged:", s)
	}
	if err != nil {
		return err
	}
	fmt.Printf("imported %s into %s: zxid 0x%x, %d znodes, %d sessions; snapshot %s, %d transactions replayed from %d logs\n",
		rest[0], cfg.DataDir, st.Zxid, st.Nodes, st.Sessions, filepath.Base(st.Snapshot), st.Txns, len(st.Logs))
	return nil
}

func runExportZK(args []string) error {
	cfg, _, rest, err := loadConfig("export-zk", args, 1, nil)
	if err != nil {
		return err
	}
	var st tools.ExportStats
	if cfg.Distributed() {
		st, err = tools.ExportMember(cfg.CheckpointDir(), cfg.RaftDir(), uint64(cfg.ServerID), rest[0])
	} else {
		st, err = tools.ExportZooKeeper(cfg.CheckpointDir(), cfg.WALDir(), rest[0])
	}
	if err != nil {
		return err
	}
	fmt.Printf("exported %s into %s: zxid 0x%x, %d znodes, %d sessions\n", cfg.DataDir, st.Snapshot, st.Zxid, st.Nodes, st.Sessions)
	return nil
}

func runDump(args []string, dump func(io.Writer, string) error) error {
	if len(args) != 1 {
		return fmt.Errorf("usage: meerkat dump-wal dir | dump-snapshot file")
	}
	return dump(os.Stdout, args[0])
}
