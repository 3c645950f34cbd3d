package config

import (
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	"github.com/meerkat-zk/meerkat/internal/atomicfile"
	"github.com/meerkat-zk/meerkat/membership"
)

// Member is one server.N line of zoo.cfg: a server of the ensemble.
type Member = membership.Server

// ReadDynamicConfig reads a dynamicConfigFile (or a membership file given
// to zkCli's reconfig -file, which ZooKeeper reads the same way): its
// server.N lines, in id order, and its version: version= (hex) if the
// file has one, else the hex suffix of its name (zoo.cfg.dynamic.100000000).
// Nothing else may be there. A missing file's error wraps fs.ErrNotExist.
func ReadDynamicConfig(path string) (membership.Config, error) {
	var c membership.Config
	f, err := os.Open(path)
	if err != nil {
		return c, fmt.Errorf("dynamicConfigFile: %w", err)
	}
	defer f.Close()
	props, err := readProperties(f)
	if err != nil {
		return c, fmt.Errorf("dynamicConfigFile %s: %w", path, err)
	}
	for _, p := range props {
		switch {
		case strings.HasPrefix(p.key, "server."):
			m, err := membership.ParseServer(p.key, p.value)
			if err != nil {
				return c, fmt.Errorf("dynamicConfigFile %s:%d: %w", path, p.line, err)
			}
			c.Servers = append(c.Servers, m)
		case p.key == "version":
			if c.Version, err = strconv.ParseInt(p.value, 16, 64); err != nil || c.Version < 0 {
				return c, fmt.Errorf("dynamicConfigFile %s:%d: version %q is not a hexadecimal zxid", path, p.line, p.value)
			}
		default:
			return c, fmt.Errorf("dynamicConfigFile %s:%d: %s does not belong in a dynamic configuration file", path, p.line, p.key)
		}
	}
	if c.Version == 0 {
		// ZooKeeper names the file after its version and writes no
		// version= into it.
		if i := strings.LastIndex(path, ".dynamic."); i >= 0 {
			if v, err := strconv.ParseInt(path[i+len(".dynamic."):], 16, 64); err == nil && v > 0 {
				c.Version = v
			}
		}
	}
	return c, c.Normalize()
}

// Membership is the ensemble as ZooKeeper prints it: each member's Line,
// then version= in hex.
func (c *Config) Membership() []string {
	return membership.Config{Servers: c.Members, Version: c.MembershipVersion}.Lines()
}

// Voters returns the members that vote (not observers).
func (c *Config) Voters() []Member {
	var out []Member
	for _, m := range c.Members {
		if !m.Observer {
			out = append(out, m)
		}
	}
	return out
}

// Distributed reports whether the configuration asks for a replicated
// ensemble, as ZooKeeper decides it: more than one voter, or any server.N
// line with standaloneEnabled=false. A single voter with standaloneEnabled
// (the official Docker image's default) runs standalone.
func (c *Config) Distributed() bool {
	return len(c.Voters()) > 1 || len(c.Members) > 0 && !c.StandaloneEnabled
}

// validateEnsemble checks the server.N lines and, for a server that runs
// standalone on one of them, takes its client address from the line.
func (c *Config) validateEnsemble() error {
	if c.DynamicConfigFile != "" && !c.dynamicRead {
		if len(c.Members) > 0 {
			return errors.New("server.N lines belong in the dynamicConfigFile when one is given, not in zoo.cfg")
		}
		mc, err := ReadDynamicConfig(c.DynamicConfigFile)
		if err != nil {
			return err
		}
		c.Members, c.MembershipVersion, c.dynamicRead = mc.Servers, mc.Version, true
	}
	slices.SortFunc(c.Members, func(a, b Member) int { return int(a.ID - b.ID) })
	for i := 1; i < len(c.Members); i++ {
		if c.Members[i].ID == c.Members[i-1].ID {
			return fmt.Errorf("server.%d is given twice", c.Members[i].ID)
		}
	}
	switch c.PeerType {
	case "", "participant", "observer":
	default:
		return fmt.Errorf("peerType %q must be participant or observer", c.PeerType)
	}
	if c.InitLimit < 0 || c.SyncLimit < 0 {
		return errors.New("initLimit and syncLimit must not be negative")
	}
	if !c.Distributed() {
		for _, w := range []struct {
			on  bool
			key string
		}{{c.LocalSessions, "localSessionsEnabled"}, {c.LocalSessionsUpgrading, "localSessionsUpgradingEnabled"}, {c.ReadOnlyMode, "readonlymode.enabled"}} {
			if w.on {
				c.warn(w.key + " has no effect on a standalone server, as in ZooKeeper")
			}
		}
	}
	if len(c.Members) == 0 {
		return nil
	}
	if !c.Distributed() {
		// Standalone on the single voter's line, as ZooKeeper runs it.
		return c.takeClientAddr(c.Voters()[0])
	}
	if !c.serverIDSet {
		id, err := readMyID(c.DataDir)
		if err != nil {
			return err
		}
		c.ServerID = id
	}
	self, ok := c.Self()
	if !ok {
		return fmt.Errorf("this server's id is %d (dataDir/myid), but no server.%d line names it", c.ServerID, c.ServerID)
	}
	role := "participant"
	if self.Observer {
		role = "observer"
	}
	if c.ReadOnlyMode && !slices.Contains(c.FourLetterWords, "isro") {
		// As ZooKeeper, which whitelists isro with read-only mode: clients
		// connected read-only ask with it for a read-write server.
		c.FourLetterWords = append(c.FourLetterWords, "isro")
	}
	if c.PeerType != "" && c.PeerType != role {
		c.warn(fmt.Sprintf("peerType=%s, but server.%d is a %s: the server line decides, as in ZooKeeper", c.PeerType, self.ID, role))
	}
	return c.takeClientAddr(self)
}

