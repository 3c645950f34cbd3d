package reactor

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// handler is a Handler made of functions; a nil one does the default:
// OnOpen accepts, OnRead echoes and consumes everything, OnReadEOF closes,
// the others do nothing. Every call runs on a loop goroutine.
type handler struct {
	open    func(*Conn) bool
	read    func(*Conn, []byte) int
	eof     func(*Conn)
	drained func(*Conn)
	closed  func(*Conn, error)
}

func (h *handler) OnOpen(c *Conn) bool {
	if h.open != nil {
		return h.open(c)
	}
	return true
}

func (h *handler) OnRead(c *Conn, in []byte) int {
	if h.read != nil {
		return h.read(c, in)
	}
	c.Write(in)
	return len(in)
}

func (h *handler) OnReadEOF(c *Conn) {
	if h.eof != nil {
		h.eof(c)
		return
	}
	c.Close()
}

func (h *handler) OnDrained(c *Conn) {
	if h.drained != nil {
		h.drained(c)
	}
}

func (h *handler) OnClose(c *Conn, err error) {
	if h.closed != nil {
		h.closed(c, err)
	}
}

// serve starts a server with h on a free loopback port.
func serve(t *testing.T, cfg Config, h Handler) *Server {
	t.Helper()
	cfg.Addr = "127.0.0.1:0"
	s, err := Listen(cfg, h)
	if err != nil {
		t.Fatal(err)
	}
	s.Start()
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := s.Stop(ctx); err != nil {
			t.Error(err)
		}
	})
	return s
}

