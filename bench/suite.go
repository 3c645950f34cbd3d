package bench

import (
	"crypto/tls"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/meerkat-zk/meerkat/jute"
)

// Config is a whole side-by-side run.
type Config struct {
	// Quick selects the short profile (bench-quick) over the full one.
	Quick bool
	// Warmup and Duration are every load scenario's warm-up and measured
	// window.
	Warmup, Duration time.Duration
	// ValueSize is the size of the hot-set values, bytes; Keys the size of
	// the hot set.
	ValueSize, Keys int
	// Sweep is the list of connection counts (depth 1) of the read sweep.
	Sweep []int
	// Conns and Depth are the headline load: connections × outstanding.
	Conns, Depth int
	// Writers are the closed-loop writer counts of the write-only scenario.
	Writers []int
	// Fanout lists the numbers of watching sessions; FanoutRounds how many
	// setData each gets.
	Fanout       []int
	FanoutRounds int
	// StormWorkers open and close sessions in the session storm.
	StormWorkers int
	// TreeZnodes is the size of the large tree, TreeValue each znode's data.
	TreeZnodes, TreeValue int
	// Flood is the unread-replies flood (Flood): its flooders, requests
	// each, znode size and hold.
	Flood FloodOptions
	// JVM is ZooKeeper's JVM flags.
	JVM []string
	// Only, when not empty, names the groups of scenarios to run (Groups);
	// the others are left out of the run and its report.
	Only []string
	// Self is the meerkat-bench executable, run again for the echo server.
	Self string
	// report collects the log notes as servers stop.
	report *Report
	// Command is the command line, recorded in the report.
	Command string
	// LogDir receives each server's log; empty means a new directory under
	// the system's temporary directory.
	LogDir string
	// Logf receives progress lines.
	Logf func(format string, args ...any)
}

// DefaultJVM is ZooKeeper's heap and GC in the benchmark: a 2 GiB heap
// (enough for 10^6 znodes with room), G1 (the JDK 17 default on a
// server-class machine), full JIT (no TieredStopAtLevel).
var DefaultJVM = []string{"-Xmx2g", "-XX:+UseG1GC"}

// QuickConfig is the bench-quick profile: every scenario, short windows,
// 10^5 znodes.
func QuickConfig() Config {
	return Config{Quick: true, Warmup: time.Second, Duration: 3 * time.Second, ValueSize: 128, Keys: 1000,
		Sweep: []int{1, 8, 64, 256}, Conns: 64, Depth: 8, Writers: []int{1, 8, 64},
		Fanout: []int{1000, 10000}, FanoutRounds: 3, StormWorkers: 16,
		TreeZnodes: 100_000, TreeValue: 100, JVM: DefaultJVM,
		Flood: FloodOptions{Flooders: 4, Requests: 20_000, ValueSize: 1_000_000, Hold: 10 * time.Second}}
}

// FullConfig is the bench profile: longer windows, a wider sweep, 10^6
// znodes.
func FullConfig() Config {
	return Config{Warmup: 3 * time.Second, Duration: 10 * time.Second, ValueSize: 128, Keys: 1000,
		Sweep: []int{1, 4, 16, 64, 256, 1024}, Conns: 64, Depth: 8, Writers: []int{1, 8, 64},
		Fanout: []int{1000, 10000}, FanoutRounds: 5, StormWorkers: 16,
		TreeZnodes: 1_000_000, TreeValue: 100, JVM: DefaultJVM,
		Flood: FloodOptions{Flooders: 4, Requests: 20_000, ValueSize: 1_000_000, Hold: 20 * time.Second}}
}

// Run is one measurement of one system in one scenario.
type Run struct {
	Scenario string        `json:"scenario"`
	Label    string        `json:"label"`
	System   string        `json:"system"`
	Load     *Result       `json:"load,omitempty"`
	Fanout   *FanoutResult `json:"fanout,omitempty"`
	Tree     *TreeResult   `json:"tree,omitempty"`
	Flood    *FloodResult  `json:"flood,omitempty"`
	Fsync    *FsyncResult  `json:"fsync,omitempty"`
	Error    string        `json:"error,omitempty"`
}

