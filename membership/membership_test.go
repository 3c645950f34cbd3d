package membership

import (
	"errors"
	"strings"
	"testing"
)

const three = "server.1=127.0.0.1:2888:3888:participant;0.0.0.0:2181\n" +
	"server.2=127.0.0.1:2889:3889:participant;0.0.0.0:2182\n" +
	"server.3=127.0.0.1:2890:3890:participant;0.0.0.0:2183\nversion=100000000"

// TestParseAndText reads /zookeeper/config's text and writes it back the
// same, ZooKeeper's spelling.
func TestParseAndText(t *testing.T) {
	c, err := Parse(three)
	if err != nil {
		t.Fatal(err)
	}
	if c.Version != 0x100000000 || len(c.Servers) != 3 || len(c.Voters()) != 3 {
		t.Fatalf("%+v", c)
	}
	if got := c.Text(); got != three {
		t.Fatalf("text\n%s\nwant\n%s", got, three)
	}
	for _, bad := range []string{"server.1=a", "version=zz", "server.1=a:1:2\nserver.1=a:3:4", "tickTime=2000", "x"} {
		if _, err := Parse(bad); err == nil {
			t.Errorf("Parse(%q) accepted", bad)
		}
	}
}

// TestNext computes memberships as ZooKeeper 3.8's leader does for a
// reconfig request.
func TestNext(t *testing.T) {
	cur, _ := Parse(three)
	str := func(s string) *string { return &s }
	for _, tc := range []struct {
		name string
		req  Request
		want string // the servers' lines, ";"-joined; "" for BADARGUMENTS, "marshalling" for MARSHALLINGERROR
	}{
		{"leave", Request{Leaving: "3"}, "server.1=127.0.0.1:2888:3888:participant;0.0.0.0:2181;server.2=127.0.0.1:2889:3889:participant;0.0.0.0:2182"},
		{"leave with spaces and empties", Request{Leaving: " 3 ,, "}, "server.1=127.0.0.1:2888:3888:participant;0.0.0.0:2181;server.2=127.0.0.1:2889:3889:participant;0.0.0.0:2182"},
		{"leave unknown", Request{Leaving: "9"}, strings.ReplaceAll(strings.TrimSuffix(three, "\nversion=100000000"), "\n", ";")},
		{"leave to one voter", Request{Leaving: "2,3"}, ""},
		{"leave not a number", Request{Leaving: "x"}, "marshalling"},
		{"join", Request{Joining: "server.4=127.0.0.1:2891:3891;2184"},
			strings.ReplaceAll(strings.TrimSuffix(three, "\nversion=100000000"), "\n", ";") + ";server.4=127.0.0.1:2891:3891:participant;0.0.0.0:2184"},
		{"join as observer replaces", Request{Joining: "server.3=127.0.0.1:2890:3890:observer;127.0.0.1:2183"},
			"server.1=127.0.0.1:2888:3888:participant;0.0.0.0:2181;server.2=127.0.0.1:2889:3889:participant;0.0.0.0:2182;server.3=127.0.0.1:2890:3890:observer;127.0.0.1:2183"},
		{"join without client port", Request{Joining: "server.4=127.0.0.1:2891:3891"}, ""},
		{"join on a taken address", Request{Joining: "server.4=127.0.0.1:2890:3999;2184"}, ""},
		{"join garbage", Request{Joining: "server.4=nonsense"}, ""},
		{"join and leave", Request{Joining: "server.4=127.0.0.1:2891:3891;2184", Leaving: "1"},
			"server.2=127.0.0.1:2889:3889:participant;0.0.0.0:2182;server.3=127.0.0.1:2890:3890:participant;0.0.0.0:2183;server.4=127.0.0.1:2891:3891:participant;0.0.0.0:2184"},
		{"new members", Request{NewMembers: str("server.1=127.0.0.1:2888:3888;2181,server.2=127.0.0.1:2889:3889;2182")},
			"server.1=127.0.0.1:2888:3888:participant;0.0.0.0:2181;server.2=127.0.0.1:2889:3889:participant;0.0.0.0:2182"},
		{"new members empty", Request{Joining: "server.4=127.0.0.1:2891:3891;2184", NewMembers: str("")}, ""},
		{"new members one voter", Request{NewMembers: str("server.1=127.0.0.1:2888:3888;2181,server.2=127.0.0.1:2889:3889:observer;2182")}, ""},
	} {
		next, err := Next(cur, tc.req, 2)
		var got string
		switch {
		case err == nil:
			got = strings.Join(next.Lines()[:len(next.Servers)], ";")
		case errors.Is(err, ErrMarshalling):
			got = "marshalling"
		case !errors.Is(err, ErrBadArguments):
			t.Errorf("%s: %v wraps neither error", tc.name, err)
		}
		if got != tc.want {
			t.Errorf("%s: got %q (%v)\nwant %q", tc.name, got, err, tc.want)
		}
	}
}
