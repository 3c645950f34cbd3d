package bench

import (
	"crypto/tls"
	"encoding/binary"
	"errors"
	"fmt"
	"net"
	"time"

	"github.com/meerkat-zk/meerkat/jute"
)

// conn is one generator connection: a TCP connection (or a TLS
// connection over one) with a session, an input buffer that frames are
// parsed from in place, and an output buffer that requests are appended to
// and written with one syscall (over TLS: one record, one syscall).
type conn struct {
	nc      net.Conn
	rbuf    []byte
	r, w    int // rbuf[r:w] is read but not yet parsed
	out     []byte
	session int64
	// tls is set when nc is a *tls.Conn; readDeadline is the read deadline
	// last set through setDeadline, which drainTLS puts back.
	tls          bool
	readDeadline time.Time
}

// maxFrame bounds a reply frame: jute.maxbuffer plus headers, with room.
const maxFrame = 4 << 20

// errFrame reports a frame the server should never send.
var errFrame = errors.New("bench: bad frame")

// dial connects to addr and opens a session with the given timeout. The
// handshake must finish before deadline.
func dial(addr string, timeout time.Duration, deadline time.Time) (*conn, error) {
	return dialTLS(addr, nil, timeout, deadline)
}

// dialTLS is dial over TLS when tc is not nil: the TLS handshake (with
// tc's client certificate and roots; ServerName defaults to addr's host)
// and then the session's, both before deadline.
func dialTLS(addr string, tc *tls.Config, timeout time.Duration, deadline time.Time) (*conn, error) {
	nc, err := net.DialTimeout("tcp", addr, time.Until(deadline))
	if err != nil {
		return nil, err
	}
	c := &conn{nc: nc, rbuf: make([]byte, 64<<10)}
	if tc != nil {
		if tc.ServerName == "" {
			host, _, _ := net.SplitHostPort(addr)
			tc = tc.Clone()
			tc.ServerName = host
		}
		t := tls.Client(nc, tc)
		_ = t.SetDeadline(deadline)
		if err := t.Handshake(); err != nil {
			nc.Close()
			return nil, fmt.Errorf("bench: TLS handshake with %s: %w", addr, err)
		}
		c.nc, c.tls = t, true
	}
	if err := c.handshake(timeout, deadline); err != nil {
		c.nc.Close()
		return nil, err
	}
	return c, nil
}

// tlsState describes the connection's TLS version and cipher suite, or
// returns "" for a plaintext connection.
func (c *conn) tlsState() string {
	t, ok := c.nc.(*tls.Conn)
	if !ok {
		return ""
	}
	st := t.ConnectionState()
	return tls.VersionName(st.Version) + " " + tls.CipherSuiteName(st.CipherSuite)
}

// setDeadline sets the connection's read and write deadline.
func (c *conn) setDeadline(t time.Time) {
	c.readDeadline = t
	_ = c.nc.SetDeadline(t)
}

// handshake sends a ConnectRequest for a new session and reads the answer.
func (c *conn) handshake(timeout time.Duration, deadline time.Time) error {
	c.setDeadline(deadline)
	defer c.setDeadline(time.Time{})
	req := jute.ConnectRequest{TimeOut: int32(timeout / time.Millisecond), Passwd: make([]byte, 16), HasReadOnly: true}
	b, start := jute.BeginFrame(c.out[:0])
	c.out = jute.EndFrame(req.Append(b), start)
	if err := c.flush(); err != nil {
		return err
	}
	p, err := c.readFrame()
	if err != nil {
		return fmt.Errorf("bench: handshake: %w", err)
	}
	var resp jute.ConnectResponse
	d := jute.NewDecoder(p)
	resp.Decode(d)
	if d.Err() != nil || resp.SessionID == 0 {
		return fmt.Errorf("bench: handshake refused (session %#x, %v)", resp.SessionID, d.Err())
	}
	c.session = resp.SessionID
	return nil
}

// appendRequest appends one request frame to the output buffer.
func (c *conn) appendRequest(xid int32, op jute.OpCode, body []byte) {
	b, start := jute.BeginFrame(c.out)
	b = jute.AppendInt(jute.AppendInt(b, xid), int32(op))
	c.out = jute.EndFrame(append(b, body...), start)
}