// Report is everything one side-by-side run produced: the raw results that
// BENCHMARKS.md is generated from.
type Report struct {
	Started time.Time `json:"started"`
	Seconds float64   `json:"seconds"`
	Command string    `json:"command"`
	Quick   bool      `json:"quick"`
	// Only lists the groups of scenarios run, when not all were.
	Only     []string `json:"only,omitempty"`
	Machine  Machine  `json:"machine"`
	Settings Settings `json:"settings"`
	Runs     []Run    `json:"runs"`
	// Logs summarises the warnings and errors in each server's log.
	Logs []LogNote `json:"logs"`
}

// LogNote is what one server instance logged at warning level or above.
type LogNote struct {
	System   string   `json:"system"`
	Group    string   `json:"group"`
	Path     string   `json:"path"`
	Warnings int      `json:"warnings"`
	Samples  []string `json:"samples,omitempty"`
}

// Settings records how the servers and the load were configured.
type Settings struct {
	JVM          []string `json:"jvm"`
	ServerConfig []string `json:"server_config"`
	MeerkatEnv   string   `json:"meerkat_env"`
	Warmup       string   `json:"warmup"`
	Duration     string   `json:"duration"`
	ValueSize    int      `json:"value_size"`
	Keys         int      `json:"keys"`
	Conns        int      `json:"conns"`
	Depth        int      `json:"depth"`
	TreeZnodes   int      `json:"tree_znodes"`
	TreeValue    int      `json:"tree_value"`
	// TLS describes the TLS scenario's certificates and settings.
	TLS string `json:"tls,omitempty"`
	// TakeTurns is set when the request scenarios ran with both servers
	// up, taking turns (reports before it ran one server after the other).
	TakeTurns bool `json:"take_turns,omitempty"`
}

// disturbedCores is how much CPU other processes may use during a window
// before it counts as disturbed.
const disturbedCores = 0.25

// Scenario names.
const (
	ScReadSweep   = "read-sweep"
	ScGetData     = "getData"
	ScExists      = "exists"
	ScChildren    = "getChildren-1000"
	ScMixed90     = "mixed-90-10"
	ScMixed50     = "mixed-50-50"
	ScSetData     = "setData"
	ScChurn       = "create-delete-churn"
	ScOpenLoop    = "open-loop-getData"
	ScStorm       = "session-storm"
	ScFanout      = "watch-fanout"
	ScTree        = "large-tree"
	ScFsyncLimit  = "fsync-limit"
	ScEchoLimit   = "echo-limit"
	ScFlood       = "unread-replies-flood"
	ScTLSGetData  = "tls-getData"
	ScTLSSetData  = "tls-setData"
	childrenPath  = "/kids"
	churnPath     = "/churn"
	fanoutPath    = "/fan"
	childrenCount = 1000
)

// Groups of scenarios, as Config.Only and meerkat-bench -only name them;
// each group runs on servers of its own.
const (
	// GroupLimits is the fsync and echo limits of the machine.
	GroupLimits = "limits"
	// GroupLoad is the request scenarios, on one server per system.
	GroupLoad = "load"
	// GroupFanout is the watch fan-out.
	GroupFanout = "fanout"
	// GroupTree is the large tree.
	GroupTree = "tree"
	// GroupFlood is the flood of unread replies.
	GroupFlood = "flood"
	// GroupTLS is getData and setData over plaintext and over TLS on a
	// server with both ports.
	GroupTLS = "tls"
)

// Groups lists every group of scenarios in the order the suite runs them
// (for each system, after the limits).
var Groups = []string{GroupLimits, GroupLoad, GroupFanout, GroupTree, GroupFlood, GroupTLS}

// runs reports whether the run includes group.
func (c *Config) runs(group string) bool { return len(c.Only) == 0 || slices.Contains(c.Only, group) }

