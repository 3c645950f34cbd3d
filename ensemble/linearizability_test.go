package ensemble

import (
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/anishathalye/porcupine"
	"github.com/go-zookeeper/zk"

	"github.com/meerkat-zk/meerkat/internal/zktest"
)

// This file checks that a replicated ensemble is linearizable under
// faults: concurrent clients record a history of versioned setData,
// sync+getData and create on every server while the leader is SIGKILLed
// and later cut off from the others, and porcupine checks the history
// against a sequential model of znodes.

// linKind is the kind of a recorded operation.
type linKind uint8

const (
	// linSet is setData(key, value, version).
	linSet linKind = iota
	// linCreate is create(key, value).
	linCreate
	// linRead is sync then getData(key), as one operation.
	linRead
)

func (k linKind) String() string {
	return [...]string{"set", "create", "read"}[k]
}

// linOutcome is how an operation ended.
type linOutcome uint8

const (
	linOK linOutcome = iota
	linBadVersion
	linNodeExists
	linNoNode
	// linUnknown: the client lost its answer (connection closed, session
	// expired, ...): the operation may have taken effect, at any time
	// after its call.
	linUnknown
)

func (o linOutcome) String() string {
	return [...]string{"ok", "badversion", "nodeexists", "nonode", "unknown"}[o]
}

// linInput is an operation's input. Version is setData's expected version.
type linInput struct {
	Kind    linKind
	Key     string
	Value   string
	Version int32
}

// linOutput is an operation's result: for a set, the new version; for a
// read, the data and version.
type linOutput struct {
	Outcome linOutcome
	Value   string
	Version int32
}

// linState is a znode as the model sees it.
type linState struct {
	Exists  bool
	Value   string
	Version int32
}

// linStep is ZooKeeper's sequential semantics for one znode.
func linStep(state, input, output any) (bool, any) {
	s, in, out := state.(linState), input.(linInput), output.(linOutput)
	switch in.Kind {
	case linSet:
		matches := s.Exists && s.Version == in.Version
		next := linState{Exists: true, Value: in.Value, Version: in.Version + 1}
		switch out.Outcome {
		case linOK:
			return matches && out.Version == in.Version+1, next
		case linBadVersion:
			return s.Exists && s.Version != in.Version, s
		case linNoNode:
			return !s.Exists, s
		case linUnknown:
			// Applied if linearized where the version matches; an
			// operation that never took effect linearizes at the end of
			// the history (its return is infinite), where nothing sees it.
			if matches {
				return true, next
			}
			return true, s
		}
	case linCreate:
		next := linState{Exists: true, Value: in.Value}
		switch out.Outcome {
		case linOK:
			return !s.Exists, next
		case linNodeExists:
			return s.Exists, s
		case linUnknown:
			if !s.Exists {
				return true, next
			}
			return true, s
		}
	case linRead:
		switch out.Outcome {
		case linOK:
			return s.Exists && s.Value == out.Value && s.Version == out.Version, s
		case linNoNode:
			return !s.Exists, s
		}
	}
	return false, s
}

// linModel checks each znode on its own: operations on different znodes
// commute, so the history is linearizable if each znode's is.
var linModel = porcupine.Model{
	Partition: func(history []porcupine.Operation) [][]porcupine.Operation {
		byKey := map[string][]porcupine.Operation{}
		var keys []string
		for _, op := range history {
			k := op.Input.(linInput).Key
			if _, ok := byKey[k]; !ok {
				keys = append(keys, k)
			}
			byKey[k] = append(byKey[k], op)
		}
		sort.Strings(keys)
		out := make([][]porcupine.Operation, 0, len(keys))
		for _, k := range keys {
			out = append(out, byKey[k])
		}
		return out
	},
	Init: func() any { return linState{} },
	Step: linStep,
	DescribeOperation: func(input, output any) string {
		in, out := input.(linInput), output.(linOutput)
		switch in.Kind {
		case linSet:
			s := fmt.Sprintf("set(%s, %s, v%d) -> %s", in.Key, in.Value, in.Version, out.Outcome)
			if out.Outcome == linOK {
				s += fmt.Sprintf(" v%d", out.Version)
			}
			return s
		case linCreate:
			return fmt.Sprintf("create(%s, %s) -> %s", in.Key, in.Value, out.Outcome)
		default:
			if out.Outcome == linOK {
				return fmt.Sprintf("sync+get(%s) -> %s v%d", in.Key, out.Value, out.Version)
			}
			return fmt.Sprintf("sync+get(%s) -> %s", in.Key, out.Outcome)
		}
	},
	DescribeState: func(state any) string {
		s := state.(linState)
		if !s.Exists {
			return "absent"
		}
		return fmt.Sprintf("%s v%d", s.Value, s.Version)
	},
}

