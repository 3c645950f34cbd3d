package crashtest

import (
	"bytes"
	"fmt"
	"sort"
	"strings"
)

// want is a znode the model says must exist, as the last acknowledged (or
// found-applied) write left it.
type want struct {
	data    []byte
	version int32
	// czxid and mzxid are 0 when no reply told them.
	czxid int64
	mzxid int64
	owner int64
	// round is the round that created it; -1 for the skeleton, which is
	// never pruned.
	round int
	// what says which write made it what it is, for reports.
	what string
}

// model is what the tree must hold: every znode a write made, as far as
// the acknowledged history (and the in-flight writes found applied after a
// crash) tells. Only the test goroutine touches it, between rounds.
type model struct {
	nodes map[string]*want
	// maxZxid is the highest zxid any reply carried: the server must never
	// come back below it.
	maxZxid int64
	// zxids holds the zxid of every successful write and every multi, with
	// what it was: a zxid handed out twice is a zxid reused after a crash.
	zxids map[int64]string
	// lastSeq is, per sequential parent, the last sequence number handed
	// out.
	lastSeq map[string]int64
}

func newModel() *model {
	return &model{nodes: map[string]*want{}, zxids: map[int64]string{}, lastSeq: map[string]int64{}}
}

// problems collects what a check found wrong.
type problems []string

func (p *problems) add(format string, args ...any) { *p = append(*p, fmt.Sprintf(format, args...)) }

// seen records a zxid a reply carried.
func (m *model) seen(zxid int64) { m.maxZxid = max(m.maxZxid, zxid) }

// useZxid records the zxid of a successful write, which no other write may
// ever have.
func (m *model) useZxid(zxid int64, what string, ps *problems) {
	if prev, ok := m.zxids[zxid]; ok {
		ps.add("zxid %#x given to two writes: %s, and now %s", zxid, prev, what)
		return
	}
	m.zxids[zxid] = what
}

func (m *model) nextSeq(parent, path, what string, ps *problems) {
	n := seqNumber(path)
	if last, ok := m.lastSeq[parent]; ok && n <= last {
		ps.add("sequential create %s (%s) got number %d, not above %d, the last one under %s",
			path, what, n, last, parent)
	}
	m.lastSeq[parent] = max(n, m.lastSeq[parent])
}

// ack folds a writer's acknowledged operations into the model, in the
// order they were sent. Each must also have a zxid above zStart, the last
// zxid seen before the writers started.
func (m *model) ack(w *writer, zStart int64, ps *problems) {
	for _, o := range w.acked {
		what := fmt.Sprintf("round %d writer %d %s (acknowledged)", o.round, w.id, o)
		m.seen(o.zxid)
		if o.zxid <= zStart {
			ps.add("%s: zxid %#x is not above %#x, the server's zxid before the round's writes began", what, o.zxid, zStart)
		}
		switch o.kind {
		case kindCreate, kindCreateSeq:
			path := o.path
			if o.kind == kindCreateSeq {
				path = o.created
				m.nextSeq(w.seqDir, path, what, ps)
			}
			m.useZxid(o.zxid, what, ps)
			m.nodes[path] = &want{data: o.data, czxid: o.zxid, mzxid: o.zxid, round: o.round, what: what}
		case kindSetHot:
			m.useZxid(o.zxid, what, ps)
			n := m.nodes[o.hot]
			n.data, n.version, n.mzxid, n.what = o.data, o.stat.Version, o.zxid, what
		case kindDelete:
			m.useZxid(o.zxid, what, ps)
			delete(m.nodes, o.path)
		case kindMulti:
			m.useZxid(o.zxid, what, ps)
			m.nodes[o.path] = &want{data: o.data, czxid: o.zxid, mzxid: o.zxid, round: o.round, what: what}
			m.nodes[o.path2] = &want{data: o.data, czxid: o.zxid, mzxid: o.zxid, round: o.round, what: what}
			n := m.nodes[o.hot]
			n.data, n.version, n.mzxid, n.what = o.hotData, o.stat.Version, o.zxid, what
		case kindMultiBad, kindMultiDup:
			m.useZxid(o.zxid, what, ps)
		}
	}
}

