// Package conformance holds the side-by-side conformance suite: it starts
// Apache ZooKeeper 3.8 and Meerkat on loopback, plays the same scenarios
// against both with a raw jute client, and asserts that the normalized
// transcripts are identical.
//
// The package has no code outside its tests. A scenario is a function of an
// env (one server, one scenario prefix). Everything it observes is written
// to the env's transcript as one line per request, reply or event, with the
// server-specific values normalized:
//
//	zxids          offsets from the scenario's first zxid: z+3, or 0 / -1
//	ctime, mtime   relations only: t{c=m,now}, t{c<m,now}, t{0}
//	session ids    symbolic names in order of creation: sA, sB, ...
//	child lists    sorted
//	four-letter    keys and line shapes, not values
//
// The test then compares Meerkat's transcript with ZooKeeper's line by line.
// A scenario may also check its own expectations with env.expect, which
// keeps the suite honest about what ZooKeeper does.
//
// Scenarios on the shared pair of servers run one at a time, so that zxid
// offsets are not disturbed by other scenarios; those that need another
// configuration (short tickTime, fast container sweeps, a 4lw whitelist, a
// fresh tree) start their own pair and run in parallel with the rest.
//
// TestConformanceOnFollowers plays the same scenarios (those that need no
// zoo.cfg of their own) against a follower of a 3-voter ZooKeeper ensemble
// and a follower of a 3-voter Meerkat ensemble: the harness's target says
// which. On followers the four-letter words compare mode for mode, each
// transcript records the zxid epoch, and conf's ports and serverId are
// checked to be the member's own; the few other allowances are commented
// where they are made (grep ensembleFollower), and the scenarios that
// break ZooKeeper's ensemble itself are skipped with a reason.
//
// Run it with
//
//	go test ./conformance/ -count=1 -race
package conformance
