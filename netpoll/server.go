package netpoll

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/meerkat-zk/meerkat/internal/reactor"
	"github.com/meerkat-zk/meerkat/internal/tlsbridge"
	"github.com/meerkat-zk/meerkat/jute"
	"github.com/meerkat-zk/meerkat/pipeline"
	"github.com/meerkat-zk/meerkat/throttle"
	"github.com/meerkat-zk/meerkat/zkauth"
	"github.com/meerkat-zk/meerkat/zktls"
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
	// MaxWatches caps the watches one connection may hold
	// (meerkat.client.maxWatches; 0, the default, is no cap, as in
	// ZooKeeper): a request that would set one more closes the
	// connection after its reply, as a slow consumer is closed.
	MaxWatches int
	// MaxCnxns caps concurrent connections over every client, TLS ones
	// included (zookeeper.maxCnxns); 0 is no cap.
	MaxCnxns int
	// ConnThrottle limits the rate of new sessions and reconnects
	// (zookeeper.connection_throttle_*); the zero value is off.
	ConnThrottle throttle.Config
	// FourLetterWords is the whitelist of four-letter words; "*" allows all.
	FourLetterWords []string
	// SuperDigest is zookeeper.DigestAuthenticationProvider.superDigest:
	// "super:<base64 sha1>"; a client authenticating to it is a super user.
	SuperDigest string
	// Digest computes digest identities (the hash of
	// zookeeper.DigestAuthenticationProvider.digestAlg); the zero Digest
	// is ZooKeeper's SHA1.
	Digest zkauth.Digest
	// EnforceAuthSchemes, when not empty, is zookeeper.enforce.auth.schemes
	// with enforcement on: a connection without an identity of one of them
	// gets SESSIONCLOSEDREQUIRESASLAUTH for its first request other than
	// auth, and is closed, as in ZooKeeper 3.8.
	EnforceAuthSchemes []string
	// SkipACL turns every ACL check off (zookeeper.skipACL).
	SkipACL bool
	// LocalSessions is localSessionsEnabled on a member: dump lists the
	// local sessions apart.
	LocalSessions bool
	// MaxOutstanding is globalOutstandingLimit: past this many requests
	// read and not yet answered, over every connection, a connection with
	// a request of its own outstanding reads nothing more until its
	// requests are answered, as in ZooKeeper. 0 means ZooKeeper's default,
	// 1000.
	MaxOutstanding int
	// OutboundThrottleBytes is how many bytes of replies and events may
	// wait, unsent, for a client that is not reading them before the
	// connection's requests stop being read (TCP then holds the client
	// back). 0 means DefaultOutboundThrottleBytes.
	OutboundThrottleBytes int
	// SlowConsumerBytes is how many unsent bytes a connection may hold at
	// all, watch events included, before it is closed as a slow consumer.
	// It must exceed OutboundThrottleBytes + MaxBuffer, the most a
	// throttled connection holds without events. 0 means
	// DefaultSlowConsumerBytes.
	SlowConsumerBytes int
	// Loops is the number of event loops; 0 means one per CPU.
	Loops int
	// Info is what the conf, envi and dirs words report.
	Info Info
	// TLS, when set, serves TLS clients: on SecureAddr, and on Addr too
	// with PortUnification. A client's verified certificate authenticates
	// it under the x509 scheme.
	TLS *zktls.Context
	// SecureAddr is secureClientPortAddress:secureClientPort; empty for
	// none.
	SecureAddr string
	// PortUnification is client.portUnification: Addr takes TLS clients
	// as well as plaintext ones.
	PortUnification bool
	// X509SuperUser is zookeeper.X509AuthenticationProvider.superUser: a
	// client whose certificate has this subject is a super user.
	X509SuperUser string
	// Quorum, set on an ensemble member, reports its view of the ensemble
	// to srvr and mntr.
	Quorum func() Quorum
	// Logger receives the server's logs.
	Logger *slog.Logger
}

// Defaults of the flow-control limits.
const (
	// DefaultMaxOutstanding is ZooKeeper's globalOutstandingLimit.
	DefaultMaxOutstanding = 1000
	// DefaultOutboundThrottleBytes is one default jute.maxbuffer: room for
	// the largest reply to wait whole beyond what the kernel's socket
	// buffer holds (up to 4 MiB by Linux's default tcp_wmem). A client
	// that reads at all drains the kernel buffer before it gets here; one
	// that does not costs the server about twice this, plus events,
	// before TCP holds it back.
	DefaultOutboundThrottleBytes = 1 << 20
	// DefaultSlowConsumerBytes bounds what a connection that reads nothing
	// may hold, once throttled, in watch events (as nats-server's default
	// max_pending).
	DefaultSlowConsumerBytes = 64 << 20
)

