package pipeline

import (
	"sync/atomic"
	"time"
)

// Session is the server-local side of a session: its password, its
// liveness and the connection that owns it. The replicated side (timeout,
// ephemerals) lives in the engine.
type Session struct {
	ID      int64
	Timeout int32
	Passwd  [16]byte
	// lastHeard is the wall clock in ms of the last packet on the session,
	// written by the owning event loop and read by the expiry check.
	lastHeard atomic.Int64
	// owner is the connection that owns the session; only the pipeline
	// goroutine reads or writes it.
	owner Closer
	// In an ensemble: ownerMember is the member the leader knows as the
	// session's home (0: not known yet); closing is set on the leader once
	// it proposed the session's expiry; reported is the lastHeard a
	// follower last reported to the leader.
	ownerMember int32
	closing     bool
	reported    int64
	// local marks a local session (localSessionsEnabled): known to this
	// member only, never in the log, expired here.
	local bool
}

// Local reports whether s is a local session; call it from the pipeline
// goroutine (an Inspect function).
func (s *Session) Local() bool { return s.local }

// Touch records that a packet arrived on the session at now. Many packets
// share a millisecond; only a new one is stored (a store is a full memory
// barrier, a load is not).
func (s *Session) Touch(now time.Time) {
	if ms := now.UnixMilli(); s.lastHeard.Load() != ms {
		s.lastHeard.Store(ms)
	}
}

// Closer is a connection the pipeline may close: the old owner of a session
// that moved, or the owner of a session that expired.
type Closer interface {
	Close() error
}

// sessionID returns the first session id for a server started at nowMs, in
// ZooKeeper's layout: the server id in the high byte, the low 40 bits of the
// start time in ms above a 16-bit counter.
func sessionIDBase(serverID int64, nowMs int64) int64 {
	id := int64(uint64(nowMs<<24) >> 8)
	id |= serverID << 56
	if id == -1<<63 {
		id++ // that value marks containers
	}
	return id
}

// Password returns the password of a session, as ZooKeeper derives it: the
// first 16 bytes of java.util.Random seeded with id ^ 0xB3415C00. Any server
// can check a password without storing it.
func Password(id int64) [16]byte {
	const mult, add, mask = 0x5DEECE66D, 0xB, 1<<48 - 1
	seed := (uint64(id^0xB3415C00) ^ mult) & mask
	var p [16]byte
	for i := 0; i < 16; {
		seed = (seed*mult + add) & mask
		r := int32(seed >> 16)
		for n := 0; n < 4 && i < 16; n++ {
			p[i] = byte(r)
			r >>= 8
			i++
		}
	}
	return p
}

// expiresAt is when a session last heard from at lastMs with the given
// timeout expires: ZooKeeper rounds the deadline up to the next tick.
func expiresAt(lastMs int64, timeout int32, tickMs int64) int64 {
	return ((lastMs+int64(timeout))/tickMs + 1) * tickMs
}

// ExpiresAt returns when s expires if nothing more is heard from it, in ms;
// call it from the pipeline goroutine (an Inspect function).
func ExpiresAt(s *Session, tickMs int64) int64 {
	return expiresAt(s.lastHeard.Load(), s.Timeout, tickMs)
}
