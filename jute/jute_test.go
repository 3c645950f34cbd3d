package jute

import (
	"bytes"
	"encoding/hex"
	"errors"
	"flag"
	"os"
	"path/filepath"
	"reflect"
	"testing"
)

var update = flag.Bool("update", false, "rewrite the golden frames under testdata/")

// goldenRecords are the records whose encodings are pinned under testdata/.
// The bytes were checked against Apache ZooKeeper 3.8 (the connect and
// getChildren answers match frames captured from a live server).
var goldenRecords = map[string]Record{
	"connect_request": &ConnectRequest{TimeOut: 30000, Passwd: make([]byte, 16), HasReadOnly: true},
	"connect_request_old_client": &ConnectRequest{LastZxidSeen: 0x1234, TimeOut: 4000,
		SessionID: 0x10000062b07000f, Passwd: []byte("0123456789abcdef")},
	"connect_response": &ConnectResponse{TimeOut: 30000, SessionID: 0x10000062b07000f,
		Passwd: []byte{0x7d, 0x48, 0xd1, 0xc9, 0x3c, 0x08, 0xae, 0x8f, 0x8b, 0xa3, 0x89, 0x2f, 0x1d, 0x17, 0x9b, 0x22}, HasReadOnly: true},
	"request_header": &RequestHeader{Xid: 7, Type: OpGetData},
	"reply_header":   &ReplyHeader{Xid: 7, Zxid: 0x1c, Err: CodeNoNode},
	"stat": &Stat{Czxid: 1, Mzxid: 2, Ctime: 1795244948993, Mtime: 1795244948994, Version: 1,
		Cversion: -1, Aversion: 0, EphemeralOwner: 0x10000062b07000f, DataLength: 2, NumChildren: 3, Pzxid: 4},
	"get_data_request": &PathWatchRequest{Path: "/app/config", Watch: true},
	"delete_request":   &PathVersionRequest{Path: "/a", Version: -1},
	"set_data_request": &SetDataRequest{Path: "/a", Data: []byte("v2"), Version: 3},
	"set_acl_request": &SetACLRequest{Path: "/a", Version: -1, ACL: []ACL{
		{Perms: PermAll, ID: ID{Scheme: "digest", ID: "bob:LL4cIJ0xE3M8T3DN+rWBuPeAbhE="}}}},
	"auth_packet":   &AuthPacket{Scheme: "digest", Auth: []byte("bob:secret")},
	"watcher_event": &WatcherEvent{Type: EventNodeDataChanged, State: StateSyncConnected, Path: "/app/config"},
	"multi_header":  &MultiHeader{Type: OpCreate, Err: -1},
	"reconfig":      &ReconfigRequest{CurConfigID: -1},
	"add_watch":     &PathTypeRequest{Path: "/w", Type: 1},
	"sync_request":  &PathRequest{Path: "/"},
}

