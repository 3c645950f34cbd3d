package zkauth

import (
	"os/exec"
	"strings"
	"testing"

	"github.com/meerkat-zk/meerkat/internal/zktest"
)

// TestDigestAgainstZooKeeper compares each algorithm's identities with
// what ZooKeeper 3.8's DigestAuthenticationProvider prints for them.
func TestDigestAgainstZooKeeper(t *testing.T) {
	java, err := exec.LookPath("java")
	if err != nil {
		t.Fatalf("java not found (make test installs it): %v", err)
	}
	inputs := []string{"user:password", "super:s3cr3t:with:colons", "ünï:cödé", "nocolon", ":"}
	for _, alg := range []string{"SHA1", "sha-256", "SHA256", "SHA3-256", "SHA-512", "MD5", "2.16.840.1.101.3.4.2.3", "oid.2.16.840.1.101.3.4.2.8", "SHA512/224"} {
		d, err := NewDigest(alg)
		if err != nil {
			t.Fatal(err)
		}
		args := append([]string{"-Dzookeeper.DigestAuthenticationProvider.digestAlg=" + alg,
			"-cp", zktest.ZooKeeperJar + ":/usr/share/java/slf4j-api.jar:/usr/share/java/slf4j-simple.jar",
			"org.apache.zookeeper.server.auth.DigestAuthenticationProvider"}, inputs...)
		out, err := exec.Command(java, args...).Output()
		if err != nil {
			t.Fatalf("%s: java: %v", alg, err)
		}
		lines := strings.Split(strings.TrimSpace(string(out)), "\n")
		if len(lines) != len(inputs) {
			t.Fatalf("%s: ZooKeeper printed %q", alg, out)
		}
		for i, in := range inputs {
			want := strings.TrimPrefix(lines[i], in+"->")
			if got := d.ID(in); got != want {
				t.Errorf("%s(%q) = %q, ZooKeeper %q", alg, in, got, want)
			}
		}
	}
	if _, err := NewDigest("SHA-999"); err == nil {
		t.Error("an unknown algorithm was accepted")
	}
	if (Digest{}).ID("a:b") != mustDigest(t, "SHA1").ID("a:b") {
		t.Error("the zero Digest does not hash with SHA1")
	}
}

func mustDigest(t *testing.T, alg string) Digest {
	d, err := NewDigest(alg)
	if err != nil {
		t.Fatal(err)
	}
	return d
}
