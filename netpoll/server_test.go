package netpoll

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/meerkat-zk/meerkat/engine"
	"github.com/meerkat-zk/meerkat/internal/wire"
	"github.com/meerkat-zk/meerkat/internal/zktest"
	"github.com/meerkat-zk/meerkat/jute"
	"github.com/meerkat-zk/meerkat/pipeline"
	"github.com/meerkat-zk/meerkat/wal"
	"github.com/meerkat-zk/meerkat/wal/walfs"
)

// startServer runs an in-process server on a free loopback port.
func startServer(t testing.TB, mod func(*Config)) string {
	t.Helper()
	srv, _ := startServerWith(t, pipeline.Config{ServerID: 1, Tick: 200 * time.Millisecond}, mod)
	return srv.Addr().String()
}

// startServerWith is startServer over a pipeline configured by pcfg; it
// returns the server and the pipeline.
func startServerWith(t testing.TB, pcfg pipeline.Config, mod func(*Config)) (*Server, *pipeline.Pipeline) {
	t.Helper()
	pipe, err := pipeline.New(pcfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	cfg := Config{Addr: "127.0.0.1:0", Tick: 200 * time.Millisecond, FourLetterWords: []string{"*"}}
	if mod != nil {
		mod(&cfg)
	}
	srv, err := New(cfg, pipe)
	if err != nil {
		t.Fatal(err)
	}
	pipe.Start()
	if err := srv.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_ = srv.Stop(ctx)
		pipe.Stop()
	})
	return srv, pipe
}

func dial(t testing.TB, addr string) *wire.Conn {
	t.Helper()
	c, err := wire.Dial(addr, 10000)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	if c.Session.TimeOut == 0 {
		t.Fatalf("handshake refused: %+v", c.Session)
	}
	return c
}

// mustOK returns a checker for a call's results: mustOK(t)(c.Call(...)).
func mustOK(t testing.TB) func(wire.Reply, error) wire.Reply {
	return func(r wire.Reply, err error) wire.Reply {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
		if r.Header.Err != jute.CodeOK {
			t.Fatalf("reply %v", r.Header.Err)
		}
		return r
	}
}

// waitClosed reads until the server closes the connection, failing if it
// sends a frame first or stays open for 5 s.
func waitClosed(t *testing.T, c net.Conn) {
	t.Helper()
	_ = c.SetReadDeadline(time.Now().Add(5 * time.Second))
	b, err := io.ReadAll(c)
	if len(b) > 0 {
		t.Fatalf("server sent %x before closing", b)
	}
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		t.Fatal("server kept the connection open")
	}
}

// TestBadInputClosesOnlyThatConnection sends each kind of bad input on its
// own connection and checks, every time, that the server answered or closed
// that connection as ZooKeeper does and still serves a healthy client.
func TestBadInputClosesOnlyThatConnection(t *testing.T) {
	addr := startServer(t, func(c *Config) { c.MaxBuffer = 4096 })
	healthy := dial(t, addr)
	mustOK(t)(healthy.Create("/healthy", []byte("ok"), 0))

	getData := wire.RequestFrame(1, jute.OpGetData, (&jute.PathWatchRequest{Path: "/healthy"}).Append(nil))

	for _, tc := range []struct {
		name  string
		input []byte
		// handshake first; then input
		afterHandshake bool
	}{
		{"negative length first", []byte{0xff, 0xff, 0xff, 0xf0, 1, 2, 3}, false},
		{"length above maxbuffer first", append(jute.AppendInt(nil, 4097), make([]byte, 64)...), false},
		{"length above maxbuffer after handshake", append(jute.AppendInt(nil, 1<<30), 0, 0), true},
		{"negative length after handshake", jute.AppendInt(nil, -1), true},
		{"garbage handshake", wire.Frame([]byte("this is not a connect request")), false},
		{"request before handshake", getData, false},
		{"request shorter than its header", wire.Frame([]byte{0, 0, 1}), true},
		{"empty frame after handshake", wire.Frame(nil), true},
		{"connect request with huge password length", wire.Frame(append((&jute.ConnectRequest{TimeOut: 1}).Append(nil)[:24], 0x7f, 0, 0, 0)), false},
		{"client ahead of the server's zxid", wire.Frame((&jute.ConnectRequest{TimeOut: 1, LastZxidSeen: 1 << 40, Passwd: make([]byte, 16)}).Append(nil)), false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var c net.Conn
			if tc.afterHandshake {
				c = dial(t, addr).Raw()
			} else {
				raw, err := wire.DialRaw(addr)
				if err != nil {
					t.Fatal(err)
				}
				defer raw.Close()
				c = raw.Raw()
			}
			if _, err := c.Write(tc.input); err != nil {
				t.Fatal(err)
			}
			waitClosed(t, c)
			// The healthy client is still served.
			r := mustOK(t)(healthy.GetData("/healthy", false))
			if !bytes.HasPrefix(r.Body, []byte{0, 0, 0, 2, 'o', 'k'}) {
				t.Fatalf("healthy read got %x", r.Body)
			}
		})
	}
}

