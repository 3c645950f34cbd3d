package bench

import (
	"fmt"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
)

// Chart files, written beside the report.
const (
	ChartThroughput = "bench-throughput.svg"
	ChartLatency    = "bench-latency.svg"
	ChartOpenLoop   = "bench-open-loop.svg"
)

// WriteReport regenerates the markdown report at md and its SVG charts
// beside it from rep. The targets of other reports (the other profile's
// latest run) are shown after rep's own.
func WriteReport(rep *Report, md string, others ...*Report) error {
	dir := filepath.Dir(md)
	charts := map[string]string{
		ChartThroughput: throughputChart(rep),
		ChartLatency:    latencyChart(rep, ScGetData, "getData, closed loop, "+rep.headLabel()),
		ChartOpenLoop:   latencyChart(rep, ScOpenLoop, "getData, open loop at half ZooKeeper's peak read rate"),
	}
	for name, svg := range charts {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(svg), 0o644); err != nil {
			return err
		}
	}
	// The record of improvements and their measured effect is written by
	// hand beside the harness; the report carries it.
	notes, err := os.ReadFile(filepath.Join(dir, "bench", "improvements.md"))
	if err != nil && !os.IsNotExist(err) {
		return err
	}
	// The ensemble comparison is a run of its own (make bench-ensemble);
	// its latest results are carried too.
	ens, err := readEnsembleJSON(filepath.Join(dir, "bench", "results", "ensemble.json"))
	if err != nil {
		return err
	}
	return os.WriteFile(md, []byte(markdown(rep, others, string(notes), ens)), 0o644)
}

func (rep *Report) headLabel() string { return loadLabel(rep.Settings.Conns, rep.Settings.Depth) }

// loadLabel names a closed-loop load of conns connections with depth
// requests outstanding each.
func loadLabel(conns, depth int) string { return fmt.Sprintf("conns=%d depth=%d", conns, depth) }

// find returns the run of system in scenario with label ("" matches any).
func (rep *Report) find(scenario, label, system string) *Run {
	for i := range rep.Runs {
		r := &rep.Runs[i]
		if r.Scenario == scenario && r.System == system && (label == "" || r.Label == label) {
			return r
		}
	}
	return nil
}

// labels returns the labels of scenario in the order they were run.
func (rep *Report) labels(scenario string) []string {
	var out []string
	seen := map[string]bool{}
	for _, r := range rep.Runs {
		if r.Scenario == scenario && !seen[r.Label] {
			seen[r.Label] = true
			out = append(out, r.Label)
		}
	}
	return out
}

func loadOf(r *Run) *Result {
	if r == nil || r.Load == nil {
		return nil
	}
	return r.Load
}

// num formats a figure with a sensible number of digits.
func num(v float64) string {
	switch a := math.Abs(v); {
	case v == 0:
		return "0"
	case a >= 100:
		return addCommas(fmt.Sprintf("%.0f", v))
	case a >= 10:
		return fmt.Sprintf("%.1f", v)
	default:
		return fmt.Sprintf("%.2f", v)
	}
}

func addCommas(s string) string {
	neg := strings.HasPrefix(s, "-")
	s = strings.TrimPrefix(s, "-")
	var b strings.Builder
	for i, c := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(c)
	}
	if neg {
		return "-" + b.String()
	}
	return b.String()
}

// ratio formats a/b as "1.23×", or "–" when either is missing.
func ratio(a, b float64) string {
	if a <= 0 || b <= 0 {
		return "–"
	}
	return times(a / b)
}

// times formats a ratio as "1.23×".
func times(x float64) string { return fmt.Sprintf("%.2f×", x) }

// median returns the middle of v (the upper one of an even count), 0 for
// none.
func median(v []float64) float64 {
	if len(v) == 0 {
		return 0
	}
	s := slices.Sorted(slices.Values(v))
	return s[len(s)/2]
}

// us formats microseconds, switching to ms from 1 ms.
func us(v float64) string {
	if v >= 1000 {
		return num(v/1000) + " ms"
	}
	return num(v) + " µs"
}

// target is one of the project's goals and whether the run met it.
type target struct {
	goal, measured string
	met            string // a verdict ("**met**", "**missed**", "not measured") or "indicative only"
}

func verdict(ok, known bool) string {
	switch {
	case !known:
		return "not measured"
	case ok:
		return "**met**"
	default:
		return "**missed**"
	}
}

// disturbed notes which of the results were measured while other processes
// competed for the cores.
func disturbed(rs ...*Result) string {
	worst := 0.0
	for _, r := range rs {
		if r != nil {
			worst = math.Max(worst, r.OtherCores)
		}
	}
	if worst <= disturbedCores {
		return ""
	}
	return fmt.Sprintf(" ⚠ disturbed: other processes used up to %.2f cores during these windows", worst)
}

// throughputTarget judges Meerkat's throughput against at least least
// times ZooKeeper's.
func throughputTarget(goal, unit string, mk, zk *Result, least float64) target {
	r := mk.Throughput / zk.Throughput
	measured := fmt.Sprintf("%s vs %s %s = %.2f×", num(mk.Throughput), num(zk.Throughput), unit, r) + disturbed(mk, zk)
	return target{goal, measured, verdict(r >= least, true)}
}

