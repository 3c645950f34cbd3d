package tlsbridge

import (
	"crypto/tls"
	"errors"
	"io"
	"net"
	"time"
)

// errWouldBlock is what a session's memory connection returns when it has
// no more input: a temporary net.Error, which crypto/tls does not keep
// (the record it was reading stays, half read, in its buffer), so that the
// next Read, given more bytes, goes on where this one stopped.
var errWouldBlock = wouldBlock{}

type wouldBlock struct{}

func (wouldBlock) Error() string   { return "tlsbridge: no more input yet" }
func (wouldBlock) Timeout() bool   { return true }
func (wouldBlock) Temporary() bool { return true }

// switchConn is the connection under a session's tls.Conn: the socket,
// blocking, for the handshake in the bridge's goroutine; then, once the
// loop runs the session, memory buffers that the loop fills with what it
// reads and empties into what it writes.
type switchConn struct {
	net.Conn
	loop  bool
	in    []byte // read from the socket; crypto/tls has taken in[inOff:]
	inOff int
	out   []byte // written by crypto/tls, not yet taken by the loop
}

func (c *switchConn) Read(p []byte) (int, error) {
	if !c.loop {
		return c.Conn.Read(p)
	}
	if c.inOff == len(c.in) {
		return 0, errWouldBlock
	}
	n := copy(p, c.in[c.inOff:])
	c.inOff += n
	return n, nil
}

// feed adds bytes read from the socket.
func (c *switchConn) feed(raw []byte) {
	if c.inOff == len(c.in) {
		c.in, c.inOff = c.in[:0], 0
	}
	c.in = append(c.in, raw...)
}

func (c *switchConn) Write(p []byte) (int, error) {
	if !c.loop {
		return c.Conn.Write(p)
	}
	c.out = append(c.out, p...)
	return len(p), nil
}

// In the loop the socket belongs to the reactor; crypto/tls's deadlines
// and close must not reach it.
func (c *switchConn) SetDeadline(t time.Time) error {
	if c.loop {
		return nil
	}
	return c.Conn.SetDeadline(t)
}

func (c *switchConn) SetReadDeadline(t time.Time) error {
	if c.loop {
		return nil
	}
	return c.Conn.SetReadDeadline(t)
}

func (c *switchConn) SetWriteDeadline(t time.Time) error {
	if c.loop {
		return nil
	}
	return c.Conn.SetWriteDeadline(t)
}

func (c *switchConn) Close() error {
	if c.loop {
		return nil
	}
	return c.Conn.Close()
}

// session is a TLS connection whose handshake is done, run by the loop
// that adopted its socket: a reactor.Codec.
type session struct {
	tc    *tls.Conn
	conn  *switchConn
	plain []byte
	out   []byte
}

// maxPlain bounds the plaintext one Decode returns, so that a flood of
// records is taken a read's worth at a time.
const maxPlain = 256 << 10

// Decode implements reactor.Codec.
func (s *session) Decode(raw []byte) (plain, reply []byte, eof bool, err error) {
	s.conn.feed(raw)
	s.plain = s.plain[:0]
	for len(s.plain) < maxPlain {
		if cap(s.plain)-len(s.plain) < 16<<10 {
			s.plain = append(s.plain, make([]byte, 32<<10)...)[:len(s.plain)]
		}
		n, rerr := s.tc.Read(s.plain[len(s.plain):cap(s.plain)])
		s.plain = s.plain[:len(s.plain)+n]
		if rerr == nil {
			continue
		}
		switch {
		case errors.Is(rerr, errWouldBlock):
		case errors.Is(rerr, io.EOF):
			eof = true
		default:
			err = rerr
		}
		break
	}
	return s.plain, s.takeOut(), eof, err
}

// Encode implements reactor.Codec.
func (s *session) Encode(plain []byte) ([]byte, error) {
	if _, err := s.tc.Write(plain); err != nil {
		return nil, err
	}
	return s.takeOut(), nil
}

// takeOut returns what crypto/tls wrote since the last call.
func (s *session) takeOut() []byte {
	s.out, s.conn.out = s.conn.out, s.out[:0]
	return s.out
}

// CloseNotify returns the close_notify alert that ends the session
// cleanly, sent before the loop closes the connection.
func (s *session) CloseNotify() []byte {
	_ = s.tc.CloseWrite()
	return s.takeOut()
}
