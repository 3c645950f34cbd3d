// Package config reads a ZooKeeper-style zoo.cfg into Meerkat's Config. It
// accepts zoo.cfg's own keys and, under their full names, the ZooKeeper
// settings that are Java system properties there (jute.maxbuffer,
// zookeeper.extendedTypesEnabled, znode.container.checkIntervalMs, ...), as
// well as the short "extendedTypesEnabled" form ZooKeeper turns into
// "zookeeper.extendedTypesEnabled".
package config

import (
	"bufio"
	"embed"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/meerkat-zk/meerkat/membership"
	"github.com/meerkat-zk/meerkat/throttle"
	"github.com/meerkat-zk/meerkat/zkauth"
)

// Config is the whole server configuration.
type Config struct {
	// TickTime is ZooKeeper's basic time unit (tickTime, ms in the file).
	TickTime time.Duration
	// DataDir holds the snapshots (dataDir).
	DataDir string
	// DataLogDir holds the write-ahead log (dataLogDir; defaults to DataDir).
	DataLogDir string
	// ClientPort is the client port (clientPort).
	ClientPort int
	// ClientPortAddress is the address to bind (clientPortAddress); empty
	// means all interfaces.
	ClientPortAddress string
	// MinSessionTimeout and MaxSessionTimeout bound negotiated timeouts
	// (ms in the file); they default to 2 and 20 ticks.
	MinSessionTimeout time.Duration
	MaxSessionTimeout time.Duration
	// MaxClientCnxns caps connections per client IP (0 = no cap; default 60).
	MaxClientCnxns int
	// MaxCnxns caps connections over every client (zookeeper.maxCnxns; 0 =
	// no cap, the default).
	MaxCnxns int
	// SelectorThreads is the number of event loops that serve the client
	// connections (zookeeper.nio.numSelectorThreads, the selector threads
	// of ZooKeeper's NIO server); 0, the default, means one per
	// Go scheduler processor (GOMAXPROCS: the cores + 1 in the server).
	SelectorThreads int
	// ConnThrottle is zookeeper.connection_throttle_*: the rate limit on
	// new sessions and reconnects (off by default).
	ConnThrottle throttle.Config
	// RequestThrottleMax is zookeeper.request_throttle_max_requests: like
	// globalOutstandingLimit, a cap on the requests read and not yet
	// answered (the lower of the two holds; 0 = none, the default).
	RequestThrottleMax int
	// GlobalOutstandingLimit is zookeeper.globalOutstandingLimit: past
	// this many requests read and not yet answered, connections with a
	// request outstanding stop reading (0 means ZooKeeper's 1000).
	GlobalOutstandingLimit int
	// ClientOutboundThrottleBytes is meerkat.client.outboundThrottleBytes:
	// the bytes of replies a client may leave unread before its requests
	// stop being read (0 means 1 MiB).
	ClientOutboundThrottleBytes int
	// ClientMaxWatches is meerkat.client.maxWatches: the watches one
	// connection may hold before it is closed (0, the default: no cap).
	ClientMaxWatches int
	// ClientSlowConsumerBytes is meerkat.client.slowConsumerBytes: the
	// unsent bytes, watch events included, past which a connection is
	// closed as a slow consumer (0 means 64 MiB).
	ClientSlowConsumerBytes int
	// RaftKeepEntries is meerkat.raft.keepEntries: how many raft entries
	// an ensemble member keeps before what its checkpoint covers, for
	// members slightly behind; one further behind is sent a snapshot (0
	// means 10000).
	RaftKeepEntries uint64
	// FourLetterWords is 4lw.commands.whitelist ("*" for all; default srvr).
	FourLetterWords []string
	// MaxBuffer is jute.maxbuffer in bytes.
	MaxBuffer int
	// ExtendedTypes enables TTL nodes (zookeeper.extendedTypesEnabled).
	ExtendedTypes bool
	// EnforceQuota refuses writes past a quota's hard limits
	// (zookeeper.enforceQuota).
	EnforceQuota bool
	// ContainerCheckInterval is znode.container.checkIntervalMs.
	ContainerCheckInterval time.Duration
	// ContainerMaxPerMinute is znode.container.maxPerMinute.
	ContainerMaxPerMinute int
	// ContainerMaxNeverUsed is znode.container.maxNeverUsedIntervalMs.
	ContainerMaxNeverUsed time.Duration
	// SuperDigest is zookeeper.DigestAuthenticationProvider.superDigest.
	SuperDigest string
	// DigestAlgorithm is zookeeper.DigestAuthenticationProvider.digestAlg:
	// the hash of digest identities (default SHA1).
	DigestAlgorithm string
	// EnforceAuth is zookeeper.enforce.auth.enabled: a connection that has
	// no identity of one of EnforceAuthSchemes
	// (zookeeper.enforce.auth.schemes) gets SESSIONCLOSEDREQUIRESASLAUTH
	// for its first request other than auth, and is closed.
	EnforceAuth        bool
	EnforceAuthSchemes []string
	// SkipACL is zookeeper.skipACL.
	SkipACL bool
	// ReconfigEnabled is reconfigEnabled: whether an ensemble takes the
	// reconfig opcode (ZooKeeper's default: false).
	ReconfigEnabled bool
	// ServerID is the server's id (myid); a standalone server uses 1 in its
	// session ids, as ZooKeeper does.
	ServerID int64
	// ForceSync is forceSync (zookeeper.forceSync): fdatasync the log
	// before acknowledging a write. Turning it off is for tests only.
	ForceSync bool
	// AdminSnapshot is admin.snapshot.enabled (ZooKeeper 3.9's key): serve
	// /commands/snapshot, every znode without authentication. Off unless
	// asked for.
	AdminSnapshot bool
	// AdminProfiler is meerkat.admin.pprof.enabled: serve Go's profiler on
	// the admin server. Off unless asked for.
	AdminProfiler bool
	// MetricsPrometheus is metricsProvider.className set to ZooKeeper's
	// PrometheusMetricsProvider: serve /metrics on MetricsAddr, under
	// ZooKeeper's metric names.
	MetricsPrometheus bool
	// MetricsHTTPHost and MetricsHTTPPort are metricsProvider.httpHost
	// (default 0.0.0.0) and metricsProvider.httpPort (default 7000).
	MetricsHTTPHost string
	MetricsHTTPPort int
	// DataDirAutocreate is zookeeper.datadir.autocreate (default true):
	// false makes a server whose data directories are missing refuse to
	// start rather than begin an empty database (a volume not mounted).
	DataDirAutocreate bool
	// SnapCount is zookeeper.snapCount: how many transactions may pile up
	// in the log before a checkpoint is flushed.
	SnapCount int
	// PreAllocSize is zookeeper.preAllocSize, in bytes (KiB in the file):
	// the size each log segment is preallocated to; a new segment starts
	// when one is full, and whole segments behind a checkpoint are removed.
	// 0 means ZooKeeper's default, 64 MiB.
	PreAllocSize int64
	// AdminEnabled, AdminAddress and AdminPort configure the HTTP admin
	// server (admin.enableServer, admin.serverAddress, admin.serverPort):
	// /metrics, /commands/snapshot and /debug/pprof/. It has no
	// authentication and a snapshot holds every znode, ACL-protected ones
	// included, so unlike ZooKeeper (0.0.0.0) it binds 127.0.0.1 unless
	// told otherwise.
	AdminEnabled bool
	AdminAddress string
	AdminPort    int
	// Members are the server.N lines (or those of DynamicConfigFile). One
	// voter with StandaloneEnabled runs standalone on its client address;
	// more make a replicated ensemble.
	Members []Member
	// MembershipVersion is the version= of DynamicConfigFile (hex there),
	// 0 for server.N lines in zoo.cfg, as in ZooKeeper.
	MembershipVersion int64
	// PeerType is peerType: participant (the default) or observer.
	PeerType string
	// InitLimit and SyncLimit are ZooKeeper's follower time limits, in
	// ticks (initLimit, syncLimit); accepted and checked.
	InitLimit, SyncLimit int
	// StandaloneEnabled is standaloneEnabled (default true): a single
	// server.N line then runs standalone, as ZooKeeper does.
	StandaloneEnabled bool
	// DynamicConfigFile is dynamicConfigFile: a file holding the server.N
	// lines instead of zoo.cfg.
	DynamicConfigFile string
	// LocalSessions is localSessionsEnabled: a member opens new sessions
	// on its own, without a log entry; they live on that member only, own
	// no ephemerals and cannot move to another member.
	LocalSessions bool
	// LocalSessionsUpgrading is localSessionsUpgradingEnabled: a local
	// session that creates an ephemeral becomes a global one first (else
	// the create fails EPHEMERALONLOCALSESSION).
	LocalSessionsUpgrading bool
	// ReadOnlyMode is readonlymode.enabled (a JVM system property for
	// ZooKeeper; a zoo.cfg key here): a member cut off from its quorum
	// serves read-only clients instead of none.
	ReadOnlyMode bool
	// TLS is the client port's TLS: secureClientPort, ssl.*,
	// client.portUnification and x509 authentication.
	TLS ClientTLS
	// QuorumTLS is the peer port's TLS: sslQuorum and ssl.quorum.*.
	QuorumTLS QuorumTLS
	// Path is the zoo.cfg the configuration was loaded from ("" for the
	// embedded default): a reconfig rewrites it (WriteMembership).
	Path string
	// Unknown lists keys that were not recognised, for a warning.
	Unknown []string
	// Warnings are things the configuration got wrong that ZooKeeper
	// tolerates, with what was done instead, for the log.
	Warnings []string
	// clientPortSet records that clientPort was given; dynamicRead that
	// Members came from DynamicConfigFile.
	clientPortSet, dynamicRead bool
	// serverIDSet records that serverId was given (rather than a myid file).
	serverIDSet bool
}

