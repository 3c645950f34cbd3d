package bench

import (
	"encoding/binary"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"time"

	"golang.org/x/sys/unix"

	"github.com/meerkat-zk/meerkat/internal/reactor"
	"github.com/meerkat-zk/meerkat/jute"
)

// ServeEcho runs the read limit: a server on Meerkat's event loops
// (internal/reactor) that does what a ZooKeeper server must at the least
// for getData — frame, answer the handshake, and reply to every request
// with a frame of the size of a getData reply — and nothing else. The load
// generator drives it like a server. It serves addr (host:port) until the
// process ends; its replies carry valueSize bytes of data, as a getData
// reply of that size does; it has one event loop per CPU, as Meerkat.
func ServeEcho(addr string, valueSize int) error {
	body := jute.AppendBuffer(nil, make([]byte, valueSize))
	body = (&jute.Stat{DataLength: int32(valueSize)}).Append(body)
	srv, err := reactor.Listen(reactor.Config{Addr: addr}, &echoHandler{body: body})
	if err != nil {
		return err
	}
	srv.Start()
	select {}
}

// echoHandler is the echo server's reactor.Handler.
type echoHandler struct {
	body []byte
}

// echoConn is one echo connection's state.
type echoConn struct {
	open bool
	out  []byte
}

// OnOpen implements reactor.Handler.
func (e *echoHandler) OnOpen(c *reactor.Conn) bool {
	c.SetContext(&echoConn{})
	return true
}

// OnRead implements reactor.Handler: answer every complete frame and
// write once.
func (e *echoHandler) OnRead(c *reactor.Conn, in []byte) int {
	ec := c.Context().(*echoConn)
	ec.out = ec.out[:0]
	off := 0
	for len(in)-off >= 4 {
		n := int(binary.BigEndian.Uint32(in[off:]))
		if n > maxFrame {
			c.Abort()
			return len(in)
		}
		if len(in)-off < 4+n {
			break
		}
		frame := in[off : off+4+n]
		if !ec.open {
			resp := jute.ConnectResponse{TimeOut: 30000, SessionID: 1, Passwd: make([]byte, 16), HasReadOnly: true}
			b, start := jute.BeginFrame(ec.out)
			ec.out = jute.EndFrame(resp.Append(b), start)
			ec.open = true
		} else if n >= 8 {
			b, start := jute.BeginFrame(ec.out)
			b = append(b, frame[4:8]...) // xid
			b = jute.AppendLong(b, 0)
			b = jute.AppendInt(b, 0)
			ec.out = jute.EndFrame(append(b, e.body...), start)
		}
		off += 4 + n
	}
	c.Write(ec.out)
	return off
}

// OnReadEOF implements reactor.Handler.
func (e *echoHandler) OnReadEOF(c *reactor.Conn) { c.Close() }

// OnDrained implements reactor.Handler.
func (e *echoHandler) OnDrained(*reactor.Conn) {}

// OnClose implements reactor.Handler.
func (e *echoHandler) OnClose(*reactor.Conn, error) {}

// FsyncResult is what FsyncLimit measured.
type FsyncResult struct {
	Writers        int     `json:"writers"`
	RecordSize     int     `json:"record_size"`
	Seconds        float64 `json:"seconds"`
	Syncs          int64   `json:"syncs"`
	Records        int64   `json:"records"`
	SyncsPerSec    float64 `json:"syncs_per_sec"`
	RecordsPerSec  float64 `json:"records_per_sec"`
	RecordsPerSync float64 `json:"records_per_sync"`
	// Commit is each record's wait from submission to the end of the
	// fdatasync that covered it.
	Commit Latency `json:"commit"`
	// Sync is the duration of each write+fdatasync.
	Sync Latency `json:"sync"`
}

// FsyncLimit measures the write limit of the disk under dir: writers
// closed-loop writers each submit a record of recordSize bytes and wait
// until it is durable; one committer takes everything queued, appends it to
// a preallocated 64 MiB file with one write, calls fdatasync once and
// releases every writer it covered (group commit, as a write-ahead log
// does). With one writer that is the plain fdatasync rate.
func FsyncLimit(dir string, writers, recordSize int, d time.Duration) (*FsyncResult, error) {
	const fileSize = 64 << 20
	f, err := os.CreateTemp(dir, "fsync-limit-")
	if err != nil {
		return nil, err
	}
	defer os.Remove(f.Name())
	defer f.Close()
	if err := unix.Fallocate(int(f.Fd()), 0, 0, fileSize); err != nil {
		return nil, fmt.Errorf("bench: fallocate %s: %w", filepath.Base(f.Name()), err)
	}
	if err := unix.Fdatasync(int(f.Fd())); err != nil {
		return nil, err
	}
	type req struct{ done chan time.Time }
	queue := make(chan req, writers)
	stop := make(chan struct{})
	res := &FsyncResult{Writers: writers, RecordSize: recordSize}
	var syncH Histogram
	var syncErr error
	committed := make(chan struct{})
	go func() {
		defer close(committed)
		buf := make([]byte, 0, 64*recordSize)
		rec := make([]byte, recordSize)
		var off int64
		var batch []req
		for {
			select {
			case r := <-queue:
				batch = append(batch[:0], r)
			case <-stop:
				return
			}
		drain:
			for {
				select {
				case r := <-queue:
					batch = append(batch, r)
				default:
					break drain
				}
			}
			buf = buf[:0]
			for range batch {
				buf = append(buf, rec...)
			}
			if off+int64(len(buf)) > fileSize {
				off = 0
			}
			t := time.Now()
			if _, err := f.WriteAt(buf, off); err != nil {
				syncErr = err
				return
			}
			if err := unix.Fdatasync(int(f.Fd())); err != nil {
				syncErr = err
				return
			}
			now := time.Now()
			syncH.Record(now.Sub(t))
			off += int64(len(buf))
			res.Syncs++
			for _, r := range batch {
				r.done <- now
			}
		}
	}()
	var wg sync.WaitGroup
	hists := make([]Histogram, writers)
	counts := make([]int64, writers)
	start := time.Now()
	end := start.Add(d)
	for i := 0; i < writers; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			done := make(chan time.Time, 1)
			for time.Now().Before(end) {
				at := time.Now()
				queue <- req{done: done}
				select {
				case t := <-done:
					hists[i].Record(t.Sub(at))
					counts[i]++
				case <-committed:
					return
				}
			}
		}()
	}
	wg.Wait()
	elapsed := time.Since(start)
	close(stop)
	<-committed
	if syncErr != nil {
		return nil, fmt.Errorf("bench: fsync limit: %w", syncErr)
	}
	var commit Histogram
	for i := range hists {
		commit.Merge(&hists[i])
		res.Records += counts[i]
	}
	res.Seconds = elapsed.Seconds()
	res.SyncsPerSec = float64(res.Syncs) / res.Seconds
	res.RecordsPerSec = float64(res.Records) / res.Seconds
	if res.Syncs > 0 {
		res.RecordsPerSync = float64(res.Records) / float64(res.Syncs)
	}
	res.Commit, res.Sync = commit.Summary(), syncH.Summary()
	return res, nil
}
