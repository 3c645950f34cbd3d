package zktest

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/meerkat-zk/meerkat/internal/faultproxy"
)

// EnsembleOptions configures an ensemble started for a test.
type EnsembleOptions struct {
	Options
	// Voters and Observers count the members (Voters 0 means 3); the
	// observers come last.
	Voters, Observers int
	// Proxied puts a faultproxy on every peer link, so that the test can
	// cut or slow links between members (Meerkat only: each member's
	// zoo.cfg names the proxies as the others' peer addresses).
	Proxied bool
	// ClientPortsInLines writes each server.N line with its client address
	// (;127.0.0.1:port), so that /zookeeper/config names it, as clients
	// that follow the membership (Curator's EnsembleTracker) need.
	ClientPortsInLines bool
	// Prepare, when set, runs after a member's zoo.cfg (cfg) and myid are
	// written and before the member starts: to build its data directory
	// (an import).
	Prepare func(cfg string) error
}

// Ensemble is a replicated ensemble of server processes on loopback.
type Ensemble struct {
	// Members[i] is server.(i+1).
	Members []*Server
	// links[i][j] carries member i's connections to member j (Proxied).
	links [][]*faultproxy.Proxy
	// ports, opts and argv are what the members were started with, for
	// Join.
	ports []peerPorts
	opts  EnsembleOptions
	argv  func(cfg string) []string
}

// PeerAddr returns member i's peer address, host:port (where it listens,
// behind any proxy).
func (e *Ensemble) PeerAddr(i int) string { return fmt.Sprintf("127.0.0.1:%d", e.ports[i].peer) }

// Join starts a new server, the next server.N, whose zoo.cfg names the
// current members and itself (as a participant, or an observer), as
// ZooKeeper's documentation has a server started that a reconfig then
// adds; it returns the server (appended to Members once it listens) and
// its line for the reconfig's joiningServers. It does not wait for the
// server to serve: it has no leader until the reconfig adds it.
func (e *Ensemble) Join(t TB, observer bool) (*Server, string) {
	t.Helper()
	if e.links != nil {
		t.Fatalf("zktest: a proxied ensemble cannot take a new member")
	}
	o := e.opts
	if observer {
		o.Observers++
	} else if o.Observers > 0 {
		t.Fatalf("zktest: a participant cannot join an ensemble with observers")
	} else {
		o.Voters++
	}
	i := len(e.ports)
	e.ports = append(e.ports, newPeerPorts(t, e.ports))
	dir := t.TempDir()
	port := e.ports[i].client
	cfg := e.writeMemberConfig(t, dir, i, port, e.ports, o)
	s := &Server{Name: e.Members[0].Name, Port: port, Addr: fmt.Sprintf("127.0.0.1:%d", port), Dir: dir, args: e.argv(cfg)}
	if err := s.launch(t); err != nil {
		t.Fatalf("zktest: new member: %v", err)
	}
	e.Members = append(e.Members, s)
	e.opts = o
	role := "participant"
	if observer {
		role = "observer"
	}
	return s, fmt.Sprintf("server.%d=127.0.0.1:%d:%d:%s;127.0.0.1:%d", i+1, e.ports[i].peer, e.ports[i].election, role, port)
}

// peerPorts are a member's peer, election and client ports.
type peerPorts struct{ peer, election, client int }

// StartMeerkatEnsemble starts a Meerkat ensemble and waits until every
// member serves. The test's cleanup kills them.
func StartMeerkatEnsemble(t TB, o EnsembleOptions) *Ensemble {
	t.Helper()
	bin := MeerkatBinary(t)
	return startEnsemble(t, "meerkat", o, func(cfg string) []string { return []string{bin, cfg} })
}

// StartZooKeeperEnsemble starts an Apache ZooKeeper 3.8 ensemble
// (QuorumPeerMain) and waits until every member serves.
func StartZooKeeperEnsemble(t TB, o EnsembleOptions) *Ensemble {
	t.Helper()
	if o.Proxied {
		t.Fatalf("zktest: a ZooKeeper ensemble cannot run behind proxies")
	}
	java := findJava(t)
	return startEnsemble(t, "zookeeper", o, func(cfg string) []string {
		return zooKeeperArgv(java, o.Options, "org.apache.zookeeper.server.quorum.QuorumPeerMain", cfg)
	})
}

