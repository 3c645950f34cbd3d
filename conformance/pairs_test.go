package conformance

import (
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/meerkat-zk/meerkat/internal/zktest"
	"github.com/meerkat-zk/meerkat/jute"
)

// TestFreshServer plays scenarios that need an untouched tree (the system
// nodes' initial stats) or extended types off, then the four-letter words.
func TestFreshServer(t *testing.T) {
	t.Parallel()
	p := startPair(t, zktest.Options{}, standalone)
	runPair(t, p, slices.Concat(freshScenarios, fourLetterScenarios, halfClosedFourLetterScenarios()))
}

// freshScenarios run first on a fresh pair, in this order.
var freshScenarios = []scenario{
	{"system_nodes_initial_stats", func(e *env) {
		a := e.connect("A")
		for _, p := range []string{"/", "/zookeeper", "/zookeeper/quota", "/zookeeper/config"} {
			a.exists(p, false)
			a.getData(p, false)
			a.getACL(p)
			a.getChildren2(p, false)
			a.getAllChildrenNumber(p)
		}
		a.getEphemerals("/")
	}},
	{"root_children_and_sequence", func(e *env) {
		a := e.connect("A")
		a.create("/fresh-a", nil, 0)
		a.exists("/", false)
		a.create("/fresh-seq-", nil, 2)
		a.exists("/", false)
		a.delete("/fresh-a", -1)
		a.exists("/", false)
		a.create("/zookeeper/extra", nil, 0)
		a.exists("/zookeeper", false)
		a.delete("/zookeeper/extra", -1)
		a.exists("/zookeeper", false)
		a.getChildren("/", false)
	}},
	{"ttl_disabled_without_extended_types", func(e *env) {
		a := e.connect("A")
		a.create(e.p(""), nil, 0)
		a.createTTL(e.p("t"), nil, 5, 1000)
		a.createTTL(e.p("t0"), nil, 5, 0)
		a.createTTL(e.p("tf"), nil, 0, 1000)
		a.multi(mCreate(e.p("a"), nil, 0), multiOp{jute.OpCreateTTL, createTTLBody(e.p("t"), nil, openACL, 5, 1000)})
		a.createContainer(e.p("c"), nil)
		a.delete(e.p("c"), -1)
		a.getChildren(e.p(""), false)
	}},
}

// TestFourLetterWhitelist checks words outside 4lw.commands.whitelist.
func TestFourLetterWhitelist(t *testing.T) {
	t.Parallel()
	p := startPair(t, zktest.Options{Extra: []string{"4lw.commands.whitelist=ruok,srvr"}}, standalone)
	runPair(t, p, []scenario{
		{"4lw_whitelist_allows_srvr", func(e *env) {
			e.logWord("srvr", e.fourLetter("srvr"), e.srvrLine)
		}},
		{"4lw_not_whitelisted", func(e *env) {
			for _, w := range []string{"ruok", "stat", "mntr", "conf", "cons", "crst", "srst", "envi",
				"wchs", "wchc", "wchp", "dump", "dirs", "isro", "gtmk", "hash", "xxxx"} {
				e.exactWord(w)
			}
		}},
	})
}

// expiryTick is the tickTime of TestSessionExpiry, in ms: sessions may time
// out in two ticks. Every margin below survives one server stalling for
// more than a second (a loaded two-core machine does that) without
// changing what the scenarios compare.
const expiryTick = 1000

// TestSessionExpiry runs with tickTime 1 s, so sessions may time out in
// 2 s.
func TestSessionExpiry(t *testing.T) {
	t.Parallel()
	p := startPair(t, zktest.Options{TickTime: expiryTick}, standalone)
	runPair(t, p, expiryScenarios)
}

