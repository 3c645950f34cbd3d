package throttle

import (
	"testing"
	"time"
)

func TestTokenBucket(t *testing.T) {
	now := time.Unix(0, 0)
	off := New(Default(), now)
	for range 1000 {
		if !off.Allow(1, now) {
			t.Fatal("the default throttle refused a connection")
		}
	}
	cfg := Default()
	cfg.Tokens, cfg.FillTime, cfg.FillCount = 3, 100*time.Millisecond, 2
	th := New(cfg, now)
	for i := range 3 {
		if !th.Allow(1, now) {
			t.Fatalf("request %d of a full bucket refused", i)
		}
	}
	if th.Allow(1, now) {
		t.Fatal("an empty bucket let a request in")
	}
	// Refills count only once more than the fill time has passed.
	if th.Allow(1, now.Add(100*time.Millisecond)) {
		t.Fatal("refilled at exactly the fill time")
	}
	later := now.Add(101 * time.Millisecond)
	if !th.Allow(2, later) || th.Allow(1, later) {
		t.Fatal("one fill time did not add exactly fill count tokens")
	}
	// Never above the bucket's size.
	much := later.Add(time.Hour)
	if !th.Allow(3, much) || th.Allow(1, much) {
		t.Fatal("the bucket overfilled")
	}
}

func TestWeights(t *testing.T) {
	cfg := Default()
	cfg.Tokens, cfg.Weighted, cfg.FillTime = 2, true, time.Hour
	th := New(cfg, time.Unix(0, 0))
	if th.Need(false, false) != 3 || th.Need(true, false) != 2 || th.Need(false, true) != 1 {
		t.Fatalf("weights: global %d renew %d local %d", th.Need(false, false), th.Need(true, false), th.Need(false, true))
	}
	// Tokens count global sessions: two of them, then nothing.
	now := time.Unix(0, 0)
	if !th.Allow(3, now) || !th.Allow(3, now) || th.Allow(1, now) {
		t.Fatal("a weighted bucket of two global sessions did not hold exactly two")
	}
	cfg.GlobalWeight, cfg.LocalWeight, cfg.RenewWeight = 1, 4, 0
	if th := New(cfg, now); th.Need(false, false) != 4 || th.Need(true, false) != 4 {
		t.Errorf("weights below the local one were not raised to it: %d %d", th.Need(false, false), th.Need(true, false))
	}
}

// BLUE raises the drop chance while the bucket stays empty and lowers it
// once it refills.
func TestBlue(t *testing.T) {
	cfg := Default()
	cfg.Tokens, cfg.FillTime, cfg.FillCount, cfg.FreezeTime = 1, time.Hour, 1, 0
	cfg.DropIncrease, cfg.DropDecrease = 0.25, 0.5
	now := time.Unix(0, 0)
	th := New(cfg, now)
	th.Allow(1, now)
	for i := 1; i <= 4; i++ {
		now = now.Add(time.Millisecond)
		th.Allow(1, now)
	}
	if d := th.DropChance(); d != 1 {
		t.Fatalf("drop chance after four freeze times of an empty bucket = %v, want 1", d)
	}
	if th.Allow(0, now.Add(time.Millisecond)) {
		t.Fatal("a drop chance of 1 let a request in")
	}
	now = now.Add(2 * time.Hour)
	th.Allow(0, now) // refills, then lowers the chance by one step
	if d := th.DropChance(); d != 0.5 {
		t.Fatalf("drop chance after a refill = %v, want 0.5", d)
	}
}
