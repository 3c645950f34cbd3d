// Package admin is Meerkat's HTTP admin server: /metrics in Prometheus text
// format, /commands/snapshot, which streams a snapshot of the running
// server (ZooKeeper 3.9's admin command of that name), and Go's profiler
// under /debug/pprof/; and the metrics provider's listener, which serves
// /metrics alone. They run on their own goroutines, away from the client
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

// MetricsWriter writes the server's metrics in Prometheus' text format.
type MetricsWriter func(w io.Writer) error

// Server is a running admin server.
type Server struct {
	http *http.Server
	ln   net.Listener
}

var snapshotDuration = metrics.NewPrometheusHistogram("meerkat_snapshot_duration_seconds")

// Start listens on addr and serves /metrics, /commands/snapshot and the
// profiler in the background.
func Start(addr string, snap Snapshotter, writeMetrics MetricsWriter, logger *slog.Logger) (*Server, error) {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /metrics", metricsHandler(writeMetrics, logger))
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
	return serve("admin", addr, mux, logger)
}

// StartMetrics listens on addr for Prometheus, as ZooKeeper's
// PrometheusMetricsProvider does on metricsProvider.httpHost:httpPort: it
// serves /metrics and nothing else, so that the port can be opened to a
// scraper without exposing the data or the profiler.
func StartMetrics(addr string, writeMetrics MetricsWriter, logger *slog.Logger) (*Server, error) {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /metrics", metricsHandler(writeMetrics, logger))
	return serve("metrics provider", addr, mux, logger)
}

func metricsHandler(writeMetrics MetricsWriter, logger *slog.Logger) http.HandlerFunc {
	return func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/plain; version=0.0.4; charset=utf-8")
		if err := writeMetrics(w); err != nil {
			logger.Debug("metrics scrape cut short", "err", err)
		}
	}
}

// serve listens on addr and serves mux in the background.
func serve(what, addr string, mux *http.ServeMux, logger *slog.Logger) (*Server, error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("admin: %s: listen on %s: %w", what, addr, err)
	}
	s := &Server{http: &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}, ln: ln}
	go func() {
		if err := s.http.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			logger.Error(what+" stopped", "err", err)
		}
	}()
	return s, nil
}

// WriteProcessMetrics writes Meerkat's own metrics (meerkat_*) and the Go
// runtime's and process's, with # HELP and # TYPE lines.
func WriteProcessMetrics(w io.Writer) {
	metrics.ExposeMetadata(true)
	metrics.WritePrometheus(w, true)
}

// Addr returns the address the server listens on.
func (s *Server) Addr() net.Addr { return s.ln.Addr() }

// Stop shuts the server down.
func (s *Server) Stop(ctx context.Context) error { return s.http.Shutdown(ctx) }
