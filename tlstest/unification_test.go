package tlstest

import (
	"testing"

	"github.com/meerkat-zk/meerkat/internal/testcert"
	"github.com/meerkat-zk/meerkat/internal/zktest"
)

// TestPortUnification: with client.portUnification=true and no
// secureClientPort, the plain client port takes TLS clients and plaintext
// ones alike (ZooKeeper tells them apart by the first bytes). ssl.clientAuth
// is left to its default, need. The key store is PEM with its type set
// (the file is server.crt) and an unencrypted RSA key, the trust store JKS
// inferred from .jks.
func TestPortUnification(t *testing.T) {
	f := newFixture(t)
	o := f.options(t, "unification", serverTLS{cert: f.serverRSA, keyStore: testcert.PEM, keyStoreFile: "server.crt", keyStoreType: true,
		trustStore: testcert.JKS, lines: []string{"client.portUnification=true"}}, false)
	tlsOnPlain := func(e *env, cert *testcert.Cert, fn func(s *session) string) string {
		return e.session(e.srv.Addr, e.clientTLS(cert), fn)
	}
	checks := []check{
		{name: "server presents its key store's certificate (PEM, type set)", want: "the key store's",
			run: func(e *env) string { return tlsOnPlain(e, e.alice, e.serverCert(e.serverRSA)) }},
		{name: "whoAmI alice over TLS on the plain port", want: "x509:" + f.aliceID + " ; ip:127.0.0.1",
			run: func(e *env) string { return tlsOnPlain(e, e.alice, e.whoAmI) }},
		{name: "whoAmI of a plaintext client on the plain port", want: "ip:127.0.0.1",
			run: func(e *env) string { return e.plainSession(e.whoAmI) }},
		{name: "four-letter word ruok on the plain port", want: `"imok"`,
			run: func(e *env) string { return e.fourLetter(e.srv.Addr, "ruok") }},
		{name: "untrusted certificate on the plain port", want: outRefused,
			run: func(e *env) string { return tlsOnPlain(e, e.mallory, established) }},
		{name: "TLS without a client certificate on the plain port (need)", want: outRefused,
			run: func(e *env) string { return tlsOnPlain(e, nil, established) }},
		{name: "alice creates /alice with ACL x509:<alice> over TLS", want: "OK ; 31 x509:" + f.aliceID,
			run: func(e *env) string {
				return tlsOnPlain(e, e.alice, func(s *session) string { return e.createAndGetACL(s, "/alice", acl("x509", e.aliceID)) })
			}},
		{name: "plaintext client reads /alice", want: "NOAUTH",
			run: func(e *env) string { return e.plainSession(e.read("/alice")) }},
		{name: "kazoo over TLS on the plain port", want: kazooTranscript("/kazoo"),
			run: func(e *env) string { return e.kazoo(e.srv.Addr, "/kazoo") }},
	}
	sideBySide(t, f, func(string) zktest.Options { return o }, checks)
}
