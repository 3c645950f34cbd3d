package conformance

import (
	"errors"
	"fmt"
	"runtime/debug"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/meerkat-zk/meerkat/internal/zktest"
	"github.com/meerkat-zk/meerkat/jute"
)

// scenario is one named conformance scenario: run plays it against one
// server, writing what it sees to the env's transcript.
type scenario struct {
	name string
	run  func(e *env)
}

// target is what the two servers of a pair are.
type target int

const (
	// standalone: one standalone ZooKeeper, one standalone Meerkat.
	standalone target = iota
	// ensembleFollower: a follower (never the leader) of a 3-voter
	// ZooKeeper ensemble and one of a 3-voter Meerkat ensemble. Reads are
	// served by the follower itself, writes, session creation and expiry
	// and syncs go through its leader.
	ensembleFollower
)

// pair is a ZooKeeper and a Meerkat started with the same options, as
// target says.
type pair struct {
	zk, mk *zktest.Server
	opts   zktest.Options
	target target
	// zkEns and mkEns are the ensembles zk and mk belong to
	// (ensembleFollower only).
	zkEns, mkEns *zktest.Ensemble
}

// startPair starts Meerkat and ZooKeeper with the same options, as target
// says; zktest returns each once it sets up a session (on an ensemble,
// once every member does). Everything stops in t's cleanup.
func startPair(t testing.TB, o zktest.Options, tg target) *pair {
	t.Helper()
	p := &pair{opts: o, target: tg}
	switch tg {
	case standalone:
		p.mk = zktest.StartMeerkat(t, o)
		p.zk = zktest.StartZooKeeper(t, o)
	case ensembleFollower:
		eo := zktest.EnsembleOptions{Options: o, Voters: 3}
		p.mkEns = zktest.StartMeerkatEnsemble(t, eo)
		p.zkEns = zktest.StartZooKeeperEnsemble(t, eo)
		p.mk = follower(t, p.mkEns)
		p.zk = follower(t, p.zkEns)
	default:
		t.Fatalf("unknown target %d", tg)
	}
	return p
}

// follower waits until e has a leader and returns the first member that
// is not it.
func follower(t testing.TB, e *zktest.Ensemble) *zktest.Server {
	t.Helper()
	lead := e.Leader(t)
	for i, s := range e.Members {
		if i != lead && e.Mode(i) == "follower" {
			return s
		}
	}
	t.Fatalf("%s ensemble: no follower beside leader %d", e.Members[0].Name, lead+1)
	return nil
}

// servers are every process of the pair: the two servers, or every
// member of the two ensembles.
func (p *pair) servers() []*zktest.Server {
	if p.target == ensembleFollower {
		return append(append([]*zktest.Server(nil), p.zkEns.Members...), p.mkEns.Members...)
	}
	return []*zktest.Server{p.zk, p.mk}
}

// errAbort is the panic value an env uses to stop a scenario early.
type errAbort struct{ msg string }

// env is one scenario run against one server.
type env struct {
	srv    *zktest.Server
	target target
	isZK   bool
	root   string
	start  time.Time

	lines []string
	fails []string

	base    int64
	hasBase bool

	// halfClose sends each four-letter word as `echo word | nc` does,
	// shutting down the sending side after it.
	halfClose bool

	sessions map[int64]string
	// closed holds the sessions ended by closeSession.
	closed  map[int64]bool
	clients []*client
}

// client is a raw connection with a label ("A") used in the transcript.
type client struct {
	*rawConn
	e     *env
	label string
	// sessionClosed is set once closeSession succeeded or the session is
	// known to be gone.
	sessionClosed bool
	// dropped is set when the socket is closed (by either side).
	dropped bool
}

func newEnv(srv *zktest.Server, tg target, name string) *env {
	return &env{
		srv:      srv,
		target:   tg,
		isZK:     srv.Name == "zookeeper",
		root:     "/" + name,
		start:    time.Now(),
		sessions: map[int64]string{},
		closed:   map[int64]bool{},
	}
}

