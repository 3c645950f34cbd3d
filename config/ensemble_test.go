package config

import (
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/meerkat-zk/meerkat/membership"
)

func TestServerLines(t *testing.T) {
	for _, tc := range []struct {
		key, value string
		want       Member
	}{
		{"server.1", "zk1:2888:3888", Member{ID: 1, PeerAddr: "zk1:2888", ElectionAddr: "zk1:3888"}},
		{"server.2", "10.0.0.2:2888:3888:participant;2181", Member{ID: 2, PeerAddr: "10.0.0.2:2888", ElectionAddr: "10.0.0.2:3888", ClientAddr: "2181"}},
		{"server.3", "zk3:2888:3888:Observer;0.0.0.0:2182", Member{ID: 3, PeerAddr: "zk3:2888", ElectionAddr: "zk3:3888", Observer: true, ClientAddr: "0.0.0.0:2182"}},
		{"server.4", "[::1]:2888:3888;[::1]:2181", Member{ID: 4, PeerAddr: "[::1]:2888", ElectionAddr: "[::1]:3888", ClientAddr: "[::1]:2181"}},
	} {
		got, err := membership.ParseServer(tc.key, tc.value)
		if err != nil || !reflect.DeepEqual(got, tc.want) {
			t.Errorf("%s=%s: %+v %v, want %+v", tc.key, tc.value, got, err, tc.want)
		}
	}
	for _, bad := range []struct{ key, value, want string }{
		{"server.0", "a:1:2", "[1, 254]"},
		{"server.x", "a:1:2", "[1, 254]"},
		{"server.1", "a:2888", "host:peerPort:electionPort"},
		{"server.1", "a:2888:3888:voter", "participant or observer"},
		{"server.1", "a:0:3888", "peer port"},
		{"server.1", "a:2888:99999", "election port"},
		{"server.1", "a:2888:3888;x", "client port"},
		{"server.1", "a:2888:3888|b:2888:3888", "multiAddress"},
		{"server.1", "[::1:2888:3888", "IPv6"},
	} {
		if _, err := membership.ParseServer(bad.key, bad.value); err == nil || !strings.Contains(err.Error(), bad.want) {
			t.Errorf("%s=%s: %v, want an error about %q", bad.key, bad.value, err, bad.want)
		}
	}
}

// TestOfficialDockerImageConfigRunsStandalone: the configuration the
// official ZooKeeper image generates (one server line, standaloneEnabled,
// no clientPort) runs standalone on the line's client port, as ZooKeeper
// does.
func TestOfficialDockerImageConfigRunsStandalone(t *testing.T) {
	c, err := parse(t, `dataDir=/data
dataLogDir=/datalog
tickTime=2000
initLimit=5
syncLimit=2
autopurge.snapRetainCount=3
autopurge.purgeInterval=0
maxClientCnxns=60
standaloneEnabled=true
admin.enableServer=true
server.1=localhost:2888:3888;2181
`)
	if err != nil {
		t.Fatal(err)
	}
	if c.Distributed() || c.ClientPort != 2181 || c.InitLimit != 5 || c.SyncLimit != 2 || len(c.Members) != 1 {
		t.Fatalf("distributed %v, clientPort %d, limits %d/%d, members %+v", c.Distributed(), c.ClientPort, c.InitLimit, c.SyncLimit, c.Members)
	}
	c, err = parse(t, "tickTime=2000\ndataDir=/d\nserver.1=localhost:2888:3888;127.0.0.1:2190\n")
	if err != nil || c.ClientAddr() != "127.0.0.1:2190" {
		t.Fatalf("client address from the server line: %v %q", err, c.ClientAddr())
	}
	// One voter and observers is still one voter: standalone, as in
	// ZooKeeper.
	c, err = parse(t, "tickTime=2000\ndataDir=/d\nserver.1=a:2888:3888;2181\nserver.2=b:2888:3888:observer\n")
	if err != nil || c.Distributed() {
		t.Fatalf("one voter and an observer: %v distributed=%v", err, c != nil && c.Distributed())
	}
}

func TestEnsembleConfigErrors(t *testing.T) {
	for _, tc := range []struct{ text, want string }{
		{"server.1=a:2888:3888\nserver.2=b:2888:3888\nserver.3=c:2888:3888\n", "/d/myid"},
		{"standaloneEnabled=false\nserver.1=a:2888:3888;2181\n", "/d/myid"},
		{"serverId=9\nserver.1=a:2888:3888\nserver.2=b:2888:3888\n", "no server.9 line"},
		{"server.1=a:2888:3888\nserver.1=b:2888:3888\n", "server.1 is given twice"},
		{"clientPort=2182\nserver.1=a:2888:3888;2181\n", "clientPort 2182 differs"},
		{"clientPortAddress=127.0.0.1\nserver.1=a:2888:3888;10.0.0.1:2181\n", "clientPortAddress 127.0.0.1 differs"},
		{"peerType=voter\n", "peerType"},
		{"syncLimit=-1\n", "syncLimit"},
		{"initLimit=x\n", "initLimit"},
		{"group.1=1:2:3\n", "hierarchical quorums"},
		{"dynamicConfigFile=/nonexistent/zoo.cfg.dynamic\n", "dynamicConfigFile"},
	} {
		_, err := parse(t, "tickTime=2000\ndataDir=/d\n"+tc.text)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%q: %v, want an error about %q", tc.text, err, tc.want)
		}
	}
}

