package conformance

import (
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
)

var (
	reVersion = regexp.MustCompile(`^3\.8\.0-\S+, built on \d{4}-\d\d-\d\d \d\d:\d\d UTC$`)
	reNumber  = regexp.MustCompile(`^-?\d+$`)
	reFloat   = regexp.MustCompile(`^-?\d+\.\d+$`)
	reLatency = regexp.MustCompile(`^\d+/\d+\.\d+/\d+$`)
	reDigits  = regexp.MustCompile(`\d+`)
	reSession = regexp.MustCompile(`0x[0-9a-f]+`)
	reDate    = regexp.MustCompile(`[A-Z][a-z]{2} [A-Z][a-z]{2} \d\d \d\d:\d\d:\d\d [A-Z]+ \d{4}`)
	reConn    = regexp.MustCompile(`^ /127\.0\.0\.1:\d+\[(\d+)\]\((.*)\)$`)
	rePort    = regexp.MustCompile(`:\d+`)
	// reLearnerSession is a session line of a follower's dump.
	reLearnerSession = regexp.MustCompile(`^(0x[0-9a-f]+)\t(\d+)ms$`)
	// reDigestLog is hash's answer: one "zxid: digest" line per 128 zxids.
	reDigestLog = regexp.MustCompile(`^([0-9a-f]+: \d+\n)*$`)
)

// shape reduces a value to its form: N for an integer, F for a decimal,
// V for a ZooKeeper version string, else the value itself.
func shape(v string) string {
	switch {
	case reNumber.MatchString(v):
		return "N"
	case reFloat.MatchString(v):
		return "F"
	case reVersion.MatchString(v):
		return "V"
	}
	return v
}

// hexSession renders a 0x session id symbolically.
func (e *env) hexSession(s string) string {
	v, err := strconv.ParseUint(strings.TrimPrefix(s, "0x"), 16, 64)
	if err != nil {
		return "bad(" + s + ")"
	}
	return e.sess(int64(v))
}

// hexZxid renders a 0x zxid as an offset.
func (e *env) hexZxid(s string) string {
	v, err := strconv.ParseUint(strings.TrimPrefix(s, "0x"), 16, 64)
	if err != nil {
		return "bad(" + s + ")"
	}
	return e.zx(int64(v))
}

// logWord records a four-letter word's answer line by line, each line
// passed through norm (which may drop it by returning "").
func (e *env) logWord(word, out string, norm func(line string) string) {
	e.logf("4lw %s: %d lines, trailing newline=%v", word, strings.Count(out, "\n"), strings.HasSuffix(out, "\n"))
	for _, l := range strings.Split(strings.TrimSuffix(out, "\n"), "\n") {
		if n := norm(l); n != "" {
			e.logf("  %s", n)
		}
	}
}

// exact records a word's answer verbatim.
func (e *env) exactWord(word string) {
	out := e.fourLetter(word)
	e.logf("4lw %s: %q", word, out)
}

// srvrLine normalizes one line of srvr or stat.
func (e *env) srvrLine(l string) string {
	k, v, ok := strings.Cut(l, ": ")
	if !ok {
		return "?" + l
	}
	switch k {
	case "Zookeeper version":
		return k + ": " + shape(v)
	case "Latency min/avg/max":
		if reLatency.MatchString(v) {
			return k + ": N/F/N"
		}
		return k + ": " + v
	case "Received", "Sent":
		return k + ": " + shape(v)
	case "Zxid":
		return k + ": " + e.hexZxid(v)
	}
	return l
}

// statWord records stat: srvr with a Clients block.
func (e *env) statWord() {
	out := e.fourLetter("stat")
	var clients []string
	inClients := false
	e.logWord("stat", out, func(l string) string {
		switch {
		case l == "Clients:":
			inClients = true
			return l
		case inClients && l == "":
			inClients = false
			sort.Strings(clients)
			return "clients=" + strings.Join(clients, " | ") + "\n  (blank)"
		case inClients:
			clients = append(clients, e.consLine(l))
			return ""
		}
		return e.srvrLine(l)
	})
}

