package crashtest

import (
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/meerkat-zk/meerkat/internal/wire"
	"github.com/meerkat-zk/meerkat/internal/zktest"
	"github.com/meerkat-zk/meerkat/jute"
)

// settings are a run's knobs, from the environment.
type settings struct {
	// rounds is how many times the server is killed and restarted.
	rounds int
	// writers is how many clients write concurrently.
	writers int
	// hot is how many hot znodes each writer updates.
	hot int
	// keep is how many rounds of znodes the tree keeps; older rounds are
	// deleted (every 25th is kept for good), so a soak's tree stays small
	// enough to read back whole after every restart.
	keep int
	// minKill and maxKill bound how many operations the writers get
	// acknowledged, together, before the kill: a count, not a time, so
	// that a seed replays a round's kill point as closely as the
	// scheduling of the writers allows.
	minKill, maxKill int
	// snapCount is the server's snapCount: the checkpoint is flushed (and
	// the log removed behind it) every snapCount zxids.
	snapCount int
	// seed makes the writers' operations and the kill points; a run's
	// seed is fixed unless MEERKAT_CRASH_SEED picks another, and logged.
	seed uint64
}

// defaultSeed is the seed of a run that names none.
const defaultSeed = 20261202

// segmentKiB is the server's preAllocSize: log segments small enough that
// rounds rotate them and checkpoints remove them.
const segmentKiB = 1024

func loadSettings(t *testing.T) settings {
	s := settings{rounds: 30, writers: 6, hot: 3, keep: 10,
		minKill: 50, maxKill: 1000, snapCount: 1000, seed: defaultSeed}
	if testing.Short() {
		s.rounds = 5
	}
	env := func(name string, into *int) {
		if v := os.Getenv(name); v != "" {
			n, err := strconv.Atoi(v)
			if err != nil || n <= 0 {
				t.Fatalf("%s=%q: want a positive integer", name, v)
			}
			*into = n
		}
	}
	env("MEERKAT_CRASH_ROUNDS", &s.rounds)
	env("MEERKAT_CRASH_WRITERS", &s.writers)
	env("MEERKAT_CRASH_SNAPCOUNT", &s.snapCount)
	if v := os.Getenv("MEERKAT_CRASH_SEED"); v != "" {
		n, err := strconv.ParseUint(v, 10, 64)
		if err != nil {
			t.Fatalf("MEERKAT_CRASH_SEED=%q: %v", v, err)
		}
		s.seed = n
	}
	return s
}

// ephemeral is a round's ephemeral znode and the session that owns it.
type ephemeral struct {
	id     int64
	passwd []byte
	path   string
	conn   *wire.Conn
}

// harness runs the rounds. Everything in it belongs to the test goroutine,
// except each writer while its run goroutine works.
type harness struct {
	t       *testing.T
	set     settings
	srv     *zktest.Server
	rng     *rand.Rand
	m       *model
	writers []*writer
	// sessions maps every session id handed out to whom it went.
	sessions map[int64]string
	eph      *ephemeral
	checker  *wire.Conn
	round    int
	// zStart is the highest zxid seen before the round's writes began.
	zStart int64
	// killedLog is what the server killed last printed.
	killedLog string
	stats     runStats
}

type runStats struct {
	acked, inflight, applied int
	byKind                   [len(kindNames)]int
	maxTree                  int
}

