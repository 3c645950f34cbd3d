package reactor

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"runtime"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/sys/unix"
)

// ErrStopped is returned by Execute on a loop that has stopped, and is the
// error OnClose reports for the connections a Stop closes.
var ErrStopped = errors.New("reactor: stopped")

// ErrHandedOff is the error OnClose reports for a connection given away
// with Conn.Handoff.
var ErrHandedOff = errors.New("reactor: handed off")

// Handler receives a server's connection events, each on the goroutine of
// the connection's loop (see the package doc).
type Handler interface {
	// OnOpen is called for a new connection before anything is read from
	// it; false closes it at once, without OnClose.
	OnOpen(c *Conn) bool
	// OnRead is called with the bytes received and not yet consumed,
	// oldest first, and returns how many of them it consumed; the rest is
	// offered again, with what arrives next, at the next call. in is valid
	// only during the call.
	OnRead(c *Conn, in []byte) int
	// OnReadEOF is called once the client has shut down its sending side
	// and everything it sent before has been offered to OnRead. The
	// connection stays open for writing until the handler closes it.
	OnReadEOF(c *Conn)
	// OnDrained is called when all the output the connection had queued has
	// been written to the socket.
	OnDrained(c *Conn)
	// OnClose is called once the connection is closed: by Close or Abort
	// (err nil), by a failed read or write, or by Stop (ErrStopped).
	OnClose(c *Conn, err error)
}

// Config configures a server.
type Config struct {
	// Addr is the listening address, host:port; port 0 takes a free port
	// (Addr tells which) and an empty host listens on every interface.
	// An empty Addr listens nowhere: the server serves only the
	// connections given to Adopt.
	Addr string
	// Loops is the number of event loops; 0 means GOMAXPROCS.
	Loops int
	// ReadSize is the most one read takes from a socket, in bytes; 0 means
	// 64 KiB.
	ReadSize int
	// Linger bounds how long a closing connection may take to write its
	// queued output before it is aborted; 0 means 10 s.
	Linger time.Duration
	// Logger receives the rare errors of the loops themselves.
	Logger *slog.Logger
}

