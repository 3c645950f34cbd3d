// Package membership reads and writes an ensemble's membership as
// ZooKeeper spells it: the server.N lines of zoo.cfg or of a dynamic
// configuration file, and the text of /zookeeper/config (those lines and
// version=), and computes the membership a reconfig request asks for.
package membership

import (
	"errors"
	"fmt"
	"net"
	"slices"
	"strconv"
	"strings"
	"unicode"
)

// Server is one server.N line: a server of the ensemble.
//
//	server.N=host:peerPort:electionPort[:participant|:observer][;[clientAddr:]clientPort]
type Server struct {
	// ID is N, the server's myid.
	ID int64
	// PeerAddr is host:peerPort, where the servers talk to each other.
	PeerAddr string
	// ElectionAddr is host:electionPort. ZooKeeper elects over it; Meerkat
	// elects over the peer port and only checks it parses.
	ElectionAddr string
	// Observer marks a server that replicates and serves clients but never
	// votes (":observer").
	Observer bool
	// ClientAddr is the client address after ';' ([clientAddr:]clientPort,
	// the host empty when only a port is given), "" when the line has none.
	ClientAddr string
}

// ParseServer reads the value of key server.N.
func ParseServer(key, value string) (Server, error) {
	id, err := strconv.ParseInt(strings.TrimPrefix(key, "server."), 10, 64)
	if err != nil || id < 1 || id > 254 {
		return Server{}, fmt.Errorf("%s: the server id must be a number in [1, 254]", key)
	}
	m := Server{ID: id}
	value = strings.TrimSpace(value)
	addrs, client, hasClient := strings.Cut(value, ";")
	if strings.Contains(addrs, "|") {
		return Server{}, fmt.Errorf("%s: several addresses for one server (multiAddress) are not supported", key)
	}
	host, rest, err := splitHost(addrs)
	if err != nil {
		return Server{}, fmt.Errorf("%s: %q: %w", key, value, err)
	}
	parts := strings.Split(rest, ":")
	if len(parts) < 2 || len(parts) > 3 {
		return Server{}, fmt.Errorf("%s: %q: want host:peerPort:electionPort[:participant|:observer]", key, value)
	}
	for i, p := range parts[:2] {
		if _, err := Port(p); err != nil {
			return Server{}, fmt.Errorf("%s: %q: %s port: %w", key, value, []string{"peer", "election"}[i], err)
		}
	}
	m.PeerAddr, m.ElectionAddr = net.JoinHostPort(host, parts[0]), net.JoinHostPort(host, parts[1])
	if len(parts) == 3 {
		switch strings.ToLower(parts[2]) {
		case "participant":
		case "observer":
			m.Observer = true
		default:
			return Server{}, fmt.Errorf("%s: %q: the role must be participant or observer", key, value)
		}
	}
	if hasClient {
		client = strings.TrimSpace(client)
		chost, cport := "", client
		if i := strings.LastIndexByte(client, ':'); i >= 0 {
			var err error
			if chost, cport, err = net.SplitHostPort(client); err != nil {
				return Server{}, fmt.Errorf("%s: client address %q: %w", key, client, err)
			}
			if !validHost(chost) {
				return Server{}, fmt.Errorf("%s: client address %q: %q is not a host", key, client, chost)
			}
		}
		if _, err := Port(cport); err != nil {
			return Server{}, fmt.Errorf("%s: client port %q: %w", key, cport, err)
		}
		m.ClientAddr = net.JoinHostPort(chost, cport)
		if chost == "" {
			m.ClientAddr = cport
		}
	}
	return m, nil
}

// validHost reports whether h can stand in a membership's text: a host
// holding a bracket could not be split from its port again, and one
// holding a space or a control character (a newline, from a reconfig
// request) would not survive the text's lines. Either way the membership
// would print as text that does not parse.
func validHost(h string) bool {
	return !strings.ContainsFunc(h, func(r rune) bool {
		return r == '[' || r == ']' || unicode.IsSpace(r) || unicode.IsControl(r)
	})
}

