package conformance

import (
	"bytes"
	"crypto/sha1"
	"crypto/sha256"
	"crypto/sha3"
	"encoding/base64"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/meerkat-zk/meerkat/internal/wire"
	"github.com/meerkat-zk/meerkat/internal/zktest"
	"github.com/meerkat-zk/meerkat/jute"
)

// Pairs with an authentication setting of their own: the digest
// algorithm, an x509 provider without TLS, enforce.auth; and settings
// neither server may start with.

// digestIDWith is zktest.DigestID under the digest algorithm alg, named as
// zookeeper.DigestAuthenticationProvider.digestAlg names it:
// user:base64(alg("user:password")).
func digestIDWith(alg, user, password string) string {
	in := []byte(user + ":" + password)
	var sum []byte
	switch alg {
	case "SHA1":
		s := sha1.Sum(in)
		sum = s[:]
	case "SHA-256":
		s := sha256.Sum256(in)
		sum = s[:]
	case "SHA3-256":
		s := sha3.Sum256(in)
		sum = s[:]
	default:
		panic("BUG: digestIDWith: no algorithm " + alg)
	}
	return user + ":" + base64.StdEncoding.EncodeToString(sum)
}

// digestAlgScenario checks digest identities on a pair whose digest
// algorithm is alg, and whose superDigest is super:superPassword under
// alg: an ACL id computed with alg admits user:pw, one computed with
// another algorithm does not, auth ids and whoAmI show alg's digest, and
// the super user is recognized.
func digestAlgScenario(name, alg string) scenario {
	other := "SHA1"
	if alg == "SHA1" {
		other = "SHA-256"
	}
	mine := func(perms int32, user, pw string) jute.ACL {
		return jute.ACL{Perms: perms, ID: jute.ID{Scheme: "digest", ID: digestIDWith(alg, user, pw)}}
	}
	return scenario{name, func(e *env) {
		a := e.connect("A")
		a.create(e.p(""), nil, 0)
		a.createACL(e.p("mine"), []byte("m"), []jute.ACL{mine(jute.PermAll, "user", "pw")}, 0)
		a.createACL(e.p("other"), []byte("o"), []jute.ACL{{Perms: jute.PermAll, ID: jute.ID{Scheme: "digest", ID: digestIDWith(other, "user", "pw")}}}, 0)
		// The password holds a colon: the whole "user:p:w" is hashed.
		a.createACL(e.p("colon"), []byte("c"), []jute.ACL{mine(jute.PermRead, "colon", "p:w")}, 0)
		a.createACL(e.p("none"), []byte("n"), []jute.ACL{worldACL(0)}, 0)

		b := e.connect("B")
		_, _, ok := b.getData(e.p("mine"), false)
		e.expect(!ok, "B read %s before it authenticated", e.p("mine"))
		b.auth("digest", "user:pw")
		b.whoAmI()
		_, _, ok = b.getData(e.p("mine"), false)
		e.expect(ok, "B, user:pw, cannot read a node of digest:%s (%s)", digestIDWith(alg, "user", "pw"), alg)
		b.setData(e.p("mine"), []byte("b"), -1)
		b.getACL(e.p("mine"))
		_, _, ok = b.getData(e.p("other"), false)
		e.expect(!ok, "B, user:pw, read a node of digest:%s (%s, not the configured %s)", digestIDWith(other, "user", "pw"), other, alg)
		b.getACL(e.p("other"))
		b.createACL(e.p("auth"), nil, creatorACL, 0)
		acl, _ := b.getACL(e.p("auth"))
		e.expect(len(acl) == 1 && acl[0].ID.ID == digestIDWith(alg, "user", "pw"), "auth id expanded to %s, want digest:%s", acls(acl), digestIDWith(alg, "user", "pw"))

		c := e.connect("C")
		c.auth("digest", "colon:p:w")
		c.whoAmI()
		_, _, ok = c.getData(e.p("colon"), false)
		e.expect(ok, "C, colon:p:w, cannot read a node of digest:%s", digestIDWith(alg, "colon", "p:w"))

		s := e.connect("S")
		s.auth("digest", superCred)
		s.whoAmI()
		_, _, ok = s.getData(e.p("none"), false)
		e.expect(ok, "the super user (superDigest under %s) cannot read a node that grants nothing", alg)
		s.getData(e.p("other"), false)
		s.setACL(e.p("other"), openACL, -1)
		s.createACL(e.p("superauth"), nil, creatorACL, 0)
		s.getACL(e.p("superauth"))

		w := e.connect("W")
		w.auth("digest", "super:wrong")
		w.whoAmI()
		_, _, ok = w.getData(e.p("none"), false)
		e.expect(!ok, "super:wrong is taken for the super user")
	}}
}