var expiryScenarios = []scenario{
	{"expiry_timeout_negotiation", func(e *env) {
		for i, to := range []int32{1, 1999, 2000, 5000, 20000, 100000} {
			c := e.connectWith(fmt.Sprintf("C%d", i), connectOpts{timeout: to})
			c.ping()
			// Closed at once: a session left idle for the rest of the
			// scenario may expire (2 s) before cleanup on one server and
			// not the other.
			c.closeSession()
		}
	}},
	{"expiry_deletes_ephemerals_and_fires_watches", func(e *env) {
		w := e.connectWith("W", connectOpts{timeout: 20000})
		a := e.connectWith("A", connectOpts{timeout: 2000})
		a.create(e.p(""), nil, 0)
		a.create(e.p("eph"), []byte("x"), 1)
		a.create(e.p("eph-"), nil, 3)
		w.exists(e.p("eph"), true)
		w.getChildren(e.p(""), true)
		// Stop pinging: drop the socket without closeSession.
		a.close()
		a.dropped = true
		w.waitEvent(replyTimeout)
		w.waitEvent(replyTimeout)
		w.getChildren2(e.p(""), false)
		w.exists(e.p("eph"), false)
		e.tryConnect("A2", connectOpts{timeout: 2000, sessionID: a.sessionID, passwd: a.passwd})
		e.closed[a.sessionID] = true
	}},
	{"expiry_idle_connection_closed", func(e *env) {
		a := e.connectWith("A", connectOpts{timeout: 2000})
		a.create(e.p(""), nil, 0)
		a.create(e.p("eph"), nil, 1)
		// The socket stays open but idle: the server expires the session
		// and closes the connection.
		closed, frames := a.waitClosed(replyTimeout)
		a.dropped = a.dropped || closed
		for _, f := range frames {
			e.logf("A: frame xid=%d err=%s", f.hdr.Xid, f.hdr.Err.String())
		}
		e.logf("A: closed by server: %v", closed)
		e.closed[a.sessionID] = true
		b := e.connect("B")
		b.exists(e.p("eph"), false)
	}},
	{"expiry_kept_alive_by_pings", func(e *env) {
		a := e.connectWith("A", connectOpts{timeout: 2000})
		a.create(e.p(""), nil, 0)
		a.create(e.p("eph"), nil, 1)
		// Ping every 100 ms for 4.5 s, more than twice the timeout; the
		// pings themselves are not recorded (their count is timing).
		for i := 0; i < 45; i++ {
			time.Sleep(100 * time.Millisecond)
			if _, err := a.callXid(jute.XidPing, jute.OpPing, nil, replyTimeout); err != nil {
				e.logf("A: ping %d: %v", i, err)
				break
			}
		}
		a.exists(e.p("eph"), false)
	}},
	{"expiry_reconnect_in_time", func(e *env) {
		a := e.connectWith("A", connectOpts{timeout: 20000})
		a.create(e.p(""), nil, 0)
		a.create(e.p("eph"), nil, 1)
		a.close()
		a.dropped = true
		r, ok := a.reconnect("A2")
		if ok {
			r.exists(e.p("eph"), false)
		}
	}},
}

// TestContainerSweep runs with a container/TTL sweep every 500 ms.
func TestContainerSweep(t *testing.T) {
	t.Parallel()
	p := startPair(t, zktest.Options{ExtendedTypes: true, Extra: []string{"znode.container.checkIntervalMs=500"}}, standalone)
	runPair(t, p, sweepScenarios)
}

// sweepWait bounds the wait for a sweep to act.
const sweepWait = 10 * time.Second

