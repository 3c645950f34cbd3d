package bench

import (
	"os"
	"testing"
)

// TestMarkCPUSumsTheServers counts this process twice, as an ensemble's
// members are counted: the mark holds twice its CPU time, as read just
// before and after.
func TestMarkCPUSumsTheServers(t *testing.T) {
	self := os.Getpid()
	// Reading /proc uses CPU: read until there is some to count, at 10 ms
	// resolution.
	for i := 0; i < 100_000 && processCPU(self) == 0; i++ {
	}
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