//go:embed default.cfg
var embedded embed.FS

// DefaultText returns the embedded default configuration's text.
func DefaultText() string {
	b, _ := embedded.ReadFile("default.cfg")
	return string(b)
}

// Default returns the embedded default configuration: standalone on
// 127.0.0.1:2181 with data under ./data.
func Default() (*Config, error) {
	f, err := embedded.Open("default.cfg")
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return Parse(f, "default.cfg")
}

// Load reads and validates the zoo.cfg at path.
func Load(path string) (*Config, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("config: %w", err)
	}
	defer f.Close()
	c, err := Parse(f, path)
	if c != nil {
		c.Path = path
	}
	return c, err
}

// Parse reads a zoo.cfg from r; name is used in errors.
func Parse(r io.Reader, name string) (*Config, error) {
	props, err := readProperties(r)
	if err != nil {
		return nil, fmt.Errorf("config: %s: %w", name, err)
	}
	c := &Config{MaxClientCnxns: 60, ConnThrottle: throttle.Default(), FourLetterWords: []string{"srvr"}, ForceSync: true, DataDirAutocreate: true,
		SnapCount: 100000, AdminEnabled: true, AdminAddress: "127.0.0.1", AdminPort: 8080, StandaloneEnabled: true,
		MetricsHTTPHost: "0.0.0.0", MetricsHTTPPort: 7000}
	for _, p := range props {
		if err := c.Set(p.key, p.value); err != nil {
			return nil, fmt.Errorf("config: %s:%d: %w", name, p.line, err)
		}
	}
	if err := c.Validate(); err != nil {
		return nil, fmt.Errorf("config: %s: %w", name, err)
	}
	return c, nil
}

