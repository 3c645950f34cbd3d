package bench

import (
	"crypto/tls"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/meerkat-zk/meerkat/jute"
)

// Stream produces one connection's requests and checks their replies.
//
// In closed loop a connection's Next and Reply are called from one
// goroutine. In open loop Next is called by the connection's sender and
// Reply by its receiver, concurrently: a Stream used open loop must not
// share state between the two.
type Stream interface {
	// Next appends the next request's body to b and returns it with the
	// request's opcode; ok false means the stream has no more requests.
	Next(b []byte) (out []byte, op jute.OpCode, ok bool)
	// Reply checks the reply to a request of type op (called in request
	// order); false counts the reply as unexpected.
	Reply(op jute.OpCode, code jute.Code, body []byte) bool
}

// Options configures one load run.
type Options struct {
	// Addr is the server, host:port, or several, comma-separated, which
	// take the connections in turn.
	Addr string
	// Conns is the number of connections, each with its own session.
	Conns int
	// Depth is the number of requests outstanding on each connection: in
	// closed loop exactly that many (a reply releases the next request), in
	// open loop the most that may be (beyond it the sender waits, and the
	// wait counts in the latency, which is measured from the intended time).
	Depth int
	// Rate, when positive, makes the run open loop: requests are scheduled
	// at Rate per second over all connections, each connection at
	// Rate/Conns, staggered; latency counts from the scheduled time.
	Rate float64
	// Warmup is run before the measured window; nothing sent in it counts.
	Warmup time.Duration
	// Duration is the measured window. A request counts when it is sent
	// (closed loop) or scheduled (open loop) inside the window.
	Duration time.Duration
	// Drain bounds the wait for outstanding replies after the window; they
	// are unanswered after it. Zero means 5 s.
	Drain time.Duration
	// SessionTimeout is requested in the handshake. Zero means 30 s.
	SessionTimeout time.Duration
	// MaxRequests bounds the requests sent by each connection; zero means
	// no bound (the duration bounds the run).
	MaxRequests int64
	// ServerPids are the server processes (an ensemble's members) whose
	// CPU time, summed, is measured over the window.
	ServerPids []int
	// Sampler, when set, is read at the start and end of the window; the
	// result keeps the differences (server-side counters).
	Sampler func() map[string]float64
	// TLS, when set, makes every connection TLS with this client
	// configuration (its certificate, the roots to verify the server with;
	// an empty ServerName is the address's host). The generator still
	// speaks the wire protocol itself over the *tls.Conn, with the same
	// buffers, pipelining and one write per batch.
	TLS *tls.Config
}

// Validate fills defaults and rejects impossible settings.
func (o *Options) Validate() error {
	if o.Addr == "" {
		return errors.New("bench: no address")
	}
	if o.Conns <= 0 || o.Depth <= 0 {
		return fmt.Errorf("bench: conns %d and depth %d must be positive", o.Conns, o.Depth)
	}
	if o.Duration <= 0 || o.Warmup < 0 || o.Rate < 0 {
		return fmt.Errorf("bench: duration %v, warmup %v, rate %v", o.Duration, o.Warmup, o.Rate)
	}
	if o.Drain <= 0 {
		o.Drain = 5 * time.Second
	}
	if o.SessionTimeout <= 0 {
		o.SessionTimeout = 30 * time.Second
	}
	return nil
}