// takeClientAddr serves clients on the client address of m's line, unless
// zoo.cfg names one, which must agree.
func (c *Config) takeClientAddr(m Member) error {
	if m.ClientAddr == "" {
		return nil
	}
	host, p := "", m.ClientAddr
	if strings.Contains(m.ClientAddr, ":") {
		host, p, _ = net.SplitHostPort(m.ClientAddr)
	}
	cport, _ := membership.Port(p)
	switch {
	case c.clientPortSet && c.ClientPort != cport:
		return fmt.Errorf("clientPort %d differs from the client port %d of server.%d", c.ClientPort, cport, m.ID)
	case c.ClientPortAddress != "" && host != "" && c.ClientPortAddress != host:
		return fmt.Errorf("clientPortAddress %s differs from the client address %s of server.%d", c.ClientPortAddress, host, m.ID)
	}
	c.ClientPort, c.clientPortSet = cport, true
	if c.ClientPortAddress == "" {
		c.ClientPortAddress = host
	}
	return nil
}

// readMyID reads dataDir/myid, which names this server in an ensemble.
func readMyID(dataDir string) (int64, error) {
	path := filepath.Join(dataDir, "myid")
	b, err := os.ReadFile(path)
	if err != nil {
		return 0, fmt.Errorf("%s: every server of an ensemble needs its id (the N of its server.N line) in dataDir/myid: %w", path, err)
	}
	id, err := strconv.ParseInt(strings.TrimSpace(string(b)), 10, 64)
	if err != nil || id < 1 || id > 254 {
		return 0, fmt.Errorf("%s: %q is not a server id in [1, 254]", path, strings.TrimSpace(string(b)))
	}
	return id, nil
}

// Self returns this server's member line, in an ensemble.
func (c *Config) Self() (Member, bool) {
	for _, m := range c.Members {
		if m.ID == c.ServerID {
			return m, true
		}
	}
	return Member{}, false
}

// WriteMembership records a membership a reconfig made, as ZooKeeper does:
// a new dynamic configuration file next to zoo.cfg,
// <zoo.cfg>.dynamic.<version in hex>, and zoo.cfg pointing to it with
// dynamicConfigFile= (its server.N lines, if it had them, move there). It
// returns the new file's path; a configuration not loaded from a file
// writes nothing.
func (c *Config) WriteMembership(m membership.Config) (string, error) {
	if c.Path == "" {
		return "", nil
	}
	dynamic := fmt.Sprintf("%s.dynamic.%x", c.Path, m.Version)
	// The server lines only: the version is in the name, as ZooKeeper
	// writes it.
	if err := writeFileAtomic(dynamic, []byte(strings.Join(m.Lines()[:len(m.Servers)], "\n")+"\n")); err != nil {
		return "", err
	}
	static, err := os.ReadFile(c.Path)
	if err != nil {
		return "", fmt.Errorf("config: %w", err)
	}
	var lines []string
	hadServers := false
	for _, line := range strings.Split(strings.TrimRight(string(static), "\n"), "\n") {
		key, _, _ := strings.Cut(strings.TrimSpace(line), "=")
		key = strings.TrimSpace(key)
		hadServers = hadServers || strings.HasPrefix(key, "server.")
		if strings.HasPrefix(key, "server.") || key == "dynamicConfigFile" {
			continue
		}
		lines = append(lines, line)
	}
	if hadServers {
		// When the server lines leave zoo.cfg, ZooKeeper keeps the file as
		// it was beside it.
		if err := writeFileAtomic(c.Path+".bak", static); err != nil {
			return "", err
		}
	}
	lines = append(lines, "dynamicConfigFile="+dynamic)
	if err := writeFileAtomic(c.Path, []byte(strings.Join(lines, "\n")+"\n")); err != nil {
		return "", err
	}
	c.DynamicConfigFile, c.Members, c.MembershipVersion = dynamic, m.Servers, m.Version
	return dynamic, nil
}

// writeFileAtomic replaces path with data: a synced temporary file renamed
// over it, so that a crash leaves the old file or the new one.
func writeFileAtomic(path string, data []byte) error {
	err := atomicfile.Write(path, func(f *os.File) error {
		_, err := f.Write(data)
		return err
	})
	if err != nil {
		return fmt.Errorf("config: %w", err)
	}
	return nil
}
