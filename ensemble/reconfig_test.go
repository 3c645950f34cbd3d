package ensemble

import (
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/go-zookeeper/zk"

	"github.com/meerkat-zk/meerkat/internal/wire"
	"github.com/meerkat-zk/meerkat/internal/zktest"
	"github.com/meerkat-zk/meerkat/jute"
)

// The reconfig tests run ZooKeeper 3.8's dynamic reconfiguration (opcode
// 16) side by side, as the local-session tests do (sideBySide): each step
// becomes a fact line checked against what ZooKeeper 3.8 answers. Members
// are named by role, never by id, so that the facts do not depend on who
// won the election: L is the leader, F the follower the client talks to,
// R the other follower, the one removed and added back. Ports are named
// after the member and what they are for (peerR, electionR, clientR);
// zxids are relative to a base taken in the scenario, and membership
// versions are named after the zxid they equal (a reply's, the epoch's
// first).

// reconfigSuperPassword is the password of the super user
// (zookeeper.DigestAuthenticationProvider.superDigest) in these tests.
const reconfigSuperPassword = "reconfig-secret"

// reconfigOptions are the options of a reconfig test's ensemble: a super
// digest and, when enabled, reconfigEnabled=true.
func reconfigOptions(enabled bool) zktest.EnsembleOptions {
	extra := []string{"zookeeper.DigestAuthenticationProvider.superDigest=" + zktest.DigestID("super", reconfigSuperPassword)}
	if enabled {
		extra = append(extra, "reconfigEnabled=true")
	}
	return zktest.EnsembleOptions{Options: zktest.Options{Extra: extra}}
}

// reconfigOp is a reconfig request. A nil string is sent as jute's null
// (length -1), which ZooKeeper tells apart from "": a non-null newMembers,
// even an empty one, asks for a non-incremental reconfig.
type reconfigOp struct {
	joining, leaving, newMembers *string
	curConfigID                  int64
}

func strp(s string) *string { return &s }

func (r reconfigOp) body() []byte {
	str := func(b []byte, s *string) []byte {
		if s == nil {
			return jute.AppendInt(b, -1)
		}
		return jute.AppendString(b, *s)
	}
	return jute.AppendLong(str(str(str(nil, r.joining), r.leaving), r.newMembers), r.curConfigID)
}

// reconfigCall sends op on c and returns the reply, failing t when the
// connection fails.
func reconfigCall(t *testing.T, c *wire.Conn, what string, op reconfigOp) wire.Reply {
	t.Helper()
	return call(t, c, what, jute.OpReconfig, op.body())
}

// superAuth authenticates c as the super user and states the answer.
func superAuth(t *testing.T, c *wire.Conn) string {
	t.Helper()
	auth := jute.AuthPacket{Scheme: "digest", Auth: []byte("super:" + reconfigSuperPassword)}
	if err := c.SendXid(jute.XidAuth, jute.OpAuth, auth.Append(nil)); err != nil {
		t.Fatalf("auth: %v", err)
	}
	r, err := c.Recv()
	if err != nil {
		t.Fatalf("auth: %v", err)
	}
	return fmt.Sprintf("auth digest super: xid %d, %s", r.Header.Xid, r.Header.Err.String())
}

// configReply decodes the body of a successful reconfig or of a getData:
// the data, its Stat, and whether the body held exactly those.
func configReply(r wire.Reply) (string, jute.Stat, bool) {
	d := jute.NewDecoder(r.Body)
	data := d.Buffer()
	var st jute.Stat
	st.Decode(d)
	return string(data), st, d.Err() == nil && d.Len() == 0
}

// readConfig syncs and reads /zookeeper/config through c.
func readConfig(c *wire.Conn) (string, jute.Stat, error) {
	if r, err := c.Call(jute.OpSync, jute.AppendString(nil, "/")); err != nil {
		return "", jute.Stat{}, err
	} else if r.Header.Err != jute.CodeOK {
		return "", jute.Stat{}, fmt.Errorf("sync: %s", r.Header.Err.String())
	}
	r, err := c.GetData("/zookeeper/config", false)
	if err != nil {
		return "", jute.Stat{}, err
	}
	if r.Header.Err != jute.CodeOK {
		return "", jute.Stat{}, fmt.Errorf("getData: %s", r.Header.Err.String())
	}
	data, st, ok := configReply(r)
	if !ok {
		return "", jute.Stat{}, fmt.Errorf("getData: undecodable body %x", r.Body)
	}
	return data, st, nil
}

// errorFact states a reconfig's answer: its code, its zxid relative to
// base, and the size of its body.
func errorFact(what string, r wire.Reply, base int64) string {
	return fmt.Sprintf("%s: %s, zxid base%+d, body %d bytes", what, r.Header.Err.String(), r.Header.Zxid-base, len(r.Body))
}