// targets evaluates the project's targets against rep.
func (rep *Report) targets() []target {
	var out []target
	zkHead, mkHead, echoHead := loadOf(rep.find(ScGetData, rep.headLabel(), ZooKeeper)), loadOf(rep.find(ScGetData, rep.headLabel(), Meerkat)), loadOf(rep.find(ScEchoLimit, rep.headLabel(), Echo))
	if zkHead != nil && mkHead != nil {
		out = append(out, throughputTarget("read-only getData ≥ 4× ZooKeeper", "ops/s", mkHead, zkHead, 4))
	} else {
		out = append(out, target{"read-only getData ≥ 4× ZooKeeper", "run failed", verdict(false, false)})
	}
	if echoHead != nil && mkHead != nil {
		r := mkHead.Throughput / echoHead.Throughput
		out = append(out, target{"read-only getData ≥ 80 % of the echo limit", fmt.Sprintf("%s vs %s ops/s = %.0f %%", num(mkHead.Throughput), num(echoHead.Throughput), 100*r) + disturbed(mkHead, echoHead), verdict(r >= 0.8, true)})
	}
	zk, mk := loadOf(rep.find(ScMixed90, "", ZooKeeper)), loadOf(rep.find(ScMixed90, "", Meerkat))
	if zk != nil && mk != nil {
		out = append(out, throughputTarget("mixed 90/10 ≥ 3× ZooKeeper", "ops/s", mk, zk, 3))
	}
	zk, mk = loadOf(rep.find(ScOpenLoop, "", ZooKeeper)), loadOf(rep.find(ScOpenLoop, "", Meerkat))
	if zk != nil && mk != nil && zk.Reads.P99 > 0 {
		r := mk.Reads.P99 / zk.Reads.P99
		m := fmt.Sprintf("%s vs %s = %.2f", us(mk.Reads.P99), us(zk.Reads.P99), r)
		if mk.SendLag != nil {
			m += fmt.Sprintf(" (the generator's own send lag p99 was %s in Meerkat's run", us(mk.SendLag.P99))
			if mk.SendLag.P99 > mk.Reads.P99/2 {
				m += ": Meerkat's p99 is mostly the generator's"
			}
			m += ")"
		}
		out = append(out, target{"open-loop p99 at half ZooKeeper's peak read rate ≤ 1/3 of ZooKeeper's", m + disturbed(mk, zk), verdict(r <= 1.0/3, true)})
	}
	lbl := ""
	if ws := rep.labels(ScSetData); len(ws) > 0 {
		lbl = ws[len(ws)-1]
	}
	zk, mk = loadOf(rep.find(ScSetData, lbl, ZooKeeper)), loadOf(rep.find(ScSetData, lbl, Meerkat))
	if zk != nil && mk != nil {
		out = append(out, throughputTarget("write-only setData with fsync ≥ 2× ZooKeeper ("+lbl+")", "writes/s", mk, zk, 2))
		w := mk.Server["writes_per_fsync"]
		m := fmt.Sprintf("Meerkat %.1f (ZooKeeper %.1f)", w, zk.Server["writes_per_fsync"])
		if d := rep.find(ScFsyncLimit, "writers=64", "disk"); d != nil && d.Fsync != nil {
			m += fmt.Sprintf("; the bare group-commit limit of this disk at 64 writers is %.1f", d.Fsync.RecordsPerSync)
		}
		out = append(out, target{"≥ 50 writes per fsync at 64 writers", m, verdict(w >= 50, w > 0)})
	}
	zt, mt := rep.find(ScTree, "", ZooKeeper), rep.find(ScTree, "", Meerkat)
	if zt != nil && mt != nil && zt.Tree != nil && mt.Tree != nil && zt.Error == "" && mt.Error == "" {
		note, full := "", mt.Tree.Znodes == 1_000_000 && zt.Tree.Znodes == 1_000_000
		judge := func(ok bool) string {
			if full {
				return verdict(ok, true)
			}
			return "indicative only"
		}
		if !full {
			note = fmt.Sprintf(" (this run: %s znodes; the target is stated for 10^6, see the full profile)", num(float64(mt.Tree.Znodes)))
		}
		r := mt.Tree.RSSPerZnode / zt.Tree.RSSPerZnode
		out = append(out, target{"RSS per znode (10^6 × 100 B) ≤ 1/4 of ZooKeeper's" + note, fmt.Sprintf("%s vs %s B = %.2f", num(mt.Tree.RSSPerZnode), num(zt.Tree.RSSPerZnode), r), judge(r <= 0.25)})
		r = mt.Tree.KillRestartMs / zt.Tree.KillRestartMs
		out = append(out, target{"restart after SIGKILL with 10^6 znodes ≤ 1/3 of ZooKeeper's time" + note, fmt.Sprintf("%s vs %s ms = %.2f", num(mt.Tree.KillRestartMs), num(zt.Tree.KillRestartMs), r), judge(r <= 1.0/3)})
	} else {
		out = append(out, target{"RSS per znode and restart time", "run failed (see below)", verdict(false, false)})
	}
	zfl, mfl := rep.find(ScFlood, "", ZooKeeper), rep.find(ScFlood, "", Meerkat)
	if zfl != nil && mfl != nil && zfl.Flood != nil && mfl.Flood != nil {
		z, m := zfl.Flood, mfl.Flood
		served := m.GoodFailures == 0 && m.GoodOps > 0 && mfl.Error == ""
		out = append(out, target{"flood of unread replies: peak RSS ≤ ZooKeeper's, the well-behaved client never fails",
			fmt.Sprintf("peak RSS %d vs %d MiB; well-behaved client p99 %s vs %s, %d vs %d failures",
				m.PeakRSS>>20, z.PeakRSS>>20, us(m.Good.P99), us(z.Good.P99), m.GoodFailures, z.GoodFailures),
			verdict(served && m.PeakRSS <= z.PeakRSS, true)})
	}
	zf, mf := rep.find(ScFanout, "sessions=10000", ZooKeeper), rep.find(ScFanout, "sessions=10000", Meerkat)
	if zf != nil && mf != nil && zf.Fanout != nil && mf.Fanout != nil && zf.Error == "" && mf.Error == "" {
		r := zf.Fanout.MedianAllMs / mf.Fanout.MedianAllMs
		out = append(out, target{"watch fan-out to 10,000 sessions ≥ 3× faster", fmt.Sprintf("%s vs %s ms = %.2f× faster (the generator spent %.1f µs of CPU per event receiving them)",
			num(mf.Fanout.MedianAllMs), num(zf.Fanout.MedianAllMs), r, mf.Fanout.GenCPUPerEv), verdict(r >= 3, true)})
	} else {
		out = append(out, target{"watch fan-out to 10,000 sessions ≥ 3× faster", "run failed (see below)", verdict(false, false)})
	}
	return out
}