// linMeta says who ran an operation where, for the visualization and the
// counts.
type linMeta struct {
	Client string
	// Server is the client's server when the operation returned.
	Server string
	// Leader: the server said it led at the call and at the return.
	Leader bool
	Err    string
}

func (m linMeta) String() string {
	s := fmt.Sprintf("%s @%s", m.Client, m.Server)
	if m.Leader {
		s += " (leader)"
	}
	if m.Err != "" {
		s += " err=" + m.Err
	}
	return s
}

// linRecorder collects the history. Times are monotonic nanoseconds since
// start.
type linRecorder struct {
	start   time.Time
	mu      sync.Mutex
	ops     []porcupine.Operation
	clients atomic.Int64
	values  atomic.Int64
	dropped atomic.Int64
}

func newLinRecorder() *linRecorder { return &linRecorder{start: time.Now()} }

func (r *linRecorder) now() int64 { return int64(time.Since(r.start)) }

// newClient returns a fresh porcupine client id.
func (r *linRecorder) newClient() int { return int(r.clients.Add(1) - 1) }

// value returns a value no other write uses.
func (r *linRecorder) value() string { return fmt.Sprintf("v%d", r.values.Add(1)) }

func (r *linRecorder) add(client int, in linInput, out linOutput, call, ret int64, meta linMeta) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.ops = append(r.ops, porcupine.Operation{ClientId: client, Input: in, Output: out, Call: call, Return: ret, Metadata: meta})
}

func (r *linRecorder) history() []porcupine.Operation {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]porcupine.Operation(nil), r.ops...)
}

// linMonitor polls every member's mode.
type linMonitor struct {
	e     *zktest.Ensemble
	rec   *linRecorder
	mu    sync.Mutex
	modes []string
	log   []string
	once  sync.Once
	stop  chan struct{}
	done  chan struct{}
}

func startLinMonitor(e *zktest.Ensemble, rec *linRecorder) *linMonitor {
	m := &linMonitor{e: e, rec: rec, modes: make([]string, len(e.Members)), stop: make(chan struct{}), done: make(chan struct{})}
	m.poll()
	go func() {
		defer close(m.done)
		tick := time.NewTicker(100 * time.Millisecond)
		defer tick.Stop()
		for {
			select {
			case <-m.stop:
				return
			case <-tick.C:
				m.poll()
			}
		}
	}()
	return m
}

func (m *linMonitor) poll() {
	modes := make([]string, len(m.e.Members))
	for i := range m.e.Members {
		modes[i] = m.e.Mode(i)
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	for i, mode := range modes {
		if mode != m.modes[i] {
			m.log = append(m.log, fmt.Sprintf("%7.3fs member %d: %q -> %q",
				float64(m.rec.now())/1e9, i+1, m.modes[i], mode))
		}
	}
	m.modes = modes
}

func (m *linMonitor) close() {
	m.once.Do(func() { close(m.stop) })
	<-m.done
}

// isLeader reports whether the member at addr said last that it leads.
func (m *linMonitor) isLeader(addr string) bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	for i, s := range m.e.Members {
		if s.Addr == addr {
			return m.modes[i] == "leader"
		}
	}
	return false
}

// leader returns the address of a member that says it leads, or "".
func (m *linMonitor) leader() string {
	m.mu.Lock()
	defer m.mu.Unlock()
	for i, mode := range m.modes {
		if mode == "leader" {
			return m.e.Members[i].Addr
		}
	}
	return ""
}

func (m *linMonitor) transitions() []string {
	m.mu.Lock()
	defer m.mu.Unlock()
	return append([]string(nil), m.log...)
}

// linClient is one recording session.
type linClient struct {
	name string
	// follow: the client talks to the leader alone and moves to the new
	// leader when its server no longer leads.
	follow bool
	addr   string
	rec    *linRecorder
	mon    *linMonitor
	keys   []string
	rng    *rand.Rand
	id     int
	known  map[string]int32
	// created is the last create round this client took part in.
	created int

	mu      sync.Mutex
	conn    *zk.Conn
	aborted bool
}

