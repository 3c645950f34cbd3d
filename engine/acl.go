package engine

import (
	"crypto/sha1"
	"encoding/base64"
	"strings"

	"github.com/meerkat-zk/meerkat/jute"
	"github.com/meerkat-zk/meerkat/x500"
)

// Well-known ACL lists, as ZooDefs.Ids defines them.
var (
	// OpenACL grants everything to everyone (OPEN_ACL_UNSAFE).
	OpenACL = []jute.ACL{{Perms: jute.PermAll, ID: jute.ID{Scheme: "world", ID: "anyone"}}}
	// ReadACL grants read to everyone (READ_ACL_UNSAFE).
	ReadACL = []jute.ACL{{Perms: jute.PermRead, ID: jute.ID{Scheme: "world", ID: "anyone"}}}
)

// References a fresh state gives the well-known lists (acltable.go). They
// are counted and freed like any other.
const (
	aclOpen uint32 = 0
	aclRead uint32 = 1
)

// Allowed reports whether identities ids hold perm under acls, following
// ZooKeeperServer.checkACL: an empty list allows everything, a super
// identity is allowed everything, world:anyone matches everyone, digest and
// x509 ids match by equality and ip ids by address prefix.
func Allowed(acls []jute.ACL, perm int32, ids []jute.ID) bool {
	if len(acls) == 0 {
		return true
	}
	for _, id := range ids {
		if id.Scheme == "super" {
			return true
		}
	}
	for _, a := range acls {
		if a.Perms&perm == 0 {
			continue
		}
		if a.ID.Scheme == "world" && a.ID.ID == "anyone" {
			return true
		}
		for _, id := range ids {
			if id.Scheme != a.ID.Scheme {
				continue
			}
			switch id.Scheme {
			case "digest", "x509":
				if id.ID == a.ID.ID {
					return true
				}
			case "ip":
				if ipMatches(id.ID, a.ID.ID) {
					return true
				}
			}
		}
	}
	return false
}

// fixupACL checks an ACL list given to create or setACL and expands "auth"
// entries into the caller's authenticated identities, as PrepRequestProcessor
// .fixupACL does. It returns CodeInvalidACL for an empty list, an unknown
// scheme, a malformed id or an "auth" entry from a caller with no
// authenticated identity. The x509 scheme is known only with x509 set (an
// x509 provider is configured).
func fixupACL(acls []jute.ACL, ids []jute.ID, x509 bool) ([]jute.ACL, jute.Code) {
	uniq := make([]jute.ACL, 0, len(acls))
	for _, a := range acls {
		dup := false
		for _, u := range uniq {
			if u == a {
				dup = true
				break
			}
		}
		if !dup {
			uniq = append(uniq, a)
		}
	}
	if len(uniq) == 0 {
		return nil, jute.CodeInvalidACL
	}
	out := make([]jute.ACL, 0, len(uniq))
	for _, a := range uniq {
		switch {
		case a.ID.Scheme == "world" && a.ID.ID == "anyone":
			out = append(out, a)
		case a.ID.Scheme == "auth":
			valid := false
			for _, id := range ids {
				// Only digest and x509 are authenticated schemes: ip is
				// not, and "super" has no provider, so ZooKeeper skips
				// both.
				if id.Scheme == "digest" || x509 && id.Scheme == "x509" {
					valid = true
					out = append(out, jute.ACL{Perms: a.Perms, ID: id})
				}
			}
			if !valid {
				return nil, jute.CodeInvalidACL
			}
		case a.ID.Scheme == "digest" && validDigestID(a.ID.ID),
			a.ID.Scheme == "ip" && validIPID(a.ID.ID),
			x509 && a.ID.Scheme == "x509" && x500.Valid(a.ID.ID):
			out = append(out, a)
		default:
			return nil, jute.CodeInvalidACL
		}
	}
	return out, jute.CodeOK
}

// javaSplit splits s on sep the way Java's String.split does with a plain
// one-character pattern and no limit: trailing empty strings are dropped.
func javaSplit(s string, sep string) []string {
	parts := dropTrailingEmpty(strings.Split(s, sep))
	if s == "" {
		// Java splits the empty string into one empty string.
		return []string{""}
	}
	return parts
}