// TestCrashRecovery kills the server with SIGKILL while clients write, once
// a round, restarts it on the same data directory and checks after every
// restart that nothing acknowledged was lost, nothing unsent appeared, no
// multi is half applied, zxids never go back and sessions survive.
func TestCrashRecovery(t *testing.T) {
	set := loadSettings(t)
	h := newHarness(t, set)
	start := time.Now()
	h.skeleton()
	// Both ways of recovering must have been taken: a checkpoint loaded
	// and a log tail replayed after it, and log segments removed behind a
	// checkpoint.
	var bothPaths int
	var firstSegment int
	for r := range set.rounds {
		h.round = r
		h.setup()
		acked, killedAfter := h.writeAndKill()
		restart := time.Now()
		h.srv.Restart(t)
		restarted := time.Since(restart)
		rec, ok := parseRecovery(h.srv.Log())
		if !ok {
			h.fail(problems{"the restarted server logged no recovery line"})
		}
		if rec.checkpointZxid > 0 && rec.replayed > 0 {
			bothPaths++
		}
		segs, err := walSegments(filepath.Join(h.srv.Dir, "data", "wal"))
		if err != nil {
			h.fail(problems{err.Error()})
		}
		if len(segs) > 0 {
			firstSegment = max(firstSegment, segs[0])
		}
		verify := time.Now()
		size, applied := h.verify()
		t.Logf("round %d: killed after %d acknowledged operations (%v); restarted in %v (%s; wal segments %v); %d znodes verified in %v; %d in-flight writes found applied",
			r, acked, killedAfter.Round(time.Millisecond), restarted.Round(time.Millisecond), rec,
			segs, size, time.Since(verify).Round(time.Millisecond), applied)
	}
	if bothPaths == 0 {
		t.Errorf("no restart loaded a checkpoint and replayed a log tail after it")
	}
	if firstSegment <= 1 {
		t.Errorf("no log segment was ever removed behind a checkpoint (first segment %d)", firstSegment)
	}
	if _, err := closeSession(h.checker); err != nil {
		t.Fatalf("closing the last checker session: %v", err)
	}
	s := h.stats
	var kinds []string
	for k, n := range s.byKind {
		kinds = append(kinds, fmt.Sprintf("%s %d", kind(k), n))
	}
	t.Logf("%d rounds in %v (seed %d, %d writers, snapCount %d): %d writes acknowledged (%s), %d in flight at a kill, %d of those found applied; %d sessions handed out, none twice; largest tree %d znodes; %d restarts loaded a checkpoint and replayed a log tail; log segments up to %d removed",
		set.rounds, time.Since(start).Round(time.Millisecond), set.seed, set.writers, set.snapCount,
		s.acked, strings.Join(kinds, ", "), s.inflight, s.applied, len(h.sessions), s.maxTree, bothPaths, firstSegment-1)
}

func newHarness(t *testing.T, set settings) *harness {
	h := &harness{t: t, set: set, rng: rand.New(rand.NewPCG(set.seed, 0)), m: newModel(),
		sessions: map[int64]string{}}
	t.Logf("MEERKAT_CRASH_SEED=%d MEERKAT_CRASH_ROUNDS=%d MEERKAT_CRASH_WRITERS=%d MEERKAT_CRASH_SNAPCOUNT=%d",
		set.seed, set.rounds, set.writers, set.snapCount)
	h.srv = zktest.StartMeerkat(t, zktest.Options{Extra: []string{
		"forceSync=yes",
		fmt.Sprintf("snapCount=%d", set.snapCount),
		fmt.Sprintf("preAllocSize=%d", segmentKiB),
	}})
	t.Cleanup(func() {
		if !t.Failed() {
			return
		}
		t.Logf("failed in round %d: MEERKAT_CRASH_SEED=%d replays its operations", h.round, set.seed)
		if h.killedLog != "" {
			t.Logf("log of the server killed last:\n%s", tail(h.killedLog, 150))
		}
		t.Logf("log of the server started last:\n%s", tail(h.srv.Log(), 150))
		h.srv.Kill()
		keep, err := os.MkdirTemp("", "meerkat-crash-")
		if err == nil {
			err = exec.Command("cp", "-a", filepath.Join(h.srv.Dir, "data"), keep).Run()
		}
		if err != nil {
			t.Logf("could not keep the data directory: %v", err)
		} else {
			t.Logf("data directory kept in %s (meerkat dump-wal %s/data/wal)", keep, keep)
		}
	})
	for k := range set.writers {
		w := &writer{id: k, depth: 1 + k%4, rng: rand.New(rand.NewPCG(set.seed, uint64(k)+1)),
			seqDir: fmt.Sprintf("/seq/w%d", k), hotNext: map[string]int32{}}
		for j := range set.hot {
			w.hot = append(w.hot, fmt.Sprintf("/hot/w%d-%d", k, j))
		}
		h.writers = append(h.writers, w)
	}
	return h
}