const (
	linSessionTimeout = 6 * time.Second
	linRound          = 250 * time.Millisecond
	linMaxOps         = 700
)

func (c *linClient) dial(addr string) bool {
	conn, events, err := zk.Connect(strings.Split(addr, ","), linSessionTimeout, zk.WithLogger(zktest.QuietLog{}))
	if err != nil {
		return false
	}
	go zktest.Drain(events)
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.aborted {
		conn.Close()
		return false
	}
	old := c.conn
	c.conn, c.addr = conn, addr
	if old != nil {
		go old.Close()
	}
	return true
}

// abort closes the client's connection: its pending operation fails.
func (c *linClient) abort() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.aborted = true
	if c.conn != nil {
		go c.conn.Close()
	}
}

func (c *linClient) run(stop <-chan struct{}) {
	defer func() {
		c.mu.Lock()
		conn := c.conn
		c.mu.Unlock()
		conn.Close()
	}()
	for n := 0; n < linMaxOps; n++ {
		select {
		case <-stop:
			return
		default:
		}
		if c.follow && !c.mon.isLeader(c.addr) {
			if l := c.mon.leader(); l != "" && l != c.addr && !c.dial(l) {
				return
			}
		}
		var failed bool
		if c.rng.IntN(5) == 0 {
			failed = c.once()
		} else {
			key := c.keys[c.rng.IntN(len(c.keys))]
			if _, ok := c.known[key]; ok && c.rng.IntN(5) < 3 {
				failed = c.set(key)
			} else {
				failed = c.read(key, key)
			}
		}
		pause := time.Duration(15+c.rng.IntN(20)) * time.Millisecond
		if failed {
			pause = time.Duration(150+c.rng.IntN(100)) * time.Millisecond
		}
		select {
		case <-stop:
			return
		case <-time.After(pause):
		}
	}
}

// meta describes an operation that began at call, when the client's server
// was (or was not) the leader.
func (c *linClient) meta(leaderAtCall bool, err error) linMeta {
	server := c.conn.Server()
	m := linMeta{Client: c.name, Server: server, Leader: leaderAtCall && c.mon.isLeader(server)}
	if err != nil {
		m.Err = err.Error()
	}
	return m
}

// record adds an operation to the history and reports whether its outcome
// is unknown; then the client goes on under a new id, as the operation
// stays pending forever.
func (c *linClient) record(in linInput, out linOutput, call, ret int64, lead bool, err error) (unknown bool) {
	c.rec.add(c.id, in, out, call, ret, c.meta(lead, err))
	if out.Outcome != linUnknown {
		return false
	}
	c.id = c.rec.newClient()
	return true
}

// set runs a setData with the version the client last saw. It reports
// whether the outcome is unknown.
func (c *linClient) set(key string) bool {
	in := linInput{Kind: linSet, Key: key, Value: c.rec.value(), Version: c.known[key]}
	lead := c.mon.isLeader(c.conn.Server())
	call := c.rec.now()
	st, err := c.conn.Set(key, []byte(in.Value), in.Version)
	ret := c.rec.now()
	var out linOutput
	delete(c.known, key)
	switch {
	case err == nil:
		out = linOutput{Outcome: linOK, Version: st.Version}
		c.known[key] = st.Version
	case errors.Is(err, zk.ErrBadVersion):
		out.Outcome = linBadVersion
	case errors.Is(err, zk.ErrNoNode):
		out.Outcome = linNoNode
	default:
		out.Outcome, ret = linUnknown, math.MaxInt64
	}
	return c.record(in, out, call, ret, lead, err)
}

// read runs sync(syncPath) then getData(key) as one operation. A read
// that fails is left out: it constrains nothing.
func (c *linClient) read(key, syncPath string) bool {
	in := linInput{Kind: linRead, Key: key}
	lead := c.mon.isLeader(c.conn.Server())
	call := c.rec.now()
	var data []byte
	var st *zk.Stat
	_, err := c.conn.Sync(syncPath)
	if err == nil {
		data, st, err = c.conn.Get(key)
	}
	ret := c.rec.now()
	var out linOutput
	switch {
	case err == nil:
		out = linOutput{Outcome: linOK, Value: string(data), Version: st.Version}
		if strings.HasPrefix(key, "/lin/k") {
			c.known[key] = st.Version
		}
	case errors.Is(err, zk.ErrNoNode):
		out.Outcome = linNoNode
	default:
		c.rec.dropped.Add(1)
		return true
	}
	return c.record(in, out, call, ret, lead, err)
}

