package conformance

import (
	"encoding/binary"
	"fmt"
	"strings"

	"github.com/meerkat-zk/meerkat/internal/zktest"
	"github.com/meerkat-zk/meerkat/jute"
)

// Well-known ACL lists.
var (
	openACL    = []jute.ACL{{Perms: jute.PermAll, ID: jute.ID{Scheme: "world", ID: "anyone"}}}
	readACL    = []jute.ACL{{Perms: jute.PermRead, ID: jute.ID{Scheme: "world", ID: "anyone"}}}
	creatorACL = []jute.ACL{{Perms: jute.PermAll, ID: jute.ID{Scheme: "auth", ID: ""}}}
)

func digestACL(perms int32, user, password string) jute.ACL {
	return jute.ACL{Perms: perms, ID: jute.ID{Scheme: "digest", ID: zktest.DigestID(user, password)}}
}

func worldACL(perms int32) jute.ACL {
	return jute.ACL{Perms: perms, ID: jute.ID{Scheme: "world", ID: "anyone"}}
}

func ipACL(perms int32, addr string) jute.ACL {
	return jute.ACL{Perms: perms, ID: jute.ID{Scheme: "ip", ID: addr}}
}

// flagName names a create flag for the transcript.
func flagName(f int32) string {
	switch f {
	case 0:
		return "persistent"
	case 1:
		return "ephemeral"
	case 2:
		return "sequential"
	case 3:
		return "ephemeral|sequential"
	case 4:
		return "container"
	case 5:
		return "ttl"
	case 6:
		return "ttl|sequential"
	}
	return fmt.Sprintf("flags(%d)", f)
}

// reply decoding helpers.

func decodeStat(b []byte) jute.Stat {
	var st jute.Stat
	st.Decode(jute.NewDecoder(b))
	return st
}

// create sends op 1 with the open ACL; it returns the created path.
func (c *client) create(path string, d []byte, flags int32) (string, bool) {
	return c.createACL(path, d, openACL, flags)
}

// createACL sends op 1 with acl.
func (c *client) createACL(path string, d []byte, acl []jute.ACL, flags int32) (string, bool) {
	f, ok := c.call(fmt.Sprintf("create %s %s %s acl=%s", path, data(d), flagName(flags), acls(acl)),
		jute.OpCreate, createBody(path, d, acl, flags))
	if !ok {
		return "", false
	}
	return jute.NewDecoder(f.body).String(), true
}

// create2 sends op 15 and returns the path and stat.
func (c *client) create2(path string, d []byte, flags int32) (string, jute.Stat, bool) {
	return c.createOp(jute.OpCreate2, path, d, openACL, flags)
}

// createOp sends op (create2 or createContainer) and returns path and stat.
func (c *client) createOp(op jute.OpCode, path string, d []byte, acl []jute.ACL, flags int32) (string, jute.Stat, bool) {
	f, ok := c.call(fmt.Sprintf("%v %s %s %s acl=%s", op, path, data(d), flagName(flags), acls(acl)),
		op, createBody(path, d, acl, flags))
	if !ok {
		return "", jute.Stat{}, false
	}
	dec := jute.NewDecoder(f.body)
	p := dec.String()
	var st jute.Stat
	st.Decode(dec)
	return p, st, true
}

// createContainer sends op 19.
func (c *client) createContainer(path string, d []byte) (string, jute.Stat, bool) {
	return c.createOp(jute.OpCreateContainer, path, d, openACL, 4)
}

// createTTL sends op 21.
func (c *client) createTTL(path string, d []byte, flags int32, ttl int64) (string, jute.Stat, bool) {
	f, ok := c.call(fmt.Sprintf("createTTL %s %s %s ttl=%d", path, data(d), flagName(flags), ttl),
		jute.OpCreateTTL, createTTLBody(path, d, openACL, flags, ttl))
	if !ok {
		return "", jute.Stat{}, false
	}
	dec := jute.NewDecoder(f.body)
	p := dec.String()
	var st jute.Stat
	st.Decode(dec)
	return p, st, true
}

func (c *client) delete(path string, version int32) bool {
	_, ok := c.call(fmt.Sprintf("delete %s v=%d", path, version), jute.OpDelete, pathVersionBody(path, version))
	return ok
}

func (c *client) exists(path string, watch bool) (jute.Stat, bool) {
	f, ok := c.call(fmt.Sprintf("exists %s watch=%v", path, watch), jute.OpExists, pathWatchBody(path, watch))
	if !ok {
		return jute.Stat{}, false
	}
	return decodeStat(f.body), true
}

