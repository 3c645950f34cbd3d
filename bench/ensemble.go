package bench

import (
	"cmp"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/meerkat-zk/meerkat/internal/zktest"
	"github.com/meerkat-zk/meerkat/jute"
)

// EnsembleConfig is the three-server comparison (meerkat-bench ensemble):
// the same loads as the standalone suite with connections spread over
// every member, the failover after the leader's SIGKILL, and the catch-up
// of a wiped follower.
type EnsembleConfig struct {
	// Warmup and Duration are each load's warm-up and measured window.
	Warmup, Duration time.Duration
	// Keys and ValueSize are the hot set.
	Keys, ValueSize int
	// Conns and Depth are the read and mixed loads; Writers the
	// connections of the setData loads (depth 1 each, and Depth each in
	// the pipelined one).
	Conns, Depth, Writers int
	// Rounds is how many windows of each load each system gets, the two
	// systems alternating.
	Rounds int
	// FailoverRounds is how many times the leader is SIGKILLed.
	FailoverRounds int
	// CatchUpZnodes (of CatchUpValue bytes) are loaded before a follower
	// is wiped and restarted.
	CatchUpZnodes, CatchUpValue int
	// JVM is ZooKeeper's JVM flags.
	JVM []string
	// Command is the command line, recorded in the results.
	Command string
	// Logf receives progress lines.
	Logf func(format string, args ...any) `json:"-"`
}

// QuickEnsembleConfig is the short profile: 3 rounds of 3 s windows,
// 10^5 znodes.
func QuickEnsembleConfig() EnsembleConfig {
	return EnsembleConfig{Warmup: time.Second, Duration: 3 * time.Second, Rounds: 3, Keys: 1000, ValueSize: 128,
		Conns: 64, Depth: 8, Writers: 64, FailoverRounds: 3, CatchUpZnodes: 100_000, CatchUpValue: 100, JVM: DefaultJVM}
}

// FullEnsembleConfig is the long profile: 5 rounds of 6 s windows, 10^6
// znodes.
func FullEnsembleConfig() EnsembleConfig {
	c := QuickEnsembleConfig()
	c.Warmup, c.Duration, c.Rounds, c.FailoverRounds, c.CatchUpZnodes = 2*time.Second, 6*time.Second, 5, 5, 1_000_000
	return c
}

// EnsembleReport is a whole ensemble run, as bench/results/ensemble.json
// keeps it.
type EnsembleReport struct {
	Started time.Time        `json:"started"`
	Seconds float64          `json:"seconds"`
	Command string           `json:"command"`
	Machine Machine          `json:"machine"`
	Config  EnsembleConfig   `json:"config"`
	Systems []EnsembleResult `json:"systems"`
}

// EnsembleResult is what one system's ensemble measured.
type EnsembleResult struct {
	System string `json:"system"`
	// Reads, Mixed (10 % setData), Writes (setData only, one request
	// outstanding per connection) and PipelinedWrites (setData only, Depth
	// outstanding per connection, as clients that write asynchronously
	// send them) are the loads, each its median round.
	Reads, Mixed, Writes, PipelinedWrites *Result
	// ReadRounds, MixedRounds, WriteRounds and PipelinedWriteRounds are
	// every round's ops/s, in the order measured.
	ReadRounds           []float64 `json:"read_rounds"`
	MixedRounds          []float64 `json:"mixed_rounds"`
	WriteRounds          []float64 `json:"write_rounds"`
	PipelinedWriteRounds []float64 `json:"pipelined_write_rounds"`
	// FailoverMs are, per round, the time from the leader's SIGKILL to
	// the first acknowledged write through a surviving member (a new
	// session, then setData).
	FailoverMs []float64 `json:"failover_ms"`
	// CatchUpMs is the time from restarting a wiped follower to its
	// reporting the leader's zxid.
	CatchUpMs float64 `json:"catch_up_ms"`
	Error     string  `json:"error,omitempty"`
}

