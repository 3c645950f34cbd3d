package shell

import (
	"fmt"
	"regexp"
	"slices"
	"strings"

	"github.com/meerkat-zk/meerkat/internal/zktest"
)

// connectedEvent is the event of a session's first connection.
const connectedEvent = "WatchedEvent state:SyncConnected type:None path:null"

// splitEvents takes zkCli's events out of what it printed on stdout. zkCli
// prints an event as two lines each preceded by an empty line, "WATCHER::"
// and "WatchedEvent ...", from a thread of its own, so they can fall
// anywhere between the lines of the commands' output; each line is whole.
// It returns the rest of the output and the events in order.
func splitEvents(out string) (rest string, events []string) {
	var kept []string
	lines := strings.Split(out, "\n")
	for i := 0; i < len(lines); i++ {
		if lines[i] == "" && i+1 < len(lines) {
			if next := lines[i+1]; next == "WATCHER::" || strings.HasPrefix(next, "WatchedEvent ") {
				if next != "WATCHER::" {
					events = append(events, next)
				}
				i++
				continue
			}
		}
		kept = append(kept, lines[i])
	}
	return strings.Join(kept, "\n"), events
}

// transcript renders a run for comparison: its stdout without the events,
// the events, its stderr without the JVM's logging noise, and its exit
// code; addr, the server's address, is written ADDR. Without
// keepConnected, connection events are left out: a one-shot zkCli may exit
// before it prints its own.
func transcript(r result, addr string, keepConnected bool) string {
	rest, events := splitEvents(r.stdout)
	if !keepConnected {
		events = slices.DeleteFunc(events, func(e string) bool { return e == connectedEvent })
	}
	var errLines []string
	for _, l := range strings.Split(r.stderr, "\n") {
		if !strings.HasPrefix(l, "SLF4J:") {
			errLines = append(errLines, l)
		}
	}
	s := fmt.Sprintf("%s\n--- events\n%s\n--- stderr\n%s\n--- exit %d\n",
		rest, strings.Join(events, "\n"), strings.Join(errLines, "\n"), r.code)
	return strings.ReplaceAll(s, addr, "ADDR")
}

var (
	zxidRE  = regexp.MustCompile(`(?m)^([cmp]Zxid = )(0x[0-9a-f]+)$`)
	ownerRE = regexp.MustCompile(`(?m)^(ephemeralOwner = )(0x[0-9a-f]+)$`)
	// A time as Java's Date.toString prints it.
	timeRE = regexp.MustCompile(`(?m)^([cm]time = )[A-Z][a-z]{2} [A-Z][a-z]{2} \d\d \d\d:\d\d:\d\d \S+ \d{4}$`)
	// getEphemerals' list, whose order is the server's.
	ephemeralsRE = regexp.MustCompile(`(?m)^\[(/.*)\]$`)
)

// normalize masks in a transcript what may differ between two servers (or
// two clients) doing the same: times (which must still be in Java's
// format), zxids and session ids (replaced by their rank of first
// appearance, so equal ones stay equal), and the order of getEphemerals'
// list.
func normalize(s string) string {
	s = zktest.Ordinals(s, zxidRE, "Z", nil)
	s = zktest.Ordinals(s, ownerRE, "S", func(v string) bool { return v == "0x0" })
	s = timeRE.ReplaceAllString(s, "${1}TIME")
	return ephemeralsRE.ReplaceAllStringFunc(s, func(m string) string {
		items := strings.Split(m[1:len(m)-1], ", ")
		slices.Sort(items)
		return "[" + strings.Join(items, ", ") + "]"
	})
}
