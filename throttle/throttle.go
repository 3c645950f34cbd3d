// Package throttle is ZooKeeper's connection-rate limit (BlueThrottle, the
// zookeeper.connection_throttle_* settings): a token bucket that each new
// session or reconnect draws from, and, optionally, BLUE's random early
// drop, whose probability rises while the bucket stays empty and falls
// once it refills. It holds a reconnect storm back at the door, before
// the sessions it would open cost anything.
package throttle

import (
	"math"
	"math/rand/v2"
	"sync"
	"time"
)

// Config configures a Throttle with ZooKeeper's settings. Tokens 0 turns
// it off (the default).
type Config struct {
	// Tokens is the bucket's size (connection_throttle_tokens).
	Tokens int
	// FillTime and FillCount refill FillCount tokens every FillTime
	// (connection_throttle_fill_time in ms, default 1; _fill_count,
	// default 1).
	FillTime  time.Duration
	FillCount int
	// FreezeTime is how often the drop probability may change
	// (connection_throttle_freeze_time in ms; negative turns BLUE off, the
	// default).
	FreezeTime time.Duration
	// DropIncrease and DropDecrease are the steps of the drop probability
	// (default 0.02 and 0.002); DecreaseRatio is the share of the bucket
	// that must be full for it to fall (default 0).
	DropIncrease, DropDecrease, DecreaseRatio float64
	// Weighted weighs sessions by their cost (connection_throttle_weight_
	// enabled): a new global session takes GlobalWeight tokens (3), a local
	// one LocalWeight (1), a reconnect RenewWeight (2); Tokens and
	// FillCount then count global sessions.
	Weighted                               bool
	GlobalWeight, LocalWeight, RenewWeight int
}

// Default is ZooKeeper's default configuration: off.
func Default() Config {
	return Config{FillTime: time.Millisecond, FillCount: 1, FreezeTime: -1, DropIncrease: 0.02,
		DropDecrease: 0.002, GlobalWeight: 3, LocalWeight: 1, RenewWeight: 2}
}

// Throttle is the limit's state; safe from any goroutine.
type Throttle struct {
	cfg Config

	mu         sync.Mutex
	maxTokens  int
	fillCount  int
	tokens     int
	last       time.Time
	lastFreeze time.Time
	drop       float64
}

// New makes a throttle whose bucket is full at now.
func New(cfg Config, now time.Time) *Throttle {
	// Weights below the local session's are raised to it, as in
	// ZooKeeper.
	cfg.LocalWeight = max(cfg.LocalWeight, 1)
	if cfg.GlobalWeight <= 0 {
		cfg.GlobalWeight = 3
	}
	if cfg.RenewWeight <= 0 {
		cfg.RenewWeight = 2
	}
	cfg.GlobalWeight = max(cfg.GlobalWeight, cfg.LocalWeight)
	cfg.RenewWeight = max(cfg.RenewWeight, cfg.LocalWeight)
	t := &Throttle{cfg: cfg, maxTokens: cfg.Tokens, fillCount: cfg.FillCount, last: now, lastFreeze: now}
	if cfg.Weighted {
		t.maxTokens *= cfg.GlobalWeight
		t.fillCount *= cfg.GlobalWeight
	}
	t.tokens = t.maxTokens
	return t
}

// Need is how many tokens a ConnectRequest takes: one, or with weights,
// by what it opens (a reconnect, a local or a global session).
func (t *Throttle) Need(renew, local bool) int {
	switch {
	case !t.cfg.Weighted:
		return 1
	case renew:
		return t.cfg.RenewWeight
	case local:
		return t.cfg.LocalWeight
	}
	return t.cfg.GlobalWeight
}

// Allow takes need tokens if the bucket has them and BLUE does not drop
// the request, as BlueThrottle.checkLimit.
func (t *Throttle) Allow(need int, now time.Time) bool {
	if t.maxTokens == 0 {
		return true
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	if diff := now.Sub(t.last); diff > t.cfg.FillTime {
		refill := int(int64(diff/time.Millisecond) * int64(t.fillCount) / max(int64(t.cfg.FillTime/time.Millisecond), 1))
		t.tokens = min(t.tokens+refill, t.maxTokens)
		t.last = now
	}
	if t.cfg.FreezeTime >= 0 && !t.blue(now) {
		return false
	}
	if t.tokens < need {
		return false
	}
	t.tokens -= need
	return true
}

// blue moves the drop probability at most once per FreezeTime (up while
// the bucket is empty, down while it is at least DecreaseRatio full) and
// reports whether the request survives it.
func (t *Throttle) blue(now time.Time) bool {
	if now.Sub(t.lastFreeze) > t.cfg.FreezeTime {
		used := t.maxTokens - t.tokens
		threshold := int(math.Round(float64(t.maxTokens) * t.cfg.DecreaseRatio))
		switch {
		case used == t.maxTokens && t.drop < 1:
			t.drop = min(t.drop+t.cfg.DropIncrease, 1)
		case used <= threshold && t.drop > 0:
			t.drop = max(t.drop-t.cfg.DropDecrease, 0)
		}
		t.lastFreeze = now
	}
	return rand.Float64() >= t.drop
}

// DropChance is the current drop probability (connection_drop_probability).
func (t *Throttle) DropChance() float64 {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.drop
}
