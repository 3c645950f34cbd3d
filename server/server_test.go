package server

import (
	"context"
	"log/slog"
	"os"
	"testing"
	"time"

	"github.com/meerkat-zk/meerkat/config"
	"github.com/meerkat-zk/meerkat/internal/wire"
	"github.com/meerkat-zk/meerkat/jute"
)

// testConfig is a standalone configuration on a kernel-chosen port with its
// data under dir.
func testConfig(t *testing.T, dir string) *config.Config {
	t.Helper()
	cfg, err := config.Default()
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range map[string]string{"clientPort": "0", "admin.enableServer": "false", "dataDir": dir, "dataLogDir": dir} {
		if err := cfg.Set(k, v); err != nil {
			t.Fatal(err)
		}
	}
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	return cfg
}

func quietLogger() *slog.Logger {
	return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
}

// TestStartStopRestartKeepsData starts a server in process, writes through
// a client, stops it cleanly and starts it again on the same data: the
// write is there and the clean stop left nothing to replay.
func TestStartStopRestartKeepsData(t *testing.T) {
	dir := t.TempDir()
	s, err := Start(testConfig(t, dir), quietLogger())
	if err != nil {
		t.Fatal(err)
	}
	c, err := wire.Dial(s.Addr().String(), 10000)
	if err != nil {
		t.Fatal(err)
	}
	if r, err := c.Create("/kept", []byte("v1"), 0); err != nil || r.Header.Err != jute.CodeOK {
		t.Fatalf("create: %v %v", err, r.Header.Err)
	}
	c.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := s.Stop(ctx); err != nil {
		t.Fatalf("stop: %v", err)
	}
	if err := s.Stop(ctx); err != nil {
		t.Fatalf("second stop: %v", err)
	}

	s, err = Start(testConfig(t, dir), quietLogger())
	if err != nil {
		t.Fatal(err)
	}
	defer s.Stop(ctx)
	c, err = wire.Dial(s.Addr().String(), 10000)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	r, err := c.GetData("/kept", false)
	if err != nil || r.Header.Err != jute.CodeOK {
		t.Fatalf("getData after restart: %v %v", err, r.Header.Err)
	}
	d := jute.NewDecoder(r.Body)
	if got := string(d.Buffer()); got != "v1" {
		t.Fatalf("data after restart %q, want v1", got)
	}
}

// TestStartFailsCleanlyOnABusyPort: a server that cannot bind its client
// port reports it and releases its data directory, so the next start on
// the same data succeeds.
func TestStartFailsCleanlyOnABusyPort(t *testing.T) {
	dir := t.TempDir()
	first, err := Start(testConfig(t, t.TempDir()), quietLogger())
	if err != nil {
		t.Fatal(err)
	}
	defer first.Stop(context.Background())
	cfg := testConfig(t, dir)
	cfg.ClientPort = first.Addr().Port
	if s, err := Start(cfg, quietLogger()); err == nil {
		s.Stop(context.Background())
		t.Fatal("a second server bound a port already in use")
	}
	s, err := Start(testConfig(t, dir), quietLogger())
	if err != nil {
		t.Fatalf("start after a failed start on the same data: %v", err)
	}
	s.Stop(context.Background())
}
