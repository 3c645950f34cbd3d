package bench

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/meerkat-zk/meerkat/internal/testcert"
)

// Transports, as the TLS scenario's labels name them.
const (
	Plaintext = "plaintext"
	TLS       = "TLS"
)

// tlsSetup describes the TLS configuration of the TLS scenario, for the
// report.
const tlsSetup = "a fresh CA per server start; ECDSA P-256 server and client certificates (PEM key store and trust store, key unencrypted); " +
	"every other TLS key at its default on both servers: ssl.clientAuth=need, ssl.protocol TLSv1.2 with no other protocol enabled, ZooKeeper 3.8's cipher-suite list (ECDHE-ECDSA/RSA with AES-GCM first); " +
	"ZooKeeper with serverCnxnFactory=org.apache.zookeeper.server.NettyServerCnxnFactory (its TLS needs it) for both ports, TLS by the JDK's SSLEngine (no netty-tcnative in the Debian packages); " +
	"the generator is crypto/tls with its defaults (it offers TLS 1.3 and 1.2; both servers choose 1.2), verifies the server's certificate and name (127.0.0.1), and does one full handshake per connection before the window"

// pki is the TLS scenario's certificates: a CA, a server certificate for
// 127.0.0.1 and localhost written as the server's key store and trust
// store, and the generator's client configuration.
type pki struct {
	keyStore, trustStore string
	client               *tls.Config
}

// newPKI makes a CA and the certificates, and writes the server's stores
// under dir. tb fails (a panic that guard turns into an error) on any
// error.
func newPKI(tb *runnerTB, dir string) *pki {
	ca := testcert.NewCA(tb, "meerkat-bench CA")
	hosts := []string{"127.0.0.1", "localhost"}
	srv := ca.Issue(tb, testcert.Spec{Subject: "CN=server,O=meerkat-bench", Key: testcert.ECDSA, Hosts: hosts})
	cl := ca.Issue(tb, testcert.Spec{Subject: "CN=client,O=meerkat-bench", Key: testcert.ECDSA, Hosts: hosts})
	p := &pki{keyStore: filepath.Join(dir, "server.pem"), trustStore: filepath.Join(dir, "ca.pem")}
	srv.WriteKeyStore(tb, p.keyStore, testcert.PEM, "")
	ca.WriteTrustStore(tb, p.trustStore, testcert.PEM, "")
	p.client = &tls.Config{Certificates: []tls.Certificate{cl.TLS()}, RootCAs: ca.Pool()}
	return p
}

// serverLines are the zoo.cfg lines that give system its TLS (the secure
// client port itself is zktest.Options.SecurePort): the key store and
// trust store, everything else at its default, and for ZooKeeper the Netty
// connection factory, which its TLS needs and which then serves the plain
// port too.
func (p *pki) serverLines(system string) []string {
	lines := []string{"ssl.keyStore.location=" + p.keyStore, "ssl.trustStore.location=" + p.trustStore}
	if system == ZooKeeper {
		lines = append(lines, "serverCnxnFactory=org.apache.zookeeper.server.NettyServerCnxnFactory")
	}
	return lines
}

// ClientTLS makes a generator's TLS configuration from PEM files: the
// client certificate (and its chain) in certFile, its key in keyFile (""
// means certFile, as a ZooKeeper PEM key store holds both), and the CA to
// verify the server with in caFile ("" means the system's roots).
// serverName, when set, is the name the server's certificate is verified
// against instead of the address's host.
func ClientTLS(certFile, keyFile, caFile, serverName string) (*tls.Config, error) {
	if certFile == "" && keyFile != "" {
		return nil, errors.New("bench: a TLS key without a certificate")
	}
	cfg := &tls.Config{ServerName: serverName}
	if certFile != "" {
		if keyFile == "" {
			keyFile = certFile
		}
		cert, err := tls.LoadX509KeyPair(certFile, keyFile)
		if err != nil {
			return nil, fmt.Errorf("bench: client certificate: %w", err)
		}
		cfg.Certificates = []tls.Certificate{cert}
	}
	if caFile != "" {
		b, err := os.ReadFile(caFile)
		if err != nil {
			return nil, err
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(b) {
			return nil, fmt.Errorf("bench: no PEM certificate in %s", caFile)
		}
		cfg.RootCAs = pool
	}
	return cfg, nil
}

// tlsLabel is the label of one TLS-scenario run: the transport, then the
// load.
func tlsLabel(transport, load string) string { return transport + " " + load }

// tlsWriteLoad is the TLS scenario's write load: the write scenario's
// largest writer count, one outstanding write each, labelled as there.
func (c *Config) tlsWriteLoad() (writers int, label string) {
	writers = 64
	if len(c.Writers) > 0 {
		writers = c.Writers[len(c.Writers)-1]
	}
	return writers, fmt.Sprintf("writers=%d depth=1", writers)
}

// tlsScenarios measures one server with a plain and a secure client port:
// getData at the headline load and setData at the largest writer count,
// each over plaintext and over TLS, on the same server instance (for
// ZooKeeper, NettyServerCnxnFactory serves both ports).
func (c *Config) tlsScenarios(system string) []Run {
	srv, err := startServerWith(system, c.JVM, true)
	if err != nil {
		return []Run{{Scenario: ScTLSGetData, System: system, Error: err.Error()}}
	}
	defer c.stop(srv, "tls")
	if err := CreateHotSet(srv.Addr, c.Keys, c.ValueSize, time.Minute); err != nil {
		return []Run{{Scenario: ScTLSGetData, System: system, Error: "setup: " + err.Error()}}
	}
	type transport struct {
		name, addr string
		tc         *tls.Config
	}
	transports := []transport{{Plaintext, srv.Addr, nil}, {TLS, srv.SecureAddr, srv.clientTLS}}
	// Warm the JIT (and Meerkat's heap) on both paths, three windows of
	// the 90/10 mix in all as in the other scenarios: two over TLS, one
	// over plaintext. Not recorded.
	for _, t := range []struct {
		transport
		windows int
	}{{transports[1], 2}, {transports[0], 1}} {
		warm := Options{Addr: t.addr, TLS: t.tc, Conns: c.Conns, Depth: c.Depth, Duration: time.Duration(t.windows) * c.Duration}
		if _, err := Load(warm, c.mix(10)); err != nil {
			return []Run{{Scenario: ScTLSGetData, System: system, Error: fmt.Sprintf("warm-up over %s: %v", t.name, err)}}
		}
	}
	var runs []Run
	for _, t := range transports {
		o := Options{Addr: t.addr, TLS: t.tc, Conns: c.Conns, Depth: c.Depth}
		runs = append(runs, c.run(o, ScTLSGetData, tlsLabel(t.name, c.headLabel()), system, srv, c.mix(0)))
	}
	writers, label := c.tlsWriteLoad()
	for _, t := range transports {
		o := Options{Addr: t.addr, TLS: t.tc, Conns: writers, Depth: 1}
		runs = append(runs, c.run(o, ScTLSSetData, tlsLabel(t.name, label), system, srv, c.mix(100)))
	}
	return runs
}
