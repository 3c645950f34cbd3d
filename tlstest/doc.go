// Package tlstest checks TLS on the client port and x509 authentication
// side by side with Apache ZooKeeper 3.8: both servers start with the same
// zoo.cfg TLS keys (secureClientPort, serverCnxnFactory, ssl.*,
// authProvider.x509, X509AuthenticationProvider.superUser,
// client.portUnification) and the same certificates, made by
// internal/testcert in the test's temporary directory; the same named
// checks run against each; and every outcome on Meerkat must equal
// ZooKeeper's. The package has no code outside its tests.
//
// A check turns what it saw into a short outcome ("session", "refused",
// "NOAUTH", the identities whoAmI lists, a client's transcript) and
// carries the outcome expected of ZooKeeper, so that a ZooKeeper that does
// otherwise fails the test as a broken test. Each configuration starts one
// ZooKeeper and one Meerkat and runs its checks on both at once; the test
// log gets the table of check, ZooKeeper's outcome, Meerkat's, and a
// verdict, and a difference fails the test with a line diff, the raw
// errors behind both outcomes and the end of Meerkat's log. A server that
// refuses to start on a configuration gives every check of it the outcome
// "server did not start", with its reason.
//
// The configurations, one a test:
//
//   - TestClientAuthNeed: ssl.clientAuth=need. kazoo, the Java client
//     (ZooKeeperMain with ClientCnxnSocketNetty: create, get, whoami,
//     getAcl, setAcl auth) and go-zookeeper (zk.WithDialer with a
//     crypto/tls dialer) over TLS; the x509 identities whoAmI lists
//     (a multi-valued RDN, an escaped comma, DC and emailAddress
//     attributes, the superUser's super id); untrusted and missing client
//     certificates; plaintext and a four-letter word on the secure port,
//     TLS on the plain one; a four-letter word over TLS; a handshake sent a
//     byte a TLS record, a 512 KiB znode, 500 pipelined requests; a
//     session resumed across the two ports; x509 ACLs, the superUser,
//     invalid x509 ids and the auth scheme.
//   - TestClientAuthWant, TestClientAuthNone: who is asked for a
//     certificate, and who gets an x509 id.
//   - TestPortUnification: TLS and plaintext clients on the plain port.
//   - TestProtocolsAndCipherSuites, TestProtocolTLS13: ssl.enabledProtocols,
//     ssl.ciphersuites and ssl.protocol, read from Go's
//     tls.ConnectionState.
//   - TestX509ProviderImplied: no authProvider.x509 line, the superUser
//     given by its system property's name.
//   - TestKeyStoreUnusable: a key store of a type ZooKeeper cannot infer,
//     and a wrong key store password.
//   - TestCertReload: a key store replaced while the server runs
//     (client.certReload; Meerkat only, ZooKeeper 3.8 cannot).
//
// Between them the configurations use every key store format (PEM, PKCS12,
// JKS) with ssl.keyStore.type set and inferred from the file name, and
// trust stores of each format.
//
// What ZooKeeper 3.8.0 (Debian's, on Java 17) does that one might not
// guess, and the checks hold both servers to: its default ssl.protocol is
// TLSv1.2 and the enabled protocols default to ssl.protocol alone, so a
// TLS 1.3-only client is refused, and ssl.protocol=TLSv1.3 without TLS 1.3
// suites in ssl.ciphersuites refuses every client; whoAmI lists a
// connection's ids in its ConcurrentHashMap's order (x509 before ip), the
// superUser's super id with an empty user; with ssl.clientAuth=want an
// untrusted certificate is dropped and the client connects
// unauthenticated; an x509 ACL id matches only as the exact string;
// authentication belongs to the connection, so a session resumed on the
// other port has the new connection's ids.
//
// Run it with
//
//	go test ./tlstest/ -count=1 -race -v
//
// It needs the Debian packages zookeeper (with libnetty-java, a
// dependency), python3-kazoo and openjdk-17-jdk-headless (make test
// installs them) and fails, never skips, when one is missing.
package tlstest