// Result is what one load run measured.
type Result struct {
	Conns      int     `json:"conns"`
	Depth      int     `json:"depth"`
	TargetRate float64 `json:"target_rate,omitempty"`
	// Seconds is the measured window; Ops the requests counted in it.
	Seconds    float64 `json:"seconds"`
	Ops        int64   `json:"ops"`
	Throughput float64 `json:"ops_per_sec"`
	Reads      Latency `json:"reads"`
	Writes     Latency `json:"writes"`
	// SendLag is, in open loop, how late the generator sent requests
	// against their schedule: large values mean the generator, not the
	// server, was behind.
	SendLag *Latency `json:"send_lag,omitempty"`
	// Unexpected counts replies whose error code the stream did not expect,
	// by "op:CODE"; OutOfOrder replies whose xid was not the oldest
	// outstanding; Unanswered requests without a reply at the end;
	// ConnErrors connections that failed.
	Unexpected    map[string]int64 `json:"unexpected,omitempty"`
	OutOfOrder    int64            `json:"out_of_order"`
	Unanswered    int64            `json:"unanswered"`
	Notifications int64            `json:"notifications"`
	ConnErrors    []string         `json:"conn_errors,omitempty"`
	// GenCPUPerOp is the generator's own CPU time (user+system, all its
	// threads) per counted request, in µs; GenCores its CPU use in cores.
	GenCPUPerOp float64 `json:"gen_cpu_us_per_op"`
	GenCores    float64 `json:"gen_cores"`
	// ServerCPUPerOp and ServerCores are the same for the server process.
	ServerCPUPerOp float64 `json:"server_cpu_us_per_op,omitempty"`
	ServerCores    float64 `json:"server_cores,omitempty"`
	// OtherCores is the CPU the rest of the machine used over the window:
	// anything well above zero means something else competed for the
	// cores and the figures are disturbed.
	OtherCores float64            `json:"other_cores"`
	Server     map[string]float64 `json:"server,omitempty"`
	// TLS is the protocol version and cipher suite the first connection
	// negotiated ("TLS 1.2 TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256"), empty
	// over plaintext.
	TLS string `json:"tls,omitempty"`
}

// Failures is the number of checks that failed: unexpected or out of order
// replies, unanswered requests and broken connections.
func (r *Result) Failures() int64 {
	n := r.OutOfOrder + r.Unanswered + int64(len(r.ConnErrors))
	for _, c := range r.Unexpected {
		n += c
	}
	return n
}

// Load drives the server at o.Addr with o.Conns connections, each fed by
// the Stream that newStream returns for its index, and returns what it
// measured. It returns early when every stream is exhausted. The whole run
// is bounded by Warmup + Duration + Drain after the connections are open.
func Load(o Options, newStream func(conn int) Stream) (*Result, error) {
	if err := o.Validate(); err != nil {
		return nil, err
	}
	conns, err := dialAll(o.Addr, o.TLS, o.Conns, o.SessionTimeout)
	if err != nil {
		return nil, err
	}
	negotiated := conns[0].tlsState()
	base := time.Now()
	warm := int64(o.Warmup)
	end := warm + int64(o.Duration)
	hard := base.Add(time.Duration(end) + o.Drain)
	workers := make([]*worker, len(conns))
	var wg sync.WaitGroup
	var running atomic.Int64
	allDone := make(chan struct{})
	running.Store(int64(len(conns)))
	for i, c := range conns {
		c.setDeadline(hard)
		w := &worker{id: i, c: c, s: newStream(i), o: &o, base: base, warm: warm, end: end,
			budget: o.MaxRequests, space: make(chan struct{}, 1)}
		workers[i] = w
		wg.Add(1)
		go func() {
			defer wg.Done()
			if o.Rate > 0 {
				w.openLoop(len(conns))
			} else {
				w.closedLoop()
			}
			w.c.close(w.xid+1, time.Second)
			if running.Add(-1) == 0 {
				close(allDone)
			}
		}()
	}

	type mark struct {
		cpu    cpuMark
		sample map[string]float64
	}
	take := func() mark {
		m := mark{cpu: markCPU(o.ServerPids...)}
		if o.Sampler != nil {
			m.sample = o.Sampler()
		}
		return m
	}
	var m0, m1 mark
	select {
	case <-time.After(time.Until(base.Add(time.Duration(warm)))):
		m0 = take()
		select {
		case <-time.After(time.Until(base.Add(time.Duration(end)))):
		case <-allDone:
		}
		m1 = take()
	case <-allDone:
		m0 = take()
		m1 = m0
	}
	wg.Wait()

	res := &Result{Conns: o.Conns, Depth: o.Depth, TargetRate: o.Rate, Unexpected: map[string]int64{}, TLS: negotiated}
	var reads, writes, lag Histogram
	for _, w := range workers {
		res.Ops += w.ops
		reads.Merge(&w.reads)
		writes.Merge(&w.writes)
		if w.lag != nil {
			lag.Merge(w.lag)
		}
		for k, v := range w.unexpected {
			res.Unexpected[k] += v
		}
		res.OutOfOrder += w.outOfOrder
		res.Unanswered += w.unanswered
		res.Notifications += w.notifications
		if w.err != nil && len(res.ConnErrors) < 10 {
			res.ConnErrors = append(res.ConnErrors, fmt.Sprintf("conn %d: %v", w.id, w.err))
		}
	}
	if len(res.Unexpected) == 0 {
		res.Unexpected = nil
	}
	res.setWindow(m0.cpu, m1.cpu)
	res.Reads, res.Writes = reads.Summary(), writes.Summary()
	if o.Rate > 0 {
		l := lag.Summary()
		res.SendLag = &l
	}
	if m1.sample != nil {
		res.Server = map[string]float64{}
		for k, v := range m1.sample {
			res.Server[k] = v - m0.sample[k]
		}
	}
	return res, nil
}