// once races the other clients to create this round's znode, or reads the
// znode of this round (which may not be there yet) or the last.
func (c *linClient) once() bool {
	round := int(time.Duration(c.rec.now())/linRound) + 1
	if c.created < round && c.rng.IntN(4) != 0 {
		c.created = round
		return c.create(fmt.Sprintf("/lin/once-%d", round))
	}
	if c.rng.IntN(2) == 0 && round > 1 {
		round--
	}
	return c.read(fmt.Sprintf("/lin/once-%d", round), "/lin")
}

func (c *linClient) create(key string) bool {
	in := linInput{Kind: linCreate, Key: key, Value: c.rec.value()}
	lead := c.mon.isLeader(c.conn.Server())
	call := c.rec.now()
	_, err := c.conn.Create(key, []byte(in.Value), 0, zk.WorldACL(zk.PermAll))
	ret := c.rec.now()
	var out linOutput
	switch {
	case err == nil:
		out.Outcome = linOK
	case errors.Is(err, zk.ErrNodeExists):
		out.Outcome = linNodeExists
	default:
		out.Outcome, ret = linUnknown, math.MaxInt64
	}
	return c.record(in, out, call, ret, lead, err)
}

// TestLinearizableUnderFaults records concurrent versioned setData,
// sync+getData and create on every server of a three-member ensemble
// (sessions on the whole ensemble, on the leader alone, following it as it
// changes, and on one follower) while the leader is SIGKILLed and
// restarted, and then the new leader is cut off from the others for 3 s;
// porcupine checks the history is linearizable.
func TestLinearizableUnderFaults(t *testing.T) {
	began := time.Now()
	e := zktest.StartMeerkatEnsemble(t, zktest.EnsembleOptions{Proxied: true})
	lead := e.Leader(t)
	rec := newLinRecorder()
	seed := uint64(time.Now().UnixNano())
	t.Logf("seed %d", seed)

	// The registers, created through the history from an absent state.
	keys := []string{"/lin/k0", "/lin/k1", "/lin/k2"}
	setupConn := connect(t, e.ConnectString(), 10*time.Second)
	if _, err := setupConn.Create("/lin", nil, 0, zk.WorldACL(zk.PermAll)); err != nil {
		t.Fatal(err)
	}
	setupID := rec.newClient()
	for _, k := range keys {
		in := linInput{Kind: linCreate, Key: k, Value: "init"}
		call := rec.now()
		if _, err := setupConn.Create(k, []byte(in.Value), 0, zk.WorldACL(zk.PermAll)); err != nil {
			t.Fatal(err)
		}
		rec.add(setupID, in, linOutput{Outcome: linOK}, call, rec.now(), linMeta{Client: "setup", Server: setupConn.Server()})
	}
	setupConn.Close()

	mon := startLinMonitor(e, rec)
	defer mon.close()
	follower := (lead + 1) % len(e.Members)
	var clients []*linClient
	add := func(name, addr string, follow bool) {
		c := &linClient{
			name: name, follow: follow, rec: rec, mon: mon, keys: keys,
			rng: rand.New(rand.NewPCG(seed, uint64(len(clients)))),
			id:  rec.newClient(), known: map[string]int32{},
		}
		if !c.dial(addr) {
			t.Fatalf("%s: cannot connect to %s", name, addr)
		}
		clients = append(clients, c)
	}
	for i := range 4 {
		add(fmt.Sprintf("all-%d", i+1), e.ConnectString(), false)
	}
	for i := range 2 {
		add(fmt.Sprintf("leader-%d", i+1), e.Members[lead].Addr, true)
	}
	add("follower", e.Members[follower].Addr, false)

	stop := make(chan struct{})
	var wg sync.WaitGroup
	for _, c := range clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c.run(stop)
		}()
	}
	at := func() string { return fmt.Sprintf("%.3fs", float64(rec.now())/1e9) }

	// Faults: SIGKILL the leader, restart it; then cut the new leader off
	// for 3 s.
	var windows [2]linWindow
	time.Sleep(2 * time.Second)
	t.Logf("%s SIGKILL member %d (leader)", at(), lead+1)
	windows[0] = linWindow{name: fmt.Sprintf("member %d killed", lead+1), from: rec.now()}
	e.Members[lead].Kill()
	time.Sleep(2500 * time.Millisecond)
	t.Logf("%s restart member %d", at(), lead+1)
	e.Members[lead].Restart(t)
	windows[0].to = rec.now()
	cut := e.Leader(t)
	t.Logf("%s member %d leads", at(), cut+1)
	time.Sleep(1500 * time.Millisecond)
	t.Logf("%s isolate member %d (leader)", at(), cut+1)
	windows[1] = linWindow{name: fmt.Sprintf("member %d isolated", cut+1), from: rec.now()}
	e.Isolate(cut)
	time.Sleep(3 * time.Second)
	t.Logf("%s heal", at())
	e.Heal()
	windows[1].to = rec.now()
	t.Logf("%s member %d leads", at(), e.Leader(t)+1)
	time.Sleep(2 * time.Second)

	close(stop)
	finished := make(chan struct{})
	go func() { wg.Wait(); close(finished) }()
	select {
	case <-finished:
	case <-time.After(3 * time.Second):
		// Operations still waiting on a server fail, with an unknown
		// outcome.
		for _, c := range clients {
			c.abort()
		}
		<-finished
	}
	recorded := time.Since(rec.start)
	mon.close()
	for _, l := range mon.transitions() {
		t.Log(l)
	}

	ops := rec.history()
	t.Logf("recorded %d operations in %v", len(ops), recorded.Round(time.Millisecond))
	linReport(t, ops, rec.dropped.Load(), windows[:])

	checkStart := time.Now()
	res, info := porcupine.CheckOperationsVerbose(linModel, ops, 30*time.Second)
	t.Logf("porcupine: %s in %v; %v since the ensemble started", res,
		time.Since(checkStart).Round(time.Millisecond), time.Since(began).Round(time.Millisecond))
	if res != porcupine.Ok {
		linDump(t, ops, info)
		if res == porcupine.Illegal {
			t.Fatal("the history is not linearizable")
		}
		t.Fatal("porcupine could not decide within 30 s")
	}
}