// markdown renders the whole report.
func markdown(rep *Report, others []*Report, notes string, ens *EnsembleReport) string {
	var b strings.Builder
	p := func(format string, a ...any) { fmt.Fprintf(&b, format, a...) }
	profile, target := "full", "make bench"
	if rep.Quick {
		profile, target = "quick", "make bench-quick"
	}
	p("# Meerkat benchmarks\n\n")
	p("Meerkat beside Apache ZooKeeper 3.8 on one machine, measured by the same load generator (`bench/`,\n")
	p("which speaks the wire protocol itself), with the limits of the machine measured by the same harness.\n")
	p("Generated by `%s` (`%s`, the %s profile) on %s in %.0f s;\n", target, rep.Command, profile, rep.Started.UTC().Format("2006-01-02 15:04 MST"), rep.Seconds)
	p("raw results: `bench/results/%s.json`. Do not edit by hand: rerun, or `go run ./cmd/meerkat-bench report -json bench/results/%s.json`.\n\n", profile, profile)
	if len(rep.Only) > 0 {
		p("**A partial run**: only the scenario groups %s (`-only`).\n\n", strings.Join(rep.Only, ", "))
	}

	p("## How to run\n\n")
	p("    make bench-quick   # every scenario, 1 s warm-up + 3 s windows, 10^5 znodes: about 4 minutes\n")
	p("    make bench         # 3 s warm-up + 10 s windows, wider sweep, 10^6 znodes: about 15 minutes\n")
	p("    make bench-ensemble  # three servers of each beside each other (ENSEMBLE_PROFILE=full: 5 rounds of 6 s windows, 10^6 znodes)\n\n")
	p("Both need the Debian packages of `make test` (ZooKeeper, Java) and an otherwise idle machine; they rewrite this file, its charts and `bench/results/`. ")
	p("`bin/meerkat-bench load -addr HOST:PORT` drives one running server with the same generator (over TLS with `-tls-cert FILE -tls-key FILE -tls-ca FILE`). ")
	p("`bin/meerkat-bench -only GROUP[,GROUP]` runs some groups of scenarios alone (%s) and writes its results to a file of its own, not to this report.\n\n", strings.Join(Groups, ", "))
	p("## Targets\n\n| target | measured (Meerkat vs ZooKeeper) | |\n|---|---|---|\n")
	for _, t := range rep.targets() {
		p("| %s | %s | %s |\n", t.goal, t.measured, t.met)
	}
	p("\n")
	for _, o := range others {
		name := "full"
		if o.Quick {
			name = "quick"
		}
		p("The same targets in the latest %s-profile run (%s, `bench/results/%s.json`, %s warm-up + %s windows, %s znodes in the large tree); its detailed tables are not reproduced here:\n\n",
			name, o.Started.UTC().Format("2006-01-02 15:04 MST"), name, o.Settings.Warmup, o.Settings.Duration, num(float64(o.Settings.TreeZnodes)))
		p("| target | measured (Meerkat vs ZooKeeper) | |\n|---|---|---|\n")
		for _, t := range o.targets() {
			p("| %s | %s | %s |\n", t.goal, t.measured, t.met)
		}
		p("\n")
	}

	if notes != "" {
		p("%s\n\n", strings.TrimSpace(notes))
	}
	if ens != nil {
		b.WriteString(ensembleMarkdown(ens))
	}

	m := rep.Machine
	p("## Machine and settings\n\n| | |\n|---|---|\n")
	p("| CPU | %s, %d cores (client and server share them) |\n| memory | %.1f GiB |\n| kernel | %s |\n", m.CPU, m.Cores, m.MemoryGiB, m.Kernel)
	if m.Virtualised != "" {
		p("| virtualisation | %s |\n", m.Virtualised)
	}
	p("| data directories | temporary directories under %s, the same for both servers |\n", m.Filesystem)
	p("| **fsync semantics** | %s |\n", m.Flush)
	p("| Go | %s |\n| Java | %s |\n| ZooKeeper | %s |\n| Meerkat | `%s` |\n", m.Go, m.Java, m.ZooKeeper, m.MeerkatRev)
	s := rep.Settings
	p("| ZooKeeper JVM | `%s` (no other flags; full JIT) |\n", strings.Join(s.JVM, " "))
	p("| both servers | %s; everything else at its default (ZooKeeper's globalOutstandingLimit 1000, snapCount 100000) |\n", strings.Join(s.ServerConfig, ", "))
	p("| Meerkat runtime | %s |\n", s.MeerkatEnv)
	p("| load | %s warm-up (not counted) then a %s window per scenario; the hot set is %d keys of %d B; headline load %d connections × %d outstanding |\n",
		s.Warmup, s.Duration, s.Keys, s.ValueSize, s.Conns, s.Depth)
	if s.TakeTurns {
		p("\nFor the request scenarios both servers are up at once and take turns, one window each per scenario, the order swapped from one scenario to the next, so that the machine's drift between minutes lands on both alike; the other sections start one server at a time. ")
	} else {
		p("\nThe servers run one after the other, never at once. ")
	}
	p("Each server gets a JIT/heap warm-up of three windows of the 90/10 mix before its first measurement. ")
	p("Every reply is checked (xid order per connection, error code, reply size); a run with failed checks is reported as an error below, not dropped. ")
	p("Closed-loop latency counts from the send; open-loop latency counts from the scheduled send time, so a stall is charged to every request that was due during it (no coordinated omission). ")
	p("Percentiles come from a log-bucketed histogram (≤ 0.8 %% error).\n\n")
	p("**Write figures**: forceSync=yes on both. %s\n\n", fsyncCaveat(m))

	limits(rep, &b)
	loads(rep, &b)
	fanouts(rep, &b)
	trees(rep, &b)
	floods(rep, &b)
	tlsSection(rep, &b)
	generator(rep, &b)
	logsSection(rep, &b)
	errorsSection(rep, &b)
	return b.String()
}