// RunSuite runs every scenario (or the groups c.Only names) against the
// limits, then Apache ZooKeeper and Meerkat (taking turns at the request
// scenarios, one server at a time for the other groups), and returns
// the report. A scenario that fails is recorded with its error and the
// suite goes on.
func RunSuite(c Config) *Report {
	start := time.Now()
	rep := &Report{Started: start, Command: c.Command, Quick: c.Quick, Only: c.Only, Machine: describeMachine(),
		Settings: Settings{JVM: c.JVM, ServerConfig: []string{"forceSync=yes", "maxClientCnxns=0", "tickTime=2000", "admin.enableServer=false (Meerkat: true on a free port, for /metrics)"},
			MeerkatEnv: "GOGC=" + envOr("GOGC", "100 (default)") + ", GOMAXPROCS=" + envOr("GOMAXPROCS", "Meerkat's default (the cores + 1)"),
			Warmup:     c.Warmup.String(), Duration: c.Duration.String(), ValueSize: c.ValueSize, Keys: c.Keys,
			Conns: c.Conns, Depth: c.Depth, TreeZnodes: c.TreeZnodes, TreeValue: c.TreeValue, TakeTurns: true}}
	if c.runs(GroupTLS) {
		rep.Settings.TLS = tlsSetup
	}
	if c.LogDir == "" {
		c.LogDir, _ = os.MkdirTemp("", "meerkat-bench-logs-")
	}
	c.report = rep
	add := func(r Run) {
		if r.Error != "" {
			c.Logf("%s %s %s: ERROR %s", r.Scenario, r.Label, r.System, r.Error)
		} else {
			c.Logf("%s %s %s: %s", r.Scenario, r.Label, r.System, r.brief())
		}
		rep.Runs = append(rep.Runs, r)
	}

	c.Logf("machine: %s, %d cores, %s", rep.Machine.CPU, rep.Machine.Cores, rep.Machine.Kernel)
	c.Logf("fsync semantics: %s", rep.Machine.Flush)
	if c.runs(GroupLimits) {
		c.limits(add)
	}

	c.Logf("server logs go to %s", c.LogDir)
	if c.runs(GroupLoad) {
		c.Logf("load scenarios: both servers up, taking turns")
		c.loadScenarios(add)
	}
	for _, system := range []string{ZooKeeper, Meerkat} {
		if c.runs(GroupFanout) {
			c.Logf("%s: watch fan-out", system)
			for _, r := range c.fanoutScenarios(system) {
				add(r)
			}
		}
		if c.runs(GroupTree) {
			c.Logf("%s: large tree (%d znodes)", system, c.TreeZnodes)
			add(c.treeScenario(system))
		}
		if c.runs(GroupFlood) {
			c.Logf("%s: flood of unread replies", system)
			add(c.floodScenario(system))
		}
		if c.runs(GroupTLS) {
			c.Logf("%s: getData and setData over plaintext and TLS", system)
			for _, r := range c.tlsScenarios(system) {
				add(r)
			}
		}
	}
	rep.Seconds = time.Since(start).Seconds()
	return rep
}

// limits measures the fsync and echo limits of the machine.
func (c *Config) limits(add func(Run)) {
	c.Logf("limits: fsync and group commit")
	for _, w := range c.Writers {
		r := Run{Scenario: ScFsyncLimit, Label: fmt.Sprintf("writers=%d", w), System: "disk"}
		res, err := FsyncLimit(os.TempDir(), w, 256, c.Duration)
		r.Fsync, r.Error = res, errString(err)
		add(r)
	}
	c.Logf("limits: echo server")
	if e, err := startEcho(c.Self, c.ValueSize); err != nil {
		add(Run{Scenario: ScEchoLimit, System: Echo, Error: err.Error()})
	} else {
		for _, n := range c.Sweep {
			add(c.echoLoad(loadLabel(n, 1), e.addr, e.pid(), n, 1))
		}
		add(c.echoLoad(c.headLabel(), e.addr, e.pid(), c.Conns, c.Depth))
		e.kill()
	}
}

func envOr(k, def string) string {
	if v := os.Getenv(k); v != "" {
		return v
	}
	return def
}

func errString(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}

func (c *Config) headLabel() string { return loadLabel(c.Conns, c.Depth) }

func (c *Config) mix(writePercent int) func(int) Stream {
	return Mix{Keys: c.Keys, ValueSize: c.ValueSize, WritePercent: writePercent, Read: jute.OpGetData}.Streams()
}

// echoLoad runs getData against the echo server at addr (process pid)
// and wraps it as a Run.
func (c *Config) echoLoad(label, addr string, pid, conns, depth int) Run {
	o := Options{Addr: addr, Conns: conns, Depth: depth, ServerPids: []int{pid}}
	return c.run(o, ScEchoLimit, label, Echo, nil, c.mix(0))
}