// resolve decides, from the tree read after the restart, which of a
// writer's in-flight operations were applied, checks that a multi took
// effect whole or not at all and that the applied ones are a prefix of
// what the writer sent, and folds the applied ones into the model.
// zStart is the server's zxid before the round's writes; t.zxid is its zxid
// after recovery: an applied write's zxid lies between.
func (m *model) resolve(w *writer, t *tree, zStart int64, ps *problems) (applied int) {
	exists := func(p string) bool { _, ok := t.nodes[p]; return ok }
	// The sequential znodes nobody acknowledged, by data: a sequential
	// create in flight is found by its unique payload.
	unclaimed := map[string]string{}
	if dir := t.nodes[w.seqDir]; dir != nil {
		for _, ch := range dir.children {
			p := join(w.seqDir, ch)
			if _, ok := m.nodes[p]; !ok {
				unclaimed[string(t.nodes[p].data)] = p
			}
		}
	}
	hotVersion := func(h string) int32 {
		if n := t.nodes[h]; n != nil {
			return n.stat.Version
		}
		return -1
	}
	inRange := func(o *op, p string, zxid int64) {
		if zxid <= zStart || zxid > t.zxid {
			ps.add("round %d writer %d in-flight %s applied: %s has zxid %#x, outside (%#x, %#x], the round's zxids",
				o.round, w.id, o, p, zxid, zStart, t.zxid)
		}
	}
	// The latest in-flight update found applied on each hot znode.
	latest := map[string]*op{}
	var missed *op // the first observable in-flight op not applied
	for _, o := range w.inflight {
		what := fmt.Sprintf("round %d writer %d %s (in flight at the crash, found applied)", o.round, w.id, o)
		var done, observable = false, true
		switch o.kind {
		case kindCreate:
			done = exists(o.path)
			if done {
				n := t.nodes[o.path]
				inRange(o, o.path, n.stat.Czxid)
				m.useZxid(n.stat.Czxid, what, ps)
				m.nodes[o.path] = &want{data: o.data, czxid: n.stat.Czxid, mzxid: n.stat.Czxid, round: o.round, what: what}
			}
		case kindCreateSeq:
			var p string
			p, done = unclaimed[string(o.data)]
			if done {
				o.created = p
				n := t.nodes[p]
				inRange(o, p, n.stat.Czxid)
				m.nextSeq(w.seqDir, p, what, ps)
				m.useZxid(n.stat.Czxid, what, ps)
				m.nodes[p] = &want{data: o.data, czxid: n.stat.Czxid, mzxid: n.stat.Czxid, round: o.round, what: what}
			}
		case kindSetHot:
			done = hotVersion(o.hot) >= o.version+1
			if done {
				latest[o.hot] = o
			}
		case kindDelete:
			done = !exists(o.path)
			if done {
				delete(m.nodes, o.path)
			}
		case kindMulti:
			a, b, h := exists(o.path), exists(o.path2), hotVersion(o.hot) >= o.version+1
			if a != b || b != h {
				ps.add("partial multi: round %d writer %d %s: %s exists %v, %s exists %v, %s at version %d (the multi sets version %d)",
					o.round, w.id, o, o.path, a, o.path2, b, o.hot, hotVersion(o.hot), o.version+1)
			}
			done = a || b || h
			if a && b {
				n := t.nodes[o.path]
				inRange(o, o.path, n.stat.Czxid)
				m.useZxid(n.stat.Czxid, what, ps)
				m.nodes[o.path] = &want{data: o.data, czxid: n.stat.Czxid, mzxid: n.stat.Czxid, round: o.round, what: what}
				m.nodes[o.path2] = &want{data: o.data, czxid: n.stat.Czxid, mzxid: n.stat.Czxid, round: o.round, what: what}
			}
			if h {
				latest[o.hot] = o
			}
		case kindMultiBad, kindMultiDup:
			observable = false
			for _, p := range []string{o.path, o.path2} {
				if p != "" && exists(p) {
					ps.add("failed multi took effect: round %d writer %d %s: %s exists", o.round, w.id, o, p)
				}
			}
		case kindSetHotBad:
			observable = false
		}
		if !observable {
			continue
		}
		if done {
			applied++
			if missed != nil {
				ps.add("round %d writer %d: in-flight %s was applied, but %s, sent before it on the same connection, was not",
					o.round, w.id, o, missed)
			}
		} else if missed == nil {
			missed = o
		}
	}
	for h, o := range latest {
		n, got := m.nodes[h], t.nodes[h]
		data := o.data
		if o.kind == kindMulti {
			data = o.hotData
		}
		inRange(o, h, got.stat.Mzxid)
		if o.kind == kindSetHot {
			m.useZxid(got.stat.Mzxid, fmt.Sprintf("round %d writer %d %s (in flight at the crash, found applied)", o.round, w.id, o), ps)
		}
		n.data, n.version, n.mzxid = data, o.version+1, got.stat.Mzxid
		n.what = fmt.Sprintf("round %d writer %d %s (in flight at the crash, found applied)", o.round, w.id, o)
	}
	return applied
}

