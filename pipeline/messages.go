package pipeline

import (
	"errors"
	"fmt"

	"github.com/meerkat-zk/meerkat/engine"
	"github.com/meerkat-zk/meerkat/jute"
)

// The messages members' pipelines send each other (through
// Replicator.Send), each a kind byte and a jute record:
//
//	'F' forward      a batch of writes for the leader (engine.AppendRefBatch)
//	'J' refused      count, then (ref: 8, code: 4): writes the leader refused
//	                 before ordering them (SESSIONMOVED)
//	'T' touch        count, then session ids (8): sessions heard from
//	'V' revalidate   ref: 8, session: 8, timeout: 4, index: 8: may a client
//	                 resume this session here? (index: the asker has applied
//	                 through it; the leader answers once it has too)
//	'W' revalidated  ref: 8, ok: 1
const (
	msgForward     = 'F'
	msgRefused     = 'J'
	msgTouch       = 'T'
	msgRevalidate  = 'V'
	msgRevalidated = 'W'
)

// refusal is one write the leader refused: the request's ref and why.
type refusal struct {
	ref  uint64
	code jute.Code
}

// revalidation asks the leader whether a session may resume on member from.
type revalidation struct {
	from    int32
	ref     uint64
	session int64
	timeout int32
	index   uint64
}

func appendForward(b []byte, entries []*engine.Entry) []byte {
	return engine.AppendRefBatch(append(b, msgForward), engine.Policy{}, entries)
}

func appendRefused(b []byte, rs []refusal) []byte {
	b = jute.AppendInt(append(b, msgRefused), int32(len(rs)))
	for _, r := range rs {
		b = jute.AppendLong(b, int64(r.ref))
		b = jute.AppendInt(b, int32(r.code))
	}
	return b
}

func appendTouch(b []byte, sessions []int64) []byte {
	b = jute.AppendInt(append(b, msgTouch), int32(len(sessions)))
	for _, id := range sessions {
		b = jute.AppendLong(b, id)
	}
	return b
}

func appendRevalidate(b []byte, v revalidation) []byte {
	b = jute.AppendLong(append(b, msgRevalidate), int64(v.ref))
	b = jute.AppendLong(b, v.session)
	b = jute.AppendInt(b, v.timeout)
	return jute.AppendLong(b, int64(v.index))
}

func appendRevalidated(b []byte, ref uint64, ok bool) []byte {
	return jute.AppendBool(jute.AppendLong(append(b, msgRevalidated), int64(ref)), ok)
}

// message is a decoded member message; which fields are set depends on
// kind.
type message struct {
	kind     byte
	entries  []engine.Entry
	refused  []refusal
	sessions []int64
	reval    revalidation
	ok       bool
}

var errEmptyMessage = errors.New("pipeline: empty member message")

// decodeMessage decodes a message from member from.
func decodeMessage(from int32, b []byte) (message, error) {
	if len(b) == 0 {
		return message{}, errEmptyMessage
	}
	m := message{kind: b[0]}
	d := jute.NewDecoder(b[1:])
	switch m.kind {
	case msgForward:
		_, entries, err := engine.DecodeBatch(b[1:])
		if err != nil {
			return m, err
		}
		for i := range entries {
			if entries[i].Ref.Member != from {
				return m, fmt.Errorf("pipeline: member %d forwarded a write of member %d", from, entries[i].Ref.Member)
			}
		}
		m.entries = entries
		return m, nil
	case msgRefused:
		n := d.VectorLen()
		for i := 0; i < n && d.Err() == nil; i++ {
			m.refused = append(m.refused, refusal{ref: uint64(d.Long()), code: jute.Code(d.Int())})
		}
	case msgTouch:
		n := d.VectorLen()
		for i := 0; i < n && d.Err() == nil; i++ {
			m.sessions = append(m.sessions, d.Long())
		}
	case msgRevalidate:
		m.reval = revalidation{from: from, ref: uint64(d.Long()), session: d.Long(), timeout: d.Int(), index: uint64(d.Long())}
	case msgRevalidated:
		m.reval.ref = uint64(d.Long())
		m.ok = d.Bool()
	default:
		return m, fmt.Errorf("pipeline: unknown member message kind %q", m.kind)
	}
	if d.Err() == nil && d.Len() != 0 {
		return m, fmt.Errorf("pipeline: member message %q has %d bytes too many", m.kind, d.Len())
	}
	return m, d.Err()
}
