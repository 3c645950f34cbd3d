package replication

import (
	"fmt"
	"net"
	"path/filepath"
	"slices"
	"sync"
	"testing"
	"time"

	"go.etcd.io/raft/v3"
	pb "go.etcd.io/raft/v3/raftpb"

	"github.com/meerkat-zk/meerkat/pipeline"
	"github.com/meerkat-zk/meerkat/wal"
)

// tcpMember is a Node with its transport on loopback and what it applied.
type tcpMember struct {
	node    *Node
	tr      *Transport
	storage *Storage
	mu      sync.Mutex
	applied []string
	app     []string
}

// The tcpMember is its node's Applier: it keeps the payloads applied and
// the application messages received.
func (m *tcpMember) Committed(ents []pipeline.LogEntry) {
	m.mu.Lock()
	defer m.mu.Unlock()
	for _, e := range ents {
		if !e.Config && len(e.Data) > 0 {
			m.applied = append(m.applied, string(e.Data))
		}
	}
}
func (m *tcpMember) LeaderChanged(uint64, uint64) {}
func (m *tcpMember) ReadIndexDone(uint64, uint64) {}
func (m *tcpMember) PeerLost(uint64)              {}
func (m *tcpMember) Received(from uint64, msg []byte) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.app = append(m.app, fmt.Sprintf("%d:%s", from, msg))
}

func (m *tcpMember) appliedNow() []string {
	m.mu.Lock()
	defer m.mu.Unlock()
	return slices.Clone(m.applied)
}

func (m *tcpMember) appNow() []string {
	m.mu.Lock()
	defer m.mu.Unlock()
	return slices.Clone(m.app)
}

func (m *tcpMember) stop() {
	_ = m.node.Stop()
	_ = m.tr.Close()
	_ = m.storage.Close()
}

// startTCPEnsemble starts three members on loopback with 10 ms ticks.
func startTCPEnsemble(t *testing.T) map[uint64]*tcpMember {
	t.Helper()
	ids := []uint64{1, 2, 3}
	// Every transport listens on a free port first; the nodes start; then
	// each transport learns the others' addresses.
	members := map[uint64]*tcpMember{}
	for _, id := range ids {
		m := &tcpMember{}
		members[id] = m
		tr, err := NewTransport(TransportConfig{ID: id, Listen: "127.0.0.1:0", Logger: quiet,
			Receive:      func(msg *pb.Message) { m.node.Deliver(msg) },
			ReceiveApp:   func(from uint64, data []byte) { m.node.DeliverApp(from, data) },
			Unreachable:  func(peer uint64) { m.node.ReportUnreachable(peer) },
			Disconnected: func(peer uint64) { m.node.Disconnected(peer) }})
		if err != nil {
			t.Fatal(err)
		}
		m.tr = tr
	}
	dir := t.TempDir()
	for _, id := range ids {
		m := members[id]
		s, err := OpenStorage(filepath.Join(dir, fmt.Sprint(id)), wal.Options{SegmentSize: 1 << 20, NoSync: true, Logger: quiet, OnSyncError: func(err error) { t.Error(err) }},
			&pb.ConfState{Voters: ids})
		if err != nil {
			t.Fatal(err)
		}
		m.storage = s
		m.node, err = StartNode(NodeConfig{ID: id, Storage: s, Transport: m.tr, Tick: 10 * time.Millisecond, Logger: quiet, Applier: m})
		if err != nil {
			t.Fatal(err)
		}
	}
	// Peers last: a message can only arrive once every node exists.
	for id, m := range members {
		for other, o := range members {
			if other != id {
				m.tr.AddPeer(other, o.tr.Addr().String())
			}
		}
	}
	t.Cleanup(func() {
		for _, m := range members {
			m.stop()
		}
	})
	return members
}

// waitLeader polls the members until they agree on a leader among them.
func waitLeader(t *testing.T, members map[uint64]*tcpMember) uint64 {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for time.Now().Before(deadline) {
		var lead uint64
		agreed := true
		for id, m := range members {
			st, err := m.node.Status()
			if err != nil {
				t.Fatal(err)
			}
			if st.RaftState == raft.StateLeader {
				lead = id
			}
			if st.Lead == 0 || lead != 0 && st.Lead != lead {
				agreed = false
			}
		}
		if lead != 0 && agreed {
			return lead
		}
		time.Sleep(5 * time.Millisecond)
	}
	t.Fatal("no leader the members agree on within 20 s")
	return 0
}

