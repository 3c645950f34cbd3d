package zktls

import (
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"slices"
	"sync"
	"syscall"
	"time"
)

// reloadCheckInterval is how often, at most, a handshake looks whether the
// store files changed.
const reloadCheckInterval = time.Second

// Server gives a TLS server the configuration its Settings describe, and
// re-reads the stores when their files change (Settings.Reload): a
// handshake after the change gets the new certificate; connections
// already open keep theirs. A store that fails to load is logged and the
// previous configuration kept.
type Server struct {
	settings Settings
	logger   *slog.Logger

	mu      sync.Mutex
	current *tls.Config
	stamps  []fileStamp
	checked time.Time
}

// fileStamp is what tells that a store file changed.
type fileStamp struct {
	path    string
	modTime time.Time
	size    int64
	inode   uint64
}

// NewServer loads the stores once; an error says what is wrong with them.
func NewServer(s Settings, logger *slog.Logger) (*Server, error) {
	if s.KeyStore.Location == "" {
		return nil, errors.New("TLS needs a key store (keyStore.location)")
	}
	if logger == nil {
		logger = slog.Default()
	}
	srv := &Server{settings: s, logger: logger}
	cfg, stamps, err := srv.load()
	if err != nil {
		return nil, err
	}
	srv.current, srv.stamps, srv.checked = cfg, stamps, time.Now()
	return srv, nil
}

// Settings returns the settings the server was made from.
func (s *Server) Settings() Settings { return s.settings }

// Config returns the configuration to give tls.Server: each handshake takes
// the current stores from it.
func (s *Server) Config() *tls.Config {
	return &tls.Config{GetConfigForClient: func(*tls.ClientHelloInfo) (*tls.Config, error) {
		return s.currentConfig(), nil
	}}
}

// currentConfig returns the configuration of the stores as they are now.
func (s *Server) currentConfig() *tls.Config {
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.settings.Reload || time.Since(s.checked) < reloadCheckInterval {
		return s.current
	}
	s.checked = time.Now()
	if stamps, err := stampFiles(s.files()); err != nil || slices.Equal(stamps, s.stamps) {
		return s.current
	}
	cfg, stamps, err := s.load()
	if err != nil {
		s.logger.Error("TLS stores changed but do not load; keeping the previous ones", "err", err)
		// Try again only after the next change.
		if stamps, err := stampFiles(s.files()); err == nil {
			s.stamps = stamps
		}
		return s.current
	}
	s.logger.Info("TLS stores reloaded", "keyStore", s.settings.KeyStore.Location, "trustStore", s.settings.TrustStore.Location)
	s.current, s.stamps = cfg, stamps
	return s.current
}

func (s *Server) files() []string {
	files := []string{s.settings.KeyStore.Location}
	if s.settings.TrustStore.Location != "" {
		files = append(files, s.settings.TrustStore.Location)
	}
	return files
}

// load reads the stores into a server configuration.
func (s *Server) load() (*tls.Config, []fileStamp, error) {
	stamps, err := stampFiles(s.files())
	if err != nil {
		return nil, nil, err
	}
	st := s.settings
	cert, err := loadKeyPair(st.KeyStore)
	if err != nil {
		return nil, nil, err
	}
	lo, hi, err := st.versions()
	if err != nil {
		return nil, nil, err
	}
	suites, unsupported, err := st.cipherSuites()
	if err != nil {
		return nil, nil, err
	}
	if len(unsupported) > 0 && len(st.CipherSuites) > 0 {
		s.logger.Warn("TLS cipher suites left out: Go does not implement them", "suites", unsupported)
	}
	cfg := &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: lo, MaxVersion: hi, CipherSuites: suites}
	if st.TrustStore.Location != "" {
		if cfg.ClientCAs, err = loadTrust(st.TrustStore); err != nil {
			return nil, nil, err
		}
	}
	switch st.ClientAuth {
	case ClientAuthNeed:
		cfg.ClientAuth = tls.RequireAndVerifyClientCert
	case ClientAuthWant:
		cfg.ClientAuth = tls.VerifyClientCertIfGiven
	case ClientAuthNone:
		cfg.ClientAuth = tls.NoClientCert
	}
	return cfg, stamps, nil
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
