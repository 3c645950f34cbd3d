package netpoll

import (
	"time"
	"unsafe"

	"github.com/meerkat-zk/meerkat/engine"
	"github.com/meerkat-zk/meerkat/jute"
)

// bytesString views b as a string without copying, for lookups that do not
// keep the string beyond the call.
func bytesString(b []byte) string { return unsafe.String(unsafe.SliceData(b), len(b)) }

// answer replies to a request the loop handles itself, from the current
// View. This is the read path: it allocates nothing unless it registers a
// watch.
func (cn *conn) answer(xid int32, op jute.OpCode, body []byte, ids []jute.ID, recv time.Time) {
	l := cn.loop
	v := l.view()
	skip := l.srv.cfg.SkipACL
	switch op {
	case jute.OpSetWatches, jute.OpSetWatches2:
		// Catch-up events go out before the reply.
		var sw jute.SetWatches
		d := jute.NewDecoder(body)
		sw.DecodeSetWatches(d, op == jute.OpSetWatches2)
		if d.Err() == nil {
			l.watches.SetWatches(v, &sw, cn, cn.notify)
			cn.reply(jute.ReplyHeader{Xid: xid, Zxid: v.Zxid}, nil)
			if limit := l.srv.cfg.MaxWatches; limit > 0 && l.watches.CountOf(cn) > limit {
				cn.overWatchCap()
			}
		} else {
			cn.reply(jute.ReplyHeader{Xid: xid, Zxid: v.Zxid, Err: jute.CodeMarshallingError}, nil)
		}
		cn.recordReply(op, xid, v.Zxid, recv)
		return
	}

	b, start := jute.BeginFrame(cn.out)
	hdr := len(b)
	b = (&jute.ReplyHeader{Xid: xid, Zxid: v.Zxid}).Append(b)
	code := jute.CodeOK
	// keepBody sends the body even on error (a failed multiRead).
	keepBody := false
	var d jute.Decoder
	d.Reset(body, l.srv.cfg.MaxBuffer)
	switch op {
	case jute.OpPing:
		b = (&jute.ReplyHeader{Xid: jute.XidPing, Zxid: v.Zxid}).Append(b[:hdr])
	case jute.OpExists:
		path, watch := d.PathBytes(), d.Bool()
		if d.Err() != nil {
			code = jute.CodeMarshallingError
			break
		}
		var n *engine.Node
		n, code = v.Exists(bytesString(path))
		if watch && (code == jute.CodeOK || code == jute.CodeNoNode) && cn.mayWatch() {
			l.watches.AddData(string(path), cn)
		}
		if code == jute.CodeOK {
			b = n.AppendStat(b)
		}
	case jute.OpGetData:
		path, watch := d.PathBytes(), d.Bool()
		if d.Err() != nil {
			code = jute.CodeMarshallingError
			break
		}
		b, code = v.GetData(bytesString(path), ids, skip, b)
		if watch && code == jute.CodeOK && cn.mayWatch() {
			l.watches.AddData(string(path), cn)
		}
	case jute.OpGetChildren, jute.OpGetChildren2:
		path, watch := d.PathBytes(), d.Bool()
		if d.Err() != nil {
			code = jute.CodeMarshallingError
			break
		}
		b, code = v.GetChildren(bytesString(path), ids, skip, op == jute.OpGetChildren2, b)
		if watch && code == jute.CodeOK && cn.mayWatch() {
			l.watches.AddChild(string(path), cn)
		}
	case jute.OpGetACL:
		path := d.PathBytes()
		if d.Err() != nil {
			code = jute.CodeMarshallingError
			break
		}
		b, code = v.GetACL(bytesString(path), ids, skip, b)
	case jute.OpGetAllChildrenNumber:
		path := d.PathBytes()
		if d.Err() != nil {
			code = jute.CodeMarshallingError
			break
		}
		b, code = v.AllChildrenNumber(bytesString(path), ids, skip, b)
	case jute.OpMultiRead:
		mark := len(b)
		b, code = v.MultiRead(body, ids, skip, b)
		keepBody = len(b) > mark
	case jute.OpWhoAmI:
		b = engine.WhoAmI(ids, b)
	case jute.OpAddWatch:
		path, mode := d.StringBytes(), d.Int()
		if d.Err() != nil || mode < 0 || mode > 1 {
			code = jute.CodeMarshallingError
			break
		}
		if cn.mayWatch() {
			l.watches.AddPersistent(string(path), cn, mode == 1)
		}
		b = jute.AppendInt(b, 0)
	case jute.OpCheckWatches, jute.OpRemoveWatches:
		path, typ := d.StringBytes(), d.Int()
		if d.Err() != nil || typ < engine.WatcherChildren || typ > engine.WatcherAny {
			code = jute.CodeMarshallingError
			break
		}
		var found bool
		if op == jute.OpCheckWatches {
			found = l.watches.Contains(bytesString(path), typ)
		} else {
			found = l.watches.Remove(bytesString(path), typ, cn)
		}
		if !found {
			code = jute.CodeNoWatcher
		}
	default:
		// ZooKeeper answers an opcode it does not serve with zxid -1, then
		// closes the connection (the session lives on).
		b = (&jute.ReplyHeader{Xid: xid, Zxid: -1, Err: jute.CodeUnimplemented}).Append(b[:hdr])
		cn.closeSoon()
	}
	if code != jute.CodeOK {
		if !keepBody {
			b = b[:hdr+jute.ReplyHeaderSize]
		}
		jute.PutReplyErr(b[hdr:], code)
	}
	cn.out = jute.EndFrame(b, start)
	cn.stats.sent++
	l.stats.sent++
	l.markDirty(cn)
	cn.recordReply(op, xid, v.Zxid, recv)
}