// configVersion returns the version= of a membership text, -1 if none.
func configVersion(text string) int64 {
	for _, line := range strings.Split(text, "\n") {
		if v, ok := strings.CutPrefix(line, "version="); ok {
			if n, err := strconv.ParseInt(v, 16, 64); err == nil {
				return n
			}
		}
	}
	return -1
}

// configStatFact states the Stat of /zookeeper/config as read with data,
// its mzxid compared with data's version.
func configStatFact(what, data string, st jute.Stat) string {
	mzxid := fmt.Sprintf("%#x", st.Mzxid)
	if st.Mzxid == configVersion(data) {
		mzxid = "= the version"
	}
	return fmt.Sprintf("%s stat: czxid %#x, mzxid %s, version %d, cversion %d, aversion %d, ephemeralOwner %#x, numChildren %d, pzxid %#x, dataLength = len(data) %v",
		what, st.Czxid, mzxid, st.Version, st.Cversion, st.Aversion, st.EphemeralOwner, st.NumChildren, st.Pzxid, int(st.DataLength) == len(data))
}

// reconfigView names an ensemble's members by role, for the facts.
type reconfigView struct {
	e *zktest.Ensemble
	// role[i] is member i's letter; member[letter] is its index.
	role   []string
	member map[string]int
	// ports names each port of the static configuration: peerX,
	// electionX, clientX.
	ports map[int]string
	// static[letter] is the member's line in the static configuration,
	// server.N=127.0.0.1:peer:election.
	static map[string]string
}

var (
	reconfigStaticLine = regexp.MustCompile(`^server\.(\d+)=127\.0\.0\.1:(\d+):(\d+)(:participant)?(;.*)?$`)
	reconfigServerLine = regexp.MustCompile(`^server\.(\d+)=(.*)$`)
	reconfigPortToken  = regexp.MustCompile(`:(\d+)`)
)

// newReconfigView names the members (lead is L, f is F, the third R) and
// the ports from member 1's server lines as the test harness wrote them.
// The servers move those lines out of zoo.cfg: ZooKeeper keeps the
// original as zoo.cfg.bak and puts them in a dynamic file zoo.cfg names;
// the first of zoo.cfg.bak, zoo.cfg and that file holding a line per
// member is read.
func newReconfigView(t *testing.T, e *zktest.Ensemble, lead, f int) *reconfigView {
	t.Helper()
	v := &reconfigView{e: e, role: make([]string, len(e.Members)), member: map[string]int{},
		ports: map[int]string{}, static: map[string]string{}}
	for i := range e.Members {
		switch i {
		case lead:
			v.role[i] = "L"
		case f:
			v.role[i] = "F"
		default:
			v.role[i] = "R"
		}
		v.member[v.role[i]] = i
		v.ports[e.Members[i].Port] = "client" + v.role[i]
	}
	dir := e.Members[0].Dir
	files := []string{filepath.Join(dir, "zoo.cfg.bak"), filepath.Join(dir, "zoo.cfg")}
	if b, err := os.ReadFile(filepath.Join(dir, "zoo.cfg")); err == nil {
		if dyn := confValue(string(b), "dynamicConfigFile"); dyn != "" {
			files = append(files, dyn)
		}
	}
	var lines [][]string
	for _, file := range files {
		b, err := os.ReadFile(file)
		if err != nil {
			continue
		}
		lines = nil
		for _, line := range strings.Split(string(b), "\n") {
			if m := reconfigStaticLine.FindStringSubmatch(strings.TrimSpace(line)); m != nil {
				lines = append(lines, m)
			}
		}
		if len(lines) == len(e.Members) {
			break
		}
	}
	if len(lines) != len(e.Members) {
		t.Fatalf("none of %q has a server line per member", files)
	}
	for _, m := range lines {
		id, _ := strconv.Atoi(m[1])
		peer, _ := strconv.Atoi(m[2])
		election, _ := strconv.Atoi(m[3])
		r := v.role[id-1]
		v.ports[peer], v.ports[election] = "peer"+r, "election"+r
		v.static[r] = fmt.Sprintf("server.%d=127.0.0.1:%d:%d", id, peer, election)
	}
	return v
}

