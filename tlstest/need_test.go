package tlstest

import (
	"crypto/tls"
	"strings"
	"testing"

	"github.com/meerkat-zk/meerkat/internal/testcert"
	"github.com/meerkat-zk/meerkat/internal/zktest"
)

// TestClientAuthNeed runs the main configuration, TLS on the secure
// client port with ssl.clientAuth=need, a PEM key store whose key is
// encrypted (its type inferred from .pem) and a PEM trust store (type
// set), and checks on both servers: the real clients over TLS (kazoo,
// the Java client, go-zookeeper), the x509 identities whoAmI shows,
// refused certificates, plaintext bytes on the secure port, and x509
// ACLs with a superUser.
func TestClientAuthNeed(t *testing.T) {
	f := newFixture(t)
	o := f.options(t, "need", serverTLS{cert: f.serverEC, keyStore: testcert.PEM, encryptKey: true,
		trustStore: testcert.PEM, trustStoreType: true, lines: []string{"ssl.clientAuth=need"}}, true)
	// alice's subject with a space after each comma but the escaped one:
	// a valid DN that names her, but not as her x509 id is written.
	aliceSpaced := strings.ReplaceAll(strings.ReplaceAll(f.aliceID, ",", ", "), `\, `, `\,`)
	checks := []check{
		{name: "TLS session with a client certificate (alice)", want: outSession,
			run: func(e *env) string { return e.tlsSession(e.alice, established) }},
		{name: "server presents its key store's certificate", want: "the key store's",
			run: func(e *env) string { return e.tlsSession(e.alice, e.serverCert(e.serverEC)) }},
		// ZooKeeper 3.8's default ssl.protocol is TLSv1.2, and the
		// enabled protocols default to it alone.
		{name: "TLS version and cipher suite by default", want: "TLS 1.2 TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256",
			run: func(e *env) string { return e.tlsSession(e.alice, e.peer) }},
		{name: "TLS 1.3-only client, default ssl.protocol", want: outRefused,
			run: func(e *env) string {
				return e.tlsWith(e.srv.SecureAddr, e.alice, func(c *tls.Config) { c.MinVersion = tls.VersionTLS13 }, e.peer)
			}},
		{name: "server asks for a client certificate", want: "asked; " + outSession,
			run: func(e *env) string { return e.certificateRequested(e.srv.SecureAddr, e.alice) }},
		// whoAmI lists a connection's ids in the order of ZooKeeper's
		// ConcurrentHashMap-backed set; the super id has no provider,
		// hence no user name.
		{name: "whoAmI alice (multi-valued RDN, escaped comma, DC)", want: "x509:" + f.aliceID + " ; ip:127.0.0.1",
			run: func(e *env) string { return e.tlsSession(e.alice, e.whoAmI) }},
		{name: "whoAmI bob (RSA key, emailAddress)", want: "x509:" + f.bobID + " ; ip:127.0.0.1",
			run: func(e *env) string { return e.tlsSession(e.bob, e.whoAmI) }},
		{name: "whoAmI admin (the superUser)", want: "super: ; x509:" + f.adminID + " ; ip:127.0.0.1",
			run: func(e *env) string { return e.tlsSession(e.admin, e.whoAmI) }},
		{name: "untrusted certificate (other CA, alice's subject)", want: outRefused,
			run: func(e *env) string { return e.tlsSession(e.mallory, established) }},
		{name: "no client certificate", want: outRefused,
			run: func(e *env) string { return e.tlsSession(nil, established) }},
		{name: "plaintext ZooKeeper handshake to the secure port", want: outClosed,
			run: func(e *env) string { return e.sendPlain(e.srv.SecureAddr, connectRequestFrame(), false) }},
		{name: "four-letter word ruok to the secure port", want: outClosed,
			run: func(e *env) string { return e.fourLetter(e.srv.SecureAddr, "ruok") }},
		{name: "plaintext session on the plain client port", want: "ip:127.0.0.1",
			run: func(e *env) string { return e.plainSession(e.whoAmI) }},
		{name: "TLS on the plain client port (no port unification)", want: outRefused,
			run: func(e *env) string { return e.session(e.srv.Addr, e.clientTLS(e.alice), established) }},
		{name: "four-letter word ruok over TLS (alice)", want: `"imok"`,
			run: func(e *env) string { return e.fourLetterTLS(e.srv.SecureAddr, e.alice, "ruok") }},
		{name: "ZooKeeper handshake sent one byte a TLS record", want: "x509:" + f.aliceID + " ; ip:127.0.0.1",
			run: func(e *env) string { return e.splitHandshake(e.srv.SecureAddr, e.alice) }},
		{name: "a 512 KiB znode written and read over TLS", want: "OK, 524288 bytes back",
			run: func(e *env) string { return e.tlsSession(e.alice, e.bigData) }},
		{name: "500 getData pipelined in one write over TLS", want: "500 replies in order",
			run: func(e *env) string { return e.tlsSession(e.alice, e.pipelined(500)) }},
		// Authentication belongs to the connection, not the session.
		{name: "session of alice over TLS resumed in plaintext: whoAmI", want: "same session; ip:127.0.0.1",
			run: func(e *env) string { return e.resumed(e.srv.SecureAddr, e.clientTLS(e.alice), e.srv.Addr, nil) }},
		{name: "plaintext session resumed over TLS as bob: whoAmI", want: "same session; x509:" + f.bobID + " ; ip:127.0.0.1",
			run: func(e *env) string { return e.resumed(e.srv.Addr, nil, e.srv.SecureAddr, e.clientTLS(e.bob)) }},

		// Every operation against each permission bit, under an x509
		// entry that names the client, and one that names another.
		{name: "x509 matrix: every op x permission, the ACL names alice, alice asks", want: x509MatrixWant(true),
			run: func(e *env) string { return e.x509Matrix("alice", e.alice, e.aliceID) }},
		{name: "x509 matrix: every op x permission, the ACL names alice, bob asks", want: x509MatrixWant(false),
			run: func(e *env) string { return e.x509Matrix("bob", e.bob, e.aliceID) }},
		{name: "alice creates /alice with ACL x509:<alice>", want: "OK ; 31 x509:" + f.aliceID,
			run: func(e *env) string {
				return e.tlsSession(e.alice, func(s *session) string { return e.createAndGetACL(s, "/alice", acl("x509", e.aliceID)) })
			}},
		{name: "alice reads /alice", want: "OK",
			run: func(e *env) string { return e.tlsSession(e.alice, e.read("/alice")) }},
		{name: "bob reads /alice", want: "NOAUTH",
			run: func(e *env) string { return e.tlsSession(e.bob, e.read("/alice")) }},
		{name: "plaintext client reads /alice", want: "NOAUTH",
			run: func(e *env) string { return e.plainSession(e.read("/alice")) }},
		{name: "admin (superUser) reads /alice", want: "OK",
			run: func(e *env) string { return e.tlsSession(e.admin, e.read("/alice")) }},
		{name: "alice sets ACL x509:not a dn on /alice", want: "INVALIDACL",
			run: func(e *env) string {
				return e.tlsSession(e.alice, func(s *session) string { return e.code(s.setACL("/alice", acl("x509", "not a dn"))) })
			}},
		// getACL needs READ or ADMIN, which the spaced id does not give
		// alice.
		{name: "alice creates /spaced with x509:<alice, spaces after commas>", want: "getACL NOAUTH",
			run: func(e *env) string {
				return e.tlsSession(e.alice, func(s *session) string { return e.createAndGetACL(s, "/spaced", acl("x509", aliceSpaced)) })
			}},
		{name: "alice reads /spaced (ids compare as strings)", want: "NOAUTH",
			run: func(e *env) string { return e.tlsSession(e.alice, e.read("/spaced")) }},
		{name: "alice creates /alice-auth with ACL auth:", want: "OK ; 31 x509:" + f.aliceID,
			run: func(e *env) string {
				return e.tlsSession(e.alice, func(s *session) string { return e.createAndGetACL(s, "/alice-auth", acl("auth", "")) })
			}},
		{name: "admin creates /admin-auth with ACL auth:", want: "OK ; 31 x509:" + f.adminID,
			run: func(e *env) string {
				return e.tlsSession(e.admin, func(s *session) string { return e.createAndGetACL(s, "/admin-auth", acl("auth", "")) })
			}},
		{name: "plaintext client creates /plain-auth with ACL auth:", want: "create INVALIDACL",
			run: func(e *env) string {
				return e.plainSession(func(s *session) string { return e.createAndGetACL(s, "/plain-auth", acl("auth", "")) })
			}},
		{name: "bob reads /admin-auth", want: "NOAUTH",
			run: func(e *env) string { return e.tlsSession(e.bob, e.read("/admin-auth")) }},

		{name: "go-zookeeper over TLS (alice): create/get/watch/set/children/delete", want: "ok",
			run: func(e *env) string { return e.goZooKeeper(e.srv.SecureAddr, e.clientTLS(e.alice), "/gozk") }},
		{name: "kazoo over TLS (alice, encrypted key file)", want: kazooTranscript("/kazoo"),
			run: func(e *env) string { return e.kazoo(e.srv.SecureAddr, "/kazoo") }},
		{name: "Java client over TLS (alice, PEM key store): create/get/whoami/getAcl/setAcl auth", want: javaTranscript(f),
			run: func(e *env) string {
				return e.javaClient(e.srv.SecureAddr, "create /java v1", "get /java", "whoami", "getAcl /java",
					"create /java-x509 x", "setAcl /java-x509 auth::cdrwa", "getAcl /java-x509", "get /java-x509")
			}},
	}
	sideBySide(t, f, func(string) zktest.Options { return o }, checks)
}

// javaTranscript is what the Java client's commands in TestClientAuthNeed
// print on ZooKeeper 3.8.
func javaTranscript(f *fixture) string {
	return strings.Join([]string{
		"Created /java",
		"v1",
		"Auth scheme: User",
		"x509: " + f.aliceID,
		"ip: 127.0.0.1",
		"'world,'anyone",
		": cdrwa",
		"Created /java-x509",
		// zkCli prints an id's commas as %2C.
		"'x509,'" + strings.ReplaceAll(f.aliceID, ",", "%2C"),
		": cdrwa",
		"x",
	}, "\n")
}