// fail reports ps, with the operations that were in flight, and stops the
// test; the cleanup adds the servers' logs and keeps the data directory.
func (h *harness) fail(ps problems) {
	h.t.Helper()
	var b strings.Builder
	fmt.Fprintf(&b, "round %d (MEERKAT_CRASH_SEED=%d): %d problem(s):\n", h.round, h.set.seed, len(ps))
	if crashed(h.srv.Log()) {
		b.WriteString("  - the server started last crashed (its log is below)\n")
	}
	for i, p := range ps {
		if i == 60 {
			fmt.Fprintf(&b, "  ... and %d more\n", len(ps)-i)
			break
		}
		fmt.Fprintf(&b, "  - %s\n", p)
	}
	for _, w := range h.writers {
		if len(w.inflight) == 0 && len(w.acked) == 0 {
			continue
		}
		fmt.Fprintf(&b, "writer %d (session %#x, %d outstanding): %d acknowledged this round, last ones:\n", w.id, w.sessID, w.depth, len(w.acked))
		for _, o := range w.acked[max(0, len(w.acked)-3):] {
			fmt.Fprintf(&b, "    acked     %s\n", o)
		}
		for _, o := range w.inflight {
			fmt.Fprintf(&b, "    in flight %s\n", o)
		}
	}
	h.t.Fatal(b.String())
}

func (h *harness) must(err error, format string, args ...any) {
	h.t.Helper()
	if err != nil {
		h.fail(problems{fmt.Sprintf(format, args...) + ": " + err.Error()})
	}
}

// newSession opens a session and checks its id was never handed out
// before, by this server or one before a crash.
func (h *harness) newSession(who string) *wire.Conn {
	h.t.Helper()
	c, err := dial(h.srv.Addr, h.m.maxZxid)
	h.must(err, "%s: the server refused a new session from a client that saw zxid %#x", who, h.m.maxZxid)
	h.sessionIssued(c.Session.SessionID, who)
	return c
}

// sessionIssued records a session id handed out and fails if it was
// handed out before.
func (h *harness) sessionIssued(id int64, who string) {
	h.t.Helper()
	if prev, ok := h.sessions[id]; ok {
		h.fail(problems{fmt.Sprintf("session id %#x handed out twice: to %s, and now to %s", id, prev, who)})
	}
	h.sessions[id] = fmt.Sprintf("%s (round %d)", who, h.round)
}

// write sends reqs pipelined on the checker session and requires every one
// to succeed; it records their zxids.
func (h *harness) write(what string, reqs []request) []wire.Reply {
	h.t.Helper()
	replies, err := pipeline(h.checker, reqs)
	h.must(err, "%s", what)
	var ps problems
	for i, r := range replies {
		h.m.seen(r.Header.Zxid)
		if r.Header.Err != jute.CodeOK {
			ps.add("%s: request %d (%v) answered %v", what, i, reqs[i].op, r.Header.Err)
			continue
		}
		h.m.useZxid(r.Header.Zxid, fmt.Sprintf("round %d %s, request %d", h.round, what, i), &ps)
	}
	if len(ps) > 0 {
		h.fail(ps)
	}
	return replies
}

// create creates empty persistent znodes, in order, and adds them to the
// model as made in round.
func (h *harness) create(what string, round int, paths ...string) {
	h.t.Helper()
	reqs := make([]request, len(paths))
	for i, p := range paths {
		reqs[i] = createReq(p, nil, 0)
	}
	for i, r := range h.write(what, reqs) {
		d := jute.NewDecoder(r.Body)
		path := d.String()
		var st jute.Stat
		st.Decode(d)
		if d.Err() != nil || path != paths[i] {
			h.fail(problems{fmt.Sprintf("%s: create2 %s answered path %q (%v)", what, paths[i], path, d.Err())})
		}
		h.m.nodes[path] = &want{data: []byte{}, czxid: st.Czxid, mzxid: st.Mzxid, round: round,
			what: fmt.Sprintf("round %d %s (acknowledged)", h.round, what)}
	}
}

