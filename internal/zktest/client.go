package zktest

import (
	"strings"
	"time"

	"github.com/go-zookeeper/zk"
)

// QuietLog is a go-zookeeper logger that drops its logs.
type QuietLog struct{}

// Printf drops a log line.
func (QuietLog) Printf(string, ...any) {}

// Session opens a go-zookeeper session with the servers of connect (a
// comma-separated connect string) and waits up to 30 s until it is
// established; the test's cleanup closes it.
func Session(t TB, connect string, timeout time.Duration) *zk.Conn {
	t.Helper()
	c, events, err := zk.Connect(strings.Split(connect, ","), timeout, zk.WithLogger(QuietLog{}))
	if err != nil {
		t.Fatalf("zktest: %v", err)
	}
	t.Cleanup(c.Close)
	deadline := time.After(30 * time.Second)
	for {
		select {
		case ev := <-events:
			if ev.State == zk.StateHasSession {
				go Drain(events)
				return c
			}
		case <-deadline:
			t.Fatalf("zktest: no session with %s within 30 s", connect)
		}
	}
}

// Eventually retries fn every 50 ms until it succeeds, and fails t if it
// still fails after 30 s.
func Eventually(t TB, what string, fn func() error) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		err := fn()
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: still failing after 30 s: %v", what, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// Drain discards a session's events.
func Drain(events <-chan zk.Event) {
	for range events {
	}
}
