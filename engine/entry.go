package engine

import (
	"fmt"

	"github.com/meerkat-zk/meerkat/jute"
)

// A batch of entries is what one WAL record holds: the zxid of its first
// entry (each entry consumes exactly one, so the rest follow), the Policy
// every entry of the batch is applied with, then the entries back to back,
// all in jute encoding:
//
//	batch  +--------------+-----------+-----------+-----------+-----+
//	       | firstZxid: 8 | count: 4  | policy: 4 | entry 1   | ... |
//	       +--------------+-----------+-----------+-----------+-----+
//
// policy is policyMagic in its high 16 bits and one bit a setting below
// (policyExtendedTypes, ...): a log written before batches carried their
// policy fails to decode instead of being applied with a guessed one. One
// more bit, batchRefs, is about the format: the entries carry their Ref.
//	entry  +---------+------------+--------+-------+------------------+----------+
//	       | time: 8 | session: 8 | xid: 4 | op: 4 | identities: vec  | body:buf |
//	       +---------+------------+--------+-------+------------------+----------+
//
// identities is a vector of jute Id records (scheme, id). With batchRefs,
// each entry starts with its Ref: member (4) and request (8).

// The policy word of a batch.
const (
	policyMagic           = 0x4d50 << 16 // "MP"
	policyExtendedTypes   = 1 << 0
	policySkipACL         = 1 << 1
	policyReconfigEnabled = 1 << 2
	policyEnforceQuota    = 1 << 3
	policyLocalSessions   = 1 << 4
	policyX509            = 1 << 5
	policySettings        = policyExtendedTypes | policySkipACL | policyReconfigEnabled | policyEnforceQuota | policyLocalSessions | policyX509
	batchRefs             = 1 << 8
)

// word encodes p as a batch's policy word.
func (p Policy) word() int32 {
	w := int32(policyMagic)
	for _, f := range []struct {
		on  bool
		bit int32
	}{{p.ExtendedTypes, policyExtendedTypes}, {p.SkipACL, policySkipACL},
		{p.ReconfigEnabled, policyReconfigEnabled}, {p.EnforceQuota, policyEnforceQuota},
		{p.LocalSessions, policyLocalSessions}, {p.X509, policyX509}} {
		if f.on {
			w |= f.bit
		}
	}
	return w
}

// policyOf decodes a batch's policy word.
func policyOf(w int32) (Policy, bool) {
	if w&^0xffff != policyMagic || w&0xffff&^(policySettings|batchRefs) != 0 {
		return Policy{}, false
	}
	return Policy{ExtendedTypes: w&policyExtendedTypes != 0, SkipACL: w&policySkipACL != 0,
		ReconfigEnabled: w&policyReconfigEnabled != 0, EnforceQuota: w&policyEnforceQuota != 0,
		LocalSessions: w&policyLocalSessions != 0, X509: w&policyX509 != 0}, true
}

// AppendBatch appends the encoding of entries whose first zxid is
// firstZxid, all applied with policy p.
func AppendBatch(b []byte, firstZxid int64, p Policy, entries []*Entry) []byte {
	return appendBatch(b, firstZxid, p.word(), entries)
}

// AppendRefBatch is AppendBatch for entries that carry their Ref: what a
// replicated log holds, where entries are ordered before their zxids are
// known (firstZxid is 0) and each server must find its own requests.
func AppendRefBatch(b []byte, p Policy, entries []*Entry) []byte {
	return appendBatch(b, 0, p.word()|batchRefs, entries)
}

func appendBatch(b []byte, firstZxid int64, word int32, entries []*Entry) []byte {
	if n := batchSize(word, entries); cap(b)-len(b) < n {
		grown := make([]byte, len(b), len(b)+n)
		copy(grown, b)
		b = grown
	}
	b = jute.AppendLong(b, firstZxid)
	b = jute.AppendInt(b, int32(len(entries)))
	b = jute.AppendInt(b, word)
	refs := word&batchRefs != 0
	for _, e := range entries {
		if refs {
			b = jute.AppendInt(b, e.Ref.Member)
			b = jute.AppendLong(b, int64(e.Ref.Request))
		}
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

// batchSize is the encoded size of a batch of entries with policy word,
// so that appendBatch grows its buffer once, not once per doubling.
func batchSize(word int32, entries []*Entry) int {
	n, least := 16, minEntrySize(word)
	for _, e := range entries {
		n += least + len(e.Body)
		for _, id := range e.Identities {
			n += 8 + len(id.Scheme) + len(id.ID)
		}
	}
	return n
}

// minEntrySize is the fewest bytes an entry of a batch with policy word
// takes: time, session, xid, op, an empty identity vector and a null body,
// behind its Ref when the batch carries them.
func minEntrySize(word int32) int {
	if word&batchRefs != 0 {
		return 44
	}
	return 32
}

// BatchSpan reads a batch's first zxid and entry count from its header.
func BatchSpan(b []byte) (firstZxid int64, count int32, ok bool) {
	if len(b) < 12 {
		return 0, 0, false
	}
	d := jute.NewDecoder(b[:12])
	return d.Long(), d.Int(), true
}

// BatchPolicy returns the Policy of a batch written by AppendBatch or
// AppendRefBatch, which a batch without entries carries too.
func BatchPolicy(b []byte) (Policy, error) {
	if len(b) < 16 {
		return Policy{}, fmt.Errorf("engine: batch of %d bytes has no header", len(b))
	}
	d := jute.NewDecoder(b[12:16])
	p, ok := policyOf(d.Int())
	if !ok {
		return Policy{}, fmt.Errorf("engine: batch has no policy word: a log written by an older Meerkat")
	}
	return p, nil
}

// DecodeBatch reads a batch written by AppendBatch; each entry carries the
// batch's Policy. The entries' bodies alias b.
func DecodeBatch(b []byte) (firstZxid int64, entries []Entry, err error) {
	var d jute.Decoder
	d.Reset(b, len(b))
	firstZxid = d.Long()
	n := d.VectorLen()
	word := d.Int()
	policy, ok := policyOf(word)
	if d.Err() == nil && !ok {
		return 0, nil, fmt.Errorf("engine: batch at zxid %d has no policy word: a log written by an older Meerkat", firstZxid)
	}
	// The count is trusted for the allocation only as far as the rest of
	// the batch could hold that many entries (see minEntrySize).
	entries = make([]Entry, 0, min(n, d.Len()/minEntrySize(word)))
	// The entries' identities share one array, and an identity equal to the
	// one decoded before it shares its strings: a batch's entries mostly
	// come from sessions with the same few identities.
	ids := make([]jute.ID, 0, cap(entries))
	var last jute.ID
	for i := 0; i < n && d.Err() == nil; i++ {
		e := Entry{Policy: policy}
		if word&batchRefs != 0 {
			e.Ref.Member = d.Int()
			e.Ref.Request = uint64(d.Long())
		}
		e.Time = d.Long()
		e.Session = d.Long()
		e.Xid = d.Int()
		e.Op = jute.OpCode(d.Int())
		first, count := len(ids), d.VectorLen()
		for j := 0; j < count && d.Err() == nil; j++ {
			last = jute.ID{Scheme: d.StringOr(last.Scheme), ID: d.StringOr(last.ID)}
			ids = append(ids, last)
		}
		if count > 0 {
			e.Identities = ids[first:len(ids):len(ids)]
		}
		e.Body = d.Buffer()
		entries = append(entries, e)
	}
	if d.Err() != nil {
		return 0, nil, fmt.Errorf("engine: batch: %w", d.Err())
	}
	return firstZxid, entries, nil
}
