package tlstest

import (
	"bufio"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"syscall"
	"time"

	"github.com/meerkat-zk/meerkat/internal/wire"
	"github.com/meerkat-zk/meerkat/jute"
)

// ioTimeout bounds every dial, TLS handshake and reply the raw session
// waits for.
const ioTimeout = 10 * time.Second

// session is a raw ZooKeeper session over a plaintext or TLS connection,
// for the checks that need to see exactly where a connection fails
// (dial, TLS handshake, ZooKeeper handshake) and whoAmI, which the Go
// client lacks. It is not safe for concurrent use.
type session struct {
	c     net.Conn
	r     *bufio.Reader
	xid   int32
	state tls.ConnectionState
	// resp is the server's ConnectResponse.
	resp jute.ConnectResponse
}

// stage says how far an openSession got before it failed.
type stage int

const (
	stageDial stage = iota
	stageTLS
	stageZooKeeper
)

// sessionError is why openSession failed, and where.
type sessionError struct {
	stage stage
	err   error
}

func (e *sessionError) Error() string {
	return [...]string{"dial", "TLS handshake", "ZooKeeper handshake"}[e.stage] + ": " + e.err.Error()
}

func (e *sessionError) Unwrap() error { return e.err }

// openSession connects to addr, over TLS with cfg unless cfg is nil, and
// sets up a new session.
func openSession(addr string, cfg *tls.Config) (*session, error) {
	return dialSession(addr, cfg, jute.ConnectRequest{TimeOut: 30000, Passwd: make([]byte, 16), HasReadOnly: true}, false)
}

// resumeSession connects to addr as openSession does and takes over the
// session of prev, whose connection is closed first (without a
// closeSession).
func resumeSession(addr string, cfg *tls.Config, prev *session) (*session, error) {
	prev.c.Close()
	return dialSession(addr, cfg, jute.ConnectRequest{TimeOut: prev.resp.TimeOut, SessionID: prev.resp.SessionID,
		Passwd: prev.resp.Passwd, HasReadOnly: true}, false)
}

// dialSession connects to addr, over TLS with cfg unless cfg is nil, and
// sends req. With split set, the request goes one byte a write: over
// TLS, one byte a record.
func dialSession(addr string, cfg *tls.Config, req jute.ConnectRequest, split bool) (*session, error) {
	c, err := net.DialTimeout("tcp", addr, ioTimeout)
	if err != nil {
		return nil, &sessionError{stageDial, err}
	}
	_ = c.SetDeadline(time.Now().Add(ioTimeout))
	s := &session{c: c}
	if cfg != nil {
		tc := tls.Client(c, cfg)
		if err := tc.Handshake(); err != nil {
			c.Close()
			return nil, &sessionError{stageTLS, err}
		}
		s.c, s.state = tc, tc.ConnectionState()
	}
	s.r = bufio.NewReader(s.c)
	frame := wire.Frame(req.Append(nil))
	chunk := len(frame)
	if split {
		chunk = 1
	}
	for i := 0; i < len(frame); i += chunk {
		if _, err := s.c.Write(frame[i : i+chunk]); err != nil {
			s.c.Close()
			return nil, &sessionError{stageZooKeeper, err}
		}
	}
	b, err := wire.ReadFrame(s.r, 1<<20)
	if err != nil {
		s.c.Close()
		return nil, &sessionError{stageZooKeeper, err}
	}
	d := jute.NewDecoder(b)
	s.resp.Decode(d)
	if d.Err() != nil || s.resp.TimeOut <= 0 {
		s.c.Close()
		return nil, &sessionError{stageZooKeeper, fmt.Errorf("connect response %+v: %v", s.resp, d.Err())}
	}
	return s, nil
}

// close ends the session and the connection.
func (s *session) close() {
	_, _, _ = s.call(jute.OpCloseSession, nil)
	s.c.Close()
}

// call sends a request and returns its reply's error code and body,
// skipping notifications.
func (s *session) call(op jute.OpCode, body []byte) (jute.Code, []byte, error) {
	s.xid++
	_ = s.c.SetDeadline(time.Now().Add(ioTimeout))
	if _, err := s.c.Write(wire.RequestFrame(s.xid, op, body)); err != nil {
		return 0, nil, err
	}
	for {
		b, err := wire.ReadFrame(s.r, 16<<20)
		if err != nil {
			return 0, nil, err
		}
		d := jute.NewDecoder(b)
		var h jute.ReplyHeader
		h.Decode(d)
		if d.Err() != nil {
			return 0, nil, d.Err()
		}
		if h.Xid == jute.XidNotification {
			continue
		}
		if h.Xid != s.xid {
			return 0, nil, fmt.Errorf("reply xid %d for request %d", h.Xid, s.xid)
		}
		return h.Err, d.Rest(), nil
	}
}

