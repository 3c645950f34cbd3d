package main

import (
	"os"
	"runtime"
	"testing"
)

// TestSpareProcessorAddsOneUnlessGOMAXPROCSIsSet: the server runs one P
// more than Go's default, and an operator's GOMAXPROCS wins.
func TestSpareProcessorAddsOneUnlessGOMAXPROCSIsSet(t *testing.T) {
	before := runtime.GOMAXPROCS(0)
	defer runtime.GOMAXPROCS(before)
	t.Setenv("GOMAXPROCS", "1")
	spareProcessor()
	if got := runtime.GOMAXPROCS(0); got != before {
		t.Fatalf("with GOMAXPROCS set, GOMAXPROCS(0) = %d, want it left at %d", got, before)
	}
	os.Unsetenv("GOMAXPROCS")
	spareProcessor()
	if got := runtime.GOMAXPROCS(0); got != before+1 {
		t.Fatalf("GOMAXPROCS(0) = %d, want %d", got, before+1)
	}
}