// superOption is the zoo.cfg line that makes super:superPassword the
// super user under the digest algorithm alg.
func superOption(alg string) string {
	return "zookeeper.DigestAuthenticationProvider.superDigest=" + digestIDWith(alg, "super", superPassword)
}

// TestDigestAlgorithms plays digestAlgScenario on a pair per digest
// algorithm other than the default (the shared pair plays it with SHA1).
func TestDigestAlgorithms(t *testing.T) {
	t.Parallel()
	for _, alg := range []string{"SHA-256", "SHA3-256"} {
		t.Run(alg, func(t *testing.T) {
			t.Parallel()
			p := startPair(t, zktest.Options{Extra: []string{
				"zookeeper.DigestAuthenticationProvider.digestAlg=" + alg,
				superOption(alg),
			}}, standalone)
			runPair(t, p, []scenario{digestAlgScenario("digest_alg", alg)})
		})
	}
}

// x509ProviderOption registers ZooKeeper's x509 authentication provider;
// without TLS it only makes x509 ids valid in ACLs.
const x509ProviderOption = "authProvider.x509=org.apache.zookeeper.server.auth.X509AuthenticationProvider"

// TestX509ProviderPlaintext runs with an x509 provider and no TLS: x509
// ids are valid, and a plaintext client, which has no certificate, holds
// none.
func TestX509ProviderPlaintext(t *testing.T) {
	t.Parallel()
	p := startPair(t, zktest.Options{ExtendedTypes: true, Extra: []string{x509ProviderOption, superOption("SHA1")}}, standalone)
	runPair(t, p, []scenario{
		x509IDsScenario("x509_ids_with_provider"),
		x509MatrixScenario("x509_matrix_no_certificate"),
		{"x509_auth_without_certificate", func(e *env) {
			a := e.connect("A")
			a.create(e.p(""), nil, 0)
			a.createACL(e.p("n"), []byte("x"), []jute.ACL{x509ACL(jute.PermAll, "CN=someone,O=org")}, 0)
			for i, cred := range []string{"", "CN=someone,O=org"} {
				c := e.connect(fmt.Sprintf("C%d", i))
				if c.auth("x509", cred) {
					c.whoAmI()
					c.getData(e.p("n"), false)
				}
			}
		}},
	})
}

// enforceAuthOptions are the zoo.cfg lines of enforce.auth for schemes,
// spelt as system properties (zktest passes zookeeper.* keys to ZooKeeper
// as -D options; Meerkat reads them from zoo.cfg).
func enforceAuthOptions(schemes string) []string {
	return []string{"zookeeper.enforce.auth.enabled=true", "zookeeper.enforce.auth.schemes=" + schemes}
}

// TestEnforceAuth runs a pair with enforce.auth.schemes=digest, where a
// connection must add a digest identity before anything else, and one
// with ip, which every connection has.
func TestEnforceAuth(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		schemes string
		list    []scenario
	}{
		{"digest", enforceDigestScenarios},
		{"ip", enforceIPScenarios},
	} {
		t.Run("schemes="+tc.schemes, func(t *testing.T) {
			t.Parallel()
			p := startPair(t, zktest.Options{ExtendedTypes: true, Extra: enforceAuthOptions(tc.schemes)}, standalone)
			runPair(t, p, tc.list)
		})
	}
}

