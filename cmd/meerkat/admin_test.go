package main

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/go-zookeeper/zk"

	"github.com/meerkat-zk/meerkat/internal/zktest"
)

// adminJSON calls an AdminServer command and decodes its JSON object.
func adminJSON(t *testing.T, port int, path string) map[string]any {
	t.Helper()
	resp, err := http.Get(fmt.Sprintf("http://127.0.0.1:%d/commands/%s", port, path))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	var m map[string]any
	if resp.StatusCode != http.StatusOK || json.Unmarshal(body, &m) != nil {
		t.Fatalf("%s: %s %q", path, resp.Status, body)
	}
	return m
}

// keysOf lists an object's keys, and those of the objects it holds
// (as parent.key), and of the first element of the arrays of objects it
// holds (as parent[].key), sorted.
func keysOf(m map[string]any, prefix string) []string {
	var keys []string
	for k, v := range m {
		keys = append(keys, prefix+k)
		switch x := v.(type) {
		case map[string]any:
			if k != "expiry_time_to_session_ids" && k != "session_id_to_ephemeral_paths" &&
				k != "session_id_to_watched_paths" && k != "path_to_session_ids" && k != "current_config" {
				keys = append(keys, keysOf(x, prefix+k+".")...)
			}
		case []any:
			if len(x) > 0 {
				if o, ok := x[0].(map[string]any); ok {
					keys = append(keys, keysOf(o, prefix+k+"[].")...)
				}
			}
		}
	}
	slices.Sort(keys)
	return keys
}

// Every AdminServer command of ZooKeeper 3.8 answers on Meerkat with the
// JSON keys Apache ZooKeeper 3.8's answer has, under its name and its
// four-letter alias, with the same state on both servers: a session with
// a watch and an ephemeral.
func TestAdminServerCommandsAsZooKeeper(t *testing.T) {
	zkAdmin, mkAdmin := zktest.FreePort(t), zktest.FreePort(t)
	zkSrv := zktest.StartZooKeeper(t, zktest.Options{AdminPort: zkAdmin})
	mk := zktest.StartMeerkat(t, zktest.Options{AdminPort: mkAdmin})
	for _, addr := range []string{zkSrv.Addr, mk.Addr} {
		c := zktest.Session(t, addr, 30*time.Second)
		if _, err := c.Create("/w", []byte("x"), 0, zk.WorldACL(zk.PermAll)); err != nil {
			t.Fatal(err)
		}
		if _, err := c.Create("/e", nil, zk.FlagEphemeral, zk.WorldACL(zk.PermAll)); err != nil {
			t.Fatal(err)
		}
		if _, _, _, err := c.GetW("/w"); err != nil {
			t.Fatal(err)
		}
	}
	commands := []string{"configuration", "connection_stat_reset", "connections", "dirs", "dump", "environment",
		"get_trace_mask", "hash", "initial_configuration", "is_read_only", "last_snapshot", "leader",
		"observer_connection_stat_reset", "observers", "ruok", "server_stats", "set_trace_mask",
		"set_trace_mask?traceMask=306", "stats", "voting_view", "watch_summary", "watches", "watches_by_path",
		"zabstate", "nosuch", "srvr", "cons", "wchc", "isro", "stat_reset"}
	for _, cmd := range commands {
		want, got := keysOf(adminJSON(t, zkAdmin, cmd), ""), keysOf(adminJSON(t, mkAdmin, cmd), "")
		if !slices.Equal(want, got) {
			t.Errorf("%s: keys differ\nZooKeeper: %v\nMeerkat:   %v", cmd, want, got)
		}
	}
	// The values that follow from the state agree too.
	for _, tc := range []struct{ cmd, key string }{
		{"watch_summary", "num_total_watches"}, {"watch_summary", "num_paths"}, {"is_read_only", "read_only"},
		{"ruok", "error"}, {"leader", "error"}, {"nosuch", "error"}, {"zabstate", "zabstate"},
		{"set_trace_mask", "error"}, {"get_trace_mask", "tracemask"},
	} {
		z, m := adminJSON(t, zkAdmin, tc.cmd)[tc.key], adminJSON(t, mkAdmin, tc.cmd)[tc.key]
		if fmt.Sprint(z) != fmt.Sprint(m) {
			t.Errorf("%s %s: ZooKeeper %v, Meerkat %v", tc.cmd, tc.key, z, m)
		}
	}
	// monitor carries ZooKeeper's names only (ZooKeeper has many more
	// ServerMetrics than Meerkat measures).
	zkMon, mkMon := adminJSON(t, zkAdmin, "monitor"), adminJSON(t, mkAdmin, "mntr")
	for k := range mkMon {
		if _, ok := zkMon[k]; !ok {
			t.Errorf("monitor: Meerkat's key %q is not ZooKeeper's", k)
		}
	}
	for _, k := range []string{"command", "znode_count", "watch_count", "p99_readlatency", "avg_fsynctime", "cnt_updatelatency"} {
		if _, ok := mkMon[k]; !ok {
			t.Errorf("monitor: Meerkat lacks %q", k)
		}
	}
	if mkMon["command"] != "monitor" {
		t.Errorf("the mntr alias answers as %v, want monitor", mkMon["command"])
	}
	if !strings.Contains(fmt.Sprint(adminJSON(t, mkAdmin, "initial_configuration")["initial_configuration"]), "tickTime=") {
		t.Error("initial_configuration does not hold the zoo.cfg")
	}
	// The snapshot download and the profiler are opt-ins.
	for _, path := range []string{"/commands/snapshot", "/debug/pprof/"} {
		resp, err := http.Get(fmt.Sprintf("http://127.0.0.1:%d%s", mkAdmin, path))
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode == http.StatusOK && !strings.Contains(string(body), "Unknown command") {
			t.Errorf("%s is served without being enabled", path)
		}
	}
}
