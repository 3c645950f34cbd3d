package bench

import (
	"fmt"
	"sync"
	"time"

	"github.com/meerkat-zk/meerkat/jute"
)

// Storm measures the session storm: workers closed-loop workers, each
// repeating connect, handshake, closeSession (waiting for its reply) and
// close. Ops are whole cycles; their latency is in Reads. The run is
// bounded by warmup + duration + 10 s.
func Storm(addr string, workers int, warmup, duration time.Duration, serverPid int) (*Result, error) {
	base := time.Now()
	warm, end := int64(warmup), int64(warmup+duration)
	hard := base.Add(warmup + duration + 10*time.Second)
	type out struct {
		h      Histogram
		ops    int64
		bad    int64
		err    error
		errors int
	}
	outs := make([]out, workers)
	var wg sync.WaitGroup
	var m0, m1 cpuMark
	marks := make(chan struct{})
	go func() {
		defer close(marks)
		time.Sleep(time.Until(base.Add(warmup)))
		m0 = markCPU(serverPid)
		time.Sleep(time.Until(base.Add(warmup + duration)))
		m1 = markCPU(serverPid)
	}()
	for i := range outs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			o := &outs[i]
			for {
				start := int64(time.Since(base))
				if start >= end {
					return
				}
				deadline := time.Now().Add(10 * time.Second)
				if deadline.After(hard) {
					deadline = hard
				}
				c, err := dial(addr, 30*time.Second, deadline)
				if err != nil {
					o.errors++
					o.err = err
					if time.Now().After(hard) || o.errors > 100 {
						return
					}
					continue
				}
				_ = c.nc.SetDeadline(deadline)
				c.appendRequest(1, jute.OpCloseSession, nil)
				err = c.flush()
				var p []byte
				if err == nil {
					p, err = c.readFrame()
				}
				c.nc.Close()
				now := int64(time.Since(base))
				if err != nil {
					o.errors++
					o.err = err
					continue
				}
				if xid, code, ok := replyHeader(p); !ok || xid != 1 || code != jute.CodeOK {
					o.bad++
				}
				if start >= warm {
					o.ops++
					o.h.RecordValue(now - start)
				}
			}
		}()
	}
	wg.Wait()
	<-marks
	res := &Result{Conns: workers, Depth: 1}
	var h Histogram
	for i := range outs {
		h.Merge(&outs[i].h)
		res.Ops += outs[i].ops
		if outs[i].bad > 0 {
			if res.Unexpected == nil {
				res.Unexpected = map[string]int64{}
			}
			res.Unexpected["closeSession:reply"] += outs[i].bad
		}
		if outs[i].err != nil && len(res.ConnErrors) < 10 {
			res.ConnErrors = append(res.ConnErrors, fmt.Sprintf("worker %d: %d errors, last %v", i, outs[i].errors, outs[i].err))
		}
	}
	res.Reads = h.Summary()
	res.setWindow(m0, m1)
	return res, nil
}
