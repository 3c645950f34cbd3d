package testcert

import (
	"crypto/x509/pkix"
	"encoding/asn1"
	"fmt"
	"strings"
)

// attributeTypes are the keywords ParseName knows, with each one's OID
// and the ASN.1 string type its value is encoded as.
var attributeTypes = map[string]struct {
	oid asn1.ObjectIdentifier
	tag int
}{
	"CN":           {asn1.ObjectIdentifier{2, 5, 4, 3}, asn1.TagUTF8String},
	"C":            {asn1.ObjectIdentifier{2, 5, 4, 6}, asn1.TagPrintableString},
	"L":            {asn1.ObjectIdentifier{2, 5, 4, 7}, asn1.TagUTF8String},
	"ST":           {asn1.ObjectIdentifier{2, 5, 4, 8}, asn1.TagUTF8String},
	"STREET":       {asn1.ObjectIdentifier{2, 5, 4, 9}, asn1.TagUTF8String},
	"O":            {asn1.ObjectIdentifier{2, 5, 4, 10}, asn1.TagUTF8String},
	"OU":           {asn1.ObjectIdentifier{2, 5, 4, 11}, asn1.TagUTF8String},
	"DC":           {asn1.ObjectIdentifier{0, 9, 2342, 19200300, 100, 1, 25}, asn1.TagIA5String},
	"UID":          {asn1.ObjectIdentifier{0, 9, 2342, 19200300, 100, 1, 1}, asn1.TagUTF8String},
	"emailAddress": {asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 9, 1}, asn1.TagIA5String},
}

// ParseName parses an RFC 4514 distinguished name, the most specific RDN
// first, into the RDN sequence a certificate encodes (the least specific
// first). A backslash escapes the character after it; "," separates RDNs
// and "+" the attributes of one RDN. The keywords are CN, C, L, ST,
// STREET, O, OU, DC, UID and emailAddress.
func ParseName(dn string) (pkix.RDNSequence, error) {
	if dn == "" {
		return nil, fmt.Errorf("testcert: empty name")
	}
	var rdns pkix.RDNSequence
	for _, rdn := range split(dn, ',') {
		var set pkix.RelativeDistinguishedNameSET
		for _, ava := range split(rdn, '+') {
			k, v, ok := strings.Cut(ava, "=")
			typ, known := attributeTypes[k]
			if !ok || !known {
				return nil, fmt.Errorf("testcert: name %q: bad attribute %q", dn, ava)
			}
			v = unescape(v)
			if v == "" {
				return nil, fmt.Errorf("testcert: name %q: empty value of %s", dn, k)
			}
			set = append(set, pkix.AttributeTypeAndValue{Type: typ.oid, Value: asn1.RawValue{Tag: typ.tag, Bytes: []byte(v)}})
		}
		rdns = append(rdns, set)
	}
	for i, j := 0, len(rdns)-1; i < j; i, j = i+1, j-1 {
		rdns[i], rdns[j] = rdns[j], rdns[i]
	}
	return rdns, nil
}

// split cuts s at every sep that no backslash escapes, leaving the escapes
// in the parts.
func split(s string, sep byte) []string {
	var parts []string
	start := 0
	for i := 0; i < len(s); i++ {
		switch s[i] {
		case '\\':
			i++
		case sep:
			parts = append(parts, s[start:i])
			start = i + 1
		}
	}
	return append(parts, s[start:])
}

// unescape drops each escaping backslash.
func unescape(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' && i+1 < len(s) {
			i++
		}
		b.WriteByte(s[i])
	}
	return b.String()
}
