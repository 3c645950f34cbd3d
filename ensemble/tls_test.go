package ensemble

import (
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/go-zookeeper/zk"

	"github.com/meerkat-zk/meerkat/internal/testcert"
	"github.com/meerkat-zk/meerkat/internal/zktest"
)

// quorumTLSLines writes a key store with a certificate of ca for loopback
// and a trust store of trusted under dir, and returns the zoo.cfg lines
// that run the quorum over TLS with them.
func quorumTLSLines(t *testing.T, dir string, ca, trusted *testcert.CA) []string {
	t.Helper()
	cert := ca.Issue(t, testcert.Spec{Subject: "CN=member,O=Meerkat", Hosts: []string{"127.0.0.1", "localhost"}})
	keyStore, trustStore := filepath.Join(dir, "quorum-key.p12"), filepath.Join(dir, "quorum-trust.pem")
	cert.WriteKeyStore(t, keyStore, testcert.PKCS12, "secret")
	trusted.WriteTrustStore(t, trustStore, testcert.PEM, "")
	return []string{"sslQuorum=true", "ssl.quorum.keyStore.location=" + keyStore, "ssl.quorum.keyStore.password=secret",
		"ssl.quorum.trustStore.location=" + trustStore}
}

// TestQuorumTLS runs an ensemble whose peers talk TLS only
// (sslQuorum=true): it elects, replicates and fails over; its peer port
// drops a plaintext peer; and a member whose certificate the others do not
// trust is kept out, while the two that trust each other serve.
func TestQuorumTLS(t *testing.T) {
	ca := testcert.NewCA(t, "quorum-ca")
	lines := quorumTLSLines(t, t.TempDir(), ca, ca)
	e := setup(t, zktest.EnsembleOptions{Options: zktest.Options{Extra: lines}})
	w := startWriters(t, e.ConnectString(), 3, 1800)
	w.waitFor(t, 100)
	lead := e.Leader(t)
	e.Members[lead].Kill()
	w.waitFor(t, w.count()+100)
	e.Members[lead].Restart(t)
	acked := w.finish()
	e.Leader(t)
	mustHaveEverywhere(t, e, acked)

	// A plaintext peer's hello gets no answer but the connection's end.
	c, err := net.DialTimeout("tcp", e.PeerAddr((lead+1)%3), time.Second)
	if err != nil {
		t.Fatal(err)
	}
	_ = c.SetDeadline(time.Now().Add(15 * time.Second))
	_, _ = c.Write([]byte{0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 1, 'j'})
	if n, err := io.ReadAll(c); len(n) > 0 && n[0] != 0x15 || err != nil {
		t.Errorf("a plaintext peer was answered %q (%v), want the connection closed (or a TLS alert)", n, err)
	}
	c.Close()

	// A member restarted with a certificate of a CA the others do not
	// trust is kept out, while the two that trust each other serve.
	rogue := testcert.NewCA(t, "rogue-ca")
	out := (lead + 1) % 3
	cfgPath := filepath.Join(e.Members[out].Dir, "zoo.cfg")
	cfg, err := os.ReadFile(cfgPath)
	if err != nil {
		t.Fatal(err)
	}
	rogueCfg := filepath.Join(t.TempDir(), "zoo.cfg")
	rogueLines := quorumTLSLines(t, filepath.Dir(rogueCfg), rogue, ca)
	if err := os.WriteFile(rogueCfg, []byte(strings.Join(append([]string{string(cfg)}, rogueLines...), "\n")+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	e.Members[out].Kill()
	cmd := exec.Command(zktest.MeerkatBinary(t), rogueCfg)
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	var trusted []string
	for i, m := range e.Members {
		if i != out {
			trusted = append(trusted, m.Addr)
		}
	}
	good := connect(t, strings.Join(trusted, ","), 10*time.Second)
	defer good.Close()
	if _, err := good.Create("/tls-after", nil, 0, zk.WorldACL(zk.PermAll)); err != nil {
		t.Fatalf("the two trusted members do not serve writes: %v", err)
	}
	time.Sleep(3 * time.Second)
	if srvr, _ := zktest.FourLetter(e.Members[out].Addr, "srvr"); !strings.Contains(srvr, "not currently serving") {
		t.Errorf("the untrusted member answers srvr with %q; it must have no leader", srvr)
	}
	if _, err := good.Create("/tls-after-2", nil, 0, zk.WorldACL(zk.PermAll)); err != nil {
		t.Errorf("the trusted members stopped serving writes: %v", err)
	}
}
