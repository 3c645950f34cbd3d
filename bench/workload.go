package bench

import (
	"encoding/binary"
	"fmt"

	"github.com/meerkat-zk/meerkat/jute"
)

// openACL is world:anyone with every permission.
var openACL = []jute.ACL{{Perms: jute.PermAll, ID: jute.ID{Scheme: "world", ID: "anyone"}}}

// Create flags.
const (
	flagEphemeral  = 1
	flagSequential = 2
)

// rng is splitmix64: cheap, deterministic per seed, good enough to pick keys.
type rng uint64

func (r *rng) next() uint64 {
	*r += 0x9e3779b97f4a7c15
	z := uint64(*r)
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9
	z = (z ^ (z >> 27)) * 0x94d049bb133111eb
	return z ^ (z >> 31)
}

// KeyPath is the path of key i of the hot set.
func KeyPath(i int) string { return fmt.Sprintf("/bench/k%07d", i) }

// Mix is the request stream of the read/write scenarios: getData (or
// exists) on keys chosen uniformly from a hot set, and setData of
// ValueSize bytes on WritePercent of the requests.
type Mix struct {
	// Keys is the size of the hot set (paths KeyPath(0..Keys-1)).
	Keys int
	// ValueSize is the size of every value, in bytes.
	ValueSize int
	// WritePercent of requests are setData (0 to 100).
	WritePercent int
	// Read is the read opcode: OpGetData or OpExists.
	Read jute.OpCode
}

// mixStream is one connection's Mix.
type mixStream struct {
	m      Mix
	reads  [][]byte // encoded read bodies, one per key
	writes [][]byte // encoded setData bodies, one per key
	rand   rng      // used by Next only
}

// Streams returns the per-connection stream constructor for Load. Request
// bodies are encoded once, so Next is a copy.
func (m Mix) Streams() func(int) Stream {
	if m.Read == 0 {
		m.Read = jute.OpGetData
	}
	reads := make([][]byte, m.Keys)
	writes := make([][]byte, m.Keys)
	value := make([]byte, m.ValueSize)
	for i := range value {
		value[i] = byte('a' + i%26)
	}
	for i := range reads {
		reads[i] = (&jute.PathWatchRequest{Path: KeyPath(i)}).Append(nil)
		if m.WritePercent > 0 {
			writes[i] = (&jute.SetDataRequest{Path: KeyPath(i), Data: value, Version: -1}).Append(nil)
		}
	}
	return func(conn int) Stream {
		return &mixStream{m: m, reads: reads, writes: writes, rand: rng(conn*7919 + 1)}
	}
}

func (s *mixStream) Next(b []byte) ([]byte, jute.OpCode, bool) {
	r := s.rand.next()
	k := int(r % uint64(len(s.reads)))
	if s.m.WritePercent > 0 && int((r>>32)%100) < s.m.WritePercent {
		return append(b, s.writes[k]...), jute.OpSetData, true
	}
	return append(b, s.reads[k]...), s.m.Read, true
}

func (s *mixStream) Reply(op jute.OpCode, code jute.Code, body []byte) bool {
	if code != jute.CodeOK {
		return false
	}
	switch op {
	case jute.OpGetData:
		// data buffer, then the stat.
		return len(body) == 4+s.m.ValueSize+jute.StatSize &&
			int(binary.BigEndian.Uint32(body)) == s.m.ValueSize
	default: // exists, setData: the stat.
		return len(body) == jute.StatSize
	}
}

// Children is getChildren on one parent that has Count children.
type Children struct {
	Path  string
	Count int
}

// Streams returns the per-connection stream constructor for Load.
func (c Children) Streams() func(int) Stream {
	body := (&jute.PathWatchRequest{Path: c.Path}).Append(nil)
	return func(int) Stream { return &childrenStream{c: c, body: body} }
}

type childrenStream struct {
	c    Children
	body []byte
}

func (s *childrenStream) Next(b []byte) ([]byte, jute.OpCode, bool) {
	return append(b, s.body...), jute.OpGetChildren, true
}

func (s *childrenStream) Reply(_ jute.OpCode, code jute.Code, body []byte) bool {
	return code == jute.CodeOK && len(body) >= 4 && int(binary.BigEndian.Uint32(body)) == s.c.Count
}

// Churn creates ephemeral sequential znodes under Parent and deletes each
// one it created: a create, then (once its name is known) a delete.
type Churn struct {
	Parent    string
	ValueSize int
}

// Streams returns the per-connection stream constructor for Load; each
// connection creates under its own name prefix.
func (c Churn) Streams() func(int) Stream {
	return func(conn int) Stream {
		body := (&jute.CreateRequest{Path: fmt.Sprintf("%s/c%d-", c.Parent, conn), Data: make([]byte, c.ValueSize),
			ACL: openACL, Flags: flagEphemeral | flagSequential}).AppendCreate(nil, false)
		return &churnStream{create: body}
	}
}

type churnStream struct {
	create  []byte
	created []string // names created and not yet deleted, oldest first
}

func (s *churnStream) Next(b []byte) ([]byte, jute.OpCode, bool) {
	if len(s.created) > 0 {
		p := s.created[0]
		s.created = s.created[1:]
		return (&jute.PathVersionRequest{Path: p, Version: -1}).Append(b), jute.OpDelete, true
	}
	return append(b, s.create...), jute.OpCreate, true
}

func (s *churnStream) Reply(op jute.OpCode, code jute.Code, body []byte) bool {
	if code != jute.CodeOK {
		return false
	}
	if op == jute.OpCreate {
		d := jute.NewDecoder(body)
		p := d.String()
		if d.Err() != nil || p == "" {
			return false
		}
		s.created = append(s.created, p)
	}
	return true
}

// Creates is a stream of creates of given paths with ValueSize bytes of
// data: connection i of n creates paths i, i+n, i+2n... A path that exists
// already is fine (a setup may run twice).
type Creates struct {
	Paths     func(i int) string
	Count     int
	ValueSize int
}

// Streams returns the stream constructor for a Load over conns
// connections, which between them create every path once.
func (c Creates) Streams(conns int) func(int) Stream {
	data := make([]byte, c.ValueSize)
	return func(conn int) Stream { return &createStream{c: c, data: data, next: conn, step: conns} }
}

type createStream struct {
	c          Creates
	data       []byte
	next, step int
}

func (s *createStream) Next(b []byte) ([]byte, jute.OpCode, bool) {
	if s.next >= s.c.Count {
		return b, 0, false
	}
	req := jute.CreateRequest{Path: s.c.Paths(s.next), Data: s.data, ACL: openACL}
	s.next += s.step
	return req.AppendCreate(b, false), jute.OpCreate, true
}

func (s *createStream) Reply(_ jute.OpCode, code jute.Code, _ []byte) bool {
	return code == jute.CodeOK || code == jute.CodeNodeExists
}