// baseAfterAuth fixes the scenario's zxid base (what connect does with
// its first connection) through a connection of its own that adds
// (scheme, cred) first: where authentication is enforced, a first
// connection without it would have its ping refused and be closed. The
// connection's session is closed again and appears nowhere.
func (e *env) baseAfterAuth(scheme, cred string) {
	nc, err := dialRaw(e.srv.Addr)
	if err != nil {
		e.fatalf("base: dial: %v", err)
	}
	rc, res, err := handshake(nc, connectOpts{timeout: defaultTimeout})
	if err != nil || rc == nil {
		e.fatalf("base: connect: %v %s", err, res.noResponse)
	}
	defer rc.close()
	for _, r := range []request{
		{jute.XidAuth, jute.OpAuth, authBody(scheme, []byte(cred))},
		{jute.XidPing, jute.OpPing, nil},
		{1, jute.OpCloseSession, nil},
	} {
		if err := rc.send(r.xid, r.op, r.body); err != nil {
			e.fatalf("base: %v: %v", r.op, err)
		}
		f, err := rc.reply(replyTimeout)
		if err != nil || f.hdr.Xid != r.xid || f.hdr.Err != jute.CodeOK {
			e.fatalf("base: %v: xid=%d err=%s (%v)", r.op, f.hdr.Xid, f.hdr.Err.String(), err)
		}
		if r.op == jute.OpPing {
			e.base, e.hasBase = f.hdr.Zxid, true
		}
	}
}

// refused sends a request the server is expected to refuse and close the
// connection on: it records the reply, then whether the connection
// closes.
func (c *client) refused(desc string, op jute.OpCode, body []byte) {
	c.call(desc, op, body)
	if !c.dropped {
		c.awaitClose("then")
	}
}

// request is one request of a pipelined write.
type request struct {
	xid  int32
	op   jute.OpCode
	body []byte
}

// pipelined writes reqs in one write and records a reply for each, or
// what came instead.
func (c *client) pipelined(reqs ...request) {
	var b []byte
	ops := map[int32]jute.OpCode{}
	for _, r := range reqs {
		b = append(b, wire.RequestFrame(r.xid, r.op, r.body)...)
		ops[r.xid] = r.op
	}
	if err := c.writeRaw(b); err != nil {
		c.dropped = true
		c.e.logf("%s: pipelined write -> %s", c.label, errKind(fmt.Errorf("%w: %v", errWrite, err)))
		return
	}
	for range reqs {
		f, err := c.reply(replyTimeout)
		c.flushEvents()
		if err != nil {
			if errors.Is(err, errClosed) {
				c.dropped = true
			}
			c.e.logf("%s: pipelined -> %s", c.label, errKind(err))
			return
		}
		c.e.logf("%s: pipelined reply xid=%d %s zxid=%s%s", c.label, f.hdr.Xid, f.hdr.Err.String(), c.e.zx(f.hdr.Zxid), c.e.renderBody(ops[f.hdr.Xid], f))
	}
}