var sweepScenarios = []scenario{
	{"container_deleted_after_last_child", func(e *env) {
		a := e.connect("A")
		w := e.connect("W")
		a.create(e.p(""), nil, 0)
		a.createContainer(e.p("c"), []byte("d"))
		a.create(e.p("c/x"), nil, 0)
		a.create(e.p("c/y"), nil, 0)
		w.exists(e.p("c"), true)
		a.delete(e.p("c/x"), -1)
		a.delete(e.p("c/y"), -1)
		w.waitEvent(sweepWait)
		a.exists(e.p("c"), false)
		a.getChildren2(e.p(""), false)
	}},
	{"container_never_used_stays", func(e *env) {
		a := e.connect("A")
		w := e.connect("W")
		a.create(e.p(""), nil, 0)
		a.createContainer(e.p("never"), nil)
		a.createContainer(e.p("used"), nil)
		a.create(e.p("used/x"), nil, 0)
		w.exists(e.p("used"), true)
		w.exists(e.p("never"), true)
		a.delete(e.p("used/x"), -1)
		w.waitEvent(sweepWait)
		// Another sweep that deletes a used container.
		a.createContainer(e.p("used2"), nil)
		a.create(e.p("used2/x"), nil, 0)
		w.exists(e.p("used2"), true)
		a.delete(e.p("used2/x"), -1)
		w.waitEvent(sweepWait)
		a.exists(e.p("never"), false)
		a.delete(e.p("never"), -1)
	}},
	{"container_with_ephemeral_child_of_closed_session", func(e *env) {
		a := e.connect("A")
		b := e.connect("B")
		w := e.connect("W")
		a.create(e.p(""), nil, 0)
		a.createContainer(e.p("c"), nil)
		b.create(e.p("c/eph"), nil, 1)
		w.exists(e.p("c"), true)
		b.closeSession()
		w.waitEvent(sweepWait)
		a.exists(e.p("c"), false)
	}},
	{"ttl_deleted_when_childless", func(e *env) {
		a := e.connect("A")
		w := e.connect("W")
		a.create(e.p(""), nil, 0)
		a.createTTL(e.p("t"), []byte("x"), 5, 300)
		w.exists(e.p("t"), true)
		w.waitEvent(sweepWait)
		a.exists(e.p("t"), false)
	}},
	{"ttl_with_child_kept_until_empty", func(e *env) {
		a := e.connect("A")
		w := e.connect("W")
		a.create(e.p(""), nil, 0)
		a.createTTL(e.p("ref"), nil, 5, 300)
		a.createTTL(e.p("t"), nil, 5, 300)
		a.create(e.p("t/c"), nil, 0)
		w.exists(e.p("ref"), true)
		w.waitEvent(sweepWait)
		a.exists(e.p("t"), false)
		w.exists(e.p("t"), true)
		a.delete(e.p("t/c"), -1)
		w.waitEvent(sweepWait)
		a.exists(e.p("t"), false)
	}},
	{"ttl_sequential_expires", func(e *env) {
		a := e.connect("A")
		w := e.connect("W")
		a.create(e.p(""), nil, 0)
		p, _, _ := a.createTTL(e.p("s-"), nil, 6, 300)
		w.exists(p, true)
		w.waitEvent(sweepWait)
		a.getChildren2(e.p(""), false)
	}},
	{"ttl_refreshed_by_setData", func(e *env) {
		a := e.connect("A")
		w := e.connect("W")
		a.create(e.p(""), nil, 0)
		a.createTTL(e.p("ref"), nil, 5, 1500)
		a.createTTL(e.p("kept"), nil, 5, 3000)
		w.exists(e.p("ref"), true)
		// Refresh kept every 200 ms for 5 s: past its 3 s TTL and two
		// sweeps, so it is still there only because it was refreshed, and
		// with room for a stall of over 2 s between two refreshes. ref, not
		// refreshed, expires meanwhile. The number of setData calls
		// depends on timing, so they are not recorded and zxids are not
		// compared from here on.
		end := time.Now().Add(5 * time.Second)
		expired := false
		for time.Now().Before(end) {
			if _, err := a.callXid(a.nextXid(), jute.OpSetData, setDataBody(e.p("kept"), []byte("r"), -1), replyTimeout); err != nil {
				e.logf("A: refresh: %v", err)
				break
			}
			if expired {
				time.Sleep(200 * time.Millisecond)
			} else if _, err := w.event(200 * time.Millisecond); err == nil {
				expired = true
			}
		}
		e.hasBase = false
		e.logf("ref expired while kept was refreshed: %v", expired)
		a.exists(e.p("ref"), false)
		f, err := a.callXid(a.nextXid(), jute.OpExists, pathWatchBody(e.p("kept"), false), replyTimeout)
		kept := err == nil && f.hdr.Err == jute.CodeOK && decodeStat(f.body).Version > 0
		e.logf("kept exists with refreshed data: %v", kept)
		a.delete(e.p("kept"), -1)
	}},
}

