// Package wire is a minimal ZooKeeper protocol client over a raw TCP
// connection, for tests and tools that need to see the frames themselves:
// the handshake, requests with chosen xids and bodies, replies and watch
// notifications exactly as the server sent them.
package wire

import (
	"bufio"
	"encoding/binary"
	"fmt"
	"io"
	"net"
	"time"

	"github.com/meerkat-zk/meerkat/jute"
)

// Conn is one client connection. It is not safe for concurrent use.
type Conn struct {
	c       net.Conn
	r       *bufio.Reader
	xid     int32
	Session jute.ConnectResponse
	// Events holds the notifications read while waiting for replies.
	Events []jute.WatcherEvent
	// Timeout bounds every read; zero means 10 s.
	Timeout time.Duration
}

// Reply is one reply frame.
type Reply struct {
	Header jute.ReplyHeader
	// Body is the response record (empty when the server sent none).
	Body []byte
}

// Dial connects and performs the handshake for a new session.
func Dial(addr string, timeoutMs int32) (*Conn, error) {
	return DialSession(addr, jute.ConnectRequest{TimeOut: timeoutMs, Passwd: make([]byte, 16), HasReadOnly: true})
}

// DialSession connects and sends req as the ConnectRequest.
func DialSession(addr string, req jute.ConnectRequest) (*Conn, error) {
	c, err := DialRaw(addr)
	if err != nil {
		return nil, err
	}
	if err := c.WriteFrame(req.Append(nil)); err != nil {
		c.Close()
		return nil, err
	}
	b, err := c.ReadFrame()
	if err != nil {
		c.Close()
		return nil, fmt.Errorf("wire: handshake: %w", err)
	}
	d := jute.NewDecoder(b)
	c.Session.Decode(d)
	if d.Err() != nil {
		c.Close()
		return nil, fmt.Errorf("wire: handshake: %w", d.Err())
	}
	return c, nil
}

// DialRaw connects without a handshake.
func DialRaw(addr string) (*Conn, error) {
	c, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		return nil, err
	}
	return &Conn{c: c, r: bufio.NewReaderSize(c, 64<<10)}, nil
}

// Close closes the connection without a closeSession.
func (c *Conn) Close() error { return c.c.Close() }

// Raw returns the underlying connection.
func (c *Conn) Raw() net.Conn { return c.c }

// Frame returns payload with its length prefix.
func Frame(payload []byte) []byte {
	b, start := jute.BeginFrame(make([]byte, 0, len(payload)+4))
	return jute.EndFrame(append(b, payload...), start)
}

// RequestFrame returns the frame of a request: its header, then body.
func RequestFrame(xid int32, op jute.OpCode, body []byte) []byte {
	h := jute.RequestHeader{Xid: xid, Type: op}
	return Frame(append(h.Append(nil), body...))
}

// ReadFrame reads one length-prefixed frame from r and returns its payload;
// a length that is negative or above max is an error.
func ReadFrame(r io.Reader, max int) ([]byte, error) {
	var l [4]byte
	if _, err := io.ReadFull(r, l[:]); err != nil {
		return nil, err
	}
	n := int32(binary.BigEndian.Uint32(l[:]))
	if n < 0 || int(n) > max {
		return nil, fmt.Errorf("wire: frame length %d", n)
	}
	b := make([]byte, n)
	if _, err := io.ReadFull(r, b); err != nil {
		return nil, err
	}
	return b, nil
}

// WriteFrame sends payload with its length prefix.
func (c *Conn) WriteFrame(payload []byte) error {
	_, err := c.c.Write(Frame(payload))
	return err
}

// ReadFrame reads one frame's payload, waiting at most Timeout.
func (c *Conn) ReadFrame() ([]byte, error) {
	t := c.Timeout
	if t == 0 {
		t = 10 * time.Second
	}
	_ = c.c.SetReadDeadline(time.Now().Add(t))
	return ReadFrame(c.r, 64<<20)
}

// NextXid returns the next request xid.
func (c *Conn) NextXid() int32 {
	c.xid++
	return c.xid
}

// Send writes a request with a fresh xid and returns the xid.
func (c *Conn) Send(op jute.OpCode, body []byte) (int32, error) {
	xid := c.NextXid()
	return xid, c.SendXid(xid, op, body)
}

// SendXid writes a request with the given xid.
func (c *Conn) SendXid(xid int32, op jute.OpCode, body []byte) error {
	_, err := c.c.Write(RequestFrame(xid, op, body))
	return err
}

// Recv reads frames until a reply (not a notification) arrives; the
// notifications met on the way are appended to Events.
func (c *Conn) Recv() (Reply, error) {
	for {
		b, err := c.ReadFrame()
		if err != nil {
			return Reply{}, err
		}
		d := jute.NewDecoder(b)
		var r Reply
		r.Header.Decode(d)
		if d.Err() != nil {
			return Reply{}, d.Err()
		}
		r.Body = d.Rest()
		if r.Header.Xid == jute.XidNotification {
			var ev jute.WatcherEvent
			ev.Decode(d)
			c.Events = append(c.Events, ev)
			continue
		}
		return r, nil
	}
}

// Call sends a request and returns its reply.
func (c *Conn) Call(op jute.OpCode, body []byte) (Reply, error) {
	xid, err := c.Send(op, body)
	if err != nil {
		return Reply{}, err
	}
	r, err := c.Recv()
	if err != nil {
		return r, err
	}
	if r.Header.Xid != xid && !(op == jute.OpPing && r.Header.Xid == jute.XidPing) {
		return r, fmt.Errorf("wire: reply xid %d for request %d", r.Header.Xid, xid)
	}
	return r, nil
}

// Create creates path with data and the open ACL.
func (c *Conn) Create(path string, data []byte, flags int32) (Reply, error) {
	req := jute.CreateRequest{Path: path, Data: data, Flags: flags,
		ACL: []jute.ACL{{Perms: jute.PermAll, ID: jute.ID{Scheme: "world", ID: "anyone"}}}}
	return c.Call(jute.OpCreate, req.AppendCreate(nil, false))
}

// GetData reads path, optionally setting a watch.
func (c *Conn) GetData(path string, watch bool) (Reply, error) {
	return c.Call(jute.OpGetData, (&jute.PathWatchRequest{Path: path, Watch: watch}).Append(nil))
}

// SetData sets path's data at version (-1 for any).
func (c *Conn) SetData(path string, data []byte, version int32) (Reply, error) {
	return c.Call(jute.OpSetData, (&jute.SetDataRequest{Path: path, Data: data, Version: version}).Append(nil))
}