// p returns a path under the scenario's root; p("") is the root itself.
func (e *env) p(rel string) string {
	if rel == "" {
		return e.root
	}
	return e.root + "/" + rel
}

// logf appends a line to the transcript.
func (e *env) logf(format string, args ...any) {
	e.lines = append(e.lines, fmt.Sprintf(format, args...))
}

// expect records a failed expectation; the scenario goes on.
func (e *env) expect(ok bool, format string, args ...any) {
	if !ok {
		e.fails = append(e.fails, fmt.Sprintf(format, args...))
	}
}

// fatalf stops the scenario.
func (e *env) fatalf(format string, args ...any) {
	panic(errAbort{fmt.Sprintf(format, args...)})
}

// runEnv plays sc against srv, a server of target tg, and returns the
// env; a panic other than errAbort is recorded as a failure, not
// propagated.
func runEnv(srv *zktest.Server, tg target, sc scenario) (e *env) {
	e = newEnv(srv, tg, sc.name)
	func() {
		defer func() {
			if r := recover(); r != nil {
				if a, ok := r.(errAbort); ok {
					e.logf("ABORT: %s", a.msg)
					e.fails = append(e.fails, "aborted: "+a.msg)
					return
				}
				e.logf("PANIC: %v", r)
				e.fails = append(e.fails, fmt.Sprintf("panic: %v\n%s", r, debug.Stack()))
			}
		}()
		sc.run(e)
	}()
	func() {
		defer func() {
			if r := recover(); r != nil {
				e.logf("CLEANUP ABORT: %v", r)
				e.fails = append(e.fails, fmt.Sprintf("cleanup: %v", r))
			}
		}()
		e.cleanup()
	}()
	return e
}

// cleanup records late events on every open connection, then ends every
// session that is still alive so that no expiry disturbs a later scenario.
func (e *env) cleanup() {
	for _, c := range e.clients {
		if !c.dropped {
			c.events()
		}
	}
	// Newest connection first: it is the one that holds a reopened session.
	for i := len(e.clients) - 1; i >= 0; i-- {
		c := e.clients[i]
		if c.sessionClosed || e.closed[c.sessionID] {
			continue
		}
		if c.dropped {
			// Reopen the session to close it.
			r := c.reconnectQuiet()
			if r == nil {
				continue
			}
			c = r
		}
		if !c.closeSession() {
			e.closed[c.sessionID] = true
		}
	}
}

// runPair plays each scenario against both servers of p, the two runs
// concurrently, and compares the transcripts. Scenarios run one after
// another so that zxid offsets stay meaningful.
func runPair(t *testing.T, p *pair, list []scenario) {
	t.Helper()
	seen := map[string]bool{}
	for _, sc := range list {
		if seen[sc.name] {
			t.Fatalf("duplicate scenario name %q", sc.name)
		}
		seen[sc.name] = true
		if why, ok := skipOnFollowers(sc.name); ok && p.target == ensembleFollower {
			t.Run(sc.name, func(st *testing.T) { st.Skip("not played on ensemble followers: " + why) })
			continue
		}
		t.Run(sc.name, func(st *testing.T) { compare(st, t, p, sc) })
	}
}

// cleanupOn is a TB whose cleanups and temporary directories belong to
// another, longer-lived test.
type cleanupOn struct {
	testing.TB
	parent testing.TB
}

func (c cleanupOn) Cleanup(f func()) { c.parent.Cleanup(f) }
func (c cleanupOn) TempDir() string  { return c.parent.TempDir() }

