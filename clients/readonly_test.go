package clients

import (
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/meerkat-zk/meerkat/internal/wire"
	"github.com/meerkat-zk/meerkat/internal/zktest"
	"github.com/meerkat-zk/meerkat/jute"
)

// kazooReadOnlyScript is the kazoo side of TestKazooReadOnly. It is kept
// here, and written to the test's temporary directory, so that the test is
// one file.
const kazooReadOnlyScript = `#!/usr/bin/python3
"""One kazoo client with read_only=True through a member's read-only mode.

Usage: kazoo_readonly.py HOSTS BASE TIMEOUT_SECONDS

BASE is a znode created before the member went read-only. Driven by
clients/readonly_test.go, which reads the lines printed (one fact a line,
flushed) and writes to stdin:

  1. connect (no host shuffling) and print CONNECTED with the client's
     KeeperState and the server; read BASE (DATA); try a set and a create
     (SET, CREATE: the exception's name, or OK); print READY.
  2. Read "go" on stdin (the test has restarted a member meanwhile). Try to
     create BASE/after until it works, for 60 s at most, and print CREATED
     with the client's KeeperState and the server, then ERRORS: the
     exceptions met on the way, in order, repeats collapsed.
  3. Read BASE/after back (GOT), close the client, print PASS.

Every state change prints STATE <KazooState> <KeeperState>. A failure
prints FAIL and exits 1; a watchdog dumps every thread's stack and exits
after TIMEOUT_SECONDS.
"""

import faulthandler
import logging
import sys
import threading
import time

from kazoo.client import KazooClient
from kazoo.exceptions import KazooException, NodeExistsError


_out = threading.Lock()


def say(fmt, *args):
    # One write a line, under a lock: the listener prints from kazoo's
    # thread.
    with _out:
        sys.stdout.write((fmt % args if args else fmt) + "\n")
        sys.stdout.flush()


def peer(client):
    sock = client._connection._socket
    if sock is None:
        return "none"
    host, port = sock.getpeername()[:2]
    return "%s:%d" % (host, port)


def outcome(fn):
    try:
        fn()
        return "OK"
    except KazooException as e:
        return type(e).__name__


def main():
    hosts, base, timeout = sys.argv[1], sys.argv[2], float(sys.argv[3])
    faulthandler.dump_traceback_later(timeout, exit=True)
    logging.basicConfig(level=logging.WARNING, format="LOG %(levelname)s %(name)s: %(message)s")
    client = KazooClient(
        hosts=hosts, read_only=True, timeout=10.0, randomize_hosts=False,
        connection_retry={"max_tries": -1, "delay": 0.1, "backoff": 1.5, "max_delay": 1.0})
    client.add_listener(lambda state: say("STATE %s %s", state, client.client_state))
    client.start(timeout=30)
    say("CONNECTED %s PEER %s", client.client_state, peer(client))
    data, _ = client.get(base)
    say("DATA %s", data.decode())
    say("SET %s", outcome(lambda: client.set(base, b"ro")))
    say("CREATE %s", outcome(lambda: client.create(base + "/ro", b"ro")))
    say("READY")
    if sys.stdin.readline().strip() != "go":
        say("FAIL no go on stdin")
        sys.exit(1)
    errors = []
    deadline = time.time() + 60
    while True:
        try:
            client.create(base + "/after", b"rw")
            break
        except NodeExistsError:
            # An earlier attempt went through and its answer was lost.
            break
        except KazooException as e:
            name = type(e).__name__
            if not errors or errors[-1] != name:
                errors.append(name)
        if time.time() > deadline:
            say("FAIL no create within 60 s; errors: %s", " ".join(errors))
            sys.exit(1)
        time.sleep(0.2)
    say("CREATED %s PEER %s", client.client_state, peer(client))
    say("ERRORS %s", " ".join(errors))
    data, _ = client.get(base + "/after")
    say("GOT %s", data.decode())
    client.stop()
    client.close()
    say("PASS")


if __name__ == "__main__":
    main()
`

