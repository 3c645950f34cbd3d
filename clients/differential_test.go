package clients

import (
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/meerkat-zk/meerkat/internal/zktest"
)

// onBothServers runs body against a fresh Meerkat and a fresh ZooKeeper in
// parallel and returns what body returned for each, keyed by server name.
func onBothServers(t *testing.T, body func(t *testing.T, srv *zktest.Server) string) map[string]string {
	t.Helper()
	var mu sync.Mutex
	results := map[string]string{}
	t.Run("run", func(t *testing.T) {
		for _, k := range serverKinds {
			t.Run(k.name, func(t *testing.T) {
				t.Parallel()
				out := body(t, startServer(t, k.start, zktest.Options{}))
				mu.Lock()
				results[k.name] = out
				mu.Unlock()
			})
		}
	})
	return results
}

// compareWithZooKeeper fails the test when meerkat's output differs from
// zookeeper's, showing a line diff.
func compareWithZooKeeper(t *testing.T, what string, results map[string]string) {
	t.Helper()
	zk, mk := results["zookeeper"], results["meerkat"]
	if t.Failed() || zk == "" || mk == "" {
		return // a run failed; its own error says why
	}
	if zk != mk {
		t.Errorf("%s differs between ZooKeeper and Meerkat (- zookeeper, + meerkat):\n%s", what,
			zktest.LineDiff(strings.Split(zk, "\n"), strings.Split(mk, "\n"), 2))
	}
}

var (
	zxidRE  = regexp.MustCompile(`(?m)^([cmp]Zxid = )(0x[0-9a-f]+)$`)
	timeRE  = regexp.MustCompile(`(?m)^([cm]time = ).*$`)
	ownerRE = regexp.MustCompile(`(?m)^(ephemeralOwner = )(0x[0-9a-f]+)$`)
	portRE  = regexp.MustCompile(`127\.0\.0\.1:\d+`)
)

// normalizeZkCli keeps what must match between servers in a zkCli
// transcript: it drops the start-up noise, moves the events (the
// connection's too) to the end, replaces times, and replaces zxids and
// session ids by their order of first appearance, so equal values stay
// equal and their relations show, but absolute values (which count
// server-internal transactions) do not matter.
func normalizeZkCli(out string) string {
	rest, events := splitZkCliEvents(out)
	var kept []string
	for _, l := range strings.Split(rest, "\n") {
		if !strings.HasPrefix(l, "Connecting to ") && l != "Welcome to ZooKeeper!" && l != "JLine support is disabled" {
			kept = append(kept, l)
		}
	}
	out = strings.Join(kept, "\n") + "\n--- events, in order ---\n" + strings.Join(events, "\n")
	out = zktest.Ordinals(out, zxidRE, "Z", nil)
	out = zktest.Ordinals(out, ownerRE, "S", func(v string) bool { return v == "0x0" })
	out = timeRE.ReplaceAllString(out, "${1}T")
	return portRE.ReplaceAllString(out, "ADDR")
}

// TestZkCliSameOutputAsZooKeeper runs testdata/zkcli_differential.txt (edge
// cases: bad paths, ACL schemes, /zookeeper, sequence numbering, watch
// removal, version checks, ...) in one zkCli session against each server
// and requires the same output.
func TestZkCliSameOutputAsZooKeeper(t *testing.T) {
	raw, err := os.ReadFile(filepath.Join("testdata", "zkcli_differential.txt"))
	if err != nil {
		t.Fatal(err)
	}
	var cmds []string
	for _, l := range strings.Split(string(raw), "\n") {
		if l = strings.TrimSpace(l); l != "" && !strings.HasPrefix(l, "#") {
			cmds = append(cmds, l)
		}
	}
	results := onBothServers(t, func(t *testing.T, srv *zktest.Server) string {
		tr := zkCliSession(t, srv, "zkCli differential session", cmds...)
		return normalizeZkCli(tr.text)
	})
	compareWithZooKeeper(t, "zkCli output of testdata/zkcli_differential.txt", results)
}

// TestCClientChildrenMatchZooKeeper compares the children getChildren
// lists, as the C client prints them, after creates and deletes. It compares
// them as sets: ZooKeeper's API promises no order ("The list of children
// returned is not sorted and no guarantee is provided as to its natural or
// lexical order"), its own is whatever its HashSet iterates, and Meerkat
// lists children in name order, which its tree gives for free.
func TestCClientChildrenMatchZooKeeper(t *testing.T) {
	names := []string{"alpha", "beta", "gamma", "delta", "epsilon", "zeta", "eta", "theta", "iota", "kappa",
		"lambda", "mu", "a1", "Z9", "00", "x.y", "ünï", "node-0000000100", "lock-", "_c_1a2b3c4d-lock-0000000001"}
	for i := range 40 {
		names = append(names, fmt.Sprintf("n%d", i*37))
	}
	results := onBothServers(t, func(t *testing.T, srv *zktest.Server) string {
		c := startCliMt(t, srv, "cli_mt")
		if _, g := c.do("create /order", ccCreated("/order", false)); !c.wantRC("create /order", createRC(g[1]), 0) {
			return ""
		}
		for _, n := range names {
			c.send("create /order/" + n)
		}
		c.mustWaitFor(0, regexp.MustCompile(ccCreated("/order/"+names[len(names)-1], false)), "the last create")
		// Deletes change a HashSet's iteration order too.
		for i, n := range names {
			if i%5 == 0 {
				c.send("delete /order/" + n)
			}
		}
		for i := range 10 {
			c.send(fmt.Sprintf("create /order/late-%d", i))
		}
		c.mustWaitFor(0, regexp.MustCompile(ccCreated("/order/late-9", false)), "the last late create")
		var lists []string
		for _, p := range []string{"/order", "/", "/zookeeper"} {
			_, g := c.do("ls "+p, ccChildren(p))
			if !c.wantRC("ls "+p, g[1], 0) {
				return ""
			}
			children := strings.Fields(g[2])
			slices.Sort(children)
			lists = append(lists, "ls "+p+":\n"+strings.Join(children, "\n")+"\n")
		}
		c.send("quit")
		if _, err := c.finish(stepTimeout); err != nil {
			c.errorf("quit: %v", err)
		}
		return strings.Join(lists, "")
	})
	compareWithZooKeeper(t, "children printed by cli_mt ls", results)
}
