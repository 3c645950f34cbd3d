package tlstest

import (
	"testing"

	"github.com/meerkat-zk/meerkat/internal/testcert"
	"github.com/meerkat-zk/meerkat/internal/zktest"
)

// TestX509ProviderImplied leaves authProvider.x509 out of zoo.cfg:
// ZooKeeper 3.8's Netty connection factory registers
// X509AuthenticationProvider itself when ssl.authProvider (here x509, the
// default, written out) names no configured provider, so TLS clients
// still get their x509 id, and the superUser its super id. The superUser
// is given as the system property's name,
// zookeeper.X509AuthenticationProvider.superUser (zktest passes a
// zookeeper.* line to ZooKeeper as -D).
func TestX509ProviderImplied(t *testing.T) {
	f := newFixture(t)
	o := f.options(t, "implied-provider", serverTLS{cert: f.serverEC, keyStore: testcert.PEM, trustStore: testcert.PEM,
		lines: []string{"ssl.clientAuth=need", "ssl.authProvider=x509"}, noX509Provider: true,
		superUserKey: "zookeeper.X509AuthenticationProvider.superUser"}, true)
	checks := []check{
		{name: "whoAmI alice", want: "x509:" + f.aliceID + " ; ip:127.0.0.1",
			run: func(e *env) string { return e.tlsSession(e.alice, e.whoAmI) }},
		{name: "whoAmI admin (the superUser)", want: "super: ; x509:" + f.adminID + " ; ip:127.0.0.1",
			run: func(e *env) string { return e.tlsSession(e.admin, e.whoAmI) }},
		{name: "untrusted certificate (other CA)", want: outRefused,
			run: func(e *env) string { return e.tlsSession(e.mallory, established) }},
	}
	sideBySide(t, f, func(string) zktest.Options { return o }, checks)
}

// TestKeyStoreUnusable starts the servers on key stores they cannot use.
// ZooKeeper 3.8 loads its key store at the first TLS handshake, not at
// start: it starts, serves the plain client port, and fails every TLS
// handshake (logging why). Meerkat loads its stores at start and refuses
// to start on them, saying why: a secure port that can never serve is a
// configuration error, better reported at once.
//
//   - pfx: a PKCS12 key store named server.pfx, ssl.keyStore.type not
//     set. ZooKeeper 3.8 infers a store's type from .pem, .p12, .jks and
//     .bcfks only ("Unable to auto-detect store file type").
//   - wrong-password: a PKCS12 key store and another password in zoo.cfg.
func TestKeyStoreUnusable(t *testing.T) {
	f := newFixture(t)
	for name, tc := range map[string]struct {
		s       serverTLS
		refusal string
	}{
		"pfx":            {serverTLS{cert: f.serverEC, keyStore: testcert.PKCS12, keyStoreFile: "server.pfx", trustStore: testcert.PEM}, "cannot tell the type"},
		"wrong-password": {serverTLS{cert: f.serverEC, keyStore: testcert.PKCS12, trustStore: testcert.PEM, wrongPassword: true}, "password incorrect"},
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			o := f.options(t, name, tc.s, true)
			checks := []check{
				{name: "TLS session", want: outRefused,
					run: func(e *env) string { return e.tlsSession(e.alice, e.serverCert(e.serverEC)) }},
				{name: "plaintext session on the plain client port", want: "ip:127.0.0.1",
					run: func(e *env) string { return e.plainSession(e.whoAmI) }},
			}
			refusedByMeerkat(t, f, func(string) zktest.Options { return o }, checks, tc.refusal)
		})
	}
}
