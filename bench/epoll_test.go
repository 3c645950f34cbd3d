package bench

import (
	"net"
	"testing"
	"time"

	"github.com/meerkat-zk/meerkat/internal/wire"
	"github.com/meerkat-zk/meerkat/jute"
)

// TestEventWaiters feeds more connections than loops, on more than eight
// loops: every connection gets its event, except one that sends a frame
// of impossible length (counted and dropped), two that get a reply instead
// of an event (counted; on loops 0 and 8, which must not share a counter)
// and one that gets nothing (no event within the limit).
func TestEventWaiters(t *testing.T) {
	const n, loops, broken, silent, reply1, reply2 = 25, 10, 7, 13, 18, 20
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	conns := make([]*conn, n)
	peers := make([]net.Conn, n)
	for i := range conns {
		nc, err := net.Dial("tcp", ln.Addr().String())
		if err != nil {
			t.Fatal(err)
		}
		peer, err := ln.Accept()
		if err != nil {
			t.Fatal(err)
		}
		conns[i], peers[i] = &conn{nc: nc, rbuf: make([]byte, 64<<10)}, peer
		defer nc.Close()
		defer peer.Close()
	}
	w, err := newEventWaiters(conns, loops)
	if err != nil {
		t.Fatal(err)
	}
	defer w.close()
	const path = "/bench/x"
	event := (&jute.ReplyHeader{Xid: jute.XidNotification}).Append(nil)
	event = wire.Frame((&jute.WatcherEvent{Type: jute.EventNodeDataChanged, State: 3, Path: path}).Append(event))
	reply := wire.Frame((&jute.ReplyHeader{Xid: 5}).Append(nil))
	for i, p := range peers {
		var out []byte
		switch i {
		case broken:
			out = []byte{0xff, 0xff, 0xff, 0xff}
		case reply1, reply2:
			out = reply
		case silent:
			continue
		default:
			out = event
		}
		if _, err := p.Write(out); err != nil {
			t.Fatal(err)
		}
	}
	const limit = time.Second
	times, bad := w.wait(path, time.Now(), limit)
	if bad != 3 {
		t.Errorf("bad %d, want 3: the broken frame and the two replies", bad)
	}
	for i, at := range times {
		if got, want := at > 0, i != broken && i != silent && i != reply1 && i != reply2; got != want {
			t.Errorf("connection %d: event time %v, want one: %v", i, time.Duration(at), want)
		}
	}
}