// TestKazooReadOnly runs kazoo with read_only=True against a Meerkat and,
// in parallel, a ZooKeeper ensemble (readonlymode.enabled=true,
// localSessionsEnabled=true) whose leader and one follower are SIGKILLed:
// kazoo connects to the follower left, in read-only mode (the state
// listener sees KeeperState CONNECTED_RO), reads a node written before,
// and its set and create raise NotReadOnlyCallError. Once a killed member
// is restarted, kazoo moves on to a read-write server by itself (it probes
// the first host with isro; the follower also drops its read-only clients
// when it rejoins a quorum) and a create then succeeds. What kazoo saw is
// compared between the two when both ran.
func TestKazooReadOnly(t *testing.T) {
	script := filepath.Join(t.TempDir(), "kazoo_readonly.py")
	if err := os.WriteFile(script, []byte(kazooReadOnlyScript), 0o644); err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	accounts := map[string][]string{}
	t.Cleanup(func() {
		// After the parallel subtests.
		z, zok := accounts["zookeeper"]
		m, mok := accounts["meerkat"]
		if !zok || !mok {
			return
		}
		if d := zktest.LineDiff(z, m, 2); d != "" {
			t.Errorf("kazoo saw different things (- ZooKeeper, + Meerkat):\n%s", d)
		}
	})
	for _, k := range ensembleKinds {
		t.Run(k.name, func(t *testing.T) {
			t.Parallel()
			requireKazoo(t)
			facts := kazooReadOnly(t, k.name, k.start, script)
			mu.Lock()
			accounts[k.name] = facts
			mu.Unlock()
		})
	}
}

