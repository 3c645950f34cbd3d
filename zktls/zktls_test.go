package zktls

import (
	"crypto/tls"
	"crypto/x509"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/meerkat-zk/meerkat/internal/testcert"
)

var quiet = slog.New(slog.NewTextHandler(io.Discard, nil))

// Every store format ZooKeeper reads loads, by its type or by the file's
// extension, and gives the certificate and trust it holds.
func TestStoreFormats(t *testing.T) {
	ca := testcert.NewCA(t, "ca")
	for _, f := range testcert.Formats {
		for _, key := range []testcert.KeyType{testcert.ECDSA, testcert.RSA} {
			cert := ca.Issue(t, testcert.Spec{Subject: "CN=server " + string(f), Key: key, Hosts: []string{"127.0.0.1"}})
			dir := t.TempDir()
			for _, typed := range []bool{true, false} {
				s := DefaultSettings()
				s.KeyStore = Store{Location: filepath.Join(dir, "key"+f.Ext()), Password: "secret"}
				s.TrustStore = Store{Location: filepath.Join(dir, "trust"+f.Ext()), Password: "secret"}
				if typed {
					s.KeyStore.Type, s.TrustStore.Type = strings.ToLower(string(f)), string(f)
				}
				cert.WriteKeyStore(t, s.KeyStore.Location, f, "secret")
				ca.WriteTrustStore(t, s.TrustStore.Location, f, "secret")
				c, err := NewContext(s, quiet)
				if err != nil {
					t.Fatalf("%s %v typed=%v: %v", f, key, typed, err)
				}
				m := c.material()
				if !m.cert.Leaf.Equal(cert.Cert) || len(m.cert.Certificate) != 2 {
					t.Errorf("%s %v: key store gave %s with %d certificates", f, key, m.cert.Leaf.Subject, len(m.cert.Certificate))
				}
				if _, err := cert.Cert.Verify(x509Opts(m)); err != nil {
					t.Errorf("%s %v: trust store does not verify the certificate: %v", f, key, err)
				}
			}
		}
	}
}

func x509Opts(m *material) x509.VerifyOptions { return x509.VerifyOptions{Roots: m.trust} }

func TestStoreErrors(t *testing.T) {
	ca := testcert.NewCA(t, "ca")
	cert := ca.Issue(t, testcert.Spec{Subject: "CN=s"})
	dir := t.TempDir()
	p12 := filepath.Join(dir, "key.p12")
	cert.WriteKeyStore(t, p12, testcert.PKCS12, "right")
	pem := filepath.Join(dir, "key.pem")
	cert.WriteKeyStore(t, pem, testcert.PEM, "right")
	for _, tc := range []struct {
		store Store
		want  string
	}{
		{Store{Location: p12, Password: "wrong"}, "key store"},
		{Store{Location: pem, Password: "wrong"}, "private key"},
		{Store{Location: filepath.Join(dir, "key.pfx")}, "cannot tell the type"},
		{Store{Location: filepath.Join(dir, "key.jks"), Type: "PKCS12"}, "no such file"},
		{Store{Location: p12, Type: "BCFKS"}, "BCFKS"},
		{Store{Location: p12, Type: "JCEKS"}, "unknown store type"},
		{Store{Location: filepath.Join(dir, "missing.pem")}, "no such file"},
	} {
		s := DefaultSettings()
		s.KeyStore = tc.store
		if _, err := NewContext(s, quiet); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%+v: want an error saying %q, got %v", tc.store, tc.want, err)
		}
	}
}

