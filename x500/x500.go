// Package x500 writes and checks X.500 distinguished names the way Java's
// javax.security.auth.x500.X500Principal does, because ZooKeeper's x509
// authentication names a client by its certificate's subject as
// getName() prints it (RFC 2253) and accepts an x509 ACL id when the
// X500Principal constructor can parse it. The same certificate must give
// the same id on Meerkat as on ZooKeeper, or an ACL written for one would
// lock the client out of the other.
package x500

import (
	"encoding/asn1"
	"encoding/hex"
	"errors"
	"strings"
)

// attribute is one AttributeTypeAndValue, its value kept as DER so that it
// can be printed as Java prints it: as text for string types, as #hex of
// the whole encoding otherwise.
type attribute struct {
	Type  asn1.ObjectIdentifier
	Value asn1.RawValue
}

// attributeSET is a RelativeDistinguishedName (a SET OF; encoding/asn1
// reads a slice type named ...SET as a set).
type attributeSET []attribute

// rfc2253Keywords are the attribute types that RFC 2253 output names by
// keyword (sun.security.x509.AVAKeyword's rfc2253Compliant entries); every
// other type is printed as its dotted OID.
var rfc2253Keywords = map[string]string{
	"2.5.4.3":                    "CN",
	"2.5.4.6":                    "C",
	"2.5.4.7":                    "L",
	"2.5.4.8":                    "ST",
	"2.5.4.10":                   "O",
	"2.5.4.11":                   "OU",
	"2.5.4.9":                    "STREET",
	"0.9.2342.19200300.100.1.25": "DC",
	"0.9.2342.19200300.100.1.1":  "UID",
}

// ASN.1 universal tags of the string types Java prints as text.
const (
	tagUTF8String      = 12
	tagPrintableString = 19
	tagT61String       = 20
	tagIA5String       = 22
	tagGeneralString   = 27
	tagBMPString       = 30
)

// Name returns the RFC 2253 form of a DER-encoded Name (a certificate's
// RawSubject), as X500Principal.getName() returns it: the RDNs last to
// first, joined by ","; the attributes of a multi-valued RDN in their
// encoded order, joined by "+".
func Name(der []byte) (string, error) {
	var rdns []attributeSET
	rest, err := asn1.Unmarshal(der, &rdns)
	if err != nil {
		return "", err
	}
	if len(rest) != 0 {
		return "", errors.New("x500: trailing data after the name")
	}
	var b strings.Builder
	for i := len(rdns) - 1; i >= 0; i-- {
		if i < len(rdns)-1 {
			b.WriteByte(',')
		}
		for j, a := range rdns[i] {
			if j > 0 {
				b.WriteByte('+')
			}
			writeAttribute(&b, a)
		}
	}
	return b.String(), nil
}

// writeAttribute appends type=value as sun.security.x509.AVA's
// toRFC2253String does.
func writeAttribute(b *strings.Builder, a attribute) {
	oid := a.Type.String()
	keyword, known := rfc2253Keywords[oid]
	if !known {
		keyword = oid
	}
	b.WriteString(keyword)
	b.WriteByte('=')
	text, isString := stringValue(a.Value)
	if !known || !isString {
		b.WriteByte('#')
		b.WriteString(hex.EncodeToString(a.Value.FullBytes))
		return
	}
	b.WriteString(escape(text))
}

// stringValue decodes a value of one of the string types Java's
// AVA.isDerString accepts. Java decodes the content of each of them as
// UTF-8, BMPString and T61String too (so their non-ASCII characters come
// out as NULs and replacement characters), and so does this.
func stringValue(v asn1.RawValue) (string, bool) {
	if v.Class != asn1.ClassUniversal || v.IsCompound {
		return "", false
	}
	switch v.Tag {
	case tagUTF8String, tagPrintableString, tagIA5String, tagGeneralString, tagT61String, tagBMPString:
		return string([]rune(string(v.Bytes))), true // one U+FFFD per invalid byte
	}
	return "", false
}

// escapees are the characters RFC 2253 output escapes with a backslash.
const escapees = ",=+<>#;\"\\"

// escape escapes a value as AVA.toRFC2253String: a backslash before each
// of escapees, NUL as \00, and a backslash before each leading or trailing
// space or carriage return.
func escape(v string) string {
	var e []rune
	for _, c := range v {
		switch {
		case strings.ContainsRune(escapees, c):
			e = append(e, '\\', c)
		case c == 0:
			e = append(e, '\\', '0', '0')
		default:
			e = append(e, c)
		}
	}
	blank := func(c rune) bool { return c == ' ' || c == '\r' }
	lead := 0
	for lead < len(e) && blank(e[lead]) {
		lead++
	}
	trail := len(e) - 1
	for trail >= 0 && blank(e[trail]) {
		trail--
	}
	var b strings.Builder
	for i, c := range e {
		if i < lead || i > trail {
			b.WriteByte('\\')
		}
		b.WriteRune(c)
	}
	return b.String()
}

