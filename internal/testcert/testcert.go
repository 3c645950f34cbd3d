package testcert

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"math/big"
	"net"
	"time"
)

// TB is what the package needs of its caller; *testing.T and *testing.B
// satisfy it.
type TB interface {
	Helper()
	Fatalf(format string, args ...any)
}

// KeyType is the kind of key a certificate is issued for.
type KeyType int

const (
	// ECDSA is a key on the NIST P-256 curve.
	ECDSA KeyType = iota
	// RSA is a 2048-bit RSA key.
	RSA
)

// String returns "ECDSA" or "RSA".
func (k KeyType) String() string {
	if k == RSA {
		return "RSA"
	}
	return "ECDSA"
}

// validity is how long before and after now a certificate is valid.
const (
	validFrom = time.Hour
	validFor  = 24 * time.Hour
)

// CA is a certificate authority: a self-signed certificate and its key.
type CA struct {
	// Cert is the CA's self-signed certificate.
	Cert *x509.Certificate
	// Key is the CA's private key (ECDSA P-256).
	Key crypto.Signer
}

// Cert is a certificate issued by a CA, with its private key.
type Cert struct {
	// Cert is the certificate.
	Cert *x509.Certificate
	// Key is its private key.
	Key crypto.Signer
	// CA issued it.
	CA *CA
}

// Spec says what certificate to issue.
type Spec struct {
	// Subject is the certificate's subject as an RFC 4514 string, the most
	// specific RDN first (see the package comment); it must not be empty.
	Subject string
	// Key is the type of the certificate's key.
	Key KeyType
	// Hosts are the subject alternative names: each an IP address or a
	// DNS name.
	Hosts []string
}

// NewCA makes a certificate authority whose subject is CN=cn.
func NewCA(t TB, cn string) *CA {
	t.Helper()
	key := newKey(t, ECDSA)
	tmpl := &x509.Certificate{
		SerialNumber:          serial(t),
		Subject:               pkix.Name{CommonName: cn},
		NotBefore:             time.Now().Add(-validFrom),
		NotAfter:              time.Now().Add(validFor),
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign | x509.KeyUsageDigitalSignature,
		BasicConstraintsValid: true,
		IsCA:                  true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, key.Public(), key)
	if err != nil {
		t.Fatalf("testcert: CA %q: %v", cn, err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatalf("testcert: CA %q: %v", cn, err)
	}
	return &CA{Cert: cert, Key: key}
}

// Issue makes a certificate signed by ca, usable by a TLS server and a TLS
// client alike.
func (ca *CA) Issue(t TB, s Spec) *Cert {
	t.Helper()
	rdns, err := ParseName(s.Subject)
	if err != nil {
		t.Fatalf("testcert: %v", err)
	}
	subject, err := asn1.Marshal(rdns)
	if err != nil {
		t.Fatalf("testcert: subject %q: %v", s.Subject, err)
	}
	key := newKey(t, s.Key)
	usage := x509.KeyUsageDigitalSignature
	if s.Key == RSA {
		usage |= x509.KeyUsageKeyEncipherment
	}
	tmpl := &x509.Certificate{
		SerialNumber: serial(t),
		RawSubject:   subject,
		NotBefore:    time.Now().Add(-validFrom),
		NotAfter:     time.Now().Add(validFor),
		KeyUsage:     usage,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth},
	}
	for _, h := range s.Hosts {
		if ip := net.ParseIP(h); ip != nil {
			tmpl.IPAddresses = append(tmpl.IPAddresses, ip)
		} else {
			tmpl.DNSNames = append(tmpl.DNSNames, h)
		}
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.Cert, key.Public(), ca.Key)
	if err != nil {
		t.Fatalf("testcert: issue %q: %v", s.Subject, err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatalf("testcert: issue %q: %v", s.Subject, err)
	}
	return &Cert{Cert: cert, Key: key, CA: ca}
}

// Pool returns a certificate pool holding the CA's certificate, to verify
// peers with.
func (ca *CA) Pool() *x509.CertPool {
	p := x509.NewCertPool()
	p.AddCert(ca.Cert)
	return p
}

// Chain returns the certificate and its CA's, leaf first.
func (c *Cert) Chain() []*x509.Certificate { return []*x509.Certificate{c.Cert, c.CA.Cert} }

// TLS returns the certificate, its chain and key for a crypto/tls
// Config.
func (c *Cert) TLS() tls.Certificate {
	return tls.Certificate{Certificate: [][]byte{c.Cert.Raw, c.CA.Cert.Raw}, PrivateKey: c.Key, Leaf: c.Cert}
}

func newKey(t TB, k KeyType) crypto.Signer {
	t.Helper()
	var key crypto.Signer
	var err error
	switch k {
	case ECDSA:
		key, err = ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	case RSA:
		key, err = rsa.GenerateKey(rand.Reader, 2048)
	default:
		t.Fatalf("testcert: unknown key type %d", k)
	}
	if err != nil {
		t.Fatalf("testcert: %s key: %v", k, err)
	}
	return key
}

// serial returns a random positive 128-bit serial number.
func serial(t TB) *big.Int {
	t.Helper()
	n, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 128))
	if err != nil {
		t.Fatalf("testcert: serial: %v", err)
	}
	return n.Add(n, big.NewInt(1))
}
