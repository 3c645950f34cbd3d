// Package zkauth holds what ZooKeeper's authentication providers compute
// for an identity, where Meerkat must compute the same: the digest
// scheme's identity of a user and password, under the hash algorithm
// zookeeper.DigestAuthenticationProvider.digestAlg names.
package zkauth

import (
	"crypto/md5"
	"crypto/sha1"
	"crypto/sha256"
	"crypto/sha3"
	"crypto/sha512"
	"encoding/base64"
	"fmt"
	"hash"
	"strings"
)

// digestAlgorithms are the MessageDigest algorithms of Java 17's SUN
// provider as zookeeper.DigestAuthenticationProvider.digestAlg may name
// them, by standard name, alias or OID (Java matches names without regard
// to case, and takes an OID with or without "OID."). Java's MD2 is left
// out: Go has no MD2, and nothing should hash passwords with it.
var digestAlgorithms = map[string]func() hash.Hash{}

func init() {
	for _, a := range []struct {
		names []string
		hash  func() hash.Hash
	}{
		{[]string{"SHA-1", "SHA1", "SHA", "1.3.14.3.2.26"}, sha1.New},
		{[]string{"SHA-224", "SHA224", "2.16.840.1.101.3.4.2.4"}, sha256.New224},
		{[]string{"SHA-256", "SHA256", "2.16.840.1.101.3.4.2.1"}, sha256.New},
		{[]string{"SHA-384", "SHA384", "2.16.840.1.101.3.4.2.2"}, sha512.New384},
		{[]string{"SHA-512", "SHA512", "2.16.840.1.101.3.4.2.3"}, sha512.New},
		{[]string{"SHA-512/224", "SHA512/224", "2.16.840.1.101.3.4.2.5"}, sha512.New512_224},
		{[]string{"SHA-512/256", "SHA512/256", "2.16.840.1.101.3.4.2.6"}, sha512.New512_256},
		{[]string{"SHA3-224", "2.16.840.1.101.3.4.2.7"}, func() hash.Hash { return sha3.New224() }},
		{[]string{"SHA3-256", "2.16.840.1.101.3.4.2.8"}, func() hash.Hash { return sha3.New256() }},
		{[]string{"SHA3-384", "2.16.840.1.101.3.4.2.9"}, func() hash.Hash { return sha3.New384() }},
		{[]string{"SHA3-512", "2.16.840.1.101.3.4.2.10"}, func() hash.Hash { return sha3.New512() }},
		{[]string{"MD5", "1.2.840.113549.2.5"}, md5.New},
	} {
		for _, n := range a.names {
			digestAlgorithms[n] = a.hash
		}
	}
}

// Digest is the digest scheme's identity function for one algorithm.
type Digest struct {
	algorithm string
	newHash   func() hash.Hash
}

// DefaultDigestAlgorithm is ZooKeeper's.
const DefaultDigestAlgorithm = "SHA1"

// NewDigest returns the digest function of a Java algorithm name; "" is
// ZooKeeper's default, SHA1. ZooKeeper refuses to start with an algorithm
// its Java runtime lacks, and Meerkat does too.
func NewDigest(algorithm string) (Digest, error) {
	if algorithm == "" {
		algorithm = DefaultDigestAlgorithm
	}
	name := strings.ToUpper(algorithm)
	h, ok := digestAlgorithms[strings.TrimPrefix(name, "OID.")]
	if !ok {
		return Digest{}, fmt.Errorf("don't support this ACL digest algorithm: %s (Meerkat has Java's SHA-1, SHA-2 and SHA3 digests and MD5, by name, alias or OID; not MD2)", algorithm)
	}
	return Digest{algorithm: algorithm, newHash: h}, nil
}

// Algorithm returns the algorithm's name as configured.
func (d Digest) Algorithm() string { return d.algorithm }

// ID returns the identity of "user:password" as ZooKeeper's
// DigestAuthenticationProvider.generateDigest does:
// user:base64(hash("user:password")). The zero Digest hashes with SHA1.
func (d Digest) ID(userPassword string) string {
	newHash := d.newHash
	if newHash == nil {
		newHash = sha1.New
	}
	user, _, _ := strings.Cut(userPassword, ":")
	h := newHash()
	h.Write([]byte(userPassword))
	return user + ":" + base64.StdEncoding.EncodeToString(h.Sum(nil))
}
