package tlstest

import (
	"bytes"
	"crypto/tls"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/meerkat-zk/meerkat/internal/testcert"
	"github.com/meerkat-zk/meerkat/internal/zktest"
	"github.com/meerkat-zk/meerkat/x500"
)

// password protects every key and store the tests write.
const password = "changeit-42"

// Subjects of the client certificates, as written: the most specific RDN
// first (testcert.ParseName). alice's has a multi-valued RDN, an escaped
// comma and DC components; bob's an emailAddress, which Java prints as
// its OID and the value's DER in hex.
const (
	aliceDN = `CN=alice,OU=Eng+UID=42,O=Acme\, Inc.,DC=example,DC=com`
	bobDN   = "emailAddress=bob@example.com,CN=bob,O=Acme"
	adminDN = "CN=admin,O=Ops"
)

// fixture holds the certificates of a test and the client files made of
// them.
type fixture struct {
	dir string
	// ca signs everything a server trusts; rogue signs mallory, whom no
	// server trusts.
	ca, rogue *testcert.CA
	// serverEC and serverRSA are server certificates for 127.0.0.1 and
	// localhost.
	serverEC, serverRSA *testcert.Cert
	// alice (ECDSA), bob (RSA) and admin (the configured superUser) are
	// trusted clients; mallory has alice's subject but the rogue CA.
	alice, bob, admin, mallory *testcert.Cert
	// The x509 identities ZooKeeper gives alice, bob and admin: the
	// subject as Java's X500Principal.getName() prints it.
	aliceID, bobID, adminID string
}

func newFixture(t *testing.T) *fixture {
	t.Helper()
	f := &fixture{dir: t.TempDir()}
	f.ca = testcert.NewCA(t, "Meerkat Test CA")
	f.rogue = testcert.NewCA(t, "Rogue CA")
	hosts := []string{"127.0.0.1", "localhost"}
	f.serverEC = f.ca.Issue(t, testcert.Spec{Subject: "CN=server,O=Meerkat Tests", Hosts: hosts})
	f.serverRSA = f.ca.Issue(t, testcert.Spec{Subject: "CN=server-rsa,O=Meerkat Tests", Key: testcert.RSA, Hosts: hosts})
	f.alice = f.ca.Issue(t, testcert.Spec{Subject: aliceDN})
	f.bob = f.ca.Issue(t, testcert.Spec{Subject: bobDN, Key: testcert.RSA})
	f.admin = f.ca.Issue(t, testcert.Spec{Subject: adminDN})
	f.mallory = f.rogue.Issue(t, testcert.Spec{Subject: aliceDN})
	for _, c := range []struct {
		cert *testcert.Cert
		id   *string
	}{{f.alice, &f.aliceID}, {f.bob, &f.bobID}, {f.admin, &f.adminID}} {
		id, err := x500.Name(c.cert.Cert.RawSubject)
		if err != nil {
			t.Fatal(err)
		}
		*c.id = id
	}
	// kazoo's certificate, key (encrypted) and CA; the Java client's key
	// store (PEM, encrypted key) and trust store.
	f.alice.WriteCertPEM(t, f.path("alice.crt"))
	f.alice.WriteKeyPEM(t, f.path("alice.key"), password)
	f.alice.WriteKeyStore(t, f.path("alice.pem"), testcert.PEM, password)
	f.ca.WriteTrustStore(t, f.path("ca.pem"), testcert.PEM, "")
	return f
}

// path returns the path of a file in the fixture's directory.
func (f *fixture) path(name string) string { return filepath.Join(f.dir, name) }

// clientTLS is a crypto/tls client configuration that trusts the test CA,
// verifies the server as 127.0.0.1, and presents cert when it is not nil.
func (f *fixture) clientTLS(cert *testcert.Cert) *tls.Config {
	cfg := &tls.Config{RootCAs: f.ca.Pool(), ServerName: "127.0.0.1"}
	if cert != nil {
		cfg.Certificates = []tls.Certificate{cert.TLS()}
	}
	return cfg
}