// pipeline sends n getData requests for path back to back, in one write,
// and then reads the n replies; it returns an error unless each came in
// order with the data want.
func (s *session) pipeline(path string, n int, want []byte) error {
	var b []byte
	first := s.xid + 1
	for range n {
		s.xid++
		b = append(b, wire.RequestFrame(s.xid, jute.OpGetData, (&jute.PathWatchRequest{Path: path}).Append(nil))...)
	}
	_ = s.c.SetDeadline(time.Now().Add(ioTimeout))
	if _, err := s.c.Write(b); err != nil {
		return err
	}
	for i := range int32(n) {
		f, err := wire.ReadFrame(s.r, 16<<20)
		if err != nil {
			return fmt.Errorf("reply %d of %d: %w", i+1, n, err)
		}
		d := jute.NewDecoder(f)
		var h jute.ReplyHeader
		h.Decode(d)
		data := d.Buffer()
		if h.Xid != first+i || h.Err != jute.CodeOK || string(data) != string(want) || d.Err() != nil {
			return fmt.Errorf("reply %d of %d: xid %d (want %d), %v, %d bytes", i+1, n, h.Xid, first+i, h.Err, len(data))
		}
	}
	return nil
}

// whoAmI returns the session's identities as "scheme:user" strings, in
// the server's order.
func (s *session) whoAmI() ([]string, error) {
	code, body, err := s.call(jute.OpWhoAmI, nil)
	if err != nil {
		return nil, err
	}
	if code != jute.CodeOK {
		return nil, code
	}
	d := jute.NewDecoder(body)
	n := d.VectorLen()
	ids := []string{}
	for i := 0; i < n && d.Err() == nil; i++ {
		scheme, user := d.String(), d.String()
		ids = append(ids, scheme+":"+user)
	}
	return ids, d.Err()
}

// create creates path with data and acl.
func (s *session) create(path string, data []byte, acl []jute.ACL) (jute.Code, error) {
	req := jute.CreateRequest{Path: path, Data: data, ACL: acl}
	code, _, err := s.call(jute.OpCreate, req.AppendCreate(nil, false))
	return code, err
}

// getData reads path's data.
func (s *session) getData(path string) ([]byte, jute.Code, error) {
	code, body, err := s.call(jute.OpGetData, (&jute.PathWatchRequest{Path: path}).Append(nil))
	if err != nil || code != jute.CodeOK {
		return nil, code, err
	}
	d := jute.NewDecoder(body)
	data := d.Buffer()
	return data, code, d.Err()
}

// getACL reads path's ACL.
func (s *session) getACL(path string) ([]jute.ACL, jute.Code, error) {
	code, body, err := s.call(jute.OpGetACL, (&jute.PathRequest{Path: path}).Append(nil))
	if err != nil || code != jute.CodeOK {
		return nil, code, err
	}
	d := jute.NewDecoder(body)
	acl := d.ACLs()
	return acl, code, d.Err()
}

// setACL replaces path's ACL, whatever its version.
func (s *session) setACL(path string, acl []jute.ACL) (jute.Code, error) {
	code, _, err := s.call(jute.OpSetACL, (&jute.SetACLRequest{Path: path, ACL: acl, Version: -1}).Append(nil))
	return code, err
}

// sendRaw connects to addr in plaintext, writes b, shuts down the sending
// side when halfClose is set, and reads until the server closes the
// connection or ioTimeout passes. It returns what the server sent and
// whether it closed the connection.
func sendRaw(addr string, b []byte, halfClose bool) (answer []byte, closed bool, err error) {
	c, err := net.DialTimeout("tcp", addr, ioTimeout)
	if err != nil {
		return nil, false, err
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(ioTimeout))
	if _, err := c.Write(b); err != nil {
		return nil, false, err
	}
	if halfClose {
		if err := c.(*net.TCPConn).CloseWrite(); err != nil && !errors.Is(err, syscall.ENOTCONN) {
			return nil, false, err
		}
	}
	answer, err = io.ReadAll(c)
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		return answer, false, nil
	}
	// A reset closes the connection as surely as a FIN.
	return answer, true, nil
}
