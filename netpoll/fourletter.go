package netpoll

import (
	"encoding/binary"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/meerkat-zk/meerkat/engine"
	"github.com/meerkat-zk/meerkat/pipeline"
	"github.com/meerkat-zk/meerkat/zkmetrics"
)

// Version is what the server reports as its ZooKeeper version. It keeps the
// 3.8.0 prefix that monitoring tools parse.
const Version = "3.8.0-meerkat, built on 2026-11-21 00:00 UTC"

// fourLetterWords are the commands ZooKeeper 3.8 knows, by their first four
// bytes read as a frame length.
var fourLetterWords = func() map[int32]string {
	m := map[int32]string{}
	for _, w := range []string{"conf", "cons", "crst", "dirs", "dump", "envi", "gtmk", "ruok",
		"stmk", "srst", "srvr", "stat", "wchc", "wchp", "wchs", "mntr", "isro", "hash"} {
		m[int32(binary.BigEndian.Uint32([]byte(w)))] = w
	}
	return m
}()

func fourLetterWord(n int32) (string, bool) {
	w, ok := fourLetterWords[n]
	return w, ok
}

// fourLetterWord answers a four-letter word. The answer may need every loop
// and the pipeline, so it is built on its own goroutine and written with
// AsyncWrite; the connection closes after it, as in ZooKeeper.
func (cn *conn) fourLetterWord(word string, rest []byte) {
	cn.state = stateClosing
	s := cn.loop.srv
	var mask []byte
	if word == "stmk" && len(rest) >= 8 {
		mask = append(mask, rest[:8]...)
	}
	rc := cn.rc
	go func() {
		var text string
		if !s.words["*"] && !s.words[word] {
			text = word + " is not executed because it is not in the whitelist.\n"
		} else {
			text = s.fourLetterText(word, mask)
		}
		// The client may have shut down its sending side meanwhile; it
		// gets the answer all the same, as from ZooKeeper.
		_ = rc.Loop().Execute(func() {
			rc.Write([]byte(text))
			rc.Close()
		})
	}()
}

// connInfo is one connection as stat, cons and dump show it.
type connInfo struct {
	remote string
	// interest is the interest ops ZooKeeper shows: read (1) unless the
	// connection is paused or has no session yet, write (4) while output
	// waits for the socket.
	interest  int
	queued    int
	stats     connStats
	sessionID int64
	timeout   int32
}

// loopReport is what one loop contributes to a four-letter word.
type loopReport struct {
	conns    []connInfo
	watchers map[int64][]string
	byPath   map[string][]int64
}

// onLoops runs fn on every loop's goroutine and waits for all of them. It
// must not be called from a loop.
func (s *Server) onLoops(fn func(*loop)) {
	loops := s.allLoops()
	done := make(chan struct{}, len(loops))
	for _, l := range loops {
		err := l.rl.Execute(func() {
			fn(l)
			done <- struct{}{}
		})
		if err != nil {
			done <- struct{}{}
		}
	}
	for range loops {
		<-done
	}
}

// report gathers every loop's connections and watches.
func (s *Server) report() []loopReport {
	var mu sync.Mutex
	var out []loopReport
	s.onLoops(func(l *loop) {
		r := loopReport{watchers: map[int64][]string{}, byPath: map[string][]int64{}}
		for cn := range l.conns {
			r.conns = append(r.conns, connInfo{
				remote: "/" + cn.rc.RemoteAddr().String(), interest: cn.interestOps(),
				queued: cn.pending(), stats: cn.stats, sessionID: cn.sessionID, timeout: cn.timeout,
			})
		}
		l.watches.ByWatcher(func(w *conn, paths []string) {
			r.watchers[w.sessionID] = append(r.watchers[w.sessionID], paths...)
		})
		l.watches.ByPath(func(p string, ws []*conn) {
			for _, w := range ws {
				r.byPath[p] = append(r.byPath[p], w.sessionID)
			}
		})
		mu.Lock()
		out = append(out, r)
		mu.Unlock()
	})
	return out
}

