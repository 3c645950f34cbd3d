package netpoll

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/panjf2000/gnet/v2"

	"github.com/meerkat-zk/meerkat/jute"
	"github.com/meerkat-zk/meerkat/pipeline"
)

// Config is the network server's part of the configuration.
type Config struct {
	// Addr is the client address, host:port (clientPortAddress:clientPort).
	// Port 0 takes a free port; Addr() then tells which.
	Addr string
	// MaxBuffer is jute.maxbuffer: the largest frame accepted, in bytes.
	MaxBuffer int
	// Tick is tickTime.
	Tick time.Duration
	// MinSessionTimeout and MaxSessionTimeout bound the negotiated session
	// timeout; zero means 2 and 20 ticks.
	MinSessionTimeout time.Duration
	MaxSessionTimeout time.Duration
	// MaxClientCnxns caps concurrent connections per client IP; 0 is no cap.
	MaxClientCnxns int
	// FourLetterWords is the whitelist of four-letter words; "*" allows all.
	FourLetterWords []string
	// SuperDigest is zookeeper.DigestAuthenticationProvider.superDigest:
	// "super:<base64 sha1>"; a client authenticating to it is a super user.
	SuperDigest string
	// SkipACL turns every ACL check off (zookeeper.skipACL).
	SkipACL bool
	// Loops is the number of event loops; 0 means one per CPU.
	Loops int
	// Info is what the conf, envi and dirs words report.
	Info Info
	// Logger receives the server's logs.
	Logger *slog.Logger
}

// Info describes the server for the conf, envi and dirs four-letter words.
type Info struct {
	ClientPort int
	DataDir    string
	DataLogDir string
	ServerID   int64
	// DirSize returns the bytes used under a directory (for dirs).
	DirSize func(dir string) int64
}

