package membership

import (
	"errors"
	"testing"
)

// FuzzParse feeds the membership parsers what reaches them from a client
// (a reconfig request's joining, leaving and newMembers lists), from the
// leader (its verdict's membership) and from disk (/zookeeper/config in a
// snapshot or checkpoint). It proves that a membership that parses prints
// as text that parses to the same text, and that a reconfig request is
// refused with ZooKeeper's errors or gives a membership that prints and
// parses the same way, with enough voters.
func FuzzParse(f *testing.F) {
	f.Add(three, "server.4=127.0.0.1:2891:3891:participant;2184", "1")
	f.Add("server.1=[::1]:2888:3888:observer;[::1]:2181\nversion=1c", "server.5=h:1:2;0.0.0.0:3", "2, 3")
	f.Add("server.2=a:1:2\n\nversion=0", "", "x")
	cur, err := Parse(three)
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, text, joining, leaving string) {
		if c, err := Parse(text); err == nil {
			fixpoint(t, c)
		}
		for _, req := range []Request{{Joining: joining, Leaving: leaving}, {NewMembers: &text}} {
			next, err := Next(cur, req, 2)
			if err != nil {
				if !errors.Is(err, ErrBadArguments) && !errors.Is(err, ErrMarshalling) {
					t.Fatalf("%+v: %v is not a ZooKeeper error", req, err)
				}
				continue
			}
			if len(next.Voters()) < 2 {
				t.Fatalf("%+v gave %d voters", req, len(next.Voters()))
			}
			fixpoint(t, next)
		}
	})
}

// fixpoint checks that c prints as text that parses and prints the same.
func fixpoint(t *testing.T, c Config) {
	t.Helper()
	text := c.Text()
	back, err := Parse(text)
	if err != nil {
		t.Fatalf("%+v prints as %q, which does not parse: %v", c, text, err)
	}
	if again := back.Text(); again != text {
		t.Fatalf("%q parses and prints as %q", text, again)
	}
}
