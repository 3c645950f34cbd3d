package config

import (
	"fmt"
	"strings"
)

// A zoo.cfg key of ZooKeeper 3.8 that Meerkat does not honour is either
// inert (accepted with a one-line warning saying why it has no effect) or,
// when ignoring it would leave the server less secure or less durable than
// the operator asked for, refused at start with the reason.

// Why keys have no effect.
const (
	whyTLSKey     = "Meerkat's TLS is Go's crypto/tls, which has no such setting"
	whyNoSASL     = "Meerkat has no SASL or Kerberos yet"
	whyNoLimit    = "Meerkat has no such limit yet (it has maxClientCnxns, maxCnxns, globalOutstandingLimit, request_throttle_max_requests, the connection throttle and a per-connection queue cap)"
	whyStall      = "a connection held back by request_throttle_max_requests reads again the moment its requests are answered, rather than after a stall time"
	whyDropStale  = "the requests a closed connection had not yet had submitted are always dropped"
	whyJVM        = "it tunes a part of ZooKeeper's Java server that Meerkat does not have"
	whyZab        = "it tunes ZooKeeper's Zab election or learner sync; Meerkat's ensembles replicate through raft"
	whyPurge      = "Meerkat trims its own log behind each checkpoint; there are no old snapshots or logs to purge"
	whyOperations = "Meerkat does not have this yet"
)

// inertKeys maps ZooKeeper 3.8 keys (as canonical() names them) to why
// Meerkat ignores them.
var inertKeys = map[string]string{
	"autopurge.snapRetainCount":                 whyPurge,
	"autopurge.purgeInterval":                   whyPurge,
	"zookeeper.commitLogCount":                  "a lagging follower gets raft entries or a snapshot, not a committed-log replay",
	"zookeeper.digest.enabled":                  "Meerkat does not compute ZooKeeper's tree digest (the hash four-letter word answers as with digests off)",
	"zookeeper.snapshot.compression.method":     "Meerkat checkpoints into pebble, and its snapshots are always zstd",
	"zookeeper.snapshot.trust.empty":            "Meerkat checks its own checkpoint and log",
	"snapSizeLimitInKb":                         "Meerkat checkpoints every snapCount transactions",
	"txnLogSizeLimitInKb":                       "Meerkat's log segments are preAllocSize each",
	"fsync.warningthresholdms":                  whyOperations + " (the fsync latency is in the metrics)",
	"zookeeper.fsync.warningthresholdms":        whyOperations + " (the fsync latency is in the metrics)",
	"syncEnabled":                               "observers keep their log on disk always",
	"tcpKeepAlive":                              whyOperations,
	"clientTcpKeepAlive":                        whyOperations,
	"clientPortListenBacklog":                   whyOperations,
	"admin.idleTimeout":                         whyOperations,
	"admin.commandURL":                          "the admin server's commands are under /commands",
	"requestThrottleStallTime":                  whyStall,
	"requestThrottleDropStale":                  whyDropStale,
	"zookeeper.request_throttle_stall_time":     whyStall,
	"zookeeper.request_throttle_drop_stale":     whyDropStale,
	"requestStaleLatencyCheck":                  whyNoLimit,
	"requestStaleConnectionCheck":               whyNoLimit,
	"largeRequestMaxBytes":                      whyNoLimit,
	"largeRequestThreshold":                     whyNoLimit,
	"outstandingHandshake.limit":                whyNoLimit,
	"throttledOpWaitTime":                       whyNoLimit,
	"jute.maxbuffer.extrasize":                  whyNoLimit,
	"zookeeper.superUser":                       whyNoSASL,
	"electionAlg":                               whyZab,
	"cnxTimeout":                                whyZab,
	"quorumCnxnTimeoutMs":                       whyZab,
	"connectToLearnerMasterLimit":               whyZab,
	"leaderServes":                              whyZab,
	"maxTimeToWaitForEpoch":                     whyZab,
	"quorumListenOnAllIPs":                      whyZab,
	"electionPortBindRetry":                     whyZab,
	"maxConcurrentSnapSyncs":                    whyZab,
	"maxConcurrentDiffSyncs":                    whyZab,
	"observerMasterPort":                        whyZab,
	"watchManagerName":                          whyJVM,
	"watcherCleanThreshold":                     whyJVM,
	"watcherCleanIntervalInSeconds":             whyJVM,
	"watcherCleanThreadsNum":                    whyJVM,
	"bitHashCacheSize":                          whyJVM,
	"maxInProcessingDeadWatchers":               whyJVM,
	"serverCnxnFactory":                         whyJVM,
	"flushDelay":                                whyJVM,
	"maxWriteQueuePollTime":                     whyJVM,
	"maxBatchSize":                              whyJVM,
	"zookeeper.flushDelay":                      whyJVM,
	"zookeeper.maxWriteQueuePollTime":           whyJVM,
	"zookeeper.maxBatchSize":                    whyJVM,
	"advancedFlowControlEnabled":                whyJVM,
	"maxResponseCacheSize":                      whyJVM,
	"maxGetChildrenResponseCacheSize":           whyJVM,
	"zookeeper.maxResponseCacheSize":            whyJVM,
	"zookeeper.maxGetChildrenResponseCacheSize": whyJVM,
	"enableEagerACLCheck":                       whyJVM,
	"zookeeper.enableEagerACLCheck":             whyJVM,
	"emulate353TTLNodes":                        "TTL nodes use the 3.5.4+ encoding",
	"zookeeper.emulate353TTLNodes":              "TTL nodes use the 3.5.4+ encoding",
	"metricsProvider.exportJvmInfo":             "Meerkat exports its Go runtime and process metrics instead of the JVM's",
	"metricsProvider.numWorkerThreads":          whyJVM,
	"metricsProvider.maxQueueSize":              whyJVM,
	"metricsProvider.workerShutdownTimeoutMs":   whyJVM,
}