// dialAll opens n sessions, 32 handshakes at a time, over TLS when tc is
// set; addr may list several servers, comma-separated, which take the
// connections in turn.
func dialAll(addr string, tc *tls.Config, n int, timeout time.Duration) ([]*conn, error) {
	addrs := strings.Split(addr, ",")
	conns := make([]*conn, n)
	errs := make([]error, n)
	sem := make(chan struct{}, 32)
	var wg sync.WaitGroup
	deadline := time.Now().Add(30*time.Second + time.Duration(n)*time.Millisecond)
	for i := range conns {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			conns[i], errs[i] = dialTLS(addrs[i%len(addrs)], tc, timeout, deadline)
		}()
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		for _, c := range conns {
			if c != nil {
				c.nc.Close()
			}
		}
		return nil, fmt.Errorf("bench: opening %d sessions: %w", n, err)
	}
	return conns, nil
}

// worker drives one connection.
type worker struct {
	id     int
	c      *conn
	s      Stream
	o      *Options
	base   time.Time
	warm   int64 // window start, ns since base
	end    int64 // window end, ns since base
	budget int64 // requests left to send when MaxRequests > 0

	xid     int32
	mu      sync.Mutex // guards q in open loop, where two goroutines share it
	q       ring
	space   chan struct{}
	sending atomic.Bool // open loop: the sender still runs
	stop    atomic.Bool // open loop: the receiver asks the sender to stop

	reads, writes Histogram
	lag           *Histogram
	ops           int64
	unexpected    map[string]int64
	outOfOrder    int64
	unanswered    int64
	notifications int64
	err           error
}

func (w *worker) now() int64 { return int64(time.Since(w.base)) }

// mayAppend appends the next request, due at t (ns since base: the send
// time in closed loop, the scheduled time in open loop), when the window,
// the budget and the stream allow; it reports whether it did. Both loops
// append through it, so both keep to the window and to MaxRequests.
func (w *worker) mayAppend(t int64) bool {
	if t >= w.end || (w.o.MaxRequests > 0 && w.budget <= 0) {
		return false
	}
	op, ok := w.c.appendNext(w.xid+1, w.s)
	if !ok {
		return false
	}
	w.xid++
	w.budget--
	w.mu.Lock()
	w.q.push(pending{xid: w.xid, op: op, t: t})
	w.mu.Unlock()
	return true
}

// closedLoop keeps Depth requests outstanding until the window ends, then
// collects the replies still due.
func (w *worker) closedLoop() {
	now := w.now()
	for i := 0; i < w.o.Depth && w.mayAppend(now); i++ {
	}
	if w.err = w.c.flush(); w.err != nil {
		w.unanswered += int64(w.q.len())
		return
	}
	for w.q.len() > 0 {
		if err := w.c.fill(); err != nil {
			w.fail(err)
			return
		}
		w.c.drainTLS()
		now = w.now()
		for {
			p, err := w.c.next()
			if err != nil {
				w.fail(err)
				return
			}
			if p == nil {
				break
			}
			if w.handle(p, now) {
				w.mayAppend(now)
			}
		}
		if err := w.c.flush(); err != nil {
			w.fail(err)
			return
		}
	}
}

// fail records a broken connection; what was outstanding is unanswered.
func (w *worker) fail(err error) {
	w.err = err
	w.mu.Lock()
	w.unanswered += int64(w.q.len())
	w.mu.Unlock()
}