// compare plays sc on both servers of p and reports differences on t. A
// server that died meanwhile is restarted, its process owned by parent.
//
// ZooKeeper's follower, on this 2-core machine with both ensembles
// running, now and then leaves a request unanswered for longer than the
// reply timeout (a few times in a hundred scenarios, in no particular
// one; its log says nothing). A scenario whose transcripts differ only
// because ZooKeeper timed out where Meerkat answered is therefore played
// once more on a new pair; what the second run shows is reported.
func compare(t, parent *testing.T, p *pair, sc scenario) {
	zk, mk := play(p, sc)
	if p.target == ensembleFollower && referenceStalled(zk, mk) {
		t.Logf("zookeeper's follower (%s) left a request unanswered where meerkat answered; the scenario is played again on a new pair. ZooKeeper's transcript:\n%s", p.zk.Addr, strings.Join(zk.lines, "\n"))
		restartPair(t, parent, p)
		zk, mk = play(p, sc)
	}
	for _, f := range zk.fails {
		t.Errorf("zookeeper: expectation failed (the scenario is wrong about ZooKeeper): %s", f)
	}
	for _, f := range mk.fails {
		t.Errorf("meerkat: %s", f)
	}
	if d := zktest.LineDiff(zk.lines, mk.lines, -1); d != "" {
		t.Errorf("transcripts differ (- zookeeper, + meerkat):\n%s", d)
	}
	if testing.Verbose() {
		t.Logf("zookeeper transcript:\n%s", strings.Join(zk.lines, "\n"))
	}
	// A server that died takes its tree with it: report it and go on with
	// a new pair, so that later scenarios compare like with like. On an
	// ensemble, a member that died or a follower that no longer follows
	// (a new election: zxids move to a new epoch) is reported the same
	// way.
	dead := false
	for _, srv := range p.servers() {
		if _, err := zktest.FourLetter(srv.Addr, "srvr"); err != nil {
			log := srv.Log()
			if len(log) > 4000 {
				log = "..." + log[len(log)-4000:]
			}
			t.Errorf("%s (%s) died during this scenario (%v); the remaining scenarios run on a new pair. Log tail:\n%s", srv.Name, srv.Addr, err, log)
			dead = true
		}
	}
	if p.target == ensembleFollower && !dead {
		for _, srv := range []*zktest.Server{p.zk, p.mk} {
			// A follower may answer srvr while its request pipeline
			// is stuck. ZooKeeper's stalls (above) are its own, not a
			// difference: they only make the remaining scenarios start
			// on a new pair.
			report := t.Errorf
			if srv == p.zk {
				report = t.Logf
			}
			if m := zktest.SrvrField(srv.Addr, "Mode"); m != "follower" {
				report("%s's follower (%s) says mode %q after this scenario; the remaining scenarios run on a new pair", srv.Name, srv.Addr, m)
				dead = true
			} else if err := setsUpSession(srv); err != nil {
				report("%s's follower (%s) sets up no session after this scenario (%v); the remaining scenarios run on a new pair", srv.Name, srv.Addr, err)
				dead = true
			}
		}
	}
	if dead {
		restartPair(t, parent, p)
	}
}

// play runs sc on both servers of p at once.
func play(p *pair, sc scenario) (zk, mk *env) {
	var wg sync.WaitGroup
	wg.Add(2)
	go func() { defer wg.Done(); zk = runEnv(p.zk, p.target, sc) }()
	go func() { defer wg.Done(); mk = runEnv(p.mk, p.target, sc) }()
	wg.Wait()
	return zk, mk
}

// restartPair kills every process of p and starts a new pair in its place,
// its processes owned by parent.
func restartPair(t, parent *testing.T, p *pair) {
	for _, srv := range p.servers() {
		srv.Kill()
	}
	*p = *startPair(cleanupOn{t, parent}, p.opts, p.target)
}

// referenceStalled reports whether zk's run of a scenario ran into a reply
// timeout that mk's run of it did not: the first line where the two
// transcripts part is a timeout on ZooKeeper's side only.
func referenceStalled(zk, mk *env) bool {
	for i, line := range zk.lines {
		if i < len(mk.lines) && mk.lines[i] == line {
			continue
		}
		return strings.Contains(line, timedOut) && (i >= len(mk.lines) || !strings.Contains(mk.lines[i], timedOut))
	}
	return false
}