// appendNext appends the stream's next request with xid to the output
// buffer and returns its opcode; ok is false when the stream has no more.
func (c *conn) appendNext(xid int32, s Stream) (op jute.OpCode, ok bool) {
	b, start := jute.BeginFrame(c.out)
	b = jute.AppendInt(jute.AppendInt(b, xid), 0)
	b, op, ok = s.Next(b)
	if !ok {
		c.out = b[:start]
		return op, false
	}
	binary.BigEndian.PutUint32(b[start+8:], uint32(op))
	c.out = jute.EndFrame(b, start)
	return op, true
}

// flush writes the output buffer.
func (c *conn) flush() error {
	if len(c.out) == 0 {
		return nil
	}
	_, err := c.nc.Write(c.out)
	c.out = c.out[:0]
	return err
}

// room makes free space at the end of the input buffer and returns it.
func (c *conn) room() []byte {
	if c.r == c.w {
		c.r, c.w = 0, 0
	}
	if c.w == len(c.rbuf) {
		if c.r > 0 {
			c.w = copy(c.rbuf, c.rbuf[c.r:c.w])
			c.r = 0
		} else {
			c.rbuf = append(c.rbuf, make([]byte, len(c.rbuf))...)
		}
	}
	return c.rbuf[c.w:]
}

// fill reads once from the socket into the input buffer.
func (c *conn) fill() error {
	n, err := c.nc.Read(c.room())
	c.w += n
	if n > 0 {
		return nil
	}
	return err
}

// drainTLS reads, after a fill, what a TLS connection holds already
// decrypted or received: crypto/tls returns one record per Read, and a
// server that writes each reply as a record of its own (Netty's SslHandler
// does, for ZooKeeper) would otherwise have the closed loop answer every
// record with a write of its own, where on plaintext one read takes them
// all and one write answers them. The reads run against a past deadline,
// which the runtime fails before any syscall once nothing is buffered (a
// timeout leaves crypto/tls's state intact); the deadline is then put
// back. A plaintext connection has nothing buffered. An error other than
// the timeout is left for the next fill to report.
func (c *conn) drainTLS() {
	if !c.tls {
		return
	}
	_ = c.nc.SetReadDeadline(pastDeadline)
	for {
		n, err := c.nc.Read(c.room())
		c.w += n
		if err != nil || n == 0 {
			break
		}
	}
	_ = c.nc.SetReadDeadline(c.readDeadline)
}

// pastDeadline is a deadline long gone.
var pastDeadline = time.Unix(1, 0)

// next returns the next complete frame's payload from the input buffer, or
// nil when none is complete. The payload aliases the buffer: it is valid
// until the next fill.
func (c *conn) next() ([]byte, error) {
	if c.w-c.r < 4 {
		return nil, nil
	}
	n := int(binary.BigEndian.Uint32(c.rbuf[c.r:]))
	if n < 0 || n > maxFrame {
		return nil, fmt.Errorf("%w: length %d", errFrame, n)
	}
	if c.w-c.r < 4+n {
		if 4+n > len(c.rbuf) {
			grown := make([]byte, 4+n+len(c.rbuf))
			c.w = copy(grown, c.rbuf[c.r:c.w])
			c.r = 0
			c.rbuf = grown
		}
		return nil, nil
	}
	p := c.rbuf[c.r+4 : c.r+4+n]
	c.r += 4 + n
	return p, nil
}

// readFrame returns the next frame, reading as much as it takes.
func (c *conn) readFrame() ([]byte, error) {
	for {
		p, err := c.next()
		if err != nil || p != nil {
			return p, err
		}
		if err := c.fill(); err != nil {
			return nil, err
		}
	}
}

// replyHeader reads the xid and error code of a reply frame; ok is false
// for a frame too short to hold a reply header.
func replyHeader(p []byte) (xid int32, code jute.Code, ok bool) {
	if len(p) < jute.ReplyHeaderSize {
		return 0, 0, false
	}
	return int32(binary.BigEndian.Uint32(p)), jute.Code(int32(binary.BigEndian.Uint32(p[12:]))), true
}

// close sends closeSession, waits up to wait for its reply (skipping any
// others) and closes the socket.
func (c *conn) close(xid int32, wait time.Duration) {
	c.out = c.out[:0]
	c.appendRequest(xid, jute.OpCloseSession, nil)
	c.setDeadline(time.Now().Add(wait))
	if c.flush() == nil {
		for {
			p, err := c.readFrame()
			if got, _, ok := replyHeader(p); err != nil || !ok || got == xid {
				break
			}
		}
	}
	c.nc.Close()
}
