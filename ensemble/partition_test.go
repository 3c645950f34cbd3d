package ensemble

import (
	"strings"
	"testing"
	"time"

	"github.com/go-zookeeper/zk"

	"github.com/meerkat-zk/meerkat/internal/wire"
	"github.com/meerkat-zk/meerkat/internal/zktest"
	"github.com/meerkat-zk/meerkat/jute"
)

// TestPartitionedLeader cuts the leader off from the others without
// resetting a connection: the majority elects a leader and takes writes;
// the old leader, alone, stops serving (it drops its clients and takes no
// session); once healed it follows and has the majority's writes.
func TestPartitionedLeader(t *testing.T) {
	e := setup(t, zktest.EnsembleOptions{Proxied: true})
	lead := e.Leader(t)
	var rest []int
	var restAddrs []string
	for i, s := range e.Members {
		if i != lead {
			rest = append(rest, i)
			restAddrs = append(restAddrs, s.Addr)
		}
	}
	majority := connect(t, strings.Join(restAddrs, ","), 10*time.Second)
	cut := time.Now()
	e.Isolate(lead)
	eventually(t, "a write on the majority side", func() error {
		_, err := majority.Create("/w/majority", nil, 0, zk.WorldACL(zk.PermAll))
		if err == zk.ErrNodeExists {
			return nil
		}
		return err
	})
	t.Logf("the majority took a write %v after the leader was cut off", time.Since(cut).Round(time.Millisecond))
	if next := e.Leader(t, rest...); next == lead {
		t.Fatal("the cut-off member leads the majority")
	}
	// The old leader steps down and stops serving.
	eventually(t, "the cut-off member stops serving", func() error {
		if out, _ := zktest.FourLetter(e.Members[lead].Addr, "srvr"); !strings.Contains(out, "not currently serving") {
			return errString("srvr says " + out)
		}
		return nil
	})
	if c, err := wire.Dial(e.Members[lead].Addr, 10000); err == nil {
		c.Close()
		t.Fatal("the cut-off member set up a session")
	}
	if out, _ := zktest.FourLetter(e.Members[lead].Addr, "ruok"); out != "imok" {
		t.Fatalf("ruok on the cut-off member: %q", out)
	}
	e.Heal()
	e.Leader(t)
	mustHaveEverywhere(t, e, []string{"majority"})
}

type errString string

func (e errString) Error() string { return string(e) }

