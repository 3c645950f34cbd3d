package tlstest

import (
	"bytes"
	"crypto/tls"
	"fmt"
	"io"
	"net"
	"strings"
	"time"

	"github.com/meerkat-zk/meerkat/internal/testcert"
	"github.com/meerkat-zk/meerkat/internal/wire"
	"github.com/meerkat-zk/meerkat/jute"
)

// The outcomes checks compare.
const (
	// A session was set up.
	outSession = "session"
	// The connection failed before the server's ConnectResponse: the TLS
	// handshake failed, or the server closed the connection (with a TLS
	// alert or without) before answering. Which one is in the notes.
	outRefused = "refused"
	// The server closed the connection without sending anything but,
	// perhaps, a TLS alert.
	outClosed = "closed, no ZooKeeper answer"
)

// session opens a session on addr, over TLS with cfg unless cfg is nil,
// and runs fn on it; it returns fn's outcome, or outRefused.
func (e *env) session(addr string, cfg *tls.Config, fn func(s *session) string) string {
	s, err := openSession(addr, cfg)
	if err != nil {
		e.note("%v", err)
		return outRefused
	}
	defer s.close()
	return fn(s)
}

// tlsSession runs fn on a session over TLS on the secure port, presenting
// cert (none when nil).
func (e *env) tlsSession(cert *testcert.Cert, fn func(s *session) string) string {
	return e.session(e.srv.SecureAddr, e.clientTLS(cert), fn)
}

// plainSession runs fn on a plaintext session on the plain client port.
func (e *env) plainSession(fn func(s *session) string) string {
	return e.session(e.srv.Addr, nil, fn)
}

// established is fn for a check that only asks whether a session is set
// up.
func established(*session) string { return outSession }

// whoAmI is fn for a check of the session's identities: "scheme:user"
// each, joined by " ; ".
func (e *env) whoAmI(s *session) string {
	ids, err := s.whoAmI()
	if err != nil {
		e.note("whoAmI: %v", err)
		return "whoAmI failed"
	}
	return strings.Join(ids, " ; ")
}

// code names a reply's error code, or "connection lost" (the error in the
// notes).
func (e *env) code(c jute.Code, err error) string {
	if err != nil {
		e.note("%v", err)
		return "connection lost"
	}
	return c.String()
}

// acls writes ACLs as "perms scheme:id", joined by " ; ".
func acls(acl []jute.ACL) string {
	var parts []string
	for _, a := range acl {
		parts = append(parts, fmt.Sprintf("%d %s:%s", a.Perms, a.ID.Scheme, a.ID.ID))
	}
	return strings.Join(parts, " ; ")
}

// acl is an ACL granting everything to scheme:id.
func acl(scheme, id string) []jute.ACL {
	return []jute.ACL{{Perms: jute.PermAll, ID: jute.ID{Scheme: scheme, ID: id}}}
}

// createAndGetACL creates path with acl and returns the create's code and
// the ACL getACL then shows.
func (e *env) createAndGetACL(s *session, path string, acl []jute.ACL) string {
	c, err := s.create(path, nil, acl)
	if err != nil || c != jute.CodeOK {
		return "create " + e.code(c, err)
	}
	got, c, err := s.getACL(path)
	if err != nil || c != jute.CodeOK {
		return "getACL " + e.code(c, err)
	}
	return "OK ; " + acls(got)
}

// read is fn for a check that reads path: the reply's code.
func (e *env) read(path string) func(s *session) string {
	return func(s *session) string {
		_, c, err := s.getData(path)
		return e.code(c, err)
	}
}

// peer is fn for a check of what TLS negotiated: the version and the
// cipher suite.
func (e *env) peer(s *session) string {
	return tls.VersionName(s.state.Version) + " " + tls.CipherSuiteName(s.state.CipherSuite)
}

// serverCert is fn for a check of the certificate the server presents:
// "the key store's" when it is want's, else its subject.
func (e *env) serverCert(want *testcert.Cert) func(s *session) string {
	return func(s *session) string {
		if len(s.state.PeerCertificates) == 0 {
			return "none"
		}
		got := s.state.PeerCertificates[0]
		if got.Equal(want.Cert) {
			return "the key store's"
		}
		return fmt.Sprintf("other: %s serial %x", got.Subject, got.SerialNumber)
	}
}

// certificateRequested reports whether the server asked the client for a
// certificate in a TLS handshake on addr ("asked"/"not asked"), the
// client offering cert when asked.
func (e *env) certificateRequested(addr string, cert *testcert.Cert) string {
	asked := false
	cfg := e.clientTLS(nil)
	cfg.GetClientCertificate = func(*tls.CertificateRequestInfo) (*tls.Certificate, error) {
		asked = true
		c := cert.TLS()
		return &c, nil
	}
	out := e.session(addr, cfg, established)
	if asked {
		return "asked; " + out
	}
	return "not asked; " + out
}

