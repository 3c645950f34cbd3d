package replication

import (
	"bufio"
	"context"
	"crypto/tls"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"slices"
	"sync"
	"time"

	pb "go.etcd.io/raft/v3/raftpb"
	"google.golang.org/protobuf/proto"

	"github.com/meerkat-zk/meerkat/zktls"
)

// maxPeerFrame bounds one message on the peer port: raft's MaxSizePerMsg
// (1 MiB) of entries plus room for the message around them.
const maxPeerFrame = 8 << 20

// TransportConfig configures a Transport.
type TransportConfig struct {
	// ID is this member's id.
	ID uint64
	// Listen is the peer address to listen on, host:port; port 0 takes a
	// free one (Addr tells which).
	Listen string
	// Peers are the other members' peer addresses, by id; AddPeer adds
	// more.
	Peers map[uint64]string
	// Receive is called with every raft message that arrives, from the
	// connection's goroutine; it must not block for long.
	Receive func(*pb.Message)
	// ReceiveApp, when set, is called likewise with every application
	// message (what SendApp sent).
	ReceiveApp func(from uint64, data []byte)
	// Unreachable is called, from any goroutine, when a message to a peer
	// was dropped because it could not be sent (raft's ReportUnreachable).
	Unreachable func(id uint64)
	// Disconnected, when set, is called when the connection from a peer
	// ends: the first sign that the peer died.
	Disconnected func(id uint64)
	// ReceiveSnapshot, when set, takes a snapshot a peer sends (see
	// SendSnapshot): raft's MsgSnap and the state machine's image, which
	// ends where the stream does. It may take as long as it needs; the
	// sender learns it succeeded when it returns nil.
	ReceiveSnapshot func(m *pb.Message, image io.Reader) error
	// Rejoin, when set, is called with a member that lost its log and asks
	// the leader to take it back (see RequestRejoin).
	Rejoin func(from uint64)
	// TLS, when set, runs every peer connection over TLS (sslQuorum): each
	// side presents its key store's certificate and checks the other's
	// against the trust store and, with hostname verification, against
	// the address it dialled or was reached from.
	TLS *zktls.Context
	// QueueSize bounds the batches waiting for each peer; 0 means 256.
	QueueSize int
	// Logger receives the transport's logs.
	Logger *slog.Logger
}

// Transport carries raft messages and the members' own messages over TCP
// on the peer port: one outbound connection per peer, fed by a bounded
// queue that never blocks the sender (a full queue drops the batch and
// reports the peer unreachable, as etcd's rafthttp does), reconnecting
// with back-off; and a listener that hands every inbound message to
// Receive or ReceiveApp.
//
// Each frame is a 4-byte big-endian length, a kind byte ('r': a
// raftpb.Message follows; 'a': an application message) and the message; a
// connection starts with an 8-byte hello naming the sender's id. A
// snapshot travels on a connection of its own (SendSnapshot).
type Transport struct {
	cfg  TransportConfig
	ln   net.Listener
	wg   sync.WaitGroup
	stop chan struct{}
	once sync.Once

	mu      sync.RWMutex // guards peers and inbound
	peers   map[uint64]*peer
	inbound map[net.Conn]struct{}
}

// peer is the outbound side towards one member.
type peer struct {
	id    uint64
	addr  string
	queue chan outgoing
	// back is signalled when the peer connects to us: it is up again, so
	// a sender waiting out its back-off dials at once.
	back chan struct{}
}

// outgoing is one queued batch: raft messages, one application message or
// a rejoin request.
type outgoing struct {
	msgs   []*pb.Message
	app    []byte
	rejoin bool
}

// Frame kinds.
const (
	frameRaft     = 'r'
	frameApp      = 'a'
	frameSnapshot = 's'
	frameRejoin   = 'j'
)

// snapshotTimeout bounds a whole snapshot transfer and install: long, and
// unrelated to raft's heartbeats.
const snapshotTimeout = 10 * time.Minute

// peerHandshakeTimeout bounds an inbound peer connection's TLS handshake.
const peerHandshakeTimeout = 10 * time.Second

