package pipeline

import (
	"fmt"
	"io"
	"log/slog"
	"path/filepath"
	"reflect"
	"sync"
	"testing"
	"time"

	"github.com/meerkat-zk/meerkat/checkpoint"
	"github.com/meerkat-zk/meerkat/engine"
	"github.com/meerkat-zk/meerkat/jute"
	"github.com/meerkat-zk/meerkat/wal"
	"github.com/meerkat-zk/meerkat/wal/walfs"
)

var quiet = slog.New(slog.NewTextHandler(io.Discard, nil))

// collector is a Completer that keeps every completed request.
type collector struct {
	mu   sync.Mutex
	done []*Request
	ch   chan struct{}
}

func newCollector() *collector { return &collector{ch: make(chan struct{}, 1<<16)} }

func (c *collector) Complete(reqs []*Request) {
	c.mu.Lock()
	c.done = append(c.done, reqs...)
	c.mu.Unlock()
	for range reqs {
		c.ch <- struct{}{}
	}
}

func (c *collector) wait(t *testing.T, n int) {
	t.Helper()
	timeout := time.After(20 * time.Second)
	for i := 0; i < n; i++ {
		select {
		case <-c.ch:
		case <-timeout:
			t.Fatalf("only %d of %d requests completed", i, n)
		}
	}
}

type stores struct {
	dir   string
	log   *wal.WAL
	store *checkpoint.Store
	cp    *checkpoint.Checkpointer
	// checkpointZxid is what the checkpoint held; replayed how many log
	// entries recovery applied after it.
	checkpointZxid int64
	replayed       int
}

// open recovers the state from dir, as the server does at start.
func open(t *testing.T, dir string, policy checkpoint.Policy) (*stores, *engine.State) {
	t.Helper()
	store, err := checkpoint.Open(filepath.Join(dir, "checkpoint"), quiet, func(err error) { t.Error(err) })
	if err != nil {
		t.Fatal(err)
	}
	state, err := store.Load()
	if err != nil {
		t.Fatal(err)
	}
	cpZxid := int64(0)
	if state == nil {
		state = engine.NewState()
	} else {
		cpZxid = state.Zxid()
	}
	log, err := wal.Open(filepath.Join(dir, "wal"), wal.Options{SegmentSize: 64 << 10, Logger: quiet, OnSyncError: func(error) {}})
	if err != nil {
		t.Fatal(err)
	}
	replayed, err := Recover(state, log)
	if err != nil {
		t.Fatal(err)
	}
	cp := checkpoint.NewCheckpointer(store, cpZxid, 0, policy, quiet)
	return &stores{dir: dir, log: log, store: store, cp: cp, checkpointZxid: cpZxid, replayed: replayed}, state
}

func image(s *engine.State) map[string]string {
	v := s.Publish()
	out := map[string]string{"zxid": fmt.Sprint(s.Zxid())}
	v.Tree.All(func(n *engine.Node) bool {
		out[n.Path()] = fmt.Sprintf("%+v %q", n.Stat(), n.Data())
		return true
	})
	for _, r := range s.SessionRecords() {
		out[fmt.Sprint("session ", r.ID)] = fmt.Sprint(r.Timeout)
	}
	return out
}

func write(op jute.OpCode, session int64, body []byte, from Completer) *Request {
	return &Request{Kind: KindWrite, Entry: engine.Entry{Op: op, Session: session, Body: body}, From: from}
}

// startWithSession starts a pipeline of cfg on state (stopped when the
// test ends, if the test has not stopped it) and opens a session through
// it; the collector has the session's request as its first.
func startWithSession(t *testing.T, cfg Config, state *engine.State) (*Pipeline, *collector, int64) {
	t.Helper()
	p, err := New(cfg, state)
	if err != nil {
		t.Fatal(err)
	}
	p.Start()
	t.Cleanup(p.Stop)
	c := newCollector()
	if err := p.Submit(&Request{Kind: KindCreateSession, Timeout: 30000, From: c}); err != nil {
		t.Fatal(err)
	}
	c.wait(t, 1)
	return p, c, c.done[0].Session.ID
}