// splitHost splits "host:rest" or "[v6host]:rest".
func splitHost(s string) (host, rest string, err error) {
	if strings.HasPrefix(s, "[") {
		end := strings.IndexByte(s, ']')
		if end < 0 || end+1 >= len(s) || s[end+1] != ':' {
			return "", "", errors.New("an IPv6 address in brackets must be followed by :ports")
		}
		host, rest = s[1:end], s[end+2:]
	} else {
		var ok bool
		if host, rest, ok = strings.Cut(s, ":"); !ok {
			return "", "", errors.New("want host:peerPort:electionPort")
		}
	}
	if host == "" {
		return "", "", errors.New("want host:peerPort:electionPort, with a host")
	}
	if !validHost(host) {
		return "", "", fmt.Errorf("%q is not a host", host)
	}
	return host, rest, nil
}

// Port reads a TCP port number.
func Port(s string) (int, error) {
	n, err := strconv.Atoi(s)
	if err != nil || n < 1 || n > 65535 {
		return 0, fmt.Errorf("%q is not a port", s)
	}
	return n, nil
}

// Line is the server as ZooKeeper prints it in the membership (conf and
// /zookeeper/config): server.N=host:peerPort:electionPort:role, then
// ;clientHost:clientPort when the line names a client port (host 0.0.0.0
// when it names none).
func (m Server) Line() string {
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

// Config is a membership: its servers, in id order, and its version (the
// zxid of the reconfig that made it; 0 for server lines in zoo.cfg).
type Config struct {
	Servers []Server
	Version int64
}

// Lines is the membership as ZooKeeper prints it: each server's Line,
// then version= in hex.
func (c Config) Lines() []string {
	var lines []string
	for _, m := range c.Servers {
		lines = append(lines, m.Line())
	}
	return append(lines, fmt.Sprintf("version=%x", c.Version))
}

// Text is /zookeeper/config's data: the Lines without a final newline.
func (c Config) Text() string { return strings.Join(c.Lines(), "\n") }

// Voters returns the servers that vote (not observers).
func (c Config) Voters() []Server {
	var out []Server
	for _, m := range c.Servers {
		if !m.Observer {
			out = append(out, m)
		}
	}
	return out
}

// Server returns the server with id.
func (c Config) Server(id int64) (Server, bool) {
	for _, m := range c.Servers {
		if m.ID == id {
			return m, true
		}
	}
	return Server{}, false
}

// Parse reads a membership: server.N= lines and version= (hex), one per
// line; blank lines are skipped.
func Parse(text string) (Config, error) {
	var c Config
	for _, line := range strings.Split(text, "\n") {
		line = strings.TrimSpace(line)
		if line == "" {
			continue
		}
		key, value, ok := strings.Cut(line, "=")
		key = strings.TrimSpace(key)
		switch {
		case !ok:
			return Config{}, fmt.Errorf("membership: %q is not key=value", line)
		case key == "version":
			v, err := strconv.ParseInt(strings.TrimSpace(value), 16, 64)
			if err != nil || v < 0 {
				return Config{}, fmt.Errorf("membership: version %q is not a hexadecimal zxid", value)
			}
			c.Version = v
		case strings.HasPrefix(key, "server."):
			m, err := ParseServer(key, value)
			if err != nil {
				return Config{}, err
			}
			c.Servers = append(c.Servers, m)
		default:
			return Config{}, fmt.Errorf("membership: %s does not belong in a membership", key)
		}
	}
	return c, c.Normalize()
}

// Normalize sorts the servers by id and refuses an id given twice.
func (c *Config) Normalize() error {
	slices.SortFunc(c.Servers, func(a, b Server) int { return int(a.ID - b.ID) })
	for i := 1; i < len(c.Servers); i++ {
		if c.Servers[i].ID == c.Servers[i-1].ID {
			return fmt.Errorf("server.%d is given twice", c.Servers[i].ID)
		}
	}
	return nil
}

// RaftIDs splits servers into raft's voters and learners (the observers),
// by server id.
func RaftIDs(servers []Server) (voters, learners []uint64) {
	for _, srv := range servers {
		if srv.Observer {
			learners = append(learners, uint64(srv.ID))
		} else {
			voters = append(voters, uint64(srv.ID))
		}
	}
	return voters, learners
}