func TestTruncatedFrameThenHangUp(t *testing.T) {
	addr := startServer(t, nil)
	healthy := dial(t, addr)
	for i := 0; i < 20; i++ {
		c := dial(t, addr)
		// Half a request, then the client goes away.
		b := wire.RequestFrame(1, jute.OpGetData, (&jute.PathWatchRequest{Path: "/"}).Append(nil))
		if _, err := c.Raw().Write(b[:len(b)/2]); err != nil {
			t.Fatal(err)
		}
		c.Close()
	}
	mustOK(t)(healthy.Call(jute.OpPing, nil))
}

// TestUnknownOpcodeClosesConnectionKeepsSession: ZooKeeper answers an
// opcode it does not serve with UNIMPLEMENTED (zxid -1), closes the
// connection, and the session can be resumed on a new one.
func TestUnknownOpcodeClosesConnectionKeepsSession(t *testing.T) {
	addr := startServer(t, nil)
	for _, op := range []jute.OpCode{10, 99, 1000, -3, 0, -1} {
		c := dial(t, addr)
		r, err := c.Call(op, []byte("whatever"))
		if err != nil {
			t.Fatal(err)
		}
		if r.Header.Err != jute.CodeUnimplemented || r.Header.Zxid != -1 || len(r.Body) != 0 {
			t.Fatalf("op %d: %+v body %x", op, r.Header, r.Body)
		}
		waitClosed(t, c.Raw())
		again, err := wire.DialSession(addr, jute.ConnectRequest{TimeOut: 10000, SessionID: c.Session.SessionID,
			Passwd: c.Session.Passwd, HasReadOnly: true})
		if err != nil || again.Session.SessionID != c.Session.SessionID {
			t.Fatalf("op %d: session not resumable: %v %+v", op, err, again.Session)
		}
		again.Close()
	}
}

func TestFrameAtMaxBufferIsAccepted(t *testing.T) {
	const max = 4096
	addr := startServer(t, func(c *Config) { c.MaxBuffer = max })
	c := dial(t, addr)
	mustOK(t)(c.Create("/big", nil, 0))
	// header 8 + path 4+4 + buffer len 4 + data + version 4 == max
	data := make([]byte, max-8-8-4-4)
	mustOK(t)(c.SetData("/big", data, -1))
	if _, err := c.SetData("/big", append(data, 0), -1); err == nil {
		t.Fatal("a frame one byte over jute.maxbuffer was answered")
	}
}

