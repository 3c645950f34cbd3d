// Package tlsbridge puts TLS in front of a reactor server.
//
// The reactor's loops read and write non-blocking sockets themselves;
// crypto/tls wants a blocking net.Conn for its handshake. So each TLS
// connection's handshake runs in a goroutine of the bridge, on the socket,
// with a deadline; once it is done, the socket and the TLS session are
// handed to the reactor (reactor.Server.Adopt), and the loop that owns the
// connection decrypts what it reads and encrypts what it writes through
// the session (a reactor.Codec), as it would handle a plaintext client:
// request order, events before the replies that show their change, read
// back-pressure and half-close (close_notify is end of input) are the
// loop's own. crypto/tls runs on memory buffers there: a read that finds no
// more bytes returns a temporary error, which crypto/tls does not keep, so
// the next read goes on where it stopped.
package tlsbridge

import (
	"context"
	"crypto/tls"
	"errors"
	"log/slog"
	"net"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/sys/unix"

	"github.com/meerkat-zk/meerkat/internal/reactor"
)

// Bridge hands TLS connections to a reactor server.
type Bridge struct {
	rs               *reactor.Server
	config           *tls.Config
	handshakeTimeout time.Duration
	logger           *slog.Logger

	mu     sync.Mutex
	conns  map[net.Conn]struct{} // raw connections, to close them on Close
	closed bool
	wg     sync.WaitGroup

	handshakes atomic.Int64
	failed     atomic.Int64
	pending    atomic.Int64
}

// New makes a bridge to rs. A connection whose handshake has not finished
// within handshakeTimeout is closed.
func New(rs *reactor.Server, config *tls.Config, handshakeTimeout time.Duration, logger *slog.Logger) *Bridge {
	return &Bridge{rs: rs, config: config, handshakeTimeout: handshakeTimeout, logger: logger, conns: map[net.Conn]struct{}{}}
}

// Serve accepts connections from l until l is closed.
func (b *Bridge) Serve(l net.Listener) {
	for {
		c, err := l.Accept()
		if err != nil {
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				continue
			}
			if !errors.Is(err, net.ErrClosed) {
				b.logger.Error("TLS listener stopped", "err", err)
			}
			return
		}
		if tc, ok := c.(*net.TCPConn); ok {
			_ = tc.SetNoDelay(true)
		}
		b.Handle(c, nil)
	}
}

// HandleFile takes over a TCP socket that a reactor connection handed off
// (reactor.Conn.Handoff) after reading prefix from it: the start of a TLS
// handshake on a port that serves plaintext too.
func (b *Bridge) HandleFile(f *os.File, prefix []byte) {
	c, err := net.FileConn(f)
	_ = f.Close()
	if err != nil {
		b.logger.Warn("TLS: cannot take over a connection", "err", err)
		return
	}
	b.Handle(c, prefix)
}

// Handle runs c's handshake and then bridges it, in new goroutines;
// prefix, when not empty, is what was already read from c.
func (b *Bridge) Handle(c net.Conn, prefix []byte) {
	if !b.track(c) {
		_ = c.Close()
		return
	}
	tcp, ok := c.(*net.TCPConn)
	if !ok {
		b.logger.Warn("TLS: not a TCP connection", "remote", c.RemoteAddr())
		b.untrack(c)
		return
	}
	var raw net.Conn = c
	if len(prefix) > 0 {
		raw = &prefixedConn{Conn: c, prefix: append([]byte(nil), prefix...)}
	}
	b.wg.Add(1)
	go func() {
		defer b.wg.Done()
		defer b.untrack(c)
		b.serve(raw, tcp)
	}()
}

// Handshakes returns how many handshakes were attempted, how many failed,
// and how many are under way.
func (b *Bridge) Handshakes() (total, failed, pending int64) {
	return b.handshakes.Load(), b.failed.Load(), b.pending.Load()
}

// Close closes every connection the bridge holds and waits for its
// goroutines. Connections already adopted by the reactor are the reactor's
// to close.
func (b *Bridge) Close() {
	b.mu.Lock()
	b.closed = true
	for c := range b.conns {
		_ = c.Close()
	}
	b.mu.Unlock()
	b.wg.Wait()
}

func (b *Bridge) track(c net.Conn) bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.closed {
		return false
	}
	b.conns[c] = struct{}{}
	return true
}

func (b *Bridge) untrack(c net.Conn) {
	b.mu.Lock()
	delete(b.conns, c)
	b.mu.Unlock()
	_ = c.Close()
}

// serve handshakes on raw, in this goroutine, then hands the socket and
// the TLS session to the reactor, whose loop decrypts and encrypts from
// then on.
func (b *Bridge) serve(raw net.Conn, tcp *net.TCPConn) {
	b.handshakes.Add(1)
	b.pending.Add(1)
	sc := &switchConn{Conn: raw}
	tc := tls.Server(sc, b.config)
	ctx, cancel := context.WithTimeout(context.Background(), b.handshakeTimeout)
	err := tc.HandshakeContext(ctx)
	cancel()
	b.pending.Add(-1)
	if err != nil {
		b.failed.Add(1)
		b.logger.Debug("TLS handshake failed", "remote", raw.RemoteAddr(), "err", err)
		return
	}
	fd, err := takeSocket(tcp)
	if err != nil {
		b.logger.Warn("TLS: cannot hand a connection to the event loops", "err", err)
		return
	}
	sc.loop = true
	remote, _ := raw.RemoteAddr().(*net.TCPAddr)
	state := tc.ConnectionState()
	_ = b.rs.Adopt(fd, remote, &state, &session{tc: tc, conn: sc})
}

// takeSocket takes c's socket away from Go's network poller: a duplicate
// of its descriptor, non-blocking, for the reactor; c itself is closed.
func takeSocket(c *net.TCPConn) (int, error) {
	rc, err := c.SyscallConn()
	if err != nil {
		return -1, err
	}
	fd := -1
	var dupErr error
	if err := rc.Control(func(s uintptr) { fd, dupErr = unix.FcntlInt(s, unix.F_DUPFD_CLOEXEC, 0) }); err != nil {
		return -1, err
	}
	if dupErr != nil {
		return -1, dupErr
	}
	_ = c.Close()
	if err := unix.SetNonblock(fd, true); err != nil {
		_ = unix.Close(fd)
		return -1, err
	}
	return fd, nil
}

// prefixedConn is a connection whose first bytes were already read.
type prefixedConn struct {
	net.Conn
	prefix []byte
}

func (p *prefixedConn) Read(b []byte) (int, error) {
	if len(p.prefix) > 0 {
		n := copy(b, p.prefix)
		p.prefix = p.prefix[n:]
		return n, nil
	}
	return p.Conn.Read(b)
}