func (s *Server) fourLetterText(word string, mask []byte) string {
	var b strings.Builder
	if !s.serving() {
		// As ZooKeeper without a ZooKeeperServer: only these answer.
		switch word {
		case "ruok":
			return "imok"
		case "isro":
			return "null"
		case "gtmk":
			return "306"
		case "envi":
			s.writeEnv(&b)
			return b.String()
		}
		return notServing
	}
	switch word {
	case "ruok":
		return "imok"
	case "isro":
		if s.Mode() == ModeReadOnly {
			return "ro"
		}
		return "rw"
	case "gtmk":
		return "306"
	case "stmk":
		if len(mask) < 8 {
			return ""
		}
		return strconv.FormatInt(int64(binary.BigEndian.Uint64(mask)), 10)
	case "hash":
		return ""
	case "srvr", "stat":
		s.writeStat(&b, word == "stat")
	case "cons":
		for _, r := range s.report() {
			for _, c := range r.conns {
				writeConnInfo(&b, c, false)
				b.WriteString("\n")
			}
		}
		b.WriteString("\n")
	case "crst":
		s.resetConnectionStats()
		return "Connection stats reset.\n"
	case "srst":
		s.resetServerStats()
		return "Server stats reset.\n"
	case "conf":
		s.writeConf(&b)
	case "envi":
		s.writeEnv(&b)
	case "dirs":
		fmt.Fprintf(&b, "datadir_size: %d\nlogdir_size: %d\n", s.dirSize(s.cfg.Info.DataDir), s.dirSize(s.cfg.Info.DataLogDir))
	case "dump":
		s.writeDump(&b)
	case "wchs", "wchc", "wchp":
		s.writeWatches(&b, word)
	case "mntr":
		s.writeMonitor(&b)
	}
	return b.String()
}

// resetConnectionStats forgets every connection's counters (crst).
func (s *Server) resetConnectionStats() {
	s.onLoops(func(l *loop) {
		for cn := range l.conns {
			cn.stats = connStats{established: cn.stats.established}
		}
	})
}

// resetServerStats forgets the server's counters and summaries (srst).
func (s *Server) resetServerStats() {
	s.onLoops(func(l *loop) {
		l.stats.received, l.stats.sent = 0, 0
		l.stats.reads, l.stats.updates = zkmetrics.Histogram{}, zkmetrics.Histogram{}
	})
	zkmetrics.ResetAll()
}

func (s *Server) dirSize(dir string) int64 {
	if s.cfg.Info.DirSize == nil || dir == "" {
		return 0
	}
	return s.cfg.Info.DirSize(dir)
}

// loopTotals are the loops' counters summed.
type loopTotals struct {
	received, sent, conns, outstanding, watches int64
	reads, updates                              zkmetrics.Histogram
}

// latency returns the latencies of every request, reads and writes.
func (t *loopTotals) latency() zkmetrics.Histogram {
	var all zkmetrics.Histogram
	all.Merge(&t.reads)
	all.Merge(&t.updates)
	return all
}

// serverTotals sums the loops' counters, read on each loop.
func (s *Server) serverTotals() loopTotals {
	var mu sync.Mutex
	var t loopTotals
	s.onLoops(func(l *loop) {
		mu.Lock()
		defer mu.Unlock()
		for cn := range l.conns {
			t.outstanding += int64(cn.pending())
		}
		t.received += l.stats.received
		t.sent += l.stats.sent
		t.conns += l.stats.connections
		t.watches += int64(l.watches.Count())
		t.reads.Merge(&l.stats.reads)
		t.updates.Merge(&l.stats.updates)
	})
	return t
}

func (s *Server) writeStat(b *strings.Builder, withClients bool) {
	b.WriteString("Zookeeper version: " + Version + "\n")
	if s.Mode() == ModeReadOnly {
		b.WriteString("READ-ONLY mode; serving only read-only clients\n")
	}
	if withClients {
		b.WriteString("Clients:\n")
		for _, r := range s.report() {
			for _, c := range r.conns {
				writeConnInfo(b, c, true)
				b.WriteString("\n")
			}
		}
		b.WriteString("\n")
	}
	t := s.serverTotals()
	lat := t.latency()
	v := s.pipe.View()
	fmt.Fprintf(b, "Latency min/avg/max: %d/%s/%d\n", lat.Min, zkmetrics.JavaDouble(lat.Avg()), lat.Max)
	fmt.Fprintf(b, "Received: %d\nSent: %d\nConnections: %d\nOutstanding: %d\n", t.received, t.sent, t.conns, t.outstanding)
	mode := s.Mode()
	if mode == ModeNotServing {
		// The member lost its leader while the answer was being put
		// together (serverTotals waits for every loop): answer as from
		// then on, not with an empty mode.
		b.Reset()
		b.WriteString(notServing)
		return
	}
	fmt.Fprintf(b, "Zxid: 0x%s\nMode: %s\nNode count: %d\n", hex(v.Zxid), mode, nodeCount(v))
	if q, ok := s.quorum(); ok && mode == ModeLeader {
		fmt.Fprintf(b, "Proposal sizes last/min/max: %d/%d/%d\n", q.ProposalLast, q.ProposalMin, q.ProposalMax)
	}
}