// keywords are the attribute keywords X500Principal's constructor accepts
// (sun.security.x509.AVAKeyword), in upper case; besides them a type may be
// a dotted OID, with or without an "OID." prefix.
var keywords = map[string]bool{
	"CN": true, "C": true, "L": true, "S": true, "ST": true, "O": true, "OU": true,
	"T": true, "IP": true, "STREET": true, "DC": true, "DNQUALIFIER": true, "DNQ": true,
	"SURNAME": true, "GIVENNAME": true, "INITIALS": true, "GENERATION": true,
	"EMAIL": true, "EMAILADDRESS": true, "UID": true, "SERIALNUMBER": true,
}

// Valid reports whether Java's X500Principal(String) accepts s, which is
// how ZooKeeper's X509AuthenticationProvider.isValid checks an x509 ACL id:
// RDNs separated by unescaped, unquoted commas or semicolons, attributes
// by plus signs, each keyword=value with a known keyword or an OID, and a
// value that is #hex of one DER element, a quoted string, or text whose
// special characters are escaped. The empty string is the empty name.
func Valid(s string) bool {
	if s == "" {
		return true
	}
	for _, rdn := range splitUnescaped(s, ",;") {
		for _, ava := range splitUnescaped(rdn, "+") {
			if !validAttribute(ava) {
				return false
			}
		}
	}
	return true
}

// splitUnescaped splits s at each character of seps that is neither
// escaped by a backslash nor inside double quotes.
func splitUnescaped(s, seps string) []string {
	var parts []string
	start, quoted := 0, false
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case c == '\\':
			i++
		case c == '"':
			quoted = !quoted
		case !quoted && strings.IndexByte(seps, c) >= 0:
			parts = append(parts, s[start:i])
			start = i + 1
		}
	}
	return append(parts, s[start:])
}

func validAttribute(ava string) bool {
	keyword, value, ok := strings.Cut(ava, "=")
	if !ok || !validKeyword(strings.TrimSpace(keyword)) {
		return false
	}
	value = strings.TrimLeft(value, " \t\n\r")
	switch {
	case strings.HasPrefix(value, "#"):
		der, err := hex.DecodeString(strings.TrimRight(value[1:], " \t\n\r"))
		if err != nil || len(der) == 0 {
			return false
		}
		var v asn1.RawValue
		rest, err := asn1.Unmarshal(der, &v)
		return err == nil && len(rest) == 0
	case strings.HasPrefix(value, "\""):
		end := closingQuote(value)
		return end > 0 && strings.TrimSpace(value[end+1:]) == ""
	}
	return validText(value)
}

// validKeyword reports whether k names an attribute type.
func validKeyword(k string) bool {
	if len(k) > 4 && strings.EqualFold(k[:4], "OID.") {
		return validOID(k[4:])
	}
	if k != "" && k[0] >= '0' && k[0] <= '9' {
		return validOID(k)
	}
	return keywords[strings.ToUpper(k)]
}

// validOID reports whether s is a dotted OID as Java's ObjectIdentifier
// accepts it: at least two components, the first 0-2, the second below 40
// under 0 and 1.
func validOID(s string) bool {
	parts := strings.Split(s, ".")
	if len(parts) < 2 {
		return false
	}
	for i, p := range parts {
		if p == "" || strings.Trim(p, "0123456789") != "" {
			return false
		}
		if i == 0 && (len(p) > 1 || p[0] > '2') {
			return false
		}
		if i == 1 && parts[0] != "2" && (len(p) > 2 || len(p) == 2 && p[0] >= '4') {
			return false
		}
	}
	return true
}

// closingQuote returns the index of the quote that closes the one at
// v[0], or -1.
func closingQuote(v string) int {
	for i := 1; i < len(v); i++ {
		switch v[i] {
		case '\\':
			i++
		case '"':
			return i
		}
	}
	return -1
}

// specialText are the characters a value must escape (AVA's
// specialCharsDefault, less the separators already split off, "=" and
// "#", which Java 17 lets through after the first character).
const specialText = "\n<>\""

// validText checks an unquoted value: every special character escaped,
// and every escape either a special character, a space, or two hex digits.
func validText(v string) bool {
	for i := 0; i < len(v); i++ {
		c := v[i]
		if c != '\\' {
			if strings.IndexByte(specialText, c) >= 0 {
				return false
			}
			continue
		}
		if i+1 >= len(v) {
			return false
		}
		next := v[i+1]
		if isHex(next) && i+2 < len(v) && isHex(v[i+2]) {
			i += 2
			continue
		}
		if strings.IndexByte(escapees+" ", next) < 0 {
			return false
		}
		i++
	}
	return true
}

func isHex(c byte) bool {
	return c >= '0' && c <= '9' || c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F'
}
