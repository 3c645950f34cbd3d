package pipeline

import (
	"time"

	"github.com/meerkat-zk/meerkat/engine"
	"github.com/meerkat-zk/meerkat/jute"
	"github.com/meerkat-zk/meerkat/zkmetrics"
)

// The standalone write path: a step's writes become one log record (one
// fsync) and are applied as soon as it is durable.

// commitSiblings is how many writes the previous batch must have carried
// before a batch waits for more: a lone writer never waits.
const commitSiblings = 4

// logged reports whether r becomes a log entry.
func logged(r *Request) bool { return r.Kind == KindWrite || r.Kind == KindCreateSession }

// gather completes a batch of writes. Closed-loop writers that share the
// log split into two groups that take turns: while one group's batch is
// being synced, the other's requests queue up, and neither ever joins the
// other. When the previous batch carried several writes and this one has
// fewer, gather waits a little (at most the time of the last sync) for the
// rest, so one sync carries them all; PostgreSQL's commit_delay and
// commit_siblings do the same. A lone write never waits.
func (p *Pipeline) gather(batch []*Request) []*Request {
	if p.cfg.Log == nil || p.cfg.CommitWait < 0 || p.lastLogged < commitSiblings {
		return batch
	}
	n := 0
	for _, r := range batch {
		if logged(r) {
			n++
		}
	}
	if n == 0 || n >= p.lastLogged {
		return batch
	}
	wait := p.cfg.CommitWait
	if wait == 0 {
		wait = min(2*p.lastAppend, time.Millisecond)
	}
	timer := time.NewTimer(wait)
	defer timer.Stop()
	for n < p.lastLogged && len(batch) < p.cfg.MaxBatch {
		select {
		case r := <-p.in:
			batch = append(batch, r)
			if logged(r) {
				n++
			}
		case <-timer.C:
			return batch
		case <-p.stop:
			return batch
		}
	}
	return batch
}

// admit handles a standalone step's requests: the writes are logged as one
// record and applied, and every request completes in this step, in order.
func (p *Pipeline) admit(now time.Time, batch []*Request) {
	entries := p.entries[:0]
	for _, r := range batch {
		switch r.Kind {
		case KindWrite:
			if p.movedAway(r) {
				r.Result = engine.Result{Zxid: p.state.Zxid(), Err: jute.CodeSessionMoved}
				continue
			}
			r.Entry.Time, r.Entry.Policy = now.UnixMilli(), p.cfg.Policy
			entries = append(entries, &r.Entry)
		case KindCreateSession:
			r.Entry = engine.Entry{Time: now.UnixMilli(), Session: p.allocSessionID(), Op: jute.OpCreateSession,
				Body: jute.AppendInt(nil, r.Timeout), Policy: p.cfg.Policy}
			entries = append(entries, &r.Entry)
		}
	}
	p.entries = entries
	ok := p.log(entries)
	for _, r := range batch {
		switch r.Kind {
		case KindWrite:
			switch {
			case r.Result.Err == jute.CodeSessionMoved: // refused before logging
			case !ok:
				r.Result = engine.Result{Zxid: p.state.Zxid(), Err: jute.CodeSystemError}
			default:
				p.applyEntry(&r.Entry, r, now)
			}
		case KindCreateSession:
			if ok {
				p.applyEntry(&r.Entry, r, now)
			}
			r.Result.Zxid = p.state.Zxid()
		case KindReopenSession:
			if s := p.checkReopen(r); s != nil {
				p.takeOver(s, r, now)
			}
			r.Result.Zxid = p.state.Zxid()
		case KindSync:
			r.Result.Zxid = p.state.Zxid()
		case KindGetEphemerals:
			p.getEphemerals(r)
		}
		p.finish(r)
	}
	clear(p.entries)
}

// movedAway reports whether r, a write, comes from a connection that no
// longer owns its session on this server.
func (p *Pipeline) movedAway(r *Request) bool {
	s, ok := p.sessions[r.Entry.Session]
	return ok && r.Conn != nil && s.owner != r.Conn
}

// getEphemerals answers r from the applied state.
func (p *Pipeline) getEphemerals(r *Request) {
	r.Result.Zxid = p.state.Zxid()
	r.Result.Body = p.state.GetEphemerals(r.Entry.Session, r.Prefix, nil)
}

// checkReopen is the local part of resuming a session on a new
// connection: the session must be open here and the password right. As
// in ZooKeeper, the session's old connection is dropped before the
// password is checked. It returns the session, or nil when r fails.
func (p *Pipeline) checkReopen(r *Request) *Session {
	s, ok := p.sessions[r.Entry.Session]
	if !ok {
		return nil
	}
	if s.owner != nil && s.owner != r.Conn {
		p.closeAfter = append(p.closeAfter, s.owner)
		s.owner = nil
	}
	// ZooKeeper compares the whole password: any other length is wrong.
	if len(r.Passwd) != len(s.Passwd) || [16]byte(r.Passwd) != s.Passwd {
		return nil
	}
	return s
}

// takeOver makes r's connection the owner of s, with r's timeout.
func (p *Pipeline) takeOver(s *Session, r *Request, now time.Time) {
	if s.owner != nil && s.owner != r.Conn {
		p.closeAfter = append(p.closeAfter, s.owner)
	}
	s.owner = r.Conn
	s.Timeout = r.Timeout
	s.Touch(now)
	r.Session = s
}

// log makes entries durable as one record; false means they must not be
// applied (the disk is full, or the log failed for good).
func (p *Pipeline) log(entries []*engine.Entry) bool {
	if p.cfg.Log == nil || len(entries) == 0 {
		return true
	}
	first := engine.NextZxid(p.state.Zxid())
	p.payload = engine.AppendBatch(p.payload[:0], first, p.cfg.Policy, entries)
	start := time.Now()
	err := p.cfg.Log.Append(uint64(first), p.payload)
	p.lastLogged, p.lastAppend = len(entries), time.Since(start)
	if cap(p.payload) > 16<<20 {
		p.payload = nil
	}
	if err == nil {
		batchEntries.Update(float64(len(entries)))
		zkmetrics.SyncProcessorBatchSize.Add(int64(len(entries)))
		return true
	}
	logFailures.Inc()
	if time.Since(p.noSpace) > 10*time.Second {
		p.noSpace = time.Now()
		p.cfg.Logger.Error("writes are failing: the log could not be written; reads go on", "err", err)
	}
	return false
}
