package shell

import (
	"fmt"
	"net"
	"strconv"
	"strings"
	"unicode/utf16"
)

// validatePath checks a znode path as the Java client does before sending
// it, with its messages (positions count UTF-16 units, as Java's do).
func validatePath(path string) error {
	if path == "" {
		return argError("Path length must be > 0")
	}
	if path[0] != '/' {
		return argError("Path must start with / character")
	}
	if path == "/" {
		return nil
	}
	if strings.HasSuffix(path, "/") {
		return argError("Path must not end with / character")
	}
	u := utf16.Encode([]rune(path))
	reason := ""
	for i := 1; i < len(u) && reason == ""; i++ {
		c, last := u[i], u[i-1]
		next := func(j int) bool { return j == len(u) || u[j] == '/' }
		switch {
		case c == 0:
			reason = fmt.Sprintf("null character not allowed @%d", i)
		case c == '/' && last == '/':
			reason = fmt.Sprintf("empty node name specified @%d", i)
		case c == '.' && last == '.':
			if u[i-2] == '/' && next(i+1) {
				reason = fmt.Sprintf("relative paths not allowed @%d", i)
			}
		case c == '.':
			if last == '/' && next(i+1) {
				reason = fmt.Sprintf("relative paths not allowed @%d", i)
			}
		case c <= 0x1f, c >= 0x7f && c <= 0x9f, c >= 0xd800 && c <= 0xf8ff, c >= 0xfff0:
			reason = fmt.Sprintf("invalid character @%d", i)
		}
	}
	if reason != "" {
		return argError(`Invalid path string "` + path + `" caused by ` + reason)
	}
	return nil
}

// validateCreatePath checks the path of a create; a sequential node's path
// is checked with its counter appended, so it may end with '/'.
func validateCreatePath(path string, sequential bool) error {
	if sequential {
		return validatePath(path + "1")
	}
	return validatePath(path)
}

// connectString is a parsed connect string: the servers' addresses and the
// chroot, "" for none.
type connectString struct {
	servers []string
	chroot  string
}

// parseConnectString reads "host[:port][,host[:port]...][/chroot]" as the
// Java client does: the port defaults to 2181, and an IPv6 host is written
// in brackets.
func parseConnectString(s string) (connectString, error) {
	var cs connectString
	if i := strings.IndexByte(s, '/'); i >= 0 {
		if chroot := s[i:]; chroot != "/" {
			if err := validatePath(chroot); err != nil {
				return cs, err
			}
			cs.chroot = chroot
		}
		s = s[:i]
	}
	for _, h := range strings.Split(s, ",") {
		if h = strings.TrimSpace(h); h == "" {
			continue
		}
		host, port := h, "2181"
		if strings.HasPrefix(h, "[") {
			end := strings.IndexByte(h, ']')
			if end < 0 {
				return cs, argError(h + " starts with '[' but has no matching ']'")
			}
			host = h[1:end]
			if rest := h[end+1:]; rest != "" {
				p, ok := strings.CutPrefix(rest, ":")
				if !ok || p == "" {
					return cs, argError("Port must follow ']' in " + h)
				}
				port = p
			}
		} else if i := strings.LastIndexByte(h, ':'); i >= 0 {
			if i < len(h)-1 {
				port = h[i+1:]
			}
			host = h[:i]
		}
		if _, err := strconv.ParseUint(port, 10, 16); err != nil {
			return cs, argError(`For input string: "` + port + `"`)
		}
		cs.servers = append(cs.servers, net.JoinHostPort(host, port))
	}
	if len(cs.servers) == 0 {
		return cs, argError("A HostProvider may not be empty!")
	}
	return cs, nil
}
