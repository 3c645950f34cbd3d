package shell

import (
	"reflect"
	"testing"
)

// TestSplitLine checks zkCli's word splitting: quotes group words and are
// removed around them, kept inside a word, and dropped when never closed.
func TestSplitLine(t *testing.T) {
	for line, want := range map[string][]string{
		"  ls   /a  ":            {"ls", "/a"},
		`create /a "with space"`: {"create", "/a", "with space"},
		`create /a 'it "is"' x`:  {"create", "/a", `it "is"`, "x"},
		`set /a b"c"d`:           {"set", "/a", `b"c"d`},
		`set /a "unclosed`:       {"set", "/a", "unclosed"},
		"create\t/a\t\"\"":       {"create", "/a", ""},
		`"ab"cd`:                 {"ab", "cd"},
		"":                       nil,
		"   ":                    nil,
	} {
		if got := splitLine(line); !reflect.DeepEqual(got, want) {
			t.Errorf("splitLine(%q) = %q, want %q", line, got, want)
		}
	}
}

// TestParseOptions checks the option parsing zkCli's commands share, and
// its errors, worded as zkCli prints them.
func TestParseOptions(t *testing.T) {
	type parsed struct {
		args   []string
		values map[byte]string
		opts   string
	}
	for _, c := range []struct {
		words []string
		want  parsed
		err   string
	}{
		{[]string{"set", "-s", "-v", "3", "/a", "d"}, parsed{[]string{"set", "/a", "d"}, map[byte]string{'v': "3"}, "sv"}, ""},
		{[]string{"set", "/a", "-sv3", "d"}, parsed{[]string{"set", "/a", "d"}, map[byte]string{'v': "3"}, "sv"}, ""},
		{[]string{"set", "-v=4", "/a", "d"}, parsed{[]string{"set", "/a", "d"}, map[byte]string{'v': "4"}, "v"}, ""},
		{[]string{"set", "-v", "-1", "/a", "d"}, parsed{[]string{"set", "/a", "d"}, map[byte]string{'v': "-1"}, "v"}, ""},
		{[]string{"set", "-v", "-x", "/a", "d"}, parsed{[]string{"set", "/a", "d"}, map[byte]string{'v': "-x"}, "v"}, ""},
		{[]string{"set", "--", "-s", "d"}, parsed{[]string{"set", "-s", "d"}, map[byte]string{}, ""}, ""},
		{[]string{"set", "-", "d"}, parsed{[]string{"set", "-", "d"}, map[byte]string{}, ""}, ""},
		{[]string{"set", "-x", "/a"}, parsed{}, "org.apache.commons.cli.UnrecognizedOptionException: Unrecognized option: -x"},
		{[]string{"set", "-sx", "/a"}, parsed{}, "org.apache.commons.cli.UnrecognizedOptionException: Unrecognized option: -sx"},
		{[]string{"set", "--s", "/a"}, parsed{}, "org.apache.commons.cli.UnrecognizedOptionException: Unrecognized option: --s"},
		{[]string{"set", "-s=1", "/a"}, parsed{}, "org.apache.commons.cli.UnrecognizedOptionException: Unrecognized option: -s=1"},
		{[]string{"set", "/a", "d", "-v"}, parsed{}, "org.apache.commons.cli.MissingArgumentException: Missing argument for option: v"},
		{[]string{"set", "-v", "-s", "/a"}, parsed{}, "org.apache.commons.cli.MissingArgumentException: Missing argument for option: v"},
	} {
		cl, err := parseOptions("sv:", c.words)
		if c.err != "" {
			if err == nil || err.Error() != c.err {
				t.Errorf("parseOptions(%q) error = %v, want %q", c.words, err, c.err)
			}
			continue
		}
		if err != nil {
			t.Errorf("parseOptions(%q): %v", c.words, err)
			continue
		}
		var opts string
		for _, o := range []byte("sv") {
			if cl.has(o) {
				opts += string(o)
			}
		}
		if got := (parsed{cl.args, cl.values, opts}); !reflect.DeepEqual(got, c.want) {
			t.Errorf("parseOptions(%q) = %+v, want %+v", c.words, got, c.want)
		}
	}
}

// TestDecodeInt checks redo's number parsing, Java's Integer.decode.
func TestDecodeInt(t *testing.T) {
	for s, want := range map[string]int{"12": 12, "-3": -3, "+4": 4, "0x1f": 31, "#10": 16, "010": 8, "0": 0} {
		if got, ok := decodeInt(s); !ok || got != want {
			t.Errorf("decodeInt(%q) = %d, %v, want %d", s, got, ok, want)
		}
	}
	for _, s := range []string{"", "x", "0x", "--1", "08", "2147483648"} {
		if got, ok := decodeInt(s); ok {
			t.Errorf("decodeInt(%q) = %d, want an error", s, got)
		}
	}
}

// TestValidatePath checks the Java client's path checks and messages.
func TestValidatePath(t *testing.T) {
	for path, want := range map[string]string{
		"/":           "",
		"/a/b.c":      "",
		"/a/..b":      "",
		"":            "Path length must be > 0",
		"a":           "Path must start with / character",
		"/a/":         "Path must not end with / character",
		"/a//b":       `Invalid path string "/a//b" caused by empty node name specified @3`,
		"/a/./b":      `Invalid path string "/a/./b" caused by relative paths not allowed @3`,
		"/a/..":       `Invalid path string "/a/.." caused by relative paths not allowed @4`,
		"/a\x01":      "Invalid path string \"/a\x01\" caused by invalid character @2",
		"/é\x00":      "Invalid path string \"/é\x00\" caused by null character not allowed @2",
		"/\U0001F600": "Invalid path string \"/\U0001F600\" caused by invalid character @1",
	} {
		got := ""
		if err := validatePath(path); err != nil {
			got = err.Error()
		}
		if got != want {
			t.Errorf("validatePath(%q) = %q, want %q", path, got, want)
		}
	}
}

// TestParseConnectString checks hosts, default ports, IPv6 and chroots.
func TestParseConnectString(t *testing.T) {
	cs, err := parseConnectString("a:1,b,[::1]:3,[::2]/app/x")
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{"a:1", "b:2181", "[::1]:3", "[::2]:2181"}; !reflect.DeepEqual(cs.servers, want) || cs.chroot != "/app/x" {
		t.Errorf("parseConnectString = %q %q, want %q /app/x", cs.servers, cs.chroot, want)
	}
	if cs, err := parseConnectString("h:2181/"); err != nil || cs.chroot != "" {
		t.Errorf(`parseConnectString("h:2181/") = %+v, %v; want no chroot`, cs, err)
	}
	for _, bad := range []string{"h:x", "h/a/", ""} {
		if _, err := parseConnectString(bad); err == nil {
			t.Errorf("parseConnectString(%q) succeeded, want an error", bad)
		}
	}
}