// startFileFacts states, at the start, whether member r's directory holds
// zoo.cfg.bak with the server lines the harness wrote, and where its
// zoo.cfg points for the membership.
func (v *reconfigView) startFileFacts(t *testing.T, acct *account, r string, versions map[int64]string) {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(v.e.Members[v.member[r]].Dir, "zoo.cfg.bak"))
	got := "missing"
	if err == nil {
		got = "without the server lines"
		var servers []string
		for _, line := range strings.Split(string(b), "\n") {
			if strings.HasPrefix(line, "server.") {
				servers = append(servers, line)
			}
		}
		var want []string
		for _, line := range v.static {
			want = append(want, line)
		}
		slices.Sort(want) // ids below 10: in id order
		if slices.Equal(servers, want) {
			got = "with the server lines as written"
		}
	}
	acct.expect(t, fmt.Sprintf("at the start: %s's zoo.cfg.bak: %s", r, got),
		fmt.Sprintf("at the start: %s's zoo.cfg.bak: with the server lines as written", r))
	acct.expect(t, "at the start: "+v.dynamicFileFact(r, versions),
		"at the start: "+r+"'s zoo.cfg: dynamicConfigFile=<its directory>/zoo.cfg.dynamic.<the epoch>00000000 (in its directory: true), holding: "+
			"server.F=127.0.0.1:peerF:electionF:participant | server.L=127.0.0.1:peerL:electionL:participant | server.R=127.0.0.1:peerR:electionR:participant")
}

// addr is the client address of the member with role r.
func (v *reconfigView) addr(r string) string { return v.e.Members[v.member[r]].Addr }

// id is the server id of the member with role r.
func (v *reconfigView) id(r string) string { return strconv.Itoa(v.member[r] + 1) }

// membership renders a membership text (/zookeeper/config's data, conf's
// membership section, a dynamic file) as one line: the server lines with
// ids and ports named by role, sorted, then the version, named by
// versions when it is there (else in hex), joined with " | ".
func (v *reconfigView) membership(text string, versions map[int64]string) string {
	var servers, rest []string
	for _, line := range strings.Split(strings.TrimSpace(text), "\n") {
		m := reconfigServerLine.FindStringSubmatch(line)
		switch {
		case m != nil:
			id, _ := strconv.Atoi(m[1])
			who := "?" + m[1]
			if id >= 1 && id <= len(v.role) {
				who = v.role[id-1]
			}
			spec := reconfigPortToken.ReplaceAllStringFunc(m[2], func(tok string) string {
				p, _ := strconv.Atoi(tok[1:])
				if name, ok := v.ports[p]; ok {
					return ":" + name
				}
				return tok
			})
			servers = append(servers, "server."+who+"="+spec)
		case strings.HasPrefix(line, "version="):
			n := configVersion(line)
			if name, ok := versions[n]; ok && n >= 0 {
				line = "version=" + name
			}
			rest = append(rest, line)
		default:
			rest = append(rest, line)
		}
	}
	slices.Sort(servers)
	return strings.Join(append(servers, rest...), " | ")
}

// inIDOrder reports whether text's server lines come in increasing id
// order, as ZooKeeper writes them.
func inIDOrder(text string) bool {
	last := 0
	for _, line := range strings.Split(text, "\n") {
		if m := reconfigServerLine.FindStringSubmatch(line); m != nil {
			id, _ := strconv.Atoi(m[1])
			if id <= last {
				return false
			}
			last = id
		}
	}
	return true
}

// confMembership returns the membership section of conf on addr: what
// follows "membership: ".
func confMembership(addr string) (string, error) {
	out, err := zktest.FourLetter(addr, "conf")
	if err != nil {
		return "", err
	}
	_, section, ok := strings.Cut(out, "membership: \n")
	if !ok {
		return "", fmt.Errorf("no membership section in %q", out)
	}
	return section, nil
}

// membershipEverywhereFacts checks that each member in roles, through its
// session in conns (a new one when that is gone), reads want (named
// wantName in the facts) from /zookeeper/config after a sync, and that
// conf's membership section says the same.
func (v *reconfigView) membershipEverywhereFacts(t *testing.T, acct *account, when string, conns map[string]*wire.Conn, roles []string,
	want, wantName string, versions map[int64]string) {
	t.Helper()
	for _, r := range roles {
		c := conns[r]
		data, _, err := readConfig(c)
		if err != nil {
			// The member may have dropped the session: a new one.
			if c, err = handshake(t, v.addr(r), 30000, 0, nil, false); err == nil {
				conns[r] = c
				data, _, err = readConfig(c)
			}
		}
		// describe names text: wantName when it is want.
		describe := func(text string, err error) string {
			switch {
			case err != nil:
				return "unreadable (" + err.Error() + ")"
			case text != want:
				return v.membership(text, versions)
			}
			return wantName
		}
		acct.expect(t, fmt.Sprintf("%s: /zookeeper/config on %s after a sync: %s", when, r, describe(data, err)),
			fmt.Sprintf("%s: /zookeeper/config on %s after a sync: %s", when, r, wantName))
		section, err := confMembership(v.addr(r))
		acct.expect(t, fmt.Sprintf("%s: conf's membership on %s: %s", when, r, describe(section, err)),
			fmt.Sprintf("%s: conf's membership on %s: %s", when, r, wantName))
	}
}

