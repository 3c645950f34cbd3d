package zktls

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"slices"
	"strings"
	"sync"
	"syscall"
	"time"
)

// reloadCheckInterval is how often, at most, a handshake looks whether the
// store files changed.
const reloadCheckInterval = time.Second

// Context is what Java calls an SSL context: the key and trust stores its
// Settings name, loaded, giving TLS configurations to servers and to
// clients. With Settings.Reload it re-reads the stores when their files
// change: a handshake after the change uses the new ones; connections
// already open keep theirs. A store that fails to load is logged and the
// previous material kept.
type Context struct {
	settings Settings
	logger   *slog.Logger

	mu      sync.Mutex
	current *material
	stamps  []fileStamp
	checked time.Time
}

// material is one loading of the stores.
type material struct {
	cert  tls.Certificate
	trust *x509.CertPool // nil without a trust store: the system's roots
	// server is the configuration a server hands out.
	server *tls.Config
}

// fileStamp is what tells that a store file changed.
type fileStamp struct {
	path    string
	modTime time.Time
	size    int64
	inode   uint64
}

// NewContext loads the stores once; an error says what is wrong with them.
func NewContext(s Settings, logger *slog.Logger) (*Context, error) {
	if s.KeyStore.Location == "" {
		return nil, errors.New("TLS needs a key store (keyStore.location)")
	}
	if logger == nil {
		logger = slog.Default()
	}
	c := &Context{settings: s, logger: logger}
	m, stamps, err := c.load()
	if err != nil {
		return nil, err
	}
	c.current, c.stamps, c.checked = m, stamps, time.Now()
	return c, nil
}

// Settings returns the settings the context was made from.
func (c *Context) Settings() Settings { return c.settings }

// ServerConfig returns the configuration to give tls.Server or
// tls.NewListener: each handshake takes the current stores.
func (c *Context) ServerConfig() *tls.Config {
	return &tls.Config{GetConfigForClient: func(*tls.ClientHelloInfo) (*tls.Config, error) {
		return c.material().server, nil
	}}
}

// ClientConfig returns the configuration to dial host (an address without
// its port) with: the current key store's certificate for the server to
// check, and the server's certificate checked against the trust store and,
// with hostname verification, against host.
func (c *Context) ClientConfig(host string) *tls.Config {
	m := c.material()
	cfg := &tls.Config{Certificates: []tls.Certificate{m.cert}, RootCAs: m.trust,
		MinVersion: m.server.MinVersion, MaxVersion: m.server.MaxVersion, CipherSuites: m.server.CipherSuites,
		ServerName: host}
	if !c.settings.HostnameVerification {
		// Check the chain, not the name.
		cfg.InsecureSkipVerify = true
		cfg.VerifyPeerCertificate = func(raw [][]byte, _ [][]*x509.Certificate) error {
			_, err := verifyChain(raw, m.trust, x509.ExtKeyUsageServerAuth)
			return err
		}
	}
	return cfg
}

// VerifyClientHost checks, on a server that verifies its clients'
// hostnames (the quorum does), that the client certificate of a finished
// handshake names the address the client connected from: as an IP
// address, or as one of the names the address resolves back to.
func (c *Context) VerifyClientHost(state tls.ConnectionState, addr net.Addr) error {
	if !c.settings.HostnameVerification {
		return nil
	}
	if len(state.PeerCertificates) == 0 {
		return errors.New("no client certificate")
	}
	cert := state.PeerCertificates[0]
	host, _, err := net.SplitHostPort(addr.String())
	if err != nil {
		return err
	}
	if cert.VerifyHostname(host) == nil {
		return nil
	}
	names, _ := net.LookupAddr(host)
	for _, n := range names {
		if cert.VerifyHostname(strings.TrimSuffix(n, ".")) == nil {
			return nil
		}
	}
	return fmt.Errorf("the certificate of %s (%s) does not name that address", host, cert.Subject)
}

