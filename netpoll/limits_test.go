package netpoll

import (
	"net"
	"strings"
	"testing"
	"time"

	"github.com/meerkat-zk/meerkat/internal/wire"
	"github.com/meerkat-zk/meerkat/internal/zktest"
	"github.com/meerkat-zk/meerkat/jute"
	"github.com/meerkat-zk/meerkat/pipeline"
	"github.com/meerkat-zk/meerkat/throttle"
)

// gauge reads one mntr gauge of srv.
func gauge(t *testing.T, srv *Server, name string) any {
	t.Helper()
	for _, g := range srv.Metrics().Gauges {
		if g.Name == name {
			return g.Value
		}
	}
	t.Fatalf("no gauge %s", name)
	return nil
}

// maxCnxns caps the connections over every address; the one past the cap
// is closed before it is read, counted as rejected, and the others go on.
func TestMaxCnxns(t *testing.T) {
	srv, _ := startServerWith(t, pipeline.Config{ServerID: 1, Tick: 200 * time.Millisecond}, func(c *Config) { c.MaxCnxns = 2 })
	addr := srv.Addr().String()
	a, b := dial(t, addr), dial(t, addr)
	third, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer third.Close()
	waitClosed(t, third)
	mustOK(t)(a.Call(jute.OpPing, nil))
	if got := gauge(t, srv, "connection_rejected"); got != int64(1) {
		t.Errorf("connection_rejected = %v, want 1", got)
	}
	b.Close()
	deadline := time.Now().Add(5 * time.Second)
	for {
		c, err := wire.Dial(addr, 10000)
		if err == nil && c.Session.TimeOut != 0 {
			c.Close()
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no room after a connection closed: %v", err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// The connection throttle refuses sessions past its bucket: the refused
// connection is closed without a ConnectResponse, and the bucket refills
// with time.
func TestConnectionThrottle(t *testing.T) {
	cfg := throttle.Default()
	cfg.Tokens, cfg.FillTime, cfg.FillCount = 2, 300*time.Millisecond, 1
	srv, _ := startServerWith(t, pipeline.Config{ServerID: 1, Tick: 200 * time.Millisecond}, func(c *Config) { c.ConnThrottle = cfg })
	addr := srv.Addr().String()
	dial(t, addr)
	dial(t, addr)
	if c, err := wire.Dial(addr, 10000); err == nil {
		c.Close()
		t.Fatalf("a third session within the fill time was let in: %+v", c.Session)
	}
	if got := gauge(t, srv, "connection_rejected"); got != int64(1) {
		t.Errorf("connection_rejected = %v, want 1", got)
	}
	if got := gauge(t, srv, "connection_request_count"); got != int64(3) {
		t.Errorf("connection_request_count = %v, want 3", got)
	}
	time.Sleep(700 * time.Millisecond)
	dial(t, addr)
	if out, err := zktest.FourLetter(addr, "mntr"); err != nil || !strings.Contains(out, "zk_connection_rejected\t1\n") {
		t.Errorf("mntr lacks zk_connection_rejected 1 (%v):\n%s", err, out)
	}
}

// A connection may hold MaxWatches watches: a fired watch frees its place,
// and the request that asks for one more is answered, and then the
// connection is closed; its session lives on.
func TestMaxWatchesPerConnection(t *testing.T) {
	srv, _ := startServerWith(t, pipeline.Config{ServerID: 1, Tick: 200 * time.Millisecond}, func(c *Config) { c.MaxWatches = 3 })
	addr := srv.Addr().String()
	c := dial(t, addr)
	mustOK(t)(c.Create("/n", nil, 0))
	exists := func(path string) wire.Reply {
		r, err := c.Call(jute.OpExists, (&jute.PathWatchRequest{Path: path, Watch: true}).Append(nil))
		if err != nil {
			t.Fatalf("exists %s: %v", path, err)
		}
		return r
	}
	for _, p := range []string{"/n", "/a", "/b"} {
		exists(p)
	}
	// /n's watch fires, which frees its place.
	other := dial(t, addr)
	mustOK(t)(other.SetData("/n", []byte("x"), -1))
	exists("/c")
	if r := exists("/d"); r.Header.Err != jute.CodeNoNode {
		t.Errorf("the request over the cap was answered %v, want its own answer (NONODE)", r.Header.Err)
	}
	waitClosed(t, c.Raw())
	mustOK(t)(other.Call(jute.OpPing, nil))
}