// setsUpSession opens a session on srv and closes it again.
func setsUpSession(srv *zktest.Server) error {
	nc, err := dialRaw(srv.Addr)
	if err != nil {
		return err
	}
	rc, res, err := handshake(nc, connectOpts{timeout: defaultTimeout})
	switch {
	case err != nil:
		return err
	case res.noResponse != "":
		return errors.New("connect: " + res.noResponse)
	case rc == nil:
		return errors.New("connect: session refused")
	}
	defer rc.close()
	if err := rc.send(1, jute.OpCloseSession, nil); err != nil {
		return err
	}
	f, err := rc.reply(replyTimeout)
	if err == nil && f.hdr.Err != jute.CodeOK {
		err = fmt.Errorf("closeSession: %s", f.hdr.Err.String())
	}
	return err
}

// Connections.

// defaultTimeout is the session timeout scenarios ask for.
const defaultTimeout = 30000

// connect opens a new session labelled label and records the handshake.
func (e *env) connect(label string) *client {
	return e.connectWith(label, connectOpts{timeout: defaultTimeout})
}

// connectWith opens a session with explicit ConnectRequest fields. It
// records the response; a refused handshake aborts the scenario.
func (e *env) connectWith(label string, o connectOpts) *client {
	c, ok := e.tryConnect(label, o)
	if !ok {
		e.fatalf("%s: connect refused", label)
	}
	return c
}

// tryConnect is connectWith that reports a refusal instead of aborting.
func (e *env) tryConnect(label string, o connectOpts) (*client, bool) {
	nc, err := dialRaw(e.srv.Addr)
	if err != nil {
		e.fatalf("%s: dial: %v", label, err)
	}
	rc, res, err := handshake(nc, o)
	if err != nil {
		e.fatalf("%s: handshake: %v", label, err)
	}
	if res.noResponse != "" {
		e.logf("%s: connect -> %s", label, res.noResponse)
		return nil, false
	}
	r := res.resp
	if rc == nil {
		e.logf("%s: connect -> invalid: proto=%d timeout=%d session=%#x passwd=%x readOnly=%v/%v",
			label, r.ProtocolVersion, r.TimeOut, r.SessionID, r.Passwd, r.ReadOnly, r.HasReadOnly)
		return nil, false
	}
	if o.sessionID == 0 {
		if _, dup := e.sessions[r.SessionID]; dup {
			e.fatalf("%s: server reused session id %#x", label, r.SessionID)
		}
		e.sessions[r.SessionID] = "s" + label
	}
	c := &client{rawConn: rc, e: e, label: label}
	e.clients = append(e.clients, c)
	if !e.hasBase {
		f := c.mustCall(jute.XidPing, jute.OpPing, nil)
		e.base, e.hasBase = f.hdr.Zxid, true
		if e.target == ensembleFollower {
			// zxids are shown as offsets from the base; an ensemble's
			// epoch (the high 32 bits) is compared once here. Both
			// ensembles elect their first leader in epoch 1 and keep it
			// (compare restarts them after an election).
			e.logf("zxid epoch %d", e.base>>32)
		}
	}
	e.logf("%s: connect timeout=%d -> proto=%d timeout=%d session=%s passwd=%dB readOnly=%v/%v",
		label, o.timeout, r.ProtocolVersion, r.TimeOut, e.sess(r.SessionID), len(r.Passwd), r.ReadOnly, r.HasReadOnly)
	return c, true
}

// reconnect opens a new connection to c's session (the old socket, if
// open, is left to the server to drop) and records the handshake.
func (c *client) reconnect(label string) (*client, bool) {
	return c.e.tryConnect(label, connectOpts{timeout: c.timeout, sessionID: c.sessionID, passwd: c.passwd, lastZxid: c.lastZxid})
}

// awaitClose waits, sending nothing, until the server closes c, and
// records whether it did and anything it sent before; what names the
// moment in the transcript ("old connection" for one whose session moved
// to a newer one).
func (c *client) awaitClose(what string) {
	closed, frames := c.waitClosed(replyTimeout)
	c.dropped = c.dropped || closed
	for _, f := range frames {
		c.e.logf("%s: %s got xid=%d err=%s", c.label, what, f.hdr.Xid, f.hdr.Err.String())
	}
	c.e.logf("%s: %s closed by server: %v", c.label, what, closed)
}