func dial(t *testing.T, s *Server) *net.TCPConn {
	t.Helper()
	c, err := net.DialTCP("tcp", nil, s.Addr())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// readN reads exactly n bytes, or fails after 10 s.
func readN(t *testing.T, c net.Conn, n int) []byte {
	t.Helper()
	_ = c.SetReadDeadline(time.Now().Add(10 * time.Second))
	b := make([]byte, n)
	if _, err := io.ReadFull(c, b); err != nil {
		t.Fatalf("read %d bytes: %v", n, err)
	}
	return b
}

// readToEOF reads until the server closes, or fails after 10 s.
func readToEOF(t *testing.T, c net.Conn) []byte {
	t.Helper()
	_ = c.SetReadDeadline(time.Now().Add(10 * time.Second))
	b, err := io.ReadAll(c)
	if err != nil {
		t.Fatalf("read to EOF: %v (after %d bytes)", err, len(b))
	}
	return b
}

// pattern returns n bytes that repeat only every 65521 (a prime), so a
// lost, doubled or reordered chunk of any other length shows.
func pattern(n int) []byte {
	const period = 65521
	b := make([]byte, n)
	for i := range min(n, period) {
		b[i] = byte(i*7 + i/251)
	}
	for i := period; i < n; i *= 2 {
		copy(b[i:], b[:i])
	}
	return b
}

func TestEchoOverManyConnectionsAndLoops(t *testing.T) {
	var mu sync.Mutex
	perLoop := map[int]int{}
	h := &handler{open: func(c *Conn) bool {
		mu.Lock()
		perLoop[c.Loop().Index()]++
		mu.Unlock()
		return true
	}}
	s := serve(t, Config{Loops: 3}, h)
	const conns = 12
	var wg sync.WaitGroup
	for i := 0; i < conns; i++ {
		c := dial(t, s)
		wg.Add(1)
		go func() {
			defer wg.Done()
			msg := pattern(100_000 + i)
			go func() { _, _ = c.Write(msg) }()
			_ = c.SetReadDeadline(time.Now().Add(10 * time.Second))
			got := make([]byte, len(msg))
			if _, err := io.ReadFull(c, got); err != nil {
				t.Errorf("conn %d: %v", i, err)
				return
			}
			if !bytes.Equal(got, msg) {
				t.Errorf("conn %d: echo differs", i)
			}
		}()
	}
	wg.Wait()
	mu.Lock()
	defer mu.Unlock()
	for i := 0; i < 3; i++ {
		if perLoop[i] != conns/3 {
			t.Fatalf("connections per loop %v, want %d each (in turn)", perLoop, conns/3)
		}
	}
}

// TestUnconsumedInputIsOfferedAgain consumes only whole lines: a line split
// over many writes arrives whole, and so does the rest after it.
func TestUnconsumedInputIsOfferedAgain(t *testing.T) {
	h := &handler{read: func(c *Conn, in []byte) int {
		end := bytes.LastIndexByte(in, '\n') + 1
		c.Write(in[:end])
		return end
	}}
	s := serve(t, Config{Loops: 1, ReadSize: 16}, h)
	c := dial(t, s)
	want := []byte("a line longer than one sixteen-byte read\nand another\n")
	for i := range want {
		if _, err := c.Write(want[i : i+1]); err != nil {
			t.Fatal(err)
		}
	}
	if got := readN(t, c, len(want)); !bytes.Equal(got, want) {
		t.Fatalf("got %q", got)
	}
}

// TestPausedConnectionIsHeldBackByTCP pauses a connection: what the client
// sends waits in the kernel until the client cannot write any more, and
// arrives whole and in order after ResumeRead, the input kept at the pause
// first.
func TestPausedConnectionIsHeldBackByTCP(t *testing.T) {
	var consumed atomic.Int64
	var conn atomic.Pointer[Conn]
	h := &handler{read: func(c *Conn, in []byte) int {
		// Take half of the first input, then pause with the rest kept.
		if consumed.Load() == 0 {
			conn.Store(c)
			c.PauseRead()
			consumed.Add(int64(len(in) / 2))
			return len(in) / 2
		}
		consumed.Add(int64(len(in)))
		return len(in)
	}}
	s := serve(t, Config{Loops: 1}, h)
	c := dial(t, s)
	msg := pattern(64 << 20)
	_ = c.SetWriteDeadline(time.Now().Add(2 * time.Second))
	n, err := c.Write(msg)
	var ne net.Error
	if !errors.As(err, &ne) || !ne.Timeout() {
		t.Fatalf("the client wrote %d of %d bytes to a paused connection (err %v): nothing held it back", n, len(msg), err)
	}
	if held := consumed.Load(); held >= 64<<10 {
		t.Fatalf("the server consumed %d bytes of a paused connection", held)
	}
	sc := conn.Load()
	if err := sc.Loop().Execute(sc.ResumeRead); err != nil {
		t.Fatal(err)
	}
	_ = c.SetWriteDeadline(time.Time{})
	if _, err := c.Write(msg[n:]); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for consumed.Load() != int64(len(msg)) {
		if time.Now().After(deadline) {
			t.Fatalf("consumed %d of %d bytes after resuming", consumed.Load(), len(msg))
		}
		time.Sleep(time.Millisecond)
	}
}

// TestResumeOffersKeptInputWithoutNewData pauses with whole messages left
// unconsumed; ResumeRead must offer them although the client sends nothing
// more.
func TestResumeOffersKeptInputWithoutNewData(t *testing.T) {
	h := &handler{}
	h.read = func(c *Conn, in []byte) int {
		// One byte at a time: echo it, pause, resume from a task, so each
		// byte after the first comes from the kept input.
		c.Write(in[:1])
		c.PauseRead()
		_ = c.Loop().Execute(c.ResumeRead)
		return 1
	}
	s := serve(t, Config{Loops: 1}, h)
	c := dial(t, s)
	if _, err := c.Write([]byte("abcdef")); err != nil {
		t.Fatal(err)
	}
	if got := readN(t, c, 6); string(got) != "abcdef" {
		t.Fatalf("got %q", got)
	}
}

// TestResumeInsideOnReadOffersTheRest pauses and resumes within one OnRead
// call, leaving input unconsumed: the rest must be offered again although
// the client sends nothing more (the rest is kept only after OnRead
// returns, after the resume).
func TestResumeInsideOnReadOffersTheRest(t *testing.T) {
	h := &handler{read: func(c *Conn, in []byte) int {
		c.Write(in[:1])
		c.PauseRead()
		c.ResumeRead()
		return 1
	}}
	s := serve(t, Config{Loops: 1}, h)
	c := dial(t, s)
	if _, err := c.Write([]byte("abcdef")); err != nil {
		t.Fatal(err)
	}
	if got := readN(t, c, 6); string(got) != "abcdef" {
		t.Fatalf("got %q", got)
	}
}

// TestHalfClosedConnectionGetsLateReplies answers a request from another
// goroutine after the client has shut down its sending side.
func TestHalfClosedConnectionGetsLateReplies(t *testing.T) {
	eofs := make(chan struct{}, 1)
	h := &handler{
		read: func(c *Conn, in []byte) int {
			reply := append([]byte("re: "), in...)
			go func() {
				time.Sleep(50 * time.Millisecond)
				_ = c.Loop().Execute(func() {
					c.Write(reply)
					c.Close()
				})
			}()
			return len(in)
		},
		eof: func(*Conn) { eofs <- struct{}{} },
	}
	s := serve(t, Config{Loops: 1}, h)
	c := dial(t, s)
	if _, err := c.Write([]byte("ruok")); err != nil {
		t.Fatal(err)
	}
	if err := c.CloseWrite(); err != nil {
		t.Fatal(err)
	}
	if got := readToEOF(t, c); string(got) != "re: ruok" {
		t.Fatalf("got %q", got)
	}
	select {
	case <-eofs:
	default:
		t.Fatal("OnReadEOF was not called")
	}
}

// TestQueuedOutputIsWrittenInOrderAndDrained writes far more than the
// socket holds to a client that reads only later: the rest is queued,
// counted in Buffered, written in order, and OnDrained follows.
func TestQueuedOutputIsWrittenInOrderAndDrained(t *testing.T) {
	msg := pattern(48 << 20)
	queued := make(chan int64, 1)
	drained := make(chan struct{}, 1)
	h := &handler{
		read: func(c *Conn, in []byte) int {
			c.Write(msg)
			queued <- int64(c.Buffered())
			return len(in)
		},
		drained: func(c *Conn) {
			if c.Buffered() == 0 && c.Loop().srv.Buffered() == 0 {
				drained <- struct{}{}
			}
		},
	}
	s := serve(t, Config{Loops: 1}, h)
	c := dial(t, s)
	if _, err := c.Write([]byte("go")); err != nil {
		t.Fatal(err)
	}
	if n := <-queued; n == 0 || n != s.Buffered() {
		t.Fatalf("queued %d bytes, server counts %d; want the same, above zero", n, s.Buffered())
	}
	if got := readN(t, c, len(msg)); !bytes.Equal(got, msg) {
		t.Fatal("output arrived altered")
	}
	select {
	case <-drained:
	case <-time.After(10 * time.Second):
		t.Fatal("OnDrained not called once everything was written")
	}
}

// TestCloseWritesQueuedOutputFirst closes right after a large write: the
// client reads all of it, then EOF.
func TestCloseWritesQueuedOutputFirst(t *testing.T) {
	msg := pattern(16 << 20)
	h := &handler{read: func(c *Conn, in []byte) int {
		c.Write(msg)
		c.Close()
		c.Write([]byte("dropped: written after Close"))
		return len(in)
	}}
	s := serve(t, Config{Loops: 1}, h)
	c := dial(t, s)
	if _, err := c.Write([]byte("go")); err != nil {
		t.Fatal(err)
	}
	if got := readToEOF(t, c); !bytes.Equal(got, msg) {
		t.Fatalf("read %d bytes before EOF, want the %d written before Close", len(got), len(msg))
	}
}

// TestQueuedOutputIsDroppedWhenTheConnectionEnds queues more output than
// the socket takes to a client that does not read, then ends the
// connection three ways: Close, whose linger time runs out; Abort; and a
// reset by the client while reading is paused (EPOLLERR and EPOLLHUP come
// even when not asked for). Each closes the connection with its error and
// drops the output from the count.
func TestQueuedOutputIsDroppedWhenTheConnectionEnds(t *testing.T) {
	for _, tc := range []struct {
		name   string
		then   func(*Conn)
		client func(*net.TCPConn)
		want   func(error) bool
	}{
		{"linger time over", (*Conn).Close, func(*net.TCPConn) {}, func(err error) bool { return errors.Is(err, errLinger) }},
		{"abort", (*Conn).Abort, func(*net.TCPConn) {}, func(err error) bool { return err == nil }},
		{"reset while paused", (*Conn).PauseRead, func(c *net.TCPConn) {
			readN(t, c, 1) // the output has started
			_ = c.SetLinger(0)
			c.Close()
		}, func(err error) bool { return err != nil }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			closed := make(chan error, 1)
			h := &handler{
				read: func(c *Conn, in []byte) int {
					c.Write(pattern(32 << 20))
					tc.then(c)
					return len(in)
				},
				closed: func(c *Conn, err error) { closed <- err },
			}
			s := serve(t, Config{Loops: 1, Linger: 200 * time.Millisecond}, h)
			c := dial(t, s)
			if _, err := c.Write([]byte("go")); err != nil {
				t.Fatal(err)
			}
			tc.client(c)
			select {
			case err := <-closed:
				if !tc.want(err) {
					t.Fatalf("OnClose got %v", err)
				}
			case <-time.After(10 * time.Second):
				t.Fatal("the connection was never closed")
			}
			if n := s.Buffered(); n != 0 {
				t.Fatalf("%d bytes still counted after the close", n)
			}
		})
	}
}

