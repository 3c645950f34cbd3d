// Package tlsbridge terminates TLS in front of a reactor server.
//
// The reactor's loops read and write non-blocking sockets themselves;
// crypto/tls wants a blocking net.Conn of its own. Rather than a second
// network stack, each TLS connection gets goroutines: one does the
// handshake, then two copy between the TLS connection and one end of a
// socketpair whose other end the reactor serves as if it had accepted it
// (reactor.Server.Adopt), with the client's TCP address and TLS state
// attached. Everything the reactor's handler guarantees on a plaintext
// connection (request order, events before the replies that show their
// change, read back-pressure, half-close) carries over unchanged:
//
//   - the handler sees each client's bytes in order, on one connection;
//   - when the handler stops reading a connection, the socketpair fills,
//     the copier blocks, stops reading TLS, and TCP holds the client back;
//   - a client that ends its sending side (close_notify or FIN) shows as
//     end of input; a connection the handler closes gets close_notify and
//     a FIN after its last reply.
//
// The price is two more socket calls per message, and a few goroutines per
// TLS connection.
package tlsbridge

import (
	"context"
	"crypto/tls"
	"errors"
	"io"
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
	var raw net.Conn = c
	if len(prefix) > 0 {
		raw = &prefixedConn{Conn: c, prefix: append([]byte(nil), prefix...)}
	}
	b.wg.Add(1)
	go func() {
		defer b.wg.Done()
		defer b.untrack(c)
		b.serve(raw)
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

// serve handshakes, hands the plaintext side to the reactor and copies
// both ways until both are done.
func (b *Bridge) serve(raw net.Conn) {
	b.handshakes.Add(1)
	b.pending.Add(1)
	tc := tls.Server(raw, b.config)
	ctx, cancel := context.WithTimeout(context.Background(), b.handshakeTimeout)
	err := tc.HandshakeContext(ctx)
	cancel()
	b.pending.Add(-1)
	if err != nil {
		b.failed.Add(1)
		b.logger.Debug("TLS handshake failed", "remote", raw.RemoteAddr(), "err", err)
		return
	}
	fds, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_STREAM|unix.SOCK_NONBLOCK|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		b.logger.Warn("TLS: no socketpair for a connection", "err", err)
		return
	}
	pf := os.NewFile(uintptr(fds[1]), "tls-bridge")
	pair, err := net.FileConn(pf)
	_ = pf.Close()
	if err != nil {
		_ = unix.Close(fds[0])
		b.logger.Warn("TLS: cannot use a socketpair", "err", err)
		return
	}
	defer pair.Close()
	remote, _ := raw.RemoteAddr().(*net.TCPAddr)
	state := tc.ConnectionState()
	if err := b.rs.Adopt(fds[0], remote, &state); err != nil {
		return
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		// Client to server: the client's end of input becomes the
		// reactor's; an error closes the pair outright.
		if _, err := io.Copy(pair, tc); err != nil {
			_ = pair.Close()
			return
		}
		_ = pair.(*net.UnixConn).CloseWrite()
	}()
	// Server to client, until the reactor closes its end.
	if _, err := io.Copy(tc, pair); err != nil {
		_ = pair.Close()
	}
	_ = tc.Close()
	<-done
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
