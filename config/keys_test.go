package config

import (
	"strings"
	"testing"

	"github.com/meerkat-zk/meerkat/zktls"
)

// zooKeeper38Keys are the keys of ZooKeeper 3.8's administrator guide
// (zookeeperAdmin.md, "Configuration Parameters") with a value each, in
// the spelling the guide gives (zoo.cfg keys, or system properties).
var zooKeeper38Keys = []string{
	// Minimum and advanced configuration.
	"tickTime=2000", "dataDir=/d", "dataLogDir=/l", "clientPort=2181", "clientPortAddress=127.0.0.1",
	"secureClientPortAddress=127.0.0.1\nsecureClientPort=2281\nssl.keyStore.location=/k", "observerMasterPort=2191", "globalOutstandingLimit=1000",
	"preAllocSize=65536", "snapCount=100000", "commitLogCount=500", "snapSizeLimitInKb=4194304",
	"txnLogSizeLimitInKb=0", "maxCnxns=0", "maxClientCnxns=60", "minSessionTimeout=4000",
	"maxSessionTimeout=40000", "fsync.warningthresholdms=1000", "maxResponseCacheSize=400",
	"maxGetChildrenResponseCacheSize=400", "autopurge.snapRetainCount=3", "autopurge.purgeInterval=0",
	"syncEnabled=true", "extendedTypesEnabled=true", "emulate353TTLNodes=false", "serverCnxnFactory=x",
	"snapshot.trust.empty=false", "audit.enable=false", "jute.maxbuffer.extrasize=1024",
	"zookeeper.request_throttle_max_requests=0", "zookeeper.request_throttle_stall_time=100",
	"zookeeper.request_throttle_drop_stale=true", "requestThrottleLimit=0", "requestThrottleStallTime=100",
	"requestThrottleDropStale=true", "requestStaleLatencyCheck=false", "requestStaleConnectionCheck=true",
	"zookeeper.connection_throttle_tokens=0", "zookeeper.connection_throttle_fill_time=1",
	"zookeeper.connection_throttle_fill_count=1", "zookeeper.connection_throttle_freeze_time=-1",
	"zookeeper.connection_throttle_drop_increase=0.02", "zookeeper.connection_throttle_drop_decrease=0.002",
	"zookeeper.connection_throttle_decrease_ratio=0", "zookeeper.connection_throttle_weight_enabled=false",
	"largeRequestMaxBytes=104857600", "largeRequestThreshold=-1", "outstandingHandshake.limit=0",
	"throttledOpWaitTime=0", "clientPortListenBacklog=-1", "flushDelay=0", "maxWriteQueuePollTime=0",
	"maxBatchSize=1000", "enableEagerACLCheck=false", "digest.enabled=true",
	"snapshot.compression.method=gz", "datadir.autocreate=true", "forceSync=yes",
	"zookeeper.nio.numSelectorThreads=1", "zookeeper.nio.numWorkerThreads=2",
	"zookeeper.commitProcessor.numWorkerThreads=2", "zookeeper.messageTracker.BufferSize=10",
	"watchManagerName=x", "watcherCleanThreshold=1000", "watcherCleanIntervalInSeconds=600",
	"watcherCleanThreadsNum=2", "maxInProcessingDeadWatchers=-1", "bitHashCacheSize=10",
	"advancedFlowControlEnabled=false", "tcpKeepAlive=false", "clientTcpKeepAlive=false",
	"znode.container.checkIntervalMs=60000", "znode.container.maxPerMinute=10000",
	"znode.container.maxNeverUsedIntervalMs=0", "jute.maxbuffer=1048575", "enforceQuota=false",
	// Cluster options.
	"electionAlg=3", "initLimit=10", "syncLimit=5", "leaderServes=yes", "cnxTimeout=5000",
	"quorumCnxnTimeoutMs=-1", "standaloneEnabled=true", "reconfigEnabled=false", "4lw.commands.whitelist=*",
	"tcpKeepAlive=true", "electionPortBindRetry=3", "observer.reconnectDelayMs=0",
	"observer.election.DelayMs=200", "connectToLearnerMasterLimit=0", "maxTimeToWaitForEpoch=-1",
	"quorumListenOnAllIPs=false", "multiAddress.enabled=false", "multiAddress.reachabilityCheckTimeoutMs=1000",
	"multiAddress.reachabilityCheckEnabled=true", "fastleader.minNotificationInterval=200",
	"fastleader.maxNotificationInterval=60000", "maxConcurrentSnapSyncs=10", "maxConcurrentDiffSyncs=100",
	"learner.asyncSending=false", "leader.closeSocketAsync=false", "learner.closeSocketAsync=false",
	"localSessionsEnabled=false", "localSessionsUpgradingEnabled=false", "peerType=participant",
	"dynamicConfigFile=", "readonlymode.enabled=false",
	// Encryption, authentication and authorization; inert as long as no
	// TLS listener is asked for.
	"DigestAuthenticationProvider.superDigest=super:x=", "DigestAuthenticationProvider.digestAlg=SHA1",
	"DigestAuthenticationProvider.enabled=true", "X509AuthenticationProvider.superUser=CN=x",
	"zookeeper.superUser=super", "ssl.authProvider=x509", "ssl.keyStore.location=/k",
	"ssl.keyStore.password=p", "ssl.keyStore.type=PEM", "ssl.trustStore.location=/t",
	"ssl.trustStore.password=p", "ssl.trustStore.type=PEM", "ssl.protocol=TLSv1.2",
	"ssl.enabledProtocols=TLSv1.2", "ssl.ciphersuites=x",
	"ssl.hostnameVerification=true", "ssl.crl=false", "ssl.ocsp=false", "ssl.clientAuth=need",
	"ssl.handshakeDetectionTimeoutMillis=5000", "ssl.sslProvider=JDK", "ssl.quorum.keyStore.location=/k",
	"ssl.quorum.hostnameVerification=true", "sslQuorum=false", "client.portUnification=false",
	"sslQuorumReloadCertFiles=false", "client.certReload=false", "authProvider.1=org.apache.zookeeper.server.auth.DigestAuthenticationProvider",
	"enforce.auth.enabled=false", "enforce.auth.schemes=digest", "sessionRequireClientSASLAuth=false",
	"kerberos.removeHostFromPrincipal=false", "kerberos.removeRealmFromPrincipal=false",
	"quorum.auth.enableSasl=false", "quorum.auth.learnerRequireSasl=false", "quorum.auth.serverRequireSasl=false",
	"quorum.auth.learner.saslLoginContext=x", "quorum.auth.server.saslLoginContext=x",
	"quorum.auth.kerberos.servicePrincipal=x", "quorum.cnxn.threads.size=20",
	// Experimental options, unsafe options, AdminServer, metrics.
	"skipACL=no", "admin.enableServer=true", "admin.serverAddress=0.0.0.0", "admin.serverPort=8080",
	"admin.idleTimeout=30000", "admin.commandURL=/commands", "admin.forceHttps=false",
	"admin.portUnification=false", "metricsProvider.className=org.apache.zookeeper.metrics.prometheus.PrometheusMetricsProvider",
	"metricsProvider.httpHost=0.0.0.0", "metricsProvider.httpPort=7000", "metricsProvider.exportJvmInfo=true",
	"metricsProvider.numWorkerThreads=1", "metricsProvider.maxQueueSize=1000000",
	"metricsProvider.workerShutdownTimeoutMs=1000",
}

