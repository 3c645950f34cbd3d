package shell

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/meerkat-zk/meerkat/internal/zktest"
)

// reconfigScript is fed to one session of each client, on a follower (F)
// of an ensemble with reconfigEnabled; L is the leader and R the other
// follower, which leaves and comes back. ID_R is R's id, SERVER_X member
// X's line with its client address, FILE a membership file of all three.
const reconfigScript = `reconfig
reconfig -x 1
reconfig -add
reconfig -add SERVER_R -members SERVER_R
reconfig -file FILE -members SERVER_R
reconfig -v zz -remove ID_R
reconfig -file /nonexistent/membership.cfg
reconfig -v 1 -remove ID_R
reconfig -remove ID_R
config
reconfig -s -add SERVER_R
reconfig -members SERVER_L,SERVER_F
reconfig -file FILE
config
`

// TestReconfigSameOutputAsZkCli runs reconfigScript with zkCli on a
// follower of a three-server Apache ZooKeeper ensemble and with this shell
// on a follower of a three-server Meerkat ensemble, and requires the same
// output once the members' ids and ports are written as their roles.
func TestReconfigSameOutputAsZkCli(t *testing.T) {
	opts := zktest.EnsembleOptions{Options: zktest.Options{Extra: []string{"reconfigEnabled=true", "zookeeper.skipACL=yes"}}}
	type side struct {
		name    string
		command func(home string, args ...string) *exec.Cmd
		ens     *zktest.Ensemble
	}
	runs := []side{
		{"zkCli against a ZooKeeper ensemble", zkCliCommand, zktest.StartZooKeeperEnsemble(t, opts)},
		{"meerkat cli against a Meerkat ensemble", shellCommand, zktest.StartMeerkatEnsemble(t, opts)},
	}
	out := make([]string, len(runs))
	for i, r := range runs {
		roles := newMemberRoles(t, r.ens)
		input := roles.script(t, reconfigScript)
		res, err := run(r.command(t.TempDir(), "-server", roles.addr("F")), input)
		if err != nil {
			t.Fatalf("%s: %v", r.name, err)
		}
		out[i] = roles.mask(normalize(transcript(res, roles.addr("F"), true)))
	}
	requireAll(t, out[0], "reconfig [-s] [-v version]", "Unrecognized option: -x", "Missing argument for option: add",
		"mixing incremental and non-incremental modes is not allowed", "conflicting non-incremental modes",
		"-v must be followed by a long", "Error processing /nonexistent/membership.cfg/nonexistent/membership.cfg (No such file or directory)",
		"version No is not valid : \n",
		"Committed new configuration:\nserver.F=127.0.0.1:peerF:electionF:participant\nserver.L=127.0.0.1:peerL:electionL:participant\nversion=V",
		"server.R=127.0.0.1:peerR:electionR:participant;127.0.0.1:clientR\nversion=V", "cZxid = ")
	if out[1] != out[0] {
		t.Errorf("%s differs from %s (- reference, + shell):\n%s", runs[1].name, runs[0].name,
			zktest.LineDiff(strings.Split(out[0], "\n"), strings.Split(out[1], "\n"), 3))
	}
}

// memberRoles names an ensemble's members by role, L (the leader), F and
// R (the followers), and their ports after role and use (peerR, clientF).
type memberRoles struct {
	ens   *zktest.Ensemble
	index map[string]int
	id    map[string]string
	ports map[string]string
	// line[X] is X's server line with its client address.
	line map[string]string
}

var staticServerLine = regexp.MustCompile(`(?m)^server\.(\d+)=127\.0\.0\.1:(\d+):(\d+)`)

func newMemberRoles(t *testing.T, e *zktest.Ensemble) *memberRoles {
	t.Helper()
	lead := e.Leader(t)
	m := &memberRoles{ens: e, index: map[string]int{"L": lead, "F": (lead + 1) % 3, "R": (lead + 2) % 3},
		id: map[string]string{}, ports: map[string]string{}, line: map[string]string{}}
	c := zktest.Session(t, e.Members[m.index["F"]].Addr, 30*time.Second)
	data, _, err := c.Get("/zookeeper/config")
	c.Close()
	if err != nil {
		t.Fatalf("/zookeeper/config: %v", err)
	}
	for _, g := range staticServerLine.FindAllStringSubmatch(string(data), -1) {
		id, _ := strconv.Atoi(g[1])
		var role string
		for r, i := range m.index {
			if i == id-1 {
				role = r
			}
		}
		client := strconv.Itoa(e.Members[id-1].Port)
		m.id[role] = g[1]
		m.ports[g[2]], m.ports[g[3]], m.ports[client] = "peer"+role, "election"+role, "client"+role
		m.line[role] = fmt.Sprintf("server.%s=127.0.0.1:%s:%s:participant;127.0.0.1:%s", g[1], g[2], g[3], client)
	}
	if len(m.line) != 3 {
		t.Fatalf("/zookeeper/config names %d of the 3 members:\n%s", len(m.line), data)
	}
	return m
}

func (m *memberRoles) addr(role string) string { return m.ens.Members[m.index[role]].Addr }

// script fills in reconfigScript's names for this ensemble.
func (m *memberRoles) script(t *testing.T, s string) string {
	file := filepath.Join(t.TempDir(), "membership.cfg")
	body := "# all three members\n" + m.line["L"] + "\n" + m.line["F"] + "\n" + m.line["R"] + "\n"
	if err := os.WriteFile(file, []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
	return strings.NewReplacer("ID_R", m.id["R"], "SERVER_L", m.line["L"], "SERVER_F", m.line["F"],
		"SERVER_R", m.line["R"], "FILE", file).Replace(s)
}

var (
	serverIDRE = regexp.MustCompile(`(?m)^server\.(\d+)=`)
	portRE     = regexp.MustCompile(`:(\d+)`)
	versionRE  = regexp.MustCompile(`(?m)^version=[0-9a-f]+$`)
)

// mask writes ids and ports as roles and membership versions as V, and
// sorts each run of server lines (printed in id order, which is not the
// roles' order).
func (m *memberRoles) mask(s string) string {
	s = serverIDRE.ReplaceAllStringFunc(s, func(l string) string {
		id := serverIDRE.FindStringSubmatch(l)[1]
		for role, v := range m.id {
			if v == id {
				return "server." + role + "="
			}
		}
		return l
	})
	s = portRE.ReplaceAllStringFunc(s, func(p string) string {
		if name, ok := m.ports[p[1:]]; ok {
			return ":" + name
		}
		return p
	})
	s = versionRE.ReplaceAllString(s, "version=V")
	lines := strings.Split(s, "\n")
	for i := 0; i < len(lines); {
		j := i
		for j < len(lines) && strings.HasPrefix(lines[j], "server.") {
			j++
		}
		slices.Sort(lines[i:j])
		i = max(j, i+1)
	}
	return strings.Join(lines, "\n")
}