// enforceDigestScenarios run where enforce.auth.schemes=digest.
var enforceDigestScenarios = []scenario{
	{"enforce_auth_first_request_refused", func(e *env) {
		e.baseAfterAuth("digest", "base:pw")
		a := e.connect("A")
		a.refused("getData /", jute.OpGetData, pathWatchBody("/", false))
		// The session outlives the connection; a new connection to it
		// needs its own identity.
		a2, ok := a.reconnect("A2")
		if !ok {
			return
		}
		a2.refused("exists /", jute.OpExists, pathWatchBody("/", false))
		a3, ok := a2.reconnect("A3")
		if !ok {
			return
		}
		a3.auth("digest", "user:pw")
		a3.whoAmI()
		a3.create(e.p(""), nil, 0)
		a3.create(e.p("eph"), []byte("e"), 1)
		a3.getData(e.p("eph"), false)
	}},
	{"enforce_auth_each_request_kind_refused", func(e *env) {
		e.baseAfterAuth("digest", "base:pw")
		for _, r := range []struct {
			desc string
			op   jute.OpCode
			body []byte
		}{
			{"whoAmI", jute.OpWhoAmI, nil},
			{"create", jute.OpCreate, createBody(e.p(""), nil, openACL, 0)},
			{"setData /", jute.OpSetData, setDataBody("/", nil, -1)},
			{"getChildren /", jute.OpGetChildren, pathWatchBody("/", false)},
			{"sync /", jute.OpSync, pathBody("/")},
			{"multi", jute.OpMulti, multiBody([]multiOp{mCheck("/", -1)})},
			{"closeSession", jute.OpCloseSession, nil},
		} {
			c := e.connect(strings.Fields(r.desc)[0])
			c.refused(r.desc, r.op, r.body)
		}
		w := e.connect("setWatches")
		w.callWith(jute.XidSetWatches, "setWatches", jute.OpSetWatches, (&jute.SetWatches{DataWatches: []string{"/"}}).AppendSetWatches(nil, false))
		if !w.dropped {
			w.awaitClose("then")
		}
		p := e.connect("P")
		p.ping()
		if !p.dropped {
			p.awaitClose("then")
		}
	}},
	{"enforce_auth_closeSession_refused_session_lives", func(e *env) {
		e.baseAfterAuth("digest", "base:pw")
		a := e.connect("A")
		a.auth("digest", "user:pw")
		a.create(e.p(""), nil, 0)
		a.create(e.p("eph"), nil, 1)
		a.close()
		a2, ok := a.reconnect("A2")
		if !ok {
			return
		}
		a2.refused("closeSession", jute.OpCloseSession, nil)
		b := e.connect("B")
		b.auth("digest", "other:pw")
		b.exists(e.p("eph"), false)
		a3, ok := a2.reconnect("A3")
		if !ok {
			return
		}
		a3.auth("digest", "user:pw")
		a3.closeSession()
		b.exists(e.p("eph"), false)
	}},
	{"enforce_auth_identities", func(e *env) {
		e.baseAfterAuth("digest", "base:pw")
		// Any digest identity will do, the super user's and a wrong
		// password's among them; an ip identity will not.
		for i, cred := range []string{"user:pw", "super:wrong", "a:b:c", ":"} {
			c := e.connect(fmt.Sprintf("D%d", i))
			if c.auth("digest", cred) {
				c.whoAmI()
				c.getChildren("/", false)
			}
		}
		ip := e.connect("I")
		if ip.auth("ip", "127.0.0.1") {
			ip.refused("whoAmI", jute.OpWhoAmI, nil)
		}
		k := e.connect("K")
		k.auth("kerberos", "x")
		// An ip identity added first does not stand in the way.
		t := e.connect("T")
		t.auth("ip", "127.0.0.1")
		t.auth("digest", "nocolon")
		t.whoAmI()
	}},
	{"enforce_auth_pipelined_auth_then_requests", func(e *env) {
		e.baseAfterAuth("digest", "base:pw")
		a := e.connect("A")
		a.pipelined(
			request{jute.XidAuth, jute.OpAuth, authBody("digest", []byte("user:pw"))},
			request{1, jute.OpCreate, createBody(e.p(""), nil, creatorACL, 0)},
			request{2, jute.OpGetACL, pathBody(e.p(""))})
		// A request before the auth is refused, and what follows it
		// never read.
		b := e.connect("B")
		b.pipelined(
			request{1, jute.OpExists, pathWatchBody(e.p(""), false)},
			request{jute.XidAuth, jute.OpAuth, authBody("digest", []byte("user:pw"))})
		if !b.dropped {
			b.awaitClose("then")
		}
		c := e.connect("C")
		c.pipelined(
			request{1, jute.OpGetData, pathWatchBody(e.p(""), false)},
			request{2, jute.OpSync, pathBody(e.p(""))},
			request{3, jute.OpCreate, createBody(e.p("c"), nil, openACL, 0)})
		if !c.dropped {
			c.awaitClose("then")
		}
		a.exists(e.p("c"), false)
	}},
	{"enforce_auth_authenticated_client_works", func(e *env) {
		e.baseAfterAuth("digest", "base:pw")
		a := e.connect("A")
		a.auth("digest", "user:pw")
		a.create(e.p(""), nil, 0)
		a.createACL(e.p("mine"), []byte("m"), creatorACL, 0)
		b := e.connect("B")
		b.auth("digest", "other:pw")
		b.exists(e.p("mine"), true)
		b.getData(e.p("mine"), false)
		a.setData(e.p("mine"), []byte("n"), -1)
		a.ping()
		b.events()
		a.multi(mCreate(e.p("x"), nil, 0), mSetData(e.p("mine"), nil, -1))
		a.getChildren2(e.p(""), false)
	}},
}