// Every key of the administrator guide is honoured, or accepted with a
// warning that says it has no effect: none falls through as unknown.
func TestEveryZooKeeperKeyIsAccounted(t *testing.T) {
	for _, kv := range zooKeeper38Keys {
		c, err := parse(t, "tickTime=2000\ndataDir=/d\nclientPort=2181\n"+kv+"\n")
		if err != nil {
			t.Errorf("%s: refused: %v", kv, err)
			continue
		}
		if len(c.Unknown) != 0 {
			t.Errorf("%s: read as an unknown key", kv)
		}
		key, _, _ := strings.Cut(kv, "=")
		for _, w := range c.Warnings {
			if strings.Contains(w, "has no effect") && !strings.HasPrefix(w, key+" has no effect: ") {
				t.Errorf("%s: the warning names another key: %q", kv, w)
			}
		}
	}
}

// A setting Meerkat cannot honour and whose absence would leave the server
// less secure than asked is refused at start, with the reason.
func TestSecuritySettingsAreRefused(t *testing.T) {
	for _, tc := range []struct{ kv, reason string }{
		{"ssl.quorum.ocsp=true", "revocation"},
		{"portUnification=true", "no port unification"},
		{"admin.forceHttps=true", "no TLS"},
		{"ssl.context.supplier.class=x", "cannot load Java classes"},
		{"ssl.crl=true", "revocation"},
		{"ssl.ocsp=true", "revocation"},
		{"ssl.authProvider=myx509", "only TLS authentication provider is x509"},
		{"ssl.clientAuth=sometimes", "none, want or need"},
		{"sessionRequireClientSASLAuth=true", "no SASL"},
		{"quorum.auth.enableSasl=true", "no SASL"},
		{"DigestAuthenticationProvider.digestAlg=SHA-999", "don't support this ACL digest algorithm"},
		{"DigestAuthenticationProvider.enabled=false", "cannot turn digest authentication off"},
		{"authProvider.1=org.apache.zookeeper.server.auth.SASLAuthenticationProvider", "cannot load Java classes"},
		{"audit.enable=true", "no audit log"},
	} {
		_, err := parse(t, "tickTime=2000\ndataDir=/d\nclientPort=2181\n"+tc.kv+"\n")
		if err == nil || !strings.Contains(err.Error(), "zoo.cfg:4") || !strings.Contains(err.Error(), "refused") || !strings.Contains(err.Error(), tc.reason) {
			t.Errorf("%s: want a refusal at zoo.cfg:4 saying %q, got %v", tc.kv, tc.reason, err)
		}
	}
}

