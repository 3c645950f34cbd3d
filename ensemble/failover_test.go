package ensemble

import (
	"fmt"
	"os"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/go-zookeeper/zk"

	"github.com/meerkat-zk/meerkat/internal/zktest"
)

// setup starts an ensemble and creates /w.
func setup(t *testing.T, o zktest.EnsembleOptions) *zktest.Ensemble {
	t.Helper()
	e := zktest.StartMeerkatEnsemble(t, o)
	c := connect(t, e.ConnectString(), 10*time.Second)
	if _, err := c.Create("/w", nil, 0, zk.WorldACL(zk.PermAll)); err != nil {
		t.Fatal(err)
	}
	c.Close()
	return e
}

// TestKillLeaderUnderWrites SIGKILLs the leader while four sessions write
// through the whole ensemble: the others elect a new leader and the
// writes go on; once the old leader is back, every acknowledged write is
// on every member. MEERKAT_ENSEMBLE_ROUNDS repeats the kill (default 1)
// and MEERKAT_ENSEMBLE_VOTERS sizes the ensemble (default 3); make
// soak-ensemble runs many rounds on five servers.
func TestKillLeaderUnderWrites(t *testing.T) {
	rounds, voters := envInt(t, "MEERKAT_ENSEMBLE_ROUNDS", 1), envInt(t, "MEERKAT_ENSEMBLE_VOTERS", 3)
	e := setup(t, zktest.EnsembleOptions{Voters: voters})
	w := startWriters(t, e.ConnectString(), 4, 200)
	w.waitFor(t, 200)
	var failovers []time.Duration
	for round := range rounds {
		// Writes go on through the kill; each round adds a bounded number,
		// however long it takes.
		w.allowUpTo(w.count() + 400)
		lead := e.Leader(t)
		// A session on the other members measures the failover: from the
		// SIGKILL to its first acknowledged write.
		var rest []string
		for i, s := range e.Members {
			if i != lead {
				rest = append(rest, s.Addr)
			}
		}
		probe := connect(t, strings.Join(rest, ","), 6*time.Second)
		path := fmt.Sprintf("/w/probe-%d", round)
		killed := time.Now()
		e.Members[lead].Kill()
		eventually(t, "a write after the leader's SIGKILL", func() error {
			_, err := probe.Create(path, nil, 0, zk.WorldACL(zk.PermAll))
			if err == zk.ErrNodeExists {
				return nil
			}
			return err
		})
		took := time.Since(killed)
		failovers = append(failovers, took)
		t.Logf("round %d: member %d was leader; first write after %v", round+1, lead+1, took.Round(time.Millisecond))
		probe.Close()
		before := w.count()
		w.allowUpTo(before + 200)
		w.waitFor(t, before+100)
		e.Members[lead].Restart(t)
		w.waitFor(t, before+200)
	}
	acked := w.finish()
	e.Leader(t)
	mustHaveEverywhere(t, e, acked)
	slices.Sort(failovers)
	t.Logf("%d voters, %d rounds, %d writes acknowledged; first write after the leader's SIGKILL: min %v, median %v, max %v",
		voters, rounds, len(acked), failovers[0].Round(time.Millisecond), failovers[len(failovers)/2].Round(time.Millisecond),
		failovers[len(failovers)-1].Round(time.Millisecond))
}

// envInt reads a positive count from the environment, def when unset.
func envInt(t *testing.T, key string, def int) int {
	v := os.Getenv(key)
	if v == "" {
		return def
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < 1 {
		t.Fatalf("%s=%q: want a positive count", key, v)
	}
	return n
}

// TestRestartAllAtOnce SIGKILLs every member at once and starts them
// again: nothing acknowledged is lost, and the ensemble takes writes again.
func TestRestartAllAtOnce(t *testing.T) {
	e := setup(t, zktest.EnsembleOptions{})
	w := startWriters(t, e.ConnectString(), 3, 300)
	w.waitFor(t, 300)
	acked := w.finish()
	e.RestartAll(t)
	e.Leader(t)
	mustHaveEverywhere(t, e, acked)
	c := connect(t, e.ConnectString(), 10*time.Second)
	if _, err := c.Create("/w/after", nil, 0, zk.WorldACL(zk.PermAll)); err != nil {
		t.Fatal(err)
	}
}
