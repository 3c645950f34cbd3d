package crashtest

import (
	"fmt"
	"sort"
	"time"

	"github.com/meerkat-zk/meerkat/internal/wire"
	"github.com/meerkat-zk/meerkat/jute"
)

// sessionTimeout is the timeout every session asks for, in ms: the most
// tickTime 2000 allows (maxSessionTimeout is 20 ticks), far longer than a
// restart and a verification take.
const sessionTimeout = 40000

// window bounds how many requests a pipelined batch of reads or setup
// writes keeps outstanding, so the server never has to hold a large reply
// backlog for a client that is not reading yet.
const window = 256

var openACL = []jute.ACL{{Perms: jute.PermAll, ID: jute.ID{Scheme: "world", ID: "anyone"}}}

// request is one request to pipeline.
type request struct {
	op   jute.OpCode
	body []byte
}

func createReq(path string, data []byte, flags int32) request {
	r := jute.CreateRequest{Path: path, Data: data, Flags: flags, ACL: openACL}
	return request{jute.OpCreate2, r.AppendCreate(nil, false)}
}

func getDataReq(path string) request {
	return request{jute.OpGetData, (&jute.PathWatchRequest{Path: path}).Append(nil)}
}

func getChildrenReq(path string) request {
	return request{jute.OpGetChildren, (&jute.PathWatchRequest{Path: path}).Append(nil)}
}

func deleteReq(path string, version int32) request {
	return request{jute.OpDelete, (&jute.PathVersionRequest{Path: path, Version: version}).Append(nil)}
}

func setDataReq(path string, data []byte, version int32) request {
	return request{jute.OpSetData, (&jute.SetDataRequest{Path: path, Data: data, Version: version}).Append(nil)}
}

// multiReq encodes a multi of single requests (create, setData, delete).
// A create inside a multi goes as OpCreate, as the Java client sends it.
func multiReq(ops ...request) request {
	var b []byte
	for _, o := range ops {
		t := o.op
		if t == jute.OpCreate2 {
			t = jute.OpCreate
		}
		b = (&jute.MultiHeader{Type: t, Err: -1}).Append(b)
		b = append(b, o.body...)
	}
	return request{jute.OpMulti, jute.AppendMultiEnd(b)}
}

// multiResult is one result of a multi response.
type multiResult struct {
	op   jute.OpCode
	err  jute.Code
	path string
	stat jute.Stat
}

// decodeMulti reads a multi response.
func decodeMulti(body []byte) ([]multiResult, error) {
	d := jute.NewDecoder(body)
	var out []multiResult
	for i := 0; i < 64; i++ {
		var h jute.MultiHeader
		h.Decode(d)
		if d.Err() != nil {
			return nil, fmt.Errorf("multi response: %w", d.Err())
		}
		if h.Done {
			return out, nil
		}
		r := multiResult{op: h.Type, err: h.Err}
		switch h.Type {
		case jute.OpCreate:
			r.path = d.String()
		case jute.OpCreate2:
			r.path = d.String()
			r.stat.Decode(d)
		case jute.OpSetData:
			r.stat.Decode(d)
		case jute.OpDelete, jute.OpCheck:
		case jute.OpError:
			r.err = jute.Code(d.Int())
		default:
			return nil, fmt.Errorf("multi response: result of type %d", h.Type)
		}
		out = append(out, r)
	}
	return nil, fmt.Errorf("multi response: more than 64 results")
}

// dial opens a new session; lastZxid is the highest zxid the client has
// seen, which a server that lost writes refuses.
func dial(addr string, lastZxid int64) (*wire.Conn, error) {
	c, err := wire.DialSession(addr, jute.ConnectRequest{TimeOut: sessionTimeout, LastZxidSeen: lastZxid,
		Passwd: make([]byte, 16), HasReadOnly: true})
	if err != nil {
		return nil, fmt.Errorf("new session (lastZxidSeen %#x): %w", lastZxid, err)
	}
	if c.Session.TimeOut <= 0 || c.Session.SessionID == 0 {
		c.Close()
		return nil, fmt.Errorf("new session (lastZxidSeen %#x) refused: timeout %d, id %#x",
			lastZxid, c.Session.TimeOut, c.Session.SessionID)
	}
	return c, nil
}

// resume reconnects to session id with its password, as a client does after
// losing its connection, and checks that the server still knows it.
func resume(addr string, id int64, passwd []byte, lastZxid int64) (*wire.Conn, error) {
	c, err := wire.DialSession(addr, jute.ConnectRequest{TimeOut: sessionTimeout, LastZxidSeen: lastZxid,
		SessionID: id, Passwd: passwd, HasReadOnly: true})
	if err != nil {
		return nil, fmt.Errorf("resume session %#x (lastZxidSeen %#x): %w", id, lastZxid, err)
	}
	if c.Session.TimeOut <= 0 || c.Session.SessionID != id {
		c.Close()
		return nil, fmt.Errorf("resume session %#x (lastZxidSeen %#x): the server answered timeout %d, id %#x: the session was lost",
			id, lastZxid, c.Session.TimeOut, c.Session.SessionID)
	}
	return c, nil
}