func waitApplied(t *testing.T, members map[uint64]*tcpMember, want []string) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for id, m := range members {
		for !slices.Equal(m.appliedNow(), want) {
			if time.Now().After(deadline) {
				t.Fatalf("member %d applied %q, want %q", id, m.appliedNow(), want)
			}
			time.Sleep(5 * time.Millisecond)
		}
	}
}

// TestEnsembleOverTCP runs three nodes over loopback TCP: they elect a
// leader and replicate in order; when the leader stops, the other two
// elect another and go on.
func TestEnsembleOverTCP(t *testing.T) {
	members := startTCPEnsemble(t)
	lead := waitLeader(t, members)
	for i := 0; i < 20; i++ {
		members[lead].node.Propose([]byte(fmt.Sprint("a", i)))
	}
	waitApplied(t, members, seq("a", 0, 20))
	// Application messages travel beside raft's.
	for id, m := range members {
		m.node.Send(id%3+1, []byte("hello"))
	}
	deadline := time.Now().Add(10 * time.Second)
	for id, m := range members {
		from := (id+1)%3 + 1
		for !slices.Equal(m.appNow(), []string{fmt.Sprintf("%d:hello", from)}) {
			if time.Now().After(deadline) {
				t.Fatalf("member %d received %q", id, m.appNow())
			}
			time.Sleep(5 * time.Millisecond)
		}
	}

	members[lead].stop()
	rest := map[uint64]*tcpMember{}
	for id, m := range members {
		if id != lead {
			rest[id] = m
		}
	}
	next := waitLeader(t, rest)
	if next == lead {
		t.Fatal("the stopped leader is still leader")
	}
	rest[next].node.Propose([]byte("b"))
	waitApplied(t, rest, append(seq("a", 0, 20), "b"))
	delete(members, lead) // stopped already; the cleanup must not stop it twice
}

// TestTransportDropsGarbageFromUnknownPeers: a connection that does not
// start with a member's hello, or sends an unreadable frame, is closed;
// the transport goes on.
func TestTransportDropsGarbageFromUnknownPeers(t *testing.T) {
	got := make(chan *pb.Message, 1)
	tr, err := NewTransport(TransportConfig{ID: 1, Listen: "127.0.0.1:0", Peers: map[uint64]string{2: "127.0.0.1:1"}, Logger: quiet,
		Receive: func(m *pb.Message) { got <- m }})
	if err != nil {
		t.Fatal(err)
	}
	defer tr.Close()
	for _, garbage := range [][]byte{
		{0, 0, 0, 0, 0, 0, 0, 9, 0, 0, 0, 1, 'x'},              // hello from an unknown member
		{0, 0, 0, 0, 0, 0, 0, 2, 0x7f, 0xff, 0xff, 0xff},       // a frame too large
		{0, 0, 0, 0, 0, 0, 0, 2, 0, 0, 0, 3, 0xff, 0xff, 0xff}, // not a message
	} {
		c, err := dialTCP(tr.Addr().String())
		if err != nil {
			t.Fatal(err)
		}
		_, _ = c.Write(garbage)
		_ = c.SetReadDeadline(time.Now().Add(5 * time.Second))
		if _, err := c.Read(make([]byte, 1)); err == nil {
			t.Fatalf("%x: the connection stayed open", garbage)
		}
		c.Close()
	}
	// A real member's message still gets through.
	c, err := dialTCP(tr.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	frame, _ := appendFrame(nil, &pb.Message{From: new(uint64(2)), To: new(uint64(1)), Type: pb.MsgHeartbeat.Enum()})
	_, _ = c.Write(append([]byte{0, 0, 0, 0, 0, 0, 0, 2}, frame...))
	select {
	case m := <-got:
		if m.GetFrom() != 2 || m.GetType() != pb.MsgHeartbeat {
			t.Fatalf("received %v", m)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("a member's message did not arrive")
	}
}

func dialTCP(addr string) (net.Conn, error) { return net.DialTimeout("tcp", addr, 5*time.Second) }