// RunEnsembles starts a ZooKeeper and a Meerkat ensemble side by side and
// measures the loads on them in alternation: Rounds rounds, the order
// swapped each round, so that both systems meet this shared machine's
// good and bad moments alike (a lone run of either moves by up to 2×
// between minutes). Each load's figure is its median round. Then each
// ensemble's failover and catch-up are measured, one system after the
// other.
func RunEnsembles(c EnsembleConfig) *EnsembleReport {
	rep := &EnsembleReport{Started: time.Now(), Command: c.Command, Machine: describeMachine(), Config: c}
	runs := []*ensembleRun{{res: EnsembleResult{System: ZooKeeper}}, {res: EnsembleResult{System: Meerkat}}}
	for _, r := range runs {
		c.Logf("%s: three servers", r.res.System)
		r.tb = &runnerTB{}
		r.do(&c, func() error { return c.start(r) })
	}
	for _, l := range ensembleLoads {
		for round := range max(c.Rounds, 1) {
			for _, r := range inTurn(runs, round) {
				r.do(&c, func() error { return c.measureRound(r, l) })
			}
		}
		for _, r := range runs {
			r.keepMedian(l)
		}
	}
	for _, r := range runs {
		r.do(&c, func() error { return c.failoverAndCatchUp(r) })
		r.tb.close()
		rep.Systems = append(rep.Systems, r.res)
	}
	rep.Seconds = time.Since(rep.Started).Seconds()
	return rep
}

// ensembleRun is one system's ensemble during RunEnsembles.
type ensembleRun struct {
	res EnsembleResult
	tb  *runnerTB
	e   *zktest.Ensemble
	// rounds are the current load's results so far.
	rounds []*Result
}

// do runs step unless an earlier one failed; the first failure is the
// run's error and ends its measurements.
func (r *ensembleRun) do(c *EnsembleConfig, step func() error) {
	if r.res.Error != "" {
		return
	}
	if r.res.Error = errString(guard(step)); r.res.Error != "" {
		c.Logf("%s: %s", r.res.System, r.res.Error)
	}
}

// ensembleLoad is one of the loads measured in rounds.
type ensembleLoad struct {
	name         string
	writePercent int
	// shape is the load's connections and requests outstanding on each.
	shape func(*EnsembleConfig) (conns, depth int)
	// of is where a system's figures for the load go: its median round
	// and every round's ops/s.
	of func(*EnsembleResult) (**Result, *[]float64)
}

var ensembleLoads = []ensembleLoad{
	{"getData", 0, readShape, func(r *EnsembleResult) (**Result, *[]float64) { return &r.Reads, &r.ReadRounds }},
	{"mixed-90-10", 10, readShape, func(r *EnsembleResult) (**Result, *[]float64) { return &r.Mixed, &r.MixedRounds }},
	{"setData", 100, writerShape, func(r *EnsembleResult) (**Result, *[]float64) { return &r.Writes, &r.WriteRounds }},
	{"setData-pipelined", 100, pipelinedWriterShape, func(r *EnsembleResult) (**Result, *[]float64) {
		return &r.PipelinedWrites, &r.PipelinedWriteRounds
	}},
}

func readShape(c *EnsembleConfig) (int, int)            { return c.Conns, c.Depth }
func writerShape(c *EnsembleConfig) (int, int)          { return c.Writers, 1 }
func pipelinedWriterShape(c *EnsembleConfig) (int, int) { return c.Writers, c.Depth }

// oneLoopEach gives each of the three servers, which share the machine,
// one selector thread (ZooKeeper's default on two cores) or event loop
// (Meerkat's default is one per scheduler processor: the cores + 1).
const oneLoopEach = "nio.numSelectorThreads=1"

// start starts r's ensemble (fsync on) and creates the hot set.
func (c *EnsembleConfig) start(r *ensembleRun) error {
	extra := []string{"forceSync=yes", "maxClientCnxns=0", oneLoopEach}
	o := zktest.EnsembleOptions{Options: zktest.Options{JVMArgs: c.JVM, Extra: extra}}
	if r.res.System == ZooKeeper {
		r.e = zktest.StartZooKeeperEnsemble(r.tb, o)
	} else {
		r.e = zktest.StartMeerkatEnsemble(r.tb, o)
	}
	lead := r.e.Leader(r.tb)
	return CreateHotSet(r.e.Members[lead].Addr, c.Keys, c.ValueSize, time.Minute)
}

