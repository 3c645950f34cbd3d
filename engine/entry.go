package engine

import (
	"fmt"

	"github.com/meerkat-zk/meerkat/jute"
)

// A batch of entries is what one WAL record holds: the zxid of its first
// entry (each entry consumes exactly one, so the rest follow), then the
// entries back to back, all in jute encoding:
//
//	batch  +--------------+-----------+-----------+-----+
//	       | firstZxid: 8 | count: 4  | entry 1   | ... |
//	       +--------------+-----------+-----------+-----+
//	entry  +---------+------------+--------+-------+------------------+----------+
//	       | time: 8 | session: 8 | xid: 4 | op: 4 | identities: vec  | body:buf |
//	       +---------+------------+--------+-------+------------------+----------+
//
// identities is a vector of jute Id records (scheme, id).

// AppendBatch appends the encoding of entries whose first zxid is firstZxid.
func AppendBatch(b []byte, firstZxid int64, entries []*Entry) []byte {
	b = jute.AppendLong(b, firstZxid)
	b = jute.AppendInt(b, int32(len(entries)))
	for _, e := range entries {
		b = jute.AppendLong(b, e.Time)
		b = jute.AppendLong(b, e.Session)
		b = jute.AppendInt(b, e.Xid)
		b = jute.AppendInt(b, int32(e.Op))
		b = jute.AppendInt(b, int32(len(e.Identities)))
		for i := range e.Identities {
			b = e.Identities[i].Append(b)
		}
		b = jute.AppendBuffer(b, e.Body)
	}
	return b
}

// BatchSpan reads a batch's first zxid and entry count from its header.
func BatchSpan(b []byte) (firstZxid int64, count int32, ok bool) {
	if len(b) < 12 {
		return 0, 0, false
	}
	d := jute.NewDecoder(b[:12])
	return d.Long(), d.Int(), true
}

// DecodeBatch reads a batch written by AppendBatch. The entries' bodies
// alias b.
func DecodeBatch(b []byte) (firstZxid int64, entries []Entry, err error) {
	var d jute.Decoder
	d.Reset(b, len(b))
	firstZxid = d.Long()
	n := d.VectorLen()
	entries = make([]Entry, 0, n)
	for i := 0; i < n && d.Err() == nil; i++ {
		var e Entry
		e.Time = d.Long()
		e.Session = d.Long()
		e.Xid = d.Int()
		e.Op = jute.OpCode(d.Int())
		ids := d.VectorLen()
		for j := 0; j < ids && d.Err() == nil; j++ {
			var id jute.ID
			id.Decode(&d)
			e.Identities = append(e.Identities, id)
		}
		e.Body = d.Buffer()
		entries = append(entries, e)
	}
	if d.Err() != nil {
		return 0, nil, fmt.Errorf("engine: batch: %w", d.Err())
	}
	return firstZxid, entries, nil
}