// run runs one load scenario with o (its address, connections, depth,
// rate and transport; the window is the suite's, and srv, when set, gives
// the server's pid and sampler) and wraps it as a Run.
func (c *Config) run(o Options, scenario, label, system string, srv *server, streams func(int) Stream) Run {
	o.Warmup, o.Duration = c.Warmup, c.Duration
	if srv != nil {
		o.ServerPids, o.Sampler = []int{srv.Pid()}, srv.sample
	}
	res, err := Load(o, streams)
	// The machine may be shared: a window in which other processes used a
	// quarter of a core or more is measured again (twice at most), and the
	// least disturbed attempt is kept; the report flags what stays
	// disturbed.
	for attempt := 1; attempt < 3 && err == nil && res.OtherCores > disturbedCores; attempt++ {
		c.Logf("%s %s %s: disturbed (other processes used %.2f cores), measuring again", scenario, label, system, res.OtherCores)
		again, aerr := Load(o, streams)
		if aerr == nil && again.OtherCores < res.OtherCores {
			res = again
		}
	}
	r := Run{Scenario: scenario, Label: label, System: system, Load: res, Error: errString(err)}
	if err == nil && res.Failures() > 0 {
		r.Error = fmt.Sprintf("%d failed checks: unexpected %v, out of order %d, unanswered %d, connection errors %v",
			res.Failures(), res.Unexpected, res.OutOfOrder, res.Unanswered, res.ConnErrors)
	}
	if err == nil && srv != nil && res.Server != nil && res.Writes.Count > 0 {
		if w := writesPerSync(system, res.Server); w > 0 {
			res.Server["writes_per_fsync"] = w
		}
	}
	return r
}

// startLoadServer starts system's server, creates the scenarios' znodes
// and warms the JIT (and Meerkat's heap) on the paths measured next, with
// three windows of the 90/10 mix that are not recorded.
func (c *Config) startLoadServer(system string) (*server, error) {
	srv, err := startServer(system, c.JVM)
	if err != nil {
		return nil, err
	}
	if err := c.setup(srv.Addr); err != nil {
		c.stop(srv, "load")
		return nil, fmt.Errorf("setup: %w", err)
	}
	warm := Options{Addr: srv.Addr, Conns: c.Conns, Depth: c.Depth, Duration: 3 * c.Duration}
	if _, err := Load(warm, c.mix(10)); err != nil {
		c.stop(srv, "load")
		return nil, fmt.Errorf("warm-up: %w", err)
	}
	return srv, nil
}

// loadScenarios runs the request scenarios on one server per system. Both
// servers are up at once and take turns at each scenario, the order
// swapped from one scenario to the next, so that the machine's drift
// between minutes (other tenants, its own clock) lands on both alike.
// The first scenario, getData at the headline load, starts with
// ZooKeeper: its peak sets the open-loop rate.
func (c *Config) loadScenarios(add func(Run)) {
	var servers []*server
	for _, system := range []string{ZooKeeper, Meerkat} {
		srv, err := c.startLoadServer(system)
		if err != nil {
			add(Run{Scenario: ScGetData, System: system, Error: err.Error()})
			continue
		}
		defer c.stop(srv, "load")
		servers = append(servers, srv)
	}
	head := c.headLabel()
	closed := func(sc, label string, conns, depth int, streams func(int) Stream) func(*server) Run {
		return func(srv *server) Run {
			return c.run(Options{Addr: srv.Addr, Conns: conns, Depth: depth}, sc, label, srv.Name, srv, streams)
		}
	}
	scenarios := []func(*server) Run{closed(ScGetData, head, c.Conns, c.Depth, c.mix(0))}
	for _, n := range c.Sweep {
		scenarios = append(scenarios, closed(ScReadSweep, loadLabel(n, 1), n, 1, c.mix(0)))
	}
	scenarios = append(scenarios,
		closed(ScExists, head, c.Conns, c.Depth, Mix{Keys: c.Keys, ValueSize: c.ValueSize, Read: jute.OpExists}.Streams()),
		closed(ScChildren, head, c.Conns, c.Depth, Children{Path: childrenPath, Count: childrenCount}.Streams()),
		closed(ScMixed90, head, c.Conns, c.Depth, c.mix(10)),
		closed(ScMixed50, head, c.Conns, c.Depth, c.mix(50)))
	for _, w := range c.Writers {
		scenarios = append(scenarios, closed(ScSetData, fmt.Sprintf("writers=%d depth=1", w), w, 1, c.mix(100)))
	}
	scenarios = append(scenarios, closed(ScChurn, "conns=16 depth=4", 16, 4, Churn{Parent: churnPath, ValueSize: c.ValueSize}.Streams()))
	var zkPeak float64
	scenarios = append(scenarios, func(srv *server) Run {
		if zkPeak == 0 {
			return Run{Scenario: ScOpenLoop, System: srv.Name, Error: "no ZooKeeper peak read rate to take half of"}
		}
		o := Options{Addr: srv.Addr, Conns: c.Conns, Depth: 256, Rate: zkPeak / 2}
		return c.run(o, ScOpenLoop, fmt.Sprintf("rate=%.0f/s conns=%d", o.Rate, c.Conns), srv.Name, srv, c.mix(0))
	}, func(srv *server) Run {
		res, err := Storm(srv.Addr, c.StormWorkers, c.Warmup, c.Duration, srv.Pid())
		r := Run{Scenario: ScStorm, Label: fmt.Sprintf("workers=%d", c.StormWorkers), System: srv.Name, Load: res, Error: errString(err)}
		if err == nil && res.Failures() > 0 {
			r.Error = fmt.Sprintf("%d failed checks: %v %v", res.Failures(), res.Unexpected, res.ConnErrors)
		}
		return r
	})
	for i, run := range scenarios {
		for _, srv := range inTurn(servers, i) {
			r := run(srv)
			add(r)
			if i == 0 && srv.Name == ZooKeeper && r.Load != nil {
				zkPeak = r.Load.Throughput
			}
		}
	}
}

