package conformance

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"syscall"
	"time"

	"github.com/meerkat-zk/meerkat/internal/wire"
	"github.com/meerkat-zk/meerkat/jute"
)

// replyTimeout bounds the wait for any expected reply or event.
const replyTimeout = 10 * time.Second

// frame is one server frame after the handshake, split into its reply
// header and the bytes that follow it.
type frame struct {
	hdr  jute.ReplyHeader
	body []byte
}

// rawConn is a raw ZooKeeper client connection. One goroutine (the
// scenario) uses it; a reader goroutine owned by the connection turns the
// socket into frames on the in channel and closes it on EOF or error.
type rawConn struct {
	nc net.Conn
	// in carries every frame, notifications and replies, in arrival order.
	in chan frame
	// stash holds notifications read while waiting for a reply.
	stash []frame
	// eof is set once in is closed and drained.
	eof bool

	xid       int32
	sessionID int64
	passwd    []byte
	timeout   int32
	// lastZxid is the largest reply zxid seen, for a reconnect.
	lastZxid int64
}

// connectOpts is a ConnectRequest's variable part.
type connectOpts struct {
	timeout   int32
	sessionID int64
	passwd    []byte
	lastZxid  int64
	// noReadOnly omits the trailing readOnly flag (a client before 3.4).
	noReadOnly bool
	// nullPasswd sends the password as a null buffer (length -1).
	nullPasswd bool
}

// connectResult is the ConnectResponse, or how the server refused.
type connectResult struct {
	resp jute.ConnectResponse
	// noResponse says, when the server sent no response, what came
	// instead (see noResponse); it is "" when a response came.
	noResponse string
}

// dialRaw opens a TCP connection to addr.
func dialRaw(addr string) (net.Conn, error) {
	return net.DialTimeout("tcp", addr, 5*time.Second)
}

// handshake sends a ConnectRequest on nc and reads the response. On
// success it returns a rawConn with its reader running; on an invalid
// session (timeout 0) or a closed socket it closes nc.
func handshake(nc net.Conn, o connectOpts) (*rawConn, connectResult, error) {
	passwd := o.passwd
	if passwd == nil && !o.nullPasswd {
		passwd = make([]byte, 16)
	}
	req := jute.ConnectRequest{
		ProtocolVersion: 0,
		LastZxidSeen:    o.lastZxid,
		TimeOut:         o.timeout,
		SessionID:       o.sessionID,
		Passwd:          passwd,
		HasReadOnly:     !o.noReadOnly,
	}
	_ = nc.SetDeadline(time.Now().Add(replyTimeout))
	if _, err := nc.Write(wire.Frame(req.Append(nil))); err != nil {
		nc.Close()
		return nil, connectResult{}, fmt.Errorf("write connect: %w", err)
	}
	br := bufio.NewReader(nc)
	payload, err := wire.ReadFrame(br, maxFrame)
	if err != nil {
		nc.Close()
		if what := noResponse(err); what != "" {
			return nil, connectResult{noResponse: what}, nil
		}
		return nil, connectResult{}, fmt.Errorf("read connect response: %w", err)
	}
	var res connectResult
	d := jute.NewDecoder(payload)
	res.resp.Decode(d)
	if d.Err() != nil {
		nc.Close()
		return nil, res, fmt.Errorf("decode connect response: %w", d.Err())
	}
	res.resp.Passwd = append([]byte(nil), res.resp.Passwd...)
	if res.resp.TimeOut <= 0 {
		nc.Close()
		return nil, res, nil
	}
	_ = nc.SetDeadline(time.Time{})
	c := &rawConn{
		nc:        nc,
		in:        make(chan frame, 4096),
		sessionID: res.resp.SessionID,
		passwd:    res.resp.Passwd,
		timeout:   res.resp.TimeOut,
	}
	go c.readLoop(br)
	return c, res, nil
}

// noResponse names the outcome of a read that got no frame: "closed
// without response" when the server closed (EOF) or reset the connection,
// "no response (timed out)" when the read deadline passed first. It
// returns "" for any other error, which is not an outcome but a failure.
func noResponse(err error) string {
	switch {
	case errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF), errors.Is(err, syscall.ECONNRESET):
		return "closed without response"
	case errors.Is(err, os.ErrDeadlineExceeded):
		return "no response " + timedOut
	}
	return ""
}

// timedOut ends every transcript outcome of a read that waited in vain
// (referenceStalled looks for it).
const timedOut = "(timed out)"

// maxFrame bounds the frames the test client accepts.
const maxFrame = 16 << 20

// readLoop runs until the socket fails, then closes in.
func (c *rawConn) readLoop(br *bufio.Reader) {
	defer close(c.in)
	for {
		payload, err := wire.ReadFrame(br, maxFrame)
		if err != nil {
			return
		}
		d := jute.NewDecoder(payload)
		var f frame
		f.hdr.Decode(d)
		if d.Err() != nil {
			return
		}
		f.body = d.Rest()
		c.in <- f
	}
}

// close closes the socket without a closeSession, as a crashed client
// would.
func (c *rawConn) close() { c.nc.Close() }

// close closes the socket without a closeSession and marks the client
// dropped.
func (c *client) close() {
	c.rawConn.close()
	c.dropped = true
}

