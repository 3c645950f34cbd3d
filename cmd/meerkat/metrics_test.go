package main

import (
	"fmt"
	"io"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/go-zookeeper/zk"

	"github.com/meerkat-zk/meerkat/config"
	"github.com/meerkat-zk/meerkat/internal/zktest"
)

// scrape fetches url and parses Prometheus' text format: the value of
// every sample by its series (name and labels), and each metric's TYPE.
func scrape(t *testing.T, url string) (samples map[string]float64, types map[string]string) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("%s: %s", url, resp.Status)
	}
	samples, types = map[string]float64{}, map[string]string{}
	for _, line := range strings.Split(string(body), "\n") {
		switch {
		case strings.HasPrefix(line, "# TYPE "):
			f := strings.Fields(line)
			types[f[2]] = f[3]
		case line == "" || strings.HasPrefix(line, "#"):
		default:
			i := strings.LastIndexByte(line, ' ')
			v, err := strconv.ParseFloat(line[i+1:], 64)
			if err != nil {
				t.Fatalf("%s: bad sample line %q", url, line)
			}
			samples[line[:i]] = v
		}
	}
	return samples, types
}

// The metrics provider serves ZooKeeper's metric names with ZooKeeper's
// types on its own port, and the values follow the load; the meerkat_*
// histograms carry Prometheus le buckets.
func TestPrometheusMetricsProvider(t *testing.T) {
	port := zktest.FreePort(t)
	srv := zktest.StartMeerkat(t, zktest.Options{Extra: []string{
		"metricsProvider.className=" + config.PrometheusMetricsProvider,
		"metricsProvider.httpHost=127.0.0.1", fmt.Sprintf("metricsProvider.httpPort=%d", port)}})
	url := fmt.Sprintf("http://127.0.0.1:%d/metrics", port)
	before, types := scrape(t, url)
	gauges := []string{"znode_count", "watch_count", "ephemerals_count", "approximate_data_size",
		"num_alive_connections", "outstanding_requests", "open_file_descriptor_count", "avg_latency",
		"min_latency", "max_latency", "packets_received", "packets_sent", "global_sessions", "uptime"}
	for _, g := range gauges {
		if types[g] != "gauge" {
			t.Errorf("%s: type %q, want gauge", g, types[g])
		}
	}
	summaries := map[string][]string{"readlatency": {"0.5", "0.9", "0.99"}, "updatelatency": {"0.5", "0.9", "0.99"},
		"fsynctime": {"0.5"}, "snapshottime": {"0.5"}, "dbinittime": {"0.5"}, "sync_processor_batch_size": {"0.5"}, "election_time": {"0.5"}}
	for name, qs := range summaries {
		if types[name] != "summary" {
			t.Errorf("%s: type %q, want summary", name, types[name])
		}
		for _, q := range append(qs, "_count", "_sum") {
			series := fmt.Sprintf("%s{quantile=%q}", name, q)
			if strings.HasPrefix(q, "_") {
				series = name + q
			}
			if _, ok := before[series]; !ok {
				t.Errorf("missing %s", series)
			}
		}
	}
	if before["dbinittime_count"] != 1 {
		t.Errorf("dbinittime_count %v, want 1 (one start)", before["dbinittime_count"])
	}

	c := zktest.Session(t, srv.Addr, 30*time.Second)
	const n = 50
	for i := range n {
		p := fmt.Sprintf("/m%d", i)
		if _, err := c.Create(p, []byte("x"), 0, zk.WorldACL(zk.PermAll)); err != nil {
			t.Fatal(err)
		}
		if _, _, err := c.Get(p); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := c.Create("/eph", nil, zk.FlagEphemeral, zk.WorldACL(zk.PermAll)); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Create("/acl", nil, 0, zk.DigestACL(zk.PermRead, "u", "p")); err != nil {
		t.Fatal(err)
	}
	after, _ := scrape(t, url)
	// The ACL table holds the open and read lists, then the digest one.
	if before["meerkat_acl_lists"] != 2 || after["meerkat_acl_lists"] != 3 {
		t.Errorf("meerkat_acl_lists %v, then %v after a znode with a new ACL; want 2, then 3", before["meerkat_acl_lists"], after["meerkat_acl_lists"])
	}
	for _, tc := range []struct {
		series string
		delta  float64
	}{
		{"znode_count", n + 2}, {"ephemerals_count", 1}, {"global_sessions", 1}, {"num_alive_connections", 1},
		{"readlatency_count", n}, {"updatelatency_count", n + 1}, {"fsynctime_count", 1},
		{"sync_processor_batch_size_count", 1}, {"packets_received", 2*n + 1},
	} {
		if d := after[tc.series] - before[tc.series]; d < tc.delta {
			t.Errorf("%s rose by %v under the load, want at least %v", tc.series, d, tc.delta)
		}
	}
	// Meerkat's own histograms have Prometheus buckets.
	if !regexp.MustCompile(`meerkat_wal_fsync_duration_seconds_bucket\{le="[^"]+"\}`).MatchString(fmt.Sprint(after)) {
		t.Error("meerkat_wal_fsync_duration_seconds has no le buckets")
	}
	// The provider's port serves metrics only: no data, no profiler.
	for _, path := range []string{"/commands/snapshot", "/debug/pprof/"} {
		resp, err := http.Get(fmt.Sprintf("http://127.0.0.1:%d%s", port, path))
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusNotFound {
			t.Errorf("%s on the metrics port: %s, want 404", path, resp.Status)
		}
	}
}