// inertPrefixes are families of inert keys.
var inertPrefixes = []struct{ prefix, why string }{
	{"ssl.", whyTLSKey},
	{"zookeeper.ssl.", whyTLSKey},
	{"kerberos.", whyNoSASL},
	{"zookeeper.kerberos.", whyNoSASL},
	{"quorum.auth.", whyNoSASL},
	{"fastleader.", whyZab},
	{"observer.", whyZab},
	{"quorum.cnxn.", whyNoSASL},
	{"multiAddress.", whyZab},
	{"zookeeper.multiAddress.", whyZab},
	{"learner.", whyZab},
	{"leader.", whyZab},
	{"zookeeper.leader.", whyZab},
	{"zookeeper.learner.", whyZab},
	{"zookeeper.nio.", whyJVM},
	{"zookeeper.commitProcessor.", whyJVM},
	{"zookeeper.messageTracker.", whyJVM},
	{"zookeeper.watcherCleanThreshold", whyJVM},
}

// inertReason says why Meerkat ignores key, or "" when it is not a known
// inert key.
func inertReason(key string) string {
	if why, ok := inertKeys[key]; ok {
		return why
	}
	for _, p := range inertPrefixes {
		if strings.HasPrefix(key, p.prefix) {
			return p.why
		}
	}
	return ""
}

// builtinAuthProviders are the authProvider.N classes Meerkat has built in.
var builtinAuthProviders = map[string]bool{
	"org.apache.zookeeper.server.auth.DigestAuthenticationProvider": true,
	"org.apache.zookeeper.server.auth.IPAuthenticationProvider":     true,
	X509AuthenticationProvider:                                      true,
}

// securitySwitch reports whether key turns on a security or durability
// feature, and if so why its value must stop the server from starting (it
// asks for what Meerkat cannot do), or "" when the value asks for what
// Meerkat does anyway (sslQuorum=false, audit.enable=false, ...).
func securitySwitch(key, value string) (known bool, refused string) {
	on := strings.EqualFold(value, "true") || strings.EqualFold(value, "yes")
	const noSASL = "Meerkat has no SASL yet and would let unauthenticated peers or clients in"
	switch key {
	case "admin.forceHttps", "admin.portUnification":
		return true, refuseIf(on, "Meerkat's admin server has no TLS yet and would serve it in plaintext")
	case "quorum.auth.enableSasl", "quorum.auth.learnerRequireSasl", "quorum.auth.serverRequireSasl",
		"zookeeper.sessionRequireClientSASLAuth":
		return true, refuseIf(on, noSASL)
	case "zookeeper.DigestAuthenticationProvider.enabled":
		return true, refuseIf(!on, "Meerkat cannot turn digest authentication off; it would accept digest credentials ZooKeeper refuses")
	case "zookeeper.audit.enable":
		return true, refuseIf(on, "Meerkat has no audit log yet")
	}
	if strings.HasPrefix(key, "authProvider.") {
		return true, refuseIf(!builtinAuthProviders[value], "Meerkat has only the digest, ip and x509 providers built in, and cannot load Java classes")
	}
	return false, ""
}

