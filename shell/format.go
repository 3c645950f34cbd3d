package shell

import (
	"fmt"
	"slices"
	"strings"
	"time"
	"unicode/utf16"

	"github.com/meerkat-zk/meerkat/jute"
)

// formatStat renders a Stat as zkCli prints one, a field a line.
func formatStat(st *jute.Stat) string {
	var b strings.Builder
	fmt.Fprintf(&b, "cZxid = 0x%x\n", uint64(st.Czxid))
	fmt.Fprintf(&b, "ctime = %s\n", javaDate(st.Ctime, time.Local))
	fmt.Fprintf(&b, "mZxid = 0x%x\n", uint64(st.Mzxid))
	fmt.Fprintf(&b, "mtime = %s\n", javaDate(st.Mtime, time.Local))
	fmt.Fprintf(&b, "pZxid = 0x%x\n", uint64(st.Pzxid))
	fmt.Fprintf(&b, "cversion = %d\n", st.Cversion)
	fmt.Fprintf(&b, "dataVersion = %d\n", st.Version)
	fmt.Fprintf(&b, "aclVersion = %d\n", st.Aversion)
	fmt.Fprintf(&b, "ephemeralOwner = 0x%x\n", uint64(st.EphemeralOwner))
	fmt.Fprintf(&b, "dataLength = %d\n", st.DataLength)
	fmt.Fprintf(&b, "numChildren = %d\n", st.NumChildren)
	return b.String()
}

// javaDate formats ms since the epoch as Java's Date.toString does, in
// zone loc: "Thu Jan 01 00:00:00 UTC 1970". A zone without a name (Go
// calls it "+03") is written as Java writes it, "GMT+03:00".
func javaDate(ms int64, loc *time.Location) string {
	t := time.UnixMilli(ms).In(loc)
	zone, offset := t.Zone()
	if zone == "" || zone[0] == '+' || zone[0] == '-' {
		sign := '+'
		if offset < 0 {
			sign, offset = '-', -offset
		}
		zone = fmt.Sprintf("GMT%c%02d:%02d", sign, offset/3600, offset/60%60)
	}
	return t.Format("Mon Jan 02 15:04:05 ") + zone + fmt.Sprintf(" %d", t.Year())
}

// formatACL renders one ACL entry as zkCli's getAcl does: the identity as
// Java's record printer writes it, then the permissions.
func formatACL(a jute.ACL) string {
	return "'" + escapeRecordString(a.ID.Scheme) + ",'" + escapeRecordString(a.ID.ID) + "\n: " + permString(a.Perms)
}

// escapeRecordString escapes the characters Java's record printer escapes.
func escapeRecordString(s string) string {
	return strings.NewReplacer("\x00", "%00", "\n", "%0A", "\r", "%0D", ",", "%2C", "}", "%7D", "%", "%25").Replace(s)
}

// permString spells permission bits as zkCli does: a subset of "cdrwa".
func permString(p int32) string {
	var b strings.Builder
	for _, f := range []struct {
		bit  int32
		name byte
	}{{jute.PermCreate, 'c'}, {jute.PermDelete, 'd'}, {jute.PermRead, 'r'}, {jute.PermWrite, 'w'}, {jute.PermAdmin, 'a'}} {
		if p&f.bit != 0 {
			b.WriteByte(f.name)
		}
	}
	return b.String()
}

// parsePerms reads a permission string; a letter outside "cdrwa" is
// reported through warn and skipped, as zkCli does.
func parsePerms(s string, warn func(string)) int32 {
	var p int32
	for _, r := range s {
		switch r {
		case 'r':
			p |= jute.PermRead
		case 'w':
			p |= jute.PermWrite
		case 'c':
			p |= jute.PermCreate
		case 'd':
			p |= jute.PermDelete
		case 'a':
			p |= jute.PermAdmin
		default:
			warn("Unknown perm type: " + string(r))
		}
	}
	return p
}

// parseACL reads zkCli's "scheme:id:perm[,...]"; an entry without two
// colons is reported through warn and skipped.
func parseACL(s string, warn func(string)) []jute.ACL {
	acl := []jute.ACL{}
	for _, e := range javaSplit(s, ",") {
		first, last := strings.IndexByte(e, ':'), strings.LastIndexByte(e, ':')
		if first < 0 || first == last {
			warn(e + " does not have the form scheme:id:perm")
			continue
		}
		acl = append(acl, jute.ACL{
			ID:    jute.ID{Scheme: e[:first], ID: e[first+1 : last]},
			Perms: parsePerms(e[last+1:], warn),
		})
	}
	return acl
}

// javaSplit splits s around sep as Java's String.split does: trailing
// empty strings are dropped, unless s itself is empty.
func javaSplit(s, sep string) []string {
	parts := strings.Split(s, sep)
	for s != "" && len(parts) > 0 && parts[len(parts)-1] == "" {
		parts = parts[:len(parts)-1]
	}
	return parts
}

// javaList renders strings as Java's List.toString does: "[a, b]".
func javaList(items []string) string {
	return "[" + strings.Join(items, ", ") + "]"
}

// sortJava sorts strings in Java's String order (by UTF-16 units).
func sortJava(s []string) {
	slices.SortFunc(s, func(a, b string) int {
		return slices.Compare(utf16.Encode([]rune(a)), utf16.Encode([]rune(b)))
	})
}

// javaString decodes bytes as Java's new String(bytes, UTF_8) does, each
// malformed byte becoming U+FFFD.
func javaString(b []byte) string {
	return string([]rune(string(b)))
}