func fsyncCaveat(m Machine) string {
	if strings.Contains(m.Flush, "Firecracker") {
		return "On this VM an fsync costs ~100 µs because the flush is probably not forwarded to durable media (see the fsync semantics above and the disk limit below); on a real disk each fsync costs 0.5–10 ms and group commit matters far more. Read write throughput here as the cost of the code path, not as durable throughput."
	}
	return "Check the fsync semantics above before reading write throughput as durable throughput."
}

func limits(rep *Report, b *strings.Builder) {
	p := func(format string, a ...any) { fmt.Fprintf(b, format, a...) }
	p("## Limits of this machine\n\n")
	p("**Read limit**: a minimal echo server on Meerkat's event loops (`meerkat-bench echo`, its own process, one loop per core like Meerkat) answers the handshake and every request with a frame of the size of a %d-byte getData reply, driven by the same generator.\n\n", rep.Settings.ValueSize)
	p("| load | echo ops/s | p50 | p99 | p99.9 | generator CPU/op |\n|---|---:|---:|---:|---:|---:|\n")
	for _, l := range rep.labels(ScEchoLimit) {
		r := rep.find(ScEchoLimit, l, Echo)
		if x := loadOf(r); x != nil {
			p("| %s | %s | %s | %s | %s | %s µs |\n", l, num(x.Throughput), us(x.Reads.P50), us(x.Reads.P99), us(x.Reads.P999), num(x.GenCPUPerOp))
		} else if r != nil {
			p("| %s | error: %s | | | | |\n", l, r.Error)
		}
	}
	p("\n**Write limit**: 256-byte records appended to a preallocated file under the same temporary directory, one `fdatasync` per batch; with N closed-loop writers a committer takes everything queued, writes it and syncs once (group commit).\n\n")
	p("| writers | fsyncs/s | records/s | records per fsync | fsync p50 | fsync p99 | commit p99 |\n|---|---:|---:|---:|---:|---:|---:|\n")
	for _, l := range rep.labels(ScFsyncLimit) {
		r := rep.find(ScFsyncLimit, l, "disk")
		if r == nil || r.Fsync == nil {
			if r != nil {
				p("| %s | error: %s | | | | | |\n", l, r.Error)
			}
			continue
		}
		f := r.Fsync
		p("| %d | %s | %s | %.1f | %s | %s | %s |\n", f.Writers, num(f.SyncsPerSec), num(f.RecordsPerSec), f.RecordsPerSync, us(f.Sync.P50), us(f.Sync.P99), us(f.Commit.P99))
	}
	p("\n")
}

// loadScenarioDocs lists the request scenarios in report order with a line
// saying what each does.
var loadScenarioDocs = []struct{ name, doc string }{
	{ScGetData, "getData of keys drawn uniformly from the hot set, closed loop."},
	{ScReadSweep, "getData, one outstanding request per connection, more and more connections (chart: `" + ChartThroughput + "`)."},
	{ScExists, "exists on the hot set."},
	{ScChildren, "getChildren of one znode with 1,000 children (~9 KB replies)."},
	{ScMixed90, "90 % getData, 10 % setData on the hot set (a connection's reads wait behind its own writes)."},
	{ScMixed50, "50 % getData, 50 % setData."},
	{ScSetData, "setData only, N closed-loop writers with one outstanding write each; writes per fsync from the servers' own counters (Meerkat `meerkat_pipeline_batch_entries`, ZooKeeper `sync_processor_batch_size`)."},
	{ScChurn, "create of an ephemeral sequential znode, then delete of it, alternating."},
	{ScOpenLoop, "getData at a fixed rate of half ZooKeeper's closed-loop peak (the getData row), latency from the scheduled send time (chart: `" + ChartOpenLoop + "`)."},
	{ScStorm, "connect, handshake, closeSession, close, in a loop; one op is one whole session."},
}