func TestGoldenFrames(t *testing.T) {
	for name, rec := range goldenRecords {
		t.Run(name, func(t *testing.T) {
			got := rec.Append(nil)
			file := filepath.Join("testdata", name+".hex")
			if *update {
				if err := os.WriteFile(file, []byte(hex.EncodeToString(got)+"\n"), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			raw, err := os.ReadFile(file)
			if err != nil {
				t.Fatalf("%v (run go test ./jute -update to create it)", err)
			}
			want, err := hex.DecodeString(string(bytes.TrimSpace(raw)))
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(got, want) {
				t.Fatalf("encoding changed:\n got %x\nwant %x", got, want)
			}
			// Decoding the golden bytes must give the record back.
			back := reflect.New(reflect.TypeOf(rec).Elem()).Interface().(Record)
			d := NewDecoder(want)
			back.Decode(d)
			if d.Err() != nil || d.Len() != 0 {
				t.Fatalf("decode: err %v, %d bytes left", d.Err(), d.Len())
			}
			if !reflect.DeepEqual(normalize(back), normalize(rec)) {
				t.Fatalf("round trip:\n got %+v\nwant %+v", back, rec)
			}
		})
	}
}

// normalize treats empty and nil slices alike for comparison.
func normalize(r any) any {
	v := reflect.ValueOf(r).Elem()
	for i := 0; i < v.NumField(); i++ {
		f := v.Field(i)
		if f.Kind() == reflect.Slice && f.Len() == 0 && f.CanSet() {
			f.Set(reflect.Zero(f.Type()))
		}
	}
	return r
}

func TestGetChildrenAnswerMatchesZooKeeper(t *testing.T) {
	// The body of ZooKeeper 3.8's answer to getChildren("/zookeeper").
	zk, _ := hex.DecodeString("0000000200000006636f6e6669670000000571756f7461")
	if got := AppendStrings(nil, []string{"config", "quota"}); !bytes.Equal(got, zk) {
		t.Fatalf("got %x want %x", got, zk)
	}
	d := NewDecoder(zk)
	if got := d.Strings(); !reflect.DeepEqual(got, []string{"config", "quota"}) || d.Err() != nil {
		t.Fatalf("decoded %q err %v", got, d.Err())
	}
}

func TestConnectRequestWithoutReadOnlyByte(t *testing.T) {
	full := (&ConnectRequest{TimeOut: 1, HasReadOnly: true, ReadOnly: true, Passwd: []byte{}}).Append(nil)
	var r ConnectRequest
	r.Decode(NewDecoder(full[:len(full)-1]))
	if r.HasReadOnly || r.TimeOut != 1 {
		t.Fatalf("old client request decoded as %+v", r)
	}
	r.Decode(NewDecoder(full))
	if !r.HasReadOnly || !r.ReadOnly {
		t.Fatalf("new client request decoded as %+v", r)
	}
}

func TestDecoderRejectsBadLengths(t *testing.T) {
	for _, tc := range []struct {
		name string
		in   []byte
		want error
	}{
		{"truncated int", []byte{0, 0}, ErrShort},
		{"buffer longer than input", []byte{0, 0, 0, 9, 'a'}, ErrShort},
		{"negative length", []byte{0xff, 0xff, 0xff, 0xfe}, ErrLength},
		{"length above maxbuffer", AppendInt(nil, DefaultMaxBuffer+1), ErrLength},
	} {
		t.Run(tc.name, func(t *testing.T) {
			d := NewDecoder(tc.in)
			d.Buffer()
			if !errors.Is(d.Err(), tc.want) {
				t.Fatalf("err %v, want %v", d.Err(), tc.want)
			}
			// The error sticks and later reads return zero values.
			if d.Int() != 0 || d.Long() != 0 || d.Buffer() != nil {
				t.Fatal("reads after an error returned data")
			}
		})
	}
}

func TestNullAndEmptyBuffersDiffer(t *testing.T) {
	d := NewDecoder(append(AppendBuffer(nil, nil), AppendBuffer(nil, []byte{})...))
	if b := d.Buffer(); b != nil {
		t.Fatalf("null buffer decoded as %q", b)
	}
	if b := d.Buffer(); b == nil || len(b) != 0 {
		t.Fatalf("empty buffer decoded as %v", b)
	}
}

func TestPathBytesRefusesNullOnly(t *testing.T) {
	d := NewDecoder(AppendString(nil, ""))
	if b := d.PathBytes(); b == nil || d.Err() != nil {
		t.Fatalf("empty path: %v, %v", b, d.Err())
	}
	d = NewDecoder(AppendBuffer(nil, nil))
	if d.PathBytes(); !errors.Is(d.Err(), ErrNullPath) {
		t.Fatalf("null path: err %v, want ErrNullPath", d.Err())
	}
}

func TestVectorCountCannotExceedInput(t *testing.T) {
	// A vector claiming a million elements in eight bytes must fail at once
	// rather than allocate.
	d := NewDecoder(append(AppendInt(nil, 1_000_000), 0, 0, 0, 0))
	if s := d.Strings(); s != nil || !errors.Is(d.Err(), ErrShort) {
		t.Fatalf("got %d strings, err %v", len(s), d.Err())
	}
}

func TestFrameLength(t *testing.T) {
	b, start := BeginFrame([]byte("xx"))
	b = append(b, "hello"...)
	b = EndFrame(b, start)
	if !bytes.Equal(b, []byte("xx\x00\x00\x00\x05hello")) {
		t.Fatalf("frame %q", b)
	}
}

func TestCodeAndOpNames(t *testing.T) {
	if CodeNoNode.String() != "NONODE" || Code(-999).String() != "CODE(-999)" {
		t.Fatal("code names")
	}
	if OpGetData.String() != "getData" || OpCode(99).Known() {
		t.Fatal("op names")
	}
}

// FuzzDecodeRequest feeds arbitrary bytes to every record decoder, those of
// the requests a client sends and those of the replies a client reads: none
// may panic, and whatever decodes must survive an encode/decode round trip
// unchanged.
func FuzzDecodeRequest(f *testing.F) {
	for _, rec := range goldenRecords {
		f.Add(rec.Append(nil))
	}
	create := &CreateRequest{Path: "/a", Data: []byte("x"), ACL: []ACL{{Perms: 31, ID: ID{Scheme: "world", ID: "anyone"}}}}
	f.Add(create.AppendCreate(nil, true))
	f.Add((&SetWatches{RelativeZxid: 5, DataWatches: []string{"/a"}, PersistentRecursive: []string{"/"}}).AppendSetWatches(nil, true))
	f.Fuzz(func(t *testing.T, in []byte) {
		decoders := []Record{
			&ConnectRequest{}, &RequestHeader{}, &PathWatchRequest{}, &PathVersionRequest{},
			&SetDataRequest{}, &SetACLRequest{}, &AuthPacket{}, &MultiHeader{}, &ReconfigRequest{},
			&PathTypeRequest{}, &PathRequest{}, &Stat{}, &WatcherEvent{},
			&ConnectResponse{}, &ReplyHeader{}, &ID{},
		}
		for _, r := range decoders {
			d := NewDecoder(in)
			r.Decode(d)
			if d.Err() != nil {
				continue
			}
			out := r.Append(nil)
			back := reflect.New(reflect.TypeOf(r).Elem()).Interface().(Record)
			d2 := NewDecoder(out)
			back.Decode(d2)
			if d2.Err() != nil || !reflect.DeepEqual(normalize(back), normalize(r)) {
				t.Fatalf("%T: %+v re-encoded as %x decodes to %+v (err %v)", r, r, out, back, d2.Err())
			}
		}
		// The two records whose layout depends on a flag round-trip too,
		// in both layouts.
		for _, flag := range []bool{false, true} {
			flagRoundTrip(t, in, flag, (*CreateRequest).DecodeCreate, (*CreateRequest).AppendCreate)
			flagRoundTrip(t, in, flag, (*SetWatches).DecodeSetWatches, (*SetWatches).AppendSetWatches)
		}
	})
}

// flagRoundTrip checks that a record decode reads from in, in the layout
// flag selects, encodes and decodes back to itself.
func flagRoundTrip[R any](t *testing.T, in []byte, flag bool, decode func(*R, *Decoder, bool), encode func(*R, []byte, bool) []byte) {
	t.Helper()
	var r, back R
	d := NewDecoder(in)
	if decode(&r, d, flag); d.Err() != nil {
		return
	}
	out := encode(&r, nil, flag)
	d2 := NewDecoder(out)
	if decode(&back, d2, flag); d2.Err() != nil || !reflect.DeepEqual(normalize(&back), normalize(&r)) {
		t.Fatalf("%T (flag %v) %+v re-encoded as %x decodes to %+v (err %v)", r, flag, r, out, back, d2.Err())
	}
}

func TestStringOrSharesAnEqualString(t *testing.T) {
	known := "127.0.0.1"
	b := AppendString(AppendString(nil, "127.0.0.1"), "10.0.0.1")
	var d Decoder
	var equal, other string
	if n := testing.AllocsPerRun(10, func() {
		d.Reset(b, len(b))
		equal = d.StringOr(known)
	}); n != 0 {
		t.Fatalf("reading a string equal to the known one allocated %v times", n)
	}
	other = d.StringOr(known)
	if equal != known || other != "10.0.0.1" || d.Err() != nil {
		t.Fatalf("read %q, %q (%v)", equal, other, d.Err())
	}
}
