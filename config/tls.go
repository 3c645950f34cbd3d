package config

import (
	"errors"
	"fmt"
	"net"
	"strconv"
	"strings"

	"github.com/meerkat-zk/meerkat/zktls"
)

// X509AuthenticationProvider is ZooKeeper's class for x509 authentication,
// which Meerkat has built in.
const X509AuthenticationProvider = "org.apache.zookeeper.server.auth.X509AuthenticationProvider"

// ClientTLS is the client port's TLS configuration.
type ClientTLS struct {
	// SecurePort and SecureAddress are secureClientPort and
	// secureClientPortAddress (empty: every interface).
	SecurePort    int
	SecureAddress string
	// PortUnification is client.portUnification: the plaintext client
	// port takes TLS clients too.
	PortUnification bool
	// Settings are the ssl.* keys.
	Settings zktls.Settings
	// X509Provider is an authProvider.N naming ZooKeeper's
	// X509AuthenticationProvider.
	X509Provider bool
	// SuperUser is zookeeper.X509AuthenticationProvider.superUser.
	SuperUser string
	// set records that some key was given, to apply ZooKeeper's defaults
	// first.
	set bool
}

// Enabled reports whether the server serves TLS clients.
func (t *ClientTLS) Enabled() bool { return t.SecurePort != 0 || t.PortUnification }

// X509 reports whether the x509 authentication provider is registered, as
// ZooKeeper registers it: named by an authProvider.N key, or implied by a
// secure client port or port unification.
func (t *ClientTLS) X509() bool { return t.X509Provider || t.Enabled() }

// SecureAddr is the secure client port's address.
func (t *ClientTLS) SecureAddr() string {
	return net.JoinHostPort(t.SecureAddress, strconv.Itoa(t.SecurePort))
}

// QuorumTLS is the peer port's TLS: sslQuorum and the ssl.quorum.* keys.
type QuorumTLS struct {
	// Enabled is sslQuorum.
	Enabled bool
	// Settings are the ssl.quorum.* keys (hostname verification checks
	// both ends here, as in ZooKeeper).
	Settings zktls.Settings
	set      bool
}

// apply sets one of the quorum TLS keys, and reports whether key is one.
func (q *QuorumTLS) apply(key, value string) (bool, error) {
	if !q.set {
		q.Settings, q.set = zktls.DefaultSettings(), true
	}
	var err error
	switch key = strings.TrimPrefix(key, "zookeeper."); key {
	case "sslQuorum":
		q.Enabled, err = boolean(key, value)
	case "sslQuorumReloadCertFiles":
		q.Settings.Reload, err = boolean(key, value)
	case "portUnification":
		var on bool
		if on, err = boolean(key, value); err == nil && on {
			err = errors.New("Meerkat's peer port takes TLS only or plaintext only (sslQuorum); it has no port unification")
		}
	default:
		suffix, ok := strings.CutPrefix(key, "ssl.quorum.")
		if !ok {
			return false, nil
		}
		return q.Settings.Set(suffix, value)
	}
	return true, err
}

// setTLS applies a key of the client port's or the quorum's TLS, and
// reports whether key is one.
func (c *Config) setTLS(key, value string) (bool, error) {
	known, err := c.QuorumTLS.apply(key, value)
	if !known {
		known, err = c.TLS.apply(key, value)
	}
	if err != nil {
		err = fmt.Errorf("%s=%s is refused: %w", key, value, err)
	}
	return known, err
}

// apply sets one of the client TLS keys; see setTLS.
func (t *ClientTLS) apply(key, value string) (bool, error) {
	if !t.set {
		t.Settings, t.set = zktls.DefaultSettings(), true
	}
	var err error
	switch key = strings.TrimPrefix(key, "zookeeper."); key {
	case "secureClientPort":
		t.SecurePort, err = integer(key, value)
	case "secureClientPortAddress":
		t.SecureAddress = value
	case "client.portUnification":
		t.PortUnification, err = boolean(key, value)
	case "client.certReload":
		t.Settings.Reload, err = boolean(key, value)
	case "X509AuthenticationProvider.superUser":
		t.SuperUser = value
	case "ssl.authProvider":
		if value != "x509" {
			err = fmt.Errorf("Meerkat's only TLS authentication provider is x509 (%s)", X509AuthenticationProvider)
		}
	default:
		if strings.HasPrefix(key, "authProvider.") && value == X509AuthenticationProvider {
			t.X509Provider = true
			return true, nil
		}
		suffix, ok := strings.CutPrefix(key, "ssl.")
		if !ok || strings.HasPrefix(suffix, "quorum.") {
			return false, nil
		}
		return t.Settings.Set(suffix, value)
	}
	return true, err
}

// validateTLS checks the client port's TLS keys as ZooKeeper does at start.
func (c *Config) validateTLS() error {
	t := &c.TLS
	if t.SecurePort == 0 && t.SecureAddress != "" {
		// ZooKeeper's words.
		return fmt.Errorf("secureClientPortAddress is set but secureClientPort is not set")
	}
	if t.SecurePort < 0 || t.SecurePort > 65535 {
		return fmt.Errorf("secureClientPort %d is out of range", t.SecurePort)
	}
	if t.Enabled() && t.Settings.KeyStore.Location == "" {
		return fmt.Errorf("secureClientPort and client.portUnification need ssl.keyStore.location")
	}
	if !t.set {
		t.Settings = zktls.DefaultSettings()
	}
	q := &c.QuorumTLS
	if !q.set {
		q.Settings = zktls.DefaultSettings()
	}
	if q.Enabled && (q.Settings.KeyStore.Location == "" || q.Settings.TrustStore.Location == "") {
		return errors.New("sslQuorum=true needs ssl.quorum.keyStore.location and ssl.quorum.trustStore.location")
	}
	return nil
}