// requestStream is a handshake followed by requests that exercise every
// kind of handling (reads, writes, a multi, a watch, closeSession), with the
// replies they must get, for the split tests.
func requestStream() (stream []byte, want []jute.Code) {
	open := []jute.ACL{{Perms: jute.PermAll, ID: jute.ID{Scheme: "world", ID: "anyone"}}}
	stream = wire.Frame((&jute.ConnectRequest{TimeOut: 10000, Passwd: make([]byte, 16), HasReadOnly: true}).Append(nil))
	add := func(op jute.OpCode, body []byte, code jute.Code) {
		stream = append(stream, wire.RequestFrame(int32(len(want)+1), op, body)...)
		want = append(want, code)
	}
	add(jute.OpCreate, (&jute.CreateRequest{Path: "/s", Flags: 2, ACL: open}).AppendCreate(nil, false), jute.CodeOK)
	add(jute.OpExists, (&jute.PathWatchRequest{Path: "/nope", Watch: true}).Append(nil), jute.CodeNoNode)
	add(jute.OpGetChildren, (&jute.PathWatchRequest{Path: "/"}).Append(nil), jute.CodeOK)
	multi := (&jute.MultiHeader{Type: jute.OpCheck, Err: -1}).Append(nil)
	multi = append(multi, (&jute.PathVersionRequest{Path: "/", Version: -1}).Append(nil)...)
	add(jute.OpMulti, jute.AppendMultiEnd(multi), jute.CodeOK)
	add(jute.OpGetData, (&jute.PathWatchRequest{Path: "/zookeeper"}).Append(nil), jute.CodeOK)
	add(jute.OpSetData, (&jute.SetDataRequest{Path: "/zookeeper/quota", Version: 7}).Append(nil), jute.CodeBadVersion)
	add(jute.OpCloseSession, nil, jute.CodeOK)
	return stream, want
}

// TestRequestsSplitAtEveryByteOffset sends the same request stream split in
// two at every byte offset; every split must give the same replies.
func TestRequestsSplitAtEveryByteOffset(t *testing.T) {
	addr := startServer(t, nil)
	stream, want := requestStream()
	for cut := 1; cut < len(stream); cut++ {
		c, err := wire.DialRaw(addr)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := c.Raw().Write(stream[:cut]); err != nil {
			t.Fatal(err)
		}
		// Pace the second write so the server reads the two parts apart.
		time.Sleep(100 * time.Microsecond)
		if _, err := c.Raw().Write(stream[cut:]); err != nil {
			t.Fatal(err)
		}
		if _, err := c.ReadFrame(); err != nil {
			t.Fatalf("cut %d: connect response: %v", cut, err)
		}
		for i, code := range want {
			r, err := c.Recv()
			if err != nil {
				t.Fatalf("cut %d: reply %d: %v", cut, i+1, err)
			}
			if r.Header.Xid != int32(i+1) || r.Header.Err != code {
				t.Fatalf("cut %d: reply %d: %+v, want err %v", cut, i+1, r.Header, code)
			}
		}
		c.Close()
	}
}

// TestPipelinedReadsSeeExactlyTheWritesBeforeThem sends writes and reads
// back to back without waiting; each read must show the state after the
// writes sent before it and none after.
func TestPipelinedReadsSeeExactlyTheWritesBeforeThem(t *testing.T) {
	addr := startServer(t, nil)
	c := dial(t, addr)
	mustOK(t)(c.Create("/p", []byte("0"), 0))
	const rounds = 50
	for i := 1; i <= rounds; i++ {
		if _, err := c.Send(jute.OpSetData, (&jute.SetDataRequest{Path: "/p", Data: []byte(fmt.Sprint(i)), Version: -1}).Append(nil)); err != nil {
			t.Fatal(err)
		}
		if _, err := c.Send(jute.OpGetData, (&jute.PathWatchRequest{Path: "/p"}).Append(nil)); err != nil {
			t.Fatal(err)
		}
	}
	for i := 1; i <= rounds; i++ {
		w, err := c.Recv()
		if err != nil || w.Header.Err != jute.CodeOK {
			t.Fatalf("setData %d: %+v %v", i, w.Header, err)
		}
		r, err := c.Recv()
		if err != nil || r.Header.Err != jute.CodeOK {
			t.Fatalf("getData %d: %+v %v", i, r.Header, err)
		}
		d := jute.NewDecoder(r.Body)
		data := d.Buffer()
		var st jute.Stat
		st.Decode(d)
		if string(data) != fmt.Sprint(i) || st.Version != int32(i) {
			t.Fatalf("read after write %d saw data %q version %d", i, data, st.Version)
		}
		if r.Header.Xid != w.Header.Xid+1 {
			t.Fatalf("replies out of order: %d then %d", w.Header.Xid, r.Header.Xid)
		}
	}
}

