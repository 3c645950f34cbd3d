package netpoll

import (
	"log/slog"
	"sync/atomic"
	"time"
)

// rateLimitedLog logs a message at most once per interval, with the number
// of times it was suppressed since the last line; for conditions that can
// recur on every request, such as a throttle. Safe from any goroutine.
type rateLimitedLog struct {
	logger     *slog.Logger
	interval   time.Duration
	last       atomic.Int64 // unix ns of the last line
	suppressed atomic.Int64
}

// Info logs msg unless a line was logged less than interval ago.
func (r *rateLimitedLog) Info(msg string, args ...any) {
	now := time.Now().UnixNano()
	last := r.last.Load()
	if now-last < int64(r.interval) || !r.last.CompareAndSwap(last, now) {
		r.suppressed.Add(1)
		return
	}
	r.logger.Info(msg, append(args, "suppressed_since_last", r.suppressed.Swap(0))...)
}