func loads(rep *Report, b *strings.Builder) {
	p := func(format string, a ...any) { fmt.Fprintf(b, format, a...) }
	p("## Request scenarios\n\n")
	p("Throughput in requests per second over the window; latency percentiles of reads (or, for write-only scenarios, writes). Ratio is Meerkat / ZooKeeper.\n\n")
	p("![throughput against connections](%s)\n\n![latency percentiles](%s)\n\n", ChartThroughput, ChartLatency)
	for _, sc := range loadScenarioDocs {
		labels := rep.labels(sc.name)
		if len(labels) == 0 {
			continue
		}
		p("### %s\n\n%s\n\n", sc.name, sc.doc)
		writeOnly := sc.name == ScSetData || sc.name == ScChurn
		mixed := sc.name == ScMixed90 || sc.name == ScMixed50
		head := "| load | ZooKeeper ops/s | Meerkat ops/s | ratio |"
		sep := "|---|---:|---:|---:|"
		if sc.name == ScReadSweep || sc.name == ScGetData {
			head += " echo limit | Meerkat / limit |"
			sep += "---:|---:|"
		}
		kind := "read"
		if writeOnly {
			kind = "write"
		}
		head += fmt.Sprintf(" ZK %s p50 / p99 / p99.9 / max | Meerkat %s p50 / p99 / p99.9 / max |", kind, kind)
		sep += "---|---|"
		if mixed {
			head += " ZK write p50 / p99 | Meerkat write p50 / p99 |"
			sep += "---|---|"
		}
		if sc.name == ScSetData {
			head += " writes per fsync ZK / Meerkat |"
			sep += "---|"
		}
		p("%s\n%s\n", head, sep)
		for _, l := range labels {
			zr, mr := rep.find(sc.name, l, ZooKeeper), rep.find(sc.name, l, Meerkat)
			zk, mk := loadOf(zr), loadOf(mr)
			cell := func(x *Result, r *Run) string {
				switch {
				case r == nil:
					return "–"
				case x == nil:
					return "error"
				case r.Error != "":
					return num(x.Throughput) + " ⚠"
				}
				return num(x.Throughput)
			}
			pct := func(x *Result) string {
				if x == nil {
					return "–"
				}
				l := x.Reads
				if writeOnly {
					l = x.Writes
				}
				return fmt.Sprintf("%s / %s / %s / %s", us(l.P50), us(l.P99), us(l.P999), us(l.Max))
			}
			zt, mt := 0.0, 0.0
			if zk != nil {
				zt = zk.Throughput
			}
			if mk != nil {
				mt = mk.Throughput
			}
			row := fmt.Sprintf("| %s | %s | %s | %s |", l, cell(zk, zr), cell(mk, mr), ratio(mt, zt))
			if sc.name == ScReadSweep || sc.name == ScGetData {
				e := loadOf(rep.find(ScEchoLimit, l, Echo))
				if e != nil {
					row += fmt.Sprintf(" %s | %.0f %% |", num(e.Throughput), 100*mt/e.Throughput)
				} else {
					row += " – | – |"
				}
			}
			row += fmt.Sprintf(" %s | %s |", pct(zk), pct(mk))
			if mixed {
				w := func(x *Result) string {
					if x == nil {
						return "–"
					}
					return us(x.Writes.P50) + " / " + us(x.Writes.P99)
				}
				row += fmt.Sprintf(" %s | %s |", w(zk), w(mk))
			}
			if sc.name == ScSetData {
				w := func(x *Result) string {
					if x == nil || x.Server == nil {
						return "–"
					}
					return fmt.Sprintf("%.1f", x.Server["writes_per_fsync"])
				}
				row += fmt.Sprintf(" %s / %s |", w(zk), w(mk))
			}
			p("%s\n", row)
		}
		if sc.name == ScOpenLoop {
			for _, sys := range []string{ZooKeeper, Meerkat} {
				if x := loadOf(rep.find(sc.name, "", sys)); x != nil && x.SendLag != nil {
					p("\n%s: %s requests sent; the generator's own lag behind the schedule p50 %s, p99 %s, max %s.", sys, num(float64(x.Ops)), us(x.SendLag.P50), us(x.SendLag.P99), us(x.SendLag.Max))
				}
			}
			p("\n")
		}
		p("\n")
	}
}

func fanouts(rep *Report, b *strings.Builder) {
	p := func(format string, a ...any) { fmt.Fprintf(b, format, a...) }
	labels := rep.labels(ScFanout)
	if len(labels) == 0 {
		return
	}
	p("## Watch fan-out\n\n")
	p("N sessions (one connection each, from one address: maxClientCnxns=0) each hold a data watch on one znode; another session sets it; the time is from sending the setData until the last session has its NodeDataChanged event. Repeated with the watches re-armed; the median round is shown. Fresh server.\n\n")
	p("| sessions | ZK all notified | Meerkat all notified | Meerkat faster by | ZK delivery p50 / p99 | Meerkat delivery p50 / p99 | ZK / Meerkat setData | session setup ZK / Meerkat |\n|---|---:|---:|---:|---|---|---|---|\n")
	for _, l := range labels {
		zr, mr := rep.find(ScFanout, l, ZooKeeper), rep.find(ScFanout, l, Meerkat)
		all := func(r *Run) (string, float64) {
			if r == nil || r.Fanout == nil {
				if r != nil && r.Error != "" {
					return "error", 0
				}
				return "–", 0
			}
			s := num(r.Fanout.MedianAllMs) + " ms"
			if r.Error != "" {
				s += " ⚠"
			}
			return s, r.Fanout.MedianAllMs
		}
		del := func(r *Run) string {
			if r == nil || r.Fanout == nil {
				return "–"
			}
			return us(r.Fanout.Delivery.P50) + " / " + us(r.Fanout.Delivery.P99)
		}
		set := func(r *Run) string {
			if r == nil || r.Fanout == nil {
				return "–"
			}
			return us(r.Fanout.SetData.P50)
		}
		setup := func(r *Run) string {
			if r == nil || r.Fanout == nil {
				return "–"
			}
			return fmt.Sprintf("%.1f s", r.Fanout.SetupSeconds)
		}
		zs, zv := all(zr)
		ms, mv := all(mr)
		p("| %s | %s | %s | %s | %s | %s | %s / %s | %s / %s |\n", strings.TrimPrefix(l, "sessions="), zs, ms, ratio(zv, mv), del(zr), del(mr), set(zr), set(mr), setup(zr), setup(mr))
	}
	p("\n")
}

