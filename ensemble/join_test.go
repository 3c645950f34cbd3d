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

// mntrValue returns key's value in member addr's mntr, "" when absent.
func mntrValue(addr, key string) string {
	out, _ := zktest.FourLetter(addr, "mntr")
	for _, line := range strings.Split(out, "\n") {
		if k, v, ok := strings.Cut(line, "\t"); ok && k == key {
			return v
		}
	}
	return ""
}

// TestNewServerJoinsByReconfig grows a three-server Meerkat ensemble to
// four under writes, as ZooKeeper's documentation has it done: a new
// server is started with a zoo.cfg naming the members and itself, then a
// reconfig adds it. It catches up, becomes a voter (the quorum grows to
// four), serves what was written before it came, and rewrites its own
// configuration files; then a reconfig removes one of the first three,
// and every acknowledged write is on every member that stays.
func TestNewServerJoinsByReconfig(t *testing.T) {
	e := zktest.StartMeerkatEnsemble(t, zktest.EnsembleOptions{Options: zktest.Options{Extra: []string{"reconfigEnabled=true", "skipACL=yes"}}})
	logsOnFailure(t, e)
	admin := connect(t, e.ConnectString(), 10*time.Second)
	if _, err := admin.Create("/w", nil, 0, zk.WorldACL(zk.PermAll)); err != nil {
		t.Fatal(err)
	}
	w := startWriters(t, e.ConnectString(), 3, 60000)
	w.waitFor(t, 100)

	joiner, line := e.Join(t, false)
	if mode := zktest.SrvrField(joiner.Addr, "Mode"); mode != "" {
		t.Fatalf("a server no reconfig added yet serves as %q", mode)
	}
	eventually(t, "reconfig adding server 4", func() error {
		_, err := admin.IncrementalReconfig([]string{line}, nil, -1)
		return err
	})
	eventually(t, "server 4 following", func() error {
		if mode := zktest.SrvrField(joiner.Addr, "Mode"); mode != "follower" {
			return fmt.Errorf("mode %q", mode)
		}
		return nil
	})
	lead := e.Leader(t, 0, 1, 2, 3)
	eventually(t, "a quorum of four", func() error {
		if v := mntrValue(e.Members[lead].Addr, "zk_quorum_size"); v != "4" {
			return fmt.Errorf("zk_quorum_size %q", v)
		}
		if v := mntrValue(e.Members[lead].Addr, "zk_synced_followers"); v != "3" {
			return fmt.Errorf("zk_synced_followers %q", v)
		}
		return nil
	})
	joined := connect(t, joiner.Addr, 10*time.Second)
	if _, err := joined.Sync("/w"); err != nil {
		t.Fatal(err)
	}
	cfgOn := func(c *zk.Conn) string {
		data, _, err := c.Get("/zookeeper/config")
		if err != nil {
			t.Fatal(err)
		}
		return string(data)
	}
	if got, want := cfgOn(joined), cfgOn(admin); got != want || !strings.Contains(got, line) {
		t.Fatalf("/zookeeper/config on the new server\n%s\nelsewhere\n%s\nwant the joining line %s", got, want, line)
	}
	zooCfg, err := os.ReadFile(filepath.Join(joiner.Dir, "zoo.cfg"))
	if err != nil || !strings.Contains(string(zooCfg), "dynamicConfigFile=") {
		t.Fatalf("the new server's zoo.cfg was not rewritten: %v\n%s", err, zooCfg)
	}

	// One of the first three leaves; the writers' clients move on.
	gone := (lead + 1) % 3
	at := w.count()
	leader := connect(t, e.Members[lead].Addr, 10*time.Second)
	eventually(t, fmt.Sprintf("reconfig removing server %d", gone+1), func() error {
		_, err := leader.IncrementalReconfig(nil, []string{fmt.Sprint(gone + 1)}, -1)
		return err
	})
	w.waitFor(t, at+100)
	acked := w.finish()
	var first map[string]bool
	for i := range e.Members {
		if i == gone {
			continue
		}
		got := children(t, e, i, "/w")
		for _, name := range acked {
			if !got[name] {
				t.Fatalf("member %d lacks the acknowledged write /w/%s", i+1, name)
			}
		}
		if first != nil && len(got) != len(first) {
			t.Fatalf("member %d has %d children of /w, another has %d", i+1, len(got), len(first))
		}
		first = got
	}
	if v := mntrValue(e.Members[e.Leader(t, 0, 1, 2, 3)].Addr, "zk_quorum_size"); v != "3" {
		t.Fatalf("zk_quorum_size %q after the removal, want 3", v)
	}
	t.Logf("%d writes acknowledged while server 4 joined and server %d left", len(acked), gone+1)
}
