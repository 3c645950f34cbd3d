// Package zktest starts real servers for tests and benchmarks: the Meerkat
// binary and Apache ZooKeeper 3.8 from the Debian package, each on a free
// loopback port, as separate processes stopped (or SIGKILLed) by pid.
package zktest

import (
	"bytes"
	"crypto/sha1"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/meerkat-zk/meerkat/internal/wire"
	"github.com/meerkat-zk/meerkat/jute"
)

// ZooKeeperJar is where the Debian package puts Apache ZooKeeper.
const ZooKeeperJar = "/usr/share/java/zookeeper.jar"

// TB is what the helpers need of their caller: *testing.T and *testing.B
// satisfy it, and the bench runner provides its own.
type TB interface {
	Helper()
	Errorf(format string, args ...any)
	Fatalf(format string, args ...any)
	Cleanup(func())
	TempDir() string
}

// Options configures a server started for a test. Zero values are
// ZooKeeper's defaults, except the four-letter-word whitelist (all).
type Options struct {
	// JVMArgs replace ZooKeeper's default JVM flags (heap, GC).
	JVMArgs []string
	// TickTime in ms; 0 means 2000.
	TickTime int
	// ExtendedTypes enables TTL nodes.
	ExtendedTypes bool
	// Extra lines appended to zoo.cfg.
	Extra []string
	// AdminPort, when set, runs the server's admin server on
	// 127.0.0.1:AdminPort (ZooKeeper's needs Debian's Jetty, servlet API
	// and Jackson jars, which it is then given).
	AdminPort int
	// SecurePort gives the server a second free port for TLS clients:
	// zoo.cfg gets secureClientPort and secureClientPortAddress=127.0.0.1
	// (the plain clientPort stays, and is what the start waits for), and
	// Server.SecureAddr names it. The TLS settings themselves (the
	// serverCnxnFactory ZooKeeper needs for TLS, ssl.*) go in Extra.
	// Standalone servers only. It implies Netty.
	SecurePort bool
	// Netty puts the Netty jars ZooKeeper's NettyServerCnxnFactory needs
	// beside those zookeeper.jar's manifest names on its classpath (Debian
	// package libnetty-java, a dependency of zookeeper), for a
	// configuration that sets serverCnxnFactory without SecurePort
	// (client.portUnification on the plain port).
	Netty bool
}

// nettyJars are the Netty jars ZooKeeper needs for TLS that its jar's
// manifest leaves out (it names netty-buffer, -common, -handler,
// -transport and -transport-native-epoll).
var nettyJars = []string{"netty-codec.jar", "netty-resolver.jar", "netty-transport-native-unix-common.jar"}

// adminJars are the jars ZooKeeper's AdminServer needs beside zookeeper.jar.
var adminJars = []string{
	"jetty9-server.jar", "jetty9-servlet.jar", "jetty9-util.jar", "jetty9-http.jar", "jetty9-io.jar",
	"jetty9-security.jar", "servlet-api.jar", "jackson-databind.jar", "jackson-core.jar", "jackson-annotations.jar",
}

// Server is a running server process.
type Server struct {
	// Name is "meerkat" or "zookeeper".
	Name string
	// Addr is host:port of the client port.
	Addr string
	// Port is the client port.
	Port int
	// SecureAddr is host:port of the secure client port, and SecurePort
	// the port (Options.SecurePort; else empty and 0).
	SecureAddr string
	SecurePort int
	// Dir is the server's data directory.
	Dir  string
	cmd  *exec.Cmd
	log  *bytes.Buffer
	args []string
	mu   sync.Mutex
	done chan struct{}
	// cleanup is set once the test's cleanup is registered.
	cleanup bool
}

