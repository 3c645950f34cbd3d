// Package netpoll is Meerkat's client-facing network server: gnet event
// loops that speak ZooKeeper's client protocol on one port, with the
// four-letter words beside it.
//
// # Who runs what
//
// Each event loop owns its connections, their request queues, their output
// buffers and a watch registry (engine.Watches) for them; nothing of that is
// shared, so none of it is locked. Reads are answered inside the loop from
// one atomic load of the pipeline's current engine.View. Writes, session
// creation and the few requests that need the state's owner (sync,
// getEphemerals) are handed to the pipeline goroutine; it completes them
// back to the owning loop with gnet's Execute, one call per loop per batch.
//
// A loop never waits on a full pipeline queue while it has room of its own:
// what the queue does not take waits in the loop's backlog, in the order it
// was read, and the loop goes on answering reads. Only past maxBacklog does
// the loop wait, so that a flood of writes is held back by TCP; meanwhile
// the four-letter words that ask every loop (srvr, stat, cons, mntr, ...)
// wait for it too.
//
// # Ordering
//
// Replies leave a connection in request order: a request that arrives while
// an earlier one is still with the pipeline waits in the connection's queue.
// Consecutive writes are submitted together so that they share a batch; a
// read queued between writes is answered after the first and before the
// second is submitted, so it sees exactly the writes before it.
//
// Before a loop answers anything from a View, it delivers the watch events
// of every version up to that View (it walks the Changes chain), so a
// client sees an event before any reply that shows the change behind it.
// The pipeline wakes the loops after each publication so that idle
// connections get their events too.
//
// # Frames
//
//	+----------+---------------------------------+
//	| len: 4   | payload: len bytes               |
//	+----------+---------------------------------+
//
// A frame longer than jute.maxbuffer, or with a negative length, closes the
// connection, as ZooKeeper does; the other connections are not affected.
// The first four bytes of a new connection may instead be a four-letter
// word ("ruok", "srvr", ...), answered in text before the connection closes.
package netpoll