// TestRecoveryAfterAbruptStop writes through the durable pipeline, stops it
// without a final checkpoint (as a crash would leave it), recovers, and
// checks the state is exactly what was acknowledged.
func TestRecoveryAfterAbruptStop(t *testing.T) {
	dir := t.TempDir()
	policy := checkpoint.Policy{Entries: 40, Every: time.Hour}
	st, state := open(t, dir, policy)
	st.cp.Start()
	p, c, sid := startWithSession(t, Config{ServerID: 1, Tick: time.Hour, Log: st.log, Checkpoints: st.cp, Logger: quiet}, state)
	n := 0
	for i := 0; i < 300; i++ {
		body := (&jute.CreateRequest{Path: fmt.Sprintf("/n%d", i%50), Data: []byte(fmt.Sprint(i)), ACL: engine.OpenACL, Flags: int32(i % 2)}).AppendCreate(nil, false)
		_ = p.Submit(write(jute.OpCreate, sid, body, c))
		_ = p.Submit(write(jute.OpSetData, sid, (&jute.SetDataRequest{Path: fmt.Sprintf("/n%d", (i+7)%50), Data: []byte("s"), Version: -1}).Append(nil), c))
		n += 2
		if i%30 == 29 {
			_ = p.Submit(write(jute.OpDelete, sid, (&jute.PathVersionRequest{Path: fmt.Sprintf("/n%d", i%50), Version: -1}).Append(nil), c))
			n++
		}
	}
	c.wait(t, n)
	// The checkpointer stops here (flushing what it was given, as it would
	// before a crash); the writes after it reach only the log, so recovery
	// has to replay them on top of the checkpoint.
	st.cp.Stop(nil, 10*time.Second)
	if st.cp.Durable() == 0 {
		t.Fatal("the checkpointer never flushed; the test needs it to")
	}
	for i := 0; i < 10; i++ {
		_ = p.Submit(write(jute.OpSetData, sid, (&jute.SetDataRequest{Path: fmt.Sprintf("/n%d", i), Data: []byte("tail"), Version: -1}).Append(nil), c))
	}
	c.wait(t, 10)
	var want map[string]string
	if err := p.Submit(&Request{Kind: KindInspect, From: c, Inspect: func(s *engine.State, _ map[int64]*Session) { want = image(s) }}); err != nil {
		t.Fatal(err)
	}
	c.wait(t, 1)
	p.Stop()
	st.log.Close()
	st.store.Close()

	st2, recovered := open(t, dir, policy)
	defer st2.log.Close()
	defer st2.store.Close()
	if got := image(recovered); !reflect.DeepEqual(got, want) {
		t.Fatalf("recovered state differs: %d entries, want %d", len(got), len(want))
	}
	// Both halves of recovery ran: the checkpoint gave a prefix, the log
	// the rest, entry by entry.
	if st2.checkpointZxid == 0 || st2.replayed == 0 || int64(st2.replayed) != recovered.Zxid()-st2.checkpointZxid {
		t.Fatalf("recovery loaded a checkpoint at zxid %#x and replayed %d log entries up to %#x; want both, adding up",
			st2.checkpointZxid, st2.replayed, recovered.Zxid())
	}
	if len(st2.log.Segments()) == 0 {
		t.Fatal("no log")
	}
	// The session and its ephemerals survived, with their id.
	if ss, ok := recovered.Session(sid); !ok || ss.EphemeralCount() == 0 {
		t.Fatalf("session %x or its ephemerals lost", sid)
	}
	p2, _ := New(Config{ServerID: 1, Tick: time.Hour, Logger: quiet}, recovered)
	if p2.nextID <= sid {
		t.Fatalf("a new session could reuse id %x (next %x)", sid, p2.nextID)
	}
}

