package gctune

import "testing"

func TestPercent(t *testing.T) {
	for _, tc := range []struct {
		live uint64
		want int
	}{
		{0, 100},
		{10 << 20, 100}, // small heaps keep GOGC=100
		{128 << 20, 50}, // 64 MiB floor over 128 MiB
		{1 << 30, 25},   // a quarter of a large heap
		{100 << 30, 25}, // never below the fraction
	} {
		if got := Percent(Default, tc.live); got != tc.want {
			t.Errorf("Percent(%d MiB) = %d, want %d", tc.live>>20, got, tc.want)
		}
	}
}
