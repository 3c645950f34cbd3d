// Package gctune keeps the garbage collector's headroom proportionate for a
// server with a large, long-lived heap. Go's default (GOGC=100) lets the
// heap grow to twice the live data before collecting; with millions of
// znodes that doubles the resident memory. Meerkat's tree is light on
// pointers, so collections are cheap, and the tuner lets the heap grow by
// max(Floor, Fraction*live) instead. An explicit GOGC is left alone.
package gctune

import (
	"os"
	"runtime/debug"
	"runtime/metrics"
	"time"
)

// Config sets the headroom.
type Config struct {
	// Floor is the least the heap may grow between collections, in bytes.
	Floor uint64
	// Fraction is the growth allowed relative to the live heap.
	Fraction float64
	// Every is how often the target is recomputed.
	Every time.Duration
}

// Default is 64 MiB or a quarter of the live heap, every 2 s.
var Default = Config{Floor: 64 << 20, Fraction: 0.25, Every: 2 * time.Second}

// Start runs the tuner until stop is closed. It does nothing when the GOGC
// environment variable is set.
func Start(cfg Config, stop <-chan struct{}) {
	if _, set := os.LookupEnv("GOGC"); set {
		return
	}
	go func() {
		sample := []metrics.Sample{{Name: "/gc/heap/live:bytes"}}
		t := time.NewTicker(cfg.Every)
		defer t.Stop()
		last := -1
		for {
			metrics.Read(sample)
			if p := Percent(cfg, sample[0].Value.Uint64()); p != last {
				debug.SetGCPercent(p)
				last = p
			}
			select {
			case <-t.C:
			case <-stop:
				return
			}
		}
	}()
}

// Percent is the GOGC that allows the configured growth over live bytes,
// between 10 and 100.
func Percent(cfg Config, live uint64) int {
	if live == 0 {
		return 100
	}
	growth := max(float64(cfg.Floor), cfg.Fraction*float64(live))
	p := int(100 * growth / float64(live))
	return min(max(p, 10), 100)
}