// consLine normalizes a connection line of cons or stat.
func (e *env) consLine(l string) string {
	m := reConn.FindStringSubmatch(l)
	if m == nil {
		return "?" + l
	}
	var kv []string
	for _, f := range strings.Split(m[2], ",") {
		k, v, _ := strings.Cut(f, "=")
		switch k {
		case "sid":
			v = e.hexSession(v)
		case "lzxid":
			v = e.hexZxid(v)
		case "lop", "to", "lcxid":
		default:
			v = shape(v)
		}
		kv = append(kv, k+"="+v)
	}
	// The interest-ops flag in brackets flips with timing.
	return fmt.Sprintf(" /127.0.0.1:P[N](%s)", strings.Join(kv, ","))
}

// mntrCore are the mntr keys every 3.8 standalone server prints before its
// metrics registry; the inventory lists them. The suite compares these.
var mntrCore = []string{
	"zk_version", "zk_server_state", "zk_avg_latency", "zk_max_latency", "zk_min_latency",
	"zk_packets_received", "zk_packets_sent", "zk_num_alive_connections", "zk_outstanding_requests",
	"zk_znode_count", "zk_watch_count", "zk_ephemerals_count", "zk_approximate_data_size",
	"zk_open_file_descriptor_count", "zk_max_file_descriptor_count", "zk_uptime",
	"zk_global_sessions", "zk_local_sessions", "zk_connection_drop_probability",
	"zk_last_client_response_size", "zk_min_client_response_size", "zk_max_client_response_size",
	"zk_outstanding_tls_handshake", "zk_auth_failed_count", "zk_non_mtls_remote_conn_count",
	"zk_non_mtls_local_conn_count",
}

// mntrSummaryKeys are the mntr keys of the ServerMetrics summaries Meerkat
// measures: avg, min, max, cnt and sum of each, and the percentiles of
// the request latencies (ZooKeeper's ADVANCED detail level).
func mntrSummaryKeys() []string {
	var keys []string
	for _, name := range []string{"readlatency", "updatelatency", "fsynctime", "snapshottime", "dbinittime", "sync_processor_batch_size", "election_time"} {
		stats := []string{"avg", "min", "max", "cnt", "sum"}
		if name == "readlatency" || name == "updatelatency" {
			stats = append(stats, "p50", "p95", "p99", "p999")
		}
		for _, st := range stats {
			keys = append(keys, "zk_"+st+"_"+name)
		}
	}
	return keys
}

// mntrExact are the core keys whose values follow from the tree and the
// sessions, not from timing.
var mntrExact = map[string]bool{
	"zk_server_state": true, "zk_znode_count": true, "zk_watch_count": true,
	"zk_ephemerals_count": true, "zk_approximate_data_size": true, "zk_global_sessions": true,
	"zk_local_sessions": true, "zk_num_alive_connections": true, "zk_outstanding_requests": true,
	"zk_outstanding_tls_handshake": true, "zk_auth_failed_count": true,
	"zk_connection_drop_probability": true,
}

// mntrWord records the core mntr keys: presence, format and values where
// they are deterministic.
func (e *env) mntrWord() {
	out := e.fourLetter("mntr")
	got := map[string]string{}
	bad := 0
	for _, l := range strings.Split(strings.TrimSuffix(out, "\n"), "\n") {
		k, v, ok := strings.Cut(l, "\t")
		if !ok || !strings.HasPrefix(k, "zk_") {
			bad++
			continue
		}
		got[k] = v
	}
	e.logf("4lw mntr: malformed lines=%d trailing newline=%v", bad, strings.HasSuffix(out, "\n"))
	for _, k := range mntrCore {
		v, ok := got[k]
		switch {
		case !ok:
			e.logf("  %s missing", k)
		case mntrExact[k]:
			e.logf("  %s\t%s", k, v)
		default:
			e.logf("  %s\t%s", k, shape(v))
		}
	}
	for _, k := range mntrSummaryKeys() {
		if v, ok := got[k]; ok {
			e.logf("  %s\t%s", k, shape(v))
		} else {
			e.logf("  %s missing", k)
		}
	}
	if e.target != ensembleFollower {
		return
	}
	// An ensemble member adds its role's quorum keys; a follower's
	// (zk_peer_state, zk_quorum_size) follow from the ensemble's shape and
	// are compared as they are, the leader's must be missing.
	for _, k := range mntrQuorum {
		if v, ok := got[k]; ok {
			e.logf("  %s\t%s", k, v)
		} else {
			e.logf("  %s missing", k)
		}
	}
}

