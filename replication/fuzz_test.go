package replication

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"fmt"
	"path/filepath"
	"testing"

	"go.etcd.io/raft/v3"
	pb "go.etcd.io/raft/v3/raftpb"
	"google.golang.org/protobuf/proto"

	"github.com/meerkat-zk/meerkat/engine"
	"github.com/meerkat-zk/meerkat/engine/enginetest"
	"github.com/meerkat-zk/meerkat/wal"
)

// fuzzTraffic is what three cores exchange and log while member 1 is
// elected, commits real batches of writes (as pipelines propose them) and
// compacts its log: the raft messages, one of each type, and the payloads
// of member 1's wal records.
type fuzzTraffic struct {
	msgs    []*pb.Message
	records [][]byte
}

func newFuzzTraffic(tb testing.TB) fuzzTraffic {
	boot := &pb.ConfState{Voters: []uint64{1, 2, 3}}
	dir := tb.TempDir()
	var queue []*pb.Message
	var tr fuzzTraffic
	seen := map[pb.MessageType]bool{}
	cores := map[uint64]*core{}
	for id := uint64(1); id <= 3; id++ {
		s, err := OpenStorage(filepath.Join(dir, fmt.Sprint(id)), wal.Options{SegmentSize: 1 << 20, NoSync: true, Logger: quiet}, boot)
		if err != nil {
			tb.Fatal(err)
		}
		tb.Cleanup(func() { s.Close() })
		c, err := newCore(coreConfig{ID: id, Storage: s, Logger: quiet,
			Send: func(msgs []*pb.Message) { queue = append(queue, msgs...) }, Apply: func([]*pb.Entry) {}})
		if err != nil {
			tb.Fatal(err)
		}
		cores[id] = c
	}
	settle := func() {
		for moved := true; moved; {
			moved = false
			for id := uint64(1); id <= 3; id++ {
				did, err := cores[id].process()
				if err != nil {
					tb.Fatal(err)
				}
				wrote, err := persistNow(cores[id])
				if err != nil {
					tb.Fatal(err)
				}
				moved = moved || did || wrote
			}
			msgs := queue
			queue = nil
			for _, m := range msgs {
				if !seen[m.GetType()] {
					seen[m.GetType()] = true
					tr.msgs = append(tr.msgs, m)
				}
				_ = cores[m.GetTo()].Step(m)
				moved = true
			}
		}
	}
	if err := cores[1].rn.Campaign(); err != nil {
		tb.Fatal(err)
	}
	settle()
	if st := cores[1].Status(); st.RaftState != raft.StateLeader {
		tb.Fatalf("member 1 is %v", st.RaftState)
	}
	policy := engine.Policy{ExtendedTypes: true}
	for i, e := range enginetest.RandomEntries(3, 6, policy) {
		e.Ref = engine.Ref{Member: 1, Request: uint64(i + 1)}
		if err := cores[1].Propose(engine.AppendRefBatch(nil, policy, []*engine.Entry{e})); err != nil {
			tb.Fatal(err)
		}
		settle()
	}
	cores[1].ReadIndex([]byte("read"))
	for range 3 {
		for id := uint64(1); id <= 3; id++ {
			cores[id].Tick()
		}
		settle()
	}
	if err := cores[1].storage.Compact(3, boot); err != nil {
		tb.Fatal(err)
	}
	if _, err := wal.Scan(filepath.Join(dir, "1"), func(r wal.Record) error {
		tr.records = append(tr.records, bytes.Clone(r.Payload))
		return nil
	}); err != nil {
		tb.Fatal(err)
	}
	return tr
}

// wireBytes returns the bytes the transport writes for o.
func wireBytes(tb testing.TB, o outgoing) []byte {
	var out bytes.Buffer
	w := bufio.NewWriter(&out)
	if _, err := writeBatch(w, nil, o); err != nil {
		tb.Fatal(err)
	}
	if err := w.Flush(); err != nil {
		tb.Fatal(err)
	}
	return out.Bytes()
}

