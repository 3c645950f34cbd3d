package crashtest

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"math/rand/v2"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/meerkat-zk/meerkat/internal/wire"
	"github.com/meerkat-zk/meerkat/jute"
)

// kind is what a writer's operation does.
type kind int

const (
	// kindCreate creates a unique persistent znode (create2).
	kindCreate kind = iota
	// kindCreateSeq creates a persistent sequential znode under the
	// writer's long-lived /seq/w<k>, so sequence numbers must keep growing
	// across restarts.
	kindCreateSeq
	// kindSetHot sets one of the writer's hot znodes at the version it must
	// have.
	kindSetHot
	// kindSetHotBad sets a hot znode at a wrong version: BADVERSION.
	kindSetHotBad
	// kindDelete deletes, at version 0, a znode the writer created and saw
	// acknowledged this round.
	kindDelete
	// kindMulti creates two znodes and sets a hot znode at its version.
	kindMulti
	// kindMultiBad creates two znodes and sets a hot znode at a wrong
	// version: the whole multi fails.
	kindMultiBad
	// kindMultiDup creates the same znode twice: the whole multi fails.
	kindMultiDup
)

var kindNames = [...]string{"create", "createSeq", "setHot", "setHotBad", "delete", "multi", "multiBad", "multiDup"}

func (k kind) String() string { return kindNames[k] }

// op is one operation a writer sent, and what its reply said.
type op struct {
	kind  kind
	round int
	// n numbers the writer's operations over the whole run.
	n int
	// path is the znode created or deleted; for kindCreateSeq the prefix;
	// for the multis the first znode.
	path string
	// path2 is a multi's second znode.
	path2 string
	// hot is the hot znode set; version is the version it is expected to
	// have (a wrong one for the *Bad kinds).
	hot     string
	version int32
	data    []byte
	// hotData is what a multi sets on hot.
	hotData []byte
	req     request
	xid     int32

	// Filled from the reply.
	zxid int64
	stat jute.Stat
	// created is the path a sequential create got.
	created string
}

func (o *op) String() string {
	s := fmt.Sprintf("#%d %s %s", o.n, o.kind, o.path)
	if o.path2 != "" {
		s += " " + o.path2
	}
	if o.hot != "" {
		s += fmt.Sprintf(" setData(%s, version %d)", o.hot, o.version)
	}
	if o.created != "" {
		s += " -> " + o.created
	}
	if o.zxid != 0 {
		s += fmt.Sprintf(" zxid %#x", o.zxid)
	}
	return s
}

// writer is one client: one session, one connection per round, and its
// own hot znodes, which only it writes.
type writer struct {
	id     int
	depth  int // requests kept outstanding
	rng    *rand.Rand
	conn   *wire.Conn
	sessID int64
	passwd []byte
	dir    string // this round's directory for creates
	seqDir string
	hot    []string
	// hotNext is the version each hot znode will have when every request
	// sent so far is applied.
	hotNext map[string]int32
	n       int
	// lastZxid is the highest zxid in any reply the writer has read, over
	// all its connections.
	lastZxid int64
	// deletable are znodes created and acknowledged this round, not yet
	// deleted.
	deletable []string
	// acked and inflight are this round's operations: acked ones in the
	// order sent (replies come in that order), then those sent without a
	// reply when the server died.
	acked    []*op
	inflight []*op
	// err is an answer the server must not have given; it ends the round.
	err error
	// stopped says why the writer stopped.
	stopped string
}

// payload returns data unique to this operation: a readable head naming it,
// then random filler of a random length. One in fifty is 16-256 KiB, so wal
// records vary in size and the default run fills more than one 64 MiB
// segment (rotation, and removal behind a checkpoint, happen under kills).
func (w *writer) payload(round, n int, what string) []byte {
	head := fmt.Sprintf("r%d/w%d/%d/%s|", round, w.id, n, what)
	size := w.rng.IntN(256)
	if w.rng.IntN(50) == 0 {
		size = 16<<10 + w.rng.IntN(240<<10)
	}
	b := make([]byte, len(head)+size+8)
	copy(b, head)
	for i := len(head); i < len(head)+size; i += 8 {
		binary.LittleEndian.PutUint64(b[i:], w.rng.Uint64())
	}
	return b[:len(head)+size]
}

