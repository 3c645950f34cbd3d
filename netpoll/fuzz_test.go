package netpoll

import (
	"log/slog"
	"net"
	"os"
	"testing"
	"time"

	"github.com/meerkat-zk/meerkat/internal/wire"
	"github.com/meerkat-zk/meerkat/jute"
	"github.com/meerkat-zk/meerkat/pipeline"
	"golang.org/x/sys/unix"
)

// FuzzServerFrames sends arbitrary bytes on a new connection, behind a
// ConnectRequest (a client that pipelines its first requests behind the
// handshake) or instead of one, and checks the server survives and keeps
// serving another client. The connection is one end of a socket pair that
// the server's loops adopt as if they had accepted it: everything from the
// first byte read on is the path a TCP client takes, without the cost of a
// TCP handshake for every execution. The session a run opens expires at the
// shortest timeout the server grants.
func FuzzServerFrames(f *testing.F) {
	stream, _ := requestStream()
	// stream starts with a ConnectRequest of 30 bytes.
	f.Add(stream, false)
	f.Add(stream[30:], true)
	f.Add([]byte{0, 0, 0, 8, 0, 0, 0, 1, 0, 0, 0, 14}, true)
	f.Add([]byte("ruok"), false)
	// Quiet: a line logged for every malformed connection would cost more
	// than the run.
	srv, _ := startServerWith(f, pipeline.Config{ServerID: 1, Tick: 200 * time.Millisecond}, func(c *Config) {
		c.MaxBuffer = 1 << 16
		c.Logger = slog.New(slog.DiscardHandler)
	})
	healthy, err := wire.Dial(srv.Addr().String(), 30000)
	if err != nil {
		f.Fatal(err)
	}
	defer healthy.Close()
	connect := wire.Frame((&jute.ConnectRequest{TimeOut: 1, Passwd: make([]byte, 16), HasReadOnly: true}).Append(nil))
	remote := &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 1}
	f.Fuzz(func(t *testing.T, in []byte, afterHandshake bool) {
		client := adoptedPair(t, srv, remote)
		defer client.Close()
		if afterHandshake {
			in = append(connect[:len(connect):len(connect)], in...)
		}
		// A server that stops reading (it closed the connection, or holds
		// it back) is not a failure; one that stops serving the healthy
		// client is.
		_ = client.SetWriteDeadline(time.Now().Add(5 * time.Second))
		_, _ = client.Write(in)
		if _, err := healthy.Call(jute.OpPing, nil); err != nil {
			t.Fatalf("server stopped serving after %x: %v", in, err)
		}
	})
}

// adoptedPair makes a connected socket pair, gives one end to srv as a
// client's connection from remote, and returns the other.
func adoptedPair(t *testing.T, srv *Server, remote *net.TCPAddr) net.Conn {
	fds, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	if err := unix.SetNonblock(fds[0], true); err != nil {
		unix.Close(fds[0])
		unix.Close(fds[1])
		t.Fatal(err)
	}
	if err := srv.rs.Adopt(fds[0], remote, nil, nil); err != nil {
		unix.Close(fds[1])
		t.Fatal(err)
	}
	file := os.NewFile(uintptr(fds[1]), "fuzz client")
	defer file.Close()
	c, err := net.FileConn(file)
	if err != nil {
		t.Fatal(err)
	}
	return c
}