// Set applies one key=value, as it would appear in zoo.cfg. Flags use it to
// override the file.
func (c *Config) Set(key, value string) error {
	value = strings.TrimSpace(value)
	var err error
	switch canonical(key) {
	case "tickTime":
		c.TickTime, err = millis(key, value)
	case "dataDir":
		c.DataDir = value
	case "dataLogDir":
		c.DataLogDir = value
	case "clientPort":
		c.ClientPort, err = integer(key, value)
		c.clientPortSet = true
	case "clientPortAddress":
		c.ClientPortAddress = value
	case "minSessionTimeout":
		c.MinSessionTimeout, err = millis(key, value)
	case "maxSessionTimeout":
		c.MaxSessionTimeout, err = millis(key, value)
	case "maxClientCnxns":
		c.MaxClientCnxns, err = integer(key, value)
	case "zookeeper.maxCnxns":
		c.MaxCnxns, err = integer(key, value)
	case "zookeeper.nio.numSelectorThreads":
		c.SelectorThreads, err = count(key, value)
	case "zookeeper.request_throttle_max_requests", "requestThrottleLimit":
		c.RequestThrottleMax, err = integer(key, value)
	case "zookeeper.globalOutstandingLimit":
		c.GlobalOutstandingLimit, err = integer(key, value)
	case "meerkat.client.outboundThrottleBytes":
		c.ClientOutboundThrottleBytes, err = integer(key, value)
	case "meerkat.client.maxWatches":
		c.ClientMaxWatches, err = integer(key, value)
	case "meerkat.client.slowConsumerBytes":
		c.ClientSlowConsumerBytes, err = integer(key, value)
	case "meerkat.raft.keepEntries":
		var n int
		n, err = count(key, value)
		c.RaftKeepEntries = uint64(n)
	case "4lw.commands.whitelist", "zookeeper.4lw.commands.whitelist":
		c.FourLetterWords = nil
		for _, w := range strings.Split(value, ",") {
			if w = strings.TrimSpace(w); w != "" {
				c.FourLetterWords = append(c.FourLetterWords, w)
			}
		}
	case "jute.maxbuffer":
		c.MaxBuffer, err = integer(key, value)
	case "zookeeper.extendedTypesEnabled":
		c.ExtendedTypes, err = boolean(key, value)
	case "zookeeper.enforceQuota":
		c.EnforceQuota, err = boolean(key, value)
	case "znode.container.checkIntervalMs":
		c.ContainerCheckInterval, err = millis(key, value)
	case "znode.container.maxPerMinute":
		c.ContainerMaxPerMinute, err = integer(key, value)
	case "znode.container.maxNeverUsedIntervalMs":
		c.ContainerMaxNeverUsed, err = millis(key, value)
	case "zookeeper.DigestAuthenticationProvider.superDigest":
		c.SuperDigest = value
	case "zookeeper.DigestAuthenticationProvider.digestAlg":
		c.DigestAlgorithm = value
		if _, err = zkauth.NewDigest(value); err != nil {
			err = fmt.Errorf("%s=%s is refused: %w", key, value, err)
		}
	case "zookeeper.enforce.auth.enabled":
		c.EnforceAuth, err = boolean(key, value)
	case "zookeeper.enforce.auth.schemes":
		c.EnforceAuthSchemes = nil
		for _, scheme := range strings.Split(value, ",") {
			c.EnforceAuthSchemes = append(c.EnforceAuthSchemes, strings.TrimSpace(scheme))
		}
	case "zookeeper.skipACL":
		c.SkipACL, err = boolean(key, value)
	case "reconfigEnabled":
		c.ReconfigEnabled, err = boolean(key, value)
	case "serverId":
		var id int
		id, err = integer(key, value)
		c.ServerID = int64(id)
		c.serverIDSet = true
	case "zookeeper.forceSync":
		c.ForceSync, err = boolean(key, value)
	case "zookeeper.datadir.autocreate":
		c.DataDirAutocreate, err = boolean(key, value)
	case "zookeeper.snapCount":
		c.SnapCount, err = integer(key, value)
	case "zookeeper.preAllocSize":
		var kb int
		kb, err = integer(key, value)
		c.PreAllocSize = int64(kb) << 10
	case "admin.enableServer", "zookeeper.admin.enableServer":
		c.AdminEnabled, err = boolean(key, value)
	case "admin.serverAddress", "zookeeper.admin.serverAddress":
		c.AdminAddress = value
	case "admin.serverPort", "zookeeper.admin.serverPort":
		c.AdminPort, err = integer(key, value)
	case "admin.snapshot.enabled", "zookeeper.admin.snapshot.enabled":
		c.AdminSnapshot, err = boolean(key, value)
	case "meerkat.admin.pprof.enabled":
		c.AdminProfiler, err = boolean(key, value)
	case "initLimit":
		c.InitLimit, err = integer(key, value)
	case "syncLimit":
		c.SyncLimit, err = integer(key, value)
	case "standaloneEnabled":
		c.StandaloneEnabled, err = boolean(key, value)
	case "peerType":
		c.PeerType = strings.ToLower(value)
	case "dynamicConfigFile":
		c.DynamicConfigFile = value
	case "localSessionsEnabled":
		c.LocalSessions, err = boolean(key, value)
	case "localSessionsUpgradingEnabled":
		c.LocalSessionsUpgrading, err = boolean(key, value)
	case "readonlymode.enabled":
		c.ReadOnlyMode, err = boolean(key, value)
	case "metricsProvider.className":
		switch value {
		case PrometheusMetricsProvider:
			c.MetricsPrometheus = true
		case "org.apache.zookeeper.metrics.impl.DefaultMetricsProvider", "org.apache.zookeeper.metrics.impl.NullMetricsProvider":
			c.MetricsPrometheus = false
		default:
			err = fmt.Errorf("%s=%s: Meerkat has ZooKeeper's Prometheus provider built in (%s) and cannot load Java classes", key, value, PrometheusMetricsProvider)
		}
	case "metricsProvider.httpHost":
		c.MetricsHTTPHost = value
	case "metricsProvider.httpPort":
		c.MetricsHTTPPort, err = integer(key, value)
	default:
		switch {
		case strings.HasPrefix(key, "server."):
			var m Member
			if m, err = membership.ParseServer(key, value); err == nil {
				c.Members = append(c.Members, m)
			}
		case strings.HasPrefix(key, "group.") || strings.HasPrefix(key, "weight."):
			return fmt.Errorf("%s: hierarchical quorums (group.N, weight.N) are not supported", key)
		default:
			if known, err := c.setTLS(key, value); known {
				return err
			}
			if known, err := c.setConnThrottle(key, value); known {
				return err
			}
			return c.unhandled(key, value)
		}
	}
	return err
}

