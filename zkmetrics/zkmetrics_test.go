package zkmetrics

import (
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
)

// The quantiles of a histogram are within its bucket error (1/16) of the
// exact ones, and Merge equals adding the samples to one histogram.
func TestHistogramQuantiles(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	var a, b, all Histogram
	var samples []int64
	for i := range 20000 {
		v := int64(rng.ExpFloat64() * 40)
		if i%100 == 0 {
			v = rng.Int64N(1 << 40)
		}
		samples = append(samples, v)
		all.Add(v)
		if i%2 == 0 {
			a.Add(v)
		} else {
			b.Add(v)
		}
	}
	a.Merge(&b)
	if a != all {
		t.Fatal("merging two histograms differs from adding all samples to one")
	}
	slices.Sort(samples)
	for _, q := range []float64{0, 0.5, 0.9, 0.95, 0.99, 0.999, 1} {
		rank := max(int(q*float64(len(samples))+0.999999)-1, 0)
		exact, got := samples[rank], all.Quantile(q)
		if got > exact || float64(exact-got) > float64(exact)/16+1 {
			t.Errorf("q%v: %d, exact %d", q, got, exact)
		}
	}
	if all.Min != samples[0] || all.Max != samples[len(samples)-1] || all.Count != int64(len(samples)) {
		t.Errorf("min/max/count %d/%d/%d", all.Min, all.Max, all.Count)
	}
	var empty Histogram
	if empty.Quantile(0.5) != 0 || empty.Avg() != 0 {
		t.Error("an empty histogram reads non-zero")
	}
}

func TestMntrAndPrometheusFormats(t *testing.T) {
	var h Histogram
	for _, v := range []int64{0, 1, 2, 10} {
		h.Add(v)
	}
	s := Snapshot{
		Gauges: []Gauge{{"version", "3.8.0"}, {"znode_count", 5}, {"avg_latency", 0.56}},
		Summaries: []SummaryValue{
			{Name: "readlatency", Level: Advanced, Histogram: h},
			{Name: "fsynctime", Level: Basic},
		},
	}
	var b strings.Builder
	s.WriteMntr(&b)
	want := "zk_version\t3.8.0\nzk_znode_count\t5\nzk_avg_latency\t0.56\n" +
		"zk_avg_readlatency\t3.25\nzk_min_readlatency\t0\nzk_max_readlatency\t10\nzk_cnt_readlatency\t4\nzk_sum_readlatency\t13\n" +
		"zk_p50_readlatency\t1\nzk_p95_readlatency\t10\nzk_p99_readlatency\t10\nzk_p999_readlatency\t10\n" +
		"zk_avg_fsynctime\t0.0\nzk_min_fsynctime\t0\nzk_max_fsynctime\t0\nzk_cnt_fsynctime\t0\nzk_sum_fsynctime\t0\n"
	if b.String() != want {
		t.Errorf("mntr:\n%s\nwant:\n%s", b.String(), want)
	}
	var p strings.Builder
	if err := s.WritePrometheus(&p); err != nil {
		t.Fatal(err)
	}
	wantProm := "# HELP znode_count znode_count\n# TYPE znode_count gauge\nznode_count 5.0\n" +
		"# HELP avg_latency avg_latency\n# TYPE avg_latency gauge\navg_latency 0.56\n" +
		"# HELP readlatency readlatency\n# TYPE readlatency summary\n" +
		"readlatency{quantile=\"0.5\"} 1.0\nreadlatency{quantile=\"0.9\"} 10.0\nreadlatency{quantile=\"0.99\"} 10.0\n" +
		"readlatency_count 4\nreadlatency_sum 13.0\n" +
		"# HELP fsynctime fsynctime\n# TYPE fsynctime summary\nfsynctime{quantile=\"0.5\"} 0.0\nfsynctime_count 0\nfsynctime_sum 0.0\n"
	if p.String() != wantProm {
		t.Errorf("prometheus:\n%s\nwant:\n%s", p.String(), wantProm)
	}
	for v, want := range map[float64]string{0: "0.0", 13: "13.0", 3.34621: "3.3462", 0.56: "0.56"} {
		if got := JavaDouble(v); got != want {
			t.Errorf("JavaDouble(%v) = %q, want %q", v, got, want)
		}
	}
}

func TestSummaryResets(t *testing.T) {
	FsyncTime.Add(7)
	found := false
	for _, s := range Summaries() {
		if s.Name == "fsynctime" {
			found = s.Count > 0 && s.Max >= 7
		}
	}
	if !found {
		t.Fatal("fsynctime did not record")
	}
	ResetAll()
	for _, s := range Summaries() {
		if s.Count != 0 {
			t.Fatalf("%s kept %d samples after ResetAll", s.Name, s.Count)
		}
	}
}