// TestEnforcedQuota runs with zookeeper.enforceQuota=true: writes past a
// quota's hard limits fail QUOTAEXCEEDED, soft limits never do.
func TestEnforcedQuota(t *testing.T) {
	t.Parallel()
	p := startPair(t, zktest.Options{Extra: []string{"zookeeper.enforceQuota=true"}}, standalone)
	runPair(t, p, enforcedQuotaScenarios)
}

// setQuota makes path a quota root with the given limits, then creates its
// stats node, which the server fills with the subtree's usage.
func (c *client) setQuota(path, limits string) {
	q := "/zookeeper/quota" + path
	c.create(q, nil, 0)
	c.create(q+"/zookeeper_limits", []byte(limits), 0)
	c.create(q+"/zookeeper_stats", []byte("count=0,bytes=0"), 0)
	c.getData(q+"/zookeeper_stats", false)
}

var enforcedQuotaScenarios = []scenario{
	{"quota_enforced_count_hard_limit", func(e *env) {
		a := e.connect("A")
		a.create(e.p(""), []byte("12345"), 0)
		a.create(e.p("a"), nil, 0)
		// As zkCli's setquota -N 3 writes it.
		a.setQuota(e.p(""), "count=-1,bytes=-1=;byteHardLimit=-1;countHardLimit=3")
		a.create(e.p("b"), nil, 0)
		a.create(e.p("c"), nil, 0)
		a.create(e.p("s-"), nil, 2)
		a.create(e.p("e"), nil, 1)
		a.createContainer(e.p("k"), nil)
		a.setData(e.p("a"), []byte("any size: no byte limit"), -1)
		// ZooKeeper checks each op of a multi against the tree before the
		// multi: a delete in it frees nothing for the create after it.
		a.multi(mDelete(e.p("b"), -1), mCreate(e.p("x"), nil, 0))
		a.delete(e.p("b"), -1)
		a.create(e.p("s-"), nil, 2)
		a.getChildren(e.p(""), false)
		a.getData("/zookeeper/quota"+e.p("")+"/zookeeper_stats", false)
	}},
	{"quota_enforced_multi_checks_the_tree_before_it", func(e *env) {
		a := e.connect("A")
		a.create(e.p(""), nil, 0)
		a.setQuota(e.p(""), "countHardLimit=2")
		// Each create alone fits (1 + 1 <= 2), so both pass.
		a.multi(mCreate(e.p("x"), nil, 0), mCreate(e.p("y"), nil, 0))
		a.getData("/zookeeper/quota"+e.p("")+"/zookeeper_stats", false)
		a.create(e.p("z"), nil, 0)
		a.multi(mCreate(e.p("z"), nil, 0), mSetData(e.p("x"), []byte("d"), -1))
	}},
	{"quota_enforced_byte_hard_limit", func(e *env) {
		a := e.connect("A")
		a.create(e.p(""), []byte("12345"), 0)
		a.create(e.p("a"), nil, 0)
		a.setQuota(e.p(""), "count=-1,bytes=-1=;byteHardLimit=10;countHardLimit=-1")
		a.setData(e.p(""), []byte("1234567890"), -1)
		a.setData(e.p("a"), []byte("x"), -1)
		// The quota is checked before the version.
		a.setData(e.p("a"), []byte("x"), 7)
		a.setData(e.p(""), []byte("123"), 7)
		a.setData(e.p(""), []byte("abcdefghij"), -1)
		a.create(e.p("empty"), nil, 0)
		a.create(e.p("one"), []byte("1"), 0)
		a.setData(e.p(""), nil, -1)
		a.create(e.p("one"), []byte("1"), 0)
		a.getData("/zookeeper/quota"+e.p("")+"/zookeeper_stats", false)
	}},
	{"quota_enforced_soft_limits_never_refuse", func(e *env) {
		a := e.connect("A")
		a.create(e.p(""), nil, 0)
		a.setQuota(e.p(""), "count=1,bytes=1")
		a.create(e.p("a"), []byte("more than one byte"), 0)
		a.create(e.p("b"), nil, 0)
		a.setData(e.p("a"), []byte("and more bytes still"), -1)
		a.getData("/zookeeper/quota"+e.p("")+"/zookeeper_stats", false)
	}},
	{"quota_enforced_deepest_root_decides", func(e *env) {
		a := e.connect("A")
		a.create(e.p(""), nil, 0)
		a.create(e.p("a"), nil, 0)
		a.setQuota(e.p(""), "countHardLimit=100")
		a.setQuota(e.p("a"), "countHardLimit=1")
		a.create(e.p("a/x"), nil, 0)
		a.create(e.p("y"), nil, 0)
		q := "/zookeeper/quota" + e.p("a")
		a.delete(q+"/zookeeper_stats", -1)
		a.delete(q+"/zookeeper_limits", -1)
		a.create(e.p("a/x"), nil, 0)
		a.getData("/zookeeper/quota"+e.p("")+"/zookeeper_stats", false)
	}},
	{"quota_enforced_needs_the_stats_node", func(e *env) {
		a := e.connect("A")
		a.create(e.p(""), nil, 0)
		q := "/zookeeper/quota" + e.p("")
		a.create(q, nil, 0)
		a.create(q+"/zookeeper_limits", []byte("countHardLimit=1"), 0)
		a.create(e.p("a"), nil, 0)
		a.create(e.p("b"), nil, 0)
		a.create(q+"/zookeeper_stats", nil, 0)
		a.getData(q+"/zookeeper_stats", false)
		a.create(e.p("c"), nil, 0)
	}},
}

