// Package server starts and stops a whole Meerkat server from a parsed
// configuration: recovery (the checkpoint, then the log after it), the write
// pipeline, the checkpointer, the client listener and the admin server, and
// for a member of an ensemble the raft node and the peer transport. The
// meerkat command is flags and signals around it; tests start servers in
// process with it.
package server

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/meerkat-zk/meerkat/admin"
	"github.com/meerkat-zk/meerkat/checkpoint"
	"github.com/meerkat-zk/meerkat/config"
	"github.com/meerkat-zk/meerkat/engine"
	"github.com/meerkat-zk/meerkat/netpoll"
	"github.com/meerkat-zk/meerkat/pipeline"
	"github.com/meerkat-zk/meerkat/snapshot"
	"github.com/meerkat-zk/meerkat/wal"
	"github.com/meerkat-zk/meerkat/zkauth"
	"github.com/meerkat-zk/meerkat/zkmetrics"
	"github.com/meerkat-zk/meerkat/zktls"
)

// Server is one running Meerkat server.
type Server struct {
	cfg    *config.Config
	logger *slog.Logger
	store  *checkpoint.Store
	// log is a standalone server's; an ensemble member has member instead.
	log    *wal.WAL
	member *member
	cp     *checkpoint.Checkpointer
	pipe   *pipeline.Pipeline
	client *netpoll.Server
	admin  *admin.Server
	// metricsHTTP is the metrics provider's listener, when configured.
	metricsHTTP *admin.Server
	// failed is closed, with failure set, when the server cannot go on.
	failed   chan struct{}
	failure  error
	failOnce sync.Once

	// running is set once the pipeline and checkpointer goroutines run.
	running bool

	stopOnce sync.Once
	stopErr  error
}

// Start recovers the state from cfg's data directories and starts serving.
// cfg must have been validated (config.Config.Validate) and made absolute.
func Start(cfg *config.Config, logger *slog.Logger) (*Server, error) {
	if err := prepareDataDirs(cfg); err != nil {
		return nil, err
	}
	s := &Server{cfg: cfg, logger: logger, failed: make(chan struct{})}
	if err := s.start(); err != nil {
		s.abort()
		return nil, err
	}
	return s, nil
}

