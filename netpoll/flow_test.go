package netpoll

import (
	"bytes"
	"fmt"
	"io"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/meerkat-zk/meerkat/internal/wire"
	"github.com/meerkat-zk/meerkat/internal/zktest"
	"github.com/meerkat-zk/meerkat/jute"
	"github.com/meerkat-zk/meerkat/pipeline"
)

// received returns how many requests the server has read from the
// connection of session id, read on the loops.
func received(srv *Server, session int64) int64 {
	var mu sync.Mutex
	var n int64
	srv.onLoops(func(l *loop) {
		for cn := range l.conns {
			if cn.sessionID == session {
				mu.Lock()
				n = cn.stats.received
				mu.Unlock()
			}
		}
	})
	return n
}

// waitFor polls cond every 5 ms for up to 10 s.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for try := 0; !cond(); try++ {
		if try == 2000 {
			t.Fatalf("never: %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// TestUnreadRepliesPauseReading pipelines far more getData of a large
// znode than the socket buffers hold, from a client that reads nothing.
// The server must stop reading that client's requests once
// OutboundThrottleBytes wait unsent, holding no more than that and one
// reply, go on serving another client on the same loop, and answer every
// request, in order, once the client reads.
func TestUnreadRepliesPauseReading(t *testing.T) {
	srv, _ := startServerWith(t, pipeline.Config{ServerID: 1, Tick: 200 * time.Millisecond}, func(c *Config) { c.Loops = 1 })
	addr := srv.Addr().String()
	other := dial(t, addr)
	value := bytes.Repeat([]byte("v"), 256<<10)
	mustOK(t)(other.Create("/big", value, 0))
	mustOK(t)(other.Create("/small", []byte("s"), 0))

	flooder := dial(t, addr)
	const requests = 200
	var frames []byte
	for i := 1; i <= requests; i++ {
		frames = append(frames, wire.RequestFrame(int32(i), jute.OpGetData, (&jute.PathWatchRequest{Path: "/big"}).Append(nil))...)
	}
	pauses := outboundPauses.Get()
	sent := make(chan error, 1)
	go func() {
		_, err := flooder.Raw().Write(frames)
		sent <- err
	}()
	waitFor(t, "the flooded connection pauses with replies unsent", func() bool {
		return outboundPauses.Get() > pauses && srv.rs.Buffered() > 0
	})

	bound := int64(srv.cfg.OutboundThrottleBytes + len(value) + 1024)
	read := received(srv, flooder.Session.SessionID)
	for i := 0; i < 20; i++ {
		if held := srv.rs.Buffered(); held > bound {
			t.Fatalf("the server holds %d unsent bytes for a client that does not read, above %d", held, bound)
		}
		// Another client on the same loop is served meanwhile.
		r := mustOK(t)(other.GetData("/small", false))
		if !bytes.HasPrefix(r.Body, []byte{0, 0, 0, 1, 's'}) {
			t.Fatalf("getData /small: %x", r.Body)
		}
		time.Sleep(10 * time.Millisecond)
	}
	if now := received(srv, flooder.Session.SessionID); now != read || now >= requests {
		t.Fatalf("the server read %d then %d of %d requests from a paused connection", read, now, requests)
	}

	flooder.Timeout = 30 * time.Second
	for i := 1; i <= requests; i++ {
		r, err := flooder.Recv()
		if err != nil || r.Header.Xid != int32(i) || r.Header.Err != jute.CodeOK || !bytes.HasPrefix(r.Body[4:], value) {
			t.Fatalf("reply %d: %+v %v", i, r.Header, err)
		}
	}
	if err := <-sent; err != nil {
		t.Fatal(err)
	}
	waitFor(t, "nothing held once the client read everything", func() bool { return srv.rs.Buffered() == 0 })
	mustOK(t)(flooder.GetData("/small", false))
}

// TestSlowConsumerIsClosed watches every change of a long path from a
// client that reads nothing while another writes: once the events it has
// not taken pass SlowConsumerBytes, it is closed and counted; the writer
// is not affected.
func TestSlowConsumerIsClosed(t *testing.T) {
	srv, _ := startServerWith(t, pipeline.Config{ServerID: 1, Tick: 200 * time.Millisecond}, func(c *Config) {
		c.Loops = 1
		c.MaxBuffer = 64 << 10
		c.OutboundThrottleBytes = 64 << 10
		c.SlowConsumerBytes = 256 << 10
	})
	addr := srv.Addr().String()
	writer, watcher := dial(t, addr), dial(t, addr)
	path := "/" + strings.Repeat("p", 1000)
	mustOK(t)(writer.Create(path, nil, 0))
	mustOK(t)(watcher.Call(jute.OpAddWatch, jute.AppendInt(jute.AppendString(nil, "/"), 1)))

	closed := slowConsumers.Get()
	body := (&jute.SetDataRequest{Path: path, Version: -1}).Append(nil)
	for batch := 0; slowConsumers.Get() == closed; batch++ {
		if batch == 200 {
			t.Fatalf("20000 events unread, and the watcher was never closed (server holds %d bytes)", srv.rs.Buffered())
		}
		for i := 0; i < 100; i++ {
			if _, err := writer.Send(jute.OpSetData, body); err != nil {
				t.Fatal(err)
			}
		}
		for i := 0; i < 100; i++ {
			if r, err := writer.Recv(); err != nil || r.Header.Err != jute.CodeOK {
				t.Fatalf("setData: %+v %v", r.Header, err)
			}
		}
	}
	// The watcher gets what was sent before the close, then EOF.
	_ = watcher.Raw().SetReadDeadline(time.Now().Add(10 * time.Second))
	if _, err := io.Copy(io.Discard, watcher.Raw()); err != nil {
		t.Fatalf("the slow consumer's connection was not closed: %v", err)
	}
	mustOK(t)(writer.GetData(path, false))
	waitFor(t, "nothing held after the close", func() bool { return srv.rs.Buffered() == 0 })
}

// TestGlobalOutstandingLimit stalls the log while one client pipelines
// writes: past globalOutstandingLimit, a connection with requests
// outstanding reads no more, as in ZooKeeper, while one with none still
// gets one request in and a reader is answered. Once the log moves,
// everything completes in order.
func TestGlobalOutstandingLimit(t *testing.T) {
	const limit = 10
	log := &gatedLog{open: make(chan struct{})}
	srv, _ := startServerWith(t, pipeline.Config{ServerID: 1, Tick: 200 * time.Millisecond, Log: log},
		func(c *Config) { c.Loops = 1; c.MaxOutstanding = limit })
	addr := srv.Addr().String()
	writer, second, reader := dial(t, addr), dial(t, addr), dial(t, addr)
	mustOK(t)(writer.Create("/q", nil, 0))
	mustOK(t)(writer.Create("/r", nil, 0))
	log.shut.Store(true)
	var release sync.Once
	unblock := func() { release.Do(func() { close(log.open) }) }
	t.Cleanup(unblock)

	pauses := outstandingPauses.Get()
	const writes = 100
	set := func(c *wire.Conn, path string, v int32) {
		if _, err := c.Send(jute.OpSetData, (&jute.SetDataRequest{Path: path, Version: v}).Append(nil)); err != nil {
			t.Fatal(err)
		}
	}
	for i := 0; i < writes; i++ {
		set(writer, "/q", int32(i))
	}
	// Frames are read while outstanding <= limit: limit+1 get in.
	waitOutstanding(t, addr, limit+1)
	if outstandingPauses.Get() == pauses {
		t.Fatal("the writer was not paused for globalOutstandingLimit")
	}
	// A connection with nothing outstanding gets one request in, then
	// waits too.
	set(second, "/r", -1)
	set(second, "/r", -1)
	waitOutstanding(t, addr, limit+2)
	mustOK(t)(reader.GetData("/q", false))
	time.Sleep(50 * time.Millisecond)
	waitOutstanding(t, addr, limit+2)

	unblock()
	for i := 0; i < writes; i++ {
		r, err := writer.Recv()
		if err != nil || r.Header.Err != jute.CodeOK || r.Header.Xid != int32(i+3) {
			t.Fatalf("setData %d: %+v %v", i, r.Header, err)
		}
	}
	for i := 0; i < 2; i++ {
		if r, err := second.Recv(); err != nil || r.Header.Err != jute.CodeOK {
			t.Fatalf("second client's setData %d: %+v %v", i, r.Header, err)
		}
	}
	waitOutstanding(t, addr, 0)
}

// TestHalfCloseAnswersEveryRequestFirst sends reads and a write that the
// stalled log holds, then shuts down its sending side: every request is
// answered, in order, before the server closes; a request cut short by the
// shutdown is not.
func TestHalfCloseAnswersEveryRequestFirst(t *testing.T) {
	log := &gatedLog{open: make(chan struct{})}
	srv, _ := startServerWith(t, pipeline.Config{ServerID: 1, Tick: 200 * time.Millisecond, Log: log}, nil)
	addr := srv.Addr().String()
	c := dial(t, addr)
	mustOK(t)(c.Create("/h", []byte("0"), 0))
	log.shut.Store(true)
	var release sync.Once
	unblock := func() { release.Do(func() { close(log.open) }) }
	t.Cleanup(unblock)

	get := (&jute.PathWatchRequest{Path: "/h"}).Append(nil)
	ops := []jute.OpCode{jute.OpGetData, jute.OpSetData, jute.OpGetData, jute.OpSync}
	bodies := [][]byte{get, (&jute.SetDataRequest{Path: "/h", Data: []byte("1"), Version: -1}).Append(nil), get, jute.AppendString(nil, "/h")}
	var xids []int32
	for i, op := range ops {
		xid, err := c.Send(op, bodies[i])
		if err != nil {
			t.Fatal(err)
		}
		xids = append(xids, xid)
	}
	if err := c.Raw().(*net.TCPConn).CloseWrite(); err != nil {
		t.Fatal(err)
	}
	waitOutstanding(t, addr, 3) // the write, the read behind it, the sync
	unblock()
	for i, xid := range xids {
		r, err := c.Recv()
		if err != nil || r.Header.Xid != xid || r.Header.Err != jute.CodeOK {
			t.Fatalf("reply %d (%v): %+v %v", i, ops[i], r.Header, err)
		}
		if i == 2 && !bytes.HasPrefix(r.Body, []byte{0, 0, 0, 1, '1'}) {
			t.Fatalf("the read behind the write saw %x", r.Body)
		}
	}
	if rest, err := io.ReadAll(c.Raw()); err != nil || len(rest) > 0 {
		t.Fatalf("after the replies: %x, %v; want EOF", rest, err)
	}

	cut := dial(t, addr)
	frame := wire.RequestFrame(1, jute.OpGetData, get)
	if _, err := cut.Raw().Write(frame[:len(frame)-3]); err != nil {
		t.Fatal(err)
	}
	if err := cut.Raw().(*net.TCPConn).CloseWrite(); err != nil {
		t.Fatal(err)
	}
	waitClosed(t, cut.Raw())
}

// TestHalfClosedFourLetterWords sends each word as `echo word | nc` does;
// the answer still comes (the conformance suite compares them with
// ZooKeeper's).
func TestHalfClosedFourLetterWords(t *testing.T) {
	addr := startServer(t, nil)
	for word, prefix := range map[string]string{"ruok": "imok", "isro": "rw", "srvr": "Zookeeper version: ", "mntr": "zk_version\t"} {
		got, err := zktest.FourLetterHalfClosed(addr, word)
		if err != nil || !strings.HasPrefix(got, prefix) {
			t.Errorf("%s: %q, %v", word, got, err)
		}
	}
	out, err := zktest.FourLetterHalfClosed(addr, "stat")
	if err != nil || !strings.Contains(out, fmt.Sprintf("Outstanding: %d\n", 0)) {
		t.Fatalf("stat: %q, %v", out, err)
	}
}

func TestFlowLimitsDefaultsAndChecks(t *testing.T) {
	c := Config{Tick: time.Second}
	if err := c.Validate(); err != nil {
		t.Fatal(err)
	}
	if c.MaxOutstanding != 1000 || c.OutboundThrottleBytes != 1<<20 || c.SlowConsumerBytes != 64<<20 {
		t.Fatalf("defaults: %d %d %d", c.MaxOutstanding, c.OutboundThrottleBytes, c.SlowConsumerBytes)
	}
	// A slow-consumer bound that one throttled reply could pass is refused,
	// naming the keys.
	c = Config{Tick: time.Second, MaxBuffer: 1 << 20, OutboundThrottleBytes: 1 << 20, SlowConsumerBytes: 2 << 20}
	if err := c.Validate(); err == nil || !strings.Contains(err.Error(), "meerkat.client.slowConsumerBytes") {
		t.Fatalf("slow-consumer bound below throttle + maxbuffer: %v", err)
	}
	// Unset, it is raised to fit a large jute.maxbuffer.
	c = Config{Tick: time.Second, MaxBuffer: 64 << 20}
	if err := c.Validate(); err != nil || c.SlowConsumerBytes <= c.OutboundThrottleBytes+c.MaxBuffer {
		t.Fatalf("default slow-consumer bound with a 64 MiB jute.maxbuffer: %d, %v", c.SlowConsumerBytes, err)
	}
	c = Config{Tick: time.Second, MaxOutstanding: -1}
	if err := c.Validate(); err == nil {
		t.Fatal("a negative globalOutstandingLimit was accepted")
	}
}
