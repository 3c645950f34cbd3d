package shell

import (
	"testing"
	"time"

	"github.com/meerkat-zk/meerkat/jute"
)

// TestJavaDate checks times are written as Java's Date.toString writes
// them, named zones and zones without a name alike.
func TestJavaDate(t *testing.T) {
	berlin, err := time.LoadLocation("Europe/Berlin")
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		ms   int64
		loc  *time.Location
		want string
	}{
		{0, time.UTC, "Thu Jan 01 00:00:00 UTC 1970"},
		{1700000000123, time.UTC, "Tue Nov 14 22:13:20 UTC 2023"},
		{1700000000123, berlin, "Tue Nov 14 23:13:20 CET 2023"},
		{1690000000000, berlin, "Sat Jul 22 06:26:40 CEST 2023"},
		{0, time.FixedZone("", 5*3600+30*60), "Thu Jan 01 05:30:00 GMT+05:30 1970"},
		{0, time.FixedZone("-03", -3*3600), "Wed Dec 31 21:00:00 GMT-03:00 1969"},
	} {
		if got := javaDate(c.ms, c.loc); got != c.want {
			t.Errorf("javaDate(%d, %v) = %q, want %q", c.ms, c.loc, got, c.want)
		}
	}
}

// TestFormatACL checks getAcl's rendering of identities and permissions.
func TestFormatACL(t *testing.T) {
	a := jute.ACL{Perms: jute.PermRead | jute.PermAdmin, ID: jute.ID{Scheme: "digest", ID: "u:a,b%c"}}
	if got, want := formatACL(a), "'digest,'u:a%2Cb%25c\n: ra"; got != want {
		t.Errorf("formatACL = %q, want %q", got, want)
	}
}

// TestParseACL checks zkCli's ACL syntax and its warnings.
func TestParseACL(t *testing.T) {
	var warnings []string
	acl := parseACL("world:anyone:crx,ip:10.0.0.0/8:a,bad,", func(w string) { warnings = append(warnings, w) })
	want := []jute.ACL{
		{Perms: jute.PermCreate | jute.PermRead, ID: jute.ID{Scheme: "world", ID: "anyone"}},
		{Perms: jute.PermAdmin, ID: jute.ID{Scheme: "ip", ID: "10.0.0.0/8"}},
	}
	if len(acl) != 2 || acl[0] != want[0] || acl[1] != want[1] {
		t.Errorf("parseACL = %+v, want %+v", acl, want)
	}
	if len(warnings) != 2 || warnings[0] != "Unknown perm type: x" || warnings[1] != "bad does not have the form scheme:id:perm" {
		t.Errorf("warnings = %q", warnings)
	}
}

// TestClientConfig checks config -c's reduction of a dynamic configuration.
func TestClientConfig(t *testing.T) {
	cfg := "server.1=a:2888:3888:participant;127.0.0.1:2181\nserver.2=b:2888:3888;2182\nserver.3=c:2888:3888\nversion=100000000"
	if got, want := clientConfig(cfg), "100000000 127.0.0.1:2181,0.0.0.0:2182,"; got != want {
		t.Errorf("clientConfig = %q, want %q", got, want)
	}
	if got := clientConfig(""); got != " " {
		t.Errorf("clientConfig of nothing = %q, want %q", got, " ")
	}
}
