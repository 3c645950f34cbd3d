package bench

import (
	"testing"
	"time"
)

// TestScenariosAgainstServers runs each kind of scenario briefly against
// real Meerkat and Apache ZooKeeper processes: the generator's requests
// must be answered, in order and as expected, by both. It checks the
// harness, not speed.
func TestScenariosAgainstServers(t *testing.T) {
	if testing.Short() {
		t.Skip("starts real servers")
	}
	for _, system := range []string{Meerkat, ZooKeeper} {
		t.Run(system, func(t *testing.T) {
			srv, err := startServer(system, []string{"-Xmx512m", "-XX:+UseSerialGC"})
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(srv.stop)
			c := QuickConfig()
			c.Keys = 50
			if err := c.setup(srv.Addr); err != nil {
				t.Fatalf("setup: %v", err)
			}
			window := Options{Addr: srv.Addr, Warmup: 100 * time.Millisecond, Duration: 300 * time.Millisecond, ServerPids: []int{srv.Pid()}, Sampler: srv.sample}
			cases := []struct {
				name    string
				conns   int
				depth   int
				rate    float64
				streams func(int) Stream
			}{
				{"mixed", 4, 4, 0, c.mix(20)},
				{"open-loop", 2, 16, 500, c.mix(0)},
				{"children", 2, 2, 0, Children{Path: childrenPath, Count: childrenCount}.Streams()},
				{"churn", 2, 4, 0, Churn{Parent: churnPath, ValueSize: 16}.Streams()},
			}
			for _, tc := range cases {
				o := window
				o.Conns, o.Depth, o.Rate = tc.conns, tc.depth, tc.rate
				res, err := Load(o, tc.streams)
				if err != nil {
					t.Fatalf("%s: %v", tc.name, err)
				}
				if res.Failures() != 0 || res.Ops == 0 {
					t.Errorf("%s: %d ops, failures: unexpected %v, out of order %d, unanswered %d, %v",
						tc.name, res.Ops, res.Unexpected, res.OutOfOrder, res.Unanswered, res.ConnErrors)
				}
				if tc.name == "mixed" && writesPerSync(system, res.Server) <= 0 {
					t.Errorf("no writes per fsync from the server's counters: %v", res.Server)
				}
			}
			st, err := Storm(srv.Addr, 2, 50*time.Millisecond, 200*time.Millisecond, srv.Pid())
			if err != nil || st.Failures() != 0 || st.Ops == 0 {
				t.Errorf("storm: %v, %+v", err, st)
			}
			fo, err := Fanout(srv.Addr, fanoutPath, 20, 2, 10*time.Second)
			if err != nil || fo.Missing != 0 || fo.Unexpected != 0 || len(fo.AllMs) != 2 {
				t.Errorf("fan-out: %v, %+v", err, fo)
			}
		})
	}
}