// measureRound runs one round of load l on r's ensemble, connections
// spread over every member.
func (c *EnsembleConfig) measureRound(r *ensembleRun, l ensembleLoad) error {
	conns, depth := l.shape(c)
	o := Options{Addr: r.e.ConnectString(), Conns: conns, Depth: depth, Warmup: c.Warmup, Duration: c.Duration}
	for _, m := range r.e.Members {
		o.ServerPids = append(o.ServerPids, m.Pid())
	}
	res, err := Load(o, Mix{Keys: c.Keys, ValueSize: c.ValueSize, WritePercent: l.writePercent, Read: jute.OpGetData}.Streams())
	if err != nil {
		return fmt.Errorf("%s: %w", l.name, err)
	}
	if n := res.Failures(); n > 0 {
		return fmt.Errorf("%s: %d failed checks: %v %v", l.name, n, res.Unexpected, res.ConnErrors)
	}
	c.Logf("%s %s round %d: %.0f ops/s", r.res.System, l.name, len(r.rounds)+1, res.Throughput)
	r.rounds = append(r.rounds, res)
	return nil
}

// keepMedian records the rounds of load l and keeps its median round (the
// lower middle one of an even count) as the load's result.
func (r *ensembleRun) keepMedian(l ensembleLoad) {
	rounds := r.rounds
	r.rounds = nil
	if len(rounds) == 0 {
		return
	}
	result, tput := l.of(&r.res)
	for _, res := range rounds {
		*tput = append(*tput, res.Throughput)
	}
	slices.SortFunc(rounds, func(a, b *Result) int { return cmp.Compare(a.Throughput, b.Throughput) })
	*result = rounds[(len(rounds)-1)/2]
}

// failoverAndCatchUp SIGKILLs r's leader FailoverRounds times, then wipes
// and restarts a follower.
func (c *EnsembleConfig) failoverAndCatchUp(r *ensembleRun) error {
	for round := range c.FailoverRounds {
		d, err := failover(r.tb, r.e)
		if err != nil {
			return fmt.Errorf("failover round %d: %w", round+1, err)
		}
		r.res.FailoverMs = append(r.res.FailoverMs, ms(d))
		c.Logf("%s failover %d: %.0f ms", r.res.System, round+1, ms(d))
	}
	var err error
	if r.res.CatchUpMs, err = c.catchUp(r.tb, r.e); err != nil {
		return fmt.Errorf("catch-up: %w", err)
	}
	c.Logf("%s catch-up of %d znodes: %.0f ms", r.res.System, c.CatchUpZnodes, r.res.CatchUpMs)
	return nil
}

// failover SIGKILLs the leader and returns how long it took until a write
// through another member was acknowledged; then it restarts the old
// leader and waits until all three serve under one leader again.
func failover(tb *runnerTB, e *zktest.Ensemble) (time.Duration, error) {
	lead := e.Leader(tb)
	var rest []string
	for i, m := range e.Members {
		if i != lead {
			rest = append(rest, m.Addr)
		}
	}
	body := (&jute.SetDataRequest{Path: KeyPath(0), Data: []byte("failover"), Version: -1}).Append(nil)
	killed := time.Now()
	e.Members[lead].Kill()
	var took time.Duration
	for attempt := 0; took == 0; attempt++ {
		if time.Since(killed) > time.Minute {
			return 0, fmt.Errorf("no write acknowledged within a minute of the leader's SIGKILL")
		}
		deadline := time.Now().Add(2 * time.Second)
		c, err := dial(rest[attempt%len(rest)], 10*time.Second, deadline)
		if err != nil {
			time.Sleep(5 * time.Millisecond)
			continue
		}
		if err := setupCallBy(c, jute.OpSetData, body, jute.CodeOK, deadline); err == nil {
			took = time.Since(killed)
		}
		c.close(1<<30, 100*time.Millisecond)
	}
	e.Members[lead].Restart(tb)
	e.Leader(tb)
	return took, nil
}