// describe returns the readable head of a payload.
func describe(data []byte) string {
	if i := bytes.IndexByte(data, '|'); i >= 0 {
		return fmt.Sprintf("%q (%d bytes)", data[:i], len(data))
	}
	if len(data) > 40 {
		return fmt.Sprintf("%q... (%d bytes)", data[:40], len(data))
	}
	return fmt.Sprintf("%q", data)
}

// next makes the writer's next operation.
func (w *writer) next(round int) *op {
	w.n++
	o := &op{round: round, n: w.n}
	hot := w.hot[w.rng.IntN(len(w.hot))]
	name := fmt.Sprintf("%s/n%d", w.dir, w.n)
	switch k := w.rng.IntN(100); {
	case k < 25:
		o.kind = kindCreate
	case k < 40:
		o.kind = kindCreateSeq
	case k < 62:
		o.kind = kindSetHot
	case k < 65:
		o.kind = kindSetHotBad
	case k < 72:
		o.kind = kindDelete
	case k < 88:
		o.kind = kindMulti
	case k < 94:
		o.kind = kindMultiBad
	default:
		o.kind = kindMultiDup
	}
	if o.kind == kindDelete && len(w.deletable) == 0 {
		o.kind = kindCreate
	}
	o.data = w.payload(round, w.n, o.kind.String())
	switch o.kind {
	case kindCreate:
		o.path = name
		o.req = createReq(o.path, o.data, 0)
	case kindCreateSeq:
		o.path = w.seqDir + "/s-"
		o.req = createReq(o.path, o.data, 2)
	case kindSetHot:
		o.hot, o.version = hot, w.hotNext[hot]
		w.hotNext[hot]++
		o.req = setDataReq(o.hot, o.data, o.version)
	case kindSetHotBad:
		o.hot, o.version = hot, w.hotNext[hot]+1+int32(w.rng.IntN(1000))
		o.req = setDataReq(o.hot, o.data, o.version)
	case kindDelete:
		i := w.rng.IntN(len(w.deletable))
		o.path = w.deletable[i]
		w.deletable[i] = w.deletable[len(w.deletable)-1]
		w.deletable = w.deletable[:len(w.deletable)-1]
		o.req = deleteReq(o.path, 0)
	case kindMulti, kindMultiBad:
		o.path, o.path2 = name+"-a", name+"-b"
		o.hot, o.version = hot, w.hotNext[hot]
		if o.kind == kindMulti {
			w.hotNext[hot]++
		} else {
			o.version += 1 + int32(w.rng.IntN(1000))
		}
		o.hotData = w.payload(round, w.n, o.kind.String()+"-hot")
		o.req = multiReq(createReq(o.path, o.data, 0), createReq(o.path2, o.data, 0),
			setDataReq(o.hot, o.hotData, o.version))
	case kindMultiDup:
		o.path = name + "-dup"
		o.req = multiReq(createReq(o.path, o.data, 0), createReq(o.path, o.data, 0))
	}
	return o
}

// killSwitch counts the operations the writers get acknowledged, together,
// and fires once the count reaches its target.
type killSwitch struct {
	target int64
	acked  atomic.Int64
	fire   chan struct{}
}

func newKillSwitch(target int) *killSwitch {
	return &killSwitch{target: int64(target), fire: make(chan struct{})}
}

// ack counts one acknowledged operation.
func (k *killSwitch) ack() {
	if k.acked.Add(1) == k.target {
		close(k.fire)
	}
}

// run writes until the connection dies (the server was killed), maxOps
// operations were acknowledged, or deadline passes, counting each
// acknowledgement on ks. It is the only goroutine touching w until it
// returns.
func (w *writer) run(round, maxOps int, deadline time.Time, ks *killSwitch) {
	deadlineConn(w.conn, deadline)
	for len(w.acked) < maxOps {
		for len(w.inflight) < w.depth {
			o := w.next(round)
			o.xid = w.conn.NextXid()
			// In flight from before the first byte leaves: a request
			// half-sent when the server dies may still have been read.
			w.inflight = append(w.inflight, o)
			if err := w.conn.SendXid(o.xid, o.req.op, o.req.body); err != nil {
				w.stopped = "send: " + err.Error()
				return
			}
		}
		r, err := w.conn.Recv()
		if err != nil {
			w.stopped = "receive: " + err.Error()
			if time.Now().After(deadline) {
				w.err = fmt.Errorf("writer %d: no reply and no crash by the round's deadline: %v", w.id, err)
			}
			return
		}
		o := w.inflight[0]
		if r.Header.Xid != o.xid {
			w.err = fmt.Errorf("writer %d: reply xid %d while waiting for %d (%s)", w.id, r.Header.Xid, o.xid, o)
			return
		}
		w.inflight = w.inflight[1:]
		w.acked = append(w.acked, o)
		ks.ack()
		if err := w.complete(o, r); err != nil {
			w.err = fmt.Errorf("writer %d, session %#x: %s: %w", w.id, w.sessID, o, err)
			return
		}
	}
	w.stopped = fmt.Sprintf("stopped after %d acknowledged operations", maxOps)
}

