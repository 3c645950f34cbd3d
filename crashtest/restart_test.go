package crashtest

import (
	"testing"
	"time"

	"github.com/meerkat-zk/meerkat/engine"
	"github.com/meerkat-zk/meerkat/internal/wire"
	"github.com/meerkat-zk/meerkat/internal/zktest"
	"github.com/meerkat-zk/meerkat/jute"
)

// eachServer runs f against Meerkat and against Apache ZooKeeper, each
// started afresh: what a restart must keep is ZooKeeper's behaviour.
func eachServer(t *testing.T, f func(t *testing.T, srv *zktest.Server)) {
	for _, start := range []func(zktest.TB, zktest.Options) *zktest.Server{zktest.StartMeerkat, zktest.StartZooKeeper} {
		srv := start(t, zktest.Options{})
		t.Run(srv.Name, func(t *testing.T) { f(t, srv) })
	}
}

// mustCall sends a request and fails unless it gets the wanted code.
func mustCall(t *testing.T, c *wire.Conn, op jute.OpCode, body []byte, want jute.Code) wire.Reply {
	t.Helper()
	r, err := c.Call(op, body)
	if err != nil || r.Header.Err != want {
		t.Fatalf("%v: %+v %v, want %v", op, r.Header, err, want)
	}
	return r
}

func createBody(path string, flags int32) []byte {
	return (&jute.CreateRequest{Path: path, Data: []byte("d"), ACL: engine.OpenACL, Flags: flags}).AppendCreate(nil, false)
}

// TestAbandonedSessionExpiresAfterRestart: a session whose client is gone
// when the server restarts is restored, and expires one timeout after the
// restart (a restart starts every session's clock again), taking its
// ephemeral with it and firing the watch on it; not at once, and not late.
func TestAbandonedSessionExpiresAfterRestart(t *testing.T) {
	eachServer(t, func(t *testing.T, srv *zktest.Server) {
		const timeout = 6 * time.Second
		owner, err := wire.Dial(srv.Addr, int32(timeout/time.Millisecond))
		if err != nil {
			t.Fatal(err)
		}
		if got := time.Duration(owner.Session.TimeOut) * time.Millisecond; got != timeout {
			t.Fatalf("negotiated %v, want %v", got, timeout)
		}
		mustCall(t, owner, jute.OpCreate, createBody("/abandoned", 1), jute.CodeOK)
		owner.Close() // the client is gone for good

		begin := time.Now()
		srv.Restart(t)
		restarted := time.Now()
		w, err := wire.Dial(srv.Addr, 30000)
		if err != nil {
			t.Fatal(err)
		}
		defer w.Close()
		w.Timeout = 30 * time.Second
		r, err := w.Call(jute.OpExists, (&jute.PathWatchRequest{Path: "/abandoned", Watch: true}).Append(nil))
		switch {
		case err != nil:
			t.Fatal(err)
		case r.Header.Err == jute.CodeNoNode && time.Since(begin) >= timeout-2*time.Second:
			// A loaded machine can take longer than the timeout to restart
			// (ZooKeeper's JVM has been seen to): the session's clock ran
			// meanwhile, and it expired as it should.
			t.Logf("%s: the restart took %v, longer than the session's timeout, which expired meanwhile", srv.Name, time.Since(begin).Round(100*time.Millisecond))
			return
		case r.Header.Err != jute.CodeOK:
			t.Fatalf("exists /abandoned %v after the restart began: %v, want OK", time.Since(begin).Round(100*time.Millisecond), r.Header.Err)
		}
		for len(w.Events) == 0 {
			// Pings keep W's own session alive; the event may come with any reply.
			if _, err := w.Call(jute.OpExists, (&jute.PathWatchRequest{Path: "/"}).Append(nil)); err != nil {
				t.Fatal(err)
			}
			if time.Since(restarted) > 4*timeout {
				t.Fatalf("the restored session's ephemeral is still there %v after the restart", time.Since(restarted))
			}
			time.Sleep(50 * time.Millisecond)
		}
		elapsed := time.Since(restarted)
		if ev := w.Events[0]; ev.Type != jute.EventNodeDeleted || ev.Path != "/abandoned" {
			t.Fatalf("event %+v", ev)
		}
		// The session must live its timeout after the restart: the session
		// tracker starts the clock while loading, a little before the server
		// serves, and expiry rounds up to the next tick (2 s). How much later
		// it goes depends on the machine's speed, and is only logged (the
		// loop above bounds the wait).
		if elapsed < timeout-2*time.Second {
			t.Fatalf("the ephemeral went %v after the restart, before the %v session's timeout", elapsed, timeout)
		}
		t.Logf("%s: the abandoned session expired %v after the restart", srv.Name, elapsed.Round(100*time.Millisecond))
	})
}