// TLS settings are checked as ZooKeeper checks them at start, and a secure
// client port without a plaintext one serves TLS clients only.
func TestClientTLS(t *testing.T) {
	base := "tickTime=2000\ndataDir=/d\n"
	if _, err := parse(t, base+"clientPort=2181\nsecureClientPort=2281\n"); err == nil || !strings.Contains(err.Error(), "ssl.keyStore.location") {
		t.Errorf("secureClientPort without a key store: %v", err)
	}
	if _, err := parse(t, base+"clientPort=2181\nsecureClientPortAddress=127.0.0.1\n"); err == nil || !strings.Contains(err.Error(), "secureClientPortAddress is set but secureClientPort is not set") {
		t.Errorf("secureClientPortAddress alone: %v", err)
	}
	c, err := parse(t, base+"secureClientPort=2281\nsecureClientPortAddress=127.0.0.1\nssl.keyStore.location=/k.p12\nssl.clientAuth=WANT\nzookeeper.ssl.enabledProtocols=TLSv1.3, TLSv1.2\n")
	if err != nil {
		t.Fatal(err)
	}
	if c.ClientAddr() != "" || c.TLS.SecureAddr() != "127.0.0.1:2281" || len(c.Warnings) != 0 {
		t.Errorf("secure only: client addr %q, secure addr %q, warnings %q", c.ClientAddr(), c.TLS.SecureAddr(), c.Warnings)
	}
	if !c.TLS.X509() || c.TLS.Settings.KeyStore.Location != "/k.p12" || c.TLS.Settings.ClientAuth != zktls.ClientAuthWant ||
		len(c.TLS.Settings.EnabledProtocols) != 2 || !c.TLS.Settings.Reload || c.TLS.Settings.Protocol != "TLSv1.2" {
		t.Errorf("TLS settings: %+v", c.TLS)
	}
	if _, err := parse(t, base+"clientPort=2181\nsslQuorum=true\nssl.quorum.keyStore.location=/k\n"); err == nil || !strings.Contains(err.Error(), "ssl.quorum.trustStore.location") {
		t.Errorf("sslQuorum without a trust store: %v", err)
	}
	if c, err = parse(t, base+"clientPort=2181\nzookeeper.sslQuorum=true\nssl.quorum.keyStore.location=/k\nzookeeper.ssl.quorum.trustStore.location=/t\nssl.quorum.hostnameVerification=false\n"); err != nil ||
		!c.QuorumTLS.Enabled || c.QuorumTLS.Settings.TrustStore.Location != "/t" || c.QuorumTLS.Settings.HostnameVerification || c.TLS.Settings.KeyStore.Location != "" {
		t.Errorf("quorum TLS: %v %+v", err, c.QuorumTLS)
	}
	if c, err = parse(t, base+"clientPort=2181\n"); err != nil || c.TLS.Enabled() || c.TLS.X509() || c.TLS.Settings.HandshakeTimeout == 0 {
		t.Errorf("no TLS: %v %+v", err, c.TLS)
	}
}

