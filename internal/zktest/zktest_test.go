package zktest

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"testing"
)

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

// recordingTB records what a helper reports instead of failing.
type recordingTB struct {
	TB
	errors []string
}

func (r *recordingTB) Helper() {}

func (r *recordingTB) Errorf(format string, args ...any) {
	r.errors = append(r.errors, fmt.Sprintf(format, args...))
}

// TestRaceReportFailsTheTest: a server whose output holds a race
// detector's report fails the test that started it; one without does not.
func TestRaceReportFailsTheTest(t *testing.T) {
	clean := &Server{Name: "meerkat", log: bytes.NewBufferString("level=INFO msg=serving\n"), cmd: exec.Command("true")}
	clean.cmd.Process = &os.Process{Pid: 1}
	var tb recordingTB
	clean.failOnRace(&tb)
	if len(tb.errors) != 0 {
		t.Fatalf("a clean log failed the test: %v", tb.errors)
	}
	racy := &Server{Name: "meerkat", cmd: clean.cmd, log: bytes.NewBufferString(
		"level=INFO msg=serving\n==================\nWARNING: DATA RACE\nWrite at 0x00c000 by goroutine 7:\n  netpoll.(*conn).flush()\n")}
	racy.failOnRace(&tb)
	if len(tb.errors) != 1 || !strings.Contains(tb.errors[0], "netpoll.(*conn).flush()") {
		t.Fatalf("a race report did not fail the test with the report: %v", tb.errors)
	}
}