// TestSetWatchesReplayAcrossRestart: a client that set watches before the
// server restarted reconnects to its session and sends SetWatches with the
// last zxid it saw; changes made after the restart fire at once, each
// watch once, as they would have without the restart.
func TestSetWatchesReplayAcrossRestart(t *testing.T) {
	eachServer(t, func(t *testing.T, srv *zktest.Server) {
		a, err := wire.Dial(srv.Addr, 30000)
		if err != nil {
			t.Fatal(err)
		}
		mustCall(t, a, jute.OpCreate, createBody("/data", 0), jute.CodeOK)
		mustCall(t, a, jute.OpCreate, createBody("/parent", 0), jute.CodeOK)
		mustCall(t, a, jute.OpGetData, (&jute.PathWatchRequest{Path: "/data", Watch: true}).Append(nil), jute.CodeOK)
		mustCall(t, a, jute.OpGetChildren, (&jute.PathWatchRequest{Path: "/parent", Watch: true}).Append(nil), jute.CodeOK)
		r := mustCall(t, a, jute.OpExists, (&jute.PathWatchRequest{Path: "/later", Watch: true}).Append(nil), jute.CodeNoNode)
		lastZxid := r.Header.Zxid
		a.Close()

		srv.Restart(t)
		b, err := wire.Dial(srv.Addr, 30000)
		if err != nil {
			t.Fatal(err)
		}
		defer b.Close()
		mustCall(t, b, jute.OpSetData, (&jute.SetDataRequest{Path: "/data", Data: []byte("new"), Version: -1}).Append(nil), jute.CodeOK)
		mustCall(t, b, jute.OpCreate, createBody("/parent/child", 0), jute.CodeOK)
		mustCall(t, b, jute.OpCreate, createBody("/later", 0), jute.CodeOK)

		a2, err := wire.DialSession(srv.Addr, jute.ConnectRequest{TimeOut: 30000, SessionID: a.Session.SessionID,
			Passwd: a.Session.Passwd, LastZxidSeen: lastZxid, HasReadOnly: true})
		if err != nil || a2.Session.TimeOut <= 0 {
			t.Fatalf("the session did not survive the restart: %+v %v", a2, err)
		}
		defer a2.Close()
		sw := jute.SetWatches{RelativeZxid: lastZxid, DataWatches: []string{"/data"},
			ExistWatches: []string{"/later"}, ChildWatches: []string{"/parent"}}
		if err := a2.SendXid(jute.XidSetWatches, jute.OpSetWatches, sw.AppendSetWatches(nil, false)); err != nil {
			t.Fatal(err)
		}
		if r, err := a2.Recv(); err != nil || r.Header.Xid != jute.XidSetWatches || r.Header.Err != jute.CodeOK {
			t.Fatalf("setWatches: %+v %v", r.Header, err)
		}
		// Another change to each: the watches fired already, so no more
		// events may come.
		mustCall(t, b, jute.OpSetData, (&jute.SetDataRequest{Path: "/data", Data: []byte("again"), Version: -1}).Append(nil), jute.CodeOK)
		mustCall(t, b, jute.OpCreate, createBody("/parent/child2", 0), jute.CodeOK)
		mustCall(t, a2, jute.OpExists, (&jute.PathWatchRequest{Path: "/"}).Append(nil), jute.CodeOK)
		got := map[string]int32{}
		for _, ev := range a2.Events {
			if _, dup := got[ev.Path]; dup {
				t.Fatalf("a second event for %s: %+v", ev.Path, a2.Events)
			}
			got[ev.Path] = ev.Type
		}
		want := map[string]int32{"/data": jute.EventNodeDataChanged, "/parent": jute.EventNodeChildrenChanged, "/later": jute.EventNodeCreated}
		if len(got) != len(want) {
			t.Fatalf("events after SetWatches: %+v, want %v", a2.Events, want)
		}
		for p, typ := range want {
			if got[p] != typ {
				t.Fatalf("events after SetWatches: %+v, want %v", a2.Events, want)
			}
		}
	})
}