// NewTransport listens on cfg.Listen and starts a sender for every peer.
func NewTransport(cfg TransportConfig) (*Transport, error) {
	if cfg.QueueSize <= 0 {
		cfg.QueueSize = 256
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	ln, err := net.Listen("tcp", cfg.Listen)
	if err != nil {
		return nil, fmt.Errorf("replication: listen on the peer port: %w", err)
	}
	if cfg.TLS != nil {
		ln = tls.NewListener(ln, cfg.TLS.ServerConfig())
	}
	t := &Transport{cfg: cfg, ln: ln, peers: map[uint64]*peer{}, stop: make(chan struct{}), inbound: map[net.Conn]struct{}{}}
	for id, addr := range cfg.Peers {
		t.AddPeer(id, addr)
	}
	t.wg.Add(1)
	go t.acceptLoop()
	return t, nil
}

// AddPeer starts sending to member id at addr, and accepting its
// connections; a member already known keeps its address.
func (t *Transport) AddPeer(id uint64, addr string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if _, ok := t.peers[id]; ok {
		return
	}
	p := &peer{id: id, addr: addr, queue: make(chan outgoing, t.cfg.QueueSize), back: make(chan struct{}, 1)}
	t.peers[id] = p
	t.wg.Add(1)
	go t.sendLoop(p)
}

// peer returns the sender towards member id.
func (t *Transport) peer(id uint64) (*peer, bool) {
	t.mu.RLock()
	defer t.mu.RUnlock()
	p, ok := t.peers[id]
	return p, ok
}

// Addr returns the address the transport listens on.
func (t *Transport) Addr() net.Addr { return t.ln.Addr() }

// Send queues msgs for their destinations; it never blocks.
func (t *Transport) Send(msgs []*pb.Message) {
	byPeer := map[uint64][]*pb.Message{}
	for _, m := range msgs {
		byPeer[m.GetTo()] = append(byPeer[m.GetTo()], m)
	}
	for id, batch := range byPeer {
		t.enqueue(id, outgoing{msgs: batch})
	}
}

// RequestRejoin asks member to (the leader) to take this member back with
// a fresh log; it never blocks.
func (t *Transport) RequestRejoin(to uint64) { t.enqueue(to, outgoing{rejoin: true}) }

// SendApp queues a copy of data for member to as an application message;
// it never blocks. A message that cannot be queued or sent is reported
// through Unreachable.
func (t *Transport) SendApp(to uint64, data []byte) {
	t.enqueue(to, outgoing{app: append([]byte(nil), data...)})
}

func (t *Transport) enqueue(id uint64, o outgoing) {
	p, ok := t.peer(id)
	if !ok {
		t.cfg.Logger.Warn("replication: message to an unknown member dropped", "to", id)
		return
	}
	select {
	case p.queue <- o:
	default:
		t.unreachable(id)
	}
}

func (t *Transport) unreachable(id uint64) {
	if t.cfg.Unreachable != nil {
		t.cfg.Unreachable(id)
	}
}

// Close stops the listener, the senders and the inbound connections, and
// waits for their goroutines.
func (t *Transport) Close() error {
	t.once.Do(func() {
		close(t.stop)
		_ = t.ln.Close()
		t.mu.Lock()
		for c := range t.inbound {
			_ = c.Close()
		}
		t.mu.Unlock()
	})
	t.wg.Wait()
	return nil
}

// sendLoop keeps a connection to p and writes its queue to it, batch by
// batch, reconnecting with back-off (50 ms, doubling to 1 s, cut short
// when the peer connects to us). A batch that cannot be written is dropped
// and the peer reported unreachable: raft sends again what matters.
func (t *Transport) sendLoop(p *peer) {
	defer t.wg.Done()
	backoff := 50 * time.Millisecond
	var buf []byte
	// Dial at once, with nothing to send yet: the hello tells the peer
	// this member is up (see peer.back).
	out, _ := t.dial(p)
	defer func() {
		if out != nil {
			_ = out.c.Close()
		}
	}()
	for {
		var batch outgoing
		select {
		case <-t.stop:
			return
		case batch = <-p.queue:
		}
		if out != nil {
			select {
			case <-out.closed:
				_ = out.c.Close()
				out = nil
			default:
			}
		}
		if out == nil {
			var err error
			if out, err = t.dial(p); err != nil {
				t.unreachable(p.id)
				select {
				case <-t.stop:
					return
				case <-time.After(backoff):
				case <-p.back:
				}
				backoff = min(2*backoff, time.Second)
				continue
			}
			backoff = 50 * time.Millisecond
		}
		var err error
		buf, err = writeBatch(out.w, buf, batch)
		// Write whatever else is queued before flushing, one flush a burst.
		for err == nil && len(p.queue) > 0 {
			buf, err = writeBatch(out.w, buf, <-p.queue)
		}
		if err == nil {
			_ = out.c.SetWriteDeadline(time.Now().Add(5 * time.Second))
			err = out.w.Flush()
		}
		if err != nil {
			t.cfg.Logger.Debug("replication: send to peer failed", "peer", p.id, "err", err)
			_ = out.c.Close()
			out = nil
			t.unreachable(p.id)
		}
	}
}

// outConn is a connection to a peer: its buffered writer, and closed, which
// is closed when the peer closes its end.
type outConn struct {
	c      net.Conn
	w      *bufio.Writer
	closed chan struct{}
}

// dial connects to p and writes (without flushing) the hello. The peer
// never writes on this connection, so a read that returns means it closed
// (the peer died or restarted): the next batch then goes on a new
// connection rather than into a socket whose other end is gone, where the
// kernel would take it and lose it.
func (t *Transport) dial(p *peer) (*outConn, error) {
	c, err := t.connect(p.addr, time.Second)
	if err != nil {
		return nil, err
	}
	out := &outConn{c: c, w: bufio.NewWriterSize(c, 64<<10), closed: make(chan struct{})}
	t.wg.Add(1)
	go func() {
		defer t.wg.Done()
		var b [1]byte
		_, _ = c.Read(b[:])
		close(out.closed)
	}()
	var hello [8]byte
	binary.BigEndian.PutUint64(hello[:], t.cfg.ID)
	_, _ = out.w.Write(hello[:])
	if err := out.w.Flush(); err != nil {
		_ = c.Close()
		return nil, err
	}
	return out, nil
}

// writeBatch writes one queued batch as frames, with buf as scratch.
func writeBatch(w *bufio.Writer, buf []byte, o outgoing) ([]byte, error) {
	var err error
	if o.rejoin {
		buf = append(binary.BigEndian.AppendUint32(buf[:0], 1), frameRejoin)
		_, err = w.Write(buf)
		return buf, err
	}
	if o.app != nil {
		buf = appendAppFrame(buf[:0], o.app)
		_, err = w.Write(buf)
		return buf, err
	}
	for _, m := range o.msgs {
		if buf, err = appendFrame(buf[:0], m); err != nil {
			return buf, err
		}
		if _, err = w.Write(buf); err != nil {
			return buf, err
		}
	}
	return buf, nil
}

// appendFrame appends m as a raft frame.
func appendFrame(b []byte, m *pb.Message) ([]byte, error) {
	start := len(b)
	b = binary.BigEndian.AppendUint32(b, 0)
	b = append(b, frameRaft)
	b, err := proto.MarshalOptions{}.MarshalAppend(b, m)
	if err != nil {
		return nil, fmt.Errorf("replication: encode message: %w", err)
	}
	binary.BigEndian.PutUint32(b[start:], uint32(len(b)-start-4))
	return b, nil
}

// appendAppFrame appends data as an application frame.
func appendAppFrame(b, data []byte) []byte {
	b = binary.BigEndian.AppendUint32(b, uint32(len(data)+1))
	return append(append(b, frameApp), data...)
}

// SendSnapshot sends raft's MsgSnap m with the state machine's image,
// which write streams, on a connection of its own, and waits until the
// peer has installed it (or failed to). m's Data is not sent: the image
// stands for it.
func (t *Transport) SendSnapshot(m *pb.Message, write func(io.Writer) error) error {
	p, ok := t.peer(m.GetTo())
	if !ok {
		return fmt.Errorf("replication: snapshot for unknown member %d", m.GetTo())
	}
	c, err := t.connect(p.addr, 5*time.Second)
	if err != nil {
		return fmt.Errorf("replication: snapshot to member %d: %w", p.id, err)
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(snapshotTimeout))
	w := bufio.NewWriterSize(c, 256<<10)
	var hello [8]byte
	binary.BigEndian.PutUint64(hello[:], t.cfg.ID)
	_, _ = w.Write(hello[:])
	head := proto.Clone(m).(*pb.Message)
	if head.Snapshot != nil {
		head.Snapshot.Data = nil
	}
	frame, err := appendFrame(nil, head)
	if err != nil {
		return err
	}
	frame[4] = frameSnapshot
	if _, err := w.Write(frame); err != nil {
		return fmt.Errorf("replication: snapshot to member %d: %w", p.id, err)
	}
	if err := write(w); err != nil {
		return fmt.Errorf("replication: snapshot to member %d: %w", p.id, err)
	}
	if err := w.Flush(); err != nil {
		return fmt.Errorf("replication: snapshot to member %d: %w", p.id, err)
	}
	if hc, ok := c.(interface{ CloseWrite() error }); ok {
		_ = hc.CloseWrite()
	}
	var ack [1]byte
	if _, err := io.ReadFull(c, ack[:]); err != nil || ack[0] != 'k' {
		return fmt.Errorf("replication: member %d did not install the snapshot: %v", p.id, err)
	}
	return nil
}

// connect dials a peer at addr, over TLS when the transport has it,
// within timeout.
func (t *Transport) connect(addr string, timeout time.Duration) (net.Conn, error) {
	c, err := net.DialTimeout("tcp", addr, timeout)
	if err != nil || t.cfg.TLS == nil {
		return c, err
	}
	host, _, _ := net.SplitHostPort(addr)
	tc := tls.Client(c, t.cfg.TLS.ClientConfig(host))
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	if err := tc.HandshakeContext(ctx); err != nil {
		_ = c.Close()
		return nil, fmt.Errorf("TLS handshake with %s: %w", addr, err)
	}
	return tc, nil
}

// handshake finishes the TLS handshake of an inbound connection and checks
// that the peer's certificate names the address it came from.
func (t *Transport) handshake(tc *tls.Conn) error {
	_ = tc.SetDeadline(time.Now().Add(peerHandshakeTimeout))
	if err := tc.Handshake(); err != nil {
		return err
	}
	if err := t.cfg.TLS.VerifyClientHost(tc.ConnectionState(), tc.RemoteAddr()); err != nil {
		return err
	}
	return tc.SetDeadline(time.Time{})
}

func (t *Transport) acceptLoop() {
	defer t.wg.Done()
	for {
		c, err := t.ln.Accept()
		if err != nil {
			select {
			case <-t.stop:
				return
			default:
			}
			if errors.Is(err, net.ErrClosed) {
				return
			}
			t.cfg.Logger.Warn("replication: accept on the peer port", "err", err)
			time.Sleep(50 * time.Millisecond)
			continue
		}
		t.mu.Lock()
		select {
		case <-t.stop:
			t.mu.Unlock()
			_ = c.Close()
			return
		default:
		}
		t.inbound[c] = struct{}{}
		t.mu.Unlock()
		t.wg.Add(1)
		go t.receiveLoop(c)
	}
}

// receiveLoop reads one inbound connection until it fails or carries
// something that is not a message from a member: then it is closed, and
// the member's sender connects again.
func (t *Transport) receiveLoop(c net.Conn) {
	defer t.wg.Done()
	var from uint64
	defer func() {
		t.mu.Lock()
		delete(t.inbound, c)
		t.mu.Unlock()
		_ = c.Close()
		select {
		case <-t.stop:
		default:
			if from != 0 && t.cfg.Disconnected != nil {
				t.cfg.Disconnected(from)
			}
		}
	}()
	if tc, ok := c.(*tls.Conn); ok {
		if err := t.handshake(tc); err != nil {
			t.cfg.Logger.Warn("replication: TLS handshake on the peer port failed", "remote", c.RemoteAddr(), "err", err)
			return
		}
	}
	r := bufio.NewReaderSize(c, 64<<10)
	var hello [8]byte
	if _, err := io.ReadFull(r, hello[:]); err != nil {
		return
	}
	id := binary.BigEndian.Uint64(hello[:])
	p, ok := t.peer(id)
	if !ok {
		t.cfg.Logger.Warn("replication: a connection on the peer port from an unknown member", "id", id, "remote", c.RemoteAddr())
		return
	}
	select {
	case p.back <- struct{}{}:
	default:
	}
	from = id
	var buf []byte
	for {
		var err error
		if buf, err = readFrame(r, buf); err != nil {
			if errors.Is(err, errFrameSize) {
				t.cfg.Logger.Warn("replication: a frame too large or empty on the peer port", "from", from, "err", err)
			}
			return
		}
		f, err := decodeFrame(from, buf)
		if f.kind == frameSnapshot {
			// The rest of the connection is the image; the sender waits
			// for the ack. Its end is no sign of the sender's death.
			id := from
			from = 0
			if err != nil || t.cfg.ReceiveSnapshot == nil {
				t.cfg.Logger.Warn("replication: a malformed snapshot on the peer port", "from", id, "err", err)
				return
			}
			if err := t.cfg.ReceiveSnapshot(f.msg, r); err != nil {
				t.cfg.Logger.Error("replication: installing a snapshot failed", "from", id, "err", err)
				return
			}
			_, _ = c.Write([]byte{'k'})
			return
		}
		if err != nil {
			t.cfg.Logger.Warn("replication: a malformed frame on the peer port", "from", from, "err", err)
			return
		}
		switch f.kind {
		case frameRejoin:
			if t.cfg.Rejoin != nil {
				t.cfg.Rejoin(from)
			}
		case frameApp:
			if t.cfg.ReceiveApp != nil {
				// The receiver may keep the message: it gets its own copy.
				t.cfg.ReceiveApp(from, append([]byte(nil), f.app...))
			}
		case frameRaft:
			t.cfg.Receive(f.msg)
		}
	}
}

// errFrameSize reports a frame length of 0 or above maxPeerFrame.
var errFrameSize = errors.New("frame too large or empty")

// readFrame reads the next frame's payload from r into buf, which it grows
// as needed and returns, reset or partly filled, even on error. The length
// is trusted only as far as the bytes it announces arrive: the buffer
// grows a chunk at a time, so a length alone never makes it allocate.
func readFrame(r io.Reader, buf []byte) ([]byte, error) {
	buf = buf[:0]
	var head [4]byte
	if _, err := io.ReadFull(r, head[:]); err != nil {
		return buf, err
	}
	n := int(binary.BigEndian.Uint32(head[:]))
	if n == 0 || n > maxPeerFrame {
		return buf, fmt.Errorf("%w: %d bytes", errFrameSize, n)
	}
	for len(buf) < n {
		k := min(n-len(buf), max(len(buf), 64<<10))
		buf = slices.Grow(buf, k)
		m, err := io.ReadFull(r, buf[len(buf):len(buf)+k])
		buf = buf[:len(buf)+m]
		if err != nil {
			return buf, err
		}
	}
	return buf, nil
}

// peerFrame is a frame as decodeFrame decodes it; which fields are set
// depends on kind.
type peerFrame struct {
	kind byte
	// msg is the message of a raft or snapshot frame.
	msg *pb.Message
	// app is an application message; it aliases the frame.
	app []byte
}

// decodeFrame decodes the payload of a frame (never empty: see readFrame)
// from member from: a raft or snapshot frame must hold a message from
// from, a snapshot frame a MsgSnap. kind is set even on error.
func decodeFrame(from uint64, b []byte) (peerFrame, error) {
	f := peerFrame{kind: b[0]}
	switch f.kind {
	case frameRaft, frameSnapshot:
		m := &pb.Message{}
		if err := proto.Unmarshal(b[1:], m); err != nil {
			return f, err
		}
		if m.GetFrom() != from {
			return f, fmt.Errorf("a message from member %d on the connection of member %d", m.GetFrom(), from)
		}
		if f.kind == frameSnapshot && m.GetType() != pb.MsgSnap {
			return f, fmt.Errorf("a snapshot frame holding a %v", m.GetType())
		}
		f.msg = m
	case frameApp:
		f.app = b[1:]
	case frameRejoin:
	default:
		return f, fmt.Errorf("a frame of an unknown kind %d", f.kind)
	}
	return f, nil
}
