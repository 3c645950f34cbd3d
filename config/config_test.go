package config

import (
	"strings"
	"testing"
	"time"
)

func parse(t *testing.T, text string) (*Config, error) {
	t.Helper()
	return Parse(strings.NewReader(text), "zoo.cfg")
}

func TestZooKeeperKeysAndSystemProperties(t *testing.T) {
	c, err := parse(t, `
# a comment
! another
tickTime = 1000
dataDir:/var/lib/mk
clientPort 2182
clientPortAddress=127.0.0.1
maxClientCnxns=0
minSessionTimeout=1500
4lw.commands.whitelist=ruok, srvr ,stat
jute.maxbuffer=2097152
extendedTypesEnabled=true
enforceQuota=true
znode.container.checkIntervalMs=500
znode.container.maxPerMinute=42
zookeeper.DigestAuthenticationProvider.superDigest=super:abc=
forceSync=no
datadir.autocreate=false
snapCount=5000
preAllocSize=1024
admin.serverPort=9090
globalOutstandingLimit=50
meerkat.client.outboundThrottleBytes=65536
meerkat.client.slowConsumerBytes=8388608
nio.numSelectorThreads=1
someUnknownKey=1
`)
	if err != nil {
		t.Fatal(err)
	}
	switch {
	case c.TickTime != time.Second, c.DataDir != "/var/lib/mk", c.DataLogDir != "/var/lib/mk",
		c.ClientPort != 2182, c.ClientPortAddress != "127.0.0.1", c.MaxClientCnxns != 0:
		t.Fatalf("basic keys: %+v", c)
	case c.MinSessionTimeout != 1500*time.Millisecond, c.MaxSessionTimeout != 20*time.Second:
		t.Fatalf("session timeouts %v %v (max defaults to 20 ticks)", c.MinSessionTimeout, c.MaxSessionTimeout)
	case strings.Join(c.FourLetterWords, ",") != "ruok,srvr,stat":
		t.Fatalf("whitelist %q", c.FourLetterWords)
	case c.MaxBuffer != 2097152, !c.ExtendedTypes, !c.EnforceQuota, c.ContainerCheckInterval != 500*time.Millisecond,
		c.ContainerMaxPerMinute != 42, c.SuperDigest != "super:abc=":
		t.Fatalf("system properties: %+v", c)
	case c.ForceSync, c.DataDirAutocreate, c.SnapCount != 5000, c.PreAllocSize != 1<<20, c.AdminPort != 9090:
		t.Fatalf("durability and admin keys: %+v", c)
	case c.GlobalOutstandingLimit != 50, c.ClientOutboundThrottleBytes != 65536, c.ClientSlowConsumerBytes != 8388608,
		c.SelectorThreads != 1:
		t.Fatalf("flow-control keys: %+v", c)
	case len(c.Unknown) != 1 || c.Unknown[0] != "someUnknownKey":
		t.Fatalf("unknown keys %q", c.Unknown)
	}
	// The full system property name works too.
	c, err = parse(t, "tickTime=2000\ndataDir=/d\nzookeeper.extendedTypesEnabled=true\nzookeeper.forceSync=yes\nzookeeper.enforceQuota=true\nzookeeper.globalOutstandingLimit=7\nzookeeper.datadir.autocreate=false\nzookeeper.nio.numSelectorThreads=3\n")
	if err != nil || !c.ExtendedTypes || !c.ForceSync || c.DataDirAutocreate || !c.EnforceQuota || c.GlobalOutstandingLimit != 7 || c.SelectorThreads != 3 {
		t.Fatalf("zookeeper.-prefixed keys: %v %+v", err, c)
	}
}