// nodeCount is the node count ZooKeeper reports: its node map holds the
// root under both "" and "/".
func nodeCount(v *engine.View) int { return v.Tree.Count() + 1 }

func writeConnInfo(b *strings.Builder, c connInfo, brief bool) {
	fmt.Fprintf(b, " %s[%d](queued=%d,recved=%d,sent=%d", c.remote, c.interest, c.queued, c.stats.received, c.stats.sent)
	if !brief && c.sessionID != 0 {
		st := c.stats
		fmt.Fprintf(b, ",sid=0x%s,lop=%s,est=%d,to=%d", hex(c.sessionID), orNA(st.lastOp), st.established.UnixMilli(), c.timeout)
		if st.lastCxid >= 0 {
			fmt.Fprintf(b, ",lcxid=0x%s", hex(int64(st.lastCxid)))
		}
		fmt.Fprintf(b, ",lzxid=0x%s,lresp=%d,llat=%d,minlat=%d,avglat=%d,maxlat=%d",
			hex(st.lastZxid), st.lastResp.UnixMilli(), st.lastLatency, st.latency.min, st.latency.avg(), st.latency.max)
	}
	b.WriteString(")")
}

func orNA(s string) string {
	if s == "" {
		return "NA"
	}
	return s
}

func (s *Server) writeConf(b *strings.Builder) {
	c := s.cfg
	secure := -1
	if a := s.SecureAddr(); a != nil {
		secure = a.Port
	}
	fmt.Fprintf(b, "clientPort=%d\nsecureClientPort=%d\n", c.Info.ClientPort, secure)
	fmt.Fprintf(b, "dataDir=%s\ndataDirSize=%d\n", c.Info.DataDir, s.dirSize(c.Info.DataDir))
	fmt.Fprintf(b, "dataLogDir=%s\ndataLogSize=%d\n", c.Info.DataLogDir, s.dirSize(c.Info.DataLogDir))
	fmt.Fprintf(b, "tickTime=%d\nmaxClientCnxns=%d\n", c.Tick.Milliseconds(), c.MaxClientCnxns)
	fmt.Fprintf(b, "minSessionTimeout=%d\nmaxSessionTimeout=%d\n", c.MinSessionTimeout.Milliseconds(), c.MaxSessionTimeout.Milliseconds())
	fmt.Fprintf(b, "clientPortListenBacklog=-1\nserverId=%d\n", c.Info.ServerID)
	if c.Info.Membership != nil {
		var text string
		if n, ok := s.pipe.View().Tree.Get(engine.ConfigNodePath); ok {
			text = string(n.Data())
		}
		writeMembership(b, c.Info.Membership, text)
	}
}

// envEntries lists the environment under ZooKeeper's keys; the java.*
// keys describe the Go runtime, which is what runs here.
func envEntries() [][2]string {
	host, _ := os.Hostname()
	wd, _ := os.Getwd()
	exe, _ := os.Executable()
	home, _ := os.UserHomeDir()
	user := os.Getenv("USER")
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return [][2]string{
		{"zookeeper.version", Version},
		{"host.name", host},
		{"java.version", runtime.Version()},
		{"java.vendor", "Meerkat (Go runtime)"},
		{"java.home", filepath.Dir(exe)}, // the Go runtime lives in the binary
		{"java.class.path", exe},
		{"java.library.path", ""},
		{"java.io.tmpdir", os.TempDir()},
		{"java.compiler", "<NA>"},
		{"os.name", strings.ToUpper(runtime.GOOS[:1]) + runtime.GOOS[1:]},
		{"os.arch", runtime.GOARCH},
		{"os.version", kernelVersion()},
		{"user.name", user},
		{"user.home", home},
		{"user.dir", wd},
		{"os.memory.free", strconv.FormatUint((ms.HeapIdle)>>20, 10) + "MB"},
		{"os.memory.max", strconv.FormatUint(ms.Sys>>20, 10) + "MB"},
		{"os.memory.total", strconv.FormatUint(ms.HeapSys>>20, 10) + "MB"},
	}
}

func (s *Server) writeEnv(b *strings.Builder) {
	b.WriteString("Environment:\n")
	for _, kv := range envEntries() {
		b.WriteString(kv[0] + "=" + kv[1] + "\n")
	}
}

func kernelVersion() string {
	b, err := os.ReadFile("/proc/sys/kernel/osrelease")
	if err != nil {
		return ""
	}
	return strings.TrimSpace(string(b))
}

// sessionSets are session ids by the time they expire.
type sessionSets map[int64][]int64

func (ss sessionSets) add(at, id int64) { ss[at] = append(ss[at], id) }