// linReport logs the operations by kind and outcome, and fails the test
// when too few succeeded for the check to mean anything.
func linReport(t *testing.T, ops []porcupine.Operation, dropped int64, windows []linWindow) {
	t.Helper()
	counts := map[string]int{}
	during := make([]map[string]int, len(windows))
	for i := range during {
		during[i] = map[string]int{}
	}
	var leaderReads, followerReads int
	for _, op := range ops {
		in, out, meta := op.Input.(linInput), op.Output.(linOutput), op.Metadata.(linMeta)
		if meta.Client == "setup" {
			continue
		}
		kind := in.Kind.String()
		if strings.HasPrefix(in.Key, "/lin/once-") {
			kind += "-once"
		}
		counts[kind+" "+out.Outcome.String()]++
		for i, w := range windows {
			if op.Call <= w.to && op.Return >= w.from {
				during[i][out.Outcome.String()]++
			}
		}
		if in.Kind == linRead && out.Outcome == linOK {
			if meta.Leader {
				leaderReads++
			} else {
				followerReads++
			}
		}
	}
	names := make([]string, 0, len(counts))
	for k := range counts {
		names = append(names, k)
	}
	sort.Strings(names)
	var b strings.Builder
	for _, k := range names {
		fmt.Fprintf(&b, " %s=%d", k, counts[k])
	}
	t.Logf("operations:%s; failed reads left out=%d", b.String(), dropped)
	t.Logf("successful sync+reads served by the leader=%d, by others=%d", leaderReads, followerReads)
	for i, w := range windows {
		t.Logf("operations overlapping %s (%.3fs-%.3fs): ok=%d badversion=%d nodeexists=%d nonode=%d unknown=%d",
			w.name, float64(w.from)/1e9, float64(w.to)/1e9, during[i]["ok"], during[i]["badversion"],
			during[i]["nodeexists"], during[i]["nonode"], during[i]["unknown"])
	}
	for _, need := range []struct {
		what  string
		got   int
		least int
	}{
		{"successful sets", counts["set ok"], 100},
		{"successful sync+reads", counts["read ok"] + counts["read-once ok"] + counts["read-once nonode"], 100},
		{"successful sync+reads served by the leader", leaderReads, 20},
		{"sets refused for their version", counts["set badversion"], 10},
		{"successful creates", counts["create-once ok"], 10},
		{"creates that found the znode", counts["create-once nodeexists"], 10},
	} {
		if need.got < need.least {
			t.Errorf("only %d %s (want at least %d): the history checks too little", need.got, need.what, need.least)
		}
	}
}