// dropTrailingEmpty drops the empty strings at the end of parts, as Java's
// split does.
func dropTrailingEmpty(parts []string) []string {
	for len(parts) > 0 && parts[len(parts)-1] == "" {
		parts = parts[:len(parts)-1]
	}
	return parts
}

// validDigestID is DigestAuthenticationProvider.isValid: "user:hash".
func validDigestID(id string) bool { return len(javaSplit(id, ":")) == 2 }

// validIPID is IPAuthenticationProvider.isValid: an IPv4 address with an
// optional /bits suffix (ZooKeeper 3.8 does not accept IPv6 here).
func validIPID(id string) bool {
	addr, bits, hasBits := strings.Cut(id, "/")
	if _, ok := ipv4Bytes(addr); !ok {
		return false
	}
	if hasBits {
		n, ok := javaParseInt(bits)
		return ok && n >= 0 && n <= 32
	}
	return true
}

// ipMatches is IPAuthenticationProvider.matches: the client address against
// "a.b.c.d[/bits]".
func ipMatches(client, aclExpr string) bool {
	addr, bitsText, hasBits := strings.Cut(aclExpr, "/")
	acl, ok := ipv4Bytes(addr)
	if !ok {
		return false
	}
	bits := 32
	if hasBits {
		n, ok := javaParseInt(bitsText)
		if !ok || n < 0 || n > 32 {
			return false
		}
		bits = n
	}
	remote, ok := ipv4Bytes(client)
	if !ok {
		return false
	}
	maskIPv4(&acl, bits)
	maskIPv4(&remote, bits)
	return acl == remote
}

func maskIPv4(b *[4]byte, bits int) {
	start := bits / 8
	m := byte(^((1 << (8 - bits%8)) - 1))
	for ; start < 4; start++ {
		b[start] &= m
		m = 0
	}
}

func ipv4Bytes(s string) ([4]byte, bool) {
	var b [4]byte
	parts := strings.Split(s, ".")
	if len(parts) != 4 {
		return b, false
	}
	for i, p := range parts {
		v, ok := javaParseInt(p)
		if !ok || v < 0 || v > 255 {
			return b, false
		}
		b[i] = byte(v)
	}
	return b, true
}

// javaParseInt parses like Java's Integer.parseInt for ASCII input: an
// optional sign and at least one decimal digit, within int32.
func javaParseInt(s string) (int, bool) {
	if s == "" {
		return 0, false
	}
	neg := false
	if s[0] == '+' || s[0] == '-' {
		neg = s[0] == '-'
		s = s[1:]
		if s == "" {
			return 0, false
		}
	}
	n := 0
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return 0, false
		}
		n = n*10 + int(s[i]-'0')
		if n > 1<<31 {
			return 0, false
		}
	}
	if neg {
		n = -n
	}
	if n > 1<<31-1 {
		return 0, false
	}
	return n, true
}

// DigestID returns the digest identity of "user:password" as ZooKeeper's
// DigestAuthenticationProvider.generateDigest computes it:
// user:base64(sha1("user:password")).
func DigestID(userPassword string) string {
	user, _, _ := strings.Cut(userPassword, ":")
	sum := sha1.Sum([]byte(userPassword))
	return user + ":" + base64.StdEncoding.EncodeToString(sum[:])
}

// maskDigests returns acls with each digest id's secret replaced by "x", as
// getACL shows them to a caller without ADMIN.
func maskDigests(acls []jute.ACL) []jute.ACL {
	out := make([]jute.ACL, len(acls))
	for i, a := range acls {
		if a.ID.Scheme == "digest" {
			if user, _, ok := strings.Cut(a.ID.ID, ":"); ok {
				a.ID.ID = user + ":x"
			}
		}
		out[i] = a
	}
	return out
}

// UserName returns the user name whoAmI reports for an identity: the part
// before the colon for digest, the id itself for other known schemes and ""
// for schemes with no provider (super).
func UserName(id jute.ID) string {
	switch id.Scheme {
	case "digest":
		user, _, _ := strings.Cut(id.ID, ":")
		return user
	case "ip", "x509":
		return id.ID
	}
	return ""
}