// kazooReadOnly is TestKazooReadOnly against one kind of ensemble; it
// returns the facts it checked, for the comparison.
func kazooReadOnly(t *testing.T, kind string, start func(zktest.TB, zktest.EnsembleOptions) *zktest.Ensemble, script string) []string {
	f := &failoverEnsemble{kind: kind, e: start(t, zktest.EnsembleOptions{Options: zktest.Options{Extra: []string{
		"readonlymode.enabled=true", "localSessionsEnabled=true"}}})}
	t.Cleanup(func() { f.logsOnFailure(t) })
	var facts []string
	expect := func(got, want string) {
		t.Helper()
		facts = append(facts, got)
		if got != want {
			t.Errorf("%s: got %q, want %q (what kazoo sees with ZooKeeper 3.8)", kind, got, want)
		}
	}

	e := f.e
	lead := e.Leader(t)
	alone, back := (lead+1)%3, (lead+2)%3
	const base = "/ro-kazoo"
	c, err := wire.Dial(e.Members[alone].Addr, 10000)
	if err != nil {
		t.Fatal(err)
	}
	if r, err := c.Create(base, []byte("before"), 0); err != nil || r.Header.Err != jute.CodeOK {
		t.Fatalf("%s: create %s: %v %v", kind, base, r.Header.Err, err)
	}
	if _, err := c.Call(jute.OpCloseSession, nil); err != nil {
		t.Fatal(err)
	}
	c.Close()

	// The follower first: the two left keep their leader meanwhile.
	e.Members[back].Kill()
	killed := time.Now()
	e.Members[lead].Kill()
	waitSrvrMode(t, e.Members[alone].Addr, 30*time.Second, "read-only")
	t.Logf("%s: member %d read-only %v after the SIGKILLs", kind, alone+1, time.Since(killed).Round(time.Millisecond))

	// The member to be restarted first: kazoo's read-only mode probes
	// the first host with isro.
	hosts := strings.Join([]string{e.Members[back].Addr, e.Members[alone].Addr, e.Members[lead].Addr}, ",")
	con := startConsole(t, kind+" kazoo", []string{"PYTHONPATH=", "PYTHONHOME=", "PYTHONDONTWRITEBYTECODE=1"},
		pythonPath, script, hosts, base, "150")
	con.step(0, `READY`, stepTimeout)
	// The script prints CONNECTED before READY.
	g := regexp.MustCompile(`(?m)^CONNECTED (\S+) PEER (\S+)$`).FindStringSubmatch(con.text())
	if g == nil {
		g = []string{"", "(no CONNECTED line)", ""}
	}
	expect(fmt.Sprintf("connected: %s, to the member left %v", g[1], g[2] == e.Members[alone].Addr),
		"connected: CONNECTED_RO, to the member left true")
	firstState := regexp.MustCompile(`(?m)^STATE (\S+) (\S+)$`).FindStringSubmatch(con.text())
	if firstState == nil {
		firstState = []string{"", "none", "none"}
	}
	expect(fmt.Sprintf("the listener's first state: %s (client state %s)", firstState[1], firstState[2]),
		"the listener's first state: CONNECTED (client state CONNECTED_RO)")
	for _, fact := range []struct{ re, want string }{
		{`DATA (.*)`, "DATA before"},
		{`SET (\S+)`, "SET NotReadOnlyCallError"},
		{`CREATE (\S+)`, "CREATE NotReadOnlyCallError"},
	} {
		m := regexp.MustCompile(`(?m)^` + fact.re + `$`).FindString(con.text())
		expect(m, fact.want)
	}

	e.Members[back].Restart(t)
	from := con.mark()
	con.send("go")
	g = con.step(from, `CREATED (\S+) PEER (\S+)`, 70*time.Second)
	expect("after the restart: created, client state "+g[1], "after the restart: created, client state CONNECTED")
	// Through the restarted member (kazoo's isro probe found it, or its
	// reconnect started there) or the one left (back in a quorum).
	through := map[string]string{e.Members[back].Addr: "the restarted member", e.Members[alone].Addr: "the member left"}[g[2]]
	if through == "" {
		t.Errorf("%s kazoo: created through %s, not a live member (%s, %s)", kind, g[2], e.Members[back].Addr, e.Members[alone].Addr)
	}
	errs := ""
	if m := regexp.MustCompile(`(?m)^ERRORS (.*)$`).FindStringSubmatch(con.text()); m != nil {
		errs = m[1]
	}
	t.Logf("%s kazoo: created through %s (%s); errors met on the way: %q", kind, through, g[2], errs)
	con.step(from, `GOT rw`, stepTimeout)
	out, err := con.finish(stepTimeout)
	if err != nil || !strings.Contains(out, "\nPASS\n") {
		t.Fatalf("%s kazoo: %v\n--- output ---\n%s", kind, err, out)
	}
	t.Logf("%s kazoo states: %q", kind, regexp.MustCompile(`(?m)^STATE .*$`).FindAllString(out, -1))

	// The write is the quorum's, on the restarted member too.
	rc, err := wire.Dial(e.Members[back].Addr, 10000)
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	if _, err := rc.Call(jute.OpSync, jute.AppendString(nil, "/")); err != nil {
		t.Fatal(err)
	}
	r, err := rc.GetData(base+"/after", false)
	if err != nil {
		t.Fatal(err)
	}
	expect(fmt.Sprintf("%s/after on the restarted member: %s %q", base, r.Header.Err.String(), jute.NewDecoder(r.Body).Buffer()),
		base+`/after on the restarted member: OK "rw"`)
	checkStillRunning(t, e.Members[alone])
	return facts
}

// waitSrvrMode waits until srvr on addr says Mode: mode, failing t after
// timeout.
func waitSrvrMode(t *testing.T, addr string, timeout time.Duration, mode string) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		got := zktest.SrvrField(addr, "Mode")
		if got == mode {
			return
		}
		if time.Now().After(deadline) {
			out, err := zktest.FourLetter(addr, "srvr")
			t.Fatalf("%s: srvr does not say Mode: %s within %v: %v\n%s", addr, mode, timeout, err, out)
		}
		time.Sleep(50 * time.Millisecond)
	}
}
