package pkcs8pbe

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
)

// Keys encrypted here decrypt with OpenSSL's PBE-SHA1-3DES, and keys
// OpenSSL encrypts decrypt here; a wrong password fails.
func TestAgainstOpenSSL(t *testing.T) {
	openssl, err := exec.LookPath("openssl")
	if err != nil {
		t.Fatalf("openssl not found (make test installs it): %v", err)
	}
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	plain, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()

	enc, err := Encrypt(plain, "pässword", 2048)
	if err != nil {
		t.Fatal(err)
	}
	in := filepath.Join(dir, "ours.pem")
	if err := os.WriteFile(in, pem.EncodeToMemory(&pem.Block{Type: "ENCRYPTED PRIVATE KEY", Bytes: enc}), 0o600); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command(openssl, "pkcs8", "-topk8", "-nocrypt", "-in", in, "-passin", "pass:pässword", "-outform", "DER").Output()
	if err != nil || !sameKey(t, out, key) {
		t.Errorf("openssl did not decrypt our key to the original: %v", err)
	}

	plainPEM := filepath.Join(dir, "plain.pem")
	if err := os.WriteFile(plainPEM, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: plain}), 0o600); err != nil {
		t.Fatal(err)
	}
	theirs, err := exec.Command(openssl, "pkcs8", "-topk8", "-v1", "PBE-SHA1-3DES", "-in", plainPEM, "-passout", "pass:pw", "-outform", "DER").Output()
	if err != nil {
		t.Fatalf("openssl: %v", err)
	}
	got, err := Decrypt(theirs, "pw")
	if err != nil || !sameKey(t, got, key) {
		t.Errorf("OpenSSL's key did not decrypt to the original: %v", err)
	}
	if _, err := Decrypt(theirs, "wrong"); err == nil {
		t.Error("a wrong password decrypted")
	}
	pbes2, err := exec.Command(openssl, "pkcs8", "-topk8", "-v2", "aes256", "-in", plainPEM, "-passout", "pass:pw", "-outform", "DER").Output()
	if err != nil {
		t.Fatalf("openssl: %v", err)
	}
	if _, err := Decrypt(pbes2, "pw"); !errors.Is(err, ErrOtherScheme) {
		t.Errorf("a PBES2 key: %v, want ErrOtherScheme", err)
	}
	if _, err := Decrypt([]byte{0x30, 0x03, 0x02, 0x01}, "pw"); err == nil {
		t.Error("garbage decrypted")
	}
}

// sameKey reports whether der is a PKCS#8 encoding of key (OpenSSL
// re-encodes keys its own way).
func sameKey(t *testing.T, der []byte, key *ecdsa.PrivateKey) bool {
	t.Helper()
	k, err := x509.ParsePKCS8PrivateKey(der)
	if err != nil {
		t.Logf("not a PKCS#8 key: %v", err)
		return false
	}
	return key.Equal(k)
}

// TestKDF checks the key derivation against known answers (from
// go-pkcs12's tests), the second one with a leading zero byte in an
// intermediate block.
func TestKDF(t *testing.T) {
	sesame := []byte{0, 's', 0, 'e', 0, 's', 0, 'a', 0, 'm', 0, 'e', 0, 0}
	for _, c := range []struct {
		password, salt []byte
		want           string
	}{
		{sesame, bytes.Repeat([]byte{0xff}, 8), "7cd9fd3e2b3be7691a44e3bef0f9ea0fb9b897d4e325d9d1"},
		{[]byte{0, 0}, []byte("\xf3\x7e\x05\xb5\x18\x32\x4b\x4b"), "00f759ff47d14dd03665d5943cb3c4a39a2555c02aed66e1"},
	} {
		if got := hex.EncodeToString(kdf(c.password, c.salt, 2048, 1, 24)); got != c.want {
			t.Errorf("kdf(%x, %x) = %s, want %s", c.password, c.salt, got, c.want)
		}
	}
}
