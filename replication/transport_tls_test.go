package replication

import (
	"path/filepath"
	"testing"
	"time"

	"github.com/meerkat-zk/meerkat/internal/testcert"
	"github.com/meerkat-zk/meerkat/zktls"
)

// peerTLS writes a member's key store (a certificate of ca for hosts) and
// ca's trust store, and returns the member's TLS context.
func peerTLS(t *testing.T, ca, trusted *testcert.CA, name string, hosts []string, verifyHosts bool) *zktls.Context {
	t.Helper()
	dir := t.TempDir()
	cert := ca.Issue(t, testcert.Spec{Subject: "CN=" + name, Hosts: hosts})
	s := zktls.DefaultSettings()
	s.KeyStore = zktls.Store{Location: filepath.Join(dir, "key.p12"), Password: "pw"}
	s.TrustStore = zktls.Store{Location: filepath.Join(dir, "trust.pem")}
	s.HostnameVerification = verifyHosts
	cert.WriteKeyStore(t, s.KeyStore.Location, testcert.PKCS12, "pw")
	trusted.WriteTrustStore(t, s.TrustStore.Location, testcert.PEM, "")
	ctx, err := zktls.NewContext(s, quiet)
	if err != nil {
		t.Fatal(err)
	}
	return ctx
}

// tlsPair starts member 2 with tls2, and member 1 with tls1 sending to it;
// it returns a channel of what member 2 receives from member 1.
func tlsPair(t *testing.T, tls1, tls2 *zktls.Context) (*Transport, <-chan string) {
	t.Helper()
	got := make(chan string, 16)
	receiver, err := NewTransport(TransportConfig{ID: 2, Listen: "127.0.0.1:0", TLS: tls2, Logger: quiet,
		ReceiveApp: func(from uint64, data []byte) { got <- string(data) }})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = receiver.Close() })
	sender, err := NewTransport(TransportConfig{ID: 1, Listen: "127.0.0.1:0", TLS: tls1, Logger: quiet,
		Peers: map[uint64]string{2: receiver.Addr().String()}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = sender.Close() })
	receiver.AddPeer(1, sender.Addr().String())
	return sender, got
}

// received reports whether want arrives within d; the sender repeats it,
// as a reconnecting transport would carry it once the link is up.
func received(sender *Transport, got <-chan string, want string, d time.Duration) bool {
	deadline := time.After(d)
	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
	sender.SendApp(2, []byte(want))
	for {
		select {
		case m := <-got:
			if m == want {
				return true
			}
		case <-tick.C:
			sender.SendApp(2, []byte(want))
		case <-deadline:
			return false
		}
	}
}

// Peers with certificates of the trusted CA that name their address talk
// over TLS; a peer whose certificate another CA issued, or whose
// certificate does not name its address while hostnames are verified, is
// not heard.
func TestTransportTLS(t *testing.T) {
	ca := testcert.NewCA(t, "quorum-ca")
	rogue := testcert.NewCA(t, "rogue-ca")
	loopback := []string{"127.0.0.1", "localhost"}
	good := func(name string) *zktls.Context { return peerTLS(t, ca, ca, name, loopback, true) }

	sender, got := tlsPair(t, good("one"), good("two"))
	if !received(sender, got, "hello over TLS", 10*time.Second) {
		t.Fatal("a message between trusted peers did not arrive")
	}
	sender, got = tlsPair(t, peerTLS(t, rogue, ca, "rogue", loopback, true), good("two"))
	if received(sender, got, "from a rogue", 2*time.Second) {
		t.Error("a peer with an untrusted certificate was heard")
	}
	sender, got = tlsPair(t, peerTLS(t, ca, ca, "elsewhere", []string{"10.1.2.3"}, true), good("two"))
	if received(sender, got, "from the wrong host", 2*time.Second) {
		t.Error("a peer whose certificate does not name its address was heard with hostname verification on")
	}
	sender, got = tlsPair(t, peerTLS(t, ca, ca, "elsewhere", []string{"10.1.2.3"}, false), peerTLS(t, ca, ca, "two", []string{"10.9.9.9"}, false))
	if !received(sender, got, "names not checked", 10*time.Second) {
		t.Error("with hostname verification off, trusted peers whose certificates name other hosts were not heard")
	}
	sender, got = tlsPair(t, nil, good("two"))
	if received(sender, got, "in plaintext", 2*time.Second) {
		t.Error("a plaintext peer was heard on a TLS peer port")
	}
}