// successFacts checks a successful reconfig's reply: OK with a zxid
// relative to base, its body the new /zookeeper/config data (want, with
// version= the reply's zxid) and its Stat (mzxid the reply's zxid,
// version -1). It returns the data and its version.
func (v *reconfigView) successFacts(t *testing.T, acct *account, what string, r wire.Reply, base int64, wantDelta int, want string) (string, int64) {
	t.Helper()
	acct.expect(t, fmt.Sprintf("%s: %s, zxid base%+d", what, r.Header.Err.String(), r.Header.Zxid-base),
		fmt.Sprintf("%s: OK, zxid base%+d", what, wantDelta))
	if r.Header.Err != jute.CodeOK {
		t.FailNow()
	}
	data, st, clean := configReply(r)
	versions := map[int64]string{r.Header.Zxid: "<the reply's zxid>"}
	acct.expect(t, fmt.Sprintf("%s: reply data: %s", what, v.membership(data, versions)), what+": reply data: "+want)
	acct.expect(t, fmt.Sprintf("%s: reply body is the data then a Stat, nothing after: %v; server lines in id order: %v",
		what, clean, inIDOrder(data)),
		what+": reply body is the data then a Stat, nothing after: true; server lines in id order: true")
	acct.expect(t, configStatFact(what+": reply", data, st),
		what+": reply stat: czxid 0x0, mzxid = the version, version -1, cversion 0, aversion -1, ephemeralOwner 0x0, numChildren 0, pzxid 0x0, dataLength = len(data) true")
	return data, r.Header.Zxid
}

// dynamicFileFact states where member r's zoo.cfg points for its
// membership now (dynamicConfigFile=) and what that file holds
// (ZooKeeper writes the server lines only: the version is in the name).
func (v *reconfigView) dynamicFileFact(r string, versions map[int64]string) string {
	dir := v.e.Members[v.member[r]].Dir
	b, err := os.ReadFile(filepath.Join(dir, "zoo.cfg"))
	if err != nil {
		return fmt.Sprintf("%s's zoo.cfg: %v", r, err)
	}
	file := confValue(string(b), "dynamicConfigFile")
	if file == "" {
		return fmt.Sprintf("%s's zoo.cfg: no dynamicConfigFile", r)
	}
	name := filepath.Base(file)
	if hex, ok := strings.CutPrefix(name, "zoo.cfg.dynamic."); ok {
		if n, err := strconv.ParseInt(hex, 16, 64); err == nil {
			if label, ok := versions[n]; ok {
				name = "zoo.cfg.dynamic." + label
			}
		}
	}
	dyn, err := os.ReadFile(file)
	if err != nil {
		return fmt.Sprintf("%s's zoo.cfg: dynamicConfigFile=%s, unreadable (%v)", r, name, err)
	}
	return fmt.Sprintf("%s's zoo.cfg: dynamicConfigFile=<its directory>/%s (in its directory: %v), holding: %s",
		r, name, filepath.Dir(file) == dir, v.membership(string(dyn), versions))
}

// readOnce reads path on addr through a new session after a sync and
// states the answer ("OK", a code, or why there was no answer).
func readOnce(addr, path string) string {
	c, err := wire.Dial(addr, 30000)
	if err != nil {
		return "no session (" + err.Error() + ")"
	}
	defer c.Close()
	c.Timeout = 5 * time.Second
	if c.Session.TimeOut <= 0 {
		return "no session (refused)"
	}
	if r, err := c.Call(jute.OpSync, jute.AppendString(nil, "/")); err != nil {
		return "sync: " + err.Error()
	} else if r.Header.Err != jute.CodeOK {
		return "sync: " + r.Header.Err.String()
	}
	r, err := c.GetData(path, false)
	if err != nil {
		return "getData: " + err.Error()
	}
	return r.Header.Err.String()
}