// startEnsemble starts the members and waits until each serves. Each
// member's ports are picked free a moment before it binds them, so another
// process (a parallel test, a client's outgoing connection) can take one in
// between and the member exits during its start: then the whole ensemble
// starts again on new ports, three attempts at most.
func startEnsemble(t TB, name string, o EnsembleOptions, argv func(cfg string) []string) *Ensemble {
	t.Helper()
	if o.Voters == 0 {
		o.Voters = 3
	}
	for attempt := 1; ; attempt++ {
		e, err := tryEnsemble(t, name, o, argv)
		if err == nil {
			return e
		}
		e.abandon()
		if attempt == 3 {
			t.Fatalf("zktest: %s ensemble did not start: %v", name, err)
		}
	}
}

// tryEnsemble is one attempt of startEnsemble; on error, the returned
// ensemble holds what was started, for abandon.
func tryEnsemble(t TB, name string, o EnsembleOptions, argv func(cfg string) []string) (*Ensemble, error) {
	t.Helper()
	n := o.Voters + o.Observers
	var ports []peerPorts
	for range n {
		ports = append(ports, newPeerPorts(t, ports))
	}
	e := &Ensemble{ports: ports, opts: o, argv: argv}
	if o.Proxied {
		e.links = make([][]*faultproxy.Proxy, n)
		for i := range n {
			e.links[i] = make([]*faultproxy.Proxy, n)
			for j := range n {
				if i == j {
					continue
				}
				p, err := faultproxy.Start(fmt.Sprintf("127.0.0.1:%d", ports[j].peer))
				if err != nil {
					return e, fmt.Errorf("proxy: %w", err)
				}
				t.Cleanup(p.Close)
				e.links[i][j] = p
			}
		}
	}
	for i := range n {
		dir := t.TempDir()
		port := ports[i].client
		cfg := e.writeMemberConfig(t, dir, i, port, ports, o)
		if o.Prepare != nil {
			if err := o.Prepare(cfg); err != nil {
				return e, fmt.Errorf("member %d: prepare: %w", i+1, err)
			}
		}
		s := &Server{Name: name, Port: port, Addr: fmt.Sprintf("127.0.0.1:%d", port), Dir: dir, args: argv(cfg)}
		if err := s.launch(t); err != nil {
			return e, err
		}
		e.Members = append(e.Members, s)
	}
	deadline := time.Now().Add(90 * time.Second)
	for i, s := range e.Members {
		if err := s.waitServing(deadline); err != nil {
			return e, fmt.Errorf("member %d: %v\n%s", i+1, err, s.Log())
		}
		if owns, err := ownsListener(s.Pid(), s.Port); err != nil || !owns {
			return e, fmt.Errorf("member %d: another process listens on port %d (%v)", i+1, s.Port, err)
		}
	}
	return e, nil
}

// abandon kills the members of a failed start and closes its proxies.
func (e *Ensemble) abandon() {
	for _, s := range e.Members {
		s.Kill()
	}
	for _, row := range e.links {
		for _, p := range row {
			if p != nil {
				p.Close()
			}
		}
	}
}

// writeMemberConfig writes member i's zoo.cfg and myid.
func (e *Ensemble) writeMemberConfig(t TB, dir string, i, clientPort int, ports []peerPorts, o EnsembleOptions) string {
	t.Helper()
	data := filepath.Join(dir, "data")
	if err := os.MkdirAll(data, 0o755); err != nil {
		t.Fatalf("zktest: %v", err)
	}
	if err := os.WriteFile(filepath.Join(data, "myid"), []byte(fmt.Sprintf("%d\n", i+1)), 0o644); err != nil {
		t.Fatalf("zktest: %v", err)
	}
	tick := o.TickTime
	if tick == 0 {
		tick = 2000
	}
	lines := []string{
		fmt.Sprintf("tickTime=%d", tick),
		"initLimit=10",
		"syncLimit=5",
		"dataDir=" + data,
		fmt.Sprintf("clientPort=%d", clientPort),
		"clientPortAddress=127.0.0.1",
		"4lw.commands.whitelist=*",
		"admin.enableServer=false",
	}
	if i >= o.Voters {
		lines = append(lines, "peerType=observer")
	}
	for j, p := range ports {
		peer := p.peer
		if e.links != nil && j != i {
			peer = portOf(e.links[i][j].Addr())
		}
		line := fmt.Sprintf("server.%d=127.0.0.1:%d:%d", j+1, peer, p.election)
		if j >= o.Voters {
			line += ":observer"
		}
		if o.ClientPortsInLines {
			line += fmt.Sprintf(";127.0.0.1:%d", p.client)
		}
		lines = append(lines, line)
	}
	if o.ExtendedTypes {
		lines = append(lines, "extendedTypesEnabled=true")
	}
	lines = append(lines, o.Extra...)
	cfg := filepath.Join(dir, "zoo.cfg")
	if err := os.WriteFile(cfg, []byte(strings.Join(lines, "\n")+"\n"), 0o644); err != nil {
		t.Fatalf("zktest: %v", err)
	}
	return cfg
}