// FuzzPeerFrames feeds the frame reader and decoder what a connection
// from member 2 carries after its hello: raft messages, application
// messages (a pipeline's), rejoin requests, and a snapshot's head with
// the image after it. It proves that a frame's length makes the reader
// allocate no more than twice the bytes that really arrived (plus one
// chunk), and that every frame that decodes comes back the same through
// the transport's own encoders.
func FuzzPeerFrames(f *testing.F) {
	tr := newFuzzTraffic(f)
	var all []byte
	for _, m := range tr.msgs {
		m = proto.Clone(m).(*pb.Message)
		m.From = new(uint64(2))
		b := wireBytes(f, outgoing{msgs: []*pb.Message{m}})
		f.Add(b)
		all = append(all, b...)
	}
	all = append(all, wireBytes(f, outgoing{app: append([]byte{'T'}, binary.BigEndian.AppendUint64(binary.BigEndian.AppendUint32(nil, 1), 0x1000000000001)...)})...)
	all = append(all, wireBytes(f, outgoing{rejoin: true})...)
	f.Add(all)
	snap, err := appendFrame(nil, &pb.Message{From: new(uint64(2)), To: new(uint64(1)), Type: pb.MsgSnap.Enum(),
		Snapshot: &pb.Snapshot{Metadata: &pb.SnapshotMetadata{Index: new(uint64(9)), Term: new(uint64(2)), ConfState: &pb.ConfState{Voters: []uint64{1, 2, 3}}}}})
	if err != nil {
		f.Fatal(err)
	}
	snap[4] = frameSnapshot
	f.Add(append(snap, "the image"...))
	f.Fuzz(func(t *testing.T, stream []byte) {
		r := bytes.NewReader(stream)
		var buf []byte
		for {
			var err error
			buf, err = readFrame(r, buf)
			if read := len(stream) - r.Len(); cap(buf) > 2*read+64<<10 {
				t.Fatalf("%d bytes read made a buffer of %d", read, cap(buf))
			}
			if err != nil {
				return
			}
			fr, err := decodeFrame(2, buf)
			if err != nil {
				// The connection is closed here.
				return
			}
			var again []byte
			switch fr.kind {
			case frameRaft, frameSnapshot:
				if again, err = appendFrame(nil, fr.msg); err != nil {
					t.Fatalf("a decoded message does not encode: %v", err)
				}
				again[4] = fr.kind
			case frameApp:
				again = appendAppFrame(nil, fr.app)
			case frameRejoin:
				again = wireBytes(t, outgoing{rejoin: true})
			}
			back, err := readFrame(bytes.NewReader(again), nil)
			if err != nil {
				t.Fatalf("frame %x re-encoded as %x does not read back: %v", buf, again, err)
			}
			fr2, err := decodeFrame(2, back)
			if err != nil || fr2.kind != fr.kind || !bytes.Equal(fr2.app, fr.app) {
				t.Fatalf("frame %x re-encoded as %x decodes to %+v (err %v)", buf, again, fr2, err)
			}
			if fr.msg != nil {
				// Cheaper than proto.Equal: the message decoded back
				// encodes to the same bytes.
				if third, err := appendFrame(nil, fr2.msg); err != nil || !bytes.Equal(third[5:], again[5:]) {
					t.Fatalf("message %v re-encoded as %x decodes to %v (err %v)", fr.msg, again, fr2.msg, err)
				}
			}
			if fr.kind == frameSnapshot {
				// The rest of the connection is the image.
				return
			}
		}
	})
}

// FuzzDecodeReady feeds decodeReady what a raft log record may hold. It
// proves that the entry count makes it allocate in proportion to the
// record whatever it claims, and that a record that decodes re-encodes to
// one that decodes to the same hard state, snapshot and entries.
func FuzzDecodeReady(f *testing.F) {
	for _, b := range newFuzzTraffic(f).records {
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, in []byte) {
		hs, ents, snap, err := decodeReady(in)
		// An entry takes at least its 4-byte length; append at most
		// doubles the room.
		if cap(ents) > 2*len(in)/4+1 {
			t.Fatalf("%d bytes made room for %d entries", len(in), cap(ents))
		}
		if err != nil {
			return
		}
		out, err := appendRecord(nil, in[0], hs, ents, snap)
		if err != nil {
			t.Fatalf("a decoded record does not encode: %v", err)
		}
		hs2, ents2, snap2, err := decodeReady(out)
		if err != nil || !sameHardState(hs, hs2) || !sameSnapshot(snap, snap2) || len(ents2) != len(ents) {
			t.Fatalf("record %x re-encoded as %x decodes to %v %v %v (err %v)", in, out, hs2, ents2, snap2, err)
		}
		for i := range ents {
			if !proto.Equal(ents[i], ents2[i]) {
				t.Fatalf("entry %d: %v re-encoded decodes to %v", i, ents[i], ents2[i])
			}
		}
	})
}

// sameHardState compares hard states as appendRecord writes them: an
// empty one is left out.
func sameHardState(a, b *pb.HardState) bool {
	if raft.IsEmptyHardState(a) || raft.IsEmptyHardState(b) {
		return raft.IsEmptyHardState(a) && raft.IsEmptyHardState(b)
	}
	return proto.Equal(a, b)
}

// sameSnapshot compares snapshots as decodeReady reads them: metadata that
// encodes to nothing reads as no snapshot.
func sameSnapshot(a, b *pb.Snapshot) bool {
	if proto.Size(a.GetMetadata()) == 0 || proto.Size(b.GetMetadata()) == 0 {
		return proto.Size(a.GetMetadata()) == proto.Size(b.GetMetadata())
	}
	return proto.Equal(a.GetMetadata(), b.GetMetadata())
}
