package clients

import (
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/meerkat-zk/meerkat/internal/zktest"
)

// cliMt drives the C client's sample shell, cli_mt, a command at a time.
// cli_mt answers asynchronously, on stderr, through completions such as
// "[/x]: rc = 0"; each step waits for the completion of its own command
// and then checks the rc, so a failed command fails fast, not on a timeout.
type cliMt struct {
	*console
	label  string
	dumped bool // the output went into an error message already
}

func startCliMt(t *testing.T, srv *zktest.Server, label string) *cliMt {
	t.Helper()
	requireFile(t, cliMtPath, "zookeeper-bin")
	return &cliMt{console: startConsole(t, srv.Name+" "+label, nil, cliMtPath, srv.Addr), label: srv.Name + " " + label}
}

// do sends cmd and waits for pattern after it; it returns the offset where
// cmd's output starts and pattern's groups.
func (c *cliMt) do(cmd, pattern string) (int, []string) {
	c.t.Helper()
	from := c.mark()
	c.send(cmd)
	m := c.mustWaitFor(from, regexp.MustCompile(pattern), "completion of `"+cmd+"`")
	return from, submatches(c.text(), m)
}

// errorf reports a failed check, with the cli_mt output so far the first
// time.
func (c *cliMt) errorf(format string, args ...any) {
	c.t.Helper()
	msg := fmt.Sprintf(format, args...)
	if !c.dumped {
		c.dumped = true
		msg += "\n--- " + c.label + " output so far ---\n" + c.text() + "\n--- end ---"
	}
	c.t.Errorf("%s: %s", c.label, msg)
}

// wantRC checks a completion's rc (ZOK 0, ZNONODE -101, ZNOAUTH -102,
// ZNODEEXISTS -110, ZNOTEMPTY -111, ZCONNECTIONLOSS -4).
func (c *cliMt) wantRC(cmd, got string, want int) bool {
	c.t.Helper()
	if rc, err := strconv.Atoi(got); err != nil || rc != want {
		c.errorf("`%s`: rc = %s, want %d", cmd, got, want)
		return false
	}
	return true
}

// Completion patterns for cli_mt's callbacks (zookeeper-client-c cli.c).
// Each matches a whole completion, so the next command, whose "Creating
// [...]" line cli_mt prints from another thread, is sent only after it.
const (
	// dumpStat, or "null" without a Stat.
	ccStat = `(?:null|\tctime = [^\n]*\n\tczxid=([0-9a-f]+)\n\tmtime=[^\n]*\n\tmzxid=([0-9a-f]+)\n` +
		`\tversion=([0-9a-f]+)\taversion=([0-9a-f]+)\n\tephemeralOwner = ([0-9a-f]+))\n`
)

// ccGet is the completion of get path: rc, value and Stat.
func ccGet(path string) string {
	return `(?m)^` + regexp.QuoteMeta(path) + `: rc = (-?\d+)\n(?: value_len = (\d+)\n(.*)\n)?\n?Stat:\n` + ccStat
}

// ccChildren is the completion of ls path: rc, then the children, one a
// line behind a tab.
func ccChildren(path string) string {
	return `(?m)^` + regexp.QuoteMeta(path) + `: rc = (-?\d+)\n((?:\t[^\n]*\n)*)time = `
}

// ccCreated is the completion of create or sync (my_string_completion):
// group 1 is the rc, 2 the name on success. withStat adds create2's Stat
// (groups 3 to 7 on success).
func ccCreated(path string, withStat bool) string {
	ok := `0\n\tname = (\S+)\n`
	fail := `-\d+\n`
	if withStat {
		ok += ccStat
		fail += `null\n`
	}
	return `(?m)^\[` + regexp.QuoteMeta(path) + `\]: rc = ((?:` + ok + `)|(?:` + fail + `))`
}

// createRC extracts the return code from group 1 of ccCreated's match.
func createRC(g1 string) string { return strings.TrimSpace(strings.SplitN(g1, "\n", 2)[0]) }

func ccVoid(path string) string { return `(?m)^` + regexp.QuoteMeta(path) + `: rc = (-?\d+)\n` }

func ccEvent(typ, path string) *regexp.Regexp {
	return regexp.MustCompile(`(?m)^Watcher ` + typ + ` state = CONNECTED_STATE for path ` + regexp.QuoteMeta(path) + `$`)
}