// Validate fills defaults and rejects impossible settings.
func (c *Config) Validate() error {
	if c.Tick <= 0 {
		return errors.New("netpoll: tick must be positive")
	}
	if c.MaxBuffer <= 0 {
		c.MaxBuffer = jute.DefaultMaxBuffer
	}
	if c.MinSessionTimeout <= 0 {
		c.MinSessionTimeout = 2 * c.Tick
	}
	if c.MaxSessionTimeout <= 0 {
		c.MaxSessionTimeout = 20 * c.Tick
	}
	if c.MinSessionTimeout > c.MaxSessionTimeout {
		return fmt.Errorf("netpoll: minSessionTimeout %v is above maxSessionTimeout %v",
			c.MinSessionTimeout, c.MaxSessionTimeout)
	}
	if c.MaxClientCnxns < 0 {
		return errors.New("netpoll: maxClientCnxns must not be negative")
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	return nil
}

// Server serves ZooKeeper clients from a pipeline's state.
type Server struct {
	gnet.BuiltinEventEngine
	cfg     Config
	pipe    *pipeline.Pipeline
	words   map[string]bool
	started time.Time

	eng     gnet.Engine
	booted  chan struct{}
	stopped chan error
	addr    atomic.Pointer[net.TCPAddr]

	// loops are the event loops seen so far; a new one is added, under mu,
	// to a copy, so readers load the slice without a lock.
	loops  atomic.Pointer[[]*loop]
	mu     sync.Mutex // guards perIP, and serializes additions to loops
	perIP  map[string]int
	nextID atomic.Uint64
}

// New returns a server over pipe; Start runs it.
func New(cfg Config, pipe *pipeline.Pipeline) (*Server, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	s := &Server{
		cfg:     cfg,
		pipe:    pipe,
		words:   map[string]bool{},
		booted:  make(chan struct{}),
		stopped: make(chan error, 1),
		perIP:   map[string]int{},
	}
	for _, w := range cfg.FourLetterWords {
		s.words[w] = true
	}
	pipe.SetOnBatch(s.batchDone)
	return s, nil
}

// Start binds the port and runs the event loops in the background. It
// returns once the server accepts connections, or with the bind error.
func (s *Server) Start() error {
	s.started = time.Now()
	opts := []gnet.Option{
		gnet.WithMulticore(s.cfg.Loops == 0),
		gnet.WithReuseAddr(true),
		gnet.WithTCPNoDelay(gnet.TCPNoDelay),
		gnet.WithLogger(gnetLogger{s.cfg.Logger}),
		gnet.WithLockOSThread(false),
	}
	if s.cfg.Loops > 0 {
		opts = append(opts, gnet.WithNumEventLoop(s.cfg.Loops))
	}
	go func() { s.stopped <- gnet.Run(s, "tcp://"+s.cfg.Addr, opts...) }()
	select {
	case <-s.booted:
		return nil
	case err := <-s.stopped:
		return fmt.Errorf("netpoll: listen on %s: %w", s.cfg.Addr, err)
	}
}

// Stop closes every connection and the listener and waits for the loops.
func (s *Server) Stop(ctx context.Context) error {
	err := s.eng.Stop(ctx)
	select {
	case <-s.stopped:
	case <-ctx.Done():
	}
	return err
}

// Addr returns the address the server listens on.
func (s *Server) Addr() *net.TCPAddr { return s.addr.Load() }

// OnBoot implements gnet.EventHandler.
func (s *Server) OnBoot(eng gnet.Engine) gnet.Action {
	s.eng = eng
	if fd, err := eng.Dup(); err == nil {
		if sa, err := syscall.Getsockname(fd); err == nil {
			switch a := sa.(type) {
			case *syscall.SockaddrInet4:
				s.addr.Store(&net.TCPAddr{IP: net.IP(a.Addr[:]), Port: a.Port})
			case *syscall.SockaddrInet6:
				s.addr.Store(&net.TCPAddr{IP: net.IP(a.Addr[:]), Port: a.Port})
			}
		}
		_ = syscall.Close(fd)
	}
	close(s.booted)
	return gnet.None
}

// loopOf returns the state of the event loop that owns c.
func (s *Server) loopOf(c gnet.Conn) *loop {
	el := c.EventLoop()
	if l := findLoop(s.allLoops(), el); l != nil {
		return l
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	loops := s.allLoops()
	if l := findLoop(loops, el); l != nil {
		return l
	}
	l := newLoop(s, el)
	grown := append(slices.Clip(loops), l)
	s.loops.Store(&grown)
	return l
}

// findLoop returns the loop of el in loops, or nil.
func findLoop(loops []*loop, el gnet.EventLoop) *loop {
	for _, l := range loops {
		if l.el == el {
			return l
		}
	}
	return nil
}

// allLoops returns the loops seen so far. The slice is never modified.
func (s *Server) allLoops() []*loop {
	if p := s.loops.Load(); p != nil {
		return *p
	}
	return nil
}

// OnOpen implements gnet.EventHandler: it enforces maxClientCnxns and sets
// up the connection's state.
func (s *Server) OnOpen(c gnet.Conn) ([]byte, gnet.Action) {
	ip := remoteIP(c.RemoteAddr())
	s.mu.Lock()
	if s.cfg.MaxClientCnxns > 0 && s.perIP[ip] >= s.cfg.MaxClientCnxns {
		s.mu.Unlock()
		s.cfg.Logger.Warn("too many connections from one address", "ip", ip, "max", s.cfg.MaxClientCnxns)
		return nil, gnet.Close
	}
	s.perIP[ip]++
	s.mu.Unlock()
	l := s.loopOf(c)
	cn := newConn(l, c, ip, s.nextID.Add(1))
	c.SetContext(cn)
	l.conns[cn] = struct{}{}
	l.stats.connections++
	return nil, gnet.None
}

// OnClose implements gnet.EventHandler. The session outlives the
// connection until it expires or the client reconnects.
func (s *Server) OnClose(c gnet.Conn, _ error) gnet.Action {
	cn, ok := c.Context().(*conn)
	if !ok || cn == nil {
		return gnet.None
	}
	cn.closed = true
	l := cn.loop
	delete(l.conns, cn)
	l.watches.RemoveWatcher(cn)
	l.stats.connections--
	s.mu.Lock()
	if s.perIP[cn.ip]--; s.perIP[cn.ip] <= 0 {
		delete(s.perIP, cn.ip)
	}
	s.mu.Unlock()
	return gnet.None
}

// OnTraffic implements gnet.EventHandler: decode every complete frame,
// answer what can be answered now, flush once.
func (s *Server) OnTraffic(c gnet.Conn) gnet.Action {
	cn := c.Context().(*conn)
	l := cn.loop
	l.now = time.Now()
	l.catchUp()
	action := cn.onTraffic()
	l.flush()
	return action
}

// batchDone is the pipeline's hook after each batch: it wakes every loop
// when the batch published a View, so idle connections receive their watch
// events, and in any case the loops holding a backlog, since the batch made
// room in the queue.
func (s *Server) batchDone(published bool) {
	for _, l := range s.allLoops() {
		if published || l.backlogged.Load() {
			l.wake()
		}
	}
}

func remoteIP(a net.Addr) string {
	if t, ok := a.(*net.TCPAddr); ok {
		return t.IP.String()
	}
	host, _, err := net.SplitHostPort(a.String())
	if err != nil {
		return a.String()
	}
	return host
}

// negotiateTimeout clamps a requested session timeout (ms) to the bounds.
func (s *Server) negotiateTimeout(ms int32) int32 {
	lo := int32(s.cfg.MinSessionTimeout.Milliseconds())
	hi := int32(s.cfg.MaxSessionTimeout.Milliseconds())
	return min(max(ms, lo), hi)
}

// gnetLogger routes gnet's logs to slog.
type gnetLogger struct{ l *slog.Logger }

func (g gnetLogger) Debugf(f string, a ...any) { g.l.Debug("gnet: " + fmt.Sprintf(f, a...)) }
func (g gnetLogger) Infof(f string, a ...any)  { g.l.Debug("gnet: " + fmt.Sprintf(f, a...)) }
func (g gnetLogger) Warnf(f string, a ...any)  { g.l.Warn("gnet: " + fmt.Sprintf(f, a...)) }
func (g gnetLogger) Errorf(f string, a ...any) { g.l.Error("gnet: " + fmt.Sprintf(f, a...)) }
func (g gnetLogger) Fatalf(f string, a ...any) { g.l.Error("gnet: " + fmt.Sprintf(f, a...)) }

// hex formats a session id or zxid as ZooKeeper's Long.toHexString does.
func hex(v int64) string { return strconv.FormatUint(uint64(v), 16) }
