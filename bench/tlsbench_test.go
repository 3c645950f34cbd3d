package bench

import (
	"crypto/tls"
	"crypto/x509"
	"os"
	"strings"
	"testing"
	"time"
)

// testPKI makes the TLS scenario's certificates under a test directory,
// and the TLS configuration of a fake server that, as ZooKeeper's and
// Meerkat's defaults do, speaks TLS 1.2 only and requires a client
// certificate of the CA.
func testPKI(t *testing.T) (*pki, *tls.Config) {
	t.Helper()
	var p *pki
	if err := guard(func() error { p = newPKI(&runnerTB{}, t.TempDir()); return nil }); err != nil {
		t.Fatal(err)
	}
	cert, err := tls.LoadX509KeyPair(p.keyStore, p.keyStore)
	if err != nil {
		t.Fatal(err)
	}
	ca, err := os.ReadFile(p.trustStore)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(ca) {
		t.Fatal("no CA certificate in the trust store")
	}
	return p, &tls.Config{Certificates: []tls.Certificate{cert}, ClientCAs: pool,
		ClientAuth: tls.RequireAndVerifyClientCert, MaxVersion: tls.VersionTLS12}
}

// TestLoadOverTLS drives a TLS fake server in closed and open loop: every
// request must be answered and checked as over plaintext, with the
// negotiated protocol reported; a client without a certificate is refused.
func TestLoadOverTLS(t *testing.T) {
	p, srvTLS := testPKI(t)
	fake := listenFake(t, &fakeServer{valueSize: 32, tls: srvTLS})
	const conns, budget = 3, 200
	res, err := Load(Options{Addr: fake.addr(), TLS: p.client, Conns: conns, Depth: 8, Duration: time.Minute, MaxRequests: budget}, readStreams())
	if err != nil {
		t.Fatal(err)
	}
	if res.Failures() != 0 || res.Ops != conns*budget || fake.requests.Load() != conns*budget+conns {
		t.Errorf("closed loop: ops %d, requests seen %d, failures %d (%+v)", res.Ops, fake.requests.Load(), res.Failures(), res)
	}
	if !strings.HasPrefix(res.TLS, "TLS 1.2 TLS_ECDHE_ECDSA_") {
		t.Errorf("negotiated %q, want TLS 1.2 with an ECDHE-ECDSA suite", res.TLS)
	}
	res, err = Load(Options{Addr: fake.addr(), TLS: p.client, Conns: 2, Depth: 64, Rate: 1e6, Duration: time.Minute, MaxRequests: 20}, readStreams())
	if err != nil {
		t.Fatal(err)
	}
	if res.Failures() != 0 || res.Ops != 40 {
		t.Errorf("open loop: ops %d, want 40; failures %d (%+v)", res.Ops, res.Failures(), res)
	}
	anonymous := p.client.Clone()
	anonymous.Certificates = nil
	if _, err := Load(Options{Addr: fake.addr(), TLS: anonymous, Conns: 1, Depth: 1, Duration: time.Minute, MaxRequests: 1}, readStreams()); err == nil {
		t.Error("a client without a certificate was served")
	}
}

// TestClientTLSFromFiles loads a generator's TLS configuration from a PEM
// key store (key and chain in one file) and a CA file, as meerkat-bench
// load's -tls flags do, and creates the hot set over it.
func TestClientTLSFromFiles(t *testing.T) {
	p, srvTLS := testPKI(t)
	fake := listenFake(t, &fakeServer{valueSize: 0, tls: srvTLS})
	tc, err := ClientTLS(p.keyStore, "", p.trustStore, "")
	if err != nil {
		t.Fatal(err)
	}
	if err := CreateHotSetTLS(fake.addr(), tc, 50, 8, time.Minute); err != nil {
		t.Fatal(err)
	}
	if _, err := ClientTLS("", "key.pem", "", ""); err == nil {
		t.Error("a key without a certificate was taken")
	}
}

// TestTLSSection renders the TLS section from made-up runs: the ratios
// per server and between the servers, the negotiated protocol, and
// ZooKeeper's NIO figure from the request scenarios beside its Netty one.
func TestTLSSection(t *testing.T) {
	rep := &Report{Command: "meerkat-bench -only tls", Settings: Settings{Conns: 64, Depth: 8, Warmup: "1s", Duration: "3s", TLS: tlsSetup}}
	c := &Config{Conns: 64, Depth: 8, Writers: []int{1, 8, 64}}
	_, wl := c.tlsWriteLoad()
	add := func(sc, label, sys string, ops float64, negotiated string) {
		rep.Runs = append(rep.Runs, Run{Scenario: sc, Label: label, System: sys, Load: &Result{Throughput: ops, TLS: negotiated}})
	}
	add(ScGetData, c.headLabel(), ZooKeeper, 50000, "")
	add(ScSetData, wl, ZooKeeper, 20000, "")
	for _, r := range []struct {
		sys                  string
		get, getTLS, set, st float64
	}{{ZooKeeper, 40000, 20000, 10000, 8000}, {Meerkat, 400000, 200000, 40000, 32000}} {
		add(ScTLSGetData, tlsLabel(Plaintext, c.headLabel()), r.sys, r.get, "")
		add(ScTLSGetData, tlsLabel(TLS, c.headLabel()), r.sys, r.getTLS, "TLS 1.2 X")
		add(ScTLSSetData, tlsLabel(Plaintext, wl), r.sys, r.set, "")
		add(ScTLSSetData, tlsLabel(TLS, wl), r.sys, r.st, "TLS 1.2 X")
	}
	var b strings.Builder
	tlsSection(rep, &b)
	md := b.String()
	for _, want := range []string{
		"| getData conns=64 depth=8 | ZooKeeper (Netty) | 40,000 | 20,000 | 0.50× |",
		"| getData conns=64 depth=8 | Meerkat | 400,000 | 200,000 | 0.50× |",
		"| setData writers=64 depth=1 | Meerkat | 40,000 | 32,000 | 0.80× |",
		"| getData conns=64 depth=8 | 10.00× | 10.00× |",
		"| setData writers=64 depth=1 | 4.00× | 4.00× |",
		"ZooKeeper (Netty) TLS 1.2 X; Meerkat TLS 1.2 X",
		"getData conns=64 depth=8 50,000 ops/s (Netty plaintext here: 0.80× that)",
		"setData writers=64 depth=1 20,000 ops/s (Netty plaintext here: 0.50× that)",
		"`meerkat-bench -only tls`",
	} {
		if !strings.Contains(md, want) {
			t.Errorf("TLS section lacks %q:\n%s", want, md)
		}
	}
}
