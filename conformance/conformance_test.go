package conformance

import (
	"testing"

	"github.com/meerkat-zk/meerkat/internal/zktest"
)

// superPassword is the password of the super user configured on the shared
// pair through zookeeper.DigestAuthenticationProvider.superDigest.
const superPassword = "hunter2"

// sharedOptions configure the pair most scenarios share: TTL nodes on and
// a super user.
func sharedOptions() zktest.Options {
	return zktest.Options{
		ExtendedTypes: true,
		Extra: []string{
			"zookeeper.DigestAuthenticationProvider.superDigest=" + zktest.DigestID("super", superPassword),
		},
	}
}

// sharedScenarios is every scenario that runs on the shared pair, in
// order.
func sharedScenarios() []scenario {
	var all []scenario
	for _, group := range [][]scenario{
		nodeScenarios,
		moreNodeScenarios,
		quotaScenarios,
		statScenarios,
		aclScenarios,
		multiScenarios,
		watchScenarios,
		sessionScenarios,
		passwordScenarios,
		protocolScenarios,
	} {
		all = append(all, group...)
	}
	return all
}

// TestConformance plays the shared scenarios against one ZooKeeper and one
// Meerkat, one scenario at a time.
func TestConformance(t *testing.T) {
	t.Parallel()
	p := startPair(t, sharedOptions())
	runPair(t, p, sharedScenarios())
}