// waitRead retries readOnce for 30 s at most, until it says OK, and
// returns its last answer.
func waitRead(addr, path string) string {
	deadline := time.Now().Add(30 * time.Second)
	for {
		got := readOnce(addr, path)
		if got == "OK" || time.Now().After(deadline) {
			return got
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// modes states srvr's mode on each member, by role.
func (v *reconfigView) modes() string {
	var parts []string
	for _, r := range []string{"L", "F", "R"} {
		parts = append(parts, r+" "+srvrState(zktest.FourLetter(v.addr(r), "srvr")))
	}
	return strings.Join(parts, ", ")
}

// TestReconfigAnswers checks a reconfig's answers on an ensemble with
// reconfigEnabled=true and a super digest, through a session on a follower
// (F). /zookeeper/config starts with the static server lines (no client
// part) at version epoch<<32 (100000000 on a fresh ensemble), its mzxid;
// conf shows the same membership; zoo.cfg names a dynamic file
// zoo.cfg.dynamic.<version> holding the server lines, and zoo.cfg.bak
// keeps the original. Without auth, ZooKeeper validates the request before
// it checks WRITE on /zookeeper/config (read-only for world): a bad
// curConfigId answers BADVERSION and a malformed joiner BADARGUMENTS, a
// valid request NOAUTH. As super: BADVERSION; a leaving id that is no
// number MARSHALLINGERROR; a malformed joiner, one without a client port,
// a non-incremental newMembers with one voter and an empty one
// BADARGUMENTS; every error consumes a zxid and has no body. A request
// with nothing in it and the removal of an unknown id succeed with the
// membership unchanged and a new version (the reply's zxid). Then the
// other follower (R) is removed, at the current version: the reply is the
// new membership with version= its zxid and mzxid its zxid (stat version
// -1); every member, R included, reads it after a sync and shows it in
// conf; R still follows (ZooKeeper keeps it as a non-voting follower) and
// its session works; a stale curConfigId now answers BADVERSION. R's
// original line (no client port) cannot join; with ;127.0.0.1:port it
// does: R reads a node created while it was out, every member reads the
// membership, the leader is unchanged, the members' zoo.cfg point to a
// dynamic file holding it, and F restarted comes back with it.
func TestReconfigAnswers(t *testing.T) {
	sideBySide(t, func(t *testing.T, start startEnsembleFunc, acct *account) {
		e := start(t, reconfigOptions(true))
		logsOnFailure(t, e)
		lead := e.Leader(t)
		v := newReconfigView(t, e, lead, (lead+1)%3)
		conns := map[string]*wire.Conn{}
		for _, r := range []string{"F", "L", "R"} {
			c, err := handshake(t, v.addr(r), 30000, 0, nil, false)
			if err != nil || c.Session.TimeOut <= 0 {
				t.Fatalf("session on %s: %v %+v", r, err, c)
			}
			conns[r] = c
		}
		c := conns["F"]

		r, err := c.Create("/rc", nil, 0)
		if err != nil || r.Header.Err != jute.CodeOK {
			t.Fatalf("create /rc: %v %v", r.Header.Err, err)
		}
		base := r.Header.Zxid

		// The membership the ensemble starts with: ZooKeeper gives it the
		// version epoch<<32 when the first leader establishes it.
		initial, st, err := readConfig(c)
		if err != nil {
			t.Fatalf("/zookeeper/config: %v", err)
		}
		epoch := map[int64]string{base >> 32 << 32: "<the epoch>00000000"}
		acct.expect(t, "initial /zookeeper/config: "+v.membership(initial, epoch),
			"initial /zookeeper/config: server.F=127.0.0.1:peerF:electionF:participant | server.L=127.0.0.1:peerL:electionL:participant | server.R=127.0.0.1:peerR:electionR:participant | version=<the epoch>00000000")
		acct.expect(t, fmt.Sprintf("initial /zookeeper/config: server lines in id order: %v", inIDOrder(initial)),
			"initial /zookeeper/config: server lines in id order: true")
		acct.expect(t, configStatFact("initial /zookeeper/config", initial, st),
			"initial /zookeeper/config stat: czxid 0x0, mzxid = the version, version -1, cversion 0, aversion -1, ephemeralOwner 0x0, numChildren 0, pzxid 0x0, dataLength = len(data) true")
		v.membershipEverywhereFacts(t, acct, "at the start", conns, []string{"L", "F", "R"}, initial, "the one F read", epoch)
		v.startFileFacts(t, acct, "F", epoch)
		version := configVersion(initial)
		leaveR := strp(v.id("R"))

		// Without auth.
		acct.expect(t, errorFact("no auth, leave R at a wrong version", reconfigCall(t, c, "reconfig", reconfigOp{leaving: leaveR, curConfigID: version + 12345}), base),
			"no auth, leave R at a wrong version: BADVERSION, zxid base+1, body 0 bytes")
		acct.expect(t, errorFact("no auth, join server.4=nonsense", reconfigCall(t, c, "reconfig", reconfigOp{joining: strp("server.4=nonsense"), curConfigID: -1}), base),
			"no auth, join server.4=nonsense: BADARGUMENTS, zxid base+2, body 0 bytes")
		acct.expect(t, errorFact("no auth, leave R", reconfigCall(t, c, "reconfig", reconfigOp{leaving: leaveR, curConfigID: -1}), base),
			"no auth, leave R: NOAUTH, zxid base+3, body 0 bytes")
		acct.expect(t, errorFact("no auth, leave unknown id 9", reconfigCall(t, c, "reconfig", reconfigOp{leaving: strp("9"), curConfigID: -1}), base),
			"no auth, leave unknown id 9: NOAUTH, zxid base+4, body 0 bytes")
		data, _, err := readConfig(c)
		acct.expect(t, fmt.Sprintf("no auth: /zookeeper/config unchanged: %v (%v)", data == initial, err),
			"no auth: /zookeeper/config unchanged: true (<nil>)")

		// As the super user.
		acct.expect(t, superAuth(t, c), "auth digest super: xid -4, OK")
		for _, step := range []struct {
			what string
			op   reconfigOp
			want string
		}{
			{"leave R at a wrong version", reconfigOp{leaving: leaveR, curConfigID: version + 12345}, "BADVERSION, zxid base+5"},
			{"leave abc (not a number)", reconfigOp{leaving: strp("abc"), curConfigID: -1}, "MARSHALLINGERROR, zxid base+6"},
			{"join server.4=nonsense", reconfigOp{joining: strp("server.4=nonsense"), curConfigID: -1}, "BADARGUMENTS, zxid base+7"},
			{"join server.4 without a client port", reconfigOp{joining: strp("server.4=127.0.0.1:1234:1235:participant"), curConfigID: -1},
				"BADARGUMENTS, zxid base+8"},
			{"newMembers: L alone", reconfigOp{newMembers: strp(v.static["L"] + ":participant;" + v.addr("L")), curConfigID: -1},
				"BADARGUMENTS, zxid base+9"},
			{"newMembers empty (not null)", reconfigOp{newMembers: strp(""), curConfigID: -1}, "BADARGUMENTS, zxid base+10"},
		} {
			acct.expect(t, errorFact(step.what, reconfigCall(t, c, "reconfig", step.op), base), step.what+": "+step.want+", body 0 bytes")
		}
		data, _, err = readConfig(c)
		acct.expect(t, fmt.Sprintf("after the refused ones: /zookeeper/config unchanged: %v (%v)", data == initial, err),
			"after the refused ones: /zookeeper/config unchanged: true (<nil>)")

		unchanged := "server.F=127.0.0.1:peerF:electionF:participant | server.L=127.0.0.1:peerL:electionL:participant | server.R=127.0.0.1:peerR:electionR:participant | version=<the reply's zxid>"
		v.successFacts(t, acct, "nothing to join, leave or set (all null)",
			reconfigCall(t, c, "reconfig", reconfigOp{curConfigID: -1}), base, 11, unchanged)
		_, version = v.successFacts(t, acct, "leave unknown id 9",
			reconfigCall(t, c, "reconfig", reconfigOp{leaving: strp("9"), curConfigID: -1}), base, 12, unchanged)
		stale := version

		// R leaves, at the current version.
		without, version := v.successFacts(t, acct, "leave R at the current version",
			reconfigCall(t, c, "reconfig", reconfigOp{leaving: leaveR, curConfigID: version}), base, 13,
			"server.F=127.0.0.1:peerF:electionF:participant | server.L=127.0.0.1:peerL:electionL:participant | version=<the reply's zxid>")
		versions := map[int64]string{version: "<the removal's zxid>"}
		v.membershipEverywhereFacts(t, acct, "after the removal", conns, []string{"L", "F", "R"}, without, "the removal's reply", versions)
		acct.expect(t, "after the removal: "+v.modes(), "after the removal: L Mode: leader, F Mode: follower, R Mode: follower")
		outcome := "connection lost"
		if r, err = conns["R"].Call(jute.OpExists, existsReq("/rc")); err == nil {
			outcome = r.Header.Err.String()
		}
		acct.expect(t, "after the removal: exists /rc through R's session from before: "+outcome,
			"after the removal: exists /rc through R's session from before: OK")
		acct.expect(t, errorFact("leave unknown id 9 at the version before the removal", reconfigCall(t, c, "reconfig",
			reconfigOp{leaving: strp("9"), curConfigID: stale}), base),
			"leave unknown id 9 at the version before the removal: BADVERSION, zxid base+14, body 0 bytes")

		// A node R must catch up on; then R joins again.
		if r, err = c.Create("/rc/while-out", []byte("x"), 0); err != nil || r.Header.Err != jute.CodeOK {
			t.Fatalf("create /rc/while-out: %v %v", r.Header.Err, err)
		}
		base = r.Header.Zxid
		acct.expect(t, errorFact("join R's original line (no client port)", reconfigCall(t, c, "reconfig",
			reconfigOp{joining: strp(v.static["R"] + ":participant"), curConfigID: -1}), base),
			"join R's original line (no client port): BADARGUMENTS, zxid base+1, body 0 bytes")
		with, version := v.successFacts(t, acct, "join R with ;127.0.0.1:clientR",
			reconfigCall(t, c, "reconfig", reconfigOp{joining: strp(v.static["R"] + ":participant;" + v.addr("R")), curConfigID: -1}), base, 2,
			"server.F=127.0.0.1:peerF:electionF:participant | server.L=127.0.0.1:peerL:electionL:participant | server.R=127.0.0.1:peerR:electionR:participant;127.0.0.1:clientR | version=<the reply's zxid>")
		versions = map[int64]string{version: "<the rejoin's zxid>"}
		acct.expect(t, "after the rejoin: R syncs and reads /rc/while-out (30 s at most): "+waitRead(v.addr("R"), "/rc/while-out"),
			"after the rejoin: R syncs and reads /rc/while-out (30 s at most): OK")
		v.membershipEverywhereFacts(t, acct, "after the rejoin", conns, []string{"L", "F", "R"}, with, "the rejoin's reply", versions)
		acct.expect(t, "after the rejoin: "+v.modes(), "after the rejoin: L Mode: leader, F Mode: follower, R Mode: follower")
		want := "dynamicConfigFile=<its directory>/zoo.cfg.dynamic.<the rejoin's zxid> (in its directory: true), holding: " +
			"server.F=127.0.0.1:peerF:electionF:participant | server.L=127.0.0.1:peerL:electionL:participant | server.R=127.0.0.1:peerR:electionR:participant;127.0.0.1:clientR"
		for _, r := range []string{"L", "F", "R"} {
			acct.expect(t, "after the rejoin: "+v.dynamicFileFact(r, versions), "after the rejoin: "+r+"'s zoo.cfg: "+want)
		}

		// F restarts on what its files say.
		e.Members[v.member["F"]].Restart(t)
		acct.expect(t, "F restarted: syncs and reads /rc/while-out (30 s at most): "+waitRead(v.addr("F"), "/rc/while-out"),
			"F restarted: syncs and reads /rc/while-out (30 s at most): OK")
		conns["F"], err = handshake(t, v.addr("F"), 30000, 0, nil, false)
		if err != nil {
			t.Fatalf("session on F after its restart: %v", err)
		}
		v.membershipEverywhereFacts(t, acct, "F restarted", conns, []string{"F"}, with, "the rejoin's reply", versions)
	})
}

// TestReconfigDisabled checks a reconfig on an ensemble without
// reconfigEnabled: /zookeeper/config holds the static membership at
// version 0 (mzxid 0); a reconfig answers RECONFIGDISABLED, with or
// without auth and whatever its curConfigId, consuming a zxid each time,
// and changes nothing.
func TestReconfigDisabled(t *testing.T) {
	sideBySide(t, func(t *testing.T, start startEnsembleFunc, acct *account) {
		e := start(t, reconfigOptions(false))
		logsOnFailure(t, e)
		lead := e.Leader(t)
		v := newReconfigView(t, e, lead, (lead+1)%3)
		c, err := handshake(t, v.addr("F"), 30000, 0, nil, false)
		if err != nil {
			t.Fatal(err)
		}
		initial, st, err := readConfig(c)
		if err != nil {
			t.Fatalf("/zookeeper/config: %v", err)
		}
		acct.expect(t, "initial /zookeeper/config: "+v.membership(initial, nil),
			"initial /zookeeper/config: server.F=127.0.0.1:peerF:electionF:participant | server.L=127.0.0.1:peerL:electionL:participant | server.R=127.0.0.1:peerR:electionR:participant | version=0")
		acct.expect(t, configStatFact("initial /zookeeper/config", initial, st),
			"initial /zookeeper/config stat: czxid 0x0, mzxid = the version, version -1, cversion 0, aversion -1, ephemeralOwner 0x0, numChildren 0, pzxid 0x0, dataLength = len(data) true")
		section, err := confMembership(v.addr("F"))
		acct.expect(t, fmt.Sprintf("conf's membership on F: same as /zookeeper/config %v (%v)", section == initial, err),
			"conf's membership on F: same as /zookeeper/config true (<nil>)")

		r, err := c.Create("/rc", nil, 0)
		if err != nil || r.Header.Err != jute.CodeOK {
			t.Fatalf("create /rc: %v %v", r.Header.Err, err)
		}
		base := r.Header.Zxid
		leaveR := strp(v.id("R"))
		acct.expect(t, errorFact("no auth, leave R", reconfigCall(t, c, "reconfig", reconfigOp{leaving: leaveR, curConfigID: -1}), base),
			"no auth, leave R: RECONFIGDISABLED, zxid base+1, body 0 bytes")
		acct.expect(t, errorFact("no auth, leave R at a wrong version", reconfigCall(t, c, "reconfig", reconfigOp{leaving: leaveR, curConfigID: 12345}), base),
			"no auth, leave R at a wrong version: RECONFIGDISABLED, zxid base+2, body 0 bytes")
		acct.expect(t, superAuth(t, c), "auth digest super: xid -4, OK")
		acct.expect(t, errorFact("super, leave R", reconfigCall(t, c, "reconfig", reconfigOp{leaving: leaveR, curConfigID: -1}), base),
			"super, leave R: RECONFIGDISABLED, zxid base+3, body 0 bytes")
		data, _, err := readConfig(c)
		acct.expect(t, fmt.Sprintf("/zookeeper/config unchanged: %v (%v)", data == initial, err), "/zookeeper/config unchanged: true (<nil>)")
	})
}

// TestReconfigUnderLoad removes a follower (R) and adds it back while
// three go-zookeeper sessions write through the whole ensemble (1200
// writes at most): both reconfigs succeed, the writes go on after each,
// and in the end every acknowledged write is on every member, R included,
// and all three read the same /zookeeper/config, the one of the rejoin.
func TestReconfigUnderLoad(t *testing.T) {
	sideBySide(t, func(t *testing.T, start startEnsembleFunc, acct *account) {
		e := start(t, reconfigOptions(true))
		logsOnFailure(t, e)
		lead := e.Leader(t)
		v := newReconfigView(t, e, lead, (lead+1)%3)
		setupConn := connect(t, e.ConnectString(), 10*time.Second)
		if _, err := setupConn.Create("/w", nil, 0, zk.WorldACL(zk.PermAll)); err != nil {
			t.Fatal(err)
		}
		setupConn.Close()
		c, err := handshake(t, v.addr("L"), 30000, 0, nil, false)
		if err != nil {
			t.Fatal(err)
		}
		acct.expect(t, superAuth(t, c), "auth digest super: xid -4, OK")

		w := startWriters(t, e.ConnectString(), 3, 1200)
		w.waitFor(t, 100)
		r := reconfigCall(t, c, "reconfig", reconfigOp{leaving: strp(v.id("R")), curConfigID: -1})
		data, _, _ := configReply(r)
		acct.expect(t, fmt.Sprintf("under load, leave R: %s, new membership %s", r.Header.Err.String(),
			v.membership(data, map[int64]string{r.Header.Zxid: "<the reply's zxid>"})),
			"under load, leave R: OK, new membership server.F=127.0.0.1:peerF:electionF:participant | server.L=127.0.0.1:peerL:electionL:participant | version=<the reply's zxid>")
		w.waitFor(t, w.count()+100)

		r = reconfigCall(t, c, "reconfig", reconfigOp{joining: strp(v.static["R"] + ":participant;" + v.addr("R")), curConfigID: -1})
		with, _, _ := configReply(r)
		acct.expect(t, fmt.Sprintf("under load, join R again: %s, new membership %s", r.Header.Err.String(),
			v.membership(with, map[int64]string{r.Header.Zxid: "<the reply's zxid>"})),
			"under load, join R again: OK, new membership server.F=127.0.0.1:peerF:electionF:participant | server.L=127.0.0.1:peerL:electionL:participant | server.R=127.0.0.1:peerR:electionR:participant;127.0.0.1:clientR | version=<the reply's zxid>")
		w.waitFor(t, w.count()+100)
		acked := w.finish()
		t.Logf("%d writes acknowledged", len(acked))

		acct.expect(t, "R after the rejoin: syncs and reads /w (30 s at most): "+waitRead(v.addr("R"), "/w"),
			"R after the rejoin: syncs and reads /w (30 s at most): OK")
		mustHaveEverywhere(t, e, acked)
		acct.expect(t, "every acknowledged write on every member: true", "every acknowledged write on every member: true")
		for _, who := range []string{"L", "F", "R"} {
			got := "unreadable"
			if cc, err := handshake(t, v.addr(who), 30000, 0, nil, false); err == nil {
				d, _, err := readConfig(cc)
				switch {
				case err != nil:
					got = "unreadable (" + err.Error() + ")"
				case d == with:
					got = "the rejoin's"
				default:
					got = v.membership(d, nil)
				}
				cc.Close()
			}
			acct.expect(t, fmt.Sprintf("in the end, /zookeeper/config on %s: %s", who, got),
				fmt.Sprintf("in the end, /zookeeper/config on %s: the rejoin's", who))
		}
	})
}