// linWindow is when a fault lasted.
type linWindow struct {
	name     string
	from, to int64
}

// linDump writes porcupine's visualization and the history of each znode
// whose history is not linearizable under os.TempDir(), and logs where
// each znode's check failed.
func linDump(t *testing.T, ops []porcupine.Operation, info porcupine.LinearizationInfo) {
	t.Helper()
	stamp := time.Now().Format("20060102-150405")
	html := filepath.Join(os.TempDir(), "meerkat-linearizability-"+stamp+".html")
	if err := porcupine.VisualizePath(linModel, info, html); err != nil {
		t.Logf("visualization: %v", err)
	} else {
		t.Logf("visualization: %s", html)
	}
	partitions := linModel.Partition(ops)
	partials := info.PartialLinearizationsOperations()
	single := linModel
	single.Partition = nil
	var text strings.Builder
	for p, history := range partitions {
		if porcupine.CheckOperationsTimeout(single, history, 10*time.Second) == porcupine.Ok {
			continue
		}
		key := history[0].Input.(linInput).Key
		sort.Slice(history, func(i, j int) bool { return history[i].Call < history[j].Call })
		// The longest linearizable prefix, and the first operation to
		// return that it leaves out: the check fails about there.
		var longest []porcupine.Operation
		if p < len(partials) {
			for _, l := range partials[p] {
				if len(l) > len(longest) {
					longest = l
				}
			}
		}
		in := map[int64]bool{}
		for _, op := range longest {
			in[op.Call] = true
		}
		stuck := int64(math.MaxInt64)
		for _, op := range history {
			if !in[op.Call] && op.Return < stuck {
				stuck = op.Return
			}
		}
		t.Errorf("%s: not linearizable; its longest linearizable prefix has %d of %d operations; ends:", key, len(longest), len(history))
		for _, op := range longest[max(0, len(longest)-8):] {
			t.Logf("  linearized %s", linFormat(op))
		}
		t.Logf("  operations around %.3fs, the first return it cannot take:", float64(stuck)/1e9)
		for _, op := range history {
			if op.Call <= stuck+int64(500*time.Millisecond) && (op.Return >= stuck-int64(500*time.Millisecond)) {
				t.Logf("  %s", linFormat(op))
			}
		}
		fmt.Fprintf(&text, "== %s\n", key)
		for _, op := range history {
			fmt.Fprintf(&text, "%s\n", linFormat(op))
		}
	}
	dump := filepath.Join(os.TempDir(), "meerkat-linearizability-"+stamp+".txt")
	if err := os.WriteFile(dump, []byte(text.String()), 0o644); err != nil {
		t.Logf("history: %v", err)
	} else {
		t.Logf("history of the failing znodes: %s", dump)
	}
}

func linFormat(op porcupine.Operation) string {
	ret := "      ∞"
	if op.Return != math.MaxInt64 {
		ret = fmt.Sprintf("%7.3fs", float64(op.Return)/1e9)
	}
	return fmt.Sprintf("[%7.3fs %s] c%-3d %-50s %v", float64(op.Call)/1e9, ret, op.ClientId,
		linModel.DescribeOperation(op.Input, op.Output), op.Metadata)
}

// linOp builds an operation for the model's own tests.
func linOp(client int, call, ret int64, in linInput, out linOutput) porcupine.Operation {
	return porcupine.Operation{ClientId: client, Input: in, Output: out, Call: call, Return: ret, Metadata: linMeta{Client: "test"}}
}