// inTurn returns s rotated by turn: taken in this order turn after turn,
// each of s goes first as often as the others.
func inTurn[T any](s []T, turn int) []T {
	if len(s) == 0 {
		return s
	}
	k := turn % len(s)
	return append(slices.Clone(s[k:]), s[:k]...)
}

// setup creates the hot set, the parent with 1,000 children and the churn
// parent.
func (c *Config) setup(addr string) error {
	paths := []string{"/bench", childrenPath, churnPath}
	steps := []Creates{
		{Paths: func(i int) string { return paths[i] }, Count: len(paths)},
		{Paths: KeyPath, Count: c.Keys, ValueSize: c.ValueSize},
		{Paths: func(i int) string { return fmt.Sprintf("%s/c%04d", childrenPath, i) }, Count: childrenCount},
	}
	_, err := createAll(addr, nil, steps, time.Minute)
	return err
}

// CreateHotSet creates /bench and the hot set KeyPath(0..keys-1) with
// valueSize-byte values on the server at addr, each step bounded by limit.
// Nodes that exist already are kept; any other failed create is an error.
func CreateHotSet(addr string, keys, valueSize int, limit time.Duration) error {
	return CreateHotSetTLS(addr, nil, keys, valueSize, limit)
}

// CreateHotSetTLS is CreateHotSet over TLS when tc is set.
func CreateHotSetTLS(addr string, tc *tls.Config, keys, valueSize int, limit time.Duration) error {
	steps := []Creates{
		{Paths: func(int) string { return "/bench" }, Count: 1},
		{Paths: KeyPath, Count: keys, ValueSize: valueSize},
	}
	_, err := createAll(addr, tc, steps, limit)
	return err
}

// createAll runs the create steps in order, each from 8 connections with
// 32 requests outstanding (one connection for a handful), over TLS when tc
// is set, each bounded by limit, and checks every create succeeded. It
// returns the last step's rate.
func createAll(addr string, tc *tls.Config, steps []Creates, limit time.Duration) (lastRate float64, err error) {
	for i, s := range steps {
		o := Options{Addr: addr, TLS: tc, Conns: 8, Depth: 32, Duration: limit}
		if s.Count < o.Conns {
			o.Conns = 1
		}
		res, err := Load(o, s.Streams(o.Conns))
		if err != nil {
			return 0, err
		}
		if res.Failures() > 0 || res.Ops != int64(s.Count) {
			return 0, fmt.Errorf("create step %d: created %d of %d: %v %v", i, res.Ops, s.Count, res.Unexpected, res.ConnErrors)
		}
		lastRate = res.Throughput
	}
	return lastRate, nil
}

// fanoutScenarios runs the watch fan-out on a fresh server.
func (c *Config) fanoutScenarios(system string) []Run {
	srv, err := startServer(system, c.JVM)
	if err != nil {
		return []Run{{Scenario: ScFanout, System: system, Error: err.Error()}}
	}
	defer c.stop(srv, "fanout")
	var runs []Run
	for _, n := range c.Fanout {
		res, err := Fanout(srv.Addr, fanoutPath, n, c.FanoutRounds, 30*time.Second)
		runs = append(runs, Run{Scenario: ScFanout, Label: fmt.Sprintf("sessions=%d", n), System: system, Fanout: res, Error: errString(err)})
	}
	return runs
}

