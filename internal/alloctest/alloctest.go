// Package alloctest measures what a piece of code allocates, for fuzz
// targets that prove a decoder allocates in proportion to its input.
package alloctest

import (
	"math"
	"runtime/metrics"
)

// AllocatedBy runs fn, which must be deterministic, and returns how many
// bytes it allocated. The runtime counts a large allocation at once but
// small ones a span at a time, and a GC cycle that starts meanwhile
// credits every cached span at once; so a measure above limit is taken
// again, and the least of three is returned.
func AllocatedBy(limit uint64, fn func()) uint64 {
	s := []metrics.Sample{{Name: "/gc/heap/allocs:bytes"}}
	least := uint64(math.MaxUint64)
	for range 3 {
		metrics.Read(s)
		before := s[0].Value.Uint64()
		fn()
		metrics.Read(s)
		if least = min(least, s[0].Value.Uint64()-before); least <= limit {
			break
		}
	}
	return least
}
