package conformance

import (
	"slices"
	"strings"
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
		aclMatrixScenarios(),
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
	p := startPair(t, sharedOptions(), standalone)
	runPair(t, p, sharedScenarios())
}

// followerScenarios are what TestConformanceOnFollowers plays, in order:
// those of TestFreshServer that need no setting of their own, in its order
// (the fresh-tree scenarios while the tree is untouched, then the
// four-letter words, whose counts follow from the tree), then the shared
// scenarios.
//
// The pairs of pairs_test.go that need their own zoo.cfg stay standalone
// only: ttl_disabled_without_extended_types (extended types off), the 4lw
// whitelist, session expiry (tickTime 1 s), container and TTL sweeps
// (znode.container.*), enforced quotas, skipACL and jute.maxbuffer; so do
// the pairs of authpairs_test.go (digest algorithms, an x509 provider,
// enforce.auth, refused settings) and the half-closed four-letter
// variants, the same words over the same transport.
func followerScenarios() []scenario {
	var fresh []scenario
	for _, sc := range freshScenarios {
		if sc.name != "ttl_disabled_without_extended_types" {
			fresh = append(fresh, sc)
		}
	}
	return slices.Concat(fresh, fourLetterScenarios, sharedScenarios())
}

// notOnFollowers are the scenarios of followerScenarios that the
// ensemble variant skips (visibly), with why: each breaks ZooKeeper's
// ensemble itself, so that nothing after it could be compared. (Meerkat's
// followers answered them as Meerkat's standalone server does when this
// was written.)
var notOnFollowers = map[string]string{
	// The check is proposed as a CheckVersion txn (type 13) that
	// ZooKeeper 3.8's learners cannot apply ("Unsupported Txn with
	// type=13"): every follower leaves the ensemble, a new election
	// follows, and the txn, now in the log, breaks their next sync too
	// (ZOOKEEPER-2623).
	"check_standalone_documented_divergence": "a successful check outside a multi makes ZooKeeper's followers drop out of the ensemble (Unsupported Txn with type=13)",
	// The leader's PrepRequestProcessor fails to read the body
	// (EOFException) and proposes nothing, not even an error txn; the
	// follower waits for that commit forever: no reply, and no new session
	// is set up on it any more.
	"reconfig_malformed_body": malformedReconfig,
	"malformed_body_reconfig": malformedReconfig,
}

const malformedReconfig = "a malformed reconfig wedges ZooKeeper's follower (the leader proposes nothing for it: no reply, and no new session afterwards)"

// aclMatrixPrefix names the ACL matrix scenarios, which play against the
// standalone servers only. ZooKeeper 3.8's ensemble, after the scenarios
// before them, once let a write forwarded by its follower through an ACL
// that grants ADMIN alone (acl_matrix_auth_admin: setData, create and
// delete succeeded, in CI, 2026-12-03); the same scenarios on a fresh
// ensemble refuse them, as Meerkat's followers do. The reference is not
// stable there, so nothing can be compared.
const aclMatrixPrefix = "acl_matrix_"

// skipOnFollowers says why the ensemble variant skips scenario name, if it
// does.
func skipOnFollowers(name string) (string, bool) {
	if why, ok := notOnFollowers[name]; ok {
		return why, true
	}
	if strings.HasPrefix(name, aclMatrixPrefix) {
		return "ZooKeeper's ensemble answered the ACL matrix inconsistently, depending on the scenarios before it (see aclMatrixPrefix)", true
	}
	return "", false
}

// TestConformanceOnFollowers plays the same scenarios against a follower
// of a 3-voter ZooKeeper ensemble and a follower of a 3-voter Meerkat
// ensemble, each ensemble started once for all of them. It runs alone,
// not beside the package's parallel pairs, which made ZooKeeper's
// follower stall more often still (see compare for the stalls left).
func TestConformanceOnFollowers(t *testing.T) {
	p := startPair(t, sharedOptions(), ensembleFollower)
	runPair(t, p, followerScenarios())
}