// FreePort returns a port that was free on 127.0.0.1 a moment ago.
func FreePort(t TB) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("zktest: no free port: %v", err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// freePortBut returns a port that was free on 127.0.0.1 a moment ago and
// is not port.
func freePortBut(t TB, port int) int {
	t.Helper()
	for range 10 {
		if p := FreePort(t); p != port {
			return p
		}
	}
	t.Fatalf("zktest: the kernel gave port %d ten times in a row", port)
	return 0
}

var (
	buildOnce sync.Once
	binPath   string
	buildErr  error
)

// BinaryEnv names the environment variable that points the helpers at a
// Meerkat binary built beforehand (make test builds bin/meerkat-race once
// and sets it), instead of building one per test process.
const BinaryEnv = "MEERKAT_BINARY"

// MeerkatBinary returns the Meerkat binary the tests start: the one
// BinaryEnv names, or else cmd/meerkat built once per test process, with
// -race when the test itself runs under the race detector.
func MeerkatBinary(t TB) string {
	t.Helper()
	buildOnce.Do(func() {
		if p := os.Getenv(BinaryEnv); p != "" {
			binPath = p
			if _, err := os.Stat(p); err != nil {
				buildErr = fmt.Errorf("%s=%s: %w", BinaryEnv, p, err)
			}
			return
		}
		dir, err := os.MkdirTemp("", "meerkat-bin-")
		if err != nil {
			buildErr = err
			return
		}
		binPath = filepath.Join(dir, "meerkat")
		args := []string{"build", "-o", binPath}
		if RaceEnabled {
			args = append(args, "-race")
		}
		cmd := exec.Command("go", append(args, "./cmd/meerkat")...)
		cmd.Dir = moduleRoot()
		if out, err := cmd.CombinedOutput(); err != nil {
			buildErr = fmt.Errorf("go build: %v\n%s", err, out)
		}
	})
	if buildErr != nil {
		t.Fatalf("zktest: %v", buildErr)
	}
	return binPath
}

func moduleRoot() string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Join(filepath.Dir(file), "..", "..")
}

func writeConfig(t TB, dir string, port, securePort int, o Options) string {
	t.Helper()
	tick := o.TickTime
	if tick == 0 {
		tick = 2000
	}
	lines := []string{
		fmt.Sprintf("tickTime=%d", tick),
		"dataDir=" + filepath.Join(dir, "data"),
		fmt.Sprintf("clientPort=%d", port),
		"clientPortAddress=127.0.0.1",
		"4lw.commands.whitelist=*",
	}
	if securePort != 0 {
		lines = append(lines, fmt.Sprintf("secureClientPort=%d", securePort), "secureClientPortAddress=127.0.0.1")
	}
	if o.AdminPort != 0 {
		lines = append(lines, "admin.enableServer=true", "admin.serverAddress=127.0.0.1", fmt.Sprintf("admin.serverPort=%d", o.AdminPort))
	} else {
		lines = append(lines, "admin.enableServer=false")
	}
	if o.ExtendedTypes {
		lines = append(lines, "extendedTypesEnabled=true")
	}
	lines = append(lines, o.Extra...)
	cfg := filepath.Join(dir, "zoo.cfg")
	if err := os.WriteFile(cfg, []byte(strings.Join(lines, "\n")+"\n"), 0o644); err != nil {
		t.Fatalf("zktest: %v", err)
	}
	return cfg
}

// StartMeerkat starts the Meerkat binary on a free port and waits until it
// sets up a session. The test's cleanup kills it.
func StartMeerkat(t TB, o Options) *Server {
	t.Helper()
	bin := MeerkatBinary(t)
	return startOnFreePort(t, "meerkat", o, func(cfg string) []string { return []string{bin, cfg} })
}

// StartZooKeeper starts Apache ZooKeeper from the Debian package on a free
// port and waits until it sets up a session. It fails the test, loudly,
// when java or the package is missing: the side-by-side tests must not skip.
func StartZooKeeper(t TB, o Options) *Server {
	t.Helper()
	java := findJava(t)
	return startOnFreePort(t, "zookeeper", o, func(cfg string) []string {
		return zooKeeperArgv(java, o, "org.apache.zookeeper.server.ZooKeeperServerMain", cfg)
	})
}

