package ensemble

import (
	"fmt"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/go-zookeeper/zk"

	"github.com/meerkat-zk/meerkat/internal/zktest"
)

// quorumKeys are the mntr keys ZooKeeper 3.8 adds in an ensemble, by role.
var quorumKeys = map[string][]string{
	"leader": {"zk_peer_state", "zk_quorum_size", "zk_learners", "zk_synced_followers",
		"zk_synced_non_voting_followers", "zk_synced_observers", "zk_pending_syncs", "zk_leader_uptime",
		"zk_last_proposal_size", "zk_min_proposal_size", "zk_max_proposal_size"},
	"follower": {"zk_peer_state", "zk_quorum_size"},
	"observer": {"zk_peer_state", "zk_quorum_size", "zk_observer_master_id"},
}

// roleReport is what the monitoring words of one member in one role say,
// with what differs between any two ensembles (ports, directories, times,
// sizes) taken out.
type roleReport struct {
	srvr, conf []string
	mntr       map[string]string
	// configNode is /zookeeper/config: its data and the stat fields that
	// do not vary.
	configNode string
}

// TestMonitoringWordsPerRole compares srvr, mntr, conf, isro and
// /zookeeper/config of the leader, a follower and an observer with those
// of a ZooKeeper 3.8 ensemble of the same shape (three voters, one
// observer).
func TestMonitoringWordsPerRole(t *testing.T) {
	o := zktest.EnsembleOptions{Observers: 1}
	zk := reportsByRole(t, zktest.StartZooKeeperEnsemble(t, o))
	mk := reportsByRole(t, zktest.StartMeerkatEnsemble(t, o))
	for _, role := range []string{"leader", "follower", "observer"} {
		z, m := zk[role], mk[role]
		if d := zktest.LineDiff(z.srvr, m.srvr, 2); d != "" {
			t.Errorf("%s: srvr differs (- ZooKeeper, + Meerkat):\n%s", role, d)
		}
		if d := zktest.LineDiff(z.conf, m.conf, 2); d != "" {
			t.Errorf("%s: conf differs (- ZooKeeper, + Meerkat):\n%s", role, d)
		}
		for _, roles := range quorumKeys {
			for _, k := range roles {
				zv, zok := z.mntr[k]
				mv, mok := m.mntr[k]
				if zok != mok || zv != mv {
					t.Errorf("%s: mntr %s: ZooKeeper %q (present %v), Meerkat %q (present %v)", role, k, zv, zok, mv, mok)
				}
			}
		}
		if z.configNode != m.configNode {
			t.Errorf("%s: /zookeeper/config: ZooKeeper %s, Meerkat %s", role, z.configNode, m.configNode)
		}
		if zb, mb := z.mntr["zk_cnt_sync_processor_batch_size"] != "0", m.mntr["zk_cnt_sync_processor_batch_size"] != "0"; zb != mb {
			t.Errorf("%s: mntr says the member logged write batches: ZooKeeper %v (zk_cnt_sync_processor_batch_size %s), Meerkat %v (%s)",
				role, zb, z.mntr["zk_cnt_sync_processor_batch_size"], mb, m.mntr["zk_cnt_sync_processor_batch_size"])
		}
		if z.mntr["zk_server_state"] != role || m.mntr["zk_server_state"] != role {
			t.Errorf("%s: zk_server_state: ZooKeeper %q, Meerkat %q", role, z.mntr["zk_server_state"], m.mntr["zk_server_state"])
		}
	}
}

var (
	digits    = regexp.MustCompile(`[0-9]+`)
	confPorts = regexp.MustCompile(`^(clientPort|electionPort|quorumPort)=\d+$`)
	// varying are mntr values that differ between any two runs.
	varying = map[string]bool{"zk_leader_uptime": true, "zk_last_proposal_size": true,
		"zk_min_proposal_size": true, "zk_max_proposal_size": true}
)