func (s *Server) start() error {
	cfg, logger := s.cfg, s.logger
	begin := time.Now()
	var err error
	if s.store, err = checkpoint.Open(cfg.CheckpointDir(), logger, nil); err != nil {
		return err
	}
	state, err := s.store.Load()
	if err != nil {
		return err
	}
	checkpointZxid := int64(0)
	if state != nil {
		checkpointZxid = state.Zxid()
	} else {
		state = engine.NewState()
	}
	loaded := time.Since(begin)
	if !cfg.ForceSync {
		logger.Warn("forceSync=no: acknowledged writes may be lost by a power failure")
	}
	s.cp = checkpoint.NewCheckpointer(s.store, checkpointZxid, state.Applied(),
		checkpoint.Policy{Entries: int64(cfg.SnapCount), Every: 30 * time.Second}, logger)
	pcfg := pipeline.Config{
		ServerID:               cfg.ServerID,
		Tick:                   cfg.TickTime,
		ContainerCheckInterval: cfg.ContainerCheckInterval,
		ContainerMaxPerMinute:  cfg.ContainerMaxPerMinute,
		ContainerMaxNeverUsed:  cfg.ContainerMaxNeverUsed,
		Policy:                 Policy(cfg),
		Checkpoints:            s.cp,
		OnFatal:                s.fail,
		Logger:                 logger,
	}
	if cfg.Distributed() {
		if err := s.openMember(state, &pcfg); err != nil {
			return err
		}
	} else {
		if s.log, err = wal.Open(cfg.WALDir(), wal.Options{SegmentSize: cfg.PreAllocSize, NoSync: !cfg.ForceSync, Logger: logger}); err != nil {
			return err
		}
		replayed, err := pipeline.Recover(state, s.log)
		if err != nil {
			return err
		}
		logger.Info("recovered", "zxid", fmt.Sprintf("0x%x", state.Zxid()), "checkpoint_zxid", fmt.Sprintf("0x%x", checkpointZxid),
			"znodes", state.Publish().Tree.Count(), "log_entries_replayed", replayed,
			"load_ms", loaded.Milliseconds(), "total_ms", time.Since(begin).Milliseconds())
		pcfg.Log = s.log
	}
	// ZooKeeper's dbinittime: loading the checkpoint and replaying the log.
	zkmetrics.DBInitTime.Add(time.Since(begin).Milliseconds())
	if s.pipe, err = pipeline.New(pcfg, state); err != nil {
		return err
	}
	ncfg := netpoll.Config{
		Addr:                  cfg.ClientAddr(),
		MaxBuffer:             cfg.MaxBuffer,
		Tick:                  cfg.TickTime,
		MinSessionTimeout:     cfg.MinSessionTimeout,
		MaxSessionTimeout:     cfg.MaxSessionTimeout,
		MaxClientCnxns:        cfg.MaxClientCnxns,
		MaxCnxns:              cfg.MaxCnxns,
		Loops:                 cfg.SelectorThreads,
		MaxWatches:            cfg.ClientMaxWatches,
		ConnThrottle:          cfg.ConnThrottle,
		MaxOutstanding:        outstandingLimit(cfg),
		OutboundThrottleBytes: cfg.ClientOutboundThrottleBytes,
		SlowConsumerBytes:     cfg.ClientSlowConsumerBytes,
		FourLetterWords:       cfg.FourLetterWords,
		SuperDigest:           cfg.SuperDigest,
		SkipACL:               cfg.SkipACL,
		Info: netpoll.Info{
			ClientPort:    cfg.ClientPort,
			DataDir:       cfg.DataDir,
			DataLogDir:    cfg.DataLogDir,
			DirSize:       dirSize,
			InitialConfig: initialConfig(cfg),
			LastSnapshot:  s.cp.LastFlush,
		},
		Logger: logger,
	}
	if ncfg.Digest, err = zkauth.NewDigest(cfg.DigestAlgorithm); err != nil {
		return err
	}
	if cfg.EnforceAuth {
		ncfg.EnforceAuthSchemes = cfg.EnforceAuthSchemes
	}
	if cfg.TLS.Enabled() {
		if ncfg.TLS, err = zktls.NewContext(cfg.TLS.Settings, logger); err != nil {
			return fmt.Errorf("client TLS: %w", err)
		}
		if cfg.TLS.SecurePort != 0 {
			ncfg.SecureAddr = cfg.TLS.SecureAddr()
		}
		ncfg.PortUnification = cfg.TLS.PortUnification
		ncfg.X509SuperUser = cfg.TLS.SuperUser
	}
	if s.member != nil {
		ncfg.Info.ServerID = cfg.ServerID
		ncfg.Info.Membership = s.member.membership(cfg)
		ncfg.Quorum = s.quorum
		ncfg.LocalSessions = cfg.LocalSessions
	}
	if s.client, err = netpoll.New(ncfg, s.pipe); err != nil {
		return err
	}
	if s.member != nil {
		s.client.SetMode(netpoll.ModeNotServing)
		if err := s.member.start(s); err != nil {
			return err
		}
	}
	s.cp.Start()
	s.pipe.Start()
	s.running = true
	if cfg.AdminEnabled {
		h := admin.Handlers{Commands: netpoll.AdminCommands, Command: s.client.AdminCommand, Metrics: s.writeMetrics,
			Profiler: cfg.AdminProfiler}
		if cfg.AdminSnapshot {
			h.Snapshot = s.snapshotTo
		}
		if s.admin, err = admin.Start(cfg.AdminAddr(), h, logger); err != nil {
			return err
		}
	}
	if cfg.MetricsPrometheus {
		if s.metricsHTTP, err = admin.StartMetrics(cfg.MetricsAddr(), s.writeMetrics, logger); err != nil {
			return err
		}
		logger.Info("metrics provider serving", "addr", s.metricsHTTP.Addr().String())
	}
	if err := s.client.Start(); err != nil {
		return err
	}
	logger.Info("meerkat serving", "addr", s.client.Addr().String(), "dataDir", cfg.DataDir, "dataLogDir", cfg.DataLogDir)
	if a := s.client.SecureAddr(); a != nil {
		logger.Info("serving TLS clients", "secure_addr", a.String(), "port_unification", cfg.TLS.PortUnification)
	}
	return nil
}

// snapshotTo streams a snapshot of the current version to w (the admin
// server's snapshot command).
func (s *Server) snapshotTo(w io.Writer) (snapshot.Stats, error) {
	v, sessions, err := s.pipe.Capture()
	if err != nil {
		return snapshot.Stats{}, err
	}
	return snapshot.Write(w, v, sessions, time.Now())
}

// writeMetrics writes everything the server measures in Prometheus' text
// format: ZooKeeper's metrics under its names, then Meerkat's own.
func (s *Server) writeMetrics(w io.Writer) error {
	if err := s.client.Metrics().WritePrometheus(w); err != nil {
		return err
	}
	admin.WriteProcessMetrics(w)
	return nil
}

