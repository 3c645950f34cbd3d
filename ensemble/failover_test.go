package ensemble

import (
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
// on every member.
func TestKillLeaderUnderWrites(t *testing.T) {
	e := setup(t, zktest.EnsembleOptions{})
	lead := e.Leader(t)
	w := startWriters(t, e.ConnectString(), 4, 2000)
	w.waitFor(t, 200)
	// A session on the followers measures the failover: from the SIGKILL
	// to its first acknowledged write.
	var rest []string
	for i, s := range e.Members {
		if i != lead {
			rest = append(rest, s.Addr)
		}
	}
	probe := connect(t, strings.Join(rest, ","), 6*time.Second)
	killed := time.Now()
	e.Members[lead].Kill()
	eventually(t, "a write after the leader's SIGKILL", func() error {
		_, err := probe.Create("/w/probe", nil, 0, zk.WorldACL(zk.PermAll))
		if err == zk.ErrNodeExists {
			return nil
		}
		return err
	})
	t.Logf("first write acknowledged %v after the leader's SIGKILL", time.Since(killed).Round(time.Millisecond))
	before := w.count()
	w.waitFor(t, before+200)
	e.Members[lead].Restart(t)
	w.waitFor(t, before+300)
	acked := w.finish()
	e.Leader(t)
	mustHaveEverywhere(t, e, acked)
}

// TestRestartAllAtOnce SIGKILLs every member at once and starts them
// again: nothing acknowledged is lost, and the ensemble takes writes again.
func TestRestartAllAtOnce(t *testing.T) {
	e := setup(t, zktest.EnsembleOptions{})
	w := startWriters(t, e.ConnectString(), 3, 100)
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