// writeRaw writes bytes as they are (no framing).
func (c *rawConn) writeRaw(b []byte) error {
	_ = c.nc.SetWriteDeadline(time.Now().Add(replyTimeout))
	_, err := c.nc.Write(b)
	return err
}

// nextXid returns the next normal xid.
func (c *rawConn) nextXid() int32 {
	c.xid++
	return c.xid
}

// send writes a request with the given xid.
func (c *rawConn) send(xid int32, op jute.OpCode, body []byte) error {
	return c.writeRaw(wire.RequestFrame(xid, op, body))
}

// errClosed reports that the server closed the connection.
var errClosed = errors.New("connection closed by server")

// errTimeout reports that nothing arrived in time.
var errTimeout = errors.New("timed out")

// next returns the next frame from the socket (not the stash), waiting at
// most d.
func (c *rawConn) next(d time.Duration) (frame, error) {
	if c.eof {
		return frame{}, errClosed
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case f, ok := <-c.in:
		if !ok {
			c.eof = true
			return frame{}, errClosed
		}
		if f.hdr.Zxid > c.lastZxid {
			c.lastZxid = f.hdr.Zxid
		}
		return f, nil
	case <-t.C:
		return frame{}, errTimeout
	}
}

// reply waits up to d for the next non-notification frame, stashing
// notifications. It returns whatever reply comes next; the caller checks
// its xid.
func (c *rawConn) reply(d time.Duration) (frame, error) {
	deadline := time.Now().Add(d)
	for {
		f, err := c.nextBy(deadline)
		if err != nil || f.hdr.Xid != jute.XidNotification {
			return f, err
		}
		c.stash = append(c.stash, f)
	}
}

// event returns the next notification, waiting up to d.
func (c *rawConn) event(d time.Duration) (frame, error) {
	if len(c.stash) > 0 {
		f := c.stash[0]
		c.stash = c.stash[1:]
		return f, nil
	}
	f, err := c.nextBy(time.Now().Add(d))
	if err != nil || f.hdr.Xid == jute.XidNotification {
		return f, err
	}
	return frame{}, fmt.Errorf("unexpected reply xid %d while waiting for an event", f.hdr.Xid)
}

// nextBy is next with an absolute deadline.
func (c *rawConn) nextBy(deadline time.Time) (frame, error) {
	left := time.Until(deadline)
	if left <= 0 {
		return frame{}, errTimeout
	}
	return c.next(left)
}

// takeStash returns and clears the stashed notifications.
func (c *rawConn) takeStash() []frame {
	s := c.stash
	c.stash = nil
	return s
}

// waitClosed reports whether the server closes the connection within d,
// discarding anything else it sends meanwhile (returned as frames).
func (c *rawConn) waitClosed(d time.Duration) (bool, []frame) {
	deadline := time.Now().Add(d)
	var got []frame
	for {
		left := time.Until(deadline)
		if left <= 0 {
			return false, got
		}
		f, err := c.next(left)
		if errors.Is(err, errClosed) {
			return true, got
		}
		if err != nil {
			return false, got
		}
		got = append(got, f)
	}
}

// multiOp is one op of a multi or multiRead request.
type multiOp struct {
	op   jute.OpCode
	body []byte
}

// multiBody encodes a MultiOperationRecord.
func multiBody(ops []multiOp) []byte {
	var b []byte
	for _, o := range ops {
		b = (&jute.MultiHeader{Type: o.op, Done: false, Err: -1}).Append(b)
		b = append(b, o.body...)
	}
	return jute.AppendMultiEnd(b)
}

// Request bodies.

func createBody(path string, data []byte, acl []jute.ACL, flags int32) []byte {
	r := jute.CreateRequest{Path: path, Data: data, ACL: acl, Flags: flags}
	return r.AppendCreate(nil, false)
}

func createTTLBody(path string, data []byte, acl []jute.ACL, flags int32, ttl int64) []byte {
	r := jute.CreateRequest{Path: path, Data: data, ACL: acl, Flags: flags, TTL: ttl}
	return r.AppendCreate(nil, true)
}

func pathBody(path string) []byte { return (&jute.PathRequest{Path: path}).Append(nil) }

func pathWatchBody(path string, watch bool) []byte {
	return (&jute.PathWatchRequest{Path: path, Watch: watch}).Append(nil)
}

func pathVersionBody(path string, version int32) []byte {
	return (&jute.PathVersionRequest{Path: path, Version: version}).Append(nil)
}

func pathTypeBody(path string, typ int32) []byte {
	return (&jute.PathTypeRequest{Path: path, Type: typ}).Append(nil)
}

func setDataBody(path string, data []byte, version int32) []byte {
	return (&jute.SetDataRequest{Path: path, Data: data, Version: version}).Append(nil)
}

func setACLBody(path string, acl []jute.ACL, version int32) []byte {
	return (&jute.SetACLRequest{Path: path, ACL: acl, Version: version}).Append(nil)
}

func authBody(scheme string, auth []byte) []byte {
	return (&jute.AuthPacket{Type: 0, Scheme: scheme, Auth: auth}).Append(nil)
}