// sendPlain sends b in plaintext to addr (shutting down the sending side
// after it when halfClose is set, as `echo ruok | nc` does) and returns
// outClosed when the server closes the connection without answering, or
// what it answered.
func (e *env) sendPlain(addr string, b []byte, halfClose bool) string {
	answer, closed, err := sendRaw(addr, b, halfClose)
	if err != nil {
		e.note("%v", err)
		return "error"
	}
	if len(answer) > 0 && answer[0] == 0x15 { // a TLS alert record
		e.note("TLS alert % x", answer)
		answer = nil
	}
	switch {
	case !closed:
		return fmt.Sprintf("still open after %v, answer %q", ioTimeout, answer)
	case len(answer) == 0:
		return outClosed
	}
	return fmt.Sprintf("answer %q", answer)
}

// connectRequestFrame is a plaintext ZooKeeper handshake.
func connectRequestFrame() []byte {
	req := jute.ConnectRequest{TimeOut: 30000, Passwd: make([]byte, 16), HasReadOnly: true}
	return wire.Frame(req.Append(nil))
}

// fourLetter sends word as `echo word | nc` does and returns the answer,
// or how the connection ended.
func (e *env) fourLetter(addr, word string) string {
	out := e.sendPlain(addr, []byte(word+"\n"), true)
	if a, ok := strings.CutPrefix(out, "answer "); ok {
		return a
	}
	return out
}

// tlsWith runs fn on a session over TLS on addr, presenting cert, with
// the client configuration changed by mod.
func (e *env) tlsWith(addr string, cert *testcert.Cert, mod func(*tls.Config), fn func(s *session) string) string {
	cfg := e.clientTLS(cert)
	mod(cfg)
	return e.session(addr, cfg, fn)
}

// fourLetterTLS sends word over TLS on addr, presenting cert, and returns
// the answer, or how the connection ended.
func (e *env) fourLetterTLS(addr string, cert *testcert.Cert, word string) string {
	c, err := net.DialTimeout("tcp", addr, ioTimeout)
	if err != nil {
		e.note("%v", err)
		return "error"
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(ioTimeout))
	tc := tls.Client(c, e.clientTLS(cert))
	if err := tc.Handshake(); err != nil {
		e.note("TLS handshake: %v", err)
		return outRefused
	}
	if _, err := tc.Write([]byte(word)); err != nil {
		e.note("write: %v", err)
		return "error"
	}
	answer, err := io.ReadAll(tc)
	if err != nil {
		// A server that closes without close_notify ends the read with
		// an error; what it sent before counts.
		e.note("read: %v", err)
	}
	if len(answer) == 0 {
		return outClosed
	}
	return fmt.Sprintf("%q", answer)
}

// bigData is fn for a check that writes a 512 KiB znode and reads it
// back: many TLS records each way.
func (e *env) bigData(s *session) string {
	data := bytes.Repeat([]byte("0123456789abcdef"), 32<<10)
	if c, err := s.create("/big", data, acl("world", "anyone")); err != nil || c != jute.CodeOK {
		return "create " + e.code(c, err)
	}
	got, c, err := s.getData("/big")
	if err != nil || c != jute.CodeOK {
		return "getData " + e.code(c, err)
	}
	if !bytes.Equal(got, data) {
		return fmt.Sprintf("read %d bytes back, not the %d written", len(got), len(data))
	}
	return fmt.Sprintf("OK, %d bytes back", len(got))
}

// pipelined is fn for a check that sends n getData requests in one write
// and reads the replies.
func (e *env) pipelined(n int) func(s *session) string {
	return func(s *session) string {
		if c, err := s.create("/pipe", []byte("p"), acl("world", "anyone")); err != nil || c != jute.CodeOK {
			return "create " + e.code(c, err)
		}
		if err := s.pipeline("/pipe", n, []byte("p")); err != nil {
			e.note("%v", err)
			return "replies out of order or missing"
		}
		return fmt.Sprintf("%d replies in order", n)
	}
}

// splitHandshake opens a session over TLS on addr as cert's holder,
// sending the ConnectRequest one byte a TLS record.
func (e *env) splitHandshake(addr string, cert *testcert.Cert) string {
	s, err := dialSession(addr, e.clientTLS(cert), jute.ConnectRequest{TimeOut: 30000, Passwd: make([]byte, 16), HasReadOnly: true}, true)
	if err != nil {
		e.note("%v", err)
		return outRefused
	}
	defer s.close()
	return e.whoAmI(s)
}

// resumed sets up a session on addr1 (TLS with cfg1, or plaintext when
// nil), drops its connection and takes the session over on addr2 (with
// cfg2): the identities whoAmI then shows are the new connection's.
func (e *env) resumed(addr1 string, cfg1 *tls.Config, addr2 string, cfg2 *tls.Config) string {
	s1, err := openSession(addr1, cfg1)
	if err != nil {
		e.note("first connection: %v", err)
		return outRefused
	}
	s2, err := resumeSession(addr2, cfg2, s1)
	if err != nil {
		e.note("second connection: %v", err)
		return "resume " + outRefused
	}
	defer s2.close()
	if s2.resp.SessionID != s1.resp.SessionID {
		return "a new session"
	}
	return "same session; " + e.whoAmI(s2)
}