// mntrQuorum are the mntr keys a ZooKeeper 3.8 ensemble member adds for
// its role: the first two on every member, zk_observer_master_id on an
// observer, the others on the leader only.
var mntrQuorum = []string{
	"zk_peer_state", "zk_quorum_size", "zk_learners", "zk_synced_followers",
	"zk_synced_non_voting_followers", "zk_synced_observers", "zk_pending_syncs", "zk_leader_uptime",
	"zk_last_proposal_size", "zk_min_proposal_size", "zk_max_proposal_size", "zk_observer_master_id",
}

// fourLetterScenarios run on the fresh pair (every word whitelisted), after
// the system-node scenario, with sessions and watches they set up.
var fourLetterScenarios = []scenario{
	{"4lw_ruok", func(e *env) { e.exactWord("ruok") }},
	{"4lw_srvr", func(e *env) {
		a := e.connect("A")
		a.create(e.p(""), nil, 0)
		e.logWord("srvr", e.fourLetter("srvr"), e.srvrLine)
	}},
	{"4lw_stat", func(e *env) {
		a := e.connect("A")
		a.create(e.p(""), nil, 0)
		e.connect("B")
		e.statWord()
	}},
	{"4lw_conf", func(e *env) {
		out := e.fourLetter("conf")
		conf := map[string]string{}
		for _, l := range strings.Split(out, "\n") {
			if k, v, ok := strings.Cut(l, "="); ok {
				conf[k] = v
			}
		}
		e.logWord("conf", out, func(l string) string {
			if l == "membership: " {
				// An ensemble member's conf ends with its membership.
				return l
			}
			k, v, ok := strings.Cut(l, "=")
			if !ok {
				return "?" + l
			}
			switch {
			case k == "clientPort":
				return fmt.Sprintf("%s=port:%v", k, v == strconv.Itoa(e.srv.Port))
			case k == "serverId" && e.target == ensembleFollower:
				// Which member follows is the election's choice: the id
				// must be the member's own (its myid).
				myid, err := os.ReadFile(filepath.Join(e.srv.Dir, "data", "myid"))
				return fmt.Sprintf("%s=myid:%v", k, err == nil && strings.TrimSpace(string(myid)) == v)
			case k == "quorumPort", k == "electionPort":
				// An ensemble member's peer ports are free ports picked
				// for each run: they must be those of its own server.N
				// line (serverId is its myid).
				self := conf["server."+conf["serverId"]]
				own := conf["quorumPort"] != "" && conf["electionPort"] != "" &&
					strings.Contains(self, ":"+conf["quorumPort"]+":"+conf["electionPort"]+":")
				return fmt.Sprintf("%s=own:%v", k, own)
			case strings.HasPrefix(k, "server."):
				// The membership lines: the ports differ between any two
				// ensembles; the ids, hosts and roles must not.
				return k + "=" + rePort.ReplaceAllString(v, ":P")
			}
			switch k {
			case "dataDir", "dataLogDir":
				// Deliberate difference: ZooKeeper reports its snapshot
				// directory <dataDir>/version-2, a layout Meerkat does not
				// have; Meerkat reports the configured directory itself.
				// Both must be inside the configured one.
				return k + "=under-dataDir:" + strconv.FormatBool(strings.HasPrefix(v, e.srv.Dir+"/data"))
			case "dataDirSize", "dataLogSize":
				return k + "=" + shape(v)
			}
			return l
		})
	}},
	{"4lw_cons", func(e *env) {
		a := e.connect("A")
		a.create(e.p(""), nil, 0)
		a.exists(e.p(""), false)
		b := e.connect("B")
		b.getData(e.p(""), false)
		out := e.fourLetter("cons")
		var lines []string
		e.logWord("cons", out, func(l string) string {
			if l == "" {
				return "(blank)"
			}
			lines = append(lines, e.consLine(l))
			return ""
		})
		sort.Strings(lines)
		for _, l := range lines {
			e.logf("  %s", l)
		}
	}},
	{"4lw_crst_srst", func(e *env) {
		a := e.connect("A")
		a.ping()
		e.exactWord("crst")
		e.exactWord("srst")
		e.logWord("srvr", e.fourLetter("srvr"), e.srvrLine)
	}},
	{"4lw_envi", func(e *env) {
		e.logWord("envi", e.fourLetter("envi"), func(l string) string {
			k, v, ok := strings.Cut(l, "=")
			if !ok {
				return l
			}
			if k == "zookeeper.version" {
				return k + "=" + shape(v)
			}
			return k
		})
	}},
	{"4lw_mntr", func(e *env) {
		a := e.connect("A")
		a.create(e.p(""), []byte("data"), 0)
		a.create(e.p("eph"), nil, 1)
		a.getData(e.p(""), true)
		a.getChildren(e.p(""), true)
		e.mntrWord()
	}},
	{"4lw_watches", func(e *env) {
		a := e.connect("A")
		b := e.connect("B")
		a.create(e.p(""), nil, 0)
		a.create(e.p("x"), nil, 0)
		a.getData(e.p(""), true)
		a.exists(e.p("missing"), true)
		a.getChildren(e.p("x"), true)
		b.getData(e.p(""), true)
		b.addWatch(e.p("x"), modePersistent)
		e.exactWord("wchs")
		e.watchesWord("wchc")
		e.watchesWord("wchp")
	}},
	{"4lw_dump", func(e *env) {
		a := e.connect("A")
		b := e.connect("B")
		a.create(e.p(""), nil, 0)
		a.create(e.p("e1"), nil, 1)
		a.create(e.p("e2"), nil, 1)
		b.create(e.p("e3"), nil, 1)
		e.dumpWord()
	}},
	{"4lw_dirs_isro_gtmk_hash", func(e *env) {
		e.logWord("dirs", e.fourLetter("dirs"), func(l string) string {
			k, v, _ := strings.Cut(l, ": ")
			return k + ": " + shape(v)
		})
		e.exactWord("isro")
		e.exactWord("gtmk")
		if e.target != ensembleFollower {
			e.exactWord("hash")
			return
		}
		// Known difference on followers: a ZooKeeper 3.8 ensemble member
		// keeps a digest of its tree every 128 zxids (ZOOKEEPER-3114;
		// a standalone server keeps none) and hash lists them; the values
		// hash ZooKeeper's own node encoding, times included. Meerkat keeps
		// no digest and answers as ZooKeeper does with
		// zookeeper.digest.enabled=false: nothing. Harmless: the digests
		// only let ZooKeeper's members check one another. Both sides are
		// asserted separately.
		out := e.fourLetter("hash")
		if e.isZK {
			e.expect(reDigestLog.MatchString(out), "zookeeper's follower lists its digests, got %q", out)
		} else {
			e.expect(out == "", "meerkat's follower answers hash with nothing, got %q", out)
		}
		e.logf("4lw hash: known difference on followers (zookeeper: its digest log; meerkat: empty, as zookeeper with zookeeper.digest.enabled=false)")
	}},
	{"4lw_unknown_word", func(e *env) {
		e.exactWord("xxxx")
		e.exactWord("RUOK")
	}},
}