// TestWatchEventArrivesBeforeDataThatShowsTheChange has one client watch a
// node while another rewrites it; whenever a read shows a newer version
// than the one its watch was set at, the event for the change must already
// have arrived. The writer goes on until the reader has made that check
// 200 times, so the test cannot pass without checking.
func TestWatchEventArrivesBeforeDataThatShowsTheChange(t *testing.T) {
	addr := startServer(t, nil)
	reader, writer := dial(t, addr), dial(t, addr)
	mustOK(t)(writer.Create("/w", []byte("0"), 0))
	stop := make(chan struct{})
	done := make(chan error, 1)
	go func() {
		for i := 0; i < 1_000_000; i++ {
			select {
			case <-stop:
				done <- nil
				return
			default:
			}
			if _, err := writer.SetData("/w", []byte("x"), -1); err != nil {
				done <- err
				return
			}
		}
		done <- errors.New("a million writes and the reader never checked 200 times")
	}()
	const want = 200
	watched, checks := int32(-1), 0
	for checks < want {
		select {
		case err := <-done:
			t.Fatalf("writer stopped after %d checks: %v", checks, err)
		default:
		}
		events := len(reader.Events)
		r := mustOK(t)(reader.GetData("/w", true))
		d := jute.NewDecoder(r.Body)
		d.Buffer()
		var st jute.Stat
		st.Decode(d)
		if watched >= 0 && st.Version > watched {
			if !eventSince(reader, events) {
				t.Fatalf("read shows version %d after a watch set at version %d, but no event came first", st.Version, watched)
			}
			checks++
		}
		watched = st.Version
	}
	close(stop)
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}

// eventSince reports whether a NodeDataChanged arrived after the first n
// events were seen.
func eventSince(c *wire.Conn, n int) bool {
	for _, ev := range c.Events[n:] {
		if ev.Type == jute.EventNodeDataChanged {
			return true
		}
	}
	return false
}

func TestMaxClientCnxnsPerAddress(t *testing.T) {
	addr := startServer(t, func(c *Config) { c.MaxClientCnxns = 2 })
	a, b := dial(t, addr), dial(t, addr)
	third, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer third.Close()
	waitClosed(t, third)
	mustOK(t)(a.Call(jute.OpPing, nil))
	mustOK(t)(b.Call(jute.OpPing, nil))
}

func TestFourLetterWordWhitelist(t *testing.T) {
	addr := startServer(t, func(c *Config) { c.FourLetterWords = []string{"srvr"} })
	for word, want := range map[string]string{
		"ruok": "ruok is not executed because it is not in the whitelist.\n",
		"cons": "cons is not executed because it is not in the whitelist.\n",
	} {
		if got, err := zktest.FourLetter(addr, word); err != nil || got != want {
			t.Fatalf("%s: %q, %v", word, got, err)
		}
	}
	got, err := zktest.FourLetter(addr, "srvr")
	if err != nil || !strings.HasPrefix(got, "Zookeeper version: 3.8.0") || !strings.Contains(got, "\nMode: standalone\n") {
		t.Fatalf("srvr: %q, %v", got, err)
	}
}

// gatedLog is a pipeline.Log whose appends, once shut is set, wait until
// open is closed: a disk that has stalled.
type gatedLog struct {
	shut    atomic.Bool
	waiting atomic.Bool
	open    chan struct{}
}

func (g *gatedLog) Append(uint64, []byte) error {
	if g.shut.Load() {
		g.waiting.Store(true)
		<-g.open
	}
	return nil
}

func (g *gatedLog) RemoveThrough(uint64) error { return nil }