// serverTLS says how a configuration gives the server its certificate and
// trust store, and its other TLS settings.
type serverTLS struct {
	cert *testcert.Cert
	// keyStore is the key store's format, keyStoreFile its file name
	// ("" is "server" and the format's extension), keyStoreType whether
	// zoo.cfg names the format (else ZooKeeper infers it from the file
	// name). encryptKey encrypts a PEM key store's key with the password.
	keyStore     testcert.Format
	keyStoreFile string
	keyStoreType bool
	encryptKey   bool
	// The same of the trust store (which holds the test CA).
	trustStore     testcert.Format
	trustStoreFile string
	trustStoreType bool
	// lines are further zoo.cfg lines: ssl.clientAuth, ...
	lines []string
	// noX509Provider leaves authProvider.x509 out of zoo.cfg.
	noX509Provider bool
	// wrongPassword gives zoo.cfg a key store password other than the
	// store's.
	wrongPassword bool
	// superUserKey is the zoo.cfg key that makes admin the superUser;
	// "" is X509AuthenticationProvider.superUser.
	superUserKey string
}

// options writes the configuration's stores into a directory of their
// own, name, and returns the options that start a server on them: the
// Netty connection factory, the x509 authentication provider, admin as
// its superUser, and a secure client port when secure is set (otherwise
// the configuration has TLS on the plain port, through
// client.portUnification).
func (f *fixture) options(t *testing.T, name string, s serverTLS, secure bool) zktest.Options {
	t.Helper()
	dir := filepath.Join(f.dir, name)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	ks := s.keyStoreFile
	if ks == "" {
		ks = "server" + s.keyStore.Ext()
	}
	ks = filepath.Join(dir, ks)
	keyPassword := password
	if s.keyStore == testcert.PEM && !s.encryptKey {
		keyPassword = ""
	}
	s.cert.WriteKeyStore(t, ks, s.keyStore, keyPassword)
	ts := s.trustStoreFile
	if ts == "" {
		ts = "trust" + s.trustStore.Ext()
	}
	ts = filepath.Join(dir, ts)
	f.ca.WriteTrustStore(t, ts, s.trustStore, password)
	superUser := s.superUserKey
	if superUser == "" {
		superUser = "X509AuthenticationProvider.superUser"
	}
	lines := []string{
		"serverCnxnFactory=org.apache.zookeeper.server.NettyServerCnxnFactory",
		superUser + "=" + adminDN,
		"ssl.keyStore.location=" + ks,
		"ssl.trustStore.location=" + ts,
		"ssl.trustStore.password=" + password,
	}
	if !s.noX509Provider {
		lines = append(lines, "authProvider.x509=org.apache.zookeeper.server.auth.X509AuthenticationProvider")
	}
	if s.wrongPassword {
		keyPassword = "wrong-" + password
	}
	if keyPassword != "" {
		lines = append(lines, "ssl.keyStore.password="+keyPassword)
	}
	if s.keyStoreType {
		lines = append(lines, "ssl.keyStore.type="+string(s.keyStore))
	}
	if s.trustStoreType {
		lines = append(lines, "ssl.trustStore.type="+string(s.trustStore))
	}
	return zktest.Options{SecurePort: secure, Netty: true, Extra: append(lines, s.lines...)}
}

// serverKind is a server the checks run against.
type serverKind struct {
	name  string
	start func(zktest.TB, zktest.Options) *zktest.Server
}

// serverKinds are ZooKeeper, whose outcomes are the reference, and
// Meerkat.
var serverKinds = []serverKind{
	{"zookeeper", zktest.StartZooKeeper},
	{"meerkat", zktest.StartMeerkat},
}

// check is one named check, run against each server in turn.
type check struct {
	name string
	// want is the outcome expected of ZooKeeper 3.8 (of Meerkat, for a
	// meerkatOnly check): a ZooKeeper that does otherwise means the test
	// is wrong, and a Meerkat that differs from ZooKeeper is a bug.
	want string
	// meerkatOnly checks something ZooKeeper 3.8 does not do; it runs on
	// Meerkat alone, against want.
	meerkatOnly bool
	run         func(e *env) string
}

// env is one server under check, with the fixture's certificates.
type env struct {
	t   *testing.T
	srv *zktest.Server
	*fixture
	// notes is what the check saw beyond its outcome (raw errors), for
	// the report.
	notes []string
}

// note records a detail of the check's run for the report.
func (e *env) note(format string, args ...any) {
	e.notes = append(e.notes, fmt.Sprintf(format, args...))
}

// result is a check's outcome on one server.
type result struct {
	got, notes string
	ran        bool
}

// column is every check's result on one server.
type column struct {
	// srv is the server, nil if it did not start, and failure then why.
	srv     *zktest.Server
	failure string
	results []result
}