// reportsByRole waits for e's leader and collects the reports of the
// leader, the first follower and the observer (the last member).
func reportsByRole(t *testing.T, e *zktest.Ensemble) map[string]roleReport {
	t.Helper()
	lead := e.Leader(t)
	follower := 0
	if lead == 0 {
		follower = 1
	}
	observer := len(e.Members) - 1
	// A write, which every member logs, before the words are read; each
	// member has it once it answers the read after a sync.
	c := connect(t, e.Members[lead].Addr, 10*time.Second)
	if _, err := c.Create("/written", nil, 0, zk.WorldACL(zk.PermAll)); err != nil {
		t.Fatal(err)
	}
	c.Close()
	for _, m := range e.Members {
		c := connect(t, m.Addr, 10*time.Second)
		if _, err := c.Sync("/written"); err != nil {
			t.Fatalf("%s: sync: %v", m.Name, err)
		}
		if ok, _, err := c.Exists("/written"); err != nil || !ok {
			t.Fatalf("%s: /written after a sync: %v %v", m.Name, ok, err)
		}
		c.Close()
	}
	out := map[string]roleReport{}
	for role, i := range map[string]int{"leader": lead, "follower": follower, "observer": observer} {
		word := func(w string) string {
			s, err := zktest.FourLetter(e.Members[i].Addr, w)
			if err != nil {
				t.Fatalf("%s %s: %v", role, w, err)
			}
			return s
		}
		var r roleReport
		for _, line := range strings.Split(word("srvr"), "\n") {
			switch {
			case strings.HasPrefix(line, "Zookeeper version:"), strings.HasPrefix(line, "Latency"),
				strings.HasPrefix(line, "Received"), strings.HasPrefix(line, "Sent"), strings.HasPrefix(line, "Zxid"):
				// Versions, counters and zxids differ between servers.
			case strings.HasPrefix(line, "Proposal sizes"):
				// The sizes are each server's encoding; the line is kept.
				r.srvr = append(r.srvr, digits.ReplaceAllString(line, "N"))
			default:
				r.srvr = append(r.srvr, line)
			}
		}
		conf := word("conf")
		// The ensemble's part of conf starts at initLimit; the ports in
		// it must be the member's own (those of its server.N line).
		part := conf[strings.Index(conf, "initLimit="):]
		self := fmt.Sprintf("server.%d=127.0.0.1:%s:%s:", i+1, confValue(part, "quorumPort"), confValue(part, "electionPort"))
		if !strings.Contains(part, self) {
			t.Errorf("%s: conf's ports are not those of its own server line %q:\n%s", e.Members[i].Name, self, part)
		}
		for _, line := range strings.Split(part, "\n") {
			if confPorts.MatchString(line) || strings.HasPrefix(line, "server.") {
				line = digits.ReplaceAllString(line, "N")
			}
			r.conf = append(r.conf, line)
		}
		r.mntr = map[string]string{}
		for _, line := range strings.Split(word("mntr"), "\n") {
			k, v, ok := strings.Cut(line, "\t")
			if !ok {
				continue
			}
			if varying[k] {
				v = "varies"
			}
			if k == "zk_observer_master_id" && v != fmt.Sprint(lead+1) {
				t.Errorf("%s: the observer follows %s, the leader is %d", e.Members[i].Name, v, lead+1)
			}
			r.mntr[k] = v
		}
		r.mntr["zk_observer_master_id"] = "the leader"
		if role != "observer" {
			delete(r.mntr, "zk_observer_master_id")
		}
		if isro := word("isro"); isro != "rw" {
			t.Errorf("%s %s: isro says %q", e.Members[i].Name, role, isro)
		}
		c := connect(t, e.Members[i].Addr, 10*time.Second)
		data, st, err := c.Get("/zookeeper/config")
		if err != nil {
			t.Fatalf("%s: /zookeeper/config: %v", e.Members[i].Name, err)
		}
		c.Close()
		r.configNode = fmt.Sprintf("%q czxid=%d mzxid=%d version=%d aversion=%d",
			digits.ReplaceAllString(string(data), "N"), st.Czxid, st.Mzxid, st.Version, st.Aversion)
		out[role] = r
	}
	return out
}

// confValue returns the value of key in conf's key=value lines.
func confValue(conf, key string) string {
	for _, line := range strings.Split(conf, "\n") {
		if v, ok := strings.CutPrefix(line, key+"="); ok {
			return v
		}
	}
	return ""
}