func trees(rep *Report, b *strings.Builder) {
	p := func(format string, a ...any) { fmt.Fprintf(b, format, a...) }
	zr, mr := rep.find(ScTree, "", ZooKeeper), rep.find(ScTree, "", Meerkat)
	if zr == nil && mr == nil {
		return
	}
	p("## Large tree\n\n")
	p("A fresh server is loaded with %s znodes of %d bytes (1,000 children per parent, 8 connections × 32 creates outstanding). Memory is VmRSS from /proc/<pid>/status after a 2 s settle, without a forced GC, minus the empty server's. Restart time is from starting the process again until a session opens (polled every 5 ms), after SIGKILL and after a clean SIGTERM stop; after each, the last znode created must exist.\n\n",
		num(float64(rep.Settings.TreeZnodes)), rep.Settings.TreeValue)
	p("| | ZooKeeper | Meerkat | Meerkat / ZooKeeper |\n|---|---:|---:|---:|\n")
	get := func(r *Run) *TreeResult {
		if r == nil {
			return nil
		}
		return r.Tree
	}
	zt, mt := get(zr), get(mr)
	// A negative value is one the system does not report.
	row := func(name string, f func(*TreeResult) float64, unit string) {
		z, m := 0.0, 0.0
		zs, ms := "–", "–"
		if zt != nil && f(zt) >= 0 {
			z = f(zt)
			zs = num(z) + unit
		}
		if mt != nil && f(mt) >= 0 {
			m = f(mt)
			ms = num(m) + unit
		}
		rs := "–"
		if z > 0 && m > 0 {
			rs = fmt.Sprintf("%.2f", m/z)
		}
		p("| %s | %s | %s | %s |\n", name, zs, ms, rs)
	}
	row("load rate (creates/s)", func(t *TreeResult) float64 { return t.LoadRate }, "")
	row("RSS empty", func(t *TreeResult) float64 { return float64(t.RSSEmpty) / (1 << 20) }, " MiB")
	row("RSS loaded", func(t *TreeResult) float64 { return float64(t.RSSLoaded) / (1 << 20) }, " MiB")
	row("**RSS per znode**", func(t *TreeResult) float64 { return t.RSSPerZnode }, " B")
	row("**restart after SIGKILL**", func(t *TreeResult) float64 { return t.KillRestartMs }, " ms")
	row("clean stop (SIGTERM)", func(t *TreeResult) float64 { return t.CleanStopMs }, " ms")
	row("restart after clean stop", func(t *TreeResult) float64 { return t.CleanRestartMs }, " ms")
	row("RSS after the clean restart", func(t *TreeResult) float64 { return float64(t.RSSAfterRestart) / (1 << 20) }, " MiB")
	row("snapshot of the loaded tree (ZooKeeper: newest snapshot file; Meerkat: zstd stream)", func(t *TreeResult) float64 { return float64(t.SnapshotBytes) / (1 << 20) }, " MiB")
	row("time to take it (Meerkat, through the admin server)", func(t *TreeResult) float64 {
		if t.SnapshotMs == 0 {
			return -1 // ZooKeeper takes its snapshots on its own schedule
		}
		return t.SnapshotMs
	}, " ms")
	row("snapshots / checkpoint flushes written during the load", func(t *TreeResult) float64 { return float64(t.SnapshotsWritten) }, "")
	row("bytes they wrote (ZooKeeper: whole-tree snapshots; Meerkat: incremental pebble flushes and compactions)", func(t *TreeResult) float64 { return float64(t.SnapshotsWrittenBytes) / (1 << 20) }, " MiB")
	for _, r := range []*Run{zr, mr} {
		if r != nil && r.Error != "" {
			p("\n⚠ %s: %s\n", r.System, r.Error)
		}
	}
	p("\n")
}

func floods(rep *Report, b *strings.Builder) {
	p := func(format string, a ...any) { fmt.Fprintf(b, format, a...) }
	zr, mr := rep.find(ScFlood, "", ZooKeeper), rep.find(ScFlood, "", Meerkat)
	if zr == nil && mr == nil {
		return
	}
	f := mr
	if f == nil || f.Flood == nil {
		f = zr
	}
	p("## Clients that do not read\n\n")
	if f.Flood != nil {
		p("A fresh server; %d connections each pipeline %s getData of one %s-byte znode and read no reply for %.0f s, while a well-behaved client on its own connection reads a small znode, one request at a time (a failure is an error reply or 10 s without an answer, after which it stops). Memory is the server's VmRSS sampled every 20 ms. Then the flooders hang up and a new client must be answered.\n\n",
			f.Flood.Flooders, num(float64(f.Flood.Requests)), num(float64(f.Flood.ValueSize)), f.Flood.HoldSeconds)
	}
	p("| | ZooKeeper | Meerkat |\n|---|---:|---:|\n")
	cell := func(r *Run, v func(*FloodResult) string) string {
		if r == nil || r.Flood == nil {
			return "–"
		}
		return v(r.Flood)
	}
	row := func(name string, v func(*FloodResult) string) {
		p("| %s | %s | %s |\n", name, cell(zr, v), cell(mr, v))
	}
	mib := func(v int64) string { return fmt.Sprintf("%d MiB", v>>20) }
	row("RSS before the flood", func(f *FloodResult) string { return mib(f.BaseRSS) })
	row("**peak RSS during the flood**", func(f *FloodResult) string { return mib(f.PeakRSS) })
	row("RSS after the flooders hung up", func(f *FloodResult) string { return mib(f.EndRSS) })
	row("well-behaved client: reads", func(f *FloodResult) string { return num(float64(f.GoodOps)) })
	row("well-behaved client: failures", func(f *FloodResult) string { return num(float64(f.GoodFailures)) })
	row("well-behaved client: p50 / **p99** / max", func(f *FloodResult) string {
		return us(f.Good.P50) + " / " + us(f.Good.P99) + " / " + us(f.Good.Max)
	})
	for _, r := range []*Run{zr, mr} {
		if r != nil && r.Error != "" {
			p("\n⚠ %s: %s\n", r.System, r.Error)
		}
	}
	p("\n")
}