func (c *client) getData(path string, watch bool) ([]byte, jute.Stat, bool) {
	f, ok := c.call(fmt.Sprintf("getData %s watch=%v", path, watch), jute.OpGetData, pathWatchBody(path, watch))
	if !ok {
		return nil, jute.Stat{}, false
	}
	d := jute.NewDecoder(f.body)
	b := d.Buffer()
	var st jute.Stat
	st.Decode(d)
	return b, st, true
}

func (c *client) setData(path string, d []byte, version int32) (jute.Stat, bool) {
	f, ok := c.call(fmt.Sprintf("setData %s %s v=%d", path, data(d), version), jute.OpSetData, setDataBody(path, d, version))
	if !ok {
		return jute.Stat{}, false
	}
	return decodeStat(f.body), true
}

func (c *client) getACL(path string) ([]jute.ACL, bool) {
	f, ok := c.call("getACL "+path, jute.OpGetACL, pathBody(path))
	if !ok {
		return nil, false
	}
	return jute.NewDecoder(f.body).ACLs(), true
}

func (c *client) setACL(path string, acl []jute.ACL, version int32) (jute.Stat, bool) {
	f, ok := c.call(fmt.Sprintf("setACL %s %s v=%d", path, acls(acl), version), jute.OpSetACL, setACLBody(path, acl, version))
	if !ok {
		return jute.Stat{}, false
	}
	return decodeStat(f.body), true
}

func (c *client) getChildren(path string, watch bool) ([]string, bool) {
	f, ok := c.call(fmt.Sprintf("getChildren %s watch=%v", path, watch), jute.OpGetChildren, pathWatchBody(path, watch))
	if !ok {
		return nil, false
	}
	return jute.NewDecoder(f.body).Strings(), true
}

func (c *client) getChildren2(path string, watch bool) ([]string, jute.Stat, bool) {
	f, ok := c.call(fmt.Sprintf("getChildren2 %s watch=%v", path, watch), jute.OpGetChildren2, pathWatchBody(path, watch))
	if !ok {
		return nil, jute.Stat{}, false
	}
	d := jute.NewDecoder(f.body)
	l := d.Strings()
	var st jute.Stat
	st.Decode(d)
	return l, st, true
}

func (c *client) sync(path string) bool {
	_, ok := c.call("sync "+path, jute.OpSync, pathBody(path))
	return ok
}

func (c *client) getAllChildrenNumber(path string) bool {
	_, ok := c.call("getAllChildrenNumber "+path, jute.OpGetAllChildrenNumber, pathBody(path))
	return ok
}

func (c *client) getEphemerals(prefix string) bool {
	_, ok := c.call(fmt.Sprintf("getEphemerals %q", prefix), jute.OpGetEphemerals, pathBody(prefix))
	return ok
}

func (c *client) whoAmI() bool {
	_, ok := c.call("whoAmI", jute.OpWhoAmI, nil)
	return ok
}

// Watch modes and watcher types.
const (
	modePersistent          int32 = 0
	modePersistentRecursive int32 = 1

	watcherChildren int32 = 1
	watcherData     int32 = 2
	watcherAny      int32 = 3
)

func (c *client) addWatch(path string, mode int32) bool {
	_, ok := c.call(fmt.Sprintf("addWatch %s mode=%d", path, mode), jute.OpAddWatch, pathTypeBody(path, mode))
	return ok
}

func (c *client) removeWatches(path string, typ int32) bool {
	_, ok := c.call(fmt.Sprintf("removeWatches %s type=%d", path, typ), jute.OpRemoveWatches, pathTypeBody(path, typ))
	return ok
}

func (c *client) checkWatches(path string, typ int32) bool {
	_, ok := c.call(fmt.Sprintf("checkWatches %s type=%d", path, typ), jute.OpCheckWatches, pathTypeBody(path, typ))
	return ok
}

// auth sends an AuthPacket with xid -4 and records the reply, or the
// closed connection that follows a failure.
func (c *client) auth(scheme, cred string) bool {
	f, ok := c.callWith(jute.XidAuth, fmt.Sprintf("auth %s %q", scheme, cred), jute.OpAuth, authBody(scheme, []byte(cred)))
	if !ok && f.hdr.Err != jute.CodeOK && f.hdr.Xid == jute.XidAuth {
		closed, _ := c.waitClosed(replyTimeout)
		c.dropped = c.dropped || closed
		c.e.logf("%s: closed after auth failure: %v", c.label, closed)
	}
	return ok
}

