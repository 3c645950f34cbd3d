// Package pkcs8pbe encrypts and decrypts PKCS#8 private keys with
// pbeWithSHAAnd3-KeyTripleDES-CBC (RFC 7292, appendix C; Java's
// PBEWithSHA1AndDESede; `openssl pkcs8 -topk8 -v1 PBE-SHA1-3DES`). It is
// the password-based encryption that ZooKeeper 3.8's PEM key stores use
// in practice: its PEM reader on Java 17 cannot decrypt PBES2 keys, so
// operators encrypt with this one. PBES2 keys are left to
// github.com/youmark/pkcs8.
package pkcs8pbe

import (
	"crypto/cipher"
	"crypto/des"
	"crypto/rand"
	"crypto/sha1"
	"crypto/x509/pkix"
	"encoding/asn1"
	"errors"
	"math/big"
	"unicode/utf16"
)

// OID is pbeWithSHAAnd3-KeyTripleDES-CBC's.
var OID = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 12, 1, 3}

// maxIterations bounds the key derivation's cost for a key read from disk.
const maxIterations = 1 << 22

// encryptedPrivateKeyInfo is PKCS#8's EncryptedPrivateKeyInfo.
type encryptedPrivateKeyInfo struct {
	Algorithm     pkix.AlgorithmIdentifier
	EncryptedData []byte
}

// pbeParams is pkcs-12PbeParams.
type pbeParams struct {
	Salt       []byte
	Iterations int
}

// ErrOtherScheme is Decrypt's error for a key encrypted with another
// scheme.
var ErrOtherScheme = errors.New("pkcs8pbe: not encrypted with pbeWithSHAAnd3-KeyTripleDES-CBC")

// Encrypt encrypts the DER of a PKCS#8 PrivateKeyInfo with password,
// deriving the key with iterations rounds, and returns the DER of the
// EncryptedPrivateKeyInfo.
func Encrypt(der []byte, password string, iterations int) ([]byte, error) {
	salt := make([]byte, 8)
	if _, err := rand.Read(salt); err != nil {
		return nil, err
	}
	block, iv, err := tripleDES(password, salt, iterations)
	if err != nil {
		return nil, err
	}
	pad := des.BlockSize - len(der)%des.BlockSize
	data := append(append([]byte(nil), der...), make([]byte, pad)...)
	for i := len(der); i < len(data); i++ {
		data[i] = byte(pad)
	}
	cipher.NewCBCEncrypter(block, iv).CryptBlocks(data, data)
	params, err := asn1.Marshal(pbeParams{Salt: salt, Iterations: iterations})
	if err != nil {
		return nil, err
	}
	return asn1.Marshal(encryptedPrivateKeyInfo{
		Algorithm:     pkix.AlgorithmIdentifier{Algorithm: OID, Parameters: asn1.RawValue{FullBytes: params}},
		EncryptedData: data,
	})
}

// Decrypt returns the PrivateKeyInfo DER inside an EncryptedPrivateKeyInfo
// encrypted with password; ErrOtherScheme when another scheme encrypted it.
func Decrypt(der []byte, password string) ([]byte, error) {
	var info encryptedPrivateKeyInfo
	if rest, err := asn1.Unmarshal(der, &info); err != nil || len(rest) != 0 {
		return nil, errors.New("pkcs8pbe: not an EncryptedPrivateKeyInfo")
	}
	if !info.Algorithm.Algorithm.Equal(OID) {
		return nil, ErrOtherScheme
	}
	var p pbeParams
	if rest, err := asn1.Unmarshal(info.Algorithm.Parameters.FullBytes, &p); err != nil || len(rest) != 0 {
		return nil, errors.New("pkcs8pbe: bad parameters")
	}
	if p.Iterations < 1 || p.Iterations > maxIterations {
		return nil, errors.New("pkcs8pbe: iteration count out of range")
	}
	data := info.EncryptedData
	if len(data) == 0 || len(data)%des.BlockSize != 0 {
		return nil, errors.New("pkcs8pbe: encrypted data is not whole blocks")
	}
	block, iv, err := tripleDES(password, p.Salt, p.Iterations)
	if err != nil {
		return nil, err
	}
	out := make([]byte, len(data))
	cipher.NewCBCDecrypter(block, iv).CryptBlocks(out, data)
	pad := int(out[len(out)-1])
	if pad < 1 || pad > des.BlockSize {
		return nil, errors.New("pkcs8pbe: wrong password")
	}
	for _, b := range out[len(out)-pad:] {
		if int(b) != pad {
			return nil, errors.New("pkcs8pbe: wrong password")
		}
	}
	out = out[:len(out)-pad]
	// A wrong password passes the padding check once in a few hundred
	// tries; it does not also make a DER SEQUENCE of the right length.
	var seq asn1.RawValue
	if rest, err := asn1.Unmarshal(out, &seq); err != nil || len(rest) != 0 || seq.Tag != asn1.TagSequence {
		return nil, errors.New("pkcs8pbe: wrong password")
	}
	return out, nil
}

// tripleDES returns the 3DES cipher and CBC IV that password, salt and
// iterations derive with the PKCS#12 key derivation (RFC 7292, appendix
// B.2; ID 1 for the key, 2 for the IV).
func tripleDES(password string, salt []byte, iterations int) (cipher.Block, []byte, error) {
	// The password is a BMPString with a terminating NUL.
	var pw []byte
	for _, r := range utf16.Encode([]rune(password + "\x00")) {
		pw = append(pw, byte(r>>8), byte(r))
	}
	key := kdf(pw, salt, iterations, 1, 24)
	iv := kdf(pw, salt, iterations, 2, des.BlockSize)
	block, err := des.NewTripleDESCipher(key)
	return block, iv, err
}

// kdf derives size bytes for purpose id from the BMP-encoded password and
// salt with SHA-1 (RFC 7292, appendix B.2).
func kdf(password, salt []byte, iterations int, id byte, size int) []byte {
	const v = 64 // SHA-1's block size
	fill := func(b []byte) []byte {
		if len(b) == 0 {
			return nil
		}
		out := make([]byte, (len(b)+v-1)/v*v)
		for i := range out {
			out[i] = b[i%len(b)]
		}
		return out
	}
	d := make([]byte, v)
	for i := range d {
		d[i] = id
	}
	in := append(fill(salt), fill(password)...)
	mod := new(big.Int).Lsh(big.NewInt(1), v*8)
	var out []byte
	for len(out) < size {
		a := sha1.Sum(append(append([]byte(nil), d...), in...))
		for r := 1; r < iterations; r++ {
			a = sha1.Sum(a[:])
		}
		out = append(out, a[:]...)
		// Each v-byte block of in becomes block + B + 1, B being a
		// repeated to v bytes.
		b := new(big.Int).SetBytes(fill(a[:])[:v])
		b.Add(b, big.NewInt(1))
		for j := 0; j < len(in); j += v {
			n := new(big.Int).SetBytes(in[j : j+v])
			n.Add(n, b).Mod(n, mod)
			nb := n.Bytes()
			clear(in[j : j+v])
			copy(in[j+v-len(nb):j+v], nb)
		}
	}
	return out[:size]
}
