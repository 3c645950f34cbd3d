// Package admin is Meerkat's HTTP admin server: /metrics in Prometheus text
// format, /commands/snapshot, which streams a snapshot of the running
// server (ZooKeeper 3.9's admin command of that name), and Go's profiler
// under /debug/pprof/. It runs on its own goroutines, away from the client
// port.
package admin

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/pprof"
	"strconv"
	"time"

	"github.com/VictoriaMetrics/metrics"

	"github.com/meerkat-zk/meerkat/snapshot"
)

// Snapshotter writes a snapshot of the current state to w.
type Snapshotter func(w io.Writer) (snapshot.Stats, error)

// Server is a running admin server.
type Server struct {
	http *http.Server
	ln   net.Listener
}

var snapshotDuration = metrics.NewHistogram("meerkat_snapshot_duration_seconds")

// Start listens on addr and serves in the background.
func Start(addr string, snap Snapshotter, logger *slog.Logger) (*Server, error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("admin: listen on %s: %w", addr, err)
	}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /metrics", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/plain; version=0.0.4")
		metrics.WritePrometheus(w, true)
	})
	mux.HandleFunc("GET /commands/snapshot", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/octet-stream")
		start := time.Now()
		st, err := snap(w)
		if err != nil {
			logger.Error("snapshot failed", "err", err)
			// Headers are gone; breaking the stream tells the client.
			panic(http.ErrAbortHandler)
		}
		snapshotDuration.UpdateDuration(start)
		logger.Info("snapshot served", "zxid", "0x"+strconv.FormatInt(st.Zxid, 16), "nodes", st.Nodes,
			"bytes", st.Bytes, "took", time.Since(start).String(), "remote", r.RemoteAddr)
	})
	mux.HandleFunc("/debug/pprof/", pprof.Index)
	mux.HandleFunc("/debug/pprof/cmdline", pprof.Cmdline)
	mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
	mux.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
	mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
	s := &Server{http: &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}, ln: ln}
	go func() {
		if err := s.http.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			logger.Error("admin server stopped", "err", err)
		}
	}()
	return s, nil
}

// Addr returns the address the server listens on.
func (s *Server) Addr() net.Addr { return s.ln.Addr() }

// Stop shuts the server down.
func (s *Server) Stop(ctx context.Context) error { return s.http.Shutdown(ctx) }
