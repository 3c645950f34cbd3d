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
)

// Member is one server.N line of zoo.cfg: a server of the ensemble.
//
//	server.N=host:peerPort:electionPort[:participant|:observer][;[clientAddr:]clientPort]
type Member struct {
	// ID is N, the server's myid.
	ID int64
	// PeerAddr is host:peerPort, where the servers talk to each other.
	PeerAddr string
	// ElectionAddr is host:electionPort. ZooKeeper elects over it; Meerkat
	// elects over the peer port and only checks it parses.
	ElectionAddr string
	// Observer marks a member that replicates and serves clients but never
	// votes (":observer").
	Observer bool
	// ClientAddr is the client address after ';' ([clientAddr:]clientPort,
	// the host empty when only a port is given), "" when the line has none.
	ClientAddr string
}

// parseMember reads the value of key server.N.
func parseMember(key, value string) (Member, error) {
	id, err := strconv.ParseInt(strings.TrimPrefix(key, "server."), 10, 64)
	if err != nil || id < 1 || id > 254 {
		return Member{}, fmt.Errorf("%s: the server id must be a number in [1, 254]", key)
	}
	m := Member{ID: id}
	addrs, client, hasClient := strings.Cut(value, ";")
	if strings.Contains(addrs, "|") {
		return Member{}, fmt.Errorf("%s: several addresses for one server (multiAddress) are not supported", key)
	}
	host, rest, err := splitHost(addrs)
	if err != nil {
		return Member{}, fmt.Errorf("%s: %q: %w", key, value, err)
	}
	parts := strings.Split(rest, ":")
	if len(parts) < 2 || len(parts) > 3 {
		return Member{}, fmt.Errorf("%s: %q: want host:peerPort:electionPort[:participant|:observer]", key, value)
	}
	for i, p := range parts[:2] {
		if _, err := port(p); err != nil {
			return Member{}, fmt.Errorf("%s: %q: %s port: %w", key, value, []string{"peer", "election"}[i], err)
		}
	}
	m.PeerAddr, m.ElectionAddr = net.JoinHostPort(host, parts[0]), net.JoinHostPort(host, parts[1])
	if len(parts) == 3 {
		switch strings.ToLower(parts[2]) {
		case "participant":
		case "observer":
			m.Observer = true
		default:
			return Member{}, fmt.Errorf("%s: %q: the role must be participant or observer", key, value)
		}
	}
	if hasClient {
		client = strings.TrimSpace(client)
		chost, cport := "", client
		if i := strings.LastIndexByte(client, ':'); i >= 0 {
			var err error
			if chost, cport, err = net.SplitHostPort(client); err != nil {
				return Member{}, fmt.Errorf("%s: client address %q: %w", key, client, err)
			}
		}
		if _, err := port(cport); err != nil {
			return Member{}, fmt.Errorf("%s: client port %q: %w", key, cport, err)
		}
		m.ClientAddr = net.JoinHostPort(chost, cport)
		if chost == "" {
			m.ClientAddr = cport
		}
	}
	return m, nil
}

// splitHost splits "host:rest" or "[v6host]:rest".
func splitHost(s string) (host, rest string, err error) {
	if strings.HasPrefix(s, "[") {
		end := strings.IndexByte(s, ']')
		if end < 0 || end+1 >= len(s) || s[end+1] != ':' {
			return "", "", errors.New("an IPv6 address in brackets must be followed by :ports")
		}
		return s[1:end], s[end+2:], nil
	}
	host, rest, ok := strings.Cut(s, ":")
	if !ok || host == "" {
		return "", "", errors.New("want host:peerPort:electionPort")
	}
	return host, rest, nil
}

func port(s string) (int, error) {
	n, err := strconv.Atoi(s)
	if err != nil || n < 1 || n > 65535 {
		return 0, fmt.Errorf("%q is not a port", s)
	}
	return n, nil
}

// readDynamicConfig reads the server.N lines of a dynamicConfigFile and
// its version= (hex; nothing else may be there).
func readDynamicConfig(path string) (members []Member, version int64, err error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, 0, fmt.Errorf("dynamicConfigFile: %w", err)
	}
	defer f.Close()
	props, err := readProperties(f)
	if err != nil {
		return nil, 0, fmt.Errorf("dynamicConfigFile %s: %w", path, err)
	}
	for _, p := range props {
		switch {
		case strings.HasPrefix(p.key, "server."):
			m, err := parseMember(p.key, p.value)
			if err != nil {
				return nil, 0, fmt.Errorf("dynamicConfigFile %s:%d: %w", path, p.line, err)
			}
			members = append(members, m)
		case p.key == "version":
			if version, err = strconv.ParseInt(p.value, 16, 64); err != nil || version < 0 {
				return nil, 0, fmt.Errorf("dynamicConfigFile %s:%d: version %q is not a hexadecimal zxid", path, p.line, p.value)
			}
		default:
			return nil, 0, fmt.Errorf("dynamicConfigFile %s:%d: %s does not belong in a dynamic configuration file", path, p.line, p.key)
		}
	}
	return members, version, nil
}

// Line is the member as ZooKeeper prints it in the membership (conf and
// /zookeeper/config): server.N=host:peerPort:electionPort:role, then
// ;clientHost:clientPort when the line names a client port (host 0.0.0.0
// when it names none).
func (m Member) Line() string {
	_, election, _ := net.SplitHostPort(m.ElectionAddr)
	role := "participant"
	if m.Observer {
		role = "observer"
	}
	line := fmt.Sprintf("server.%d=%s:%s:%s", m.ID, m.PeerAddr, election, role)
	if client := m.ClientAddr; client != "" {
		if !strings.Contains(client, ":") {
			client = "0.0.0.0:" + client
		}
		line += ";" + client
	}
	return line
}

// Membership is the ensemble as ZooKeeper prints it: each member's Line,
// then version= in hex.
func (c *Config) Membership() []string {
	var lines []string
	for _, m := range c.Members {
		lines = append(lines, m.Line())
	}
	return append(lines, fmt.Sprintf("version=%x", c.MembershipVersion))
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
		members, version, err := readDynamicConfig(c.DynamicConfigFile)
		if err != nil {
			return err
		}
		c.Members, c.MembershipVersion, c.dynamicRead = members, version, true
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
				c.Warnings = append(c.Warnings, w.key+" has no effect on a standalone server, as in ZooKeeper")
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
		c.Warnings = append(c.Warnings, fmt.Sprintf("peerType=%s, but server.%d is a %s: the server line decides, as in ZooKeeper", c.PeerType, self.ID, role))
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
	cport, _ := port(p)
	switch {
	case c.clientPortSet && c.ClientPort != cport:
		return fmt.Errorf("clientPort %d differs from the client port %d of server.%d", c.ClientPort, cport, m.ID)
	case c.ClientPortAddress != "" && host != "" && c.ClientPortAddress != host:
		return fmt.Errorf("clientPortAddress %s differs from the client address %s of server.%d", c.ClientPortAddress, host, m.ID)
	}
	c.ClientPort = cport
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
