// Command meerkat runs a Meerkat server: a coordination service that speaks
// Apache ZooKeeper's client protocol.
//
//	meerkat [flags] [zoo.cfg]
//
// Without a zoo.cfg it runs the embedded default: standalone on
// 127.0.0.1:2181 with data under ./data. Flags override the file.
package main

import (
	"context"
	"flag"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/meerkat-zk/meerkat/config"
	"github.com/meerkat-zk/meerkat/engine"
	"github.com/meerkat-zk/meerkat/netpoll"
	"github.com/meerkat-zk/meerkat/pipeline"
)

// setFlags collects repeated -set key=value flags.
type setFlags []string

func (s *setFlags) String() string     { return strings.Join(*s, ",") }
func (s *setFlags) Set(v string) error { *s = append(*s, v); return nil }

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "meerkat:", err)
		os.Exit(1)
	}
}

func run() error {
	var sets setFlags
	port := flag.Int("port", -1, "client port (overrides clientPort)")
	dataDir := flag.String("data-dir", "", "data directory (overrides dataDir)")
	logLevel := flag.String("log-level", "info", "log level: debug, info, warn or error")
	flag.Var(&sets, "set", "override a zoo.cfg key: -set key=value (repeatable)")
	flag.Usage = func() {
		fmt.Fprintf(flag.CommandLine.Output(), "usage: meerkat [flags] [zoo.cfg]\n")
		flag.PrintDefaults()
	}
	flag.Parse()

	var level slog.Level
	if err := level.UnmarshalText([]byte(*logLevel)); err != nil {
		return fmt.Errorf("-log-level: %w", err)
	}
	logger := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: level}))
	slog.SetDefault(logger)

	var cfg *config.Config
	var err error
	switch flag.NArg() {
	case 0:
		cfg, err = config.Default()
	case 1:
		cfg, err = config.Load(flag.Arg(0))
	default:
		flag.Usage()
		return fmt.Errorf("expected at most one zoo.cfg, got %d arguments", flag.NArg())
	}
	if err != nil {
		return err
	}
	for _, kv := range sets {
		k, v, ok := strings.Cut(kv, "=")
		if !ok {
			return fmt.Errorf("-set %q: want key=value", kv)
		}
		if err := cfg.Set(k, v); err != nil {
			return fmt.Errorf("-set: %w", err)
		}
	}
	if *port >= 0 {
		cfg.ClientPort = *port
	}
	if *dataDir != "" {
		cfg.DataDir, cfg.DataLogDir = *dataDir, *dataDir
	}
	if err := cfg.Validate(); err != nil {
		return fmt.Errorf("config: %w", err)
	}
	if err := cfg.Abs(); err != nil {
		return err
	}
	for _, k := range cfg.Unknown {
		logger.Warn("ignoring unknown configuration key", "key", k)
	}
	for _, d := range []string{cfg.DataDir, cfg.DataLogDir} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			return fmt.Errorf("data directory: %w", err)
		}
	}

	pipe, err := pipeline.New(pipeline.Config{
		ServerID:               cfg.ServerID,
		Tick:                   cfg.TickTime,
		ContainerCheckInterval: cfg.ContainerCheckInterval,
		ContainerMaxPerMinute:  cfg.ContainerMaxPerMinute,
		ContainerMaxNeverUsed:  cfg.ContainerMaxNeverUsed,
		Engine: engine.Config{
			ExtendedTypes:   cfg.ExtendedTypes,
			SkipACL:         cfg.SkipACL,
			ReconfigEnabled: cfg.ReconfigEnabled,
		},
		Logger: logger,
	}, nil)
	if err != nil {
		return err
	}
	srv, err := netpoll.New(netpoll.Config{
		Addr:              cfg.ClientAddr(),
		MaxBuffer:         cfg.MaxBuffer,
		Tick:              cfg.TickTime,
		MinSessionTimeout: cfg.MinSessionTimeout,
		MaxSessionTimeout: cfg.MaxSessionTimeout,
		MaxClientCnxns:    cfg.MaxClientCnxns,
		FourLetterWords:   cfg.FourLetterWords,
		SuperDigest:       cfg.SuperDigest,
		SkipACL:           cfg.SkipACL,
		Info: netpoll.Info{
			ClientPort: cfg.ClientPort,
			DataDir:    cfg.DataDir,
			DataLogDir: cfg.DataLogDir,
			ServerID:   0,
			DirSize:    dirSize,
		},
		Logger: logger,
	}, pipe)
	if err != nil {
		return err
	}
	pipe.Start()
	if err := srv.Start(); err != nil {
		pipe.Stop()
		return err
	}
	logger.Info("meerkat serving", "addr", srv.Addr().String(), "dataDir", cfg.DataDir,
		"durability", "none: data lives in memory only")

	sig := make(chan os.Signal, 1)
	signal.Notify(sig, syscall.SIGTERM, syscall.SIGINT)
	s := <-sig
	logger.Info("stopping", "signal", s.String())
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	err = srv.Stop(ctx)
	pipe.Stop()
	return err
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
