// Package zkmetrics publishes what Apache ZooKeeper 3.8 publishes, under its
// names and shapes: the server's gauges and the ServerMetrics summaries that
// Meerkat can measure (request latencies, fsync and snapshot times, write
// batch sizes). The mntr four-letter word prints them as ZooKeeper's mntr
// does; the Prometheus metrics provider serves them as ZooKeeper's
// PrometheusMetricsProvider does (gauges, and summaries with quantiles).
package zkmetrics

import (
	"fmt"
	"io"
	"math"
	"math/bits"
	"slices"
	"strconv"
	"strings"
	"sync"
)

// Level is a summary's detail level, as ZooKeeper's DetailLevel: a Basic
// summary is count, sum, min, max and average (Prometheus: the median); an
// Advanced one adds percentiles.
type Level int

// Detail levels.
const (
	Basic Level = iota
	Advanced
)

// Histogram counts non-negative integer samples (milliseconds, entries):
// exactly below 64, then in 16 buckets per power of two (an error under
// 7 %). The zero value is empty. It is not safe for concurrent use: a
// Summary wraps one with a lock, and a network loop keeps its own and
// merges it when read.
type Histogram struct {
	Count, Sum, Min, Max int64
	buckets              [histBuckets]int64
}

const (
	exactBelow  = 64
	subBuckets  = 16
	histBuckets = exactBelow + (63-6)*subBuckets
)

// bucket returns the bucket of v >= 0.
func bucket(v int64) int {
	if v < exactBelow {
		return int(v)
	}
	exp := bits.Len64(uint64(v)) - 1 // 6..62
	sub := int((v >> (exp - 4)) & (subBuckets - 1))
	return exactBelow + (exp-6)*subBuckets + sub
}

// lowest returns the smallest value of bucket i.
func lowest(i int) int64 {
	if i < exactBelow {
		return int64(i)
	}
	exp := (i-exactBelow)/subBuckets + 6
	sub := int64((i - exactBelow) % subBuckets)
	return 1<<exp | sub<<(exp-4)
}

// Add records v; a negative v (a clock step) counts as 0.
func (h *Histogram) Add(v int64) {
	v = max(v, 0)
	if h.Count == 0 || v < h.Min {
		h.Min = v
	}
	h.Max = max(h.Max, v)
	h.Count++
	h.Sum += v
	h.buckets[bucket(v)]++
}

// Merge adds o's samples.
func (h *Histogram) Merge(o *Histogram) {
	if o.Count == 0 {
		return
	}
	if h.Count == 0 || o.Min < h.Min {
		h.Min = o.Min
	}
	h.Max = max(h.Max, o.Max)
	h.Count += o.Count
	h.Sum += o.Sum
	for i, n := range o.buckets {
		h.buckets[i] += n
	}
}

// Quantile returns the value at quantile q (0..1): the lowest value of the
// bucket holding it, never above Max. An empty histogram gives 0.
func (h *Histogram) Quantile(q float64) int64 {
	if h.Count == 0 {
		return 0
	}
	rank := int64(math.Ceil(q * float64(h.Count)))
	rank = min(max(rank, 1), h.Count)
	var seen int64
	for i, n := range h.buckets {
		if seen += n; seen >= rank {
			return min(max(lowest(i), h.Min), h.Max)
		}
	}
	return h.Max
}

// Avg returns the mean, 0 for an empty histogram.
func (h *Histogram) Avg() float64 {
	if h.Count == 0 {
		return 0
	}
	return float64(h.Sum) / float64(h.Count)
}

// Summary is one of ZooKeeper's ServerMetrics summaries at the Basic
// level, safe for concurrent use.
type Summary struct {
	name string
	mu   sync.Mutex
	h    Histogram
}

// The summaries of ZooKeeper's ServerMetrics that Meerkat's parts record
// (readlatency and updatelatency are kept by the network loops, see
// SummaryValue).
var (
	// FsyncTime is fsynctime: ms per fsync of the transaction log.
	FsyncTime = &Summary{name: "fsynctime"}
	// SnapshotTime is snapshottime: ms per checkpoint flush (ZooKeeper's
	// snapshot).
	SnapshotTime = &Summary{name: "snapshottime"}
	// DBInitTime is dbinittime: ms to load the database at start.
	DBInitTime = &Summary{name: "dbinittime"}
	// SyncProcessorBatchSize is sync_processor_batch_size: writes per
	// log append (one fsync).
	SyncProcessorBatchSize = &Summary{name: "sync_processor_batch_size"}
	// ElectionTime is election_time: ms an ensemble member went without
	// a leader before it knew the next one.
	ElectionTime = &Summary{name: "election_time"}
)

// registered lists the summaries above, for Summaries and ResetAll.
var registered = []*Summary{FsyncTime, SnapshotTime, DBInitTime, SyncProcessorBatchSize, ElectionTime}

// Add records a sample.
func (s *Summary) Add(v int64) {
	s.mu.Lock()
	s.h.Add(v)
	s.mu.Unlock()
}

