package testcert

import (
	"crypto/cipher"
	"crypto/des"
	"crypto/rand"
	"crypto/sha1"
	"crypto/x509/pkix"
	"encoding/asn1"
	"math/big"
	"unicode/utf16"
)

// oidPBEWithSHAAnd3KeyTripleDESCBC is pbeWithSHAAnd3-KeyTripleDES-CBC
// (RFC 7292, appendix C): the one password-based encryption of a PKCS#8
// key that both ZooKeeper 3.8's PEM reader on Java 17 (which has no PBES2
// SecretKeyFactory; Java names this one PBEWithSHA1AndDESede) and OpenSSL
// 3 (Python's ssl) decrypt.
var oidPBEWithSHAAnd3KeyTripleDESCBC = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 12, 1, 3}

// pbeIterations is the iteration count of the key derivation: tests need
// no more.
const pbeIterations = 2048

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

// encryptPKCS8 encrypts a PKCS#8 PrivateKeyInfo with password as
// `openssl pkcs8 -topk8 -v1 PBE-SHA1-3DES` does, and returns the DER of
// the EncryptedPrivateKeyInfo.
func encryptPKCS8(der []byte, password string) ([]byte, error) {
	salt := make([]byte, 8)
	if _, err := rand.Read(salt); err != nil {
		return nil, err
	}
	block, iv, err := pbeCipher(password, salt, pbeIterations)
	if err != nil {
		return nil, err
	}
	pad := des.BlockSize - len(der)%des.BlockSize
	data := append(append([]byte(nil), der...), make([]byte, pad)...)
	for i := len(der); i < len(data); i++ {
		data[i] = byte(pad)
	}
	cipher.NewCBCEncrypter(block, iv).CryptBlocks(data, data)
	params, err := asn1.Marshal(pbeParams{Salt: salt, Iterations: pbeIterations})
	if err != nil {
		return nil, err
	}
	return asn1.Marshal(encryptedPrivateKeyInfo{
		Algorithm:     pkix.AlgorithmIdentifier{Algorithm: oidPBEWithSHAAnd3KeyTripleDESCBC, Parameters: asn1.RawValue{FullBytes: params}},
		EncryptedData: data,
	})
}

// pbeCipher returns the 3DES cipher and CBC IV that password, salt and
// iterations derive with the PKCS#12 key derivation (RFC 7292, appendix
// B.2; ID 1 for the key, 2 for the IV).
func pbeCipher(password string, salt []byte, iterations int) (cipher.Block, []byte, error) {
	// The password is a BMPString with a terminating NUL.
	var pw []byte
	for _, r := range utf16.Encode([]rune(password + "\x00")) {
		pw = append(pw, byte(r>>8), byte(r))
	}
	key := pkcs12KDF(pw, salt, iterations, 1, 24)
	iv := pkcs12KDF(pw, salt, iterations, 2, des.BlockSize)
	block, err := des.NewTripleDESCipher(key)
	return block, iv, err
}

// pkcs12KDF derives size bytes for purpose id from the BMP-encoded
// password and salt with SHA-1 (RFC 7292, appendix B.2).
func pkcs12KDF(password, salt []byte, iterations int, id byte, size int) []byte {
	const u, v = sha1.Size, 64
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
		mod := new(big.Int).Lsh(big.NewInt(1), v*8)
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
