package conformance

import (
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/meerkat-zk/meerkat/jute"
)

// zx renders a zxid as an offset from the scenario's base.
func (e *env) zx(z int64) string {
	switch {
	case z == 0:
		return "0"
	case z == -1:
		return "-1"
	case !e.hasBase:
		return "z?"
	case z > e.base+1<<40 || z < e.base-1<<40:
		// Not a zxid the server handed out: show it as it is.
		return fmt.Sprintf("%#x", z)
	}
	return fmt.Sprintf("z%+d", z-e.base)
}

// sess renders a session id (or an ephemeralOwner) symbolically.
func (e *env) sess(id int64) string {
	if id == 0 {
		return "0"
	}
	if s, ok := e.sessions[id]; ok {
		return s
	}
	return fmt.Sprintf("unknown(%#x)", uint64(id))
}

// stat renders a Stat with zxids as offsets, owner as a session name and
// times as relations.
func (e *env) stat(s jute.Stat) string {
	return fmt.Sprintf("stat{cz=%s mz=%s pz=%s v=%d cv=%d av=%d eo=%s dl=%d nc=%d %s}",
		e.zx(s.Czxid), e.zx(s.Mzxid), e.zx(s.Pzxid), s.Version, s.Cversion, s.Aversion,
		e.sess(s.EphemeralOwner), s.DataLength, s.NumChildren, e.times(s))
}

// times renders ctime and mtime as relations: each is 0 or "now" (within
// the scenario's time window), and mtime must not precede ctime.
func (e *env) times(s jute.Stat) string {
	lo := e.start.Add(-2 * time.Minute).UnixMilli()
	hi := time.Now().Add(2 * time.Minute).UnixMilli()
	rel := func(v int64) string {
		switch {
		case v == 0:
			return "0"
		case v >= lo && v <= hi:
			return "now"
		}
		return fmt.Sprintf("bad(%d)", v)
	}
	order := ""
	if s.Mtime < s.Ctime {
		order = ",m<c!"
	}
	return "t{c=" + rel(s.Ctime) + ",m=" + rel(s.Mtime) + order + "}"
}

// data renders a znode's data.
func data(b []byte) string {
	if b == nil {
		return "null"
	}
	if len(b) <= 64 {
		return fmt.Sprintf("%q", b)
	}
	return fmt.Sprintf("<%d bytes>", len(b))
}

// pathText renders a path as it is, or null.
func pathText(b []byte) string {
	if b == nil {
		return "null"
	}
	return string(b)
}

// acls renders an ACL list in wire order.
func acls(l []jute.ACL) string {
	parts := make([]string, len(l))
	for i, a := range l {
		parts[i] = fmt.Sprintf("%d:%s:%s", a.Perms, a.ID.Scheme, a.ID.ID)
	}
	return "[" + strings.Join(parts, " ") + "]"
}

// sorted renders a list of names as a sorted set.
func sorted(l []string) string {
	c := append([]string(nil), l...)
	sort.Strings(c)
	return "[" + strings.Join(c, " ") + "]"
}

// renderBody decodes a reply body by opcode. Error replies must have no
// body; leftover bytes after a decoded record are shown.
func (e *env) renderBody(op jute.OpCode, f frame) string {
	if f.hdr.Err != jute.CodeOK {
		if len(f.body) > 0 {
			return fmt.Sprintf(" body=%x", f.body)
		}
		return ""
	}
	d := jute.NewDecoder(f.body)
	s := e.decodeBody(op, d)
	switch {
	case d.Err() != nil:
		s += " decodeErr=" + d.Err().Error()
	case d.Len() > 0:
		s += fmt.Sprintf(" extra=%x", d.Rest())
	}
	return s
}

func (e *env) decodeBody(op jute.OpCode, d *jute.Decoder) string {
	var st jute.Stat
	switch op {
	case jute.OpCreate, jute.OpSync:
		return " path=" + pathText(d.StringBytes())
	case jute.OpCreate2, jute.OpCreateContainer, jute.OpCreateTTL:
		p := pathText(d.StringBytes())
		st.Decode(d)
		return " path=" + p + " " + e.stat(st)
	case jute.OpExists, jute.OpSetData, jute.OpSetACL:
		st.Decode(d)
		return " " + e.stat(st)
	case jute.OpGetData, jute.OpReconfig:
		b := d.Buffer()
		st.Decode(d)
		return " data=" + data(b) + " " + e.stat(st)
	case jute.OpGetACL:
		l := d.ACLs()
		st.Decode(d)
		return " acl=" + acls(l) + " " + e.stat(st)
	case jute.OpGetChildren:
		return " children=" + sorted(d.Strings())
	case jute.OpGetChildren2:
		l := d.Strings()
		st.Decode(d)
		return " children=" + sorted(l) + " " + e.stat(st)
	case jute.OpMulti, jute.OpMultiRead:
		return " " + e.multiResults(d)
	case jute.OpSASL:
		return " token=" + data(d.Buffer())
	case jute.OpGetEphemerals:
		return " ephemerals=" + sorted(d.Strings())
	case jute.OpGetAllChildrenNumber:
		return fmt.Sprintf(" number=%d", d.Int())
	case jute.OpWhoAmI:
		n := d.VectorLen()
		var parts []string
		for i := 0; i < n && d.Err() == nil; i++ {
			parts = append(parts, d.String()+":"+d.String())
		}
		return " clientInfo=[" + strings.Join(parts, " ") + "]"
	case jute.OpAddWatch:
		return fmt.Sprintf(" errorResponse=%d", d.Int())
	}
	if d.Len() > 0 {
		s := fmt.Sprintf(" raw=%x", d.Rest())
		d.Reset(nil, 0)
		return s
	}
	return ""
}

// multiResults decodes a MultiResponse.
func (e *env) multiResults(d *jute.Decoder) string {
	var parts []string
	for i := 0; i < 1000 && d.Err() == nil; i++ {
		var h jute.MultiHeader
		h.Decode(d)
		if h.Done {
			if h.Type != -1 || h.Err != -1 {
				parts = append(parts, fmt.Sprintf("end{type=%d err=%d}", h.Type, h.Err))
			}
			return "results=[" + strings.Join(parts, "; ") + "]"
		}
		var st jute.Stat
		s := fmt.Sprintf("%v(%d) %s", h.Type, h.Type, h.Err.String())
		switch h.Type {
		case jute.OpCreate:
			s += " path=" + d.String()
		case jute.OpCreate2:
			p := d.String()
			st.Decode(d)
			s += " path=" + p + " " + e.stat(st)
		case jute.OpSetData:
			st.Decode(d)
			s += " " + e.stat(st)
		case jute.OpGetData:
			b := d.Buffer()
			st.Decode(d)
			s += " data=" + data(b) + " " + e.stat(st)
		case jute.OpGetChildren:
			s += " children=" + sorted(d.Strings())
		case jute.OpError:
			s += fmt.Sprintf(" errBody=%s", jute.Code(d.Int()).String())
		}
		parts = append(parts, s)
	}
	return "results=[" + strings.Join(parts, "; ") + "] (unterminated)"
}