func generator(rep *Report, b *strings.Builder) {
	p := func(format string, a ...any) { fmt.Fprintf(b, format, a...) }
	p("## Cost of the generator\n\n")
	p("The generator shares the two cores with the server, so its own CPU time (getrusage of its process, all threads, over the window) is reported per request next to the server's (/proc/<pid>/stat). When the generator's share is large, the figures understate the server.\n\n")
	p("The last column is the CPU that the rest of the machine used meanwhile (/proc/stat busy time minus the generator and the server): well above zero means another workload competed for the two cores and the row is disturbed.\n\n")
	p("| scenario | load | system | ops/s | generator µs/op | generator cores | server µs/op | server cores | other cores |\n|---|---|---|---:|---:|---:|---:|---:|---:|\n")
	disturbed := 0
	for _, r := range rep.Runs {
		x := r.Load
		if x == nil || x.Ops == 0 {
			continue
		}
		flag := ""
		if x.OtherCores > disturbedCores {
			flag = " ⚠"
			disturbed++
		}
		p("| %s | %s | %s | %s | %.2f | %.2f | %.2f | %.2f | %.2f%s |\n", r.Scenario, r.Label, r.System, num(x.Throughput), x.GenCPUPerOp, x.GenCores, x.ServerCPUPerOp, x.ServerCores, x.OtherCores, flag)
	}
	for _, r := range rep.Runs {
		if r.Fanout != nil {
			p("| %s | %s | %s | – | %.2f per event | | | | |\n", r.Scenario, r.Label, r.System, r.Fanout.GenCPUPerEv)
		}
	}
	if disturbed > 0 {
		p("\n⚠ %d rows ran while other processes used more than a quarter of a core: rerun on an idle machine before trusting them.\n", disturbed)
	}
	p("\n")
}

func logsSection(rep *Report, b *strings.Builder) {
	if len(rep.Logs) == 0 {
		return
	}
	p := func(format string, a ...any) { fmt.Fprintf(b, format, a...) }
	p("## Server logs\n\nWarnings and errors each server instance logged (the full logs were kept outside the repository).\n\n")
	p("| system | instance | warnings and errors | first distinct lines |\n|---|---|---:|---|\n")
	for _, n := range rep.Logs {
		samples := make([]string, 0, len(n.Samples))
		for _, s := range n.Samples {
			samples = append(samples, "`"+strings.ReplaceAll(strings.ReplaceAll(s, "|", "\\|"), "`", "'")+"`")
		}
		p("| %s | %s | %d | %s |\n", n.System, n.Group, n.Warnings, strings.Join(samples, "<br>"))
	}
	p("\n")
}

func errorsSection(rep *Report, b *strings.Builder) {
	var lines []string
	for _, r := range rep.Runs {
		if r.Error != "" {
			lines = append(lines, fmt.Sprintf("- %s %s, %s: %s", r.Scenario, r.Label, r.System, strings.ReplaceAll(r.Error, "\n", " ")))
		}
		if r.Fanout != nil && (r.Fanout.Missing > 0 || r.Fanout.Unexpected > 0) {
			lines = append(lines, fmt.Sprintf("- %s %s, %s: %d events missing, %d unexpected replies", r.Scenario, r.Label, r.System, r.Fanout.Missing, r.Fanout.Unexpected))
		}
	}
	fmt.Fprintf(b, "## Failed checks and errors\n\n")
	if len(lines) == 0 {
		fmt.Fprintf(b, "None: every reply of every run had the expected xid, error code and size.\n")
		return
	}
	fmt.Fprintf(b, "%s\n", strings.Join(lines, "\n"))
}

// tlsLoads returns the loads of a TLS scenario (its labels without the
// transport) in the order they were run.
func (rep *Report) tlsLoads(scenario string) []string {
	var out []string
	for _, l := range rep.labels(scenario) {
		for _, t := range []string{Plaintext, TLS} {
			if load, ok := strings.CutPrefix(l, t+" "); ok && !slices.Contains(out, load) {
				out = append(out, load)
			}
		}
	}
	return out
}

