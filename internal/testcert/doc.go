// Package testcert makes X.509 certificates for TLS tests: a certificate
// authority and the certificates it signs, with the subjects, key types and
// subject alternative names a test asks for, written in every key store and
// trust store format Apache ZooKeeper 3.8 reads (its ssl.keyStore.type and
// ssl.trustStore.type PEM, PKCS12 and JKS) and Python's ssl module and
// Go's crypto/tls take.
//
// A test makes a CA, issues certificates, and writes them where it wants
// them (under its TempDir):
//
//	ca := testcert.NewCA(t, "Test CA")
//	srv := ca.Issue(t, testcert.Spec{Subject: "CN=server", Hosts: []string{"127.0.0.1", "localhost"}})
//	srv.WriteKeyStore(t, dir+"/server.p12", testcert.PKCS12, "secret")
//	ca.WriteTrustStore(t, dir+"/trust.jks", testcert.JKS, "secret")
//
// Subjects are written as RFC 4514 strings, the most specific RDN first
// ("CN=alice,OU=Eng+UID=42,O=Acme\, Inc.,DC=example,DC=com"), and encoded
// in the reverse order, as a certificate holds them; a "+" joins the
// attributes of a multi-valued RDN, kept in the order written. Values are
// UTF8Strings, except C (PrintableString) and DC and emailAddress
// (IA5String), as OpenSSL writes them.
//
// The files, by format:
//
//	PEM     key store: the private key (PKCS#8 "PRIVATE KEY", or with a
//	        password "ENCRYPTED PRIVATE KEY", pbeWithSHAAnd3-KeyTripleDES-CBC:
//	        ZooKeeper 3.8 on Java 17 cannot read PBES2), then the
//	        certificate, then its CA's: the one file ZooKeeper's PEM key
//	        store reads as key and chain.
//	        trust store: the CA certificate.
//	PKCS12  key store: key and chain (go-pkcs12's Modern2023 encoder:
//	        PBES2 AES-256-CBC, HMAC-SHA256 MAC).
//	        trust store: the CA certificate as a trusted certificate entry
//	        (with the attribute Java looks for).
//	JKS     key store: one private key entry "key" with the chain, the
//	        key protected with the store's password, as ZooKeeper expects.
//	        trust store: one trusted certificate entry "ca".
//
// Certificates are valid from an hour ago for a day; each has a random
// 128-bit serial number. Nothing here is safe for anything but tests.
package testcert