func TestDynamicConfigFile(t *testing.T) {
	dir := t.TempDir()
	dyn := filepath.Join(dir, "zoo.cfg.dynamic.100000000")
	if err := os.WriteFile(dyn, []byte("server.1=127.0.0.1:2888:3888:participant;127.0.0.1:2191\nversion=100000000\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	c, err := parse(t, "tickTime=2000\ndataDir=/d\ndynamicConfigFile="+dyn+"\n")
	if err != nil || len(c.Members) != 1 || c.ClientAddr() != "127.0.0.1:2191" {
		t.Fatalf("%v %+v", err, c)
	}
	if got := c.Membership(); !slices.Equal(got, []string{"server.1=127.0.0.1:2888:3888:participant;127.0.0.1:2191", "version=100000000"}) {
		t.Fatalf("membership %q", got)
	}
	// Validate runs again after flags: it must not read the file twice.
	if err := c.Validate(); err != nil {
		t.Fatalf("second Validate: %v", err)
	}
	if _, err := parse(t, "tickTime=2000\ndataDir=/d\nserver.1=a:1:2\ndynamicConfigFile="+dyn+"\n"); err == nil ||
		!strings.Contains(err.Error(), "belong in the dynamicConfigFile") {
		t.Fatalf("server lines beside a dynamic file: %v", err)
	}
	badVersion := filepath.Join(dir, "version.dynamic")
	_ = os.WriteFile(badVersion, []byte("server.1=a:1:2\nversion=zz\n"), 0o644)
	if _, err := parse(t, "tickTime=2000\ndataDir=/d\ndynamicConfigFile="+badVersion+"\n"); err == nil || !strings.Contains(err.Error(), "not a hexadecimal zxid") {
		t.Fatalf("a version that is not hex: %v", err)
	}
	bad := filepath.Join(dir, "bad.dynamic")
	_ = os.WriteFile(bad, []byte("server.1=a:1:2\ntickTime=2000\n"), 0o644)
	if _, err := parse(t, "tickTime=2000\ndataDir=/d\ndynamicConfigFile="+bad+"\n"); err == nil || !strings.Contains(err.Error(), "tickTime does not belong") {
		t.Fatalf("a static key in the dynamic file: %v", err)
	}
}

// TestMembershipAsZooKeeperPrintsIt: conf and /zookeeper/config name the
// role always, a client port without a host as 0.0.0.0, and version 0 for
// server lines in zoo.cfg.
func TestMembershipAsZooKeeperPrintsIt(t *testing.T) {
	c, err := parse(t, "tickTime=2000\ndataDir=/d\nserverId=1\nstandaloneEnabled=false\nserver.2=b:1:2;2181\nserver.1=a:3:4\nserver.3=[::1]:5:6:OBSERVER;[::1]:2183\n")
	if err != nil {
		t.Fatal(err)
	}
	want := []string{
		"server.1=a:3:4:participant",
		"server.2=b:1:2:participant;0.0.0.0:2181",
		"server.3=[::1]:5:6:observer;[::1]:2183",
		"version=0",
	}
	if got := c.Membership(); !slices.Equal(got, want) {
		t.Fatalf("membership\n%q\nwant\n%q", got, want)
	}
}

// TestQuorumConfig reads a member's configuration as ZooKeeper does: its
// id from dataDir/myid, its client address from its own line, its role
// from the line even when peerType says otherwise (with a warning).
func TestQuorumConfig(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "myid"), []byte("3\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	c, err := parse(t, "tickTime=2000\ndataDir="+dir+"\npeerType=participant\n"+
		"server.1=127.0.0.1:2888:3888;127.0.0.1:2181\nserver.2=127.0.0.1:2889:3889;127.0.0.1:2182\n"+
		"server.3=127.0.0.1:2890:3890:observer;127.0.0.1:2183\n")
	if err != nil {
		t.Fatal(err)
	}
	self, ok := c.Self()
	if !c.Distributed() || !ok || self.ID != 3 || !self.Observer || c.ClientAddr() != "127.0.0.1:2183" {
		t.Fatalf("distributed %v self %+v %v client %s", c.Distributed(), self, ok, c.ClientAddr())
	}
	if len(c.Warnings) != 1 || !strings.Contains(c.Warnings[0], "server line decides") {
		t.Fatalf("warnings %q", c.Warnings)
	}
	if err := os.WriteFile(filepath.Join(dir, "myid"), []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := parse(t, "tickTime=2000\ndataDir="+dir+"\nserver.1=a:1:2\nserver.2=b:1:2\n"); err == nil || !strings.Contains(err.Error(), "not a server id") {
		t.Fatalf("a bad myid: %v", err)
	}
}

// TestLocalSessionsAndReadOnlyMode reads localSessionsEnabled,
// localSessionsUpgradingEnabled and readonlymode.enabled: on a member
// read-only mode whitelists isro, as ZooKeeper does; on a standalone
// server the three have no effect, which a warning says.
func TestLocalSessionsAndReadOnlyMode(t *testing.T) {
	const keys = "localSessionsEnabled=true\nlocalSessionsUpgradingEnabled=true\nreadonlymode.enabled=true\n"
	c, err := parse(t, "tickTime=2000\ndataDir=/d\nserverId=1\n"+keys+
		"server.1=127.0.0.1:2888:3888;2181\nserver.2=127.0.0.1:2889:3889;2182\nserver.3=127.0.0.1:2890:3890;2183\n")
	if err != nil {
		t.Fatal(err)
	}
	if !c.LocalSessions || !c.LocalSessionsUpgrading || !c.ReadOnlyMode || len(c.Warnings) != 0 {
		t.Fatalf("local %v upgrading %v read-only %v warnings %q", c.LocalSessions, c.LocalSessionsUpgrading, c.ReadOnlyMode, c.Warnings)
	}
	if !slices.Equal(c.FourLetterWords, []string{"srvr", "isro"}) {
		t.Fatalf("whitelist %q, want srvr and isro", c.FourLetterWords)
	}
	c, err = parse(t, "tickTime=2000\ndataDir=/d\nclientPort=2181\n"+keys)
	if err != nil {
		t.Fatal(err)
	}
	if len(c.Warnings) != 3 || !strings.Contains(c.Warnings[0], "no effect on a standalone server") {
		t.Fatalf("standalone warnings %q", c.Warnings)
	}
	if _, err := parse(t, "tickTime=2000\ndataDir=/d\nreadonlymode.enabled=maybe\n"); err == nil {
		t.Fatal("readonlymode.enabled=maybe accepted")
	}
}

// TestWriteMembership rewrites a member's configuration after a reconfig
// as ZooKeeper does, and the rewritten files load back to the new
// membership.
func TestWriteMembership(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "zoo.cfg")
	text := "tickTime=2000\ndataDir=" + dir + "\nserverId=1\n" +
		"server.1=127.0.0.1:2888:3888;2181\nserver.2=127.0.0.1:2889:3889;2182\nserver.3=127.0.0.1:2890:3890;2183\n"
	if err := os.WriteFile(path, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	c, err := Load(path)
	if err != nil {
		t.Fatal(err)
	}
	next := membership.Config{Servers: c.Members[:2], Version: 0x100000005}
	dynamic, err := c.WriteMembership(next)
	if err != nil {
		t.Fatal(err)
	}
	if dynamic != path+".dynamic.100000005" {
		t.Fatalf("dynamic file %s", dynamic)
	}
	if b, _ := os.ReadFile(dynamic); strings.Contains(string(b), "version") || strings.Count(string(b), "server.") != 2 {
		t.Fatalf("dynamic file holds\n%s\nwant the two server lines only", b)
	}
	if b, err := os.ReadFile(path + ".bak"); err != nil || string(b) != text {
		t.Fatalf("zoo.cfg.bak: %v\n%s\nwant the original zoo.cfg", err, b)
	}
	again, err := Load(path)
	if err != nil {
		t.Fatal(err)
	}
	if again.DynamicConfigFile != dynamic || again.MembershipVersion != 0x100000005 || len(again.Members) != 2 || again.ServerID != 1 {
		t.Fatalf("reloaded: dynamic %s version %x members %v", again.DynamicConfigFile, again.MembershipVersion, again.Members)
	}
	if got := strings.Join(again.Membership(), "\n"); got != next.Text() {
		t.Fatalf("reloaded membership\n%s\nwant\n%s", got, next.Text())
	}
	// A second reconfig replaces the pointer, not adds one.
	if _, err := again.WriteMembership(membership.Config{Servers: c.Members, Version: 0x100000009}); err != nil {
		t.Fatal(err)
	}
	b, _ := os.ReadFile(path)
	if n := strings.Count(string(b), "dynamicConfigFile="); n != 1 || strings.Contains(string(b), "server.") {
		t.Fatalf("zoo.cfg after two reconfigs:\n%s", b)
	}
	if b, _ := os.ReadFile(path + ".bak"); string(b) != text {
		t.Fatalf("the second reconfig replaced zoo.cfg.bak with\n%s", b)
	}
}