// Validate fills defaults and rejects impossible settings.
func (c *Config) Validate() error {
	if c.Loops < 0 || c.ReadSize < 0 || c.Linger < 0 {
		return errors.New("reactor: Loops, ReadSize and Linger must not be negative")
	}
	if c.Loops == 0 {
		c.Loops = runtime.GOMAXPROCS(0)
	}
	if c.ReadSize == 0 {
		c.ReadSize = 64 << 10
	}
	if c.Linger == 0 {
		c.Linger = 10 * time.Second
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	return nil
}

// Server is a listening socket and the loops that serve its connections.
type Server struct {
	cfg      Config
	handler  Handler
	lfd      int // the listening socket, owned by loops[0] once started
	addr     *net.TCPAddr
	loops    []*Loop
	next     int           // the loop the next accepted connection goes to (loops[0] only)
	adopted  atomic.Uint64 // connections adopted so far, to spread them over the loops
	started  atomic.Bool
	stopOnce sync.Once
}

// Listen binds cfg.Addr and prepares the loops; Start runs them.
func Listen(cfg Config, h Handler) (*Server, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	s := &Server{cfg: cfg, handler: h, lfd: -1}
	fail := func(err error) (*Server, error) {
		for _, l := range s.loops {
			l.release()
		}
		if s.lfd >= 0 {
			_ = unix.Close(s.lfd)
		}
		return nil, err
	}
	if cfg.Addr != "" {
		var err error
		if s.lfd, s.addr, err = listen(cfg.Addr); err != nil {
			return nil, err
		}
	}
	for i := 0; i < cfg.Loops; i++ {
		l, err := newLoop(s, i)
		if err != nil {
			return fail(err)
		}
		s.loops = append(s.loops, l)
	}
	if s.lfd >= 0 {
		if err := s.loops[0].watch(s.lfd, unix.EPOLLIN); err != nil {
			return fail(err)
		}
	}
	return s, nil
}

// Start runs the loops in the background.
func (s *Server) Start() {
	s.started.Store(true)
	for _, l := range s.loops {
		go l.run()
	}
}

// Codec transforms a connection's bytes between the socket and the
// handler, inside the loop: a TLS session whose handshake is done decrypts
// what is read and encrypts what is written. Its methods are called from
// the connection's loop only.
type Codec interface {
	// Decode takes bytes read from the socket (none, to ask for what the
	// codec already holds) and returns the plaintext they complete, bytes
	// to send in answer, and whether the peer ended its stream. The slices
	// are valid until the next call.
	Decode(raw []byte) (plain, reply []byte, eof bool, err error)
	// Encode returns the bytes to send for plain, valid until the next
	// call.
	Encode(plain []byte) ([]byte, error)
}

// Adopt serves a connected, non-blocking socket fd on one of the loops as
// if it had been accepted: remote is its client's address, peer what
// Conn.Peer reports (a TLS terminator attaches the connection's TLS
// state), and codec, when not nil, what its bytes go through. The server
// owns fd from the call on, and closes it itself when it returns an error
// (the server has stopped).
func (s *Server) Adopt(fd int, remote *net.TCPAddr, peer any, codec Codec) error {
	l := s.loops[(s.adopted.Add(1)-1)%uint64(len(s.loops))]
	if err := l.Execute(func() { l.open(fd, remote, peer, codec) }); err != nil {
		_ = unix.Close(fd)
		return err
	}
	return nil
}

// Addr returns the address the server listens on; nil when it listens
// nowhere.
func (s *Server) Addr() *net.TCPAddr { return s.addr }

// Loops returns the event loops; Loop.Index is the position in it.
func (s *Server) Loops() []*Loop { return s.loops }

// Buffered returns the output bytes queued over every connection.
func (s *Server) Buffered() int64 {
	var n int64
	for _, l := range s.loops {
		n += l.buffered.Load()
	}
	return n
}

// Stop closes the listener and every connection (OnClose with ErrStopped)
// and waits until the loops have exited, or until ctx is done. A server
// that was never started is released just the same.
func (s *Server) Stop(ctx context.Context) error {
	s.stopOnce.Do(func() {
		for _, l := range s.loops {
			l.stop()
		}
	})
	for _, l := range s.loops {
		select {
		case <-l.done:
		case <-ctx.Done():
			return fmt.Errorf("reactor: stop: %w", ctx.Err())
		}
	}
	return nil
}

// listen makes a non-blocking listening socket for addr: IPv4 for an IPv4
// host, otherwise IPv6 taking IPv4 too (an empty host listens on both).
// SO_REUSEADDR lets a restarted server bind at once despite connections in
// TIME_WAIT.
func listen(addr string) (int, *net.TCPAddr, error) {
	ta, err := net.ResolveTCPAddr("tcp", addr)
	if err != nil {
		return -1, nil, fmt.Errorf("reactor: listen on %s: %w", addr, err)
	}
	family := unix.AF_INET6
	var sa unix.Sockaddr
	if ip4 := ta.IP.To4(); ip4 != nil {
		family = unix.AF_INET
		a := &unix.SockaddrInet4{Port: ta.Port}
		copy(a.Addr[:], ip4)
		sa = a
	} else {
		a := &unix.SockaddrInet6{Port: ta.Port}
		copy(a.Addr[:], ta.IP.To16()) // the zero address when no host was given
		if ta.Zone != "" {
			if ifi, err := net.InterfaceByName(ta.Zone); err == nil {
				a.ZoneId = uint32(ifi.Index)
			} else if n, err := strconv.Atoi(ta.Zone); err == nil {
				a.ZoneId = uint32(n)
			}
		}
		sa = a
	}
	fd, err := unix.Socket(family, unix.SOCK_STREAM|unix.SOCK_NONBLOCK|unix.SOCK_CLOEXEC, unix.IPPROTO_TCP)
	if err != nil {
		return -1, nil, fmt.Errorf("reactor: listen on %s: socket: %w", addr, err)
	}
	fail := func(op string, err error) (int, *net.TCPAddr, error) {
		_ = unix.Close(fd)
		return -1, nil, fmt.Errorf("reactor: listen on %s: %s: %w", addr, op, err)
	}
	if err := unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_REUSEADDR, 1); err != nil {
		return fail("SO_REUSEADDR", err)
	}
	if family == unix.AF_INET6 && ta.IP == nil {
		if err := unix.SetsockoptInt(fd, unix.IPPROTO_IPV6, unix.IPV6_V6ONLY, 0); err != nil {
			return fail("IPV6_V6ONLY", err)
		}
	}
	if err := unix.Bind(fd, sa); err != nil {
		return fail("bind", err)
	}
	// The kernel caps the backlog at net.core.somaxconn.
	if err := unix.Listen(fd, 1<<16); err != nil {
		return fail("listen", err)
	}
	bound, err := unix.Getsockname(fd)
	if err != nil {
		return fail("getsockname", err)
	}
	return fd, tcpAddr(bound), nil
}

// tcpAddr converts a socket address to a *net.TCPAddr.
func tcpAddr(sa unix.Sockaddr) *net.TCPAddr {
	switch a := sa.(type) {
	case *unix.SockaddrInet4:
		return &net.TCPAddr{IP: net.IP(append([]byte(nil), a.Addr[:]...)), Port: a.Port}
	case *unix.SockaddrInet6:
		ta := &net.TCPAddr{IP: net.IP(append([]byte(nil), a.Addr[:]...)), Port: a.Port}
		if a.ZoneId != 0 {
			if ifi, err := net.InterfaceByIndex(int(a.ZoneId)); err == nil {
				ta.Zone = ifi.Name
			} else {
				ta.Zone = strconv.Itoa(int(a.ZoneId))
			}
		}
		return ta
	}
	return &net.TCPAddr{}
}
