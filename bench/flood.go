package bench

import (
	"errors"
	"fmt"
	"io"
	"sync"
	"sync/atomic"
	"time"

	"github.com/meerkat-zk/meerkat/jute"
)

// FloodOptions configures Flood.
type FloodOptions struct {
	// Addr is the server's client address; ServerPid its process, whose
	// memory is sampled.
	Addr      string
	ServerPid int
	// Flooders is how many connections pipeline getData of one large
	// znode, Requests each, and read no reply while the flood holds.
	Flooders, Requests int
	// ValueSize is the large znode's data size, bytes.
	ValueSize int
	// Hold is how long the flooders read nothing while a well-behaved
	// client reads a small znode, one request at a time.
	Hold time.Duration
	// Drain makes the flooders read every reply after the hold (each must
	// come, in order); otherwise they hang up. DrainLimit bounds the drain.
	Drain      bool
	DrainLimit time.Duration
}

// FloodResult is what Flood measured.
type FloodResult struct {
	Flooders  int `json:"flooders"`
	Requests  int `json:"requests"`
	ValueSize int `json:"value_size"`
	// HoldSeconds is how long the flooders read nothing.
	HoldSeconds float64 `json:"hold_seconds"`
	// BaseRSS is the server's resident memory before the flood, PeakRSS
	// the most sampled (every 20 ms) during the hold and drain, EndRSS a
	// second after the flooders finished; bytes.
	BaseRSS int64 `json:"base_rss"`
	PeakRSS int64 `json:"peak_rss"`
	EndRSS  int64 `json:"end_rss"`
	// Good is the latency of the well-behaved client's getData during the
	// hold; GoodOps how many it completed, GoodFailures how many failed
	// (an error reply, or no reply within 10 s or a lost connection, after
	// which it stops).
	Good         Latency `json:"good"`
	GoodOps      int64   `json:"good_ops"`
	GoodFailures int64   `json:"good_failures"`
	// Served counts the flooders that read every reply, in order, after
	// the hold (Drain); Closed those the server closed before that.
	// Replies counts the flood replies read.
	Served  int   `json:"served"`
	Closed  int   `json:"closed"`
	Replies int64 `json:"replies"`
}