// setWatches sends setWatches (v2 false) or setWatches2 with xid -8; the
// catch-up notifications it triggers are recorded before the reply.
func (c *client) setWatches(v2 bool, sw jute.SetWatches) bool {
	op := jute.OpSetWatches
	if v2 {
		op = jute.OpSetWatches2
	}
	desc := fmt.Sprintf("%v rel=%s data=%v exist=%v child=%v", op, c.e.zx(sw.RelativeZxid), sw.DataWatches, sw.ExistWatches, sw.ChildWatches)
	if v2 {
		desc += fmt.Sprintf(" persistent=%v recursive=%v", sw.PersistentWatches, sw.PersistentRecursive)
	}
	_, ok := c.callWith(jute.XidSetWatches, desc, op, sw.AppendSetWatches(nil, v2))
	return ok
}

func (c *client) ping() bool {
	_, ok := c.callWith(jute.XidPing, "ping", jute.OpPing, nil)
	return ok
}

// closeSession ends the session; the server answers and closes the socket.
func (c *client) closeSession() bool {
	_, ok := c.call("closeSession", jute.OpCloseSession, nil)
	if ok {
		c.sessionClosed = true
		c.e.closed[c.sessionID] = true
		closed, extra := c.waitClosed(replyTimeout)
		for _, f := range extra {
			c.e.logf("%s: after closeSession: xid=%d err=%s", c.label, f.hdr.Xid, f.hdr.Err.String())
		}
		c.dropped = true
		c.e.logf("%s: socket closed after closeSession: %v", c.label, closed)
	}
	return ok
}

// multi sends op 14.
func (c *client) multi(ops ...multiOp) bool {
	_, ok := c.call("multi "+describeOps(ops), jute.OpMulti, multiBody(ops))
	return ok
}

// multiRead sends op 22.
func (c *client) multiRead(ops ...multiOp) bool {
	_, ok := c.call("multiRead "+describeOps(ops), jute.OpMultiRead, multiBody(ops))
	return ok
}

// describeOps names each op of a multi by its opcode and path (the first
// field of every multi sub-request) and, for delete, check and setData,
// the version (their last field).
func describeOps(ops []multiOp) string {
	parts := make([]string, len(ops))
	for i, o := range ops {
		d := jute.NewDecoder(o.body)
		p := d.String()
		s := fmt.Sprintf("%v %s", o.op, p)
		switch o.op {
		case jute.OpDelete, jute.OpCheck, jute.OpSetData:
			if len(o.body) >= 4 {
				v := int32(binary.BigEndian.Uint32(o.body[len(o.body)-4:]))
				s += fmt.Sprintf(" v=%d", v)
			}
		}
		if d.Err() != nil {
			s = fmt.Sprintf("%v <%d bytes>", o.op, len(o.body))
		}
		parts[i] = s
	}
	return "[" + strings.Join(parts, "; ") + "]"
}

func mCreate(path string, d []byte, flags int32) multiOp {
	return multiOp{jute.OpCreate, createBody(path, d, openACL, flags)}
}

func mCreate2(path string, d []byte, flags int32) multiOp {
	return multiOp{jute.OpCreate2, createBody(path, d, openACL, flags)}
}

func mDelete(path string, version int32) multiOp {
	return multiOp{jute.OpDelete, pathVersionBody(path, version)}
}

func mSetData(path string, d []byte, version int32) multiOp {
	return multiOp{jute.OpSetData, setDataBody(path, d, version)}
}

func mCheck(path string, version int32) multiOp {
	return multiOp{jute.OpCheck, pathVersionBody(path, version)}
}

func mGetData(path string) multiOp {
	return multiOp{jute.OpGetData, pathWatchBody(path, false)}
}

func mGetChildren(path string) multiOp {
	return multiOp{jute.OpGetChildren, pathWatchBody(path, false)}
}

// fourLetter sends a four-letter word and returns the answer; any failure
// (a refused connection, a reset, no answer) aborts the scenario: a server
// must answer every word, every time.
func (e *env) fourLetter(word string) string {
	send := zktest.FourLetter
	if e.halfClose {
		send = zktest.FourLetterHalfClosed
	}
	out, err := send(e.srv.Addr, word)
	if err != nil {
		e.fatalf("four-letter %s: %v", word, err)
	}
	return out
}
