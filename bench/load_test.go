package bench

import (
	"bufio"
	"crypto/tls"
	"net"
	"slices"
	"sort"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/meerkat-zk/meerkat/internal/wire"
	"github.com/meerkat-zk/meerkat/jute"
)

// action is what the fake server does with one request.
type action struct {
	code  jute.Code     // the reply's error code
	swap  bool          // hold the reply and send it after the next one
	stall time.Duration // sleep before answering (and reading on)
}

// fakeServer is a tiny in-process ZooKeeper stand-in: it answers the
// handshake and every request with a getData reply of valueSize bytes,
// doing to the n-th request of a connection (from 0) what plan says.
//
// With hold > 0 it also holds a connection's replies until hold requests
// are outstanding on it, then sends them together, in order: a client that
// keeps fewer outstanding gets no reply. After holdWait without the next
// request it records the stall and closes the connection.
type fakeServer struct {
	ln        net.Listener
	tls       *tls.Config // serve TLS with it, when set
	valueSize int
	plan      func(n int) action
	hold      int
	wg        sync.WaitGroup
	requests  atomic.Int64 // every request, closeSession included

	mu     sync.Mutex
	conns  []int64 // requests other than closeSession, per connection
	stalls []int   // hold mode: the requests outstanding at each stall
}

// holdWait is how long a holding fake server waits for the requests it
// holds replies for; only a client keeping too few outstanding waits it.
const holdWait = 5 * time.Second

// stalled returns, in hold mode, the number of requests that were
// outstanding on each connection the server gave up on.
func (s *fakeServer) stalled() []int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]int(nil), s.stalls...)
}

// perConn returns how many requests other than closeSession each
// connection sent, in the order the connections were accepted.
func (s *fakeServer) perConn() []int64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]int64(nil), s.conns...)
}

func startFake(t *testing.T, valueSize int, plan func(n int) action) *fakeServer {
	return listenFake(t, &fakeServer{valueSize: valueSize, plan: plan})
}

// startHoldingFake starts a fake server that answers a connection only
// when hold requests are outstanding on it.
func startHoldingFake(t *testing.T, valueSize, hold int) *fakeServer {
	return listenFake(t, &fakeServer{valueSize: valueSize, hold: hold})
}

func listenFake(t *testing.T, s *fakeServer) *fakeServer {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	if s.tls != nil {
		ln = tls.NewListener(ln, s.tls)
	}
	s.ln = ln
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			s.wg.Add(1)
			go func() { defer s.wg.Done(); s.serve(c) }()
		}
	}()
	t.Cleanup(func() { ln.Close(); s.wg.Wait() })
	return s
}

func (s *fakeServer) addr() string { return s.ln.Addr().String() }

func (s *fakeServer) serve(c net.Conn) {
	defer c.Close()
	limit := time.Now().Add(time.Minute)
	_ = c.SetDeadline(limit)
	r := bufio.NewReader(c)
	read := func() ([]byte, error) { return wire.ReadFrame(r, jute.DefaultMaxBuffer) }
	if _, err := read(); err != nil {
		return
	}
	resp := jute.ConnectResponse{TimeOut: 30000, SessionID: 42, Passwd: make([]byte, 16), HasReadOnly: true}
	if _, err := c.Write(wire.Frame(resp.Append(nil))); err != nil {
		return
	}
	s.mu.Lock()
	id := len(s.conns)
	s.conns = append(s.conns, 0)
	s.mu.Unlock()
	body := jute.AppendBuffer(nil, make([]byte, s.valueSize))
	body = (&jute.Stat{DataLength: int32(s.valueSize)}).Append(body)
	var held []byte
	var batch []byte // hold mode: the replies held, nbatch of them
	nbatch := 0
	for n := 0; ; n++ {
		if nbatch > 0 {
			_ = c.SetReadDeadline(time.Now().Add(holdWait))
		}
		req, err := read()
		if err != nil || len(req) < 8 {
			if nbatch > 0 {
				s.mu.Lock()
				s.stalls = append(s.stalls, nbatch)
				s.mu.Unlock()
			}
			return
		}
		if nbatch > 0 {
			_ = c.SetReadDeadline(limit)
		}
		s.requests.Add(1)
		var h jute.RequestHeader
		h.Decode(jute.NewDecoder(req))
		a := action{}
		if h.Type != jute.OpCloseSession {
			s.mu.Lock()
			s.conns[id]++
			s.mu.Unlock()
			if s.plan != nil {
				a = s.plan(n)
			}
		}
		if a.stall > 0 {
			time.Sleep(a.stall)
		}
		reply := (&jute.ReplyHeader{Xid: h.Xid, Err: a.code}).Append(nil)
		if a.code == jute.CodeOK && h.Type != jute.OpCloseSession {
			reply = append(reply, body...)
		}
		if a.swap {
			held = wire.Frame(reply)
			continue
		}
		out := wire.Frame(reply)
		if held != nil {
			out, held = append(out, held...), nil
		}
		if s.hold > 0 {
			batch = append(batch, out...)
			if nbatch++; nbatch < s.hold && h.Type != jute.OpCloseSession {
				continue
			}
			out, batch, nbatch = batch, nil, 0
		}
		if _, err := c.Write(out); err != nil {
			return
		}
		if h.Type == jute.OpCloseSession {
			return
		}
	}
}

