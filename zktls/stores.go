package zktls

import (
	"bytes"
	"crypto"
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"os"
	"strings"

	keystore "github.com/pavlo-v-chernykh/keystore-go/v4"
	"github.com/youmark/pkcs8"
	"software.sslmate.com/src/go-pkcs12"

	"github.com/meerkat-zk/meerkat/internal/pkcs8pbe"
)

// The store formats.
const (
	typePEM    = "PEM"
	typePKCS12 = "PKCS12"
	typeJKS    = "JKS"
)

// storeType returns the store's format: its Type, or what ZooKeeper's
// KeyStoreFileType infers from the file name.
func storeType(s Store) (string, error) {
	if s.Type != "" {
		switch t := strings.ToUpper(s.Type); t {
		case typePEM, typePKCS12, typeJKS:
			return t, nil
		case "BCFKS":
			return "", errors.New("BCFKS stores need the Bouncy Castle FIPS provider; convert the store to PKCS12 or PEM")
		default:
			return "", fmt.Errorf("unknown store type %q (PEM, PKCS12 or JKS)", s.Type)
		}
	}
	switch name := strings.ToLower(s.Location); {
	case strings.HasSuffix(name, ".pem"):
		return typePEM, nil
	case strings.HasSuffix(name, ".p12"):
		return typePKCS12, nil
	case strings.HasSuffix(name, ".jks"):
		return typeJKS, nil
	}
	return "", fmt.Errorf("cannot tell the type of %s from its name (.pem, .p12 or .jks); set the store's type", s.Location)
}

// loadKeyPair reads a key store: the private key and its certificate
// chain, leaf first.
func loadKeyPair(s Store) (tls.Certificate, error) {
	t, err := storeType(s)
	if err != nil {
		return tls.Certificate{}, err
	}
	data, err := os.ReadFile(s.Location)
	if err != nil {
		return tls.Certificate{}, err
	}
	var key crypto.PrivateKey
	var chain [][]byte
	switch t {
	case typePEM:
		key, chain, err = pemKeyPair(data, s.Password)
	case typePKCS12:
		var leaf *x509.Certificate
		var cas []*x509.Certificate
		key, leaf, cas, err = pkcs12.DecodeChain(data, s.Password)
		if err == nil {
			chain = append(chain, leaf.Raw)
			for _, c := range cas {
				chain = append(chain, c.Raw)
			}
		}
	case typeJKS:
		key, chain, err = jksKeyPair(data, s.Password)
	}
	if err != nil {
		return tls.Certificate{}, fmt.Errorf("key store %s: %w", s.Location, err)
	}
	if len(chain) == 0 {
		return tls.Certificate{}, fmt.Errorf("key store %s has no certificate", s.Location)
	}
	leaf, err := x509.ParseCertificate(chain[0])
	if err != nil {
		return tls.Certificate{}, fmt.Errorf("key store %s: %w", s.Location, err)
	}
	return tls.Certificate{Certificate: chain, PrivateKey: key, Leaf: leaf}, nil
}

// pemKeyPair reads a PEM key store as ZooKeeper's PemReader does: one
// private key (PKCS#8, encrypted with the password when one is given; the
// older PKCS#1 and SEC 1 forms too) and the certificates, in file order.
func pemKeyPair(data []byte, password string) (crypto.PrivateKey, [][]byte, error) {
	var key crypto.PrivateKey
	var chain [][]byte
	for {
		var b *pem.Block
		b, data = pem.Decode(data)
		if b == nil {
			break
		}
		var err error
		switch b.Type {
		case "CERTIFICATE":
			chain = append(chain, b.Bytes)
			continue
		case "ENCRYPTED PRIVATE KEY":
			key, err = decryptKey(b.Bytes, password)
		case "PRIVATE KEY":
			key, err = x509.ParsePKCS8PrivateKey(b.Bytes)
		case "RSA PRIVATE KEY":
			key, err = x509.ParsePKCS1PrivateKey(b.Bytes)
		case "EC PRIVATE KEY":
			key, err = x509.ParseECPrivateKey(b.Bytes)
		default:
			continue
		}
		if err != nil {
			return nil, nil, fmt.Errorf("private key: %w", err)
		}
	}
	if key == nil {
		return nil, nil, errors.New("no private key found")
	}
	return key, chain, nil
}