// sideBySide starts ZooKeeper and Meerkat, each with the options opts
// returns for it, runs the checks in order against each (the two servers
// at once), and then compares: every check's outcome on ZooKeeper must be
// its want, and Meerkat's must be ZooKeeper's. The table of outcomes goes
// to the test log.
func sideBySide(t *testing.T, f *fixture, opts func(server string) zktest.Options, checks []check) {
	t.Helper()
	compareServers(t, f, opts, checks, "")
}

// refusedByMeerkat runs the checks on ZooKeeper as sideBySide does, on a
// configuration that Meerkat deliberately refuses at start with an error
// containing reason: one whose TLS could never work (ZooKeeper starts and
// fails every handshake, having loaded its key store lazily).
func refusedByMeerkat(t *testing.T, f *fixture, opts func(server string) zktest.Options, checks []check, reason string) {
	t.Helper()
	compareServers(t, f, opts, checks, reason)
}

// compareServers is sideBySide, with Meerkat expected to refuse to start
// with reason when that is not empty.
func compareServers(t *testing.T, f *fixture, opts func(server string) zktest.Options, checks []check, refusal string) {
	t.Helper()
	var mu sync.Mutex
	cols := map[string]*column{}
	t.Run("servers", func(t *testing.T) {
		for _, k := range serverKinds {
			t.Run(k.name, func(t *testing.T) {
				t.Parallel()
				col := &column{results: make([]result, len(checks))}
				if k.name == "zookeeper" {
					// The reference must start: a test it refuses is broken.
					col.srv = k.start(t, opts(k.name))
				} else {
					col.srv, col.failure = tryStart(t, k.start, opts(k.name))
				}
				srv := col.srv
				mu.Lock()
				cols[k.name] = col
				mu.Unlock()
				for i, c := range checks {
					if c.meerkatOnly && k.name != "meerkat" {
						continue
					}
					if srv == nil {
						mu.Lock()
						col.results[i] = result{got: outNotStarted, ran: true}
						mu.Unlock()
						continue
					}
					e := &env{t: t, srv: srv, fixture: f}
					got := c.run(e)
					mu.Lock()
					col.results[i] = result{got: got, notes: strings.Join(e.notes, "; "), ran: true}
					mu.Unlock()
				}
				if srv == nil {
					return
				}
				if err := syscall.Kill(srv.Pid(), 0); err != nil {
					t.Errorf("%s (pid %d) exited before the checks ended: %v\n--- server log ---\n%s", srv.Name, srv.Pid(), err, srv.Log())
				}
			})
		}
	})
	report(t, checks, cols, refusal)
}

// outNotStarted is every check's outcome on a Meerkat that refused to
// start.
const outNotStarted = "server did not start"

// startTB is the zktest.TB a server starts with in sideBySide: a failure
// to start is kept, and ends the starting goroutine, so that a server
// refusing a configuration is an outcome of the checks rather than the
// end of the test.
type startTB struct {
	*testing.T
	failure string
}

// Fatalf keeps the failure and ends the goroutine, as testing.T's does.
func (s *startTB) Fatalf(format string, args ...any) {
	s.failure = fmt.Sprintf(format, args...)
	runtime.Goexit()
}

// tryStart starts a server with start and o; it returns the server, or
// nil and why it did not start.
func tryStart(t *testing.T, start func(zktest.TB, zktest.Options) *zktest.Server, o zktest.Options) (*zktest.Server, string) {
	tb := &startTB{T: t}
	var srv *zktest.Server
	done := make(chan struct{})
	go func() {
		defer close(done)
		srv = start(tb, o)
	}()
	<-done
	return srv, tb.failure
}

