package shell

import (
	"os"
	"os/exec"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/meerkat-zk/meerkat/internal/zktest"
)

// target is a client run against a server of its own; the first target of
// a comparison is the reference, zkCli against Apache ZooKeeper.
type target struct {
	name    string
	command func(home string, args ...string) *exec.Cmd
	srv     *zktest.Server
}

func zkCliCommand(_ string, args ...string) *exec.Cmd {
	cmd := exec.Command(zkCliPath, args...)
	cmd.Env = append(os.Environ(), "JVMFLAGS=-Xmx256m -XX:+UseSerialGC -XX:TieredStopAtLevel=1")
	return cmd
}

func shellCommand(home string, args ...string) *exec.Cmd {
	cmd := exec.Command(os.Args[0], args...)
	cmd.Env = append(os.Environ(), runShellEnv+"=1", "HOME="+home)
	return cmd
}

// TestSameOutputAsZkCli runs the same commands with zkCli against Apache
// ZooKeeper, with this shell against another ZooKeeper, and with this
// shell against Meerkat, each server fresh, and requires the same output
// (stdout, events, stderr, exit codes) once times, zxids and session ids
// are masked.
func TestSameOutputAsZkCli(t *testing.T) {
	for _, f := range []string{zkCliPath, javaPath} {
		if _, err := os.Stat(f); err != nil {
			t.Fatalf("%s is missing: install the Debian package zookeeper (make test does): %v", f, err)
		}
	}
	opts := zktest.Options{ExtendedTypes: true}
	targets := []target{
		{"zkCli against ZooKeeper", zkCliCommand, zktest.StartZooKeeper(t, opts)},
		{"meerkat cli against ZooKeeper", shellCommand, zktest.StartZooKeeper(t, opts)},
		{"meerkat cli against Meerkat", shellCommand, zktest.StartMeerkat(t, opts)},
	}
	t.Run("one-shot", func(t *testing.T) { compareOneShot(t, targets) })
	t.Run("script", func(t *testing.T) { compareScript(t, targets) })
}

// oneShot are commands run one per process, in order. A one-shot zkCli
// leaves its session open (until it expires), so nothing lists a node
// after an ephemeral was created under it.
var oneShot = []string{
	"create /s one",
	"create /s again",
	"create -s /s/seq- x",
	"create -c /s/cont",
	"create -t 100000 /s/ttl t",
	"create -t 0 /s/bad",
	"create -c -e /s/bad",
	"ls -s /s",
	"get -s /s",
	"stat /s/ttl",
	"set -v 7 /s x",
	"set -s -v 0 /s two",
	"ls -R /s",
	"delete /s",
	"getAllChildrenNumber /s",
	"getAcl -s /s",
	"sync /s",
	"get /s/missing",
	"ls",
	"get -x /s",
	"bogus",
	"create -e /s/eph e",
	"deleteall /s",
	"ls /s",
}

func compareOneShot(t *testing.T, targets []target) {
	out := eachTarget(t, targets, func(tg target, home string) (string, error) {
		var b strings.Builder
		for _, step := range oneShot {
			args := append([]string{"-server", tg.srv.Addr}, strings.Fields(step)...)
			r, err := run(tg.command(home, args...), "")
			if err != nil {
				return "", err
			}
			b.WriteString("$ " + step + "\n" + transcript(r, tg.srv.Addr, false))
		}
		return normalize(b.String()), nil
	})
	out[0] = withoutMissingCommands(out[0])
	// The reference must have done what the commands ask, or agreeing
	// with it proves nothing.
	requireAll(t, out[0], "Created /s/seq-0000000000", "Node already exists: /s", "ttl must be positive",
		"version No is not valid : /s", "/s\n/s/cont\n/s/seq-0000000000\n/s/ttl\n", "Node not empty: /s",
		"'world,'anyone\n: cdrwa\n", "Sync is OK", "Node does not exist: /s/missing",
		"Unrecognized option: -x", "--- exit 127", "Node does not exist: /s\n")
	compare(t, targets, out)
}

// script is fed, a line at a time, to one session of each client; ADDR is
// its server's address and DIGEST alice's digest identity.
const script = `create /acl x
addauth digest alice:secret
whoami
setAcl /acl DIGEST:cdrwa,world:anyone:r
getAcl /acl
getAcl -s /acl
create /acl/kid k auth::cdrwa
getAcl /acl/kid
setAcl -v 0 /acl world:anyone:cdrwa
setAcl /acl world:anyone
create /acl/bad x world:anyone:rx
create -e /acl/eph e
create -e -s /acl/eph- e
getEphemerals
getEphemerals /acl/eph-
create /w w
ls -w /w
get -w /w
stat -w /w/none
set /w x
create /w/none n
addWatch -m PERSISTENT /w
set /w y
removewatches /w
removewatches /w -d
ls -w /w
removewatches /w -c
whoami
sync /
printwatches off
printwatches
printwatches on
create /w/quiet q
history
redo 2
redo 999
ls /w x
delete /w/none 5
close
ls /
connect ADDR
ls /w
create /bad/ x
`