// enforceIPScenarios run where enforce.auth.schemes=ip: nothing is
// refused.
var enforceIPScenarios = []scenario{
	{"enforce_auth_ip_everyone_has_it", func(e *env) {
		a := e.connect("A")
		a.whoAmI()
		a.create(e.p(""), nil, 0)
		a.getData(e.p(""), false)
		p := e.connect("P")
		p.ping()
		p.ping()
		d := e.connect("D")
		d.auth("digest", "user:pw")
		d.whoAmI()
		d.createACL(e.p("mine"), nil, creatorACL, 0)
		a.getData(e.p("mine"), false)
		c := e.connect("C")
		c.closeSession()
	}},
	permScenario("enforce_auth_ip_perm_read", jute.PermRead),
}

// TestRefusedAuthSettings starts ZooKeeper and Meerkat with each
// authentication setting ZooKeeper refuses, and a few near them that it
// takes, and compares whether each starts; what they print may differ in
// wording (the log shows both).
func TestRefusedAuthSettings(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name  string
		extra []string
	}{
		{"enforce_without_schemes", []string{"zookeeper.enforce.auth.enabled=true"}},
		{"enforce_empty_schemes", enforceAuthOptions(" , ")},
		{"enforce_unknown_scheme", enforceAuthOptions("digest,kerberos")},
		{"enforce_x509_without_provider", enforceAuthOptions("x509")},
		// The zoo.cfg spelling without zookeeper., which ZooKeeper turns
		// into the system property itself.
		{"enforce_without_schemes_zoo_cfg_key", []string{"enforce.auth.enabled=true"}},
		// Those that start: x509 with a provider, and digest algorithms
		// as Java's MessageDigest.getInstance finds them: any case, by an
		// alias (SHA256) or by OID. (Java 17 has MD2 too, which Meerkat
		// refuses at start: Go has no MD2, and nothing should hash
		// passwords with it.)
		{"enforce_x509_with_provider", append(enforceAuthOptions("x509"), x509ProviderOption)},
		{"digest_alg_unknown", []string{"zookeeper.DigestAuthenticationProvider.digestAlg=SHA-999"}},
		{"digest_alg_lowercase", []string{"zookeeper.DigestAuthenticationProvider.digestAlg=sha-256"}},
		{"digest_alg_java_alias", []string{"zookeeper.DigestAuthenticationProvider.digestAlg=SHA256"}},
		{"digest_alg_oid", []string{"zookeeper.DigestAuthenticationProvider.digestAlg=OID.2.16.840.1.101.3.4.2.1"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			zkCfg, zkAddr := writeStartConfig(t, tc.extra)
			zkCmd := zktest.ZooKeeperCommand(t, zkCfg)
			zkCmd.Args = withSystemProperties(zkCmd.Args, tc.extra)
			mkCfg, mkAddr := writeStartConfig(t, tc.extra)
			mkCmd := exec.Command(zktest.MeerkatBinary(t), mkCfg)
			var zk, mk startResult
			var zkErr, mkErr error
			var wg sync.WaitGroup
			wg.Add(2)
			go func() { defer wg.Done(); zk, zkErr = tryStart(zkCmd, zkAddr) }()
			go func() { defer wg.Done(); mk, mkErr = tryStart(mkCmd, mkAddr) }()
			wg.Wait()
			if err := errors.Join(zkErr, mkErr); err != nil {
				t.Fatal(err)
			}
			t.Logf("zookeeper: %s\nmeerkat: %s", zk, mk)
			if zk.started != mk.started {
				t.Errorf("zookeeper started: %v, meerkat started: %v\nzookeeper output:\n%s\nmeerkat output:\n%s", zk.started, mk.started, zk.tail(), mk.tail())
			}
		})
	}
}

