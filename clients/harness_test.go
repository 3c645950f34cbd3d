package clients

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/meerkat-zk/meerkat/internal/zktest"
)

// The real clients, where Debian's packages put them.
const (
	zkCliPath  = "/usr/share/zookeeper/bin/zkCli.sh" // package zookeeper
	javaPath   = "/usr/bin/java"                     // zkCli.sh's JAVA, from zkEnv.sh
	cliMtPath  = "/usr/lib/zookeeper/bin/cli_mt"     // package zookeeper-bin
	pythonPath = "/usr/bin/python3"                  // with python3-kazoo; the pyenv python3 on PATH lacks it
)

// stepTimeout bounds every wait for one client command's output. A JVM
// start on a loaded two-core machine takes a few seconds of it.
const stepTimeout = 30 * time.Second

// serverKinds are the servers every client test runs against: Meerkat, and
// Apache ZooKeeper to prove the test itself right.
var serverKinds = []struct {
	name  string
	start func(zktest.TB, zktest.Options) *zktest.Server
}{
	{"meerkat", zktest.StartMeerkat},
	{"zookeeper", zktest.StartZooKeeper},
}

// eachServer runs body in a parallel subtest per server kind, each against
// its own freshly started server.
func eachServer(t *testing.T, opts zktest.Options, body func(t *testing.T, srv *zktest.Server)) {
	t.Helper()
	for _, k := range serverKinds {
		t.Run(k.name, func(t *testing.T) {
			t.Parallel()
			body(t, startServer(t, k.start, opts))
		})
	}
}

// startServer starts a server (zktest makes sure it is ours and serving)
// and checks, when the test ends, that it did not crash meanwhile.
func startServer(t *testing.T, start func(zktest.TB, zktest.Options) *zktest.Server, opts zktest.Options) *zktest.Server {
	t.Helper()
	srv := start(t, opts)
	t.Cleanup(func() { checkStillRunning(t, srv) })
	return srv
}

// checkStillRunning fails the test if the server process exited before the
// test ended: a crash, which the clients' own errors may not make obvious.
func checkStillRunning(t *testing.T, srv *zktest.Server) {
	t.Helper()
	if err := syscall.Kill(srv.Pid(), 0); err != nil {
		t.Errorf("%s (pid %d, %s) exited before the test ended: %v\n--- server log ---\n%s",
			srv.Name, srv.Pid(), srv.Addr, err, srv.Log())
	}
}

// requireFile fails the test, loudly, when a client is not installed.
func requireFile(t *testing.T, path, pkg string) {
	t.Helper()
	if _, err := os.Stat(path); err != nil {
		t.Fatalf("%s is missing: install the Debian package %s (`make test` does): %v", path, pkg, err)
	}
}

// console is one client process: the test writes its stdin and reads its
// stdout and stderr through one pipe, so they interleave as the client wrote
// them. The process runs in its own process group, and everything in that
// group (zkCli.sh's java child included) is killed if it outlives the test.
type console struct {
	t      *testing.T
	name   string
	cmd    *exec.Cmd
	stdin  io.WriteCloser
	exited chan struct{} // closed when the process has exited
	err    error         // Wait's result, set before exited closes

	mu   sync.Mutex
	out  []byte
	grew chan struct{} // closed, and replaced, whenever out grows
}

// startConsole starts argv with env added to the test's environment.
func startConsole(t *testing.T, name string, env []string, argv ...string) *console {
	t.Helper()
	c := &console{t: t, name: name, exited: make(chan struct{}), grew: make(chan struct{})}
	c.cmd = exec.Command(argv[0], argv[1:]...)
	c.cmd.Env = append(os.Environ(), env...)
	c.cmd.Stdout = c
	c.cmd.Stderr = c
	c.cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	// A grandchild holding the pipe must not keep Wait from returning.
	c.cmd.WaitDelay = 5 * time.Second
	stdin, err := c.cmd.StdinPipe()
	if err != nil {
		t.Fatalf("%s: stdin pipe: %v", name, err)
	}
	c.stdin = stdin
	if err := c.cmd.Start(); err != nil {
		t.Fatalf("%s: start %q: %v", name, argv, err)
	}
	go func() {
		c.err = c.cmd.Wait()
		close(c.exited)
	}()
	t.Cleanup(func() {
		c.kill()
		<-c.exited
	})
	return c
}

// Write collects the process's output; it makes console the io.Writer for
// both stdout and stderr.
func (c *console) Write(p []byte) (int, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.out = append(c.out, p...)
	close(c.grew)
	c.grew = make(chan struct{})
	return len(p), nil
}

// kill SIGKILLs the process group.
func (c *console) kill() {
	select {
	case <-c.exited:
	default:
		_ = syscall.Kill(-c.cmd.Process.Pid, syscall.SIGKILL)
	}
}

// text returns everything printed so far.
func (c *console) text() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return string(c.out)
}

// mark returns the current end of the output, for waitFor's from.
func (c *console) mark() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.out)
}

// send writes one line to the process's stdin.
func (c *console) send(line string) {
	c.t.Helper()
	if _, err := io.WriteString(c.stdin, line+"\n"); err != nil {
		c.t.Fatalf("%s: writing %q to stdin: %v\noutput so far:\n%s", c.name, line, err, c.text())
	}
}