// writeSnapshot streams a snapshot of the current version to w, for a
// member catching up.
func (s *Server) writeSnapshot(w io.Writer) error {
	begin := time.Now()
	st, err := s.snapshotTo(w)
	if err == nil {
		s.logger.Info("sent a snapshot to a member catching up", "zxid", fmt.Sprintf("0x%x", st.Zxid),
			"znodes", st.Nodes, "ms", time.Since(begin).Milliseconds())
	}
	return err
}

// Mode is what the server reports as its mode: standalone, leader,
// follower, observer, or "" while a member has no leader.
func (s *Server) Mode() string { return s.client.Mode() }

// Addr is the client listener's address.
func (s *Server) Addr() *net.TCPAddr { return s.client.Addr() }

// AdminAddr is the admin server's address, nil when it is disabled.
func (s *Server) AdminAddr() net.Addr {
	if s.admin == nil {
		return nil
	}
	return s.admin.Addr()
}

// Failed is closed when the server cannot go on (its log failed); Err
// then says why. Stop it then.
func (s *Server) Failed() <-chan struct{} { return s.failed }

// Err is why the server failed, once Failed is closed.
func (s *Server) Err() error {
	select {
	case <-s.failed:
		return s.failure
	default:
		return nil
	}
}

// fail records that the server cannot go on.
func (s *Server) fail(err error) {
	s.failOnce.Do(func() {
		s.logger.Error("the server cannot go on", "err", err)
		s.failure = err
		close(s.failed)
	})
}

// Stop stops serving, waiting up to ctx for the clients' replies to go
// out, and checkpoints everything applied so that the next start replays
// nothing. If the checkpoint cannot finish (a full disk), the log keeps it
// all. Stop is idempotent.
func (s *Server) Stop(ctx context.Context) error {
	s.stopOnce.Do(func() {
		s.stopErr = s.client.Stop(ctx)
		for _, h := range []*admin.Server{s.admin, s.metricsHTTP} {
			if h != nil {
				_ = h.Stop(ctx)
			}
		}
		if s.member != nil {
			s.member.stop()
		}
		s.pipe.Stop()
		last := s.pipe.FinalDelta()
		closeStore := s.cp.Stop(&last, 10*time.Second)
		if s.log != nil {
			if closeStore {
				if err := s.log.RemoveThrough(uint64(s.cp.Durable())); err != nil {
					s.logger.Warn("could not remove old log segments", "err", err)
				}
			}
			s.log.Close()
		}
		if s.member != nil {
			s.member.close()
		}
		// Closing pebble waits for its flushes; after a final flush that
		// did not finish, leave it open rather than hang.
		if closeStore {
			s.stopErr = errors.Join(s.stopErr, s.store.Close())
		}
	})
	return s.stopErr
}

// abort releases what a failed start opened.
func (s *Server) abort() {
	for _, h := range []*admin.Server{s.admin, s.metricsHTTP} {
		if h != nil {
			_ = h.Stop(context.Background())
		}
	}
	if s.member != nil {
		s.member.stop()
	}
	if s.running {
		s.pipe.Stop()
		s.cp.Stop(nil, 10*time.Second)
	}
	if s.log != nil {
		s.log.Close()
	}
	if s.member != nil {
		s.member.close()
	}
	if s.store != nil {
		_ = s.store.Close()
	}
}

// Policy is the engine.Policy a server with cfg stamps into the writes it
// accepts.
func Policy(cfg *config.Config) engine.Policy {
	return engine.Policy{ExtendedTypes: cfg.ExtendedTypes, SkipACL: cfg.SkipACL, ReconfigEnabled: cfg.ReconfigEnabled,
		EnforceQuota: cfg.EnforceQuota, LocalSessions: cfg.LocalSessions && cfg.Distributed(), X509: cfg.TLS.X509()}
}

// outstandingLimit is the cap on requests read and not yet answered:
// globalOutstandingLimit, or request_throttle_max_requests when that is
// lower (0 leaves netpoll's default).
func outstandingLimit(cfg *config.Config) int {
	limit := cfg.GlobalOutstandingLimit
	if limit == 0 {
		limit = netpoll.DefaultMaxOutstanding
	}
	if cfg.RequestThrottleMax > 0 {
		limit = min(limit, cfg.RequestThrottleMax)
	}
	return limit
}

// initialConfig is the text of the configuration file the server started
// from, or of the embedded default.
func initialConfig(cfg *config.Config) string {
	if cfg.Path == "" {
		return config.DefaultText()
	}
	b, err := os.ReadFile(cfg.Path)
	if err != nil {
		return ""
	}
	return string(b)
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
