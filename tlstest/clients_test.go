package tlstest

import (
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/go-zookeeper/zk"

	"github.com/meerkat-zk/meerkat/internal/zktest"
)

// pythonPath is Debian's python3, which has python3-kazoo; the pyenv
// python3 on PATH lacks it.
const pythonPath = "/usr/bin/python3"

// clientTimeout bounds one run of a client process (a JVM start on a
// loaded two-core machine takes a few seconds of it).
const clientTimeout = 90 * time.Second

var (
	kazooOnce sync.Once
	kazooErr  string
)

// requireKazoo fails the check, loudly, when Debian's python3-kazoo is not
// importable by /usr/bin/python3.
func (e *env) requireKazoo() {
	kazooOnce.Do(func() {
		out, _, err := runProcess(clientTimeout, nil, "", pythonPath, "-c", "import kazoo.client")
		if err != nil {
			kazooErr = fmt.Sprintf("%v %s", err, out)
		}
	})
	if kazooErr != "" {
		e.t.Fatalf("%s cannot import kazoo: install the Debian package python3-kazoo (`make test` does): %s", pythonPath, kazooErr)
	}
}

// kazoo runs testdata/kazoo_tls.py against addr as alice (certificate and
// encrypted key in separate PEM files) and returns its transcript.
func (e *env) kazoo(addr, root string) string {
	e.requireKazoo()
	script, err := filepath.Abs(filepath.Join("testdata", "kazoo_tls.py"))
	if err != nil {
		e.t.Fatal(err)
	}
	out, stderr, err := runProcess(clientTimeout, []string{"PYTHONPATH=", "PYTHONHOME=", "PYTHONDONTWRITEBYTECODE=1"}, "",
		pythonPath, script, addr, e.path("alice.crt"), e.path("alice.key"), e.path("ca.pem"), password, root)
	if err != nil {
		e.note("kazoo: %v; stderr: %s", err, tail(stderr, 2000))
	}
	return strings.TrimSpace(out)
}

// kazooTranscript is what testdata/kazoo_tls.py prints when everything
// works, for root.
func kazooTranscript(root string) string {
	return strings.Join([]string{
		"connected True",
		"create " + root,
		"get b'v0' version 0",
		"set version 1",
		"data watch fired True [('CHANGED', '" + root + "')]",
		"children ['a', 'b', 'c']",
		"child watch fired True [('CHILD', '" + root + "')]",
		"children ['a', 'c']",
		"exists after delete None",
		"PASS",
	}, "\n")
}

// javaClientFlags are the system properties that make ZooKeeper's Java
// client speak TLS as alice: its Netty socket, her PEM key store
// (encrypted key) and the CA's PEM trust store, both types inferred from
// the file names.
func (e *env) javaClientFlags() []string {
	return []string{
		"-Dzookeeper.client.secure=true",
		"-Dzookeeper.clientCnxnSocket=org.apache.zookeeper.ClientCnxnSocketNetty",
		"-Dzookeeper.ssl.keyStore.location=" + e.path("alice.pem"),
		"-Dzookeeper.ssl.keyStore.password=" + password,
		"-Dzookeeper.ssl.trustStore.location=" + e.path("ca.pem"),
	}
}

// zkCliPrompt is ZooKeeperMain's prompt, which it prints before every
// command it reads; the lines it ends are left as they are.
var zkCliPrompt = regexp.MustCompile(`\[zk: [^\]]*\] `)

// javaClient runs cmds, one a line, in one ZooKeeperMain session against
// addr as alice and returns its output (stdout and stderr, where zkCli
// prints some results, as one stream) without prompts, events and blank
// lines. The client's log goes to a file of its own, which the notes get
// when the client fails.
func (e *env) javaClient(addr string, cmds ...string) string {
	logFile := filepath.Join(e.t.TempDir(), "java-client.log")
	flags := append(e.javaClientFlags(), "-Dorg.slf4j.simpleLogger.logFile="+logFile)
	cmd := zktest.ZooKeeperClientCommand(e.t, flags, "-server", addr)
	out, err := runCombined(cmd, clientTimeout, strings.Join(cmds, "\n")+"\nquit\n")
	if err != nil {
		e.note("java client: %v", err)
	}
	if b, _ := os.ReadFile(logFile); len(b) > 0 {
		e.note("java client log: %s", tail(string(b), 3000))
	}
	var lines []string
	for _, l := range strings.Split(zkCliPrompt.ReplaceAllString(out, ""), "\n") {
		l = strings.TrimSpace(l)
		switch {
		case l == "", l == "WATCHER::", strings.HasPrefix(l, "WatchedEvent "), strings.HasPrefix(l, "SLF4J:"),
			strings.HasPrefix(l, "Connecting to "), strings.HasPrefix(l, "Welcome to ZooKeeper!"), strings.HasPrefix(l, "JLine support"):
			continue
		}
		lines = append(lines, l)
	}
	return strings.Join(lines, "\n")
}

// goZooKeeper runs a go-zookeeper session over TLS (zk.WithDialer with a
// crypto/tls dialer) against addr as cert's holder through create, get,
// set with a data watch, children and delete under root; it returns "ok"
// or the first step that failed.
func (e *env) goZooKeeper(addr string, cfg *tls.Config, root string) string {
	dialer := func(network, address string, timeout time.Duration) (net.Conn, error) {
		return tls.DialWithDialer(&net.Dialer{Timeout: timeout}, network, address, cfg)
	}
	c, events, err := zk.Connect([]string{addr}, 10*time.Second, zk.WithDialer(dialer), zk.WithLogger(zktest.QuietLog{}))
	if err != nil {
		return "connect: " + err.Error()
	}
	defer c.Close()
	deadline := time.After(20 * time.Second)
wait:
	for {
		select {
		case ev := <-events:
			if ev.State == zk.StateHasSession {
				break wait
			}
		case <-deadline:
			return "no session within 20 s"
		}
	}
	go zktest.Drain(events)
	step := func(name string, err error) error {
		if err != nil {
			return fmt.Errorf("%s: %w", name, err)
		}
		return nil
	}
	run := func() error {
		if _, err := c.Create(root, []byte("v0"), 0, zk.WorldACL(zk.PermAll)); err != nil {
			return step("create", err)
		}
		data, _, watch, err := c.GetW(root)
		if err != nil || string(data) != "v0" {
			return step("get", errors.Join(err, fmt.Errorf("data %q", data)))
		}
		if _, err := c.Set(root, []byte("v1"), 0); err != nil {
			return step("set", err)
		}
		select {
		case ev := <-watch:
			if ev.Type != zk.EventNodeDataChanged || ev.Path != root {
				return fmt.Errorf("watch: %+v", ev)
			}
		case <-time.After(10 * time.Second):
			return errors.New("watch: no event within 10 s")
		}
		for _, child := range []string{"b", "a"} {
			if _, err := c.Create(root+"/"+child, nil, 0, zk.WorldACL(zk.PermAll)); err != nil {
				return step("create child", err)
			}
		}
		children, _, err := c.Children(root)
		slices.Sort(children)
		if err != nil || !slices.Equal(children, []string{"a", "b"}) {
			return step("children", errors.Join(err, fmt.Errorf("children %q", children)))
		}
		for _, p := range []string{root + "/a", root + "/b", root} {
			if err := c.Delete(p, -1); err != nil {
				return step("delete", err)
			}
		}
		return nil
	}
	if err := run(); err != nil {
		return err.Error()
	}
	return "ok"
}
