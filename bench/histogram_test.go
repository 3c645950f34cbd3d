package bench

import (
	"math"
	"sort"
	"testing"
	"time"
)

// exactQuantile is the nearest-rank quantile of sorted values.
func exactQuantile(sorted []int64, q float64) int64 {
	rank := int(math.Ceil(q * float64(len(sorted))))
	return sorted[max(rank, 1)-1]
}

func TestHistogramBuckets(t *testing.T) {
	var r rng = 7
	for i := 0; i < 200_000; i++ {
		v := int64(r.next() >> uint(1+r.next()%63))
		if v > histMaxVal {
			continue
		}
		b := bucketOf(v)
		hi := bucketHigh(b)
		if hi < v {
			t.Fatalf("bucket %d of %d ends at %d, below the value", b, v, hi)
		}
		if b > 0 && bucketHigh(b-1) >= v {
			t.Fatalf("value %d also fits bucket %d", v, b-1)
		}
		if float64(hi-v) > float64(v)/histSub {
			t.Fatalf("value %d reported as %d: error above 1/%d", v, hi, histSub)
		}
	}
}

func TestHistogramQuantiles(t *testing.T) {
	uniform := func(i int) int64 { return int64(i + 1) } // 1..n ns
	exponential := func(i int) int64 {                   // inverse CDF at evenly spaced points, mean 1 ms
		return int64(-math.Log(1-(float64(i)+0.5)/100_000) * 1e6)
	}
	bimodal := func(i int) int64 { // 99 % at 100 µs, 1 % at 50 ms: a stall
		if i%100 == 99 {
			return 50_000_000
		}
		return 100_000
	}
	for name, gen := range map[string]func(int) int64{"uniform": uniform, "exponential": exponential, "bimodal": bimodal} {
		t.Run(name, func(t *testing.T) {
			const n = 100_000
			var h Histogram
			vals := make([]int64, n)
			for i := range vals {
				vals[i] = gen(i)
				h.RecordValue(vals[i])
			}
			sort.Slice(vals, func(i, j int) bool { return vals[i] < vals[j] })
			if h.Count() != n || h.Max() != time.Duration(vals[n-1]) || h.min != vals[0] {
				t.Fatalf("count %d min %v max %v", h.Count(), h.min, h.Max())
			}
			for _, q := range []float64{0.5, 0.9, 0.99, 0.999, 0.9999, 1} {
				want := exactQuantile(vals, q)
				got := int64(h.Quantile(q))
				if got < want || float64(got-want) > float64(want)/histSub+1 {
					t.Errorf("q%v: got %d, exact %d", q, got, want)
				}
			}
		})
	}
}

func TestHistogramKnownValues(t *testing.T) {
	var h Histogram
	for i := 0; i < 99; i++ {
		h.Record(time.Millisecond)
	}
	h.Record(time.Second)
	s := h.Summary()
	if s.P50 < 1000 || s.P50 > 1000*(1+1.0/histSub) {
		t.Errorf("p50 %v µs, want 1000", s.P50)
	}
	if s.P99 > 1000*(1+1.0/histSub) {
		t.Errorf("p99 %v µs: 99 of 100 values are 1 ms", s.P99)
	}
	if s.P999 != 1e6 || s.Max != 1e6 {
		t.Errorf("p99.9 %v µs, max %v µs, want the 1 s outlier", s.P999, s.Max)
	}
	if want := (99*1e3 + 1e6) / 100; math.Abs(s.Mean-want) > 1 {
		t.Errorf("mean %v µs, want %v", s.Mean, want)
	}
}

func TestHistogramMerge(t *testing.T) {
	var a, b, all Histogram
	for i := int64(1); i <= 10_000; i++ {
		v := i * i
		all.RecordValue(v)
		if i%3 == 0 {
			a.RecordValue(v)
		} else {
			b.RecordValue(v)
		}
	}
	a.Merge(&b)
	if a.Summary() != all.Summary() {
		t.Fatalf("merged %+v, recorded together %+v", a.Summary(), all.Summary())
	}
	var empty Histogram
	if empty.Quantile(0.99) != 0 || empty.Summary().Count != 0 {
		t.Fatal("an empty histogram reports values")
	}
	empty.RecordValue(-5)
	empty.RecordValue(math.MaxInt64)
	if empty.min != 0 || int64(empty.Max()) != histMaxVal {
		t.Fatalf("clamping: min %v max %v", empty.min, empty.Max())
	}
}