// enforce.auth is checked as ZooKeeper's AuthenticationHelper checks it.
func TestEnforceAuth(t *testing.T) {
	base := "tickTime=2000\ndataDir=/d\nclientPort=2181\n"
	for _, tc := range []struct{ cfg, err string }{
		{"enforce.auth.enabled=true\n", "zookeeper.enforce.auth.schemes must be  configured"},
		{"enforce.auth.enabled=true\nenforce.auth.schemes=digest,kerberos\n", "Authentication scheme kerberos is not available."},
		{"enforce.auth.enabled=true\nenforce.auth.schemes=x509\n", "Authentication scheme x509 is not available."},
		{"enforce.auth.enabled=true\nenforce.auth.schemes=x509\nauthProvider.1=" + X509AuthenticationProvider + "\n", ""},
		{"zookeeper.enforce.auth.enabled=true\nzookeeper.enforce.auth.schemes= digest , ip\n", ""},
		{"enforce.auth.schemes=kerberos\n", ""},
		{"enforce.auth.enabled=true\nenforce.auth.schemes=sasl\n", "Authentication scheme sasl is not available: Meerkat has no SASL yet"},
	} {
		c, err := parse(t, base+tc.cfg)
		switch {
		case tc.err == "" && err != nil:
			t.Errorf("%q: %v", tc.cfg, err)
		case tc.err != "" && (err == nil || !strings.Contains(err.Error(), tc.err)):
			t.Errorf("%q: want %q, got %v", tc.cfg, tc.err, err)
		case tc.err == "" && c.EnforceAuth && c.EnforceAuthSchemes[0] == " digest ":
			t.Errorf("%q: schemes not trimmed: %q", tc.cfg, c.EnforceAuthSchemes)
		}
	}
}

func TestClientPortMissing(t *testing.T) {
	// ZooKeeper's own refusal.
	if _, err := parse(t, "tickTime=2000\ndataDir=/d\nclientPortAddress=127.0.0.1\n"); err == nil || !strings.Contains(err.Error(), "clientPortAddress is set but clientPort is not set") {
		t.Fatalf("clientPortAddress without clientPort: %v", err)
	}
	c, err := parse(t, "tickTime=2000\ndataDir=/d\n")
	if err != nil || len(c.Warnings) != 1 || !strings.Contains(c.Warnings[0], "clientPort is not set") {
		t.Fatalf("no client port: %v %q", err, c.Warnings)
	}
}

