// Package wal is Meerkat's write-ahead log: segmented, append-only files of
// checksummed records, with one fdatasync per appended batch (group commit),
// crash-safe segment rotation and a recovery that tells a torn tail from
// corruption.
//
// # Who calls what
//
// One goroutine owns a WAL (the pipeline goroutine): it calls
// Append(index, payload), which writes one record and syncs once before
// returning. The pipeline puts a whole batch of requests into one record's
// payload, so every request in the batch is durable together. A background
// goroutine preallocates the next segment so rotation does not wait for
// the disk. Replay and RemoveThrough are called by the same owner.
//
// Scan reads a log without opening it for writing: it changes nothing, so
// tools may point it at the log of a running server.
//
// # Segments
//
// A segment is a file named <seq>-<firstIndex>.wal (16 hex digits each),
// preallocated to SegmentSize and filled with zeros ahead of the data. It
// starts with a 32-byte header:
//
//	+----------------+----------+-----------------+-----------+-----------+
//	| magic: 8       | seq: 8   | firstIndex: 8   | prev: 4   | crc: 4    |
//	| "MKWAL\0\0\1"  |          |                 |           |           |
//	+----------------+----------+-----------------+-----------+-----------+
//
// prev is the checksum of the last record of the previous segment, so the
// chain of records runs across segments; crc is CRC32C of the first 28
// bytes. A new segment is written, synced, renamed into place and the
// directory synced before any record goes into it.
//
// # Records
//
// Records follow the header, each aligned to 8 bytes:
//
//	+---------+---------+----------+-----------+-------------+----------+-----+
//	| len: 4  | crc: 4  | prev: 4  | flags: 4  | index: 8    | payload  | pad |
//	+---------+---------+----------+-----------+-------------+----------+-----+
//
// len is the payload length; index is the caller's (Meerkat stores the zxid
// of the batch's first entry); prev is the crc of the record before it;
// crc is CRC32C over len, prev, flags, index and the payload. A record is
// valid when its own crc checks (so it can be recognised anywhere) and its
// prev matches the record before it (so a record cannot be replayed out of
// place). A header of zeros ends the data of a segment.
//
// # Recovery
//
// Open reads every segment in order. At the first record that is not valid
// it looks for any valid record after it. Each Append writes one record and
// syncs before the next Append starts, so a valid record after a bad one
// proves the bad one had been synced: that is corruption, and Open refuses
// to start, naming the file and offset (Options.Repair cuts there instead,
// after logging what it drops). When nothing valid follows, the bad bytes
// are the torn tail of an Append that never returned; Open cuts them,
// logging how much, and the log goes on from there. Open also removes the
// leftovers of unfinished preallocation (*.tmp) and a last segment whose
// header never reached the disk. Scan tells the same cases apart and
// reports them as a Damage, but removes and cuts nothing.
//
// # Failures
//
// A failed sync is fatal: Options.OnSyncError is called and the WAL must not
// be used again (the default exits the process); data whose sync failed is
// never acknowledged. A full disk (ENOSPC) while writing or preallocating
// fails that Append with ErrNoSpace and leaves the log as it was, so the
// owner can fail those requests, keep serving reads, and append again once
// space is back.
package wal
