package tlstest

import (
	"crypto/tls"
	"testing"

	"github.com/meerkat-zk/meerkat/internal/testcert"
	"github.com/meerkat-zk/meerkat/internal/zktest"
)

// TestProtocolsAndCipherSuites: ssl.enabledProtocols=TLSv1.2 refuses a
// TLS 1.3-only client, and ssl.ciphersuites decides what is negotiated: a
// client offering the configured suite among others gets it, one offering
// only others is refused. The key store is JKS inferred from .jks, the
// trust store PEM inferred from .pem.
func TestProtocolsAndCipherSuites(t *testing.T) {
	f := newFixture(t)
	const suite = "TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384"
	o := f.options(t, "protocols", serverTLS{cert: f.serverEC, keyStore: testcert.JKS, trustStore: testcert.PEM,
		lines: []string{"ssl.enabledProtocols=TLSv1.2", "ssl.ciphersuites=" + suite}}, true)
	offer := func(suites ...uint16) func(*tls.Config) {
		return func(c *tls.Config) { c.CipherSuites = suites }
	}
	checks := []check{
		{name: "server presents its key store's certificate (JKS, inferred)", want: "the key store's",
			run: func(e *env) string { return e.tlsSession(e.alice, e.serverCert(e.serverEC)) }},
		{name: "TLS version and cipher suite, client defaults", want: "TLS 1.2 " + suite,
			run: func(e *env) string { return e.tlsSession(e.alice, e.peer) }},
		{name: "TLS 1.3-only client", want: outRefused,
			run: func(e *env) string {
				return e.tlsWith(e.srv.SecureAddr, e.alice, func(c *tls.Config) { c.MinVersion = tls.VersionTLS13 }, e.peer)
			}},
		{name: "client offering the configured suite last", want: "TLS 1.2 " + suite,
			run: func(e *env) string {
				return e.tlsWith(e.srv.SecureAddr, e.alice, offer(tls.TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256,
					tls.TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256, tls.TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384), e.peer)
			}},
		{name: "client offering only other suites", want: outRefused,
			run: func(e *env) string {
				return e.tlsWith(e.srv.SecureAddr, e.alice, offer(tls.TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256,
					tls.TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256), e.peer)
			}},
		{name: "whoAmI alice", want: "x509:" + f.aliceID + " ; ip:127.0.0.1",
			run: func(e *env) string { return e.tlsSession(e.alice, e.whoAmI) }},
	}
	sideBySide(t, f, func(string) zktest.Options { return o }, checks)
}

// TestProtocolTLS13 sets ssl.protocol=TLSv1.3, to which the enabled
// protocols default. With the TLS 1.3 suites named in ssl.ciphersuites,
// TLS 1.3 is negotiated and a TLS 1.2-only client refused. Left to
// ZooKeeper 3.8's default cipher suites, which are TLS 1.2 suites only,
// no handshake succeeds at all on ZooKeeper, and Meerkat refuses the
// configuration at start, saying so.
func TestProtocolTLS13(t *testing.T) {
	f := newFixture(t)
	t.Run("suites", func(t *testing.T) {
		t.Parallel()
		o := f.options(t, "tls13", serverTLS{cert: f.serverEC, keyStore: testcert.PEM, trustStore: testcert.PEM,
			lines: []string{"ssl.protocol=TLSv1.3", "ssl.ciphersuites=TLS_AES_128_GCM_SHA256,TLS_AES_256_GCM_SHA384,TLS_CHACHA20_POLY1305_SHA256"}}, true)
		checks := []check{
			{name: "TLS version and cipher suite, client defaults", want: "TLS 1.3 TLS_AES_128_GCM_SHA256",
				run: func(e *env) string { return e.tlsSession(e.alice, e.peer) }},
			{name: "TLS 1.2-only client", want: outRefused,
				run: func(e *env) string {
					return e.tlsWith(e.srv.SecureAddr, e.alice, func(c *tls.Config) { c.MaxVersion = tls.VersionTLS12 }, e.peer)
				}},
			{name: "whoAmI alice", want: "x509:" + f.aliceID + " ; ip:127.0.0.1",
				run: func(e *env) string { return e.tlsSession(e.alice, e.whoAmI) }},
			{name: "untrusted certificate (other CA)", want: outRefused,
				run: func(e *env) string { return e.tlsSession(e.mallory, established) }},
			{name: "no client certificate", want: outRefused,
				run: func(e *env) string { return e.tlsSession(nil, established) }},
		}
		sideBySide(t, f, func(string) zktest.Options { return o }, checks)
	})
	t.Run("default-suites", func(t *testing.T) {
		t.Parallel()
		o := f.options(t, "tls13-default-suites", serverTLS{cert: f.serverEC, keyStore: testcert.PEM, trustStore: testcert.PEM,
			lines: []string{"ssl.protocol=TLSv1.3"}}, true)
		checks := []check{
			{name: "TLS session, client defaults", want: outRefused,
				run: func(e *env) string { return e.tlsSession(e.alice, e.peer) }},
			{name: "plaintext session on the plain client port", want: "ip:127.0.0.1",
				run: func(e *env) string { return e.plainSession(e.whoAmI) }},
		}
		refusedByMeerkat(t, f, func(string) zktest.Options { return o }, checks, "no handshake could succeed")
	})
}
