package bench

import (
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/meerkat-zk/meerkat/jute"
)

// FanoutResult is what Fanout measured.
type FanoutResult struct {
	Sessions int `json:"sessions"`
	// SetupSeconds is how long opening the sessions took.
	SetupSeconds float64 `json:"setup_seconds"`
	// AllMs is, per round, the time from sending the setData until the last
	// session had its event, in ms; MedianAllMs their median.
	AllMs       []float64 `json:"all_ms"`
	MedianAllMs float64   `json:"median_all_ms"`
	// Delivery is the time from sending the setData to each session's event,
	// over every session and round.
	Delivery Latency `json:"delivery"`
	// SetData is the latency of the setData itself.
	SetData Latency `json:"set_data"`
	// Missing counts events that never came; Unexpected wrong events or
	// error replies. GenCPUPerEv is the generator's CPU time per event
	// while waiting for them, µs.
	Missing     int64   `json:"missing"`
	Unexpected  int64   `json:"unexpected"`
	GenCPUPerEv float64 `json:"gen_cpu_us_per_event"`
}

// Fanout opens sessions sessions, each holding a data watch on path, then
// for each of rounds rounds sends one setData from another session and
// waits until every session has its NodeDataChanged event (at most wait),
// re-arming the watches between rounds. The server must allow that many
// connections from one address (maxClientCnxns=0).
func Fanout(addr, path string, sessions, rounds int, wait time.Duration) (*FanoutResult, error) {
	timeout := 40 * time.Second
	setter, err := dial(addr, timeout, time.Now().Add(30*time.Second))
	if err != nil {
		return nil, err
	}
	defer setter.close(1<<30, time.Second)
	if err := setupCall(setter, jute.OpCreate, (&jute.CreateRequest{Path: path, Data: []byte("x"), ACL: openACL}).AppendCreate(nil, false), jute.CodeNodeExists); err != nil {
		return nil, err
	}
	start := time.Now()
	conns, err := dialAll(addr, nil, sessions, timeout)
	if err != nil {
		return nil, err
	}
	res := &FanoutResult{Sessions: sessions, SetupSeconds: time.Since(start).Seconds()}
	defer closeAll(conns)
	arm := (&jute.PathWatchRequest{Path: path, Watch: true}).Append(nil)
	waiters, err := newEventWaiters(conns, 2)
	if err != nil {
		return nil, err
	}
	defer waiters.close()
	var delivery, setData Histogram
	var cpu time.Duration
	for r := 0; r < rounds; r++ {
		// Arm every watch (not timed), 32 sessions at a time.
		if err := armAll(conns, arm); err != nil {
			return res, fmt.Errorf("bench: fan-out round %d: arming: %w", r, err)
		}
		base := time.Now()
		body := (&jute.SetDataRequest{Path: path, Data: []byte(fmt.Sprintf("round %d", r)), Version: -1}).Append(nil)
		setDone := make(chan error, 1)
		go func() { setDone <- setupCall(setter, jute.OpSetData, body, jute.CodeOK) }()
		cpu0 := selfCPU()
		times, bad := waiters.wait(path, base, wait)
		cpu += selfCPU() - cpu0
		if err := <-setDone; err != nil {
			res.Unexpected++
		}
		setData.Record(time.Since(base))
		res.Unexpected += bad
		last := int64(0)
		got := 0
		for _, t := range times {
			if t > 0 {
				got++
				delivery.RecordValue(t)
				last = max(last, t)
			}
		}
		res.AllMs = append(res.AllMs, float64(last)/1e6)
		if got < sessions {
			res.Missing = int64(sessions - got)
			return res, fmt.Errorf("bench: fan-out round %d: %d of %d sessions had no event within %v", r, sessions-got, sessions, wait)
		}
	}
	res.Delivery, res.SetData = delivery.Summary(), setData.Summary()
	res.MedianAllMs = median(res.AllMs)
	if n := delivery.Count(); n > 0 {
		res.GenCPUPerEv = float64(cpu) / 1e3 / float64(n)
	}
	return res, nil
}

// armAll sends a watching getData on every connection and reads its reply,
// from 32 goroutines.
func armAll(conns []*conn, body []byte) error {
	errs := make([]error, len(conns))
	var next atomic.Int64
	var wg sync.WaitGroup
	for w := 0; w < 32; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := int(next.Add(1) - 1)
				if i >= len(conns) {
					return
				}
				errs[i] = setupCall(conns[i], jute.OpGetData, body, jute.CodeOK)
			}
		}()
	}
	wg.Wait()
	return errors.Join(errs...)
}

// closeAll sends closeSession on every connection, 64 at a time, so the
// server forgets the sessions at once instead of letting them expire.
func closeAll(conns []*conn) {
	sem := make(chan struct{}, 64)
	var wg sync.WaitGroup
	for _, c := range conns {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			c.close(1<<30, 2*time.Second)
		}()
	}
	wg.Wait()
}

// setupCall sends one request on c and waits for its reply, which must be
// OK or the given alternative code.
func setupCall(c *conn, op jute.OpCode, body []byte, alt jute.Code) error {
	return setupCallBy(c, op, body, alt, time.Now().Add(30*time.Second))
}

// setupCallBy is setupCall with a deadline for the reply.
func setupCallBy(c *conn, op jute.OpCode, body []byte, alt jute.Code, deadline time.Time) error {
	xid := int32(time.Now().UnixNano() & 0x3fffffff)
	c.appendRequest(xid, op, body)
	_ = c.nc.SetDeadline(deadline)
	defer c.nc.SetDeadline(time.Time{})
	if err := c.flush(); err != nil {
		return err
	}
	for {
		p, err := c.readFrame()
		if err != nil {
			return err
		}
		got, code, ok := replyHeader(p)
		if !ok {
			return errFrame
		}
		if got != xid {
			continue // a notification
		}
		if code != jute.CodeOK && code != alt {
			return fmt.Errorf("bench: %v: %v", op, code)
		}
		return nil
	}
}