// halfClosedFourLetterScenarios play every four-letter scenario again with
// each word sent as `echo word | nc`, probes and zktop send it: followed
// by a newline and a shutdown of the sending side. ZooKeeper answers it
// all the same.
func halfClosedFourLetterScenarios() []scenario {
	out := make([]scenario, 0, len(fourLetterScenarios))
	for _, sc := range fourLetterScenarios {
		out = append(out, scenario{sc.name + "_half_closed", func(e *env) {
			e.halfClose = true
			sc.run(e)
		}})
	}
	return out
}

// watchesWord records wchc or wchp: blocks of a header line and tab-
// indented members, with sessions named and everything sorted.
func (e *env) watchesWord(word string) {
	out := e.fourLetter(word)
	blocks := map[string][]string{}
	var cur string
	for _, l := range strings.Split(out, "\n") {
		switch {
		case l == "":
		case strings.HasPrefix(l, "\t"):
			m := strings.TrimPrefix(l, "\t")
			if reSession.MatchString(m) && !strings.HasPrefix(m, "/") {
				m = e.hexSession(m)
			}
			blocks[cur] = append(blocks[cur], m)
		default:
			cur = l
			if !strings.HasPrefix(l, "/") {
				cur = e.hexSession(l)
			}
			if _, seen := blocks[cur]; !seen {
				blocks[cur] = nil // a block may list nothing
			}
		}
	}
	var keys []string
	for k := range blocks {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	e.logf("4lw %s: %d blocks, trailing newline=%v", word, len(keys), strings.HasSuffix(out, "\n"))
	for _, k := range keys {
		m := blocks[k]
		sort.Strings(m)
		e.logf("  %s: %v", k, m)
	}
}

// dumpWord records dump: its section headers, the sessions it lists, the
// ephemerals per session and the connections, each sorted.
func (e *env) dumpWord() {
	out := e.fourLetter("dump")
	var section string
	var sessions, conns, other []string
	eph := map[string][]string{}
	var owner string
	for _, l := range strings.Split(out, "\n") {
		switch {
		case l == "SessionTracker dump:", l == "ephemeral nodes dump:", l == "Connections dump:":
			section = l
			e.logf("  section %s", l)
			continue
		case l == "":
			continue
		}
		switch section {
		case "SessionTracker dump:":
			if strings.HasPrefix(l, "\t") {
				sessions = append(sessions, e.hexSession(strings.TrimSpace(l)))
			} else if m := reLearnerSession.FindStringSubmatch(l); m != nil {
				// A follower's tracker (ZooKeeper's LearnerSessionTracker)
				// lists every global session with its timeout under
				// "Global Sessions(N):", not in expiry buckets: only the
				// leader expires sessions.
				sessions = append(sessions, e.hexSession(m[1])+" timeout="+m[2]+"ms")
			} else {
				other = append(other, "tracker: "+reDigits.ReplaceAllString(reDate.ReplaceAllString(l, "DATE"), "N"))
			}
		case "ephemeral nodes dump:":
			switch {
			case strings.HasPrefix(l, "Sessions with Ephemerals"):
				e.logf("  %s", l)
			case strings.HasPrefix(l, "\t"):
				eph[owner] = append(eph[owner], strings.TrimSpace(l))
			default:
				owner = e.hexSession(strings.TrimSuffix(l, ":"))
			}
		case "Connections dump:":
			if strings.HasPrefix(l, "\t") {
				s := strings.TrimSpace(l)
				if i := strings.Index(s, "sessionId: "); i >= 0 {
					id := s[i+len("sessionId: "):]
					s = "sessionId: " + e.hexSession(id)
				}
				conns = append(conns, s)
			} else {
				other = append(other, "connections: "+reDigits.ReplaceAllString(reDate.ReplaceAllString(l, "DATE"), "N"))
			}
		default:
			other = append(other, "?"+l)
		}
	}
	sort.Strings(sessions)
	sort.Strings(conns)
	e.logf("  sessions %v", sessions)
	var owners []string
	for o := range eph {
		owners = append(owners, o)
	}
	sort.Strings(owners)
	for _, o := range owners {
		p := eph[o]
		sort.Strings(p)
		e.logf("  ephemerals of %s: %v", o, p)
	}
	e.logf("  connections %v", conns)
	// Bucket headers depend on timing; only their shapes are shown.
	shapes := map[string]bool{}
	for _, o := range other {
		shapes[o] = true
	}
	var sh []string
	for s := range shapes {
		sh = append(sh, s)
	}
	sort.Strings(sh)
	e.logf("  header shapes %v", sh)
}
