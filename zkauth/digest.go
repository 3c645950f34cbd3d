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

// digestAlgorithms are the MessageDigest algorithms of Java 17 (by their
// standard names, which Java matches without regard to case), as
// zookeeper.DigestAuthenticationProvider.digestAlg may name them.
var digestAlgorithms = map[string]func() hash.Hash{
	"SHA1": sha1.New, "SHA-1": sha1.New, "SHA": sha1.New,
	"SHA-224": sha256.New224, "SHA-256": sha256.New, "SHA-384": sha512.New384, "SHA-512": sha512.New,
	"SHA-512/224": sha512.New512_224, "SHA-512/256": sha512.New512_256,
	"SHA3-224": func() hash.Hash { return sha3.New224() }, "SHA3-256": func() hash.Hash { return sha3.New256() },
	"SHA3-384": func() hash.Hash { return sha3.New384() }, "SHA3-512": func() hash.Hash { return sha3.New512() },
	"MD5": md5.New,
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
	h, ok := digestAlgorithms[strings.ToUpper(algorithm)]
	if !ok {
		return Digest{}, fmt.Errorf("don't support this ACL digest algorithm: %s (Meerkat has SHA1, SHA-224, SHA-256, SHA-384, SHA-512, SHA-512/224, SHA-512/256, SHA3-224, SHA3-256, SHA3-384, SHA3-512 and MD5)", algorithm)
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