// skeleton creates the znodes that live for the whole run: the roots, each
// writer's hot znodes and its parent for sequential znodes.
func (h *harness) skeleton() {
	h.checker = h.newSession("checker")
	paths := []string{"/crash", "/hot", "/seq", "/eph"}
	for _, w := range h.writers {
		paths = append(paths, w.hot...)
		paths = append(paths, w.seqDir)
	}
	h.create("skeleton", -1, paths...)
}

// setup prepares a round on the checker session (left by the previous
// verify): it prunes old rounds, creates the round's directories, resumes
// or opens the writers' sessions and creates the round's ephemeral znode.
func (h *harness) setup() {
	r := h.round
	if old := r - h.set.keep; old >= 0 && old%25 != 0 {
		h.prune(old)
	}
	dirs := []string{fmt.Sprintf("/crash/r%d", r)}
	for _, w := range h.writers {
		w.dir = fmt.Sprintf("/crash/r%d/w%d", r, w.id)
		dirs = append(dirs, w.dir)
	}
	h.create("round directories", r, dirs...)
	_, err := closeSession(h.checker)
	h.must(err, "closing the checker session")
	h.checker = nil

	for _, w := range h.writers {
		if r == 0 {
			w.conn = h.newSession(fmt.Sprintf("writer %d", w.id))
			w.sessID, w.passwd = w.conn.Session.SessionID, w.conn.Session.Passwd
		} else {
			c, err := resume(h.srv.Addr, w.sessID, w.passwd, w.lastZxid)
			h.must(err, "writer %d could not resume its session after the restart", w.id)
			w.conn = c
		}
		w.acked, w.inflight, w.deletable, w.err, w.stopped = nil, nil, nil, nil, ""
		for _, p := range w.hot {
			w.hotNext[p] = h.m.nodes[p].version
		}
	}

	c := h.newSession("ephemeral owner")
	e := &ephemeral{id: c.Session.SessionID, passwd: c.Session.Passwd, path: fmt.Sprintf("/eph/r%d", r), conn: c}
	data := []byte(fmt.Sprintf("ephemeral of round %d|", r))
	reply, err := c.Call(jute.OpCreate2, createReq(e.path, data, 1).body)
	h.must(err, "creating %s", e.path)
	d := jute.NewDecoder(reply.Body)
	_ = d.String()
	var st jute.Stat
	st.Decode(d)
	if reply.Header.Err != jute.CodeOK || d.Err() != nil || st.EphemeralOwner != e.id {
		h.fail(problems{fmt.Sprintf("creating ephemeral %s: answered %v, owner %#x (%v)", e.path, reply.Header.Err, st.EphemeralOwner, d.Err())})
	}
	h.m.seen(reply.Header.Zxid)
	var ps problems
	h.m.useZxid(reply.Header.Zxid, "create "+e.path, &ps)
	if len(ps) > 0 {
		h.fail(ps)
	}
	h.m.nodes[e.path] = &want{data: data, czxid: st.Czxid, mzxid: st.Mzxid, owner: e.id, round: -1,
		what: fmt.Sprintf("create of ephemeral %s by session %#x (acknowledged)", e.path, e.id)}
	h.eph = e
	h.zStart = h.m.maxZxid
}

