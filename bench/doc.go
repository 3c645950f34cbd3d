// Package bench is Meerkat's benchmark harness: a load generator that
// speaks the ZooKeeper wire protocol itself, the scenarios, the measurement
// of the machine's limits, and the side-by-side runner behind
// cmd/meerkat-bench that drives Apache ZooKeeper 3.8 and Meerkat through
// the same generator and writes BENCHMARKS.md.
//
// # The generator
//
// Load opens Conns connections, each with its own session, and drives each
// from one Stream (the request mix: Mix, Children, Churn, Creates).
//
//   - Closed loop (Rate 0): each connection keeps Depth requests
//     outstanding; one goroutine per connection parses every reply that a
//     read returned, appends the next request for each, and writes them all
//     with one syscall. Latency counts from the write.
//   - Open loop (Rate > 0): request k of connection i is due at
//     (i + k·Conns)/Rate after the start, whatever the server does. A sender
//     goroutine writes everything due at once and sleeps until the next; a
//     receiver goroutine reads. Latency counts from the scheduled time, so a
//     server stall is charged to every request that fell due during it
//     (wrk2's answer to coordinated omission). Depth caps what may be
//     outstanding; beyond it the sender waits and its lag is reported.
//
// Every reply is checked: its xid must be the oldest outstanding on its
// connection (ZooKeeper answers in order), and the Stream checks its error
// code and size. Failures are counted in the Result, never dropped. A
// warm-up precedes the measured window; requests sent (or due) in the
// warm-up are not counted, and the run is bounded by Warmup + Duration +
// Drain. The generator's own CPU time per request (getrusage) is reported
// beside the server's (/proc/<pid>/stat), because on a two-core machine the
// two compete.
//
// With Options.TLS every connection is a crypto/tls client (a client
// certificate, the CA as root) over its TCP connection, and the generator
// still speaks the wire protocol itself, through the same buffers: one
// write (one TLS record) per batch of requests, and, since crypto/tls
// returns one record per read, every record already received is taken
// before the closed loop answers (without a syscall: a read against a past
// deadline), so that a server writing one record per reply is answered as
// over plaintext, with one write.
//
// Fanout holds thousands of sessions with a watch each; it waits for their
// events with a few epoll loops over the raw sockets rather than a
// goroutine per session, so that the generator's cost per event stays well
// below the server's.
//
// Latencies go into a Histogram: log-linear buckets (128 per power of two,
// ≤ 0.8 % error) in the manner of HdrHistogram, one per goroutine, merged at
// the end.
//
// # The runner
//
// RunSuite measures the limits (FsyncLimit: fdatasync and group commit on
// the data disk; ServeEcho: a server on Meerkat's event loops answering getData
// frames, run as a separate process), then starts ZooKeeper and Meerkat
// through internal/zktest with forceSync=yes and maxClientCnxns=0 and runs
// every scenario against each. For the request scenarios both servers are
// up at once and take turns, scenario by scenario, so that the machine's
// drift lands on both; the other groups start one server at a time.
// Config.Only
// (meerkat-bench -only) picks groups of scenarios. The TLS group starts
// each server with a plain and a secure client port (ZooKeeper with
// NettyServerCnxnFactory, which its TLS needs, for both) and a fresh CA,
// and measures getData and setData over each port. The Report is written
// as JSON (bench/results/) and rendered by WriteReport into
// BENCHMARKS.md with SVG charts.
package bench