// TestSkipACL runs with zookeeper.skipACL=yes: no operation checks an ACL,
// whatever the node's; the ACLs are still stored and reported.
func TestSkipACL(t *testing.T) {
	t.Parallel()
	p := startPair(t, zktest.Options{ExtendedTypes: true, Extra: []string{"zookeeper.skipACL=yes"}}, standalone)
	runPair(t, p, []scenario{
		permScenario("skipacl_perm_none", 0),
		permScenario("skipacl_perm_read", jute.PermRead),
		{"skipacl_digest_only_node", func(e *env) {
			a := e.connect("A")
			a.create(e.p(""), nil, 0)
			a.createACL(e.p("n"), []byte("secret"), []jute.ACL{digestACL(31, "alice", "pw")}, 0)
			b := e.connect("B")
			b.getData(e.p("n"), false)
			b.setData(e.p("n"), []byte("changed"), -1)
			b.getACL(e.p("n"))
			b.delete(e.p("n"), -1)
		}},
	})
}

// smallMaxBuffer is the jute.maxbuffer of TestSmallMaxBuffer, in bytes.
const smallMaxBuffer = 4096

// TestSmallMaxBuffer runs with jute.maxbuffer=4096 from zoo.cfg (a system
// property for ZooKeeper): a request up to it is served, one frame past it
// closes the connection, as ZooKeeper does.
func TestSmallMaxBuffer(t *testing.T) {
	t.Parallel()
	p := startPair(t, zktest.Options{Extra: []string{fmt.Sprintf("jute.maxbuffer=%d", smallMaxBuffer)}}, standalone)
	runPair(t, p, []scenario{
		{"maxbuffer_request_within", func(e *env) {
			a := e.connect("A")
			a.create(e.p(""), make([]byte, smallMaxBuffer-200), 0)
			a.getData(e.p(""), false)
		}},
		{"maxbuffer_frame_past_it_closes", sendFrameThenPing(append(jute.AppendInt(nil, smallMaxBuffer+1), make([]byte, smallMaxBuffer+1)...))},
		{"maxbuffer_create_past_it_closes", func(e *env) {
			a := e.connect("A")
			a.create(e.p(""), nil, 0)
			b := e.connect("B")
			if err := b.send(b.nextXid(), jute.OpCreate, createBody(e.p("big"), make([]byte, smallMaxBuffer+100), openACL, 0)); err != nil {
				e.fatalf("write: %v", err)
			}
			closed, frames := b.waitClosed(replyTimeout)
			b.dropped = b.dropped || closed
			e.logf("B: create of %d bytes -> closed: %v frames=%d", smallMaxBuffer+100, closed, len(frames))
			a.exists(e.p("big"), false)
		}},
	})
}