// decryptKey decrypts an encrypted PKCS#8 key: with PKCS#12's 3DES
// scheme, which ZooKeeper's own PEM reader handles, or with PBES2.
func decryptKey(der []byte, password string) (crypto.PrivateKey, error) {
	plain, err := pkcs8pbe.Decrypt(der, password)
	switch {
	case errors.Is(err, pkcs8pbe.ErrOtherScheme):
		return pkcs8.ParsePKCS8PrivateKey(der, []byte(password))
	case err != nil:
		return nil, err
	}
	return x509.ParsePKCS8PrivateKey(plain)
}

// jksKeyPair reads the first private key entry of a Java key store; its
// key is protected by the store's password, as keytool makes it.
func jksKeyPair(data []byte, password string) (crypto.PrivateKey, [][]byte, error) {
	ks := keystore.New()
	if err := ks.Load(bytes.NewReader(data), []byte(password)); err != nil {
		return nil, nil, err
	}
	for _, alias := range ks.Aliases() {
		if !ks.IsPrivateKeyEntry(alias) {
			continue
		}
		e, err := ks.GetPrivateKeyEntry(alias, []byte(password))
		if err != nil {
			return nil, nil, fmt.Errorf("entry %q: %w", alias, err)
		}
		key, err := x509.ParsePKCS8PrivateKey(e.PrivateKey)
		if err != nil {
			return nil, nil, fmt.Errorf("entry %q: %w", alias, err)
		}
		var chain [][]byte
		for _, c := range e.CertificateChain {
			chain = append(chain, c.Content)
		}
		return key, chain, nil
	}
	return nil, nil, errors.New("no private key entry")
}

// loadTrust reads a trust store into a pool of trusted certificates.
func loadTrust(s Store) (*x509.CertPool, error) {
	t, err := storeType(s)
	if err != nil {
		return nil, err
	}
	data, err := os.ReadFile(s.Location)
	if err != nil {
		return nil, err
	}
	var certs []*x509.Certificate
	switch t {
	case typePEM:
		for {
			var b *pem.Block
			if b, data = pem.Decode(data); b == nil {
				break
			}
			if b.Type != "CERTIFICATE" {
				continue
			}
			c, err := x509.ParseCertificate(b.Bytes)
			if err != nil {
				return nil, fmt.Errorf("trust store %s: %w", s.Location, err)
			}
			certs = append(certs, c)
		}
	case typePKCS12:
		certs, err = pkcs12.DecodeTrustStore(data, s.Password)
	case typeJKS:
		certs, err = jksTrusted(data, s.Password)
	}
	if err != nil {
		return nil, fmt.Errorf("trust store %s: %w", s.Location, err)
	}
	if len(certs) == 0 {
		return nil, fmt.Errorf("trust store %s has no certificate", s.Location)
	}
	pool := x509.NewCertPool()
	for _, c := range certs {
		pool.AddCert(c)
	}
	return pool, nil
}

// jksTrusted reads the certificates of a Java key store: its trusted
// certificate entries and the chains of its key entries, as Java's trust
// manager trusts both.
func jksTrusted(data []byte, password string) ([]*x509.Certificate, error) {
	ks := keystore.New()
	if err := ks.Load(bytes.NewReader(data), []byte(password)); err != nil {
		return nil, err
	}
	var certs []*x509.Certificate
	add := func(der []byte) error {
		c, err := x509.ParseCertificate(der)
		if err == nil {
			certs = append(certs, c)
		}
		return err
	}
	for _, alias := range ks.Aliases() {
		if ks.IsTrustedCertificateEntry(alias) {
			e, err := ks.GetTrustedCertificateEntry(alias)
			if err == nil {
				err = add(e.Certificate.Content)
			}
			if err != nil {
				return nil, fmt.Errorf("entry %q: %w", alias, err)
			}
			continue
		}
		chain, err := ks.GetPrivateKeyEntryCertificateChain(alias)
		if err != nil {
			return nil, fmt.Errorf("entry %q: %w", alias, err)
		}
		if len(chain) > 0 {
			if err := add(chain[0].Content); err != nil {
				return nil, fmt.Errorf("entry %q: %w", alias, err)
			}
		}
	}
	return certs, nil
}
