// Package admin is Meerkat's HTTP admin server: ZooKeeper's AdminServer
// commands as JSON under /commands, /metrics in Prometheus text format,
// and two opt-ins, /commands/snapshot (ZooKeeper 3.9's command of that
// name: a snapshot of the running server) and Go's profiler under
// /debug/pprof/; and the metrics provider's listener, which serves
// /metrics alone. They run on their own goroutines, away from the client
// port.
package admin

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/pprof"
	"net/url"
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

// Handlers are what the admin server answers with.
type Handlers struct {
	// Commands lists the AdminServer commands (the /commands index);
	// Command answers /commands/<name> (or a four-letter alias) as a JSON
	// object.
	Commands []string
	Command  func(name string, params url.Values) map[string]any
	// Metrics serves /metrics.
	Metrics MetricsWriter
	// Snapshot, when set, serves /commands/snapshot: every znode,
	// unauthenticated, so it is an opt-in (admin.snapshot.enabled).
	Snapshot Snapshotter
	// Profiler serves Go's profiler under /debug/pprof/ (an opt-in too).
	Profiler bool
}

// Start listens on addr and serves h in the background: ZooKeeper's
// AdminServer commands under /commands, /metrics, and the opt-ins.
func Start(addr string, h Handlers, logger *slog.Logger) (*Server, error) {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /metrics", metricsHandler(h.Metrics, logger))
	mux.HandleFunc("GET /commands", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/html")
		for _, c := range h.Commands {
			fmt.Fprintf(w, "<a href=\"/commands/%s\">%s</a>\n<br/>\n", c, c)
		}
	})
	mux.HandleFunc("/commands/{name}", func(w http.ResponseWriter, r *http.Request) {
		name := r.PathValue("name")
		if name == "snapshot" && h.Snapshot != nil {
			serveSnapshot(w, r, h.Snapshot, logger)
			return
		}
		if err := r.ParseForm(); err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		// ZooKeeper answers 200 with the error in the JSON.
		w.Header().Set("Content-Type", "application/json")
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		_ = enc.Encode(h.Command(name, r.Form))
	})
	if h.Profiler {
		mux.HandleFunc("/debug/pprof/", pprof.Index)
		mux.HandleFunc("/debug/pprof/cmdline", pprof.Cmdline)
		mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
		mux.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
		mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
	}
	return serve("admin", addr, mux, logger)
}

// serveSnapshot streams a snapshot of the running server.
func serveSnapshot(w http.ResponseWriter, r *http.Request, snap Snapshotter, logger *slog.Logger) {
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

// Every metric is written with # HELP and # TYPE lines.
func init() { metrics.ExposeMetadata(true) }

// WriteProcessMetrics writes Meerkat's own metrics (meerkat_*) and the Go
// runtime's and process's.
func WriteProcessMetrics(w io.Writer) { metrics.WritePrometheus(w, true) }

// Addr returns the address the server listens on.
func (s *Server) Addr() net.Addr { return s.ln.Addr() }

// Stop shuts the server down.
func (s *Server) Stop(ctx context.Context) error { return s.http.Shutdown(ctx) }