// prune deletes the znodes round old created, deepest first.
func (h *harness) prune(old int) {
	h.checker.Timeout = 30 * time.Second
	byDepth := map[int][]string{}
	for p, n := range h.m.nodes {
		if n.round == old {
			d := strings.Count(p, "/")
			byDepth[d] = append(byDepth[d], p)
		}
	}
	depths := make([]int, 0, len(byDepth))
	for d := range byDepth {
		depths = append(depths, d)
	}
	sort.Sort(sort.Reverse(sort.IntSlice(depths)))
	for _, d := range depths {
		paths := byDepth[d]
		sort.Strings(paths)
		reqs := make([]request, len(paths))
		for i, p := range paths {
			reqs[i] = deleteReq(p, h.m.nodes[p].version)
		}
		h.write(fmt.Sprintf("prune of round %d", old), reqs)
		for _, p := range paths {
			delete(h.m.nodes, p)
		}
	}
}

// writeAndKill lets the writers run and SIGKILLs the server once they have
// had a number of operations acknowledged, together, drawn from the seed;
// it folds what was acknowledged into the model. It returns the count the
// kill was set for and when it came.
func (h *harness) writeAndKill() (int, time.Duration) {
	deadline := time.Now().Add(time.Minute)
	round := h.round
	target := h.set.minKill + h.rng.IntN(h.set.maxKill-h.set.minKill)
	ks := newKillSwitch(target)
	var wg sync.WaitGroup
	for _, w := range h.writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			w.run(round, 1_000_000, deadline, ks)
		}()
	}
	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()
	start := time.Now()
	select {
	case <-ks.fire:
	case <-done: // every writer stopped early: a wrong answer
	case <-time.After(time.Until(deadline)):
	}
	// A server that is gone before the kill died on its own: that is a
	// crash of the server, not one the test made.
	diedEarly := syscall.Kill(h.srv.Pid(), 0) != nil
	h.srv.Kill()
	killedAfter := time.Since(start)
	h.killedLog = h.srv.Log()
	if diedEarly || crashed(h.killedLog) {
		h.fail(problems{fmt.Sprintf("the server died on its own %v into the round's writes, before the SIGKILL (its log is below)",
			killedAfter.Round(time.Millisecond))})
	}
	select {
	case <-done:
	case <-time.After(2 * time.Minute):
		h.t.Fatalf("round %d: the writers did not stop within 2 minutes of the kill", h.round)
	}
	h.eph.conn.Close()
	var ps problems
	for _, w := range h.writers {
		w.conn.Close()
		if w.err != nil {
			ps.add("%v", w.err)
		}
		h.m.ack(w, h.zStart, &ps)
		h.stats.acked += len(w.acked)
		h.stats.inflight += len(w.inflight)
		for _, o := range w.acked {
			h.stats.byKind[o.kind]++
		}
	}
	if len(ps) > 0 {
		h.fail(ps)
	}
	return target, killedAfter
}