func compareScript(t *testing.T, targets []target) {
	digest := "digest:" + zktest.DigestID("alice", "secret")
	out := eachTarget(t, targets, func(tg target, home string) (string, error) {
		input := strings.NewReplacer("ADDR", tg.srv.Addr, "DIGEST", digest).Replace(script)
		r, err := run(tg.command(home, "-server", tg.srv.Addr), input)
		if err != nil {
			return "", err
		}
		return normalize(transcript(r, tg.srv.Addr, true)), nil
	})
	requireAll(t, out[0], "digest: alice\n", "'digest,'"+digest[len("digest:"):]+"\n: cdrwa\n'world,'anyone\n: r\n",
		"type:NodeChildrenChanged path:/w", "type:PersistentWatchRemoved path:/w", "type:ChildWatchRemoved path:/w",
		"No such watcher for /w", "printwatches is off", "33 - history", "Command index out of range",
		"state:Closed", "Not connected", "Path must not end with / character", "--- exit 1")
	compare(t, targets, out)
}

// missingCommands are zkCli's commands this shell lacks (quotas,
// version); its usage also lacks zkCli's -client-configuration option.
var missingCommands = []string{"delquota", "listquota", "setquota", "version"}

// withoutMissingCommands edits zkCli's usage in its output as this shell's
// differs: without the commands and the option the shell lacks.
func withoutMissingCommands(out string) string {
	out = strings.ReplaceAll(out, "ZooKeeper -server host:port -client-configuration properties-file cmd args",
		"ZooKeeper -server host:port cmd args")
	var kept []string
	for _, l := range strings.Split(out, "\n") {
		if !slices.ContainsFunc(missingCommands, func(c string) bool { return strings.HasPrefix(l, "\t"+c+" ") }) {
			kept = append(kept, l)
		}
	}
	return strings.Join(kept, "\n")
}

// TestPrintwatchesOff checks that events are not shown while printwatches
// is off. (zkCli prints its events from a thread of its own, which may
// look at the setting after the next command changed it, so this is not
// compared with zkCli's output.)
func TestPrintwatchesOff(t *testing.T) {
	srv := zktest.StartMeerkat(t, zktest.Options{})
	input := "ls /\nprintwatches off\nls -w /\ncreate /quiet q\nprintwatches on\nls -w /\ncreate /loud l\n"
	r, err := run(shellCommand(t.TempDir(), "-server", srv.Addr), input)
	if err != nil {
		t.Fatal(err)
	}
	want := []string{connectedEvent, "WatchedEvent state:SyncConnected type:NodeChildrenChanged path:/"}
	if _, events := splitEvents(r.stdout); !slices.Equal(events, want) || r.code != 0 {
		t.Errorf("events %q and exit code %d, want %q and 0\n--- stdout ---\n%s\n--- stderr ---\n%s",
			events, r.code, want, r.stdout, r.stderr)
	}
}

// eachTarget runs body for every target at once (their servers are their
// own) and returns what each returned; a failed run fails the test.
func eachTarget(t *testing.T, targets []target, body func(tg target, home string) (string, error)) []string {
	t.Helper()
	out := make([]string, len(targets))
	errs := make([]error, len(targets))
	var wg sync.WaitGroup
	for i, tg := range targets {
		home := t.TempDir()
		wg.Go(func() { out[i], errs[i] = body(tg, home) })
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Fatalf("%s: %v\n--- output so far ---\n%s", targets[i].name, err, out[i])
		}
	}
	return out
}

// requireAll fails the test unless the reference's output holds each of
// want.
func requireAll(t *testing.T, ref string, want ...string) {
	t.Helper()
	for _, w := range want {
		if !strings.Contains(ref, w) {
			t.Errorf("the reference output lacks %q\n--- reference output ---\n%s", w, ref)
		}
	}
}

// compare fails the test for every target whose output differs from the
// reference's, with a line diff.
func compare(t *testing.T, targets []target, out []string) {
	t.Helper()
	for i := 1; i < len(targets); i++ {
		if out[i] != out[0] {
			t.Errorf("%s differs from %s (- reference, + %s):\n%s", targets[i].name, targets[0].name, targets[i].name,
				zktest.LineDiff(strings.Split(out[0], "\n"), strings.Split(out[i], "\n"), 3))
		}
	}
}
