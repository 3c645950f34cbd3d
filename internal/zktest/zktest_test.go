package zktest

import "testing"

func TestLineDiff(t *testing.T) {
	a := []string{"1", "2", "3", "4", "5", "6", "7", "8"}
	b := []string{"1", "2", "3", "x", "5", "6", "7", "8"}
	if d := LineDiff(a, a, -1); d != "" {
		t.Errorf("equal inputs: got %q", d)
	}
	if d, want := LineDiff(a, b, -1), "  1\n  2\n  3\n+ x\n- 4\n  5\n  6\n  7\n  8\n"; d != want {
		t.Errorf("context -1: got\n%s\nwant\n%s", d, want)
	}
	if d, want := LineDiff(a, b, 1), "  3\n+ x\n- 4\n  5\n"; d != want {
		t.Errorf("context 1: got\n%s\nwant\n%s", d, want)
	}
	c := []string{"x", "2", "3", "4", "5", "6", "7", "y"}
	if d, want := LineDiff(a, c, 1), "+ x\n- 1\n  2\n  ...\n  7\n+ y\n- 8\n"; d != want {
		t.Errorf("two changes: got\n%s\nwant\n%s", d, want)
	}
}

func TestDigestID(t *testing.T) {
	// The superDigest example in ZooKeeper's administrator's guide.
	if got, want := DigestID("super", "test"), "super:D/InIHSb7yEEbrWz8b9l71RjZJU="; got != want {
		t.Errorf("DigestID = %q, want %q", got, want)
	}
}