// TestSessionMovesWithItsClient: a client whose server dies reconnects to
// another within its session timeout and keeps its session, its
// ephemeral and its watch.
func TestSessionMovesWithItsClient(t *testing.T) {
	e := setup(t, zktest.EnsembleOptions{})
	c := connect(t, e.ConnectString(), 8*time.Second)
	sid := c.SessionID()
	if _, err := c.Create("/w/eph", []byte("mine"), zk.FlagEphemeral, zk.WorldACL(zk.PermAll)); err != nil {
		t.Fatal(err)
	}
	_, _, watch, err := c.GetW("/w/eph")
	if err != nil {
		t.Fatal(err)
	}
	var home int
	for i, s := range e.Members {
		if s.Addr == c.Server() {
			home = i
		}
	}
	e.Members[home].Kill()
	eventually(t, "the client on another server", func() error {
		if c.Server() == e.Members[home].Addr || c.State() != zk.StateHasSession {
			return errString("still reconnecting, state " + c.State().String())
		}
		_, err := c.Sync("/w")
		return err
	})
	if c.SessionID() != sid {
		t.Fatalf("the session changed from %x to %x", sid, c.SessionID())
	}
	data, _, err := c.Get("/w/eph")
	if err != nil || string(data) != "mine" {
		t.Fatalf("the ephemeral after the move: %q %v", data, err)
	}
	// The watch set on the dead server fires from the new one.
	other := connect(t, e.ConnectString(), 8*time.Second)
	if _, err := other.Set("/w/eph", []byte("changed"), -1); err != nil {
		t.Fatal(err)
	}
	select {
	case ev := <-watch:
		if ev.Type != zk.EventNodeDataChanged {
			t.Fatalf("watch event %+v", ev)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("the watch did not fire after the session moved")
	}
	e.Members[home].Restart(t)
}

// TestLaggingServerRefusesNewerClient: a member that has not applied what
// a client has seen refuses that client's session, as ZooKeeper does, and
// takes it once caught up.
func TestLaggingServerRefusesNewerClient(t *testing.T) {
	e := setup(t, zktest.EnsembleOptions{Proxied: true})
	lead := e.Leader(t)
	slow := (lead + 1) % len(e.Members)
	// Everything from the leader reaches the slow member 600 ms late: it
	// keeps its leader (heartbeats arrive) but lags.
	e.Link(lead, slow).Delay(600 * time.Millisecond)
	c, err := wire.Dial(e.Members[lead].Addr, 10000)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	r, err := c.Create("/w/new", nil, 0)
	if err != nil || r.Header.Err != jute.CodeOK {
		t.Fatalf("create: %v %v", err, r.Header.Err)
	}
	seen := r.Header.Zxid
	req := jute.ConnectRequest{TimeOut: 10000, Passwd: make([]byte, 16), LastZxidSeen: seen}
	if late, err := wire.DialSession(e.Members[slow].Addr, req); err == nil {
		late.Close()
		t.Fatalf("the lagging member took a client that has seen zxid %#x", seen)
	}
	e.Heal()
	eventually(t, "the caught-up member takes the client", func() error {
		late, err := wire.DialSession(e.Members[slow].Addr, req)
		if err == nil {
			late.Close()
		}
		return err
	})
}

// TestObserverServesAndDoesNotVote runs three voters and an observer: the
// observer takes sessions, reads and writes; with two voters down there is
// no quorum though the observer is up, and the observer drops its clients
// until a voter is back.
func TestObserverServesAndDoesNotVote(t *testing.T) {
	e := setup(t, zktest.EnsembleOptions{Voters: 3, Observers: 1})
	e.Leader(t)
	const observer = 3
	if mode := e.Mode(observer); mode != "observer" {
		t.Fatalf("the observer's mode is %q", mode)
	}
	c := connect(t, e.Members[observer].Addr, 10*time.Second)
	if _, err := c.Create("/w/obs", nil, 0, zk.WorldACL(zk.PermAll)); err != nil {
		t.Fatal(err)
	}
	lead := e.Leader(t)
	down := []int{lead, (lead + 1) % 3}
	for _, i := range down {
		e.Members[i].Kill()
	}
	eventually(t, "the observer stops serving without a quorum", func() error {
		if mode := e.Mode(observer); mode != "" {
			return errString("mode " + mode)
		}
		return nil
	})
	e.Members[down[0]].Restart(t)
	eventually(t, "the observer serves again", func() error {
		if mode := e.Mode(observer); mode != "observer" {
			return errString("mode " + mode)
		}
		return nil
	})
	e.Members[down[1]].Restart(t)
	mustHaveEverywhere(t, e, []string{"obs"})
}

// TestReadOnlyOnAPartitionedMember cuts a follower off (no connection
// reset) in an ensemble with readonlymode.enabled and local sessions: it
// turns read-only and serves read-only clients what it had, refusing
// writes with NOTREADONLY, while the majority goes on writing; once
// healed it drops its read-only clients, serves read-write again and has
// the majority's writes. (ZooKeeper's ensemble cannot run behind the
// test's proxies; readonly_test.go compares the same mode with ZooKeeper
// after killing two members.)
func TestReadOnlyOnAPartitionedMember(t *testing.T) {
	e := setup(t, zktest.EnsembleOptions{Proxied: true,
		Options: zktest.Options{Extra: []string{"readonlymode.enabled=true", "localSessionsEnabled=true"}}})
	lead := e.Leader(t)
	cut := (lead + 1) % 3
	var majorityAddrs []string
	for i, s := range e.Members {
		if i != cut {
			majorityAddrs = append(majorityAddrs, s.Addr)
		}
	}
	majority := connect(t, strings.Join(majorityAddrs, ","), 10*time.Second)
	if _, err := majority.Create("/w/before", []byte("b"), 0, zk.WorldACL(zk.PermAll)); err != nil {
		t.Fatal(err)
	}
	eventually(t, "the follower has the first write", func() error {
		if children(t, e, cut, "/w")["before"] {
			return nil
		}
		return errString("not yet")
	})
	e.Isolate(cut)
	eventually(t, "the cut-off follower turns read-only", func() error {
		if out, _ := zktest.FourLetter(e.Members[cut].Addr, "isro"); out != "ro" {
			return errString("isro says " + out)
		}
		return nil
	})
	if _, err := majority.Create("/w/majority", nil, 0, zk.WorldACL(zk.PermAll)); err != nil {
		t.Fatalf("the majority's write while a follower is cut off: %v", err)
	}
	ro := openSession(t, e.Members[cut].Addr, true)
	if !ro.Session.ReadOnly {
		t.Fatal("the read-only member's ConnectResponse does not say read-only")
	}
	if r, err := ro.GetData("/w/before", false); err != nil || r.Header.Err != jute.CodeOK {
		t.Fatalf("a read on the read-only member: %v %v", err, r.Header.Err)
	}
	if r, err := ro.Create("/w/minority", nil, 0); err != nil || r.Header.Err != jute.CodeNotReadOnly {
		t.Fatalf("a write on the read-only member: %v %v, want NOTREADONLY", err, r.Header.Err)
	}
	if _, err := handshake(t, e.Members[cut].Addr, 10000, 0, nil, false); err == nil {
		t.Fatal("the read-only member took a read-write client")
	}
	e.Heal()
	eventually(t, "the healed member serves read-write", func() error {
		if out, _ := zktest.FourLetter(e.Members[cut].Addr, "isro"); out != "rw" {
			return errString("isro says " + out)
		}
		return nil
	})
	if _, err := ro.GetData("/w/before", false); err == nil {
		t.Fatal("a read-only session outlived its member's read-only mode")
	}
	mustHaveEverywhere(t, e, []string{"before", "majority"})
}
