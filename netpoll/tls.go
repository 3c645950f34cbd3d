package netpoll

import (
	"crypto/tls"
	"fmt"
	"net"
	"os"

	"github.com/meerkat-zk/meerkat/engine"
	"github.com/meerkat-zk/meerkat/internal/reactor"
	"github.com/meerkat-zk/meerkat/internal/tlsbridge"
	"github.com/meerkat-zk/meerkat/jute"
	"github.com/meerkat-zk/meerkat/x500"
)

// tlsRecordHandshake is the first byte of a TLS connection (a handshake
// record). No ZooKeeper frame starts with it: its length would be over
// 350 MiB, and no four-letter word does.
const tlsRecordHandshake = 0x16

// startTLS binds the secure client port and makes the bridge that
// terminates TLS for it and, with port unification, for the client port.
func (s *Server) startTLS() error {
	if s.cfg.TLS == nil {
		return nil
	}
	s.bridge = tlsbridge.New(s.rs, s.cfg.TLS.ServerConfig(), s.cfg.TLS.Settings().HandshakeTimeout, s.cfg.Logger)
	if s.cfg.SecureAddr == "" {
		return nil
	}
	ln, err := net.Listen("tcp", s.cfg.SecureAddr)
	if err != nil {
		return fmt.Errorf("netpoll: secure client port: %w", err)
	}
	s.secureLn = ln
	go s.bridge.Serve(ln)
	return nil
}

// stopTLS stops taking TLS connections; the bridge's goroutines end once
// the loops have closed their connections.
func (s *Server) stopTLS() {
	if s.secureLn != nil {
		_ = s.secureLn.Close()
	}
}

// SecureAddr returns the address of the secure client port, or nil.
func (s *Server) SecureAddr() *net.TCPAddr {
	if s.secureLn == nil {
		return nil
	}
	return s.secureLn.Addr().(*net.TCPAddr)
}

// TLSHandshakes returns how many TLS handshakes were attempted, how many
// failed, and how many are under way.
func (s *Server) TLSHandshakes() (total, failed, pending int64) {
	if s.bridge == nil {
		return 0, 0, 0
	}
	return s.bridge.Handshakes()
}

// unifyTLS hands a new plaintext connection whose first byte starts a TLS
// handshake to the bridge (client.portUnification), and reports whether it
// did.
func (cn *conn) unifyTLS(data []byte) bool {
	srv := cn.loop.srv
	if !srv.cfg.PortUnification || srv.bridge == nil || cn.rc.Peer() != nil || data[0] != tlsRecordHandshake {
		return false
	}
	prefix := append([]byte(nil), data...)
	cn.state = stateClosing
	cn.rc.Handoff(func(f *os.File) { srv.bridge.HandleFile(f, prefix) })
	return true
}

// certificateIdentities are the identities a TLS client's verified
// certificate gives it, as ZooKeeper's X509AuthenticationProvider adds
// them: x509 with the subject in RFC 2253 form, and super when that is
// the configured super user.
func (s *Server) certificateIdentities(rc *reactor.Conn, ids []jute.ID) []jute.ID {
	state, ok := rc.Peer().(*tls.ConnectionState)
	if !ok || len(state.PeerCertificates) == 0 {
		return ids
	}
	dn, err := x500.Name(state.PeerCertificates[0].RawSubject)
	if err != nil {
		s.cfg.Logger.Warn("client certificate subject unreadable; no x509 identity", "remote", rc.RemoteAddr(), "err", err)
		return ids
	}
	if s.cfg.X509SuperUser != "" && dn == s.cfg.X509SuperUser {
		ids = engine.AddIdentity(ids, jute.ID{Scheme: "super", ID: dn})
	}
	s.cfg.Logger.Debug("authenticated by client certificate", "scheme", "x509", "id", dn, "remote", rc.RemoteAddr())
	return engine.AddIdentity(ids, jute.ID{Scheme: "x509", ID: dn})
}
