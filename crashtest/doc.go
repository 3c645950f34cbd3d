// Package crashtest is Meerkat's crash-recovery test of record. It holds
// only tests: they run the real server binary (internal/zktest) with
// forceSync on and 1 MiB log segments (preAllocSize), drive it with
// concurrent raw-protocol clients (internal/wire), SIGKILL it at points
// drawn from a seed, restart it on the same data directory and check the
// recovered tree against a model built from what the server acknowledged.
//
// # A round
//
//  1. Setup, on a checker session: rounds older than the last ten are
//     deleted (every 25th is kept for good), so the tree stays small enough
//     to read back whole; the round's directories are created, one per
//     writer. The writers resume their sessions (id and password) or, in
//     round 0, open them; a new session creates the round's ephemeral znode.
//  2. Writers (six by default, each its own connection and session, with one
//     to four requests outstanding) send creates, sequential creates under a
//     parent that lives for the whole run, version-checked setData on their
//     own hot znodes, deletes at version 0, multis that succeed (two creates
//     and a version-checked setData) and multis that must fail (a wrong
//     version, a duplicate create). Each keeps what was acknowledged (a reply
//     arrived) and what was in flight (sent, no reply) when the server died.
//  3. The server is SIGKILLed once the writers together have had 50 to 1000
//     operations acknowledged (drawn from the seed) and restarted. Its
//     recovery line must be in its log.
//  4. Verification opens a session with lastZxidSeen set to the highest zxid
//     any reply carried (a server that came back behind refuses it), reads
//     the whole tree, and decides for every in-flight write whether it was
//     applied. Every acknowledged write must be there with the data,
//     version, czxid and mzxid its reply gave; an in-flight one may be
//     there, but a multi only whole, and each connection's applied requests
//     must be a prefix of what it sent; nothing else may be there. Zxids of
//     writes are never handed out twice, sequence numbers keep growing, and
//     writes after a restart get zxids above everything seen before it. The
//     previous round's ephemeral session resumes (TimeOut > 0, its ephemeral
//     still there) and closes; the ephemeral must then stay gone. No new
//     session ever gets an id handed out before.
//
// # Running
//
//	go test ./crashtest -count=1 -race -v                 # 30 rounds, about 30 s
//	MEERKAT_CRASH_ROUNDS=1000 go test ./crashtest -count=1 -v -timeout 0
//
// Across the rounds, at least one restart must have loaded a checkpoint and
// replayed a log tail after it, and log segments must have been removed
// behind a checkpoint: both ways of recovering are taken, or the test fails.
//
// A run's seed is fixed (20261202) unless MEERKAT_CRASH_SEED names another;
// it is logged, and replays the operations and the kill points (counted in
// acknowledged operations, so only the writers' interleaving still varies);
// MEERKAT_CRASH_WRITERS sets the number of writers;
// MEERKAT_CRASH_SNAPCOUNT the server's snapCount (1000 by default, so the
// checkpoint is flushed and the log removed behind it several times a
// round; ZooKeeper's 100000 makes recovery replay far more of the log). A
// failure names the round, the paths, what the model expected and what the server had, lists
// each writer's last and in-flight operations, prints the logs of the killed
// and the restarted server, and keeps a copy of the data directory.
package crashtest