// warn records a warning once (Validate runs again after flags override
// the file).
func (c *Config) warn(w string) {
	if !slices.Contains(c.Warnings, w) {
		c.Warnings = append(c.Warnings, w)
	}
}

// canonical maps a zoo.cfg key to one name: zoo.cfg keys that ZooKeeper
// turns into "zookeeper."-prefixed system properties are accepted in both
// forms.
func canonical(key string) string {
	switch key {
	case "extendedTypesEnabled", "enforceQuota", "skipACL", "forceSync", "snapCount", "preAllocSize",
		"globalOutstandingLimit", "datadir.autocreate", "maxCnxns", "request_throttle_max_requests",
		"nio.numSelectorThreads":
		return "zookeeper." + key
	case "DigestAuthenticationProvider.superDigest", "DigestAuthenticationProvider.digestAlg",
		"enforce.auth.enabled", "enforce.auth.schemes":
		return "zookeeper." + key
	}
	return key
}

// Validate fills defaults and rejects impossible combinations.
func (c *Config) Validate() error {
	if c.TickTime <= 0 {
		return errors.New("tickTime must be a positive number of ms")
	}
	if c.DataDir == "" {
		return errors.New("dataDir is required")
	}
	if c.DataLogDir == "" {
		c.DataLogDir = c.DataDir
	}
	if err := c.validateEnsemble(); err != nil {
		return err
	}
	if err := c.validateTLS(); err != nil {
		return err
	}
	if !c.clientPortSet {
		if c.ClientPortAddress != "" {
			// ZooKeeper's words.
			return errors.New("clientPortAddress is set but clientPort is not set")
		}
		if c.TLS.SecurePort == 0 {
			c.warn("clientPort is not set: Meerkat serves clients on a port the kernel picks (logged at start), where ZooKeeper would serve none")
		}
	}
	if c.ClientPort < 0 || c.ClientPort > 65535 {
		return fmt.Errorf("clientPort %d is out of range", c.ClientPort)
	}
	if c.ClientPortAddress != "" && net.ParseIP(c.ClientPortAddress) == nil {
		if _, err := net.LookupHost(c.ClientPortAddress); err != nil {
			return fmt.Errorf("clientPortAddress %q: %w", c.ClientPortAddress, err)
		}
	}
	if c.MinSessionTimeout <= 0 {
		c.MinSessionTimeout = 2 * c.TickTime
	}
	if c.MaxSessionTimeout <= 0 {
		c.MaxSessionTimeout = 20 * c.TickTime
	}
	if c.MinSessionTimeout > c.MaxSessionTimeout {
		return fmt.Errorf("minSessionTimeout %v must not be larger than maxSessionTimeout %v",
			c.MinSessionTimeout, c.MaxSessionTimeout)
	}
	if c.MaxClientCnxns < 0 {
		return errors.New("maxClientCnxns must not be negative")
	}
	for _, v := range []struct {
		key   string
		value int
	}{
		{"globalOutstandingLimit", c.GlobalOutstandingLimit},
		{"maxCnxns", c.MaxCnxns},
		{"meerkat.client.maxWatches", c.ClientMaxWatches},
		{"zookeeper.request_throttle_max_requests", c.RequestThrottleMax},
		{"zookeeper.connection_throttle_tokens", c.ConnThrottle.Tokens},
		{"meerkat.client.outboundThrottleBytes", c.ClientOutboundThrottleBytes},
		{"meerkat.client.slowConsumerBytes", c.ClientSlowConsumerBytes},
	} {
		if v.value < 0 {
			return fmt.Errorf("%s %d must not be negative", v.key, v.value)
		}
	}
	if c.MaxBuffer == 0 {
		c.MaxBuffer = 0xfffff
	}
	if c.MaxBuffer < 1024 {
		return fmt.Errorf("jute.maxbuffer %d is too small (at least 1024)", c.MaxBuffer)
	}
	if c.SnapCount <= 0 {
		return fmt.Errorf("snapCount %d must be positive", c.SnapCount)
	}
	if c.PreAllocSize < 0 || c.PreAllocSize > 0 && c.PreAllocSize < 64<<10 {
		return fmt.Errorf("preAllocSize %d KiB must be at least 64", c.PreAllocSize>>10)
	}
	if c.MetricsHTTPPort < 0 || c.MetricsHTTPPort > 65535 {
		return fmt.Errorf("metricsProvider.httpPort %d is out of range", c.MetricsHTTPPort)
	}
	if c.AdminPort < 0 || c.AdminPort > 65535 {
		return fmt.Errorf("admin.serverPort %d is out of range", c.AdminPort)
	}
	if c.ContainerCheckInterval <= 0 {
		c.ContainerCheckInterval = time.Minute
	}
	if c.ContainerMaxPerMinute <= 0 {
		c.ContainerMaxPerMinute = 10000
	}
	if c.ServerID == 0 {
		c.ServerID = 1
	}
	if c.ServerID < 0 || c.ServerID > 254 {
		return fmt.Errorf("server id %d must be in [1, 254]", c.ServerID)
	}
	if err := c.validateEnforceAuth(); err != nil {
		return err
	}
	if c.SuperDigest != "" && !strings.Contains(c.SuperDigest, ":") {
		return errors.New("zookeeper.DigestAuthenticationProvider.superDigest must be user:base64digest")
	}
	return nil
}