// catchUp loads CatchUpZnodes, then SIGKILLs a follower, wipes its data
// (all but myid) and starts it again, and returns the milliseconds until
// its srvr shows the leader's zxid.
func (c *EnsembleConfig) catchUp(tb *runnerTB, e *zktest.Ensemble) (float64, error) {
	lead := e.Leader(tb)
	if _, err := createAll(e.Members[lead].Addr, nil, treeSteps(c.CatchUpZnodes, c.CatchUpValue), 30*time.Minute); err != nil {
		return 0, err
	}
	follower := (lead + 1) % len(e.Members)
	// The sessions of the load may still be closing: whatever the leader
	// shows now, the wiped member must reach it.
	want, err := strconv.ParseInt(strings.TrimPrefix(zktest.SrvrField(e.Members[lead].Addr, "Zxid"), "0x"), 16, 64)
	if err != nil {
		return 0, fmt.Errorf("the leader's zxid: %w", err)
	}
	f := e.Members[follower]
	f.Kill()
	data := filepath.Join(f.Dir, "data")
	ents, err := os.ReadDir(data)
	if err != nil {
		return 0, err
	}
	for _, ent := range ents {
		if ent.Name() != "myid" {
			if err := os.RemoveAll(filepath.Join(data, ent.Name())); err != nil {
				return 0, err
			}
		}
	}
	start := time.Now()
	f.Restart(tb)
	for time.Since(start) < 10*time.Minute {
		zxid, err := strconv.ParseInt(strings.TrimPrefix(zktest.SrvrField(f.Addr, "Zxid"), "0x"), 16, 64)
		if err == nil && zxid >= want && zktest.SrvrField(f.Addr, "Mode") == "follower" {
			return ms(time.Since(start)), nil
		}
		time.Sleep(20 * time.Millisecond)
	}
	return 0, fmt.Errorf("the wiped follower did not reach zxid 0x%x within 10 minutes", want)
}

// WriteJSON writes the report to path.
func (rep *EnsembleReport) WriteJSON(path string) error {
	b, err := json.MarshalIndent(rep, "", "  ")
	if err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	return os.WriteFile(path, append(b, '\n'), 0o644)
}

// readEnsembleJSON reads what WriteJSON wrote; nil when there is none.
func readEnsembleJSON(path string) (*EnsembleReport, error) {
	b, err := os.ReadFile(path)
	if os.IsNotExist(err) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	rep := &EnsembleReport{}
	return rep, json.Unmarshal(b, rep)
}