// compare checks the tree against the model: every znode the model holds
// must be there as the model says, and nothing else may be.
func (m *model) compare(t *tree, ps *problems) {
	paths := make([]string, 0, len(m.nodes))
	for p := range m.nodes {
		paths = append(paths, p)
	}
	sort.Strings(paths)
	for _, p := range paths {
		w, got := m.nodes[p], t.nodes[p]
		if got == nil {
			ps.add("lost %s: the model expected data %s version %d czxid %#x mzxid %#x, from %s; the server has no such znode",
				p, describe(w.data), w.version, w.czxid, w.mzxid, w.what)
			continue
		}
		var diffs []string
		if !bytes.Equal(got.data, w.data) {
			diffs = append(diffs, fmt.Sprintf("data %s, expected %s", describe(got.data), describe(w.data)))
		}
		if got.stat.Version != w.version {
			diffs = append(diffs, fmt.Sprintf("version %d, expected %d", got.stat.Version, w.version))
		}
		if w.czxid != 0 && got.stat.Czxid != w.czxid {
			diffs = append(diffs, fmt.Sprintf("czxid %#x, expected %#x", got.stat.Czxid, w.czxid))
		}
		if w.mzxid != 0 && got.stat.Mzxid != w.mzxid {
			diffs = append(diffs, fmt.Sprintf("mzxid %#x, expected %#x", got.stat.Mzxid, w.mzxid))
		}
		if got.stat.EphemeralOwner != w.owner {
			diffs = append(diffs, fmt.Sprintf("ephemeralOwner %#x, expected %#x", got.stat.EphemeralOwner, w.owner))
		}
		if int(got.stat.DataLength) != len(got.data) {
			diffs = append(diffs, fmt.Sprintf("dataLength %d for %d bytes of data", got.stat.DataLength, len(got.data)))
		}
		if len(diffs) > 0 {
			ps.add("wrong %s: the server has %s; the model's state comes from %s", p, strings.Join(diffs, ", "), w.what)
		}
	}
	paths = paths[:0]
	for p := range t.nodes {
		if _, ok := m.nodes[p]; !ok && p != "/" {
			paths = append(paths, p)
		}
	}
	sort.Strings(paths)
	for _, p := range paths {
		got := t.nodes[p]
		ps.add("unexpected %s: the server has data %s version %d czxid %#x mzxid %#x ephemeralOwner %#x, which no acknowledged or in-flight write explains",
			p, describe(got.data), got.stat.Version, got.stat.Czxid, got.stat.Mzxid, got.stat.EphemeralOwner)
	}
}