// floodScenario floods a fresh server with replies its clients do not
// read; the flooders hang up at the end.
func (c *Config) floodScenario(system string) Run {
	r := Run{Scenario: ScFlood, Label: fmt.Sprintf("flooders=%d requests=%d value=%d", c.Flood.Flooders, c.Flood.Requests, c.Flood.ValueSize), System: system}
	srv, err := startServer(system, c.JVM)
	if err != nil {
		r.Error = err.Error()
		return r
	}
	defer c.stop(srv, "flood")
	o := c.Flood
	o.Addr, o.ServerPid = srv.Addr, srv.Pid()
	r.Flood, err = Flood(o)
	r.Error = errString(err)
	return r
}

// stop saves the server's log, notes its warnings and errors, and stops
// it.
func (c *Config) stop(srv *server, group string) {
	log := srv.log()
	srv.stop()
	path := filepath.Join(c.LogDir, srv.Name+"-"+group+".log")
	_ = os.WriteFile(path, []byte(log), 0o644)
	note := LogNote{System: srv.Name, Group: group, Path: path}
	seen := map[string]bool{}
	for _, line := range strings.Split(log, "\n") {
		if !(strings.Contains(line, "level=WARN") || strings.Contains(line, "level=ERROR") ||
			strings.Contains(line, " WARN ") || strings.Contains(line, " ERROR ")) {
			continue
		}
		note.Warnings++
		key := line
		if i := strings.Index(line, "msg="); i >= 0 {
			key = line[i:]
		} else if i := strings.Index(line, "] "); i >= 0 {
			key = line[i+2:]
		}
		key = truncate(key, 160)
		if !seen[key] && len(note.Samples) < 5 {
			seen[key] = true
			note.Samples = append(note.Samples, truncate(line, 300))
		}
	}
	c.report.Logs = append(c.report.Logs, note)
}

// truncate returns at most the first n bytes of s.
func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}

// brief is a one-line summary for the progress log.
func (r Run) brief() string {
	switch {
	case r.Load != nil:
		l := r.Load
		return fmt.Sprintf("%.0f ops/s, read p50/p99 %.0f/%.0f µs, write p50/p99 %.0f/%.0f µs, gen %.2f µs/op (%.2f cores), server %.2f µs/op",
			l.Throughput, l.Reads.P50, l.Reads.P99, l.Writes.P50, l.Writes.P99, l.GenCPUPerOp, l.GenCores, l.ServerCPUPerOp)
	case r.Fanout != nil:
		return fmt.Sprintf("all sessions notified in %.1f ms (median of %v), setup %.1f s", r.Fanout.MedianAllMs, r.Fanout.AllMs, r.Fanout.SetupSeconds)
	case r.Tree != nil:
		t := r.Tree
		return fmt.Sprintf("%.0f B/znode RSS, load %.0f creates/s, kill-restart %.0f ms, clean restart %.0f ms", t.RSSPerZnode, t.LoadRate, t.KillRestartMs, t.CleanRestartMs)
	case r.Flood != nil:
		f := r.Flood
		return fmt.Sprintf("RSS %d MiB before, peak %d MiB; well-behaved client %d reads, p99 %.0f µs, %d failures",
			f.BaseRSS>>20, f.PeakRSS>>20, f.GoodOps, f.Good.P99, f.GoodFailures)
	case r.Fsync != nil:
		f := r.Fsync
		return fmt.Sprintf("%.0f syncs/s, %.0f records/s, %.1f records/sync, commit p50/p99 %.0f/%.0f µs", f.SyncsPerSec, f.RecordsPerSec, f.RecordsPerSync, f.Commit.P50, f.Commit.P99)
	}
	return ""
}

// WriteJSON writes the report as indented JSON.
func (rep *Report) WriteJSON(path string) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	b, err := json.MarshalIndent(rep, "", "  ")
	if err != nil {
		return err
	}
	return os.WriteFile(path, append(b, '\n'), 0o644)
}

// ReadJSON reads a report written by WriteJSON.
func ReadJSON(path string) (*Report, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var rep Report
	if err := json.Unmarshal(b, &rep); err != nil {
		return nil, fmt.Errorf("bench: %s: %w", path, err)
	}
	return &rep, nil
}