// TestFullDiskFailsWritesKeepsReadsAndRecovers runs the pipeline over the
// real WAL on a disk that fills up: while it is full, writes fail with
// SYSTEMERROR (their records half written, the next segment's
// preallocation refused), consume no zxid and change nothing, while reads
// see everything written before; once space returns writes go on, and the
// log recovers to exactly the acknowledged state.
func TestFullDiskFailsWritesKeepsReadsAndRecovers(t *testing.T) {
	dir := t.TempDir()
	disk := walfs.NewFaulty(wal.OSFS)
	log, err := wal.Open(dir, wal.Options{FS: disk, SegmentSize: 4096, Logger: quiet, OnSyncError: func(err error) { t.Error(err) }})
	if err != nil {
		t.Fatal(err)
	}
	p, c, sid := startWithSession(t, Config{ServerID: 1, Tick: time.Hour, Log: log, Logger: quiet}, nil)
	// 1 KiB of data a znode: four fill a 4 KiB segment, so the failed
	// writes need a new segment too.
	create := func(path string) *Request {
		body := (&jute.CreateRequest{Path: path, Data: make([]byte, 1024), ACL: engine.OpenACL}).AppendCreate(nil, false)
		r := write(jute.OpCreate, sid, body, c)
		_ = p.Submit(r)
		c.wait(t, 1)
		return r
	}
	before := create("/before")
	if before.Result.Err != jute.CodeOK {
		t.Fatalf("write before the disk filled: %v", before.Result.Err)
	}
	disk.SetFull(true)
	for i := 0; i < 10; i++ {
		if r := create(fmt.Sprintf("/during%d", i)); r.Result.Err != jute.CodeSystemError {
			t.Fatalf("write %d on a full disk: %v", i, r.Result.Err)
		}
	}
	v := p.View()
	if _, found := v.Tree.Get("/during0"); found {
		t.Fatal("an unlogged write was applied")
	}
	if _, found := v.Tree.Get("/before"); !found {
		t.Fatal("reads lost earlier data")
	}
	disk.SetFull(false)
	for i := 0; i < 10; i++ {
		r := create(fmt.Sprintf("/after%d", i))
		if r.Result.Err != jute.CodeOK {
			t.Fatalf("write %d after space returned: %v", i, r.Result.Err)
		}
		if r.Result.Zxid != before.Result.Zxid+1+int64(i) {
			t.Fatalf("write %d after space returned got zxid %#x: the failed writes consumed zxids", i, r.Result.Zxid)
		}
	}
	var want map[string]string
	_ = p.Submit(&Request{Kind: KindInspect, From: c, Inspect: func(s *engine.State, _ map[int64]*Session) { want = image(s) }})
	c.wait(t, 1)
	p.Stop()
	log.Close()

	// A restart replays the log: exactly the acknowledged writes, none of
	// the failed ones, whatever they left half written.
	log, err = wal.Open(dir, wal.Options{SegmentSize: 4096, Logger: quiet, OnSyncError: func(err error) { t.Error(err) }})
	if err != nil {
		t.Fatalf("reopening the log after the full disk: %v", err)
	}
	defer log.Close()
	recovered := engine.NewState()
	if _, err := Recover(recovered, log); err != nil {
		t.Fatal(err)
	}
	if got := image(recovered); !reflect.DeepEqual(got, want) {
		t.Fatalf("recovered %d entries, want %d: %v", len(got), len(want), got["zxid"])
	}
	if len(log.Segments()) < 2 {
		t.Fatalf("the writes never needed a second segment: %v", log.Segments())
	}
}

// offers is a Checkpoints that keeps the zxid of every delta offered.
type offers struct {
	mu    sync.Mutex
	zxids []int64
}

func (o *offers) Ready() bool { return true }
func (o *offers) Offer(d engine.Delta) {
	o.mu.Lock()
	o.zxids = append(o.zxids, d.View.Zxid)
	o.mu.Unlock()
}
func (o *offers) Durable() int64     { return 0 }
func (o *offers) Reset(engine.Delta) {}

func (o *offers) last() int64 {
	o.mu.Lock()
	defer o.mu.Unlock()
	if len(o.zxids) == 0 {
		return 0
	}
	return o.zxids[len(o.zxids)-1]
}

// TestQuietPipelineOffersItsLastChanges writes a burst, far quicker than
// CheckpointEvery, and then nothing: the checkpointer still gets the
// burst's last changes, on a deadline, not only with the next write.
func TestQuietPipelineOffersItsLastChanges(t *testing.T) {
	cp := &offers{}
	p, c, sid := startWithSession(t, Config{ServerID: 1, Tick: time.Hour, Checkpoints: cp, CheckpointEvery: 200 * time.Millisecond, Logger: quiet}, engine.NewState())
	for i := range 20 {
		body := (&jute.CreateRequest{Path: fmt.Sprintf("/n%d", i), ACL: engine.OpenACL}).AppendCreate(nil, false)
		if err := p.Submit(write(jute.OpCreate, sid, body, c)); err != nil {
			t.Fatal(err)
		}
	}
	c.wait(t, 20)
	want := c.done[20].Result.Zxid
	for deadline := time.Now().Add(10 * time.Second); cp.last() != want; time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("the checkpointer got zxid %#x last, want the burst's last write, %#x", cp.last(), want)
		}
	}
}