// write prints the sets under title, as ZooKeeper's ExpiryQueue.dump.
func (ss sessionSets) write(b *strings.Builder, title string) {
	total := 0
	for _, ids := range ss {
		total += len(ids)
	}
	fmt.Fprintf(b, "%s (%d)/(%d):\n", title, len(ss), total)
	for _, t := range slices.Sorted(maps.Keys(ss)) {
		fmt.Fprintf(b, "%d expire at %s:\n", len(ss[t]), javaDate(time.UnixMilli(t)))
		for _, id := range ss[t] {
			fmt.Fprintf(b, "\t0x%s\n", hex(id))
		}
	}
}

// javaDate formats t as java.util.Date.toString.
func javaDate(t time.Time) string { return t.Format("Mon Jan 02 15:04:05 MST 2006") }

// sessionDump is what the dump word and command show of the sessions.
type sessionDump struct {
	// global and local are the sessions by the time they expire;
	// timeouts the global sessions' timeouts.
	global, local sessionSets
	timeouts      map[int64]int32
	// ephemerals are the sessions that own ephemerals, with the paths.
	ephemerals []sessionEphemerals
}

type sessionEphemerals struct {
	id    int64
	paths []string
}

func (s *Server) sessionDump() sessionDump {
	tick := s.cfg.Tick.Milliseconds()
	d := sessionDump{global: sessionSets{}, local: sessionSets{}, timeouts: map[int64]int32{}}
	_ = s.pipe.Inspect(func(st *engine.State, sessions map[int64]*pipeline.Session) {
		for id, ss := range sessions {
			if ss.Local() {
				d.local.add(pipeline.ExpiresAt(ss, tick), id)
				continue
			}
			d.global.add(pipeline.ExpiresAt(ss, tick), id)
			d.timeouts[id] = ss.Timeout
		}
		st.Sessions(func(ss *engine.Session) {
			if ss.EphemeralCount() > 0 {
				d.ephemerals = append(d.ephemerals, sessionEphemerals{ss.ID, ss.Ephemerals()})
			}
		})
	})
	return d
}

func (s *Server) writeDump(b *strings.Builder) {
	// Expiry buckets of the global and the local sessions, as ZooKeeper's
	// session trackers print them.
	d := s.sessionDump()
	b.WriteString("SessionTracker dump:\n")
	if s.cfg.LocalSessions {
		d.local.write(b, "Local Session Sets")
	}
	switch mode := s.Mode(); {
	case mode == ModeFollower || mode == ModeObserver:
		// A learner does not expire global sessions: ZooKeeper's
		// LearnerSessionTracker lists each with its timeout, by id.
		fmt.Fprintf(b, "Global Sessions(%d):\n", len(d.timeouts))
		for _, id := range slices.Sorted(maps.Keys(d.timeouts)) {
			fmt.Fprintf(b, "0x%s\t%dms\n", hex(id), d.timeouts[id])
		}
	case s.cfg.LocalSessions:
		d.global.write(b, "Global Session Sets")
	default:
		d.global.write(b, "Session Sets")
	}
	b.WriteString("ephemeral nodes dump:\n")
	fmt.Fprintf(b, "Sessions with Ephemerals (%d):\n", len(d.ephemerals))
	for _, e := range d.ephemerals {
		fmt.Fprintf(b, "0x%s:\n", hex(e.id))
		for _, p := range e.paths {
			b.WriteString("\t" + p + "\n")
		}
	}
	b.WriteString("Connections dump:\n")
	var conns []connInfo
	for _, r := range s.report() {
		conns = append(conns, r.conns...)
	}
	fmt.Fprintf(b, "Connections Sets (%d)/(%d):\n", min(1, len(conns)), len(conns))
	if len(conns) > 0 {
		fmt.Fprintf(b, "%d expire at %s:\n", len(conns), javaDate(time.Now().Add(s.cfg.MaxSessionTimeout)))
		for _, c := range conns {
			fmt.Fprintf(b, "\tip: %s sessionId: 0x%s\n", c.remote, hex(c.sessionID))
		}
	}
}

// watchMaps gathers the watches of every loop: the paths each session
// watches, and the sessions watching each path.
func (s *Server) watchMaps() (watchers map[int64][]string, byPath map[string][]int64) {
	watchers, byPath = map[int64][]string{}, map[string][]int64{}
	for _, r := range s.report() {
		for id, ps := range r.watchers {
			watchers[id] = append(watchers[id], ps...)
		}
		for p, ids := range r.byPath {
			byPath[p] = append(byPath[p], ids...)
		}
	}
	return watchers, byPath
}

