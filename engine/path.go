package engine

import (
	"strings"
	"unicode/utf8"
)

// ValidPath reports whether p is a znode path ZooKeeper accepts: absolute,
// no empty, "." or ".." segment, no trailing slash, and none of the
// characters ZooKeeper's PathUtils rejects. ZooKeeper checks UTF-16 code
// units, so every character outside the Basic Multilingual Plane (a
// surrogate pair there) is rejected, and so is malformed UTF-8, which Java
// decodes to U+FFFD.
func ValidPath(p string) bool {
	if len(p) == 0 || p[0] != '/' {
		return false
	}
	if len(p) == 1 {
		return true
	}
	if p[len(p)-1] == '/' {
		return false
	}
	segStart := 1
	for i := 1; i < len(p); {
		c := p[i]
		if c < utf8.RuneSelf {
			switch {
			case c == 0 || c <= 0x1f || c == 0x7f:
				return false
			case c == '/':
				if !validSegment(p[segStart:i]) {
					return false
				}
				segStart = i + 1
			}
			i++
			continue
		}
		r, size := utf8.DecodeRuneInString(p[i:])
		if r == utf8.RuneError || invalidRune(r) {
			return false
		}
		i += size
	}
	return validSegment(p[segStart:])
}

func validSegment(s string) bool {
	return s != "" && s != "." && s != ".."
}

func invalidRune(r rune) bool {
	return r >= 0x7f && r <= 0x9f ||
		r >= 0xd800 && r <= 0xf8ff ||
		r >= 0xfff0
}

// parentOf returns the parent path of p as ZooKeeper computes it: everything
// before the last slash ("" for children of the root). ok is false when p
// has no slash.
func parentOf(p string) (parent string, ok bool) {
	parent, _ = splitPath(p)
	for i := 0; i < len(p); i++ {
		if p[i] == '/' {
			return parent, true
		}
	}
	return "", false
}

// lookupPath maps ZooKeeper's parent string to a path in the tree: the
// parent of "/a" is "" in ZooKeeper's arithmetic and "/" in the tree.
func lookupPath(parent string) string {
	if parent == "" {
		return "/"
	}
	return parent
}

// hasNUL reports whether s contains a NUL byte.
func hasNUL(s string) bool { return strings.IndexByte(s, 0) >= 0 }