// Flood floods a server with replies its clients do not read, as a stuck
// consumer or a slow link would: Flooders connections pipeline getData of a
// ValueSize-byte znode and read nothing for Hold, while a well-behaved
// client reads on another connection. It reports the server's memory and
// the well-behaved client's latency and failures, then drains or hangs up
// the flooders and checks that the server still answers a new client. The znodes /flood-large and
// /flood-small are created if missing.
func Flood(o FloodOptions) (*FloodResult, error) {
	res := &FloodResult{Flooders: o.Flooders, Requests: o.Requests, ValueSize: o.ValueSize, HoldSeconds: o.Hold.Seconds()}
	setupDeadline := time.Now().Add(30 * time.Second)
	good, err := dial(o.Addr, 30*time.Second, setupDeadline)
	if err != nil {
		return nil, err
	}
	defer good.close(1<<30, time.Second)
	large := (&jute.CreateRequest{Path: "/flood-large", Data: make([]byte, o.ValueSize), ACL: openACL}).AppendCreate(nil, false)
	small := (&jute.CreateRequest{Path: "/flood-small", Data: []byte("small"), ACL: openACL}).AppendCreate(nil, false)
	for _, body := range [][]byte{large, small} {
		if err := setupCall(good, jute.OpCreate, body, jute.CodeNodeExists); err != nil {
			return nil, fmt.Errorf("bench: flood setup: %w", err)
		}
	}
	flooders := make([]*conn, 0, o.Flooders)
	defer func() {
		for _, f := range flooders {
			f.nc.Close()
		}
	}()
	for range o.Flooders {
		f, err := dial(o.Addr, 40*time.Second, setupDeadline)
		if err != nil {
			return nil, err
		}
		flooders = append(flooders, f)
	}
	if res.BaseRSS, err = ProcessRSS(o.ServerPid); err != nil {
		return nil, err
	}

	var peak atomic.Int64
	peak.Store(res.BaseRSS)
	stopSampling := make(chan struct{})
	sampled := make(chan struct{})
	go func() {
		defer close(sampled)
		tick := time.NewTicker(20 * time.Millisecond)
		defer tick.Stop()
		for {
			select {
			case <-stopSampling:
				return
			case <-tick.C:
				if rss, err := ProcessRSS(o.ServerPid); err == nil && rss > peak.Load() {
					peak.Store(rss)
				}
			}
		}
	}()

	// Each flooder writes all its requests at once; a server that stops
	// reading holds the rest back in TCP, so the writes may block until
	// the drain.
	getLarge := (&jute.PathWatchRequest{Path: "/flood-large"}).Append(nil)
	var writers sync.WaitGroup
	for _, f := range flooders {
		for i := 1; i <= o.Requests; i++ {
			f.appendRequest(int32(i), jute.OpGetData, getLarge)
		}
		writers.Add(1)
		go func() {
			defer writers.Done()
			_ = f.flush()
		}()
	}

	var h Histogram
	getSmall := (&jute.PathWatchRequest{Path: "/flood-small"}).Append(nil)
	end := time.Now().Add(o.Hold)
	for xid := int32(1); time.Now().Before(end); xid++ {
		start := time.Now()
		_ = good.nc.SetDeadline(start.Add(10 * time.Second))
		good.appendRequest(xid, jute.OpGetData, getSmall)
		err := good.flush()
		var p []byte
		if err == nil {
			p, err = good.readFrame()
		}
		if err != nil {
			// Lost (or 10 s without an answer): the well-behaved client
			// is done for.
			res.GoodFailures++
			break
		}
		if got, code, ok := replyHeader(p); !ok || got != xid || code != jute.CodeOK {
			res.GoodFailures++
			continue
		}
		h.Record(time.Since(start))
		res.GoodOps++
	}
	res.Good = h.Summary()

	if o.Drain {
		res.drain(flooders, o.Requests, o.ValueSize, time.Now().Add(o.DrainLimit))
	} else {
		for _, f := range flooders {
			f.nc.Close()
		}
	}
	writers.Wait()
	close(stopSampling)
	<-sampled
	time.Sleep(time.Second)
	res.PeakRSS = peak.Load()
	res.EndRSS, _ = ProcessRSS(o.ServerPid)

	// The server must still answer, a new client too.
	after, err := dial(o.Addr, 30*time.Second, time.Now().Add(10*time.Second))
	if err == nil {
		err = setupCall(after, jute.OpGetData, getSmall, jute.CodeOK)
		after.close(1<<30, time.Second)
	}
	if err != nil {
		return res, fmt.Errorf("bench: flood: the server does not answer after the flood: %w", err)
	}
	return res, nil
}

// drain reads every flooder's replies, in parallel, until deadline: each
// must be the getData of its xid, in order, with the whole value.
func (res *FloodResult) drain(flooders []*conn, requests, valueSize int, deadline time.Time) {
	var served, closed atomic.Int64
	var replies atomic.Int64
	var wg sync.WaitGroup
	for _, f := range flooders {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_ = f.nc.SetDeadline(deadline)
			for xid := int32(1); xid <= int32(requests); xid++ {
				p, err := f.readFrame()
				if err != nil {
					if errors.Is(err, io.EOF) {
						closed.Add(1)
					}
					return
				}
				got, code, ok := replyHeader(p)
				if !ok || got != xid || code != jute.CodeOK || len(p) < jute.ReplyHeaderSize+4+valueSize {
					return
				}
				replies.Add(1)
			}
			served.Add(1)
		}()
	}
	wg.Wait()
	res.Served, res.Closed, res.Replies = int(served.Load()), int(closed.Load()), replies.Load()
}
