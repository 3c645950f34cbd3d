package shell

import (
	"strconv"
	"strings"
)

// splitLine breaks a command line into words as zkCli does: a word runs to
// the next white space, unless it starts with a quote, in which case it runs
// to the matching quote (quotes inside an unquoted word are kept; a quote
// never closed is dropped). The quotes around a quoted word are removed.
func splitLine(line string) []string {
	var words []string
	for i := 0; i < len(line); {
		if isJavaSpace(line[i]) {
			i++
			continue
		}
		q := line[i]
		if q != '"' && q != '\'' {
			j := i
			for j < len(line) && !isJavaSpace(line[j]) {
				j++
			}
			words = append(words, line[i:j])
			i = j
			continue
		}
		end := strings.IndexByte(line[i+1:], q)
		if end < 0 {
			i++ // an unmatched quote starts no word
			continue
		}
		words = append(words, line[i+1:i+1+end])
		i += end + 2
	}
	return words
}

// isJavaSpace reports whether c is white space for Java's \s.
func isJavaSpace(c byte) bool {
	return c == ' ' || c == '\t' || c == '\n' || c == '\v' || c == '\f' || c == '\r'
}

// optionSpec names a command's one-letter options; those followed by ':'
// take a value ("sv:" is -s, and -v with a value).
type optionSpec string

// takes reports whether the option exists and whether it takes a value.
func (s optionSpec) takes(name byte) (exists, hasValue bool) {
	i := strings.IndexByte(string(s), name)
	if i < 0 || name == ':' {
		return false, false
	}
	return true, i+1 < len(s) && s[i+1] == ':'
}

// cmdLine is a parsed command: its words without the options, and the
// options given (with the first value of each that takes one).
type cmdLine struct {
	args   []string
	opts   map[byte]bool
	values map[byte]string
}

// has reports whether option name was given.
func (c *cmdLine) has(name byte) bool { return c.opts[name] }

// value returns the value of option name.
func (c *cmdLine) value(name byte) string { return c.values[name] }

// parseError is an option error worded as the Apache Commons CLI exception
// zkCli prints for it.
func parseError(kind, msg string) error {
	return &cliError{msg: "org.apache.commons.cli." + kind + ": " + msg, code: 1}
}

// parseOptions reads words (the command name first) the way zkCli's option
// parser (Commons CLI's DefaultParser) does: options may come anywhere, "--"
// ends them, "-sw" is -s and -w, "-v3" and "-v=3" give -v the value 3, a
// word after an option that takes a value is that value unless it is itself
// an option, and an unknown option is an error.
func parseOptions(spec optionSpec, words []string) (*cmdLine, error) {
	c := &cmdLine{opts: map[byte]bool{}, values: map[byte]string{}}
	var awaiting byte // an option still waiting for its value
	set := func(name byte) error {
		if awaiting != 0 {
			return missingValue(awaiting)
		}
		c.opts[name] = true
		if _, v := spec.takes(name); v {
			awaiting = name
		}
		return nil
	}
	give := func(v string) {
		if _, seen := c.values[awaiting]; !seen {
			c.values[awaiting] = v
		}
		awaiting = 0
	}
	unknown := func(w string) error { return parseError("UnrecognizedOptionException", "Unrecognized option: "+w) }
	onlyArgs := false
	for _, w := range words {
		switch {
		case onlyArgs:
			c.args = append(c.args, w)
		case w == "--":
			onlyArgs = true
		case awaiting != 0 && !isOption(spec, w):
			give(stripQuotes(w))
		case strings.HasPrefix(w, "--"):
			return nil, unknown(w)
		case strings.HasPrefix(w, "-") && w != "-":
			t := w[1:]
			if name, value, ok := strings.Cut(t, "="); ok {
				if len(name) != 1 {
					return nil, unknown(w)
				}
				if exists, v := spec.takes(name[0]); !exists || !v {
					return nil, unknown(w)
				}
				if err := set(name[0]); err != nil {
					return nil, err
				}
				give(value)
				continue
			}
			for i := 0; i < len(t); i++ {
				exists, v := spec.takes(t[i])
				if !exists {
					return nil, unknown(w)
				}
				if err := set(t[i]); err != nil {
					return nil, err
				}
				if v && i+1 < len(t) {
					give(t[i+1:])
					break
				}
			}
		default:
			c.args = append(c.args, w)
		}
	}
	if awaiting != 0 {
		return nil, missingValue(awaiting)
	}
	return c, nil
}

func missingValue(name byte) error {
	return parseError("MissingArgumentException", "Missing argument for option: "+string(name))
}

// isOption reports whether w would be read as an option of spec (and so not
// as the value of the option before it); a number never is.
func isOption(spec optionSpec, w string) bool {
	if len(w) < 2 || w[0] != '-' {
		return false
	}
	if _, err := strconv.ParseFloat(w, 64); err == nil {
		return false
	}
	exists, _ := spec.takes(w[1])
	return exists
}

// stripQuotes removes the double quotes around an option value, when it
// holds no other.
func stripQuotes(s string) string {
	if len(s) > 1 && s[0] == '"' && s[len(s)-1] == '"' && !strings.Contains(s[1:len(s)-1], `"`) {
		return s[1 : len(s)-1]
	}
	return s
}

// parseInt reads an int as Java's Integer.parseInt does.
func parseInt(s string) (int32, bool) {
	v, err := strconv.ParseInt(s, 10, 32)
	return int32(v), err == nil
}

// decodeInt reads an int as Java's Integer.decode does: an optional sign,
// then decimal, 0x/0X/# hexadecimal, or 0 octal.
func decodeInt(s string) (int, bool) {
	neg := false
	if s != "" && (s[0] == '-' || s[0] == '+') {
		neg, s = s[0] == '-', s[1:]
	}
	base := 10
	switch {
	case strings.HasPrefix(s, "0x"), strings.HasPrefix(s, "0X"):
		base, s = 16, s[2:]
	case strings.HasPrefix(s, "#"):
		base, s = 16, s[1:]
	case len(s) > 1 && s[0] == '0':
		base, s = 8, s[1:]
	}
	if s == "" || s[0] == '-' || s[0] == '+' {
		return 0, false
	}
	v, err := strconv.ParseInt(s, base, 64)
	if neg {
		v = -v
	}
	if err != nil || v < -1<<31 || v > 1<<31-1 {
		return 0, false
	}
	return int(v), true
}