func refuseIf(cond bool, why string) string {
	if cond {
		return why
	}
	return ""
}

// unhandled deals with a key Meerkat does not act on. ZooKeeper reads an
// unknown zoo.cfg key as the system property "zookeeper."+key, so both
// spellings are looked up: a security switch asking for what Meerkat
// cannot do is an error (and one asking for what it does anyway is
// accepted), an inert key a warning, anything else is listed as unknown.
func (c *Config) unhandled(key, value string) error {
	for _, k := range []string{key, "zookeeper." + key} {
		if known, why := securitySwitch(k, value); why != "" {
			return fmt.Errorf("%s=%s is refused: %s", key, value, why)
		} else if known {
			return nil
		}
		if why := inertReason(k); why != "" {
			c.warn(fmt.Sprintf("%s has no effect: %s", key, why))
			return nil
		}
	}
	c.Unknown = append(c.Unknown, key)
	return nil
}

// HonouredKeys lists the zoo.cfg keys Meerkat acts on, for `meerkat
// --help` (server.N stands for the ensemble's server lines).
var HonouredKeys = []string{
	"tickTime", "dataDir", "dataLogDir", "clientPort", "clientPortAddress",
	"minSessionTimeout", "maxSessionTimeout", "maxClientCnxns", "globalOutstandingLimit", "nio.numSelectorThreads",
	"4lw.commands.whitelist", "jute.maxbuffer", "extendedTypesEnabled", "enforceQuota",
	"znode.container.checkIntervalMs", "znode.container.maxPerMinute",
	"znode.container.maxNeverUsedIntervalMs", "DigestAuthenticationProvider.superDigest",
	"skipACL", "forceSync", "datadir.autocreate", "snapCount", "preAllocSize",
	"admin.enableServer", "admin.serverAddress", "admin.serverPort", "admin.snapshot.enabled",
	"meerkat.admin.pprof.enabled",
	"metricsProvider.className", "metricsProvider.httpHost", "metricsProvider.httpPort",
	"server.N", "serverId", "initLimit", "syncLimit", "standaloneEnabled", "peerType",
	"dynamicConfigFile", "reconfigEnabled", "localSessionsEnabled",
	"localSessionsUpgradingEnabled", "readonlymode.enabled",
	"meerkat.client.outboundThrottleBytes", "meerkat.client.slowConsumerBytes", "meerkat.client.maxWatches",
	"secureClientPort", "secureClientPortAddress", "client.portUnification", "client.certReload",
	"ssl.keyStore.location", "ssl.keyStore.password", "ssl.keyStore.passwordPath", "ssl.keyStore.type",
	"ssl.trustStore.location", "ssl.trustStore.password", "ssl.trustStore.passwordPath", "ssl.trustStore.type",
	"ssl.clientAuth", "ssl.protocol", "ssl.enabledProtocols", "ssl.ciphersuites", "ssl.hostnameVerification",
	"ssl.handshakeDetectionTimeoutMillis", "ssl.crl", "ssl.ocsp", "ssl.authProvider", "authProvider.N",
	"X509AuthenticationProvider.superUser", "sslQuorum", "sslQuorumReloadCertFiles",
	"ssl.quorum.keyStore.location", "ssl.quorum.keyStore.password", "ssl.quorum.keyStore.type",
	"ssl.quorum.trustStore.location", "ssl.quorum.trustStore.password", "ssl.quorum.trustStore.type",
	"ssl.quorum.clientAuth", "ssl.quorum.protocol", "ssl.quorum.enabledProtocols", "ssl.quorum.ciphersuites",
	"ssl.quorum.hostnameVerification", "DigestAuthenticationProvider.digestAlg", "enforce.auth.enabled",
	"enforce.auth.schemes", "maxCnxns", "zookeeper.request_throttle_max_requests",
	"zookeeper.connection_throttle_tokens", "zookeeper.connection_throttle_fill_time",
	"zookeeper.connection_throttle_fill_count", "zookeeper.connection_throttle_freeze_time",
	"zookeeper.connection_throttle_drop_increase", "zookeeper.connection_throttle_drop_decrease",
	"zookeeper.connection_throttle_decrease_ratio", "zookeeper.connection_throttle_weight_enabled",
	"meerkat.raft.keepEntries",
}