// CheckpointDir is where the pebble checkpoint lives, under dataDir.
func (c *Config) CheckpointDir() string { return filepath.Join(c.DataDir, "checkpoint") }

// WALDir is where the write-ahead log lives, under dataLogDir.
func (c *Config) WALDir() string { return filepath.Join(c.DataLogDir, "wal") }

// RaftDir is where a member of an ensemble keeps its raft log, under
// dataLogDir.
func (c *Config) RaftDir() string { return filepath.Join(c.DataLogDir, "raft") }

// AdminAddr is the address of the HTTP admin server.
func (c *Config) AdminAddr() string {
	return net.JoinHostPort(c.AdminAddress, strconv.Itoa(c.AdminPort))
}

// PrometheusMetricsProvider is the metricsProvider.className of ZooKeeper's
// Prometheus provider, which Meerkat has built in.
const PrometheusMetricsProvider = "org.apache.zookeeper.metrics.prometheus.PrometheusMetricsProvider"

// MetricsAddr is the metrics provider's listen address.
func (c *Config) MetricsAddr() string {
	return net.JoinHostPort(c.MetricsHTTPHost, strconv.Itoa(c.MetricsHTTPPort))
}

// ClientAddr is the address to listen on for clients.
func (c *Config) ClientAddr() string {
	if !c.clientPortSet && c.TLS.SecurePort != 0 {
		// Secure clients only, as in ZooKeeper.
		return ""
	}
	return net.JoinHostPort(c.ClientPortAddress, strconv.Itoa(c.ClientPort))
}

