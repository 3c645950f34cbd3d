package testcert

import (
	"bytes"
	"crypto"
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"os"
	"path/filepath"
	"testing"

	keystore "github.com/pavlo-v-chernykh/keystore-go/v4"
	"software.sslmate.com/src/go-pkcs12"

	"github.com/meerkat-zk/meerkat/internal/pkcs8pbe"
	"github.com/meerkat-zk/meerkat/x500"
)

// TestParseName: the awkward subjects keep their RDNs and attributes in
// order, and print back (as Java's X500Principal.getName() does, which
// x500.Name follows) as they were written.
func TestParseName(t *testing.T) {
	ca := NewCA(t, "Test CA")
	for _, dn := range []string{
		"CN=alice,OU=Eng+UID=42,O=Acme\\, Inc.,DC=example,DC=com",
		"CN=bob,O=Acme,L=Z\\+rich,C=CH",
		"STREET=1 Main St,ST=Vaud,CN=carol",
	} {
		c := ca.Issue(t, Spec{Subject: dn})
		got, err := x500.Name(c.Cert.RawSubject)
		if err != nil {
			t.Fatal(err)
		}
		if got != dn {
			t.Errorf("subject %q prints as %q", dn, got)
		}
	}
	c := ca.Issue(t, Spec{Subject: "emailAddress=bob@example.com,CN=bob"})
	got, _ := x500.Name(c.Cert.RawSubject)
	// emailAddress has no RFC 2253 keyword: Java prints its OID and the
	// IA5String's DER in hex.
	if want := "1.2.840.113549.1.9.1=#160f626f62406578616d706c652e636f6d,CN=bob"; got != want {
		t.Errorf("emailAddress subject prints as %q, want %q", got, want)
	}
	for _, bad := range []string{"", "CN", "XX=1", "CN=", "CN=a,,O=b"} {
		if _, err := ParseName(bad); err == nil {
			t.Errorf("ParseName(%q) took a bad name", bad)
		}
	}
}

// TestStoresLoadBack writes a certificate of each key type in each format
// and reads every file back: the key matches the certificate, the chain
// is leaf then CA, the trust stores hold the CA, and the certificate
// verifies against the CA for both TLS uses and its host names.
func TestStoresLoadBack(t *testing.T) {
	dir := t.TempDir()
	ca := NewCA(t, "Test CA")
	const password = "s3cret"
	for _, kt := range []KeyType{ECDSA, RSA} {
		c := ca.Issue(t, Spec{Subject: "CN=server", Key: kt, Hosts: []string{"127.0.0.1", "localhost"}})
		if _, err := c.Cert.Verify(x509.VerifyOptions{Roots: ca.Pool(), DNSName: "localhost",
			KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth}}); err != nil {
			t.Errorf("%s: does not verify for localhost: %v", kt, err)
		}
		if err := c.Cert.VerifyHostname("127.0.0.1"); err != nil {
			t.Errorf("%s: %v", kt, err)
		}
		for _, f := range Formats {
			for _, pw := range []string{"", password} {
				if pw == "" && f != PEM {
					continue
				}
				path := filepath.Join(dir, kt.String()+"-"+pw+f.Ext())
				c.WriteKeyStore(t, path, f, pw)
				key, chain := loadKeyStore(t, path, f, pw)
				checkKeyAndChain(t, path, c, key, chain)
			}
			path := filepath.Join(dir, "trust-"+kt.String()+f.Ext())
			ca.WriteTrustStore(t, path, f, password)
			if certs := loadTrustStore(t, path, f, password); len(certs) != 1 || !certs[0].Equal(ca.Cert) {
				t.Errorf("%s: trust store holds %d certificates, not the CA", path, len(certs))
			}
		}
		// The separate files Python's ssl takes, and crypto/tls too.
		certFile, keyFile := filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
		c.WriteCertPEM(t, certFile)
		c.WriteKeyPEM(t, keyFile, "")
		if _, err := tls.LoadX509KeyPair(certFile, keyFile); err != nil {
			t.Errorf("%s: crypto/tls does not load the PEM files: %v", kt, err)
		}
	}
}