// TestContainerSettings runs with a sweep every 500 ms, containers never
// used deleted after 1 s (znode.container.maxNeverUsedIntervalMs) and at
// most 120 deletions a minute (znode.container.maxPerMinute): one every
// 500 ms.
func TestContainerSettings(t *testing.T) {
	t.Parallel()
	p := startPair(t, zktest.Options{Extra: []string{"znode.container.checkIntervalMs=500",
		"znode.container.maxNeverUsedIntervalMs=1000", "znode.container.maxPerMinute=120"}}, standalone)
	runPair(t, p, []scenario{
		{"container_never_used_deleted_after_interval", func(e *env) {
			a := e.connect("A")
			w := e.connect("W")
			a.create(e.p(""), nil, 0)
			a.createContainer(e.p("never"), []byte("d"))
			w.exists(e.p("never"), true)
			w.waitEvent(sweepWait)
			a.exists(e.p("never"), false)
		}},
		{"container_deletions_rate_limited", func(e *env) {
			a := e.connect("A")
			w := e.connect("W")
			a.create(e.p(""), nil, 0)
			for _, c := range []string{"c1", "c2", "c3"} {
				a.createContainer(e.p(c), nil)
				a.create(e.p(c+"/x"), nil, 0)
				w.exists(e.p(c), true)
			}
			for _, c := range []string{"c1", "c2", "c3"} {
				a.delete(e.p(c+"/x"), -1)
			}
			// Which container goes first is the sweep's order; only the
			// count and the spacing are recorded. A stall can only widen
			// the gaps.
			var at []time.Time
			for range 3 {
				if _, err := w.event(sweepWait); err != nil {
					e.logf("W: no deletion: %s", errKind(err))
					break
				}
				at = append(at, time.Now())
			}
			spaced := len(at) == 3
			for i := 1; i < len(at); i++ {
				spaced = spaced && at[i].Sub(at[i-1]) >= 400*time.Millisecond
			}
			e.hasBase = false
			e.logf("W: %d containers deleted, at least 400 ms apart: %v", len(at), spaced)
			a.getChildren2(e.p(""), false)
		}},
	})
}

// TestApproximateDataSize: mntr's zk_approximate_data_size counts each
// path as Java counts a String (UTF-16 units), so names beyond ASCII count
// less than their UTF-8 bytes (and a character beyond the BMP counts two).
func TestApproximateDataSize(t *testing.T) {
	t.Parallel()
	p := startPair(t, zktest.Options{}, standalone)
	runPair(t, p, []scenario{
		{"approximate_data_size_of_non_ascii_names", func(e *env) {
			a := e.connect("A")
			for _, name := range []string{"/plain", "/é", "/\u200b", "/\ufeff", "/\U0001F600"} {
				a.create(name, []byte("data"), 0)
			}
			e.mntrWord()
		}},
	})
}