// Reset forgets every sample (the srst four-letter word).
func (s *Summary) Reset() {
	s.mu.Lock()
	s.h = Histogram{}
	s.mu.Unlock()
}

// SummaryValue is a summary as read at one moment.
type SummaryValue struct {
	Name  string
	Level Level
	Histogram
}

// Summaries reads the registered summaries.
func Summaries() []SummaryValue {
	out := make([]SummaryValue, 0, len(registered))
	for _, s := range registered {
		s.mu.Lock()
		out = append(out, SummaryValue{Name: s.name, Level: Basic, Histogram: s.h})
		s.mu.Unlock()
	}
	return out
}

// Gauge is a value read at one moment: a number, or text (version,
// server_state, which mntr prints and Prometheus leaves out).
type Gauge struct {
	Name  string
	Value any
}

// Snapshot is one reading of everything the server publishes.
type Snapshot struct {
	Gauges    []Gauge
	Summaries []SummaryValue
}

// JavaDouble formats v as Java's Double.toString does for the averages
// ZooKeeper prints (rounded to 4 decimals): "0.0", "13.0", "3.3462".
func JavaDouble(v float64) string {
	s := strconv.FormatFloat(math.Round(v*1e4)/1e4, 'f', -1, 64)
	if !strings.ContainsAny(s, ".eEnN") {
		s += ".0"
	}
	return s
}

// Flat lists s as mntr and the monitor command do: the gauges, then for
// each summary avg_, min_, max_, cnt_, sum_ and, for an Advanced one,
// p50_, p95_, p99_, p999_ before its name.
func (s Snapshot) Flat() []Gauge {
	out := slices.Clone(s.Gauges)
	for _, m := range s.Summaries {
		out = append(out, Gauge{"avg_" + m.Name, m.Avg()}, Gauge{"min_" + m.Name, m.Min},
			Gauge{"max_" + m.Name, m.Max}, Gauge{"cnt_" + m.Name, m.Count}, Gauge{"sum_" + m.Name, m.Sum})
		if m.Level == Advanced {
			for _, p := range []struct {
				label string
				q     float64
			}{{"p50", 0.5}, {"p95", 0.95}, {"p99", 0.99}, {"p999", 0.999}} {
				out = append(out, Gauge{p.label + "_" + m.Name, m.Quantile(p.q)})
			}
		}
	}
	return out
}

// WriteMntr writes s as ZooKeeper's mntr lines (zk_ and Flat's names),
// averages as Java prints them.
func (s Snapshot) WriteMntr(b *strings.Builder) {
	for _, g := range s.Flat() {
		if f, ok := g.Value.(float64); ok {
			fmt.Fprintf(b, "zk_%s\t%s\n", g.Name, JavaDouble(f))
		} else {
			fmt.Fprintf(b, "zk_%s\t%v\n", g.Name, g.Value)
		}
	}
}

// WritePrometheus writes s in Prometheus' text format as ZooKeeper's
// PrometheusMetricsProvider does: every numeric gauge as a gauge, and each
// summary with its quantiles (0.5 for Basic; 0.5, 0.9, 0.99 for Advanced),
// _sum and _count, each under # HELP and # TYPE lines.
func (s Snapshot) WritePrometheus(w io.Writer) error {
	var b strings.Builder
	for _, g := range s.Gauges {
		v, ok := number(g.Value)
		if !ok {
			continue
		}
		fmt.Fprintf(&b, "# HELP %s %s\n# TYPE %s gauge\n%s %s\n", g.Name, g.Name, g.Name, g.Name, promFloat(v))
	}
	for _, m := range s.Summaries {
		fmt.Fprintf(&b, "# HELP %s %s\n# TYPE %s summary\n", m.Name, m.Name, m.Name)
		qs := []float64{0.5}
		if m.Level == Advanced {
			qs = []float64{0.5, 0.9, 0.99}
		}
		for _, q := range qs {
			fmt.Fprintf(&b, "%s{quantile=%q} %s\n", m.Name, strconv.FormatFloat(q, 'f', -1, 64), promFloat(float64(m.Quantile(q))))
		}
		fmt.Fprintf(&b, "%s_count %d\n%s_sum %s\n", m.Name, m.Count, m.Name, promFloat(float64(m.Sum)))
	}
	_, err := io.WriteString(w, b.String())
	return err
}

// number converts a gauge's value to a float, if it is a number.
func number(v any) (float64, bool) {
	switch x := v.(type) {
	case int:
		return float64(x), true
	case int32:
		return float64(x), true
	case int64:
		return float64(x), true
	case uint64:
		return float64(x), true
	case float64:
		return x, true
	}
	return 0, false
}

// ResetAll forgets the samples of every registered summary (the srst
// four-letter word, as ZooKeeper's ServerStats.reset resets ServerMetrics).
func ResetAll() {
	for _, s := range registered {
		s.Reset()
	}
}

// promFloat formats v as Prometheus' Java client does ("5.0").
func promFloat(v float64) string {
	s := strconv.FormatFloat(v, 'f', -1, 64)
	if !strings.Contains(s, ".") {
		s += ".0"
	}
	return s
}
