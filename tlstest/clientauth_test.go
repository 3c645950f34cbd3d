package tlstest

import (
	"testing"

	"github.com/meerkat-zk/meerkat/internal/testcert"
	"github.com/meerkat-zk/meerkat/internal/zktest"
)

// TestClientAuthWant: with ssl.clientAuth=want the server asks for a
// certificate, a client without one connects unauthenticated (no x509 id,
// so NOAUTH on an x509 ACL and no "auth" ACL to give), one with a
// trusted certificate gets its x509 id, and one with an untrusted
// certificate connects as if it had none. The key store is JKS with its type
// set (the file name says nothing), the trust store PKCS12 inferred from
// .p12, the server key RSA; ssl.hostnameVerification=false changes
// nothing a server does (ZooKeeper never checks a client's host name).
func TestClientAuthWant(t *testing.T) {
	f := newFixture(t)
	o := f.options(t, "want", serverTLS{cert: f.serverRSA, keyStore: testcert.JKS, keyStoreFile: "server.keystore", keyStoreType: true,
		trustStore: testcert.PKCS12, lines: []string{"ssl.clientAuth=want", "ssl.hostnameVerification=false"}}, true)
	checks := []check{
		{name: "server presents its key store's certificate (JKS, type set)", want: "the key store's",
			run: func(e *env) string { return e.tlsSession(e.alice, e.serverCert(e.serverRSA)) }},
		{name: "TLS version and cipher suite (RSA server key)", want: "TLS 1.2 TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256",
			run: func(e *env) string { return e.tlsSession(e.alice, e.peer) }},
		{name: "server asks for a client certificate", want: "asked; " + outSession,
			run: func(e *env) string { return e.certificateRequested(e.srv.SecureAddr, e.alice) }},
		{name: "whoAmI without a client certificate", want: "ip:127.0.0.1",
			run: func(e *env) string { return e.tlsSession(nil, e.whoAmI) }},
		{name: "whoAmI alice", want: "x509:" + f.aliceID + " ; ip:127.0.0.1",
			run: func(e *env) string { return e.tlsSession(e.alice, e.whoAmI) }},
		// Java's TLS engine, asked for a certificate it may do without,
		// drops one it cannot verify and carries on without it.
		{name: "whoAmI with an untrusted certificate (other CA)", want: "ip:127.0.0.1",
			run: func(e *env) string { return e.tlsSession(e.mallory, e.whoAmI) }},
		{name: "alice creates /alice with ACL x509:<alice>", want: "OK ; 31 x509:" + f.aliceID,
			run: func(e *env) string {
				return e.tlsSession(e.alice, func(s *session) string { return e.createAndGetACL(s, "/alice", acl("x509", e.aliceID)) })
			}},
		{name: "client without a certificate reads /alice", want: "NOAUTH",
			run: func(e *env) string { return e.tlsSession(nil, e.read("/alice")) }},
		{name: "client without a certificate creates with ACL auth:", want: "create INVALIDACL",
			run: func(e *env) string {
				return e.tlsSession(nil, func(s *session) string { return e.createAndGetACL(s, "/anon-auth", acl("auth", "")) })
			}},
		{name: "go-zookeeper over TLS without a client certificate", want: "ok",
			run: func(e *env) string { return e.goZooKeeper(e.srv.SecureAddr, e.clientTLS(nil), "/gozk") }},
	}
	sideBySide(t, f, func(string) zktest.Options { return o }, checks)
}

// TestClientAuthNone: with ssl.clientAuth=none the server asks for no
// certificate, so nobody gets an x509 id and an untrusted certificate is
// never looked at. The key store is PKCS12 inferred from .p12, the trust
// store JKS with its type set. The value is written NONE: ZooKeeper reads
// it in any case.
func TestClientAuthNone(t *testing.T) {
	f := newFixture(t)
	o := f.options(t, "none", serverTLS{cert: f.serverEC, keyStore: testcert.PKCS12,
		trustStore: testcert.JKS, trustStoreFile: "trust.store", trustStoreType: true, lines: []string{"ssl.clientAuth=NONE"}}, true)
	checks := []check{
		{name: "server presents its key store's certificate (PKCS12, inferred)", want: "the key store's",
			run: func(e *env) string { return e.tlsSession(e.alice, e.serverCert(e.serverEC)) }},
		{name: "server asks for a client certificate", want: "not asked; " + outSession,
			run: func(e *env) string { return e.certificateRequested(e.srv.SecureAddr, e.alice) }},
		{name: "whoAmI alice (certificate never sent)", want: "ip:127.0.0.1",
			run: func(e *env) string { return e.tlsSession(e.alice, e.whoAmI) }},
		{name: "untrusted certificate (other CA)", want: outSession,
			run: func(e *env) string { return e.tlsSession(e.mallory, established) }},
		{name: "no client certificate", want: outSession,
			run: func(e *env) string { return e.tlsSession(nil, established) }},
		{name: "alice creates with ACL auth:", want: "create INVALIDACL",
			run: func(e *env) string {
				return e.tlsSession(e.alice, func(s *session) string { return e.createAndGetACL(s, "/alice-auth", acl("auth", "")) })
			}},
	}
	sideBySide(t, f, func(string) zktest.Options { return o }, checks)
}
