// Package zktls turns ZooKeeper's ssl.* settings into Go TLS
// configurations: key and trust stores in the formats ZooKeeper reads (PEM,
// PKCS12, JKS), client authentication, protocols and cipher suites named
// as Java names them, and certificate files re-read when they change. The
// client port reads the keys under "ssl.", the quorum those under
// "ssl.quorum."; both use Settings.
package zktls

import (
	"crypto/tls"
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"
)

// Store is a key or trust store as ZooKeeper names one.
type Store struct {
	// Location is the file (ssl.keyStore.location).
	Location string
	// Password opens the store or, for PEM, decrypts the key
	// (ssl.keyStore.password, or the file ssl.keyStore.passwordPath names).
	Password string
	// Type is PEM, PKCS12 or JKS (ssl.keyStore.type); empty means by the
	// file's extension, as ZooKeeper infers it: .pem, .p12, .jks.
	Type string
}

// ClientAuth is ssl.clientAuth: whether a server asks for, or requires, a
// client certificate.
type ClientAuth int

// The values of ssl.clientAuth; ZooKeeper's default is need.
const (
	ClientAuthNeed ClientAuth = iota
	ClientAuthWant
	ClientAuthNone
)

// Settings are one side's ssl.* keys (the client port's or the quorum's).
type Settings struct {
	KeyStore, TrustStore Store
	// ClientAuth is ssl.clientAuth.
	ClientAuth ClientAuth
	// Protocol is ssl.protocol (default TLSv1.2); EnabledProtocols is
	// ssl.enabledProtocols (default: Protocol alone).
	Protocol         string
	EnabledProtocols []string
	// CipherSuites is ssl.ciphersuites (default: ZooKeeper's list for
	// Java 9 and later: ECDHE with AES-GCM, then AES-CBC).
	CipherSuites []string
	// HostnameVerification is ssl.hostnameVerification (default true): a
	// client checks the server's certificate names the address it dialled.
	// ZooKeeper's servers check their clients' names only on the quorum.
	HostnameVerification bool
	// HandshakeTimeout is ssl.handshakeDetectionTimeoutMillis (default
	// 5 s): a connection that has not finished its handshake by then is
	// closed.
	HandshakeTimeout time.Duration
	// Reload re-reads the stores when their files change
	// (client.certReload, sslQuorumReloadCertFiles); Meerkat's default is
	// on.
	Reload bool
}

// DefaultSettings are ZooKeeper 3.8's defaults, with reloading on.
func DefaultSettings() Settings {
	return Settings{Protocol: "TLSv1.2", HostnameVerification: true, HandshakeTimeout: 5 * time.Second, Reload: true}
}

// Set applies key, named below the side's prefix ("keyStore.location" for
// ssl.keyStore.location), and reports whether the key is one of them.
func (s *Settings) Set(key, value string) (bool, error) {
	if field, ok := strings.CutPrefix(key, "keyStore."); ok {
		return s.KeyStore.set(field, value)
	}
	if field, ok := strings.CutPrefix(key, "trustStore."); ok {
		return s.TrustStore.set(field, value)
	}
	var err error
	switch key {
	case "clientAuth":
		switch strings.ToUpper(value) {
		case "", "NEED":
			s.ClientAuth = ClientAuthNeed
		case "WANT":
			s.ClientAuth = ClientAuthWant
		case "NONE":
			s.ClientAuth = ClientAuthNone
		default:
			err = fmt.Errorf("%q is not none, want or need", value)
		}
	case "protocol":
		s.Protocol = value
	case "enabledProtocols":
		s.EnabledProtocols = splitList(value)
	case "ciphersuites":
		s.CipherSuites = splitList(value)
	case "hostnameVerification":
		s.HostnameVerification, err = strconv.ParseBool(value)
	case "handshakeDetectionTimeoutMillis":
		var ms int
		if ms, err = strconv.Atoi(value); err == nil && ms <= 0 {
			err = fmt.Errorf("%d must be positive", ms)
		}
		s.HandshakeTimeout = time.Duration(ms) * time.Millisecond
	case "crl", "ocsp":
		var on bool
		if on, err = strconv.ParseBool(value); err == nil && on {
			err = fmt.Errorf("Meerkat does not check certificate revocation (CRL or OCSP) and would accept revoked certificates")
		}
	case "context.supplier.class":
		err = fmt.Errorf("Meerkat cannot load Java classes; configure the key and trust stores instead")
	default:
		return false, nil
	}
	return true, err
}

