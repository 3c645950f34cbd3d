// Package clients holds end-to-end tests that drive real, unmodified
// ZooKeeper clients against Meerkat: the Java client through zkCli.sh, the
// C client through cli_mt, and kazoo's recipes through Debian's
// /usr/bin/python3. Every test runs the same body against Apache ZooKeeper
// 3.8 too, so a test that fails there is a broken test, and one that fails
// only on Meerkat is a server bug.
//
//   - TestZkCli, TestZkCliTTLAndContainer: zkCli commands, watches set in
//     one session and fired from another, digest auth, quotas, TTL and
//     container nodes.
//   - TestKazooRecipes: one python process per recipe (testdata/), several
//     sessions contending where the recipe is about contention.
//   - TestCClient: cli_mt, a command at a time, checking every completion.
//   - TestZkCliSameOutputAsZooKeeper, TestCClientChildrenMatchZooKeeper:
//     the same script against both servers, outputs compared.
//   - TestFailover: kazoo (testdata/kazoo_failover.py), zkCli, cli_mt and
//     Curator (testdata/CuratorFailover.java) against a three-server
//     ensemble through the multi-host connect string; the member each one
//     is connected to is SIGKILLed mid-run, and the session must carry on:
//     its ephemerals and kazoo's and Curator's locks stay,
//     its watches fire for a change made through another member, it reads
//     what it wrote and writes on.
//   - TestCuratorEnsembleTracker: Curator (testdata/CuratorTracker.java,
//     compiled with javac) follows /zookeeper/config through reconfigs
//     that remove a server and add it back.
//   - TestKazooReadOnly: kazoo with read_only=True against the last member
//     of a three-server ensemble (readonlymode.enabled, local sessions):
//     it connects read-only, reads, gets NotReadOnlyCallError on writes,
//     and moves to a read-write server when a killed member comes back.
//
// The package has no code of its own; run it with
//
//	go test ./clients/ -count=1 -race -v
//
// It needs the Debian packages zookeeper, zookeeper-bin, python3-kazoo,
// libcurator-framework-java, libcurator-recipes-java and
// openjdk-17-jdk-headless (make test installs them) and fails, never
// skips, when one is missing.
package clients