// closeSession ends the session of c and returns the reply's zxid.
func closeSession(c *wire.Conn) (int64, error) {
	r, err := c.Call(jute.OpCloseSession, nil)
	c.Close()
	if err != nil {
		return 0, fmt.Errorf("closeSession: %w", err)
	}
	if r.Header.Err != jute.CodeOK {
		return r.Header.Zxid, fmt.Errorf("closeSession: %v", r.Header.Err)
	}
	return r.Header.Zxid, nil
}

// pipeline sends reqs on c, at most window at a time, and returns the
// replies in order.
func pipeline(c *wire.Conn, reqs []request) ([]wire.Reply, error) {
	out := make([]wire.Reply, 0, len(reqs))
	for start := 0; start < len(reqs); start += window {
		end := min(start+window, len(reqs))
		xids := make([]int32, 0, end-start)
		for _, r := range reqs[start:end] {
			xid, err := c.Send(r.op, r.body)
			if err != nil {
				return nil, fmt.Errorf("send %v: %w", r.op, err)
			}
			xids = append(xids, xid)
		}
		for i, xid := range xids {
			r, err := c.Recv()
			if err != nil {
				return nil, fmt.Errorf("reply to %v: %w", reqs[start+i].op, err)
			}
			if r.Header.Xid != xid {
				return nil, fmt.Errorf("reply xid %d, want %d", r.Header.Xid, xid)
			}
			out = append(out, r)
		}
	}
	return out, nil
}

// node is a znode as the server reports it.
type node struct {
	data     []byte
	stat     jute.Stat
	children []string
}

// tree is the whole tree as read back after a restart.
type tree struct {
	nodes map[string]*node
	// zxid is the zxid of the first reply: the server's zxid after
	// recovery, since nothing writes while the tree is read.
	zxid int64
	// maxZxid is the highest czxid, mzxid or pzxid of any znode.
	maxZxid int64
}

// readTree reads every znode but /zookeeper, level by level, each level's
// reads pipelined. Nothing may write while it runs.
func readTree(c *wire.Conn) (*tree, error) {
	t := &tree{nodes: map[string]*node{}}
	level := []string{"/"}
	for depth := 0; len(level) > 0; depth++ {
		if depth > 32 {
			return nil, fmt.Errorf("tree deeper than 32 levels")
		}
		reqs := make([]request, len(level))
		for i, p := range level {
			reqs[i] = getDataReq(p)
		}
		replies, err := pipeline(c, reqs)
		if err != nil {
			return nil, fmt.Errorf("read tree: %w", err)
		}
		if depth == 0 {
			t.zxid = replies[0].Header.Zxid
		}
		var parents []string
		for i, p := range level {
			r := replies[i]
			if r.Header.Err != jute.CodeOK {
				return nil, fmt.Errorf("read tree: getData %s: %v (listed by its parent)", p, r.Header.Err)
			}
			d := jute.NewDecoder(r.Body)
			n := &node{data: d.Buffer()}
			n.stat.Decode(d)
			if d.Err() != nil {
				return nil, fmt.Errorf("read tree: getData %s: %w", p, d.Err())
			}
			t.nodes[p] = n
			t.maxZxid = max(t.maxZxid, n.stat.Czxid, n.stat.Mzxid, n.stat.Pzxid)
			if n.stat.NumChildren > 0 {
				parents = append(parents, p)
			}
		}
		reqs = reqs[:0]
		for _, p := range parents {
			reqs = append(reqs, getChildrenReq(p))
		}
		replies, err = pipeline(c, reqs)
		if err != nil {
			return nil, fmt.Errorf("read tree: %w", err)
		}
		level = level[:0:0]
		for i, p := range parents {
			r := replies[i]
			if r.Header.Err != jute.CodeOK {
				return nil, fmt.Errorf("read tree: getChildren %s: %v", p, r.Header.Err)
			}
			d := jute.NewDecoder(r.Body)
			children := d.Strings()
			if d.Err() != nil {
				return nil, fmt.Errorf("read tree: getChildren %s: %w", p, d.Err())
			}
			sort.Strings(children)
			t.nodes[p].children = children
			for _, ch := range children {
				if p == "/" && ch == "zookeeper" {
					continue
				}
				level = append(level, join(p, ch))
			}
		}
	}
	return t, nil
}

func join(parent, name string) string {
	if parent == "/" {
		return "/" + name
	}
	return parent + "/" + name
}

// deadlineConn bounds every read on c by the time left until deadline.
func deadlineConn(c *wire.Conn, deadline time.Time) {
	c.Timeout = max(time.Until(deadline), time.Millisecond)
}