// tlsSection renders the TLS scenario: each server's throughput over
// plaintext and over TLS on the same instance, the cost of TLS on each,
// and Meerkat against ZooKeeper over each transport.
func tlsSection(rep *Report, b *strings.Builder) {
	p := func(format string, a ...any) { fmt.Fprintf(b, format, a...) }
	type workload struct{ name, scenario, load, plain string }
	var ws []workload
	for _, l := range rep.tlsLoads(ScTLSGetData) {
		ws = append(ws, workload{"getData", ScTLSGetData, l, ScGetData})
	}
	for _, l := range rep.tlsLoads(ScTLSSetData) {
		ws = append(ws, workload{"setData", ScTLSSetData, l, ScSetData})
	}
	if len(ws) == 0 {
		return
	}
	systems := []struct{ name, title string }{{ZooKeeper, "ZooKeeper (Netty)"}, {Meerkat, "Meerkat"}}
	get := func(w workload, transport, system string) (*Run, *Result) {
		r := rep.find(w.scenario, tlsLabel(transport, w.load), system)
		return r, loadOf(r)
	}
	tput := func(r *Run, x *Result) (string, float64) {
		switch {
		case r == nil:
			return "–", 0
		case x == nil:
			return "error", 0
		case r.Error != "":
			return num(x.Throughput) + " ⚠", x.Throughput
		}
		return num(x.Throughput), x.Throughput
	}
	lat := func(w workload, x *Result) string {
		if x == nil {
			return "–"
		}
		l := x.Reads
		if w.scenario == ScTLSSetData {
			l = x.Writes
		}
		return us(l.P50) + " / " + us(l.P99)
	}
	cpu := func(x *Result) string {
		if x == nil || x.ServerCPUPerOp == 0 {
			return "–"
		}
		return num(x.ServerCPUPerOp)
	}
	th := func(x *Result) float64 {
		if x == nil {
			return 0
		}
		return x.Throughput
	}
	p("## TLS\n\n")
	p("Each server is started once with a plain client port and a secure client port (`secureClientPort`) and measured over each, one after the other: ")
	p("getData at the headline load (%s, closed loop, as in the getData scenario) and setData with fsync (forceSync=yes) at the write scenario's largest writer count, one outstanding write each. ", rep.headLabel())
	p("ZooKeeper serves TLS only with `serverCnxnFactory=org.apache.zookeeper.server.NettyServerCnxnFactory`, so this ZooKeeper runs Netty on both ports: its plaintext figures here are Netty's, not those of the NIO factory (its default) in the request scenarios above, and its TLS / plaintext ratio compares like with like. ")
	p("Each server gets a warm-up of its own first (three windows of the 90/10 mix: two over TLS, one over plaintext), then the same %s warm-up and %s window per measurement as the other scenarios. ", rep.Settings.Warmup, rep.Settings.Duration)
	p("The generator speaks the wire protocol itself over Go's crypto/tls with the same pipelining, one TLS record and one write per batch of requests; it takes every record already received before answering, so that a server writing a record per reply does not make it write once per reply.\n\n")
	if rep.Settings.TLS != "" {
		p("**TLS settings**: %s.\n\n", rep.Settings.TLS)
	}
	var negotiated []string
	for _, sys := range systems {
		for _, w := range ws {
			if _, x := get(w, TLS, sys.name); x != nil && x.TLS != "" {
				negotiated = append(negotiated, fmt.Sprintf("%s %s", sys.title, x.TLS))
				break
			}
		}
	}
	if len(negotiated) > 0 {
		p("**Negotiated**: %s.\n\n", strings.Join(negotiated, "; "))
	}
	p("Measured by `%s`. This section alone: `go build -o bin/meerkat-bench ./cmd/meerkat-bench && ./bin/meerkat-bench -only tls -json /tmp/tls.json` (`-quick` for the short windows; `-md /tmp/tls/BENCHMARKS.md` for a report of its own).\n\n", rep.Command)

	p("| workload | server | plaintext ops/s | TLS ops/s | **TLS / plaintext** | plaintext p50 / p99 | TLS p50 / p99 | server CPU µs/op, plaintext / TLS |\n|---|---|---:|---:|---:|---|---|---|\n")
	var all []*Result
	for _, w := range ws {
		for _, sys := range systems {
			pr, px := get(w, Plaintext, sys.name)
			tr, tx := get(w, TLS, sys.name)
			all = append(all, px, tx)
			ps, pv := tput(pr, px)
			ts, tv := tput(tr, tx)
			p("| %s %s | %s | %s | %s | %s | %s | %s | %s / %s |\n", w.name, w.load, sys.title, ps, ts, ratio(tv, pv), lat(w, px), lat(w, tx), cpu(px), cpu(tx))
		}
	}
	p("\n| workload | Meerkat / ZooKeeper (Netty), plaintext | **Meerkat / ZooKeeper, TLS** |\n|---|---:|---:|\n")
	for _, w := range ws {
		_, zp := get(w, Plaintext, ZooKeeper)
		_, mp := get(w, Plaintext, Meerkat)
		_, zt := get(w, TLS, ZooKeeper)
		_, mt := get(w, TLS, Meerkat)
		p("| %s %s | %s | %s |\n", w.name, w.load, ratio(th(mp), th(zp)), ratio(th(mt), th(zt)))
	}
	var refs []string
	for _, w := range ws {
		nio := loadOf(rep.find(w.plain, w.load, ZooKeeper))
		_, netty := get(w, Plaintext, ZooKeeper)
		if nio != nil && netty != nil {
			refs = append(refs, fmt.Sprintf("%s %s %s ops/s (Netty plaintext here: %s that)", w.name, w.load, num(nio.Throughput), ratio(netty.Throughput, nio.Throughput)))
		}
	}
	if len(refs) > 0 {
		p("\nZooKeeper's default NIO factory over plaintext, in the request scenarios of this run (another server instance): %s.\n", strings.Join(refs, "; "))
	}
	if d := disturbed(all...); d != "" {
		p("\n%s\n", strings.TrimSpace(d))
	}
	p("\n")
}
