package reactor

import (
	"bytes"
	"errors"
	"net"
	"os"
	"testing"

	"golang.org/x/sys/unix"
)

// adoptPair gives s one end of a socketpair with Adopt, and returns the
// other end, the client's.
func adoptPair(t *testing.T, s *Server, remote *net.TCPAddr, peer any, codec Codec) net.Conn {
	t.Helper()
	fds, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_STREAM|unix.SOCK_NONBLOCK|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Adopt(fds[0], remote, peer, codec); err != nil {
		t.Fatal(err)
	}
	f := os.NewFile(uintptr(fds[1]), "client")
	client, err := net.FileConn(f)
	_ = f.Close()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { client.Close() })
	return client
}

// A socket given to Adopt is served like an accepted one, with the remote
// address and peer value it was given; a server that listens nowhere
// serves such sockets only.
func TestAdoptedConnectionIsServed(t *testing.T) {
	peers := make(chan any, 1)
	h := &handler{open: func(c *Conn) bool {
		peers <- [2]any{c.RemoteAddr(), c.Peer()}
		return true
	}}
	s, err := Listen(Config{Loops: 2}, h)
	if err != nil {
		t.Fatal(err)
	}
	if s.Addr() != nil {
		t.Fatalf("a server without an address listens on %v", s.Addr())
	}
	s.Start()
	t.Cleanup(func() { _ = s.Stop(t.Context()) })
	remote := &net.TCPAddr{IP: net.IPv4(10, 1, 2, 3), Port: 4567}
	client := adoptPair(t, s, remote, "the peer", nil)
	if got := <-peers; got != [2]any{net.Addr(remote), "the peer"} {
		t.Errorf("OnOpen saw %v", got)
	}
	msg := pattern(300 << 10)
	go func() { _, _ = client.Write(msg) }()
	if got := readN(t, client, len(msg)); !bytes.Equal(got, msg) {
		t.Fatal("the adopted connection's echo differs")
	}
}

// Handoff takes a connection out of its loop without closing the socket:
// the new owner reads on from where the handler stopped, and OnClose says
// the connection was handed off.
func TestHandoffGivesTheSocketAway(t *testing.T) {
	handed := make(chan *os.File, 1)
	closed := make(chan error, 1)
	s := serve(t, Config{}, &handler{
		read: func(c *Conn, in []byte) int {
			c.Handoff(func(f *os.File) { handed <- f })
			return len(in)
		},
		closed: func(_ *Conn, err error) { closed <- err },
	})
	c := dial(t, s)
	if _, err := c.Write([]byte("first")); err != nil {
		t.Fatal(err)
	}
	f := <-handed
	if err := <-closed; !errors.Is(err, ErrHandedOff) {
		t.Errorf("OnClose reported %v, want ErrHandedOff", err)
	}
	taken, err := net.FileConn(f)
	_ = f.Close()
	if err != nil {
		t.Fatal(err)
	}
	defer taken.Close()
	if _, err := c.Write([]byte("second")); err != nil {
		t.Fatal(err)
	}
	if got := readN(t, taken, len("second")); string(got) != "second" {
		t.Errorf("the new owner read %q", got)
	}
	if _, err := taken.Write([]byte("reply")); err != nil {
		t.Fatal(err)
	}
	if got := readN(t, c, len("reply")); string(got) != "reply" {
		t.Errorf("the client read %q", got)
	}
}

// upperCodec is a Codec that upper-cases what it reads and brackets what
// it writes, and says "bye" before a graceful close.
type upperCodec struct{}

func (upperCodec) Decode(raw []byte) (plain, reply []byte, eof bool, err error) {
	return bytes.ToUpper(raw), nil, false, nil
}
func (upperCodec) Encode(plain []byte) ([]byte, error) {
	return append(append([]byte("["), plain...), ']'), nil
}
func (upperCodec) CloseNotify() []byte { return []byte("bye") }

// An adopted connection's bytes go through its codec both ways, and a
// graceful close sends the codec's last words first.
func TestCodecBothWaysAndOnClose(t *testing.T) {
	s, err := Listen(Config{Loops: 1}, &handler{read: func(c *Conn, in []byte) int {
		c.Write(in)
		if bytes.Contains(in, []byte("QUIT")) {
			c.Close()
		}
		return len(in)
	}})
	if err != nil {
		t.Fatal(err)
	}
	s.Start()
	t.Cleanup(func() { _ = s.Stop(t.Context()) })
	client := adoptPair(t, s, &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1)}, nil, upperCodec{})
	if _, err := client.Write([]byte("hello quit")); err != nil {
		t.Fatal(err)
	}
	if got := string(readToEOF(t, client)); got != "[HELLO QUIT]bye" {
		t.Errorf("the client read %q, want %q", got, "[HELLO QUIT]bye")
	}
}