// handle checks one reply frame against the oldest outstanding request and
// records its latency. It reports whether a request was completed (so the
// closed loop may send the next).
func (w *worker) handle(p []byte, now int64) bool {
	xid, code, ok := replyHeader(p)
	if !ok {
		w.outOfOrder++
		return false
	}
	switch xid {
	case jute.XidNotification:
		w.notifications++
		return false
	case jute.XidPing:
		return false
	}
	w.mu.Lock()
	head, ok := w.q.peek()
	if !ok || head.xid != xid {
		w.outOfOrder++
		skip := w.q.find(xid)
		if skip < 0 {
			w.mu.Unlock()
			return false
		}
		// The requests passed over are unanswered; the reply still counts.
		for ; skip > 0; skip-- {
			w.q.pop()
			w.unanswered++
		}
	}
	e := w.q.pop()
	left := w.q.len()
	w.mu.Unlock()
	if left < w.o.Depth {
		select {
		case w.space <- struct{}{}:
		default:
		}
	}
	if e.t >= w.warm && e.t < w.end {
		w.ops++
		if e.op.IsWrite() {
			w.writes.RecordValue(now - e.t)
		} else {
			w.reads.RecordValue(now - e.t)
		}
	}
	if !w.s.Reply(e.op, code, p[jute.ReplyHeaderSize:]) {
		if w.unexpected == nil {
			w.unexpected = map[string]int64{}
		}
		w.unexpected[e.op.String()+":"+code.String()]++
	}
	return true
}

// openLoop sends on the schedule from one goroutine and receives on this
// one.
func (w *worker) openLoop(conns int) {
	w.lag = &Histogram{}
	w.sending.Store(true)
	go w.send(conns)
	for {
		err := w.c.fill()
		now := w.now()
		if err != nil {
			w.mu.Lock()
			idle := !w.sending.Load() && w.q.len() == 0
			w.mu.Unlock()
			if !idle {
				w.fail(err)
			}
			break
		}
		for {
			p, ferr := w.c.next()
			if ferr != nil {
				w.fail(ferr)
				w.stopSender()
				return
			}
			if p == nil {
				break
			}
			w.handle(p, now)
		}
		w.mu.Lock()
		idle := !w.sending.Load() && w.q.len() == 0
		w.mu.Unlock()
		if idle {
			break
		}
	}
	w.stopSender()
}

// stopSender stops the sender goroutine and waits for it.
func (w *worker) stopSender() {
	w.stop.Store(true)
	for w.sending.Load() {
		select {
		case w.space <- struct{}{}:
		default:
		}
		time.Sleep(time.Millisecond)
	}
}

// send issues requests at their scheduled times: request k of connection
// i of n is due at warm-up start + (i + k·n)/Rate. It sends everything due
// in one write, then sleeps until the next is due.
func (w *worker) send(conns int) {
	defer func() {
		w.mu.Lock()
		w.sending.Store(false)
		if w.q.len() == 0 {
			// Wake the receiver out of its read: nothing more will come.
			_ = w.c.nc.SetReadDeadline(time.Now())
		}
		w.mu.Unlock()
	}()
	var k int64
	due := func() int64 { return int64(intended(w.id, conns, w.o.Rate, k)) }
	var batch []int64
	for {
		t := due()
		if t >= w.end || (w.o.MaxRequests > 0 && w.budget <= 0) || w.stop.Load() {
			return
		}
		now := w.now()
		if t > now {
			time.Sleep(time.Duration(t - now))
			continue
		}
		w.mu.Lock()
		room := w.o.Depth - w.q.len()
		w.mu.Unlock()
		if room <= 0 {
			select {
			case <-w.space:
			case <-time.After(time.Until(w.base.Add(time.Duration(w.end) + w.o.Drain))):
				return
			}
			continue
		}
		batch = batch[:0]
		for ; t <= now && room > 0 && w.mayAppend(t); t = due() {
			batch = append(batch, t)
			room--
			k++
		}
		sent := w.now()
		if err := w.c.flush(); err != nil {
			return
		}
		for _, t := range batch {
			if t >= w.warm {
				w.lag.RecordValue(sent - t)
			}
		}
		if len(batch) == 0 {
			return
		}
	}
}

// intended is the scheduled send time of request k of connection i of n
// at rate requests per second over all connections, from the run's start:
// (i + k·n)/rate. Over all connections the schedule is exactly one request
// every 1/rate.
func intended(i, n int, rate float64, k int64) time.Duration {
	return time.Duration(float64(int64(i)+k*int64(n)) / rate * 1e9)
}