// TestExecuteRunsInOrder queues tasks from several goroutines: each
// goroutine's tasks run in the order it queued them, on the loop.
func TestExecuteRunsInOrder(t *testing.T) {
	s := serve(t, Config{Loops: 2}, &handler{})
	l := s.Loops()[1]
	const goroutines, each = 4, 1000
	last := make([]int, goroutines) // touched only on the loop
	var bad atomic.Int64
	var wg sync.WaitGroup
	for g := 0; g < goroutines; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 1; i <= each; i++ {
				if err := l.Execute(func() {
					if last[g] != i-1 {
						bad.Add(1)
					}
					last[g] = i
				}); err != nil {
					t.Error(err)
					return
				}
			}
		}()
	}
	wg.Wait()
	done := make(chan []int)
	_ = l.Execute(func() { done <- append([]int(nil), last...) })
	for g, n := range <-done {
		if n != each {
			t.Fatalf("goroutine %d: %d of %d tasks ran", g, n, each)
		}
	}
	if bad.Load() != 0 {
		t.Fatalf("%d tasks ran out of order", bad.Load())
	}
}

// TestStopClosesConnectionsAndRefusesTasks stops a server with open
// connections: each gets OnClose(ErrStopped), its client sees EOF, and
// Execute is refused afterwards.
func TestStopClosesConnectionsAndRefusesTasks(t *testing.T) {
	var stopped atomic.Int64
	opened := make(chan struct{}, 4)
	h := &handler{
		open: func(*Conn) bool { opened <- struct{}{}; return true },
		closed: func(_ *Conn, err error) {
			if errors.Is(err, ErrStopped) {
				stopped.Add(1)
			}
		},
	}
	s, err := Listen(Config{Addr: "127.0.0.1:0", Loops: 2}, h)
	if err != nil {
		t.Fatal(err)
	}
	s.Start()
	var clients []*net.TCPConn
	for i := 0; i < 4; i++ {
		clients = append(clients, dial(t, s))
		<-opened
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := s.Stop(ctx); err != nil {
		t.Fatal(err)
	}
	if n := stopped.Load(); n != 4 {
		t.Fatalf("%d connections closed with ErrStopped, want 4", n)
	}
	for _, c := range clients {
		if got := readToEOF(t, c); len(got) != 0 {
			t.Fatalf("client read %q", got)
		}
	}
	for _, l := range s.Loops() {
		if err := l.Execute(func() {}); !errors.Is(err, ErrStopped) {
			t.Fatalf("Execute after Stop: %v", err)
		}
	}
	if _, err := net.Dial("tcp", s.Addr().String()); err == nil {
		t.Fatal("the listener still accepts after Stop")
	}
}

func TestStopWithoutStart(t *testing.T) {
	s, err := Listen(Config{Addr: "127.0.0.1:0", Loops: 2}, &handler{})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Stop(context.Background()); err != nil {
		t.Fatal(err)
	}
	if err := s.Loops()[0].Execute(func() {}); !errors.Is(err, ErrStopped) {
		t.Fatalf("Execute on a stopped, never started server: %v", err)
	}
}

func TestRefusedAtOpen(t *testing.T) {
	closes := make(chan struct{}, 1)
	h := &handler{
		open:   func(*Conn) bool { return false },
		closed: func(*Conn, error) { closes <- struct{}{} },
	}
	s := serve(t, Config{Loops: 1}, h)
	c := dial(t, s)
	if got := readToEOF(t, c); len(got) != 0 {
		t.Fatalf("read %q", got)
	}
	select {
	case <-closes:
		t.Fatal("OnClose called for a connection refused by OnOpen")
	default:
	}
}

func TestListenRefusesBadAddresses(t *testing.T) {
	for _, addr := range []string{"127.0.0.1:99999", "no-such-host.invalid:1", "127.0.0.1"} {
		if s, err := Listen(Config{Addr: addr}, &handler{}); err == nil {
			_ = s.Stop(context.Background())
			t.Errorf("Listen(%q) succeeded", addr)
		}
	}
	s := serve(t, Config{Loops: 1}, &handler{})
	if _, err := Listen(Config{Addr: s.Addr().String()}, &handler{}); err == nil {
		t.Fatal("a second server bound a port in use")
	}
}