// waitFor waits until re matches the output after byte offset from and
// returns the match's submatch indexes, absolute in the output. It returns
// nil when timeout passes or the process exits first.
func (c *console) waitFor(from int, re *regexp.Regexp, timeout time.Duration) []int {
	timer := time.NewTimer(timeout)
	defer timer.Stop()
	exited := false
	for {
		c.mu.Lock()
		m := re.FindSubmatchIndex(c.out[from:])
		grew := c.grew
		c.mu.Unlock()
		if m != nil {
			for i := range m {
				if m[i] >= 0 {
					m[i] += from
				}
			}
			return m
		}
		if exited {
			return nil
		}
		select {
		case <-grew:
		case <-c.exited:
			// Wait has copied the last output; look once more.
			exited = true
		case <-timer.C:
			return nil
		}
	}
}

// mustWaitFor is waitFor that fails the test on a timeout.
func (c *console) mustWaitFor(from int, re *regexp.Regexp, what string) []int {
	c.t.Helper()
	m := c.waitFor(from, re, stepTimeout)
	if m == nil {
		c.t.Fatalf("%s: no %s (/%s/) within %v\n--- output ---\n%s", c.name, what, re, stepTimeout, c.text())
	}
	return m
}

// step waits for a line of a script's protocol that matches marker (a
// regexp) and returns its submatches; it fails the test at once when the
// script prints a FAIL line or exits, or after timeout.
func (c *console) step(from int, marker string, timeout time.Duration) []string {
	c.t.Helper()
	re := regexp.MustCompile(`(?m)^(?:` + marker + `|(FAIL .*))$`)
	m := c.waitFor(from, re, timeout)
	if m == nil || m[len(m)-2] >= 0 {
		c.t.Fatalf("%s: no /%s/ line within %v\n--- output ---\n%s", c.name, marker, timeout, c.text())
	}
	return submatches(c.text(), m)
}

// finish closes stdin and waits for the process to exit, killing it after
// timeout. It returns the full output and the exit error.
func (c *console) finish(timeout time.Duration) (string, error) {
	c.t.Helper()
	_ = c.stdin.Close()
	select {
	case <-c.exited:
	case <-time.After(timeout):
		c.kill()
		<-c.exited
		return c.text(), fmt.Errorf("%s did not exit within %v after stdin closed; killed", c.name, timeout)
	}
	return c.text(), c.err
}

// run runs argv to completion with stdin as its input, killing it (and its
// process group) after timeout. It returns the interleaved output.
func run(t *testing.T, name string, timeout time.Duration, env []string, stdin string, argv ...string) (string, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	c := startConsole(t, name, env, argv...)
	go func() {
		<-ctx.Done()
		if errors.Is(ctx.Err(), context.DeadlineExceeded) {
			c.kill()
		}
	}()
	if stdin != "" {
		if _, err := io.WriteString(c.stdin, stdin); err != nil {
			return c.text(), fmt.Errorf("writing stdin: %w", err)
		}
	}
	out, err := c.finish(timeout + time.Second)
	if ctx.Err() != nil {
		return out, fmt.Errorf("%s killed after %v: %w", name, timeout, ctx.Err())
	}
	return out, err
}

// transcript checks a client's output in order: every expectation is
// searched for after the end of the previous match, so the checks follow the
// commands that produced the output.
type transcript struct {
	t      *testing.T
	label  string
	text   string
	pos    int
	dumped bool
}

func newTranscript(t *testing.T, label, text string) *transcript {
	return &transcript{t: t, label: label, text: text}
}

// expect finds the regular expression pattern after the cursor and moves
// the cursor past it. On a miss it reports an error, with the whole output
// the first time, leaves the cursor where it was, and returns nil.
func (tr *transcript) expect(step, pattern string) []string {
	tr.t.Helper()
	re := regexp.MustCompile(pattern)
	loc := re.FindStringSubmatchIndex(tr.text[tr.pos:])
	if loc == nil {
		tr.errorf("%s: want /%s/ in the output after offset %d", step, pattern, tr.pos)
		return nil
	}
	m := make([]string, len(loc)/2)
	for i := range m {
		if loc[2*i] >= 0 {
			m[i] = tr.text[tr.pos+loc[2*i] : tr.pos+loc[2*i+1]]
		}
	}
	tr.pos += loc[1]
	return m
}

// errorf reports a failed check, printing the output once per transcript.
func (tr *transcript) errorf(format string, args ...any) {
	tr.t.Helper()
	msg := fmt.Sprintf(format, args...)
	if !tr.dumped {
		tr.dumped = true
		msg += "\n--- " + tr.label + " output ---\n" + tr.text + "\n--- end of " + tr.label + " output ---"
	}
	tr.t.Errorf("%s: %s", tr.label, msg)
}

// submatches turns the indexes waitFor returns into strings of text.
func submatches(text string, m []int) []string {
	s := make([]string, len(m)/2)
	for i := range s {
		if m[2*i] >= 0 {
			s[i] = text[m[2*i]:m[2*i+1]]
		}
	}
	return s
}

// sameSet reports whether a and b hold the same strings, in any order.
func sameSet(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	seen := map[string]int{}
	for _, s := range a {
		seen[s]++
	}
	for _, s := range b {
		seen[s]--
		if seen[s] < 0 {
			return false
		}
	}
	return true
}

// splitList parses "[a, b, c]" as zkCli prints a list.
func splitList(s string) []string {
	s = strings.TrimSuffix(strings.TrimPrefix(s, "["), "]")
	if s == "" {
		return []string{}
	}
	return strings.Split(s, ", ")
}
