package tlstest

import (
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"github.com/meerkat-zk/meerkat/internal/testcert"
	"github.com/meerkat-zk/meerkat/internal/zktest"
)

// reloadWait bounds how long a server may take to serve a replaced key
// store's certificate.
const reloadWait = 15 * time.Second

// TestCertReload replaces the server's key store (PKCS12, its type set,
// the trust store PKCS12 too) with a new certificate, another subject and
// serial, while the server runs; new connections must get the new
// certificate within a few seconds, without a restart.
//
// Apache ZooKeeper 3.8 cannot do this: client.certReload came in 3.9, and
// 3.8.0's jar has no such key (X509Util.enableCertFileReloading is called
// for the quorum's sslQuorumReloadCertFiles only). The key is in both
// servers' zoo.cfg (ZooKeeper 3.8 accepts it and does nothing), and the
// reload check runs on Meerkat alone.
func TestCertReload(t *testing.T) {
	f := newFixture(t)
	// Each server has its own key store, written before either starts.
	keyStores, opts := map[string]string{}, map[string]zktest.Options{}
	for _, k := range serverKinds {
		name := "reload-" + k.name
		keyStores[k.name] = filepath.Join(f.dir, name, "server.p12store")
		opts[k.name] = f.options(t, name, serverTLS{cert: f.serverEC, keyStore: testcert.PKCS12, keyStoreFile: "server.p12store", keyStoreType: true,
			trustStore: testcert.PKCS12, trustStoreType: true, lines: []string{"client.certReload=true"}}, true)
	}
	renewed := f.ca.Issue(t, testcert.Spec{Subject: "CN=server-renewed,O=Meerkat Tests", Hosts: []string{"127.0.0.1", "localhost"}})
	checks := []check{
		{name: "server presents its key store's certificate (PKCS12, type set)", want: "the key store's",
			run: func(e *env) string { return e.tlsSession(e.alice, e.serverCert(e.serverEC)) }},
		{name: "new connections get the certificate of the replaced key store", want: "the renewed certificate", meerkatOnly: true,
			run: func(e *env) string {
				renewed.WriteKeyStore(e.t, keyStores[e.srv.Name], testcert.PKCS12, password)
				start := time.Now()
				var last string
				// At most reloadWait / 200 ms tries.
				for time.Since(start) < reloadWait {
					if last = e.tlsSession(e.alice, e.serverCert(renewed)); last == "the key store's" {
						e.note("reloaded after %v", time.Since(start).Round(100*time.Millisecond))
						return "the renewed certificate"
					}
					time.Sleep(200 * time.Millisecond)
				}
				return fmt.Sprintf("after %v: %s", reloadWait, last)
			}},
		{name: "whoAmI alice after the reload", want: "x509:" + f.aliceID + " ; ip:127.0.0.1",
			run: func(e *env) string { return e.tlsSession(e.alice, e.whoAmI) }},
	}
	sideBySide(t, f, func(server string) zktest.Options { return opts[server] }, checks)
}