// verifyChain verifies a peer's certificate chain against roots for usage.
func verifyChain(raw [][]byte, roots *x509.CertPool, usage x509.ExtKeyUsage) ([][]*x509.Certificate, error) {
	if len(raw) == 0 {
		return nil, errors.New("no certificate")
	}
	certs := make([]*x509.Certificate, len(raw))
	for i, b := range raw {
		var err error
		if certs[i], err = x509.ParseCertificate(b); err != nil {
			return nil, err
		}
	}
	opts := x509.VerifyOptions{Roots: roots, Intermediates: x509.NewCertPool(), KeyUsages: []x509.ExtKeyUsage{usage}}
	for _, ic := range certs[1:] {
		opts.Intermediates.AddCert(ic)
	}
	return certs[0].Verify(opts)
}

// material returns the stores as they are now.
func (c *Context) material() *material {
	c.mu.Lock()
	defer c.mu.Unlock()
	if !c.settings.Reload || time.Since(c.checked) < reloadCheckInterval {
		return c.current
	}
	c.checked = time.Now()
	if stamps, err := stampFiles(c.files()); err != nil || slices.Equal(stamps, c.stamps) {
		return c.current
	}
	m, stamps, err := c.load()
	if err != nil {
		c.logger.Error("TLS stores changed but do not load; keeping the previous ones", "err", err)
		// Try again only after the next change.
		if stamps, err := stampFiles(c.files()); err == nil {
			c.stamps = stamps
		}
		return c.current
	}
	c.logger.Info("TLS stores reloaded", "keyStore", c.settings.KeyStore.Location, "trustStore", c.settings.TrustStore.Location)
	c.current, c.stamps = m, stamps
	return c.current
}

func (c *Context) files() []string {
	files := []string{c.settings.KeyStore.Location}
	if c.settings.TrustStore.Location != "" {
		files = append(files, c.settings.TrustStore.Location)
	}
	return files
}

// load reads the stores.
func (c *Context) load() (*material, []fileStamp, error) {
	for _, st := range []Store{c.settings.KeyStore, c.settings.TrustStore} {
		if _, err := storeType(st); st.Location != "" && err != nil {
			return nil, nil, err
		}
	}
	stamps, err := stampFiles(c.files())
	if err != nil {
		return nil, nil, err
	}
	st := c.settings
	m := &material{}
	if m.cert, err = loadKeyPair(st.KeyStore); err != nil {
		return nil, nil, err
	}
	lo, hi, err := st.versions()
	if err != nil {
		return nil, nil, err
	}
	suites, unsupported, err := st.suitesFor(lo, hi)
	if err != nil {
		return nil, nil, err
	}
	if len(unsupported) > 0 && len(st.CipherSuites) > 0 {
		c.logger.Warn("TLS cipher suites left out: Go does not implement them", "suites", unsupported)
	}
	if st.TrustStore.Location != "" {
		if m.trust, err = loadTrust(st.TrustStore); err != nil {
			return nil, nil, err
		}
	}
	m.server = &tls.Config{Certificates: []tls.Certificate{m.cert}, MinVersion: lo, MaxVersion: hi, CipherSuites: suites,
		ClientCAs: m.trust}
	switch st.ClientAuth {
	case ClientAuthNeed:
		m.server.ClientAuth = tls.RequireAndVerifyClientCert
	case ClientAuthWant:
		m.server.ClientAuth = tls.VerifyClientCertIfGiven
	case ClientAuthNone:
		m.server.ClientAuth = tls.NoClientCert
	}
	return m, stamps, nil
}

func stampFiles(paths []string) ([]fileStamp, error) {
	out := make([]fileStamp, 0, len(paths))
	for _, p := range paths {
		fi, err := os.Stat(p)
		if err != nil {
			return nil, fmt.Errorf("TLS store: %w", err)
		}
		out = append(out, fileStamp{path: p, modTime: fi.ModTime(), size: fi.Size(), inode: inodeOf(fi)})
	}
	return out, nil
}

// inodeOf tells a file replaced by a rename from one rewritten in place.
func inodeOf(fi os.FileInfo) uint64 {
	if st, ok := fi.Sys().(*syscall.Stat_t); ok {
		return st.Ino
	}
	return 0
}