// reconnectQuiet reopens c's session for cleanup, recording the result.
func (c *client) reconnectQuiet() *client {
	r, ok := c.reconnect(c.label + "'")
	if !ok {
		return nil
	}
	c.sessionClosed = true
	return r
}

// mustCall sends a request with xid and waits for its reply; without one
// the scenario ends (callFailed).
func (c *client) mustCall(xid int32, op jute.OpCode, body []byte) frame {
	f, err := c.callXid(xid, op, body, replyTimeout)
	if err != nil {
		c.callFailed(op, body, err)
	}
	return f
}

// callFailed aborts the scenario over a call that got no reply. A reply
// that timed out says so as a transcript line does, so that
// referenceStalled sees ZooKeeper's stall in the abort too.
func (c *client) callFailed(op jute.OpCode, body []byte, err error) {
	c.e.fatalf("%s: %v %s: %s", c.label, op, body, errKind(err))
}

// errWrite reports a request that could not be written.
var errWrite = errors.New("write failed")

// callXid sends a request and waits up to d for the next reply, which
// must carry xid.
func (c *client) callXid(xid int32, op jute.OpCode, body []byte, d time.Duration) (frame, error) {
	if err := c.send(xid, op, body); err != nil {
		c.dropped = true
		return frame{}, fmt.Errorf("%w: %v", errWrite, err)
	}
	f, err := c.reply(d)
	if errors.Is(err, errClosed) {
		c.dropped = true
	}
	if err != nil {
		return frame{}, err
	}
	if f.hdr.Xid != xid {
		return f, fmt.Errorf("reply xid %d, want %d", f.hdr.Xid, xid)
	}
	return f, nil
}

// errKind names an error without addresses or ports.
func errKind(err error) string {
	switch {
	case errors.Is(err, errClosed), errors.Is(err, errWrite):
		// A write fails only once the server has closed (or reset) the
		// connection; which of the two we notice first is timing.
		return "connection closed by server"
	case errors.Is(err, errTimeout):
		return "no reply " + timedOut
	}
	return err.Error()
}

// flushEvents records the notifications that arrived so far.
func (c *client) flushEvents() {
	for _, f := range c.takeStash() {
		c.logEvent(f)
	}
}

func (c *client) logEvent(f frame) {
	d := jute.NewDecoder(f.body)
	var ev jute.WatcherEvent
	ev.Decode(d)
	extra := ""
	if d.Err() != nil {
		extra = " decodeErr=" + d.Err().Error()
	} else if d.Len() > 0 {
		extra = fmt.Sprintf(" extra=%x", d.Rest())
	}
	c.e.logf("%s: event %s %s state=%d zxid=%s err=%d%s", c.label, eventName(ev.Type), ev.Path, ev.State, c.e.zx(f.hdr.Zxid), f.hdr.Err, extra)
}

func eventName(t int32) string {
	switch t {
	case -1:
		return "None"
	case 1:
		return "NodeCreated"
	case 2:
		return "NodeDeleted"
	case 3:
		return "NodeDataChanged"
	case 4:
		return "NodeChildrenChanged"
	}
	return fmt.Sprintf("EventType(%d)", t)
}

// events waits until every notification the server queued for c before
// now has arrived (a ping is the barrier: replies and notifications share
// one ordered stream) and records them.
func (c *client) events() {
	if c.dropped {
		c.flushEvents()
		return
	}
	_, err := c.callXid(jute.XidPing, jute.OpPing, nil, replyTimeout)
	c.flushEvents()
	if err != nil {
		c.e.logf("%s: ping barrier -> %s", c.label, errKind(err))
	}
}

// waitEvent waits up to d for one notification and records it; it
// records a timeout as such.
func (c *client) waitEvent(d time.Duration) bool {
	f, err := c.event(d)
	if err != nil {
		if errors.Is(err, errClosed) {
			c.dropped = true
		}
		c.e.logf("%s: no event: %s", c.label, errKind(err))
		return false
	}
	c.logEvent(f)
	return true
}

