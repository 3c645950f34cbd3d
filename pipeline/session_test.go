package pipeline

import (
	"encoding/hex"
	"testing"
)

// TestPasswordMatchesZooKeeper checks the password derivation against
// values read off Apache ZooKeeper 3.8 (ConnectResponse.passwd).
func TestPasswordMatchesZooKeeper(t *testing.T) {
	for _, tc := range []struct {
		id   int64
		want string
	}{
		{0x10000062b07000f, "7d48d1c93c08ae8f8ba3892f1d179b22"},
		{0x10000062b070010, "79cb6fca5d0e214cad93a59bcba87081"},
		{0x10000062b070011, "8cec69cafd590091a3d60cc79f31854e"},
	} {
		p := Password(tc.id)
		if hex.EncodeToString(p[:]) != tc.want {
			t.Errorf("Password(%x) = %x, want %s", tc.id, p, tc.want)
		}
	}
}