func readStreams() func(int) Stream {
	return Mix{Keys: 10, ValueSize: 32, Read: jute.OpGetData}.Streams()
}

// The load tests bound their runs by MaxRequests, not by the clock: the
// window is a minute and each run ends as soon as its budget is answered,
// so the counts they check do not depend on how fast the machine is.

func TestRepliesAreChecked(t *testing.T) {
	fake := startFake(t, 32, func(n int) action {
		switch n {
		case 10:
			return action{swap: true} // answered after request 11
		case 20:
			return action{code: jute.CodeNoNode}
		}
		return action{}
	})
	res, err := Load(Options{Addr: fake.addr(), Conns: 1, Depth: 4, Duration: time.Minute, MaxRequests: 30}, readStreams())
	if err != nil {
		t.Fatal(err)
	}
	// Reply 11 comes while 10 is the oldest: out of order, and 10 is passed
	// over as unanswered. Reply 10 then comes while 12 is the oldest: out of
	// order again, and matches nothing. The other 29 replies count.
	if res.OutOfOrder != 2 || res.Unanswered != 1 {
		t.Errorf("out of order %d, unanswered %d; want 2 and 1 for the swapped replies", res.OutOfOrder, res.Unanswered)
	}
	if got := res.Unexpected["getData:NONODE"]; got != 1 || len(res.Unexpected) != 1 {
		t.Errorf("unexpected replies %v, want getData:NONODE once", res.Unexpected)
	}
	if res.Failures() != 4 || len(res.ConnErrors) != 0 {
		t.Errorf("failures %d, want 4 (the swap's three and the error); conn errors %v", res.Failures(), res.ConnErrors)
	}
	// 30 requests and the closeSession.
	if res.Ops != 29 || fake.requests.Load() != 31 {
		t.Errorf("ops %d, requests seen %d; want 29 and 31", res.Ops, fake.requests.Load())
	}
}

func TestWrongReplySizeIsUnexpected(t *testing.T) {
	fake := startFake(t, 16, nil) // the stream expects 32-byte values
	res, err := Load(Options{Addr: fake.addr(), Conns: 2, Depth: 2, Duration: time.Minute, MaxRequests: 20}, readStreams())
	if err != nil {
		t.Fatal(err)
	}
	if res.Ops != 40 || res.Unexpected["getData:OK"] != 40 || len(res.Unexpected) != 1 {
		t.Errorf("short getData replies not flagged: %v (ops %d, want 40 flagged)", res.Unexpected, res.Ops)
	}
}

// TestClosedLoopKeepsDepth runs against a server that answers only when
// Depth requests are outstanding: a generator keeping fewer stalls, and
// the server gives up on it after holdWait. The budget is a multiple of
// Depth, so the last batch is full too.
func TestClosedLoopKeepsDepth(t *testing.T) {
	const depth = 5
	fake := startHoldingFake(t, 32, depth)
	res, err := Load(Options{Addr: fake.addr(), Conns: 3, Depth: depth, Duration: time.Minute, MaxRequests: 50}, readStreams())
	if err != nil {
		t.Fatal(err)
	}
	if st := fake.stalled(); len(st) != 0 {
		t.Fatalf("the server waited %v for more requests with only %v of Depth %d outstanding (ops %d, failures %d)",
			holdWait, st, depth, res.Ops, res.Failures())
	}
	// Each connection stops after 50 requests; one more frame each is the
	// closeSession.
	if res.Failures() != 0 || res.Ops != 150 || fake.requests.Load() != 153 {
		t.Fatalf("ops %d, requests seen %d, failures %d", res.Ops, fake.requests.Load(), res.Failures())
	}
}

