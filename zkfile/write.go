package zkfile

import (
	"bufio"
	"fmt"
	"hash"
	"hash/adler32"
	"io"
	"slices"

	"github.com/meerkat-zk/meerkat/jute"
)

// checkedWriter writes through a buffer and keeps the Adler32 of all it
// wrote, as ZooKeeper's CheckedOutputStream does.
type checkedWriter struct {
	w   *bufio.Writer
	sum hash.Hash32
	buf []byte
	err error
}

// flush writes what the records appended to buf.
func (c *checkedWriter) flush() {
	if c.err == nil {
		c.sum.Write(c.buf)
		_, c.err = c.w.Write(c.buf)
	}
	c.buf = c.buf[:0]
}

// seal writes the checksum of everything before it and "/".
func (c *checkedWriter) seal() {
	c.flush()
	c.buf = jute.AppendLong(c.buf, int64(c.sum.Sum32()))
	c.buf = jute.AppendString(c.buf, "/")
	c.flush()
}

// WriteSnapshot writes t as an uncompressed ZooKeeper snapshot stream, the
// content of version-2/snapshot.<t.Zxid in hex>: the header, the sessions,
// the ACL lists (each distinct list once), every node in pre-order (the
// root as "", parents before children) and the seal. ZooKeeper 3.6+ loads
// a snapshot without the optional digest that may follow the seal.
func WriteSnapshot(w io.Writer, t *Tree) error {
	c := &checkedWriter{w: bufio.NewWriterSize(w, 1<<16), sum: adler32.New()}
	c.buf = jute.AppendInt(c.buf, snapMagic)
	c.buf = jute.AppendInt(c.buf, fileFormat)
	c.buf = jute.AppendLong(c.buf, -1) // dbid, as ZooKeeper writes it
	ids := make([]int64, 0, len(t.Sessions))
	for id := range t.Sessions {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	c.buf = jute.AppendInt(c.buf, int32(len(ids)))
	for _, id := range ids {
		c.buf = jute.AppendLong(c.buf, id)
		c.buf = jute.AppendInt(c.buf, t.Sessions[id])
	}
	// ZooKeeper numbers its ACL lists from 1.
	refs := map[string]int64{}
	var lists [][]jute.ACL
	_ = t.Walk(func(_ string, n *Node) error {
		if _, ok := refs[ACLKey(n.ACL)]; !ok {
			lists = append(lists, n.ACL)
			refs[ACLKey(n.ACL)] = int64(len(lists))
		}
		return nil
	})
	c.buf = jute.AppendInt(c.buf, int32(len(lists)))
	for i, l := range lists {
		c.buf = jute.AppendLong(c.buf, int64(i+1))
		c.buf = jute.AppendACLs(c.buf, l)
	}
	_ = t.Walk(func(path string, n *Node) error {
		if path == "/" {
			path = ""
		}
		c.buf = jute.AppendString(c.buf, path)
		c.buf = jute.AppendBuffer(c.buf, n.Data)
		c.buf = jute.AppendLong(c.buf, refs[ACLKey(n.ACL)])
		for _, v := range []int64{n.Czxid, n.Mzxid, n.Ctime, n.Mtime} {
			c.buf = jute.AppendLong(c.buf, v)
		}
		for _, v := range []int32{n.Version, n.Cversion, n.Aversion} {
			c.buf = jute.AppendInt(c.buf, v)
		}
		c.buf = jute.AppendLong(c.buf, n.Owner)
		c.buf = jute.AppendLong(c.buf, n.Pzxid)
		if len(c.buf) > 1<<16 {
			c.flush()
		}
		return c.err
	})
	c.buf = jute.AppendString(c.buf, "/")
	c.seal()
	if c.err == nil {
		c.err = c.w.Flush()
	}
	if c.err != nil {
		return fmt.Errorf("zkfile: write snapshot: %w", c.err)
	}
	return nil
}