func loadKeyStore(t *testing.T, path string, f Format, password string) (crypto.PrivateKey, []*x509.Certificate) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	switch f {
	case PEM:
		var key crypto.PrivateKey
		var chain []*x509.Certificate
		for block, rest := pem.Decode(b); block != nil; block, rest = pem.Decode(rest) {
			switch block.Type {
			case "CERTIFICATE":
				cert, err := x509.ParseCertificate(block.Bytes)
				if err != nil {
					t.Fatalf("%s: %v", path, err)
				}
				chain = append(chain, cert)
			case "PRIVATE KEY", "ENCRYPTED PRIVATE KEY":
				der := block.Bytes
				if (block.Type == "ENCRYPTED PRIVATE KEY") != (password != "") {
					t.Fatalf("%s: %s with password %q", path, block.Type, password)
				}
				if password != "" {
					if der, err = pkcs8pbe.Decrypt(der, password); err != nil {
						t.Fatalf("%s: %v", path, err)
					}
				}
				if key, err = x509.ParsePKCS8PrivateKey(der); err != nil {
					t.Fatalf("%s: %v", path, err)
				}
			default:
				t.Fatalf("%s: unexpected PEM block %s", path, block.Type)
			}
		}
		return key, chain
	case PKCS12:
		key, cert, cas, err := pkcs12.DecodeChain(b, password)
		if err != nil {
			t.Fatalf("%s: %v", path, err)
		}
		return key, append([]*x509.Certificate{cert}, cas...)
	default:
		ks := keystore.New()
		if err := ks.Load(bytes.NewReader(b), []byte(password)); err != nil {
			t.Fatalf("%s: %v", path, err)
		}
		e, err := ks.GetPrivateKeyEntry("key", []byte(password))
		if err != nil {
			t.Fatalf("%s: %v", path, err)
		}
		key, err := x509.ParsePKCS8PrivateKey(e.PrivateKey)
		if err != nil {
			t.Fatalf("%s: %v", path, err)
		}
		var chain []*x509.Certificate
		for _, c := range e.CertificateChain {
			cert, err := x509.ParseCertificate(c.Content)
			if err != nil {
				t.Fatalf("%s: %v", path, err)
			}
			chain = append(chain, cert)
		}
		return key, chain
	}
}

func checkKeyAndChain(t *testing.T, path string, c *Cert, key crypto.PrivateKey, chain []*x509.Certificate) {
	t.Helper()
	if k, ok := key.(interface{ Equal(crypto.PrivateKey) bool }); !ok || !k.Equal(c.Key) {
		t.Errorf("%s: the key read back is not the certificate's", path)
	}
	if len(chain) != 2 || !chain[0].Equal(c.Cert) || !chain[1].Equal(c.CA.Cert) {
		t.Errorf("%s: the chain read back is not leaf, CA (%d certificates)", path, len(chain))
	}
}

func loadTrustStore(t *testing.T, path string, f Format, password string) []*x509.Certificate {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	switch f {
	case PEM:
		block, _ := pem.Decode(b)
		if block == nil || block.Type != "CERTIFICATE" {
			t.Fatalf("%s: no certificate", path)
		}
		cert, err := x509.ParseCertificate(block.Bytes)
		if err != nil {
			t.Fatalf("%s: %v", path, err)
		}
		return []*x509.Certificate{cert}
	case PKCS12:
		certs, err := pkcs12.DecodeTrustStore(b, password)
		if err != nil {
			t.Fatalf("%s: %v", path, err)
		}
		return certs
	default:
		ks := keystore.New()
		if err := ks.Load(bytes.NewReader(b), []byte(password)); err != nil {
			t.Fatalf("%s: %v", path, err)
		}
		e, err := ks.GetTrustedCertificateEntry("ca")
		if err != nil {
			t.Fatalf("%s: %v", path, err)
		}
		cert, err := x509.ParseCertificate(e.Certificate.Content)
		if err != nil {
			t.Fatalf("%s: %v", path, err)
		}
		return []*x509.Certificate{cert}
	}
}