// TestFullPipelineQueueHoldsWritesNotReads stalls the log while one client
// pipelines far more writes than the pipeline's queue holds. The event loop
// they share must go on reading and answering: the stat word sees every
// write outstanding, and another client's read is answered from the last
// applied version. Once the log moves again, every write completes, in
// order.
func TestFullPipelineQueueHoldsWritesNotReads(t *testing.T) {
	log := &gatedLog{open: make(chan struct{})}
	srv, _ := startServerWith(t, pipeline.Config{ServerID: 1, Tick: 200 * time.Millisecond, QueueSize: 4, MaxBatch: 2, Log: log},
		func(c *Config) { c.Loops = 1 })
	addr := srv.Addr().String()
	writer, reader := dial(t, addr), dial(t, addr)
	mustOK(t)(writer.Create("/q", []byte("0"), 0))
	log.shut.Store(true)
	var release sync.Once
	unblock := func() { release.Do(func() { close(log.open) }) }
	t.Cleanup(unblock) // before the server stops: cleanups run last first

	const writes = 200
	for i := 1; i <= writes; i++ {
		if _, err := writer.Send(jute.OpSetData, (&jute.SetDataRequest{Path: "/q", Data: []byte(fmt.Sprint(i)), Version: -1}).Append(nil)); err != nil {
			t.Fatal(err)
		}
	}
	// Every write read and waiting; a loop blocked on the full queue would
	// not answer the word at all.
	waitOutstanding(t, addr, writes)
	if !log.waiting.Load() {
		t.Fatal("the writes are outstanding but the log has not seen one")
	}
	r := mustOK(t)(reader.GetData("/q", false))
	d := jute.NewDecoder(r.Body)
	data := d.Buffer()
	var st jute.Stat
	st.Decode(d)
	if string(data) != "0" || st.Version != 0 {
		t.Fatalf("read during the stall saw data %q version %d, want the created node", data, st.Version)
	}

	unblock()
	for i := 1; i <= writes; i++ {
		w, err := writer.Recv()
		if err != nil || w.Header.Err != jute.CodeOK {
			t.Fatalf("setData %d: %+v %v", i, w.Header, err)
		}
		if w.Header.Xid != int32(i+1) {
			t.Fatalf("setData %d answered with xid %d", i, w.Header.Xid)
		}
		var st jute.Stat
		st.Decode(jute.NewDecoder(w.Body))
		if st.Version != int32(i) {
			t.Fatalf("setData %d made version %d: applied out of order", i, st.Version)
		}
	}
}

// TestBacklogPastItsBoundCompletesInOrder pipelines more writes than a
// loop's backlog holds while the log is stalled, so the loop stops reading
// until the pipeline takes some (counted in backlogWaits); once the log
// moves, every write completes in order.
func TestBacklogPastItsBoundCompletesInOrder(t *testing.T) {
	const writes = maxBacklog + 1000
	log := &gatedLog{open: make(chan struct{})}
	// globalOutstandingLimit would stop the connection long before the
	// backlog fills: raise it past the writes.
	srv, _ := startServerWith(t, pipeline.Config{ServerID: 1, Tick: 200 * time.Millisecond, QueueSize: 4, MaxBatch: 2, Log: log},
		func(c *Config) { c.Loops = 1; c.MaxOutstanding = 2 * writes })
	writer := dial(t, srv.Addr().String())
	mustOK(t)(writer.Create("/q", nil, 0))
	log.shut.Store(true)
	var release sync.Once
	unblock := func() { release.Do(func() { close(log.open) }) }
	t.Cleanup(unblock)

	frames := make([]byte, 0, writes*32)
	for i := 1; i <= writes; i++ {
		frames = append(frames, wire.RequestFrame(int32(i+1), jute.OpSetData, (&jute.SetDataRequest{Path: "/q", Version: int32(i - 1)}).Append(nil))...)
	}
	waits := backlogWaits.Get()
	sent := make(chan error, 1)
	go func() {
		_, err := writer.Raw().Write(frames)
		sent <- err
	}()
	for try := 0; backlogWaits.Get() == waits; try++ {
		if try == 1000 {
			t.Fatalf("the loop's backlog never reached its bound (log stalled: %v)", log.waiting.Load())
		}
		time.Sleep(10 * time.Millisecond)
	}
	unblock()
	if err := <-sent; err != nil {
		t.Fatal(err)
	}
	for i := 1; i <= writes; i++ {
		w, err := writer.Recv()
		if err != nil || w.Header.Err != jute.CodeOK || w.Header.Xid != int32(i+1) {
			t.Fatalf("setData %d (version %d expected): %+v %v", i, i-1, w.Header, err)
		}
	}
}

