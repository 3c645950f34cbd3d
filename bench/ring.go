package bench

import "github.com/meerkat-zk/meerkat/jute"

// pending is a request on the wire: its xid, opcode and the time it counts
// from (the intended send time in open loop, the send time in closed loop),
// in nanoseconds since the run's start.
type pending struct {
	xid int32
	op  jute.OpCode
	t   int64
}

// ring is the FIFO of a connection's outstanding requests, oldest first.
// ZooKeeper answers a connection's requests in order, so a reply must match
// the head.
type ring struct {
	buf  []pending
	head int
	n    int
}

func (r *ring) len() int { return r.n }

func (r *ring) push(p pending) {
	if r.n == len(r.buf) {
		grown := make([]pending, max(16, 2*len(r.buf)))
		for i := 0; i < r.n; i++ {
			grown[i] = r.buf[(r.head+i)%len(r.buf)]
		}
		r.buf, r.head = grown, 0
	}
	r.buf[(r.head+r.n)%len(r.buf)] = p
	r.n++
}

func (r *ring) peek() (pending, bool) {
	if r.n == 0 {
		return pending{}, false
	}
	return r.buf[r.head], true
}

func (r *ring) pop() pending {
	p := r.buf[r.head]
	r.head = (r.head + 1) % len(r.buf)
	r.n--
	return p
}

// find returns how many entries precede the one with xid, or -1.
func (r *ring) find(xid int32) int {
	for i := 0; i < r.n; i++ {
		if r.buf[(r.head+i)%len(r.buf)].xid == xid {
			return i
		}
	}
	return -1
}