// report logs the table of outcomes and fails t on every check where
// ZooKeeper did not do what the test expects, or Meerkat differs from it.
func report(t *testing.T, checks []check, cols map[string]*column, refusal string) {
	t.Helper()
	get := func(server string, i int) result {
		if c := cols[server]; c != nil {
			return c.results[i]
		}
		return result{}
	}
	var table strings.Builder
	fmt.Fprintf(&table, "%-58s | %-34s | %-34s | verdict\n", "check", "zookeeper", "meerkat")
	var meerkatLog, zooKeeperLog bool
	for i, c := range checks {
		zk, mk := get("zookeeper", i), get("meerkat", i)
		verdict := "same"
		switch {
		case c.meerkatOnly:
			verdict = "meerkat only"
			if mk.ran && mk.got != c.want {
				verdict = "MEERKAT WRONG"
				t.Errorf("%s (Meerkat only; ZooKeeper 3.8 cannot):\n%s  notes: %s", c.name, diff(c.want, mk.got), mk.notes)
				meerkatLog = true
			}
		case zk.ran && zk.got != c.want:
			verdict = "TEST WRONG"
			t.Errorf("%s: ZooKeeper 3.8 does not do what the test expects (fix the test):\n%s  notes: %s", c.name, diff(c.want, zk.got), zk.notes)
			zooKeeperLog = true
		case refusal != "":
			verdict = "meerkat refuses the configuration"
		case !zk.ran || !mk.ran:
			verdict = "not run"
		case mk.got != zk.got:
			verdict = "DIFFERS"
			if mk.got == outNotStarted {
				break // one error for all, below
			}
			t.Errorf("%s: Meerkat differs from ZooKeeper 3.8:\n%s  zookeeper notes: %s\n  meerkat notes: %s", c.name, diff(zk.got, mk.got), zk.notes, mk.notes)
			meerkatLog = true
		}
		fmt.Fprintf(&table, "%-58s | %-34s | %-34s | %s\n", c.name, cell(zk), cell(mk), verdict)
	}
	switch c := cols["meerkat"]; {
	case c == nil:
	case refusal != "" && c.srv != nil:
		t.Errorf("Meerkat started on a configuration it must refuse (%s)", refusal)
	case refusal != "" && !strings.Contains(c.failure, refusal):
		t.Errorf("Meerkat did not refuse the configuration saying %q:\n%s", refusal, c.failure)
	case refusal == "" && c.srv == nil:
		t.Errorf("Meerkat did not start on this configuration, on which ZooKeeper 3.8 starts:\n%s", c.failure)
	}
	t.Logf("outcomes:\n%s", table.String())
	for name, show := range map[string]bool{"zookeeper": zooKeeperLog, "meerkat": meerkatLog} {
		if c := cols[name]; show && c != nil && c.srv != nil {
			t.Logf("--- %s log (last 6000 bytes) ---\n%s", name, tail(c.srv.Log(), 6000))
		}
	}
}

// cell is a result as the table shows it: its first line, shortened.
func cell(r result) string {
	if !r.ran {
		return "-"
	}
	s, _, multi := strings.Cut(r.got, "\n")
	if multi {
		s = fmt.Sprintf("(%d lines) %s", strings.Count(r.got, "\n")+1, s)
	}
	if len(s) > 34 {
		s = s[:31] + "..."
	}
	return s
}

// diff is a line diff of want (-) and got (+).
func diff(want, got string) string {
	return zktest.LineDiff(strings.Split(want, "\n"), strings.Split(got, "\n"), -1)
}

func tail(s string, n int) string {
	if len(s) > n {
		return "..." + s[len(s)-n:]
	}
	return s
}

// runProcess runs argv with env added to the environment, in its own
// process group, killed with the group after timeout, and returns its
// stdout and stderr.
func runProcess(timeout time.Duration, env []string, stdin string, argv ...string) (stdout, stderr string, err error) {
	var out, errb bytes.Buffer
	err = runCmd(exec.Command(argv[0], argv[1:]...), timeout, env, stdin, &out, &errb)
	return out.String(), errb.String(), err
}

// runCombined runs cmd as runProcess does, its stdout and stderr one
// stream, and returns that.
func runCombined(cmd *exec.Cmd, timeout time.Duration, stdin string) (string, error) {
	var out lockedBuffer
	err := runCmd(cmd, timeout, nil, stdin, &out, &out)
	return out.String(), err
}

// runCmd runs cmd as runProcess runs its argv, with stdout and stderr
// going to the writers given.
func runCmd(cmd *exec.Cmd, timeout time.Duration, env []string, stdin string, stdout, stderr io.Writer) error {
	cmd.Env = append(os.Environ(), env...)
	cmd.Stdin = strings.NewReader(stdin)
	cmd.Stdout, cmd.Stderr = stdout, stderr
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	// A grandchild holding the pipes must not keep Wait from returning.
	cmd.WaitDelay = 5 * time.Second
	if err := cmd.Start(); err != nil {
		return err
	}
	timer := time.AfterFunc(timeout, func() { _ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) })
	err := cmd.Wait()
	if !timer.Stop() {
		err = fmt.Errorf("killed after %v: %v", timeout, err)
	}
	return err
}

// lockedBuffer is a bytes.Buffer that two of a process's streams can
// write at once.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}