// Abs makes the data directories absolute, relative to the working
// directory, so that the four-letter words report them unambiguously.
func (c *Config) Abs() error {
	for _, d := range []*string{&c.DataDir, &c.DataLogDir} {
		abs, err := filepath.Abs(*d)
		if err != nil {
			return fmt.Errorf("config: %w", err)
		}
		*d = abs
	}
	return nil
}

func integer(key, v string) (int, error) {
	n, err := strconv.Atoi(v)
	if err != nil {
		return 0, fmt.Errorf("%s: %q is not an integer", key, v)
	}
	return n, nil
}

// count reads an integer that must be at least 1.
func count(key, v string) (int, error) {
	n, err := integer(key, v)
	if err == nil && n < 1 {
		return 0, fmt.Errorf("%s: %d must be at least 1", key, n)
	}
	return n, err
}

func millis(key, v string) (time.Duration, error) {
	n, err := strconv.ParseInt(v, 10, 64)
	if err != nil {
		return 0, fmt.Errorf("%s: %q is not a number of ms", key, v)
	}
	return time.Duration(n) * time.Millisecond, nil
}

func boolean(key, v string) (bool, error) {
	switch strings.ToLower(v) {
	case "true", "yes":
		return true, nil
	case "false", "no":
		return false, nil
	}
	return false, fmt.Errorf("%s: %q is not true/false/yes/no", key, v)
}