// verify checks the restarted server against the model, then resumes and
// closes the previous round's ephemeral session. It leaves a checker
// session open for the next setup.
func (h *harness) verify() (size, applied int) {
	var ps problems
	c, err := dial(h.srv.Addr, h.m.maxZxid)
	if err != nil {
		// A server that lost writes refuses a client that saw them; read
		// the tree anyway, to tell what was lost.
		ps.add("the server refused a session from a client that saw zxid %#x, the highest before the crash: %v", h.m.maxZxid, err)
		c, err = dial(h.srv.Addr, 0)
		if err != nil {
			ps.add("the server refused a session from a client that saw nothing: %v", err)
			h.fail(ps)
		}
	}
	h.sessionIssued(c.Session.SessionID, "checker")
	h.checker = c
	h.checker.Timeout = 30 * time.Second
	t, err := readTree(h.checker)
	if err != nil {
		ps.add("reading the tree back after the restart: %v", err)
		h.fail(ps)
	}
	if t.zxid < h.m.maxZxid {
		ps.add("the server came back at zxid %#x, below %#x, a zxid a reply carried before the crash", t.zxid, h.m.maxZxid)
	}
	if t.maxZxid > t.zxid {
		ps.add("a znode has zxid %#x, above the server's zxid %#x", t.maxZxid, t.zxid)
	}
	for _, w := range h.writers {
		applied += h.m.resolve(w, t, h.zStart, &ps)
	}
	h.m.compare(t, &ps)
	h.m.seen(t.zxid)
	if len(ps) > 0 {
		h.fail(ps)
	}
	h.stats.applied += applied
	h.stats.maxTree = max(h.stats.maxTree, len(t.nodes))
	for _, w := range h.writers {
		w.inflight = nil
	}

	// The session that owns the ephemeral survived the crash: it resumes
	// with its id and password, and closing it removes the ephemeral.
	e := h.eph
	c, err = resume(h.srv.Addr, e.id, e.passwd, h.m.maxZxid)
	h.must(err, "the session owning %s did not survive the restart", e.path)
	r, err := c.GetData(e.path, false)
	h.must(err, "reading %s on its resumed session", e.path)
	d := jute.NewDecoder(r.Body)
	_ = d.Buffer()
	var st jute.Stat
	st.Decode(d)
	if r.Header.Err != jute.CodeOK || st.EphemeralOwner != e.id {
		ps.add("%s on its resumed session %#x: answered %v, ephemeralOwner %#x", e.path, e.id, r.Header.Err, st.EphemeralOwner)
	}
	zxid, err := closeSession(c)
	h.must(err, "closing session %#x after it resumed", e.id)
	h.m.seen(zxid)
	h.m.useZxid(zxid, fmt.Sprintf("closeSession %#x", e.id), &ps)
	delete(h.m.nodes, e.path)
	r, err = h.checker.GetData(e.path, false)
	h.must(err, "reading %s", e.path)
	if r.Header.Err != jute.CodeNoNode {
		ps.add("%s still there (%v) after its session %#x was closed", e.path, r.Header.Err, e.id)
	}
	if len(ps) > 0 {
		h.fail(ps)
	}
	return len(t.nodes), applied
}

var recoveredRE = regexp.MustCompile(`msg=recovered zxid=0x([0-9a-f]+) checkpoint_zxid=0x([0-9a-f]+) znodes=(\d+) log_entries_replayed=(\d+)`)

// recovery is what the server's recovery log line says.
type recovery struct {
	zxid, checkpointZxid int64
	replayed             int
}

func (r recovery) String() string {
	return fmt.Sprintf("zxid %#x, checkpoint at %#x, %d log entries replayed", r.zxid, r.checkpointZxid, r.replayed)
}

// parseRecovery reads the recovery line of a server's log.
func parseRecovery(log string) (recovery, bool) {
	m := recoveredRE.FindStringSubmatch(log)
	if m == nil {
		return recovery{}, false
	}
	zxid, err1 := strconv.ParseInt(m[1], 16, 64)
	cp, err2 := strconv.ParseInt(m[2], 16, 64)
	n, err3 := strconv.Atoi(m[4])
	if err1 != nil || err2 != nil || err3 != nil {
		return recovery{}, false
	}
	return recovery{zxid: zxid, checkpointZxid: cp, replayed: n}, true
}

// walSegments returns the sequence numbers of the log's segments (hex in
// their names), in order.
func walSegments(dir string) ([]int, error) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, err
	}
	var segs []int
	for _, e := range entries {
		if name, ok := strings.CutSuffix(e.Name(), ".wal"); ok {
			seq, _, _ := strings.Cut(name, "-")
			n, err := strconv.ParseInt(seq, 16, 64)
			if err != nil {
				return nil, fmt.Errorf("wal segment %s: %w", e.Name(), err)
			}
			segs = append(segs, int(n))
		}
	}
	sort.Ints(segs)
	return segs, nil
}

// crashed reports whether a server's log shows a panic or a fatal error.
func crashed(log string) bool {
	return strings.Contains(log, "panic:") || strings.Contains(log, "fatal error:")
}

// tail returns the last n lines of s.
func tail(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(lines) <= n {
		return s
	}
	return fmt.Sprintf("[%d lines omitted]\n%s", len(lines)-n, strings.Join(lines[len(lines)-n:], "\n"))
}
