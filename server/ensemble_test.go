package server

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/meerkat-zk/meerkat/config"
	"github.com/meerkat-zk/meerkat/internal/wire"
	"github.com/meerkat-zk/meerkat/internal/zktest"
	"github.com/meerkat-zk/meerkat/jute"
	"github.com/meerkat-zk/meerkat/netpoll"
)

// ensembleConfigs returns the configurations of n members on loopback, on
// free ports, with their data under t's temporary directories.
func ensembleConfigs(t *testing.T, n int) []*config.Config {
	t.Helper()
	lines := map[string]string{}
	for id := 1; id <= n; id++ {
		lines[fmt.Sprintf("server.%d", id)] = fmt.Sprintf("127.0.0.1:%d:%d", zktest.FreePort(t), zktest.FreePort(t))
	}
	var out []*config.Config
	for id := 1; id <= n; id++ {
		cfg, err := config.Default()
		if err != nil {
			t.Fatal(err)
		}
		dir := t.TempDir()
		set := map[string]string{"clientPort": "0", "admin.enableServer": "false", "dataDir": dir, "dataLogDir": dir,
			"serverId": fmt.Sprint(id), "tickTime": "500"}
		for k, v := range lines {
			set[k] = v
		}
		for k, v := range set {
			if err := cfg.Set(k, v); err != nil {
				t.Fatal(err)
			}
		}
		if err := cfg.Validate(); err != nil {
			t.Fatal(err)
		}
		out = append(out, cfg)
	}
	return out
}

// waitModes waits until the servers report one leader and followers for
// the rest, and returns the leader's index.
func waitModes(t *testing.T, servers []*Server) int {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for time.Now().Before(deadline) {
		lead, followers := -1, 0
		for i, s := range servers {
			if s == nil {
				continue
			}
			switch s.Mode() {
			case netpoll.ModeLeader:
				lead = i
			case netpoll.ModeFollower:
				followers++
			}
		}
		live := 0
		for _, s := range servers {
			if s != nil {
				live++
			}
		}
		if lead >= 0 && followers == live-1 {
			return lead
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Fatal("the servers did not settle on a leader within 20 s")
	return -1
}

func mustCreate(t *testing.T, c *wire.Conn, path string) jute.ReplyHeader {
	t.Helper()
	r, err := c.Create(path, []byte(path), 0)
	if err != nil || r.Header.Err != jute.CodeOK {
		t.Fatalf("create %s: %v %v", path, err, r.Header.Err)
	}
	return r.Header
}

// syncedGet syncs, then reads path: what the member must have once the
// sync returns.
func syncedGet(t *testing.T, c *wire.Conn, path string) jute.Code {
	t.Helper()
	if r, err := c.Call(jute.OpSync, jute.AppendString(nil, path)); err != nil || r.Header.Err != jute.CodeOK {
		t.Fatalf("sync: %v %v", err, r.Header.Err)
	}
	r, err := c.GetData(path, false)
	if err != nil {
		t.Fatal(err)
	}
	return r.Header.Err
}

// TestEnsembleInProcess runs three members in one process over loopback:
// they elect a leader, a write through any member is read through the
// others after a sync, and after the leader stops the other two elect
// another and go on taking writes.
func TestEnsembleInProcess(t *testing.T) {
	cfgs := ensembleConfigs(t, 3)
	servers := make([]*Server, 3)
	for i, cfg := range cfgs {
		s, err := Start(cfg, quietLogger())
		if err != nil {
			t.Fatal(err)
		}
		servers[i] = s
	}
	defer func() {
		for _, s := range servers {
			if s != nil {
				_ = s.Stop(context.Background())
			}
		}
	}()
	lead := waitModes(t, servers)
	conns := make([]*wire.Conn, 3)
	for i, s := range servers {
		c, err := wire.Dial(s.Addr().String(), 10000)
		if err != nil {
			t.Fatalf("member %d: %v", i+1, err)
		}
		defer c.Close()
		conns[i] = c
	}
	for i, c := range conns {
		h := mustCreate(t, c, fmt.Sprintf("/from-%d", i+1))
		if h.Zxid>>32 < 1 {
			t.Fatalf("zxid %#x has no epoch", h.Zxid)
		}
	}
	for i, c := range conns {
		for j := range conns {
			if code := syncedGet(t, c, fmt.Sprintf("/from-%d", j+1)); code != jute.CodeOK {
				t.Fatalf("member %d after sync: /from-%d: %v", i+1, j+1, code)
			}
		}
	}
	// The leader goes; the others elect one of them and go on.
	if err := servers[lead].Stop(context.Background()); err != nil {
		t.Fatal(err)
	}
	servers[lead] = nil
	next := waitModes(t, servers)
	c, err := wire.Dial(servers[next].Addr().String(), 10000)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	mustCreate(t, c, "/after")
	for i, s := range servers {
		if s == nil {
			continue
		}
		c, err := wire.Dial(s.Addr().String(), 10000)
		if err != nil {
			t.Fatal(err)
		}
		if code := syncedGet(t, c, "/after"); code != jute.CodeOK {
			t.Fatalf("member %d: /after: %v", i+1, code)
		}
		c.Close()
	}
}
