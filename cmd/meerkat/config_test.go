package main

import (
	"fmt"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/meerkat-zk/meerkat/engine"
	"github.com/meerkat-zk/meerkat/internal/wire"
	"github.com/meerkat-zk/meerkat/internal/zktest"
	"github.com/meerkat-zk/meerkat/jute"
)

func TestHelpAndVersion(t *testing.T) {
	bin := zktest.MeerkatBinary(t)
	for _, arg := range []string{"--help", "-h", "help"} {
		out, err := run(t, bin, arg)
		if err != nil {
			t.Errorf("meerkat %s: %v (want exit 0)", arg, err)
		}
		for _, want := range []string{"import-zk", "export-zk", "restore", "cli", "dump-wal", "-set key=value", "tickTime", "secureClientPort"} {
			if !strings.Contains(out, want) {
				t.Errorf("meerkat %s does not mention %q:\n%s", arg, want, out)
			}
		}
	}
	if out, err := run(t, bin, "version"); err != nil || !strings.HasPrefix(out, "meerkat ") || !strings.Contains(out, "answers as ZooKeeper 3.8.0") {
		t.Errorf("meerkat version: %v %q", err, out)
	}
}

// The example zoo.cfg of Debian's zookeeper package starts a server (with
// the port and data directory moved for the test), and SIGHUP stops it
// cleanly, as ZooKeeper's JVM runs its shutdown hooks on HUP.
func TestDebianExampleConfigAndSIGHUP(t *testing.T) {
	port := zktest.FreePort(t)
	srv := exec.Command(zktest.MeerkatBinary(t), "-port", fmt.Sprint(port), "-data-dir", t.TempDir(),
		"-set", "admin.enableServer=false", "/etc/zookeeper/conf_example/zoo.cfg")
	log := &strings.Builder{}
	srv.Stdout, srv.Stderr = log, log
	if err := srv.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- srv.Wait() }()
	defer func() { _ = srv.Process.Kill() }()
	zktest.Eventually(t, "the server on Debian's example zoo.cfg serves", func() error {
		c, err := wire.Dial(fmt.Sprintf("127.0.0.1:%d", port), 30000)
		if err != nil {
			return err
		}
		defer c.Close()
		r, err := c.Call(jute.OpCreate, (&jute.CreateRequest{Path: "/ok", ACL: engine.OpenACL}).AppendCreate(nil, false))
		if err == nil && r.Header.Err != jute.CodeOK {
			err = fmt.Errorf("create: %v", r.Header.Err)
		}
		return err
	})
	if err := srv.Process.Signal(syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-done:
		if err != nil || !strings.Contains(log.String(), "stopping") {
			t.Fatalf("SIGHUP: exit %v, want a clean stop\n%s", err, log)
		}
	case <-time.After(30 * time.Second):
		t.Fatalf("still running 30 s after SIGHUP\n%s", log)
	}
}

// A zoo.cfg asking for TLS is refused at start with the reason, rather
// than served in plaintext.
func TestTLSWithoutKeyStoreIsRefused(t *testing.T) {
	cfg, _ := standaloneConfig(t, t.TempDir(), "secureClientPort=2281")
	out := runToExit(t, exec.Command(zktest.MeerkatBinary(t), cfg))
	if !strings.Contains(out, "secureClientPort and client.portUnification need ssl.keyStore.location") {
		t.Fatalf("the refusal does not say why:\n%s", out)
	}
}

// `meerkat cli` runs the shell: one command, then exit.
func TestCliSubcommand(t *testing.T) {
	srv := zktest.StartMeerkat(t, zktest.Options{})
	bin := zktest.MeerkatBinary(t)
	if out, err := run(t, bin, "cli", "-server", srv.Addr, "create", "/fromcli", "hello"); err != nil || !strings.Contains(out, "Created /fromcli") {
		t.Fatalf("cli create: %v\n%s", err, out)
	}
	if out, err := run(t, bin, "cli", "-server", srv.Addr, "get", "/fromcli"); err != nil || !strings.Contains(out, "hello") {
		t.Fatalf("cli get: %v\n%s", err, out)
	}
	if out, err := run(t, bin, "cli", "-server", srv.Addr, "get", "/missing"); err == nil || !strings.Contains(out, "Node does not exist: /missing") {
		t.Fatalf("cli get of a missing node: %v\n%s", err, out)
	}
}