// withSystemProperties returns ZooKeeper's command line args with a -D
// option for each zookeeper.* line of extra, before the class path, as
// zktest does for the servers it starts.
func withSystemProperties(args, extra []string) []string {
	i := slices.Index(args, "-cp")
	if i < 0 {
		panic("BUG: no -cp in ZooKeeper's command line")
	}
	var props []string
	for _, line := range extra {
		if k, v, ok := strings.Cut(line, "="); ok && strings.HasPrefix(k, "zookeeper.") {
			props = append(props, "-D"+k+"="+v)
		}
	}
	return slices.Concat(args[:i], props, args[i:])
}

// startResult is how a start attempt ended.
type startResult struct {
	// started: the server answered srvr (and was then killed); else it
	// exited with code.
	started bool
	code    int
	out     string
}

func (r startResult) String() string {
	if r.started {
		return "started"
	}
	return fmt.Sprintf("exited with code %d: %s", r.code, r.reason())
}

// reason is the line of the output that says why the server stopped: the
// first that names an exception or an error, else the last.
func (r startResult) reason() string {
	lines := strings.Split(strings.TrimSpace(r.out), "\n")
	for _, l := range lines {
		if strings.Contains(l, "Exception:") || strings.Contains(l, "rror") {
			return strings.TrimSpace(l)
		}
	}
	return lines[len(lines)-1]
}

func (r startResult) tail() string {
	if len(r.out) > 3000 {
		return "..." + r.out[len(r.out)-3000:]
	}
	return r.out
}

// syncBuffer is a bytes.Buffer for a process's stdout and stderr.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// writeStartConfig writes a zoo.cfg with extra, on a free port, in a
// directory of its own, and returns its path and the client address.
func writeStartConfig(t *testing.T, extra []string) (cfg, addr string) {
	dir := t.TempDir()
	port := zktest.FreePort(t)
	lines := append([]string{
		"tickTime=2000",
		"dataDir=" + filepath.Join(dir, "data"),
		fmt.Sprintf("clientPort=%d", port),
		"clientPortAddress=127.0.0.1",
		"4lw.commands.whitelist=*",
		"admin.enableServer=false",
	}, extra...)
	cfg = filepath.Join(dir, "zoo.cfg")
	if err := os.WriteFile(cfg, []byte(strings.Join(lines, "\n")+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	return cfg, fmt.Sprintf("127.0.0.1:%d", port)
}

// tryStart runs cmd, a server on a zoo.cfg whose client address is addr,
// and waits until the server answers srvr (then kills it) or exits.
func tryStart(cmd *exec.Cmd, addr string) (startResult, error) {
	name := filepath.Base(cmd.Path)
	cmd.Dir = filepath.Dir(cmd.Args[len(cmd.Args)-1])
	var out syncBuffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		return startResult{}, fmt.Errorf("%s: %w", name, err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	deadline := time.Now().Add(60 * time.Second)
	for {
		select {
		case err := <-done:
			code := 0
			var ee *exec.ExitError
			if errors.As(err, &ee) {
				code = ee.ExitCode()
			}
			return startResult{code: code, out: out.String()}, nil
		case <-time.After(100 * time.Millisecond):
		}
		if s, err := zktest.FourLetter(addr, "srvr"); err == nil && strings.Contains(s, "Mode:") {
			_ = cmd.Process.Kill()
			<-done
			return startResult{started: true, out: out.String()}, nil
		}
		if time.Now().After(deadline) {
			_ = cmd.Process.Kill()
			<-done
			return startResult{}, fmt.Errorf("%s neither served nor exited within 60 s:\n%s", name, out.String())
		}
	}
}