// TestOpenLoopKeepsMaxRequests schedules far more requests than the budget
// at once (a million a second, a depth above the budget, a minute's
// window): each connection must still send exactly MaxRequests, and the
// run ends when they are answered.
func TestOpenLoopKeepsMaxRequests(t *testing.T) {
	const conns, budget = 2, 20
	fake := startFake(t, 32, nil)
	res, err := Load(Options{Addr: fake.addr(), Conns: conns, Depth: 64, Rate: 1e6,
		Duration: time.Minute, MaxRequests: budget}, readStreams())
	if err != nil {
		t.Fatal(err)
	}
	per := fake.perConn()
	if len(per) != conns {
		t.Fatalf("%d connections seen, want %d", len(per), conns)
	}
	for i, n := range per {
		if n != budget {
			t.Errorf("connection %d sent %d requests, want exactly MaxRequests %d", i, n, budget)
		}
	}
	if res.Failures() != 0 || res.Ops != conns*budget {
		t.Errorf("ops %d, want %d; failures %d (%+v)", res.Ops, conns*budget, res.Failures(), res)
	}
}

func TestOpenLoopScheduleIsFixedByRate(t *testing.T) {
	const conns, rate = 3, 1000.0
	var all []time.Duration
	for i := 0; i < conns; i++ {
		for k := int64(0); k < 100; k++ {
			all = append(all, intended(i, conns, rate, k))
		}
	}
	sort.Slice(all, func(i, j int) bool { return all[i] < all[j] })
	for m, d := range all {
		if want := time.Duration(m) * time.Millisecond; d != want {
			t.Fatalf("request %d scheduled at %v, want %v", m, d, want)
		}
	}
}

// TestOpenLoopMeasuresStalls stalls the server for 200 ms on each
// connection. A closed-loop client would stop sending and record only the
// few requests in flight as slow; the open-loop schedule keeps every
// request due in the stall, and measures each from its scheduled time.
func TestOpenLoopMeasuresStalls(t *testing.T) {
	const stall = 200 * time.Millisecond
	fake := startFake(t, 32, func(n int) action {
		if n == 50 {
			return action{stall: stall}
		}
		return action{}
	})
	const rate, window = 1000.0, time.Second
	res, err := Load(Options{Addr: fake.addr(), Conns: 2, Depth: 4, Rate: rate, Duration: window}, readStreams())
	if err != nil {
		t.Fatal(err)
	}
	if res.Failures() != 0 {
		t.Fatalf("failures: %+v", res)
	}
	// The schedule, not the server, decides how many requests there are.
	if want := int64(rate * window.Seconds()); res.Ops != want {
		t.Errorf("ops %d, want exactly %d scheduled", res.Ops, want)
	}
	// About 2 × 100 requests were due during the stalls, with delays spread
	// from 0 to 200 ms: a tenth of all requests waited more than ~100 ms.
	if p90 := res.Reads.P90; p90 < float64(stall/4/time.Microsecond) {
		t.Errorf("p90 %v µs: the stall's queued requests were not charged (%+v)", p90, res.Reads)
	}
	if res.Reads.Max < float64(stall/2/time.Microsecond) {
		t.Errorf("max %v µs, want at least half the stall", res.Reads.Max)
	}
	// The sender was held back by the depth bound, and says so.
	if res.SendLag == nil || res.SendLag.Max < float64(stall/4/time.Microsecond) {
		t.Errorf("send lag %+v does not show the blocked sender", res.SendLag)
	}
}

// TestCreateHotSetReportsFailures checks that a failed create is an error
// and that every node of the hot set is asked for once.
func TestCreateHotSetReportsFailures(t *testing.T) {
	fake := startFake(t, 0, nil)
	if err := CreateHotSet(fake.addr(), 100, 8, time.Minute); err != nil {
		t.Fatalf("all creates answered OK: %v", err)
	}
	var sum int64
	for _, n := range fake.perConn() {
		sum += n
	}
	if sum != 101 {
		t.Errorf("%d creates sent, want /bench and 100 keys", sum)
	}
	bad := startFake(t, 0, func(n int) action {
		if n == 3 {
			return action{code: jute.CodeNoAuth}
		}
		return action{}
	})
	if err := CreateHotSet(bad.addr(), 100, 8, time.Minute); err == nil {
		t.Error("a create refused with NOAUTH went unreported")
	}
}

func TestInTurnRotates(t *testing.T) {
	s := []string{"zk", "mk", "echo"}
	for turn, want := range [][]string{{"zk", "mk", "echo"}, {"mk", "echo", "zk"}, {"echo", "zk", "mk"}, {"zk", "mk", "echo"}} {
		if got := inTurn(s, turn); !slices.Equal(got, want) {
			t.Fatalf("turn %d: %v, want %v", turn, got, want)
		}
	}
	if !slices.Equal(s, []string{"zk", "mk", "echo"}) {
		t.Fatalf("inTurn changed its argument: %v", s)
	}
	if got := inTurn([]string(nil), 1); len(got) != 0 {
		t.Fatalf("no servers: %v", got)
	}
}