// Info describes the server for the conf, envi and dirs four-letter words.
type Info struct {
	ClientPort int
	DataDir    string
	DataLogDir string
	ServerID   int64
	// Membership is set on an ensemble member.
	Membership *Membership
	// DirSize returns the bytes used under a directory (for dirs).
	DirSize func(dir string) int64
	// InitialConfig is the text of the configuration the server started
	// from (the initial_configuration admin command).
	InitialConfig string
	// LastSnapshot returns the zxid and time of the last durable
	// checkpoint (the last_snapshot admin command).
	LastSnapshot func() (zxid int64, at time.Time)
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
	if c.MaxOutstanding < 0 || c.OutboundThrottleBytes < 0 || c.SlowConsumerBytes < 0 {
		return errors.New("netpoll: globalOutstandingLimit and the outbound limits must not be negative")
	}
	if c.MaxOutstanding == 0 {
		c.MaxOutstanding = DefaultMaxOutstanding
	}
	if c.OutboundThrottleBytes == 0 {
		c.OutboundThrottleBytes = DefaultOutboundThrottleBytes
	}
	if c.SlowConsumerBytes == 0 {
		c.SlowConsumerBytes = max(DefaultSlowConsumerBytes, 2*(c.OutboundThrottleBytes+c.MaxBuffer))
	}
	if c.SlowConsumerBytes <= c.OutboundThrottleBytes+c.MaxBuffer {
		return fmt.Errorf("netpoll: meerkat.client.slowConsumerBytes %d must exceed meerkat.client.outboundThrottleBytes %d plus jute.maxbuffer %d",
			c.SlowConsumerBytes, c.OutboundThrottleBytes, c.MaxBuffer)
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	return nil
}

// Server serves ZooKeeper clients from a pipeline's state. It is the
// reactor.Handler of its connections.
type Server struct {
	cfg     Config
	pipe    *pipeline.Pipeline
	words   map[string]bool
	started time.Time
	rs      *reactor.Server
	// bridge terminates TLS (nil without TLS); secureLn is the secure
	// client port's listener.
	bridge   *tlsbridge.Bridge
	secureLn net.Listener

	// loops are the event loops' states, by reactor.Loop.Index; set once by
	// Start, read by the pipeline's goroutine too.
	loops atomic.Pointer[[]*loop]
	mu    sync.Mutex // guards perIP and conns
	perIP map[string]int
	conns int
	// throttle is the connection-rate limit.
	throttle *throttle.Throttle
	// shed counts what the limits turned away, for the metrics.
	shed shedCounts
	// limitLog reports connections the limits turned away.
	limitLog rateLimitedLog
	nextID   atomic.Uint64
	// outstanding counts the requests read and not yet answered, over every
	// connection: ZooKeeper's in-flight count for globalOutstandingLimit.
	outstanding atomic.Int64
	// throttleLog reports globalOutstandingLimit being reached.
	throttleLog rateLimitedLog
	// authLog reports connections closed for not authenticating.
	authLog rateLimitedLog
	// mode is what srvr reports as Mode (standalone, leader, follower,
	// observer); "" while the server cannot serve (a member without a
	// leader).
	mode atomic.Pointer[string]
}

// Modes a server reports.
const (
	ModeStandalone = "standalone"
	ModeLeader     = "leader"
	ModeFollower   = "follower"
	ModeObserver   = "observer"
	// ModeReadOnly is a member without a leader that serves read-only
	// clients (readonlymode.enabled): reads from its state, NOTREADONLY to
	// writes and syncs, local sessions only.
	ModeReadOnly = "read-only"
	// ModeNotServing is a member that knows no leader: it drops its
	// clients and refuses new sessions until it has one again, so that
	// clients move to the majority before their sessions expire there.
	ModeNotServing = ""
)

// notServing is ZooKeeper's answer to most four-letter words meanwhile.
const notServing = "This ZooKeeper instance is not currently serving requests\n"

// New returns a server over pipe; Start runs it.
func New(cfg Config, pipe *pipeline.Pipeline) (*Server, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	s := &Server{
		cfg:   cfg,
		pipe:  pipe,
		words: map[string]bool{},
		perIP: map[string]int{},
	}
	standalone := ModeStandalone
	s.mode.Store(&standalone)
	s.throttleLog.logger, s.throttleLog.interval = cfg.Logger, 10*time.Second
	s.authLog.logger, s.authLog.interval = cfg.Logger, 10*time.Second
	s.limitLog.logger, s.limitLog.interval = cfg.Logger, 10*time.Second
	s.throttle = throttle.New(cfg.ConnThrottle, time.Now())
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
	rs, err := reactor.Listen(reactor.Config{Addr: s.cfg.Addr, Loops: s.cfg.Loops, Logger: s.cfg.Logger}, s)
	if err != nil {
		return fmt.Errorf("netpoll: %w", err)
	}
	loops := make([]*loop, len(rs.Loops()))
	for i, rl := range rs.Loops() {
		loops[i] = newLoop(s, rl)
	}
	s.loops.Store(&loops)
	s.rs = rs
	if err := s.startTLS(); err != nil {
		_ = rs.Stop(context.Background())
		return err
	}
	current.Store(s)
	rs.Start()
	return nil
}

// Stop closes every connection and the listener and waits for the loops.
func (s *Server) Stop(ctx context.Context) error {
	if s.rs == nil {
		return nil
	}
	s.stopTLS()
	err := s.rs.Stop(ctx)
	if s.bridge != nil {
		s.bridge.Close()
	}
	return err
}

// SetMode sets the mode the server reports; safe from any goroutine.
// Entering ModeNotServing closes every client connection with a session,
// and so does leaving ModeReadOnly (its sessions end with it).
func (s *Server) SetMode(mode string) {
	old := *s.mode.Swap(&mode)
	switch {
	case mode == old:
		return
	case mode == ModeNotServing:
		s.cfg.Logger.Info("no leader: closing every client connection until there is one")
	case old == ModeReadOnly:
		s.cfg.Logger.Info("leaving read-only mode: closing the read-only clients' connections")
	default:
		return
	}
	for _, l := range s.allLoops() {
		_ = l.rl.Execute(func() {
			for cn := range l.conns {
				if cn.state == stateConnecting || cn.state == stateOpen {
					cn.rc.Close()
				}
			}
		})
	}
}

// Mode returns the mode the server reports.
func (s *Server) Mode() string { return *s.mode.Load() }

// serving reports whether the server takes sessions now.
func (s *Server) serving() bool { return s.Mode() != ModeNotServing }

// Addr returns the address the server listens on.
func (s *Server) Addr() *net.TCPAddr { return s.rs.Addr() }

// allLoops returns the loops; nil before Start. The slice is never
// modified.
func (s *Server) allLoops() []*loop {
	if p := s.loops.Load(); p != nil {
		return *p
	}
	return nil
}

// connOf returns the connection state of c.
func connOf(c *reactor.Conn) *conn { return c.Context().(*conn) }

// OnOpen implements reactor.Handler: it enforces maxClientCnxns and sets
// up the connection's state.
func (s *Server) OnOpen(c *reactor.Conn) bool {
	ip := remoteIP(c.RemoteAddr())
	s.mu.Lock()
	if s.cfg.MaxClientCnxns > 0 && s.perIP[ip] >= s.cfg.MaxClientCnxns {
		s.mu.Unlock()
		s.shed.rejected.Add(1)
		s.limitLog.Info("refusing a connection: too many connections from one address (maxClientCnxns)", "ip", ip, "max", s.cfg.MaxClientCnxns)
		return false
	}
	if s.cfg.MaxCnxns > 0 && s.conns >= s.cfg.MaxCnxns {
		s.mu.Unlock()
		s.shed.rejected.Add(1)
		s.limitLog.Info("refusing a connection: too many connections (maxCnxns)", "ip", ip, "max", s.cfg.MaxCnxns)
		return false
	}
	s.perIP[ip]++
	s.conns++
	s.mu.Unlock()
	l := s.allLoops()[c.Loop().Index()]
	cn := newConn(l, c, ip, s.nextID.Add(1))
	c.SetContext(cn)
	l.conns[cn] = struct{}{}
	l.stats.connections++
	return true
}

// OnClose implements reactor.Handler. The session outlives the connection
// until it expires or the client reconnects.
func (s *Server) OnClose(c *reactor.Conn, _ error) {
	cn := connOf(c)
	cn.closed = true
	if cn.pausedFor != notPaused {
		pausedConns.Add(-1)
	}
	s.outstanding.Add(-int64(len(cn.queue)))
	l := cn.loop
	delete(l.conns, cn)
	l.watches.RemoveWatcher(cn)
	l.stats.connections--
	s.mu.Lock()
	if s.perIP[cn.ip]--; s.perIP[cn.ip] <= 0 {
		delete(s.perIP, cn.ip)
	}
	s.conns--
	s.mu.Unlock()
}

// OnRead implements reactor.Handler: decode the complete frames it may
// take now, answer what can be answered now, flush once.
func (s *Server) OnRead(c *reactor.Conn, in []byte) int {
	cn := connOf(c)
	l := cn.loop
	l.now = time.Now()
	l.catchUp()
	n := cn.onTraffic(in)
	l.flush()
	return n
}

// OnReadEOF implements reactor.Handler: the client has shut down its
// sending side. Every request it sent is answered, then the connection is
// closed; a four-letter word still gets its answer.
func (s *Server) OnReadEOF(c *reactor.Conn) {
	cn := connOf(c)
	cn.eof = true
	cn.closeIfDone()
	cn.loop.flush()
}

// OnDrained implements reactor.Handler: the client has taken every reply
// queued for it, so the requests held back for it may go on.
func (s *Server) OnDrained(c *reactor.Conn) {
	cn := connOf(c)
	l := cn.loop
	l.now = time.Now()
	l.catchUp()
	cn.unblock()
	l.flush()
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

// hex formats a session id or zxid as ZooKeeper's Long.toHexString does.
func hex(v int64) string { return strconv.FormatUint(uint64(v), 16) }