func TestDefaults(t *testing.T) {
	c, err := parse(t, "tickTime=3000\ndataDir=/d\n")
	if err != nil {
		t.Fatal(err)
	}
	if c.MinSessionTimeout != 6*time.Second || c.MaxSessionTimeout != 60*time.Second || c.MaxClientCnxns != 60 ||
		c.MaxBuffer != 0xfffff || c.SelectorThreads != 0 || c.ContainerCheckInterval != time.Minute || !c.ForceSync || !c.DataDirAutocreate || c.ServerID != 1 ||
		c.AdminAddr() != "127.0.0.1:8080" ||
		strings.Join(c.FourLetterWords, ",") != "srvr" {
		t.Fatalf("defaults %+v", c)
	}
	d, err := Default()
	if err != nil || d.ClientAddr() != "127.0.0.1:2181" || d.DataDir != "./data" {
		t.Fatalf("embedded default: %v %+v", err, d)
	}
}

// TestBadConfigsSayWhatIsWrong: every bad config is refused with an error
// naming the key (and the line, for a value that does not parse).
func TestBadConfigsSayWhatIsWrong(t *testing.T) {
	for _, tc := range []struct {
		text string
		want []string
	}{
		{"tickTime=abc\ndataDir=/d\n", []string{"zoo.cfg:1", "tickTime", `"abc"`}},
		{"tickTime=2000\n", []string{"dataDir is required"}},
		{"dataDir=/d\n", []string{"tickTime"}},
		{"tickTime=2000\ndataDir=/d\nclientPort=70000\n", []string{"clientPort 70000"}},
		{"tickTime=2000\ndataDir=/d\nminSessionTimeout=9000\nmaxSessionTimeout=4000\n", []string{"minSessionTimeout", "maxSessionTimeout"}},
		{"tickTime=2000\ndataDir=/d\nforceSync=maybe\n", []string{"zoo.cfg:3", "forceSync", "maybe"}},
		{"tickTime=2000\ndataDir=/d\njute.maxbuffer=10\n", []string{"jute.maxbuffer"}},
		{"tickTime=2000\ndataDir=/d\nmaxClientCnxns=-1\n", []string{"maxClientCnxns"}},
		{"tickTime=2000\ndataDir=/d\nserver.1=a:2888:3888\nserver.2=b:2888:3888\n", []string{"/d/myid", "server.N"}},
		{"tickTime=2000\ndataDir=/d\nsnapCount=0\n", []string{"snapCount"}},
		{"tickTime=2000\ndataDir=/d\nglobalOutstandingLimit=-1\n", []string{"globalOutstandingLimit"}},
		{"tickTime=2000\ndataDir=/d\nnio.numSelectorThreads=0\n", []string{"numSelectorThreads", "at least 1"}},
		{"tickTime=2000\ndataDir=/d\nmeerkat.raft.keepEntries=0\n", []string{"keepEntries", "at least 1"}},
		{"tickTime=2000\ndataDir=/d\npreAllocSize=16\n", []string{"preAllocSize"}},
		{"tickTime=2000\ndataDir=/d\nmeerkat.client.slowConsumerBytes=lots\n", []string{"zoo.cfg:3", "slowConsumerBytes", "lots"}},
		{"tickTime=2000\ndataDir=/d\nmeerkat.client.outboundThrottleBytes=-5\n", []string{"outboundThrottleBytes"}},
		{"tickTime=2000\ndataDir=/d\nzookeeper.DigestAuthenticationProvider.superDigest=nocolon\n", []string{"superDigest"}},
	} {
		_, err := parse(t, tc.text)
		if err == nil {
			t.Errorf("%q was accepted", tc.text)
			continue
		}
		for _, w := range tc.want {
			if !strings.Contains(err.Error(), w) {
				t.Errorf("%q: error %q does not mention %q", tc.text, err, w)
			}
		}
	}
}

func TestSetOverridesAndContinuationLines(t *testing.T) {
	c, err := parse(t, "tickTime=2000\ndataDir=/a/\\\n  b\n")
	if err != nil || c.DataDir != "/a/b" {
		t.Fatalf("continuation: %v %q", err, c.DataDir)
	}
	if err := c.Set("clientPort", "2190"); err != nil || c.ClientPort != 2190 {
		t.Fatalf("Set: %v %d", err, c.ClientPort)
	}
	if err := c.Set("tickTime", "x"); err == nil {
		t.Fatal("Set accepted a bad value")
	}
}
