package x500

import (
	"bufio"
	"encoding/asn1"
	"encoding/hex"
	"os/exec"
	"strings"
	"testing"
	"unicode/utf16"
)

// value makes an attribute value of the given universal tag.
func value(tag int, content []byte) asn1.RawValue {
	return asn1.RawValue{Class: asn1.ClassUniversal, Tag: tag, Bytes: content}
}

func bmp(s string) []byte {
	var b []byte
	for _, u := range utf16.Encode([]rune(s)) {
		b = append(b, byte(u>>8), byte(u))
	}
	return b
}

func attr(oid asn1.ObjectIdentifier, v asn1.RawValue) attribute {
	return attribute{Type: oid, Value: v}
}

var (
	oidCN     = asn1.ObjectIdentifier{2, 5, 4, 3}
	oidC      = asn1.ObjectIdentifier{2, 5, 4, 6}
	oidO      = asn1.ObjectIdentifier{2, 5, 4, 10}
	oidOU     = asn1.ObjectIdentifier{2, 5, 4, 11}
	oidSerial = asn1.ObjectIdentifier{2, 5, 4, 5}
	oidDC     = asn1.ObjectIdentifier{0, 9, 2342, 19200300, 100, 1, 25}
	oidUID    = asn1.ObjectIdentifier{0, 9, 2342, 19200300, 100, 1, 1}
	oidEmail  = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 9, 1}
)

// names are subjects that exercise each rule of the RFC 2253 output.
func names(t *testing.T) [][]byte {
	utf8 := func(s string) asn1.RawValue { return value(tagUTF8String, []byte(s)) }
	printable := func(s string) asn1.RawValue { return value(tagPrintableString, []byte(s)) }
	seqs := [][]attributeSET{
		{},
		{{attr(oidCN, utf8("client"))}},
		{{attr(oidC, printable("US"))}, {attr(oidO, utf8("Acme, Inc."))}, {attr(oidOU, utf8("Eng")), attr(oidUID, utf8("42"))}, {attr(oidCN, utf8("client one"))}},
		{{attr(oidDC, value(tagIA5String, []byte("example")))}, {attr(oidDC, value(tagIA5String, []byte("com")))}, {attr(oidCN, utf8(` lead+trail "q" <a>=b#;\ `))}},
		{{attr(oidCN, utf8("#hash"))}, {attr(oidEmail, value(tagIA5String, []byte("a@b.example")))}},
		{{attr(oidSerial, printable("1234"))}, {attr(oidCN, value(tagBMPString, bmp("Grüße ✓")))}},
		{{attr(oidCN, value(tagT61String, []byte{'c', 0xe9, 'l', 'i', 'n', 'e'}))}},
		{{attr(oidCN, value(2, []byte{0x05}))}}, // an INTEGER: printed as #hex
		{{attr(oidCN, utf8("nul\x00in\rside\r"))}},
		{{attr(oidO, utf8("ünïcödé"))}, {attr(asn1.ObjectIdentifier{1, 3, 6, 1, 4, 1, 99999, 1}, utf8("private"))}},
	}
	var out [][]byte
	for _, s := range seqs {
		der, err := asn1.Marshal(s)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, der)
	}
	return out
}

// ids are candidate x509 ACL ids, valid and not.
var ids = []string{
	"", "CN=client", "cn=client,o=acme", "CN=a;O=b", "CN=a + OU=b, O=c", "CN=client one,OU=Eng+UID=42,O=Acme\\, Inc.,C=US",
	"OID.2.5.4.3=x", "2.5.4.3=x", "2.5.4.3=#0c0178", "2.5.4.3=#0c01", "CN=#zz", "CN=\"quoted, value\"",
	"CN=\"open", "CN=a=b", "CN=a\\=b", "CN=a<b", "CN=a\\3Cb", "CN=a\\q", "FOO=bar", "CN", "CN=a,,O=b",
	"CN=a,", "EMAILADDRESS=a@b", "SERIALNUMBER=1,DC=x,UID=y,STREET=s,ST=s,L=l,T=t,DNQ=d,SURNAME=s,GIVENNAME=g,INITIALS=i,GENERATION=g,IP=1.2.3.4",
	"3.1=x", "1.40=x", "2.40=x", "1=x", "1.2.=x", "CN= spaced ", "CN=trailing\\", "CN=a\"b", "CN=a#b", "CN=a>b", "CN=a\\ b", "CN=x,O=\"a\"b\"", "CN=\"a\" tail",
}

// TestAgainstJava compares Name and Valid with Java's X500Principal
// (testdata/X500Check.java, run with the JDK the reference server needs).
func TestAgainstJava(t *testing.T) {
	java, err := exec.LookPath("java")
	if err != nil {
		t.Fatalf("java not found (make test installs it): %v", err)
	}
	var input strings.Builder
	ders := names(t)
	for _, der := range ders {
		input.WriteString("N " + hex.EncodeToString(der) + "\n")
	}
	for _, id := range ids {
		input.WriteString("V " + id + "\n")
	}
	cmd := exec.Command(java, "testdata/X500Check.java")
	cmd.Stdin = strings.NewReader(input.String())
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("java: %v", err)
	}
	sc := bufio.NewScanner(strings.NewReader(string(out)))
	unquote := strings.NewReplacer("\\n", "\n", "\\r", "\r", "\\\\", "\\")
	for _, der := range ders {
		if !sc.Scan() {
			t.Fatal("java answered too few lines")
		}
		want := unquote.Replace(sc.Text())
		got, err := Name(der)
		if err != nil {
			t.Errorf("Name(%x): %v, Java: %q", der, err, want)
		} else if got != want {
			t.Errorf("Name(%x)\n got %q\nJava %q", der, got, want)
		}
	}
	for _, id := range ids {
		if !sc.Scan() {
			t.Fatal("java answered too few lines")
		}
		if got, want := Valid(id), sc.Text() == "valid"; got != want {
			t.Errorf("Valid(%q) = %v, Java says %s", id, got, sc.Text())
		}
	}
}

func TestNameRefusesGarbage(t *testing.T) {
	for _, der := range [][]byte{nil, {0x30}, {0x30, 0x00, 0x00}, {0x04, 0x00}} {
		if _, err := Name(der); err == nil {
			t.Errorf("Name(%x) accepted", der)
		}
	}
}