// ensembleMarkdown is the report's section on three-server ensembles.
func ensembleMarkdown(rep *EnsembleReport) string {
	var b strings.Builder
	p := func(format string, a ...any) { fmt.Fprintf(&b, format, a...) }
	p("## Ensembles of three servers\n\n")
	p("Three Meerkat servers beside three Apache ZooKeeper 3.8 servers on this machine (all on loopback, so the six JVM or Go processes and the generator share its %d cores), ", rep.Machine.Cores)
	p("measured by `make bench-ensemble` (`%s`) on %s in %.0f s; raw results: `bench/results/ensemble.json`. ", rep.Command, rep.Started.UTC().Format("2006-01-02 15:04 MST"), rep.Seconds)
	p("Connections are spread over the three servers in turn; writes are forwarded to the leader and fsync'd by a majority (forceSync=yes). ")
	p("Each server has one selector thread or event loop (`%s`: ZooKeeper's default on two cores; Meerkat's default, one per scheduler processor (the cores + 1), would give the three servers nine loops on two cores). ", oneLoopEach)
	p("Both ensembles run at once and take turns at each load, %d rounds of %s (after %s of warm-up) each, the order swapped every round; a load's figure is its median round, and the rounds' ops/s are listed below the table. ", max(rep.Config.Rounds, 1), rep.Config.Duration, rep.Config.Warmup)
	p("CPU per request is the time the three server processes used over the window (/proc/<pid>/stat, summed), and the generator's beside it, per request; the ratio compares the servers'. ")
	p("Failover is the time from the leader's SIGKILL to the first acknowledged write through a surviving server (a new session, then setData), over %d rounds; ", rep.Config.FailoverRounds)
	p("catch-up is the time from restarting a follower whose data directory was wiped (all but myid) to its srvr showing the leader's zxid, with %s znodes of %d bytes in the tree.\n\n", num(float64(rep.Config.CatchUpZnodes)), rep.Config.CatchUpValue)
	var zk, mk *EnsembleResult
	for i := range rep.Systems {
		switch rep.Systems[i].System {
		case ZooKeeper:
			zk = &rep.Systems[i]
		case Meerkat:
			mk = &rep.Systems[i]
		}
	}
	if zk == nil || mk == nil {
		p("(incomplete run)\n\n")
		return b.String()
	}
	p("| | ZooKeeper | Meerkat | Meerkat / ZooKeeper | target |\n|---|---:|---:|---:|---|\n")
	row := func(name string, z, m *Result, target string) {
		if z == nil || m == nil {
			p("| %s | – | – | – | %s |\n", name, target)
			return
		}
		p("| %s ops/s | %s | %s | %.2f× | %s |\n", name, num(z.Throughput), num(m.Throughput), m.Throughput/z.Throughput, target)
		zl, ml := z.heavier(), m.heavier()
		p("| %s p50 / p99 | %s / %s | %s / %s | | |\n", name, us(zl.P50), us(zl.P99), us(ml.P50), us(ml.P99))
		if z.ServerCPUPerOp > 0 && m.ServerCPUPerOp > 0 {
			p("| %s CPU per request, µs: three servers + generator | %.0f + %.0f | %.0f + %.0f | %.2f× | |\n",
				name, z.ServerCPUPerOp, z.GenCPUPerOp, m.ServerCPUPerOp, m.GenCPUPerOp, m.ServerCPUPerOp/z.ServerCPUPerOp)
		}
	}
	c := rep.Config
	row(fmt.Sprintf("getData (%s)", loadLabel(c.Conns, c.Depth)), zk.Reads, mk.Reads, "≥ 4×")
	row(fmt.Sprintf("mixed 90/10 (%s)", loadLabel(c.Conns, c.Depth)), zk.Mixed, mk.Mixed, "")
	row(fmt.Sprintf("setData (%s)", loadLabel(c.Writers, 1)), zk.Writes, mk.Writes, "≥ 2×")
	row(fmt.Sprintf("setData pipelined (%s)", loadLabel(c.Writers, c.Depth)), zk.PipelinedWrites, mk.PipelinedWrites, "≥ 2×")
	p("| failover after SIGKILL, median (all rounds) | %s | %s | %s | no slower; aim ⅓ |\n",
		msList(zk.FailoverMs), msList(mk.FailoverMs), ratio(median(mk.FailoverMs), median(zk.FailoverMs)))
	p("| catch-up of a wiped follower | %s | %s | %s | |\n\n", msText(zk.CatchUpMs), msText(mk.CatchUpMs), ratio(mk.CatchUpMs, zk.CatchUpMs))
	for _, l := range ensembleLoads {
		_, zr := l.of(zk)
		_, mr := l.of(mk)
		if len(*zr)+len(*mr) > 0 {
			p("- %s rounds, ops/s: ZooKeeper %s; Meerkat %s", l.name, joined(*zr, num), joined(*mr, num))
			if byRound := roundRatios(*mr, *zr); len(byRound) > 0 {
				p("; Meerkat / ZooKeeper round by round %s, median %s", joined(byRound, times), times(median(byRound)))
			}
			p("\n")
		}
	}
	p("\n")
	for _, r := range []*EnsembleResult{zk, mk} {
		if r.Error != "" {
			p("%s failed: `%s`\n\n", r.System, truncate(r.Error, 400))
		}
	}
	return b.String()
}

// roundRatios pairs each of Meerkat's rounds with ZooKeeper's round of the
// same number, which ran just before or after it, and returns their
// ratios: the machine's drift between rounds, which moves both systems,
// then cancels out of each ratio.
func roundRatios(mk, zk []float64) []float64 {
	var out []float64
	for i := range min(len(mk), len(zk)) {
		if mk[i] > 0 && zk[i] > 0 {
			out = append(out, mk[i]/zk[i])
		}
	}
	return out
}

// heavier returns the latencies of the requests the run sent more of,
// reads or writes.
func (r *Result) heavier() Latency {
	if r.Writes.Count > r.Reads.Count {
		return r.Writes
	}
	return r.Reads
}

func msText(v float64) string {
	if v == 0 {
		return "–"
	}
	return fmt.Sprintf("%.0f ms", v)
}

// joined is v's figures, each as format writes it, comma-separated.
func joined(v []float64, format func(float64) string) string {
	parts := make([]string, len(v))
	for i, x := range v {
		parts[i] = format(x)
	}
	return strings.Join(parts, ", ")
}

func msList(v []float64) string {
	return fmt.Sprintf("%.0f ms (%s)", median(v), joined(v, func(x float64) string { return fmt.Sprintf("%.0f", x) }))
}