// call sends a request with the next xid, records "label: desc -> result"
// and returns the reply. Notifications that arrived before the reply are
// recorded first. A missing reply is recorded, not fatal.
func (c *client) call(desc string, op jute.OpCode, body []byte) (frame, bool) {
	return c.callWith(c.nextXid(), desc, op, body)
}

// callWith is call with an explicit xid.
func (c *client) callWith(xid int32, desc string, op jute.OpCode, body []byte) (frame, bool) {
	f, err := c.callXid(xid, op, body, replyTimeout)
	c.flushEvents()
	if err != nil {
		c.e.logf("%s: %s -> %s", c.label, desc, errKind(err))
		return f, false
	}
	c.e.logf("%s: %s -> %s zxid=%s%s", c.label, desc, f.hdr.Err.String(), c.e.zx(f.hdr.Zxid), c.e.renderBody(op, f))
	return f, f.hdr.Err == jute.CodeOK
}

// exchange sends one request and records whatever comes back within d:
// the reply, any other frame, silence, or a closed connection. If the
// connection is still open, a ping then shows whether it is still usable.
func (c *client) exchange(desc string, op jute.OpCode, body []byte, d time.Duration) {
	c.exchangeXid(c.nextXid(), desc, op, body, d)
}

// exchangeXid is exchange with an explicit xid.
func (c *client) exchangeXid(xid int32, desc string, op jute.OpCode, body []byte, d time.Duration) {
	if err := c.send(xid, op, body); err != nil {
		c.dropped = true
		c.e.logf("%s: %s -> %s", c.label, desc, errKind(fmt.Errorf("%w: %v", errWrite, err)))
		return
	}
	deadline := time.Now().Add(d)
	for i := 0; i < 10; i++ {
		f, err := c.reply(max(time.Until(deadline), time.Millisecond))
		c.flushEvents()
		if err != nil {
			if errors.Is(err, errClosed) {
				c.dropped = true
			}
			c.e.logf("%s: %s -> %s", c.label, desc, errKind(err))
			break
		}
		if f.hdr.Xid == xid {
			c.e.logf("%s: %s -> %s zxid=%s%s", c.label, desc, f.hdr.Err.String(), c.e.zx(f.hdr.Zxid), c.e.renderBody(op, f))
			if f.hdr.Err == jute.CodeUnimplemented {
				// ZooKeeper queues a close right behind this reply, from
				// another thread than the one that writes: a ping sent now
				// is sometimes answered first and sometimes not. Whether
				// the close comes is what is certain; wait for it.
				c.awaitClose("then")
				return
			}
			break
		}
		c.e.logf("%s: %s -> frame xid=%d zxid=%s err=%s body=%x", c.label, desc, f.hdr.Xid, c.e.zx(f.hdr.Zxid), f.hdr.Err.String(), f.body)
	}
	if !c.dropped {
		c.ping()
	}
}

// A scenario that ZooKeeper's follower aborted because a call it had to
// answer timed out counts as its stall, as a timed-out line does; a
// timeout on both sides, or another difference, does not.
func TestReferenceStalledSeesTimedOutAborts(t *testing.T) {
	stall := scenario{"stall", func(e *env) { (&client{e: e, label: "A"}).callFailed(jute.OpPing, nil, errTimeout) }}
	aborted := runEnv(&zktest.Server{Name: "zookeeper"}, ensembleFollower, stall)
	answered := &env{lines: []string{"zxid epoch 1", "A: ping -> OK zxid=z+0"}}
	other := &env{lines: []string{"ABORT: A: connect refused"}}
	for _, tc := range []struct {
		name   string
		zk, mk *env
		want   bool
	}{
		{"zookeeper aborted on a timeout, meerkat answered", aborted, answered, true},
		{"both aborted on a timeout", aborted, aborted, false},
		{"zookeeper aborted for another reason", other, answered, false},
	} {
		if got := referenceStalled(tc.zk, tc.mk); got != tc.want {
			t.Errorf("%s: referenceStalled = %v, want %v (zookeeper: %q)", tc.name, got, tc.want, tc.zk.lines)
		}
	}
}