func (s *Server) writeWatches(b *strings.Builder, word string) {
	watchers, byPath := s.watchMaps()
	switch word {
	case "wchs":
		total := 0
		for _, ps := range watchers {
			total += len(ps)
		}
		fmt.Fprintf(b, "%d connections watching %d paths\nTotal watches:%d\n", len(watchers), len(byPath), total)
	case "wchc":
		for id, ps := range watchers {
			fmt.Fprintf(b, "0x%s\n", hex(id))
			for _, p := range ps {
				b.WriteString("\t" + p + "\n")
			}
		}
		b.WriteString("\n")
	case "wchp":
		for p, ids := range byPath {
			b.WriteString(p + "\n")
			for _, id := range ids {
				fmt.Fprintf(b, "\t0x%s\n", hex(id))
			}
		}
		b.WriteString("\n")
	}
}

func (s *Server) writeMonitor(b *strings.Builder) { s.Metrics().WriteMntr(b) }

// Metrics reads what the server publishes under ZooKeeper's names: mntr's
// gauges in mntr's order, then the ServerMetrics summaries (readlatency and
// updatelatency from the loops, the others from the parts that record them).
func (s *Server) Metrics() zkmetrics.Snapshot {
	t := s.serverTotals()
	lat := t.latency()
	var ephemerals, sessions, locals int
	_ = s.pipe.Inspect(func(st *engine.State, ss map[int64]*pipeline.Session) {
		for _, s := range ss {
			if s.Local() {
				locals++
			}
		}
		sessions = len(ss) - locals
		st.Sessions(func(s *engine.Session) { ephemerals += s.EphemeralCount() })
	})
	v := s.pipe.View()
	fds := 0
	if ents, err := os.ReadDir("/proc/self/fd"); err == nil {
		fds = len(ents)
	}
	mode := s.Mode()
	_, tlsFailed, tlsPending := s.TLSHandshakes()
	gauges := []zkmetrics.Gauge{{Name: "version", Value: Version}, {Name: "server_state", Value: mode}}
	if q, ok := s.quorum(); ok && mode != ModeReadOnly {
		gauges = append(gauges, monitorQuorum(mode, q)...)
	}
	gauges = append(gauges, []zkmetrics.Gauge{
		{Name: "ephemerals_count", Value: ephemerals},
		{Name: "num_alive_connections", Value: t.conns},
		{Name: "avg_latency", Value: lat.Avg()},
		{Name: "outstanding_requests", Value: t.outstanding},
		{Name: "znode_count", Value: nodeCount(v)},
		{Name: "global_sessions", Value: sessions},
		{Name: "non_mtls_remote_conn_count", Value: 0},
		{Name: "last_client_response_size", Value: -1},
		{Name: "packets_sent", Value: t.sent},
		{Name: "packets_received", Value: t.received},
		{Name: "max_client_response_size", Value: -1},
		{Name: "connection_drop_probability", Value: s.throttle.DropChance()},
		{Name: "watch_count", Value: t.watches},
		{Name: "auth_failed_count", Value: s.shed.authFailed.Load() + tlsFailed},
		{Name: "min_latency", Value: lat.Min},
		{Name: "max_file_descriptor_count", Value: maxFDs()},
		{Name: "approximate_data_size", Value: v.Tree.DataSize()},
		{Name: "open_file_descriptor_count", Value: fds},
		{Name: "local_sessions", Value: locals},
		{Name: "uptime", Value: time.Since(s.started).Milliseconds()},
		{Name: "max_latency", Value: lat.Max},
		{Name: "outstanding_tls_handshake", Value: tlsPending},
		{Name: "min_client_response_size", Value: -1},
		{Name: "non_mtls_local_conn_count", Value: 0},
		{Name: "connection_rejected", Value: s.shed.rejected.Load()},
		{Name: "connection_request_count", Value: s.shed.connectRequests.Load()},
		{Name: "unsuccessful_handshake", Value: tlsFailed},
	}...)
	summaries := append([]zkmetrics.SummaryValue{
		{Name: "readlatency", Level: zkmetrics.Advanced, Histogram: t.reads},
		{Name: "updatelatency", Level: zkmetrics.Advanced, Histogram: t.updates},
	}, zkmetrics.Summaries()...)
	return zkmetrics.Snapshot{Gauges: gauges, Summaries: summaries}
}

func maxFDs() uint64 {
	b, err := os.ReadFile("/proc/self/limits")
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(b), "\n") {
		if strings.HasPrefix(line, "Max open files") {
			f := strings.Fields(line)
			if len(f) >= 4 {
				n, _ := strconv.ParseUint(f[3], 10, 64)
				return n
			}
		}
	}
	return 0
}