// ZooKeeperCommand is the command that runs Apache ZooKeeper standalone on
// the configuration file cfg with StartZooKeeper's JVM flags, for a test
// that wants its exit status and output rather than a running server.
func ZooKeeperCommand(t TB, cfg string) *exec.Cmd {
	t.Helper()
	argv := zooKeeperArgv(findJava(t), Options{}, "org.apache.zookeeper.server.ZooKeeperServerMain", cfg)
	return exec.Command(argv[0], argv[1:]...)
}

// ZooKeeperClientCommand is the command that runs Apache ZooKeeper's Java
// client, org.apache.zookeeper.ZooKeeperMain (what zkCli.sh runs), with
// args, on a classpath with the Netty jars its TLS socket
// (ClientCnxnSocketNetty) needs. jvm are extra JVM flags, the client's
// settings among them (-Dzookeeper.client.secure=true, ...); the JVM is
// kept small and quick to start. Commands print to stdout, the client's
// log (warnings and errors) goes to stderr.
func ZooKeeperClientCommand(t TB, jvm []string, args ...string) *exec.Cmd {
	t.Helper()
	java := findJava(t)
	cp := ZooKeeperJar
	for _, jar := range append([]string{"slf4j-simple.jar"}, nettyJars...) {
		cp += ":/usr/share/java/" + jar
	}
	argv := []string{"-Xmx256m", "-XX:+UseSerialGC", "-XX:TieredStopAtLevel=1", "-Dorg.slf4j.simpleLogger.defaultLogLevel=warn"}
	argv = append(append(argv, jvm...), "-cp", cp, "org.apache.zookeeper.ZooKeeperMain")
	return exec.Command(java, append(argv, args...)...)
}

// findJava returns java's path, and fails t, loudly, when java or the
// ZooKeeper package is missing: the side-by-side tests must not skip.
func findJava(t TB) string {
	t.Helper()
	java, err := exec.LookPath("java")
	if err != nil {
		t.Fatalf("zktest: java not found; install the reference server with `apt-get install -y zookeeper` (make test does): %v", err)
	}
	if _, err := os.Stat(ZooKeeperJar); err != nil {
		t.Fatalf("zktest: %s missing; install it with `apt-get install -y zookeeper` (make test does): %v", ZooKeeperJar, err)
	}
	return java
}

// zooKeeperArgv is the command line that runs ZooKeeper's main class on
// the configuration file cfg.
func zooKeeperArgv(java string, o Options, main, cfg string) []string {
	cp := ZooKeeperJar
	// slf4j-simple gives ZooKeeper a logger; snappy-java (a dependency of
	// the zookeeper package) lets it write snappy-compressed snapshots.
	for _, jar := range []string{"/usr/share/java/slf4j-simple.jar", "/usr/share/java/snappy-java.jar"} {
		if _, err := os.Stat(jar); err == nil {
			cp += ":" + jar
		}
	}
	jvm := o.JVMArgs
	if jvm == nil {
		jvm = []string{"-Xmx512m", "-XX:+UseSerialGC", "-XX:TieredStopAtLevel=1"}
	}
	args := append([]string{java}, jvm...)
	if o.Netty || o.SecurePort {
		for _, jar := range nettyJars {
			cp += ":/usr/share/java/" + jar
		}
	}
	if o.AdminPort != 0 {
		for _, jar := range adminJars {
			cp += ":/usr/share/java/" + jar
		}
		args = append(args, "-Dzookeeper.admin.enableServer=true", "-Dzookeeper.admin.serverAddress=127.0.0.1",
			fmt.Sprintf("-Dzookeeper.admin.serverPort=%d", o.AdminPort))
	} else {
		args = append(args, "-Dzookeeper.admin.enableServer=false")
	}
	args = append(args, "-Dorg.slf4j.simpleLogger.defaultLogLevel=warn")
	if o.ExtendedTypes {
		args = append(args, "-Dzookeeper.extendedTypesEnabled=true")
	}
	for _, e := range o.Extra {
		// ZooKeeper reads some settings only as system properties.
		if k, v, ok := strings.Cut(e, "="); ok && (strings.HasPrefix(k, "znode.") || strings.HasPrefix(k, "jute.") || strings.HasPrefix(k, "zookeeper.") || strings.HasPrefix(k, "readonlymode.")) {
			args = append(args, "-D"+k+"="+v)
		}
	}
	return append(args, "-cp", cp, main, cfg)
}