// set applies one of a store's keys (location, password, passwordPath,
// type), and reports whether field is one.
func (st *Store) set(field, value string) (bool, error) {
	var err error
	switch field {
	case "location":
		st.Location = value
	case "password":
		st.Password = value
	case "passwordPath":
		st.Password, err = readPassword(value)
	case "type":
		st.Type = value
	default:
		return false, nil
	}
	return true, err
}

func readPassword(path string) (string, error) {
	b, err := os.ReadFile(path)
	return strings.TrimRight(string(b), "\r\n"), err
}

func splitList(v string) []string {
	var out []string
	for _, p := range strings.Split(v, ",") {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	return out
}

// protocolVersions maps Java's protocol names to TLS versions.
var protocolVersions = map[string]uint16{
	"TLSv1": tls.VersionTLS10, "TLSv1.1": tls.VersionTLS11, "TLSv1.2": tls.VersionTLS12, "TLSv1.3": tls.VersionTLS13,
}

// versions returns the lowest and highest enabled TLS version. Go enables
// a contiguous range, which covers every list ZooKeeper documents.
func (s *Settings) versions() (lo, hi uint16, err error) {
	names := s.EnabledProtocols
	if len(names) == 0 {
		names = []string{s.Protocol}
	}
	for _, n := range names {
		if n == "TLS" {
			// Java's generic context: whatever the runtime enables.
			lo, hi = tls.VersionTLS12, tls.VersionTLS13
			continue
		}
		v, ok := protocolVersions[n]
		if !ok {
			return 0, 0, fmt.Errorf("unsupported TLS protocol %q (Meerkat has TLSv1, TLSv1.1, TLSv1.2 and TLSv1.3)", n)
		}
		if lo == 0 || v < lo {
			lo = v
		}
		hi = max(hi, v)
	}
	return lo, hi, nil
}

// defaultCipherSuites is ZooKeeper 3.8's list for Java 9 and later.
var defaultCipherSuites = []string{
	"TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256", "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256",
	"TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384", "TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384",
	"TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA256", "TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA256",
	"TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA", "TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA",
	"TLS_ECDHE_ECDSA_WITH_AES_256_CBC_SHA384", "TLS_ECDHE_RSA_WITH_AES_256_CBC_SHA384",
	"TLS_ECDHE_ECDSA_WITH_AES_256_CBC_SHA", "TLS_ECDHE_RSA_WITH_AES_256_CBC_SHA",
}

// cipherSuites returns the TLS 1.2-and-earlier suites to offer, by their
// IANA names (which Java uses too), whether TLS 1.3 suites are named, and
// the names Go does not implement (ZooKeeper's default list has two: the
// AES-256-CBC-SHA384 suites), which are left out. Go always offers its
// TLS 1.3 suites when TLS 1.3 is on; Java offers those named only.
func (s *Settings) cipherSuites() (ids []uint16, tls13 bool, unsupported []string) {
	names := s.CipherSuites
	if len(names) == 0 {
		names = defaultCipherSuites
	}
	byName := map[string]*tls.CipherSuite{}
	for _, c := range append(tls.CipherSuites(), tls.InsecureCipherSuites()...) {
		byName[c.Name] = c
	}
	for _, n := range names {
		c, ok := byName[n]
		switch {
		case !ok:
			unsupported = append(unsupported, n)
		case len(c.SupportedVersions) == 1 && c.SupportedVersions[0] == tls.VersionTLS13:
			tls13 = true
		default:
			ids = append(ids, c.ID)
		}
	}
	return ids, tls13, unsupported
}

// suitesFor checks that some configured cipher suite can serve the
// enabled versions lo-hi: ZooKeeper would start and then fail every
// handshake (TLSv1.3 alone with its default suites, all TLS 1.2 ones, is
// the usual way to get there), which Meerkat refuses at start instead.
func (s *Settings) suitesFor(lo, hi uint16) (ids []uint16, unsupported []string, err error) {
	ids, tls13, unsupported := s.cipherSuites()
	if (hi >= tls.VersionTLS13 && tls13) || (lo < tls.VersionTLS13 && len(ids) > 0) {
		return ids, unsupported, nil
	}
	names := s.CipherSuites
	if len(names) == 0 {
		names = defaultCipherSuites
	}
	return nil, nil, fmt.Errorf("no handshake could succeed: none of the cipher suites %v serves the enabled protocols (for TLS 1.3 alone, name TLS 1.3 suites such as TLS_AES_128_GCM_SHA256 in ciphersuites; ZooKeeper's default suites are all TLS 1.2 ones)", names)
}
