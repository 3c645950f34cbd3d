package testcert

import (
	"bytes"
	"crypto/x509"
	"encoding/pem"
	"os"
	"path/filepath"
	"time"

	"github.com/pavlo-v-chernykh/keystore-go/v4"
	"software.sslmate.com/src/go-pkcs12"

	"github.com/meerkat-zk/meerkat/internal/pkcs8pbe"
)

// Format is a key store or trust store file format, named as ZooKeeper's
// ssl.keyStore.type and ssl.trustStore.type name it.
type Format string

// The formats ZooKeeper 3.8 reads.
const (
	PEM    Format = "PEM"
	PKCS12 Format = "PKCS12"
	JKS    Format = "JKS"
)

// Formats lists every format, for tests that try each.
var Formats = []Format{PEM, PKCS12, JKS}

// Ext returns the file name extension from which ZooKeeper 3.8 infers the
// format when the type is not set: .pem, .p12 or .jks.
func (f Format) Ext() string {
	switch f {
	case PKCS12:
		return ".p12"
	case JKS:
		return ".jks"
	}
	return ".pem"
}

// WriteKeyStore writes the certificate, its CA's and its key to path as a
// key store in format f, protected by password (see the package comment;
// for PEM an empty password leaves the key unencrypted). The file is
// replaced whole, by a rename, so that a server watching it never reads
// half of it.
func (c *Cert) WriteKeyStore(t TB, path string, f Format, password string) {
	t.Helper()
	var b []byte
	var err error
	switch f {
	case PEM:
		b = append(c.keyPEM(t, password), c.chainPEM()...)
	case PKCS12:
		b, err = pkcs12.Modern2023.Encode(c.Key, c.Cert, []*x509.Certificate{c.CA.Cert}, password)
	case JKS:
		b, err = c.jks(t, password)
	default:
		t.Fatalf("testcert: unknown format %q", f)
	}
	if err != nil {
		t.Fatalf("testcert: %s key store %s: %v", f, path, err)
	}
	writeFile(t, path, b)
}

// WriteCertPEM writes the certificate and its CA's to path as PEM, leaf
// first.
func (c *Cert) WriteCertPEM(t TB, path string) {
	t.Helper()
	writeFile(t, path, c.chainPEM())
}

// WriteKeyPEM writes the private key alone to path as PKCS#8 PEM,
// encrypted when password is not empty.
func (c *Cert) WriteKeyPEM(t TB, path, password string) {
	t.Helper()
	writeFile(t, path, c.keyPEM(t, password))
}

// WriteTrustStore writes the CA's certificate to path as a trust store in
// format f, protected by password where the format has one (a PEM trust
// store has none).
func (ca *CA) WriteTrustStore(t TB, path string, f Format, password string) {
	t.Helper()
	var b []byte
	var err error
	switch f {
	case PEM:
		b = pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: ca.Cert.Raw})
	case PKCS12:
		b, err = pkcs12.Modern2023.EncodeTrustStore([]*x509.Certificate{ca.Cert}, password)
	case JKS:
		ks := keystore.New()
		err = ks.SetTrustedCertificateEntry("ca", keystore.TrustedCertificateEntry{
			CreationTime: time.Now(),
			Certificate:  keystore.Certificate{Type: "X509", Content: ca.Cert.Raw},
		})
		if err == nil {
			var buf bytes.Buffer
			err = ks.Store(&buf, []byte(password))
			b = buf.Bytes()
		}
	default:
		t.Fatalf("testcert: unknown format %q", f)
	}
	if err != nil {
		t.Fatalf("testcert: %s trust store %s: %v", f, path, err)
	}
	writeFile(t, path, b)
}

func (c *Cert) chainPEM() []byte {
	var b []byte
	for _, cert := range c.Chain() {
		b = append(b, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: cert.Raw})...)
	}
	return b
}

func (c *Cert) keyPEM(t TB, password string) []byte {
	t.Helper()
	der, err := x509.MarshalPKCS8PrivateKey(c.Key)
	if err != nil {
		t.Fatalf("testcert: %v", err)
	}
	if password == "" {
		return pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der})
	}
	enc, err := pkcs8pbe.Encrypt(der, password, 2048)
	if err != nil {
		t.Fatalf("testcert: %v", err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "ENCRYPTED PRIVATE KEY", Bytes: enc})
}

func (c *Cert) jks(t TB, password string) ([]byte, error) {
	t.Helper()
	der, err := x509.MarshalPKCS8PrivateKey(c.Key)
	if err != nil {
		return nil, err
	}
	ks := keystore.New()
	entry := keystore.PrivateKeyEntry{CreationTime: time.Now(), PrivateKey: der}
	for _, cert := range c.Chain() {
		entry.CertificateChain = append(entry.CertificateChain, keystore.Certificate{Type: "X509", Content: cert.Raw})
	}
	if err := ks.SetPrivateKeyEntry("key", entry, []byte(password)); err != nil {
		return nil, err
	}
	var buf bytes.Buffer
	if err := ks.Store(&buf, []byte(password)); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// writeFile replaces path with b through a temporary file and a rename.
func writeFile(t TB, path string, b []byte) {
	t.Helper()
	tmp, err := os.CreateTemp(filepath.Dir(path), ".testcert-*")
	if err != nil {
		t.Fatalf("testcert: %v", err)
	}
	_, err = tmp.Write(b)
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Chmod(tmp.Name(), 0o600)
	}
	if err == nil {
		err = os.Rename(tmp.Name(), path)
	}
	if err != nil {
		_ = os.Remove(tmp.Name())
		t.Fatalf("testcert: write %s: %v", path, err)
	}
}