func TestProtocolsAndCipherSuites(t *testing.T) {
	for _, tc := range []struct {
		protocol string
		enabled  []string
		lo, hi   uint16
	}{
		{"TLSv1.2", nil, tls.VersionTLS12, tls.VersionTLS12},
		{"TLSv1.3", nil, tls.VersionTLS13, tls.VersionTLS13},
		{"TLSv1.2", []string{"TLSv1.3", "TLSv1.2"}, tls.VersionTLS12, tls.VersionTLS13},
		{"TLS", nil, tls.VersionTLS12, tls.VersionTLS13},
	} {
		s := Settings{Protocol: tc.protocol, EnabledProtocols: tc.enabled}
		if lo, hi, err := s.versions(); err != nil || lo != tc.lo || hi != tc.hi {
			t.Errorf("%s %v: %x-%x %v", tc.protocol, tc.enabled, lo, hi, err)
		}
	}
	if _, _, err := (&Settings{Protocol: "SSLv3"}).versions(); err == nil {
		t.Error("SSLv3 accepted")
	}
	ids, unsupported, err := (&Settings{}).suitesFor(tls.VersionTLS12, tls.VersionTLS12)
	if err != nil || len(ids) != 10 || len(unsupported) != 2 {
		t.Errorf("ZooKeeper's default suites: %d supported, unsupported %v, %v", len(ids), unsupported, err)
	}
	if _, _, err = (&Settings{}).suitesFor(tls.VersionTLS13, tls.VersionTLS13); err == nil || !strings.Contains(err.Error(), "no handshake could succeed") {
		t.Errorf("TLS 1.3 alone with ZooKeeper's default (TLS 1.2) suites: %v", err)
	}
	if _, _, err = (&Settings{CipherSuites: []string{"TLS_AES_128_GCM_SHA256"}}).suitesFor(tls.VersionTLS13, tls.VersionTLS13); err != nil {
		t.Errorf("TLS 1.3 alone with a TLS 1.3 suite: %v", err)
	}
	if _, _, err = (&Settings{CipherSuites: []string{"TLS_AES_128_GCM_SHA256"}}).suitesFor(tls.VersionTLS12, tls.VersionTLS12); err == nil {
		t.Error("TLS 1.2 alone with only a TLS 1.3 suite was accepted")
	}
	if _, _, err := (&Settings{CipherSuites: []string{"TLS_DHE_RSA_WITH_AES_128_GCM_SHA256"}}).suitesFor(tls.VersionTLS12, tls.VersionTLS13); err == nil {
		t.Error("a list of suites Go lacks was accepted")
	}
}

// A replaced key store is picked up by the next handshake after the check
// interval, without a restart; a broken replacement keeps the old one.
func TestReload(t *testing.T) {
	ca := testcert.NewCA(t, "ca")
	dir := t.TempDir()
	s := DefaultSettings()
	s.KeyStore = Store{Location: filepath.Join(dir, "key.pem")}
	first := ca.Issue(t, testcert.Spec{Subject: "CN=first"})
	first.WriteKeyStore(t, s.KeyStore.Location, testcert.PEM, "")
	c, err := NewContext(s, quiet)
	if err != nil {
		t.Fatal(err)
	}
	serving := func() string {
		cfg, err := c.ServerConfig().GetConfigForClient(&tls.ClientHelloInfo{})
		if err != nil {
			t.Fatal(err)
		}
		return cfg.Certificates[0].Leaf.Subject.CommonName
	}
	if got := serving(); got != "first" {
		t.Fatalf("serving %q", got)
	}
	second := ca.Issue(t, testcert.Spec{Subject: "CN=second"})
	second.WriteKeyStore(t, s.KeyStore.Location, testcert.PEM, "")
	deadline := time.Now().Add(5 * time.Second)
	for serving() != "second" {
		if time.Now().After(deadline) {
			t.Fatal("the replaced key store was not picked up")
		}
		time.Sleep(100 * time.Millisecond)
	}
	if got := c.ClientConfig("h").Certificates[0].Leaf.Subject.CommonName; got != "second" {
		t.Errorf("client configuration has %q", got)
	}
	if err := os.WriteFile(s.KeyStore.Location, []byte("not a key store"), 0o600); err != nil {
		t.Fatal(err)
	}
	time.Sleep(2 * reloadCheckInterval)
	if got := serving(); got != "second" {
		t.Errorf("after a broken replacement, serving %q", got)
	}
}
