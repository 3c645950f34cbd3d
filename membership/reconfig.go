package membership

import (
	"errors"
	"fmt"
	"net"
	"strconv"
	"strings"
)

// ErrBadArguments marks a reconfig request ZooKeeper refuses with
// BADARGUMENTS; ErrMarshalling one it fails to read (a leaving server
// that is not a number: MARSHALLINGERROR).
var (
	ErrBadArguments = errors.New("bad arguments")
	ErrMarshalling  = errors.New("marshalling error")
)

// Request is the membership part of a reconfig request: servers joining
// (server.N=... specs) and leaving (ids), comma-separated, for an
// incremental change; or, when NewMembers is not nil, the whole new
// membership (server.N=... specs, comma-separated).
type Request struct {
	Joining, Leaving string
	NewMembers       *string
}

// Next returns the membership req asks for, starting from cur, as
// ZooKeeper 3.8's leader computes it; the version is left to the caller
// (the zxid of the reconfig). minVoters is 2 with standaloneEnabled (a
// single voter would run standalone) and 1 without. Errors wrap
// ErrBadArguments or ErrMarshalling.
func Next(cur Config, req Request, minVoters int) (Config, error) {
	var next Config
	if req.NewMembers != nil {
		c, err := Parse(strings.ReplaceAll(*req.NewMembers, ",", "\n"))
		if err != nil {
			return Config{}, fmt.Errorf("%w: %v", ErrBadArguments, err)
		}
		next.Servers = c.Servers
	} else {
		servers := map[int64]Server{}
		for _, s := range cur.Servers {
			servers[s.ID] = s
		}
		for _, l := range splitList(req.Leaving) {
			id, err := strconv.ParseInt(l, 10, 64)
			if err != nil {
				return Config{}, fmt.Errorf("%w: leaving server %q is not an id", ErrMarshalling, l)
			}
			delete(servers, id)
		}
		for _, spec := range splitList(req.Joining) {
			s, err := parseJoining(spec)
			if err != nil {
				return Config{}, err
			}
			for _, other := range servers {
				if other.ID != s.ID && sharesAddress(s, other) {
					return Config{}, fmt.Errorf("%w: server.%d has an address of server.%d", ErrBadArguments, s.ID, other.ID)
				}
			}
			servers[s.ID] = s
		}
		for _, s := range servers {
			next.Servers = append(next.Servers, s)
		}
		if err := next.Normalize(); err != nil {
			return Config{}, fmt.Errorf("%w: %v", ErrBadArguments, err)
		}
	}
	if voters := len(next.Voters()); voters < minVoters {
		return Config{}, fmt.Errorf("%w: the new configuration must include at least %d voting members, not %d", ErrBadArguments, minVoters, voters)
	}
	return next, nil
}

// parseJoining reads a joining server's spec, server.N=...: ZooKeeper
// wants all three ports, the client's included.
func parseJoining(spec string) (Server, error) {
	key, value, ok := strings.Cut(spec, "=")
	if !ok || strings.Contains(value, "=") {
		return Server{}, fmt.Errorf("%w: wrong format of server string %q", ErrBadArguments, spec)
	}
	key = strings.TrimSpace(key)
	// ZooKeeper takes the id after the last dot, whatever precedes it.
	key = "server." + key[strings.LastIndexByte(key, '.')+1:]
	s, err := ParseServer(key, value)
	if err != nil {
		return Server{}, fmt.Errorf("%w: %v", ErrBadArguments, err)
	}
	if s.ClientAddr == "" {
		return Server{}, fmt.Errorf("%w: server.%d: each server should have 3 ports specified", ErrBadArguments, s.ID)
	}
	return s, nil
}

// sharesAddress reports whether a and b share a peer or election address,
// which ZooKeeper refuses.
func sharesAddress(a, b Server) bool {
	same := func(x, y string) bool {
		xh, xp, _ := net.SplitHostPort(x)
		yh, yp, _ := net.SplitHostPort(y)
		return xp == yp && (xh == yh || sameIP(xh, yh))
	}
	for _, x := range []string{a.PeerAddr, a.ElectionAddr} {
		for _, y := range []string{b.PeerAddr, b.ElectionAddr} {
			if same(x, y) {
				return true
			}
		}
	}
	return false
}

func sameIP(a, b string) bool {
	x, y := net.ParseIP(a), net.ParseIP(b)
	return x != nil && y != nil && x.Equal(y)
}

// splitList splits a comma-separated list, trimming each item and leaving
// out empty ones, as ZooKeeper's StringUtils.split does.
func splitList(s string) []string {
	var out []string
	for _, item := range strings.Split(s, ",") {
		if item = strings.TrimSpace(item); item != "" {
			out = append(out, item)
		}
	}
	return out
}