// startOnFreePort starts a server on a port that was free a moment ago.
// Another process may take the port in between (tests run in parallel), in
// which case our server cannot bind while theirs answers: the listening
// socket is checked to be our process's, and the start retried on a new
// port if it is not.
func startOnFreePort(t TB, name string, o Options, argv func(cfg string) []string) *Server {
	t.Helper()
	dir := t.TempDir()
	for attempt := 1; ; attempt++ {
		port, securePort := FreePort(t), 0
		if o.SecurePort {
			securePort = freePortBut(t, port)
		}
		cfg := writeConfig(t, dir, port, securePort, o)
		s := &Server{Name: name, Port: port, Addr: fmt.Sprintf("127.0.0.1:%d", port), Dir: dir, args: argv(cfg)}
		if securePort != 0 {
			s.SecurePort, s.SecureAddr = securePort, fmt.Sprintf("127.0.0.1:%d", securePort)
		}
		err := s.start(t)
		if err == nil {
			err = s.checkListeners()
			if err == nil {
				return s
			}
		}
		s.Kill()
		if attempt == 3 {
			t.Fatalf("zktest: %s did not start: %v\n%s", name, err, s.Log())
		}
	}
}

// checkListeners returns an error unless the server's process holds the
// sockets listening on its client port and secure client port.
func (s *Server) checkListeners() error {
	for _, port := range []int{s.Port, s.SecurePort} {
		if port == 0 {
			continue
		}
		owns, err := ownsListener(s.Pid(), port)
		if err != nil {
			return fmt.Errorf("cannot check who listens on port %d: %w", port, err)
		}
		if !owns {
			return fmt.Errorf("another process listens on port %d; %s does not", port, s.Name)
		}
	}
	return nil
}

// ownsListener reports whether process pid holds the socket listening on
// TCP port (IPv4 or IPv6, as Java listens).
func ownsListener(pid, port int) (bool, error) {
	inodes := map[string]bool{}
	for _, f := range []string{"/proc/net/tcp", "/proc/net/tcp6"} {
		b, err := os.ReadFile(f)
		if err != nil {
			return false, err
		}
		for _, line := range strings.Split(string(b), "\n")[1:] {
			// sl local_address rem_address st tx:rx tr:tm retrnsmt uid timeout inode
			fields := strings.Fields(line)
			if len(fields) < 10 || fields[3] != "0A" { // 0A: LISTEN
				continue
			}
			_, hexPort, _ := strings.Cut(fields[1], ":")
			if p, err := strconv.ParseUint(hexPort, 16, 16); err == nil && int(p) == port {
				inodes["socket:["+fields[9]+"]"] = true
			}
		}
	}
	fds, err := os.ReadDir(fmt.Sprintf("/proc/%d/fd", pid))
	if err != nil {
		return false, err
	}
	for _, fd := range fds {
		if link, err := os.Readlink(fmt.Sprintf("/proc/%d/fd/%s", pid, fd.Name())); err == nil && inodes[link] {
			return true, nil
		}
	}
	return false, nil
}

// raceReport is how the race detector starts each report it prints.
const raceReport = "WARNING: DATA RACE"

// failOnRace fails t if the server's current incarnation printed a race
// report: a server built with -race keeps running after one, so only its
// output tells.
func (s *Server) failOnRace(t TB) {
	t.Helper()
	log := s.Log()
	i := strings.Index(log, raceReport)
	if i < 0 {
		return
	}
	report := log[i:]
	if len(report) > 6000 {
		report = report[:6000] + "\n..."
	}
	t.Errorf("zktest: %s (pid %d) reported a data race:\n%s", s.Name, s.Pid(), report)
}

// start runs the server process and waits until it serves. The race
// reports of the incarnation it replaces fail t.
func (s *Server) start(t TB) error {
	t.Helper()
	if err := s.launch(t); err != nil {
		return err
	}
	return s.waitServing(time.Now().Add(60 * time.Second))
}