type property struct {
	key, value string
	line       int
}

// readProperties reads the Java properties format zoo.cfg uses: key=value
// or key:value or key value, # and ! comments, backslash continuations.
func readProperties(r io.Reader) ([]property, error) {
	var out []property
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	n := 0
	for sc.Scan() {
		n++
		start := n
		line := strings.TrimLeft(sc.Text(), " \t\f")
		if line == "" || line[0] == '#' || line[0] == '!' {
			continue
		}
		for strings.HasSuffix(line, "\\") && !strings.HasSuffix(line, "\\\\") && sc.Scan() {
			n++
			line = line[:len(line)-1] + strings.TrimLeft(sc.Text(), " \t\f")
		}
		i := strings.IndexAny(line, "=: \t")
		if i < 0 {
			out = append(out, property{key: line, line: start})
			continue
		}
		key := line[:i]
		rest := strings.TrimLeft(line[i:], " \t")
		if rest != "" && (rest[0] == '=' || rest[0] == ':') {
			rest = strings.TrimLeft(rest[1:], " \t")
		}
		out = append(out, property{key: key, value: rest, line: start})
	}
	return out, sc.Err()
}

// validateEnforceAuth checks enforce.auth as ZooKeeper's
// AuthenticationHelper does: schemes are required, and each must have a
// provider (ip, digest, and x509 when registered; Meerkat has no sasl).
func (c *Config) validateEnforceAuth() error {
	if !c.EnforceAuth {
		return nil
	}
	if len(c.EnforceAuthSchemes) == 0 {
		// ZooKeeper's words.
		return errors.New("zookeeper.enforce.auth.enabled is true zookeeper.enforce.auth.schemes must be  configured.")
	}
	for _, scheme := range c.EnforceAuthSchemes {
		switch {
		case scheme == "ip", scheme == "digest", scheme == "x509" && c.TLS.X509():
		case scheme == "sasl":
			return errors.New("Authentication scheme sasl is not available: Meerkat has no SASL yet")
		default:
			return fmt.Errorf("Authentication scheme %s is not available.", scheme)
		}
	}
	return nil
}

// setConnThrottle applies a zookeeper.connection_throttle_* key (ZooKeeper
// reads them as system properties; zoo.cfg's spelling lacks the prefix),
// and reports whether key is one.
func (c *Config) setConnThrottle(key, value string) (bool, error) {
	t := &c.ConnThrottle
	name, ok := strings.CutPrefix(strings.TrimPrefix(key, "zookeeper."), "connection_throttle_")
	if !ok {
		return false, nil
	}
	var err error
	ms := func(d *time.Duration) {
		var n int
		n, err = integer(key, value)
		*d = time.Duration(n) * time.Millisecond
	}
	real := func(f *float64) {
		if *f, err = strconv.ParseFloat(value, 64); err != nil {
			err = fmt.Errorf("%s: %q is not a number", key, value)
		}
	}
	switch name {
	case "tokens":
		t.Tokens, err = integer(key, value)
	case "fill_time":
		ms(&t.FillTime)
	case "fill_count":
		t.FillCount, err = integer(key, value)
	case "freeze_time":
		ms(&t.FreezeTime)
	case "drop_increase":
		real(&t.DropIncrease)
	case "drop_decrease":
		real(&t.DropDecrease)
	case "decrease_ratio":
		real(&t.DecreaseRatio)
	case "weight_enabled":
		t.Weighted, err = boolean(key, value)
	case "global_session_weight":
		t.GlobalWeight, err = integer(key, value)
	case "local_session_weight":
		t.LocalWeight, err = integer(key, value)
	case "renew_session_weight":
		t.RenewWeight, err = integer(key, value)
	default:
		return false, nil
	}
	return true, err
}