// The keys --help lists as honoured are read without a warning.
func TestHonouredKeysAreRead(t *testing.T) {
	sample := map[string]string{
		"tickTime": "2000", "dataDir": "/d", "dataLogDir": "/l", "clientPort": "2181", "clientPortAddress": "127.0.0.1",
		"minSessionTimeout": "4000", "maxSessionTimeout": "40000", "maxClientCnxns": "10", "globalOutstandingLimit": "100",
		"4lw.commands.whitelist": "srvr", "jute.maxbuffer": "2048", "extendedTypesEnabled": "true", "enforceQuota": "true",
		"znode.container.checkIntervalMs": "100", "znode.container.maxPerMinute": "10",
		"znode.container.maxNeverUsedIntervalMs": "100", "DigestAuthenticationProvider.superDigest": "super:x=",
		"skipACL": "no", "forceSync": "yes", "datadir.autocreate": "true", "snapCount": "10", "preAllocSize": "1024",
		"admin.enableServer": "false", "admin.serverAddress": "127.0.0.1", "admin.serverPort": "8081",
		"serverId": "1", "initLimit": "10", "syncLimit": "5", "standaloneEnabled": "true", "peerType": "participant",
		"dynamicConfigFile": "", "reconfigEnabled": "true", "localSessionsEnabled": "false",
		"localSessionsUpgradingEnabled": "false", "readonlymode.enabled": "false",
		"meerkat.client.outboundThrottleBytes": "65536", "meerkat.client.slowConsumerBytes": "1048576", "meerkat.client.maxWatches": "100000",
		"meerkat.raft.keepEntries": "100", "metricsProvider.className": PrometheusMetricsProvider,
		"metricsProvider.httpHost": "127.0.0.1", "metricsProvider.httpPort": "7001",
		"admin.snapshot.enabled": "true", "meerkat.admin.pprof.enabled": "true",
		"secureClientPort": "2281\nssl.keyStore.location=/k", "secureClientPortAddress": "127.0.0.1\nsecureClientPort=2281\nssl.keyStore.location=/k",
		"client.portUnification": "true\nssl.keyStore.location=/k", "client.certReload": "false",
		"ssl.keyStore.location": "/k", "ssl.keyStore.password": "p", "ssl.keyStore.passwordPath": "/dev/null", "ssl.keyStore.type": "PKCS12",
		"ssl.trustStore.location": "/t", "ssl.trustStore.password": "p", "ssl.trustStore.passwordPath": "/dev/null", "ssl.trustStore.type": "JKS",
		"ssl.clientAuth": "want", "ssl.protocol": "TLSv1.3", "ssl.enabledProtocols": "TLSv1.2,TLSv1.3",
		"ssl.ciphersuites": "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256", "ssl.hostnameVerification": "false",
		"ssl.handshakeDetectionTimeoutMillis": "3000", "ssl.crl": "false", "ssl.ocsp": "false", "ssl.authProvider": "x509",
		"X509AuthenticationProvider.superUser": "CN=admin", "maxCnxns": "100", "nio.numSelectorThreads": "1", "zookeeper.request_throttle_max_requests": "500",
		"zookeeper.connection_throttle_tokens": "100", "zookeeper.connection_throttle_fill_time": "10",
		"zookeeper.connection_throttle_fill_count": "5", "zookeeper.connection_throttle_freeze_time": "100",
		"zookeeper.connection_throttle_drop_increase": "0.05", "zookeeper.connection_throttle_drop_decrease": "0.01",
		"zookeeper.connection_throttle_decrease_ratio": "0.5", "zookeeper.connection_throttle_weight_enabled": "true", "DigestAuthenticationProvider.digestAlg": "SHA3-256",
		"enforce.auth.enabled": "true\nenforce.auth.schemes=digest", "enforce.auth.schemes": "digest, ip",
		"sslQuorum": "true\nssl.quorum.keyStore.location=/k\nssl.quorum.trustStore.location=/t", "sslQuorumReloadCertFiles": "true",
		"ssl.quorum.keyStore.location": "/k", "ssl.quorum.keyStore.password": "p", "ssl.quorum.keyStore.type": "PEM",
		"ssl.quorum.trustStore.location": "/t", "ssl.quorum.trustStore.password": "p", "ssl.quorum.trustStore.type": "PEM",
		"ssl.quorum.clientAuth": "need", "ssl.quorum.protocol": "TLSv1.3", "ssl.quorum.enabledProtocols": "TLSv1.3",
		"ssl.quorum.ciphersuites": "TLS_AES_128_GCM_SHA256", "ssl.quorum.hostnameVerification": "true",
	}
	for _, k := range HonouredKeys {
		if k == "server.N" {
			continue
		}
		if k == "authProvider.N" {
			k, v := "authProvider.x509", X509AuthenticationProvider
			if c, err := parse(t, "tickTime=2000\ndataDir=/d\nclientPort=2181\n"+k+"="+v+"\n"); err != nil || !c.TLS.X509() {
				t.Errorf("%s=%s: %v, x509 provider not registered", k, v, err)
			}
			continue
		}
		v, ok := sample[k]
		if !ok {
			t.Errorf("%s: no sample value in the test", k)
			continue
		}
		c, err := parse(t, "tickTime=2000\ndataDir=/d\nclientPort=2181\n"+k+"="+v+"\n")
		if err != nil || len(c.Unknown) != 0 || len(c.Warnings) != 0 {
			t.Errorf("%s=%s: %v, unknown %q, warnings %q", k, v, err, c.Unknown, c.Warnings)
		}
	}
}