// newPeerPorts picks a member's ports, free a moment ago and distinct from
// each other and from taken: the kernel may hand a probed port out twice,
// and Meerkat leaves the election port unbound, so a clash would go
// unnoticed but for a test that names ports by their role.
func newPeerPorts(t TB, taken []peerPorts) peerPorts {
	used := map[int]bool{}
	for _, p := range taken {
		used[p.client], used[p.peer], used[p.election] = true, true, true
	}
	var picked [3]int
	for i := range picked {
		for tries := 0; ; tries++ {
			p := FreePort(t)
			if !used[p] {
				used[p], picked[i] = true, p
				break
			}
			if tries == 100 {
				t.Fatalf("zktest: no distinct free port after 100 tries")
			}
		}
	}
	return peerPorts{client: picked[0], peer: picked[1], election: picked[2]}
}

func portOf(addr string) int {
	var port int
	_, _ = fmt.Sscanf(addr[strings.LastIndexByte(addr, ':')+1:], "%d", &port)
	return port
}

// ConnectString is every member's client address, comma-separated.
func (e *Ensemble) ConnectString() string {
	addrs := make([]string, len(e.Members))
	for i, s := range e.Members {
		addrs[i] = s.Addr
	}
	return strings.Join(addrs, ",")
}

// Mode returns what member i's srvr says its mode is: leader, follower,
// observer, or "" when it does not serve or does not answer.
func (e *Ensemble) Mode(i int) string { return SrvrField(e.Members[i].Addr, "Mode") }

// SrvrField returns a field of the srvr four-letter word's answer ("Mode",
// "Zxid", ...), "" when the server does not answer or has no such line.
func SrvrField(addr, field string) string {
	out, err := FourLetter(addr, "srvr")
	if err != nil {
		return ""
	}
	for _, line := range strings.Split(out, "\n") {
		if v, ok := strings.CutPrefix(line, field+": "); ok {
			return v
		}
	}
	return ""
}

// Leader waits until exactly one of the members in among (every member
// when none is given) says it leads and all the others follow or observe,
// and returns its index.
func (e *Ensemble) Leader(t TB, among ...int) int {
	t.Helper()
	if len(among) == 0 {
		for i := range e.Members {
			among = append(among, i)
		}
	}
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		lead, others := -1, 0
		for _, i := range among {
			switch e.Mode(i) {
			case "leader":
				lead = i
			case "follower", "observer":
				others++
			}
		}
		if lead >= 0 && others == len(among)-1 {
			return lead
		}
		time.Sleep(20 * time.Millisecond)
	}
	modes := make([]string, len(among))
	for k, i := range among {
		modes[k] = fmt.Sprintf("%d:%q", i+1, e.Mode(i))
	}
	t.Fatalf("zktest: no single leader among members %v within 30 s: %s", among, strings.Join(modes, " "))
	return -1
}

// RestartAll SIGKILLs every member at once and starts them all again on
// their data: each waits for the others to serve.
func (e *Ensemble) RestartAll(t TB) {
	t.Helper()
	for _, s := range e.Members {
		s.Kill()
	}
	for i, s := range e.Members {
		if err := s.launch(t); err != nil {
			t.Fatalf("zktest: member %d: %v", i+1, err)
		}
	}
	deadline := time.Now().Add(90 * time.Second)
	for i, s := range e.Members {
		if err := s.waitServing(deadline); err != nil {
			t.Fatalf("zktest: member %d: %v\n%s", i+1, err, s.Log())
		}
	}
}

// Link is the proxy that carries member i's connections to member j.
func (e *Ensemble) Link(i, j int) *faultproxy.Proxy { return e.links[i][j] }

// Isolate drops everything between member i and the others, without
// resetting the connections: a partition.
func (e *Ensemble) Isolate(i int) {
	for j := range e.Members {
		if j != i {
			e.links[i][j].Drop()
			e.links[j][i].Drop()
		}
	}
}

// Heal restores every link.
func (e *Ensemble) Heal() {
	for i := range e.links {
		for j, p := range e.links[i] {
			if i != j {
				p.Heal()
			}
		}
	}
}