func childSet(lines string) []string {
	var kids []string
	for _, l := range strings.Split(strings.TrimSuffix(lines, "\n"), "\n") {
		if l != "" {
			kids = append(kids, strings.TrimPrefix(l, "\t"))
		}
	}
	return kids
}

// TestCClient drives the C client (libzookeeper-mt) through cli_mt: CRUD,
// sequential and ephemeral nodes, watches set by get, ls and exists, digest
// auth, and ephemeral cleanup when the session quits.
func TestCClient(t *testing.T) {
	eachServer(t, zktest.Options{}, func(t *testing.T, srv *zktest.Server) {
		// cli_mt creates only open nodes; the Java client makes the
		// digest-protected one.
		setup := zkCliSession(t, srv, "zkCli setup", "create /cc-secure secret digest:"+zktest.DigestID("carol", "pw")+":cdrwa")
		setup.expect("create protected node", `(?m)^Created /cc-secure$`)

		c := startCliMt(t, srv, "cli_mt session 1")
		_, g := c.do("create /cc", ccCreated("/cc", false))
		if c.wantRC("create /cc", createRC(g[1]), 0) && g[2] != "/cc" {
			c.errorf("create /cc: name = %q", g[2])
		}
		_, g = c.do("create +e /cc/eph", ccCreated("/cc/eph", false))
		c.wantRC("create +e /cc/eph", createRC(g[1]), 0)
		_, g = c.do("create +s /cc/seq-", ccCreated("/cc/seq-", false))
		if c.wantRC("create +s /cc/seq-", createRC(g[1]), 0) && g[2] != "/cc/seq-0000000001" {
			c.errorf("create +s /cc/seq-: name = %q, want /cc/seq-0000000001", g[2])
		}
		_, g = c.do("create /cc", ccCreated("/cc", false))
		c.wantRC("create existing /cc", createRC(g[1]), -110)
		_, g = c.do("create2 /cc/two", ccCreated("/cc/two", true))
		if c.wantRC("create2 /cc/two", createRC(g[1]), 0) && g[5] != "0" {
			c.errorf("create2 /cc/two: Stat version = %q, want 0", g[5])
		}

		// get leaves a data watch; set must fire it, and the event must
		// reach the client before set's own reply, as ZooKeeper sends it.
		_, g = c.do("get /cc", ccGet("/cc"))
		if c.wantRC("get /cc", g[1], 0) && (g[3] != "new" || g[6] != "0") {
			c.errorf("get /cc = %q version %q, want \"new\" (cli_mt's data) version 0", g[3], g[6])
		}
		from, g := c.do("set /cc hello", `(?m)^/cc: rc = (-?\d+) Stat:\n`+ccStat)
		if c.wantRC("set /cc hello", g[1], 0) && g[4] != "1" {
			c.errorf("set /cc: Stat version = %q, want 1", g[4])
		}
		ev := c.waitFor(from, ccEvent("CHANGED_EVENT", "/cc"), stepTimeout)
		reply := c.waitFor(from, regexp.MustCompile(`(?m)^/cc: rc = -?\d+ Stat:$`), 0)
		switch {
		case ev == nil:
			c.errorf("no CHANGED_EVENT for /cc after set; get had left a watch")
		case reply != nil && ev[0] > reply[0]:
			c.errorf("the CHANGED_EVENT for /cc arrived after set's reply; ZooKeeper sends the watch event first")
		}
		_, g = c.do("get /cc", ccGet("/cc"))
		if c.wantRC("get /cc after set", g[1], 0) && (g[3] != "hello" || g[6] != "1") {
			c.errorf("get /cc after set = %q version %q, want \"hello\" version 1", g[3], g[6])
		}

		want := []string{"eph", "seq-0000000001", "two"}
		_, g = c.do("ls /cc", ccChildren("/cc"))
		if c.wantRC("ls /cc", g[1], 0) && !sameSet(childSet(g[2]), want) {
			c.errorf("ls /cc = %q, want %v in any order", childSet(g[2]), want)
		}
		_, g = c.do("ls2 /cc", ccChildren("/cc")+`-?\d+ msec\n`+ccStat)
		if c.wantRC("ls2 /cc", g[1], 0) && (!sameSet(childSet(g[2]), want) || g[5] != "1") {
			c.errorf("ls2 /cc = %q version %q, want %v version 1", childSet(g[2]), g[5], want)
		}

		// exists is synchronous in cli_mt and prints only errors; the sync
		// after it completes only once exists has.
		errRE := regexp.MustCompile(`(?m)^Error (-?\d+) for /cc/eph$`)
		from = c.mark()
		c.send("exists /cc/eph")
		_, g = c.do("sync /cc", ccCreated("/cc", false))
		c.wantRC("sync /cc", createRC(g[1]), 0)
		if m := errRE.FindStringSubmatch(c.text()[from:]); m != nil {
			c.errorf("exists /cc/eph: error %s", m[1])
		}

		// delete fires the exists watch on the node and the ls watch on
		// its parent, before delete's reply.
		from, g = c.do("delete /cc/eph", ccVoid("/cc/eph"))
		c.wantRC("delete /cc/eph", g[1], 0)
		reply = c.waitFor(from, regexp.MustCompile(ccVoid("/cc/eph")), 0)
		for _, e := range []struct{ typ, path string }{{"DELETED_EVENT", "/cc/eph"}, {"CHILD_EVENT", "/cc"}} {
			ev := c.waitFor(from, ccEvent(e.typ, e.path), stepTimeout)
			switch {
			case ev == nil:
				c.errorf("no %s for %s after delete /cc/eph", e.typ, e.path)
			case reply != nil && ev[0] > reply[0]:
				c.errorf("the %s for %s arrived after delete's reply; ZooKeeper sends the watch event first", e.typ, e.path)
			}
		}
		_, g = c.do("exists /cc/eph", errRE.String())
		c.wantRC("exists deleted /cc/eph", g[1], -101)
		_, g = c.do("delete /cc", ccVoid("/cc"))
		c.wantRC("delete non-empty /cc", g[1], -111)
		_, g = c.do("delete /nope", ccVoid("/nope"))
		c.wantRC("delete /nope", g[1], -101)

		_, g = c.do("get /cc-secure", ccGet("/cc-secure"))
		c.wantRC("get /cc-secure without auth", g[1], -102)
		c.send("addauth digest carol:pw") // no completion: cli_mt passes none
		_, g = c.do("get /cc-secure", ccGet("/cc-secure"))
		if c.wantRC("get /cc-secure after addauth", g[1], 0) && g[3] != "secret" {
			c.errorf("get /cc-secure = %q, want \"secret\"", g[3])
		}

		// od ("overdose") pipelines 200 sets of a 64 KiB value, each
		// followed by a get that leaves a watch the next set fires.
		_, g = c.do("create /od", ccCreated("/od", false))
		c.wantRC("create /od", createRC(g[1]), 0)
		from = c.mark()
		c.send("od")
		c.mustWaitFor(from, regexp.MustCompile(`(?m)^Recvd 200 responses for 200 requests sent$`), "200 responses to od")
		od := c.text()[from:]
		if n := strings.Count(od, "Data completion /od rc = 0\n"); n != 200 {
			c.errorf("od: %d gets of the 64 KiB value succeeded, want 200", n)
		}
		if n := len(ccEvent("CHANGED_EVENT", "/od").FindAllStringIndex(od, -1)); n != 199 {
			c.errorf("od: %d CHANGED_EVENTs for /od, want 199", n)
		}

		_, g = c.do("create +e /cc/eph2", ccCreated("/cc/eph2", false))
		c.wantRC("create +e /cc/eph2", createRC(g[1]), 0)
		// myid prints to stdout, which cli_mt flushes only at exit.
		c.send("myid")
		c.send("quit")
		out, err := c.finish(stepTimeout)
		if err != nil {
			c.errorf("quit: %v", err)
		}
		if m := regexp.MustCompile(`(?m)^session Id = ([0-9a-f]+)$`).FindStringSubmatch(out); m == nil {
			c.errorf("myid printed no session id")
		} else if id, _ := strconv.ParseUint(m[1], 16, 64); id == 0 {
			c.errorf("myid: session id 0")
		}

		// The first session is closed: its ephemeral went with it.
		c = startCliMt(t, srv, "cli_mt session 2")
		want = []string{"seq-0000000001", "two"}
		_, g = c.do("ls /cc", ccChildren("/cc"))
		if c.wantRC("ls /cc in a new session", g[1], 0) && !sameSet(childSet(g[2]), want) {
			c.errorf("ls /cc after session 1 quit = %q, want %v in any order", childSet(g[2]), want)
		}
		c.send("quit")
		if _, err := c.finish(stepTimeout); err != nil {
			c.errorf("quit: %v", err)
		}
	})
}