// TestLinearizableModel feeds the model histories whose answer is known:
// it must catch a stale read and a lost or doubled write, and accept
// what an unknown outcome allows.
func TestLinearizableModel(t *testing.T) {
	const k = "/lin/k0"
	const never = math.MaxInt64
	created := linOp(0, 0, 1, linInput{Kind: linCreate, Key: k, Value: "init"}, linOutput{Outcome: linOK})
	set := func(client int, call, ret int64, value string, expect int32, out linOutput) porcupine.Operation {
		return linOp(client, call, ret, linInput{Kind: linSet, Key: k, Value: value, Version: expect}, out)
	}
	read := func(client int, call, ret int64, value string, version int32) porcupine.Operation {
		return linOp(client, call, ret, linInput{Kind: linRead, Key: k}, linOutput{Outcome: linOK, Value: value, Version: version})
	}
	ok := func(version int32) linOutput { return linOutput{Outcome: linOK, Version: version} }
	unknown := linOutput{Outcome: linUnknown}
	for _, tc := range []struct {
		name    string
		want    porcupine.CheckResult
		history []porcupine.Operation
	}{
		{"stale read after a completed set", porcupine.Illegal, []porcupine.Operation{
			created, set(1, 2, 3, "a", 0, ok(1)), read(2, 4, 5, "init", 0)}},
		{"read going back in time", porcupine.Illegal, []porcupine.Operation{
			created, set(1, 2, 10, "a", 0, ok(1)), read(2, 3, 4, "a", 1), read(3, 5, 6, "init", 0)}},
		{"concurrent read sees either", porcupine.Ok, []porcupine.Operation{
			created, set(1, 2, 10, "a", 0, ok(1)), read(2, 3, 4, "init", 0), read(3, 5, 6, "a", 1)}},
		{"two sets succeed on one version", porcupine.Illegal, []porcupine.Operation{
			created, set(1, 2, 5, "a", 0, ok(1)), set(2, 2, 5, "b", 0, ok(1))}},
		{"bad version on the current version", porcupine.Illegal, []porcupine.Operation{
			created, set(1, 2, 3, "a", 0, linOutput{Outcome: linBadVersion})}},
		{"wrong new version", porcupine.Illegal, []porcupine.Operation{
			created, set(1, 2, 3, "a", 0, ok(2))}},
		{"unknown set applied later", porcupine.Ok, []porcupine.Operation{
			created, set(1, 2, never, "a", 0, unknown), read(2, 3, 4, "init", 0), read(2, 5, 6, "a", 1),
			set(2, 7, 8, "b", 1, ok(2)), read(3, 9, 10, "b", 2)}},
		{"unknown set never applied", porcupine.Ok, []porcupine.Operation{
			created, set(1, 2, never, "a", 0, unknown), read(2, 3, 4, "init", 0),
			set(2, 5, 6, "b", 0, ok(1)), read(3, 7, 8, "b", 1)}},
		{"unknown set undone", porcupine.Illegal, []porcupine.Operation{
			created, set(1, 2, never, "a", 0, unknown), read(2, 3, 4, "a", 1), read(2, 5, 6, "init", 0)}},
		{"unknown set with the wrong version applied", porcupine.Illegal, []porcupine.Operation{
			created, set(1, 2, 3, "a", 0, ok(1)), set(2, 4, never, "b", 0, unknown), read(3, 5, 6, "b", 2)}},
		{"two creates succeed", porcupine.Illegal, []porcupine.Operation{
			linOp(1, 0, 5, linInput{Kind: linCreate, Key: k, Value: "a"}, linOutput{Outcome: linOK}),
			linOp(2, 0, 5, linInput{Kind: linCreate, Key: k, Value: "b"}, linOutput{Outcome: linOK})}},
		{"create race", porcupine.Ok, []porcupine.Operation{
			linOp(1, 0, 5, linInput{Kind: linCreate, Key: k, Value: "a"}, linOutput{Outcome: linNodeExists}),
			linOp(2, 0, never, linInput{Kind: linCreate, Key: k, Value: "b"}, unknown),
			linOp(3, 1, 2, linInput{Kind: linRead, Key: k}, linOutput{Outcome: linNoNode}),
			linOp(3, 6, 7, linInput{Kind: linRead, Key: k}, linOutput{Outcome: linOK, Value: "b"})}},
		{"absent after a create", porcupine.Illegal, []porcupine.Operation{
			linOp(1, 0, 1, linInput{Kind: linCreate, Key: k, Value: "a"}, linOutput{Outcome: linOK}),
			linOp(2, 2, 3, linInput{Kind: linRead, Key: k}, linOutput{Outcome: linNoNode})}},
	} {
		if got := porcupine.CheckOperations(linModel, tc.history); got != (tc.want == porcupine.Ok) {
			t.Errorf("%s: linearizable=%v, want %s", tc.name, got, tc.want)
		}
		if res, _ := porcupine.CheckOperationsVerbose(linModel, tc.history, 10*time.Second); res != tc.want {
			t.Errorf("%s: %s, want %s", tc.name, res, tc.want)
		}
	}
}