// complete checks a reply against what the operation must get.
func (w *writer) complete(o *op, r wire.Reply) error {
	h := r.Header
	if h.Zxid < w.lastZxid {
		return fmt.Errorf("reply zxid %#x is below %#x, a zxid this client already saw", h.Zxid, w.lastZxid)
	}
	w.lastZxid = h.Zxid
	o.zxid = h.Zxid
	want := jute.CodeOK
	switch o.kind {
	case kindSetHotBad:
		want = jute.CodeBadVersion
	}
	if h.Err != want {
		return fmt.Errorf("answered %v, want %v", h.Err, want)
	}
	d := jute.NewDecoder(r.Body)
	switch o.kind {
	case kindCreate, kindCreateSeq:
		path := d.String()
		o.stat.Decode(d)
		if d.Err() != nil {
			return fmt.Errorf("create2 response: %w", d.Err())
		}
		if o.kind == kindCreate && path != o.path {
			return fmt.Errorf("created %s", path)
		}
		if o.kind == kindCreateSeq {
			if !strings.HasPrefix(path, o.path) || len(path) != len(o.path)+10 {
				return fmt.Errorf("sequential create got path %s", path)
			}
			o.created = path
		}
		if o.stat.Czxid != h.Zxid || o.stat.Mzxid != h.Zxid || o.stat.Version != 0 || int(o.stat.DataLength) != len(o.data) {
			return fmt.Errorf("create2 stat %+v does not match the reply zxid %#x and the data", o.stat, h.Zxid)
		}
	case kindSetHot:
		o.stat.Decode(d)
		if d.Err() != nil {
			return fmt.Errorf("setData response: %w", d.Err())
		}
		if o.stat.Version != o.version+1 || o.stat.Mzxid != h.Zxid {
			return fmt.Errorf("setData stat has version %d mzxid %#x, want version %d mzxid %#x",
				o.stat.Version, o.stat.Mzxid, o.version+1, h.Zxid)
		}
	case kindMulti:
		res, err := decodeMulti(r.Body)
		if err != nil {
			return err
		}
		if len(res) != 3 || res[0].op != jute.OpCreate || res[0].path != o.path ||
			res[1].op != jute.OpCreate || res[1].path != o.path2 ||
			res[2].op != jute.OpSetData || res[2].stat.Version != o.version+1 || res[2].stat.Mzxid != h.Zxid {
			return fmt.Errorf("multi that must succeed answered %+v", res)
		}
		o.stat = res[2].stat
	case kindMultiBad, kindMultiDup:
		res, err := decodeMulti(r.Body)
		if err != nil {
			return err
		}
		failed := 2
		wantErr := jute.CodeBadVersion
		if o.kind == kindMultiDup {
			failed, wantErr = 1, jute.CodeNodeExists
		}
		if len(res) != failed+1 || res[failed].op != jute.OpError || res[failed].err != wantErr {
			return fmt.Errorf("multi that must fail with %v at op %d answered %+v", wantErr, failed, res)
		}
		for _, x := range res {
			if x.op != jute.OpError {
				return fmt.Errorf("failed multi has a successful result: %+v", res)
			}
		}
	}
	if o.kind == kindCreate {
		w.deletable = append(w.deletable, o.path)
	}
	return nil
}

// seqNumber returns the sequence number of a sequential znode.
func seqNumber(path string) int64 {
	n, err := strconv.ParseInt(path[len(path)-10:], 10, 64)
	if err != nil {
		return -1
	}
	return n
}
