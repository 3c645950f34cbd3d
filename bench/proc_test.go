package bench

import (
	"os"
	"testing"
	"time"
)

// TestMarkCPUSumsTheServers counts this process twice, as an ensemble's
// members are counted: the mark holds twice its CPU time, as read just
// before and after.
func TestMarkCPUSumsTheServers(t *testing.T) {
	for start := time.Now(); time.Since(start) < 50*time.Millisecond; {
		// Burn CPU, so that there is some to count at 10 ms resolution.
	}
	self := os.Getpid()
	before := processCPU(self)
	m := markCPU(self, 0, self)
	after := processCPU(self)
	if before == 0 {
		t.Fatal("no CPU time read for this process")
	}
	if m.server < 2*before || m.server > 2*after {
		t.Fatalf("two counts of this process gave %v; each read between %v and %v", m.server, before, after)
	}
}