// TestBacklogOfAnIdleLoopIsOfferedAgain fills the pipeline's queue from one
// loop with syncs, which publish nothing, while a second loop's request
// waits in that loop's backlog. The second loop has nothing in the pipeline
// and so gets no completion; the pipeline must still wake it after a batch.
func TestBacklogOfAnIdleLoopIsOfferedAgain(t *testing.T) {
	srv, pipe := startServerWith(t, pipeline.Config{ServerID: 1, Tick: 200 * time.Millisecond, QueueSize: 4, MaxBatch: 2},
		func(c *Config) { c.Loops = 2 })
	addr := srv.Addr().String()
	// Connections go to the loops in turn: a and b get different loops.
	a, b := dial(t, addr), dial(t, addr)
	hold, held := make(chan struct{}), make(chan struct{})
	go func() {
		_ = pipe.Inspect(func(*engine.State, map[int64]*pipeline.Session) {
			close(held)
			<-hold
		})
	}()
	<-held
	var release sync.Once
	unblock := func() { release.Do(func() { close(hold) }) }
	t.Cleanup(unblock)

	body := jute.AppendString(nil, "/") // a sync request is its path
	const syncs = 50
	for i := 0; i < syncs; i++ {
		if _, err := a.Send(jute.OpSync, body); err != nil {
			t.Fatal(err)
		}
	}
	// Once a's loop has read all of a's syncs, the queue is full (the rest
	// wait in that loop's backlog); b's sync, read while the pipeline is
	// still held, finds it so.
	waitOutstanding(t, addr, syncs)
	xid, err := b.Send(jute.OpSync, body)
	if err != nil {
		t.Fatal(err)
	}
	waitOutstanding(t, addr, syncs+1)
	unblock()
	for i := 0; i < syncs; i++ {
		if r, err := a.Recv(); err != nil || r.Header.Err != jute.CodeOK {
			t.Fatalf("a's sync %d: %+v %v", i, r.Header, err)
		}
	}
	r, err := b.Recv()
	if err != nil || r.Header.Err != jute.CodeOK || r.Header.Xid != xid {
		t.Fatalf("b's sync, waiting in an idle loop's backlog: %+v %v", r.Header, err)
	}
}

// waitOutstanding polls srvr until it reports n requests outstanding (read
// and not yet answered); it fails if srvr gets no answer or never does.
func waitOutstanding(t *testing.T, addr string, n int) {
	t.Helper()
	for try := 0; ; try++ {
		out, err := zktest.FourLetter(addr, "srvr")
		if err != nil {
			t.Fatalf("srvr: %v", err)
		}
		if strings.Contains(out, fmt.Sprintf("Outstanding: %d\n", n)) {
			return
		}
		if try == 500 {
			t.Fatalf("never %d requests outstanding:\n%s", n, out)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// TestFullDiskFailsWritesNotReads serves from a pipeline over the real WAL
// on a disk that fills up: a client's writes fail with SYSTEMERROR while its
// reads, and another client's, are answered; once space returns, writes
// succeed.
func TestFullDiskFailsWritesNotReads(t *testing.T) {
	disk := walfs.NewFaulty(wal.OSFS)
	log, err := wal.Open(t.TempDir(), wal.Options{FS: disk, SegmentSize: 4096, OnSyncError: func(err error) { t.Error(err) }})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { log.Close() })
	srv, _ := startServerWith(t, pipeline.Config{ServerID: 1, Tick: 200 * time.Millisecond, Log: log}, nil)
	addr := srv.Addr().String()
	a, b := dial(t, addr), dial(t, addr)
	mustOK(t)(a.Create("/before", []byte("kept"), 0))
	disk.SetFull(true)
	for i := 0; i < 5; i++ {
		r, err := a.Create(fmt.Sprintf("/during%d", i), make([]byte, 1024), 0)
		if err != nil || r.Header.Err != jute.CodeSystemError {
			t.Fatalf("create %d on a full disk: %+v %v", i, r.Header, err)
		}
	}
	for _, c := range []*wire.Conn{a, b} {
		r := mustOK(t)(c.GetData("/before", false))
		if !bytes.HasPrefix(r.Body, []byte{0, 0, 0, 4, 'k', 'e', 'p', 't'}) {
			t.Fatalf("read during the full disk: %x", r.Body)
		}
		if r, err := c.Call(jute.OpExists, (&jute.PathWatchRequest{Path: "/during0"}).Append(nil)); err != nil || r.Header.Err != jute.CodeNoNode {
			t.Fatalf("a failed create is visible: %+v %v", r.Header, err)
		}
	}
	disk.SetFull(false)
	mustOK(t)(b.Create("/after", nil, 0))
	mustOK(t)(a.Create("/during0", nil, 0))
}
