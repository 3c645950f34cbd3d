package bench

import (
	"encoding/binary"
	"errors"
	"fmt"
	"net"
	"time"

	"github.com/meerkat-zk/meerkat/jute"
)

// conn is one generator connection: a TCP connection with a session, an
// input buffer that frames are parsed from in place, and an output buffer
// that requests are appended to and written with one syscall.
type conn struct {
	nc      net.Conn
	rbuf    []byte
	r, w    int // rbuf[r:w] is read but not yet parsed
	out     []byte
	session int64
}

// maxFrame bounds a reply frame: jute.maxbuffer plus headers, with room.
const maxFrame = 4 << 20

// errFrame reports a frame the server should never send.
var errFrame = errors.New("bench: bad frame")

// dial connects to addr and opens a session with the given timeout. The
// handshake must finish before deadline.
func dial(addr string, timeout time.Duration, deadline time.Time) (*conn, error) {
	nc, err := net.DialTimeout("tcp", addr, time.Until(deadline))
	if err != nil {
		return nil, err
	}
	c := &conn{nc: nc, rbuf: make([]byte, 64<<10)}
	if err := c.handshake(timeout, deadline); err != nil {
		nc.Close()
		return nil, err
	}
	return c, nil
}

// handshake sends a ConnectRequest for a new session and reads the answer.
func (c *conn) handshake(timeout time.Duration, deadline time.Time) error {
	_ = c.nc.SetDeadline(deadline)
	defer c.nc.SetDeadline(time.Time{})
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
	_ = c.nc.SetDeadline(time.Now().Add(wait))
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
