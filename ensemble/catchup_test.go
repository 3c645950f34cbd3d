package ensemble

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/go-zookeeper/zk"

	"github.com/meerkat-zk/meerkat/internal/zktest"
)

// TestMemberCatchesUpFromASnapshot stops a member while the others take
// writes and compact their logs past what it has: back, it is brought up
// from the leader's image and the log after it, and has every write. The
// member comes back with its data, or wiped (all but its myid): then it
// asks to rejoin with a fresh log.
func TestMemberCatchesUpFromASnapshot(t *testing.T) {
	for _, wipe := range []bool{false, true} {
		t.Run(map[bool]string{false: "behind", true: "wiped"}[wipe], func(t *testing.T) {
			catchUp(t, wipe)
		})
	}
}

func catchUp(t *testing.T, wipe bool) {
	e := setup(t, zktest.EnsembleOptions{Options: zktest.Options{Extra: []string{
		"zookeeper.snapCount=200", "meerkat.raft.keepEntries=50"}}})
	logsOnFailure(t, e)
	lead := e.Leader(t)
	wiped := (lead + 1) % len(e.Members)
	e.Members[wiped].Kill()
	if wipe {
		data := filepath.Join(e.Members[wiped].Dir, "data")
		ents, err := os.ReadDir(data)
		if err != nil {
			t.Fatal(err)
		}
		for _, ent := range ents {
			if ent.Name() != "myid" {
				if err := os.RemoveAll(filepath.Join(data, ent.Name())); err != nil {
					t.Fatal(err)
				}
			}
		}
	}
	var rest []string
	for i, s := range e.Members {
		if i != wiped {
			rest = append(rest, s.Addr)
		}
	}
	c := connect(t, strings.Join(rest, ","), 10*time.Second)
	var acked []string
	for i := range 1000 {
		name := fmt.Sprintf("n%04d", i)
		if _, err := c.Create("/w/"+name, []byte(strings.Repeat("x", 100)), 0, zk.WorldACL(zk.PermAll)); err != nil {
			t.Fatal(err)
		}
		acked = append(acked, name)
	}
	// The members compact about once a second once their checkpoints
	// are flushed.
	time.Sleep(2500 * time.Millisecond)
	e.Members[wiped].Restart(t)
	if _, err := c.Create("/w/after", nil, 0, zk.WorldACL(zk.PermAll)); err != nil {
		t.Fatal(err)
	}
	mustHaveEverywhere(t, e, append(acked, "after"))
	if log := e.Members[wiped].Log(); !strings.Contains(log, "installing a snapshot") {
		t.Fatalf("the member did not catch up from a snapshot:\n%s", log)
	}
}