// launch runs the server process. The race reports of the incarnation it
// replaces fail t.
func (s *Server) launch(t TB) error {
	t.Helper()
	if s.log != nil {
		s.failOnRace(t)
	}
	s.mu.Lock()
	s.log = &bytes.Buffer{}
	s.cmd = exec.Command(s.args[0], s.args[1:]...)
	s.cmd.Dir = s.Dir
	s.cmd.Stdout = lockedWriter{s}
	s.cmd.Stderr = lockedWriter{s}
	s.cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := s.cmd.Start(); err != nil {
		s.mu.Unlock()
		return fmt.Errorf("start %s: %w", s.Name, err)
	}
	s.done = make(chan struct{})
	cmd, done := s.cmd, s.done
	s.mu.Unlock()
	go func() { _ = cmd.Wait(); close(done) }()
	if !s.cleanup {
		// Once for every incarnation: Kill stops the current one.
		s.cleanup = true
		t.Cleanup(func() {
			s.Kill()
			s.failOnRace(t)
		})
	}
	return nil
}

// waitServing waits until the server sets up sessions, or deadline.
func (s *Server) waitServing(deadline time.Time) error {
	s.mu.Lock()
	done := s.done
	s.mu.Unlock()
	for {
		if serving(s.Addr) {
			return nil
		}
		select {
		case <-done:
			return fmt.Errorf("%s exited during start", s.Name)
		default:
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("%s did not serve within 60s", s.Name)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

type lockedWriter struct{ s *Server }

func (w lockedWriter) Write(p []byte) (int, error) {
	w.s.mu.Lock()
	defer w.s.mu.Unlock()
	return w.s.log.Write(p)
}

// Log returns what the server printed so far.
func (s *Server) Log() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.log.String()
}

// Pid returns the server's process id.
func (s *Server) Pid() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.cmd.Process.Pid
}

// Kill sends SIGKILL to the server and waits for it to exit.
func (s *Server) Kill() { s.signal(syscall.SIGKILL) }

// Stop sends SIGTERM and waits for the server to exit.
func (s *Server) Stop() { s.signal(syscall.SIGTERM) }

func (s *Server) signal(sig syscall.Signal) {
	s.mu.Lock()
	cmd, done := s.cmd, s.done
	s.mu.Unlock()
	if cmd == nil || cmd.Process == nil {
		return
	}
	select {
	case <-done:
		return
	default:
	}
	_ = cmd.Process.Signal(sig)
	select {
	case <-done:
	case <-time.After(30 * time.Second):
		_ = cmd.Process.Kill()
		<-done
	}
}

// Restart starts the server again with the same configuration and data,
// on the same port. Another process may have taken the port while the
// server was down; then the test fails, as the restarted server would not
// be the one that answers.
func (s *Server) Restart(t TB) {
	t.Helper()
	s.Kill()
	if err := s.start(t); err != nil {
		t.Fatalf("zktest: restart: %v\n%s", err, s.Log())
	}
	owns, err := ownsListener(s.Pid(), s.Port)
	if err != nil {
		s.Kill()
		t.Fatalf("zktest: restart: cannot check who listens on port %d: %v\n%s", s.Port, err, s.Log())
	}
	if !owns {
		s.Kill()
		t.Fatalf("zktest: restart: another process listens on port %d; the restarted %s does not\n%s", s.Port, s.Name, s.Log())
	}
	if s.SecurePort != 0 {
		if err := s.checkListeners(); err != nil {
			s.Kill()
			t.Fatalf("zktest: restart: %v\n%s", err, s.Log())
		}
	}
}

// serving reports whether the server at addr sets up a session. Only that
// proves it serves: ZooKeeper answers ruok before it does, and ruok may not
// be whitelisted. The session is closed again at once.
func serving(addr string) bool {
	c, err := wire.Dial(addr, 30000)
	if err != nil {
		return false
	}
	defer c.Close()
	if c.Session.TimeOut <= 0 {
		return false
	}
	c.Timeout = 5 * time.Second
	_, _ = c.Call(jute.OpCloseSession, nil)
	return true
}

// FourLetter sends a four-letter word and returns the answer.
func FourLetter(addr, word string) (string, error) { return fourLetter(addr, word, false) }

// FourLetterHalfClosed sends a four-letter word as `echo word | nc` does:
// the word and a newline, then a shutdown of the sending side. It returns
// the answer.
func FourLetterHalfClosed(addr, word string) (string, error) {
	return fourLetter(addr, word+"\n", true)
}

func fourLetter(addr, word string, halfClose bool) (string, error) {
	c, err := net.DialTimeout("tcp", addr, 2*time.Second)
	if err != nil {
		return "", err
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(10 * time.Second))
	if _, err := c.Write([]byte(word)); err != nil {
		return "", err
	}
	if halfClose {
		// A server that answers at once may have closed the connection
		// already (ZooKeeper does): there is nothing left to half-close,
		// and its answer is still there to read.
		if err := c.(*net.TCPConn).CloseWrite(); err != nil && !errors.Is(err, syscall.ENOTCONN) {
			return "", err
		}
	}
	b, err := io.ReadAll(c)
	return string(b), err
}

// DigestID returns the id ZooKeeper's DigestAuthenticationProvider derives
// from user:password, user:base64(sha1(user:password)), as digest ACLs and
// superDigest name it.
func DigestID(user, password string) string {
	sum := sha1.Sum([]byte(user + ":" + password))
	return user + ":" + base64.StdEncoding.EncodeToString(sum[:])
}

// LineDiff returns a minimal line diff of a and b (longest common
// subsequence), one line each prefixed "- " (only in a), "+ " (only in b)
// or "  " (in both), or "" when they are equal. context is how many
// unchanged lines to show around each change, "  ..." standing for those
// left out between two changes; a negative context shows every line.
func LineDiff(a, b []string, context int) string {
	if slices.Equal(a, b) {
		return ""
	}
	n, m := len(a), len(b)
	lcs := make([][]int, n+1)
	for i := range lcs {
		lcs[i] = make([]int, m+1)
	}
	for i := n - 1; i >= 0; i-- {
		for j := m - 1; j >= 0; j-- {
			if a[i] == b[j] {
				lcs[i][j] = lcs[i+1][j+1] + 1
			} else {
				lcs[i][j] = max(lcs[i+1][j], lcs[i][j+1])
			}
		}
	}
	type op struct {
		kind byte
		line string
	}
	var ops []op
	i, j := 0, 0
	for i < n || j < m {
		switch {
		case i < n && j < m && a[i] == b[j]:
			ops = append(ops, op{' ', a[i]})
			i++
			j++
		case j < m && (i == n || lcs[i][j+1] >= lcs[i+1][j]):
			ops = append(ops, op{'+', b[j]})
			j++
		default:
			ops = append(ops, op{'-', a[i]})
			i++
		}
	}
	var sb strings.Builder
	last := -1
	for k, o := range ops {
		if context >= 0 {
			near := false
			for d := -context; d <= context; d++ {
				if k+d >= 0 && k+d < len(ops) && ops[k+d].kind != ' ' {
					near = true
					break
				}
			}
			if !near {
				continue
			}
		}
		if last >= 0 && k != last+1 {
			sb.WriteString("  ...\n")
		}
		fmt.Fprintf(&sb, "%c %s\n", o.kind, o.line)
		last = k
	}
	return sb.String()
}

// Ordinals replaces in s each match of re whose second group is a value
// keep does not keep (keep may be nil) by its first group, prefix and the
// value's order of first appearance (Z0, Z1, ...), so that outputs which
// differ in ids or zxids but not in their pattern compare equal.
func Ordinals(s string, re *regexp.Regexp, prefix string, keep func(string) bool) string {
	seen := map[string]int{}
	return re.ReplaceAllStringFunc(s, func(m string) string {
		g := re.FindStringSubmatch(m)
		if keep != nil && keep(g[2]) {
			return m
		}
		n, ok := seen[g[2]]
		if !ok {
			n = len(seen)
			seen[g[2]] = n
		}
		return fmt.Sprintf("%s%s%d", g[1], prefix, n)
	})
}
