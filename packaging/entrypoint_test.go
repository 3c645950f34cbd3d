// Package packaging tests the files under packaging/: the container
// entrypoint against the official zookeeper image's contract (the zoo.cfg
// and myid it writes, the server command line, the switch to an
// unprivileged user, a real server started through it), the Dockerfile's
// defaults, the systemd unit, and the metric names the Grafana dashboard and
// the Prometheus alerts use.
package packaging

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/meerkat-zk/meerkat/internal/zktest"
)

// scriptTimeout bounds every run of the entrypoint that is not a server.
const scriptTimeout = 30 * time.Second

// fakeMeerkat stands in for the server: it prints who runs it and its
// arguments, one a line.
const fakeMeerkat = `#!/bin/sh
echo "uid=$(id -u)"
for a in "$@"; do echo "arg=$a"; done
`

// layout is a container's directories under a test's temporary directory;
// bin comes first in the PATH the entrypoint sees.
type layout struct {
	root, conf, data, datalog, logs, bin string
}

func newLayout(t *testing.T) layout {
	t.Helper()
	root := t.TempDir()
	l := layout{
		root:    root,
		conf:    filepath.Join(root, "conf"),
		data:    filepath.Join(root, "data"),
		datalog: filepath.Join(root, "datalog"),
		logs:    filepath.Join(root, "logs"),
		bin:     filepath.Join(root, "bin"),
	}
	for _, dir := range []string{l.conf, l.data, l.datalog, l.logs, l.bin} {
		if err := os.Mkdir(dir, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	return l
}

// installFake puts fakeMeerkat in l's PATH as meerkat.
func (l layout) installFake(t *testing.T) {
	t.Helper()
	if err := os.WriteFile(filepath.Join(l.bin, "meerkat"), []byte(fakeMeerkat), 0o755); err != nil {
		t.Fatal(err)
	}
}

// env is the entrypoint's whole environment: nothing is inherited but
// PATH, so ZOO_* variables of whoever runs the tests cannot leak in. extra
// entries override the defaults here.
func (l layout) env(extra ...string) []string {
	return append([]string{
		"PATH=" + l.bin + ":" + os.Getenv("PATH"),
		"MEERKAT_USER=",
		"ZOO_CONF_DIR=" + l.conf,
		"ZOO_DATA_DIR=" + l.data,
		"ZOO_DATA_LOG_DIR=" + l.datalog,
		"ZOO_LOG_DIR=" + l.logs,
	}, extra...)
}

func script(t *testing.T) string {
	t.Helper()
	p, err := filepath.Abs("docker-entrypoint.sh")
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// run runs the entrypoint with args in l.root and returns its stdout and
// stderr.
func (l layout) run(t *testing.T, env []string, args ...string) (string, string, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), scriptTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, "bash", append([]string{script(t)}, args...)...)
	cmd.Env = env
	cmd.Dir = l.root
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	if ctx.Err() != nil {
		t.Fatalf("entrypoint %q did not finish in %v\n%s", args, scriptTimeout, stderr.String())
	}
	return stdout.String(), stderr.String(), err
}

// mustRun is run for a start that must succeed.
func (l layout) mustRun(t *testing.T, env []string, args ...string) string {
	t.Helper()
	stdout, stderr, err := l.run(t, env, args...)
	if err != nil {
		t.Fatalf("entrypoint %q: %v\n%s", args, err, stderr)
	}
	return stdout
}

func readFile(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// checkFile compares a file byte for byte and shows a line diff.
func checkFile(t *testing.T, path, want string) {
	t.Helper()
	if got := readFile(t, path); got != want {
		t.Errorf("%s differs (-want +got):\n%s\ngot bytes: %q",
			path, zktest.LineDiff(strings.Split(want, "\n"), strings.Split(got, "\n"), 2), got)
	}
}

// defaultConfig is the zoo.cfg the official 3.8 image writes when no ZOO_*
// variable is set but the directories: its keys in its order, its ENV
// defaults, its default server line, and no whitelist line (ZooKeeper's own
// default, srvr alone, applies).
func defaultConfig(l layout) string {
	return "dataDir=" + l.data + "\n" +
		"dataLogDir=" + l.datalog + "\n" +
		"tickTime=2000\n" +
		"initLimit=5\n" +
		"syncLimit=2\n" +
		"autopurge.snapRetainCount=3\n" +
		"autopurge.purgeInterval=0\n" +
		"maxClientCnxns=60\n" +
		"standaloneEnabled=true\n" +
		"admin.enableServer=true\n" +
		"server.1=localhost:2888:3888;2181\n"
}

// TestGeneratedConfig checks the zoo.cfg and myid written into empty
// directories, and that the command runs after them with its arguments as
// given.
func TestGeneratedConfig(t *testing.T) {
	tests := []struct {
		name     string
		env      []string
		cfg      func(l layout) string
		myid     string
		setupCwd func(t *testing.T, l layout)
	}{{
		name: "defaults",
		cfg:  defaultConfig,
		myid: "1\n",
	}, {
		name: "ensemble member",
		env: []string{
			"ZOO_MY_ID=3",
			// Any whitespace separates the entries, newlines included.
			"ZOO_SERVERS=server.1=zk1:2888:3888;2181 server.2=zk2:2888:3888;2181\n\tserver.3=zk3:2888:3888:observer;2181 ",
			"ZOO_TICK_TIME=500",
			"ZOO_INIT_LIMIT=10",
			"ZOO_SYNC_LIMIT=4",
			"ZOO_AUTOPURGE_SNAPRETAINCOUNT=5",
			"ZOO_AUTOPURGE_PURGEINTERVAL=24",
			"ZOO_MAX_CLIENT_CNXNS=0",
			"ZOO_STANDALONE_ENABLED=false",
			"ZOO_ADMINSERVER_ENABLED=false",
			"ZOO_4LW_COMMANDS_WHITELIST=srvr, ruok, mntr",
			"ZOO_CFG_EXTRA=metricsProvider.className=org.apache.zookeeper.metrics.prometheus.PrometheusMetricsProvider metricsProvider.httpPort=7000",
		},
		cfg: func(l layout) string {
			return "dataDir=" + l.data + "\n" +
				"dataLogDir=" + l.datalog + "\n" +
				"tickTime=500\n" +
				"initLimit=10\n" +
				"syncLimit=4\n" +
				"autopurge.snapRetainCount=5\n" +
				"autopurge.purgeInterval=24\n" +
				"maxClientCnxns=0\n" +
				"standaloneEnabled=false\n" +
				"admin.enableServer=false\n" +
				"server.1=zk1:2888:3888;2181\n" +
				"server.2=zk2:2888:3888;2181\n" +
				"server.3=zk3:2888:3888:observer;2181\n" +
				"4lw.commands.whitelist=srvr, ruok, mntr\n" +
				"metricsProvider.className=org.apache.zookeeper.metrics.prometheus.PrometheusMetricsProvider\n" +
				"metricsProvider.httpPort=7000\n"
		},
		myid: "3\n",
	}, {
		// A file in the working directory that the entry would match as a
		// glob: the entry must still be written as given.
		name: "entries are not globbed",
		env:  []string{"ZOO_CFG_EXTRA=4lw.commands.whitelist=*"},
		setupCwd: func(t *testing.T, l layout) {
			if err := os.WriteFile(filepath.Join(l.root, "4lw.commands.whitelist=srvr"), nil, 0o644); err != nil {
				t.Fatal(err)
			}
		},
		cfg:  func(l layout) string { return defaultConfig(l) + "4lw.commands.whitelist=*\n" },
		myid: "1\n",
	}}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			l := newLayout(t)
			if tc.setupCwd != nil {
				tc.setupCwd(t, l)
			}
			out := l.mustRun(t, l.env(tc.env...), "printf", "[%s]\n", "ran", "two words")
			if want := "[ran]\n[two words]\n"; out != want {
				t.Errorf("command output %q, want %q", out, want)
			}
			checkFile(t, filepath.Join(l.conf, "zoo.cfg"), tc.cfg(l))
			checkFile(t, filepath.Join(l.data, "myid"), tc.myid)
			checkDir(t, l.conf, "zoo.cfg")
			checkDir(t, l.data, "myid")
		})
	}
}

// checkDir checks that dir holds exactly names.
func checkDir(t *testing.T, dir string, names ...string) {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, e := range entries {
		got = append(got, e.Name())
	}
	if strings.Join(got, " ") != strings.Join(names, " ") {
		t.Errorf("%s holds %q, want %q", dir, got, names)
	}
}

// TestExistingFilesUntouched checks that a zoo.cfg or myid already there (a
// mounted /conf, a data volume from an earlier start) is kept as it is,
// while the missing one is written.
func TestExistingFilesUntouched(t *testing.T) {
	const mountedCfg = "# mounted\nclientPort=2999\ndataDir=/elsewhere\n"
	const oldID = "7\n"
	old := time.Date(2020, 1, 2, 3, 4, 5, 0, time.UTC)
	env := []string{"ZOO_MY_ID=3", "ZOO_SERVERS=server.3=zk3:2888:3888;2181", "ZOO_TICK_TIME=100"}

	tests := []struct {
		name          string
		cfg, myid     bool // which exist beforehand
		symlinkConfig bool // zoo.cfg is a symlink, as a Kubernetes ConfigMap mounts it
	}{
		{name: "both", cfg: true, myid: true},
		{name: "zoo.cfg only", cfg: true},
		{name: "myid only", myid: true},
		{name: "zoo.cfg through a symlink", cfg: true, myid: true, symlinkConfig: true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			l := newLayout(t)
			cfgPath, idPath := filepath.Join(l.conf, "zoo.cfg"), filepath.Join(l.data, "myid")
			write := func(path, content string) {
				if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
					t.Fatal(err)
				}
				if err := os.Chtimes(path, old, old); err != nil {
					t.Fatal(err)
				}
			}
			if tc.cfg {
				target := cfgPath
				if tc.symlinkConfig {
					target = filepath.Join(l.root, "configmap-zoo.cfg")
					if err := os.Symlink(target, cfgPath); err != nil {
						t.Fatal(err)
					}
				}
				write(target, mountedCfg)
			}
			if tc.myid {
				write(idPath, oldID)
			}

			l.mustRun(t, l.env(env...), "true")

			wantCfg := "dataDir=" + l.data + "\n" + "dataLogDir=" + l.datalog + "\n" +
				"tickTime=100\ninitLimit=5\nsyncLimit=2\nautopurge.snapRetainCount=3\n" +
				"autopurge.purgeInterval=0\nmaxClientCnxns=60\nstandaloneEnabled=true\n" +
				"admin.enableServer=true\nserver.3=zk3:2888:3888;2181\n"
			if tc.cfg {
				wantCfg = mountedCfg
				checkUnmodified(t, cfgPath, old)
			}
			checkFile(t, cfgPath, wantCfg)
			wantID := "3\n"
			if tc.myid {
				wantID = oldID
				checkUnmodified(t, idPath, old)
			}
			checkFile(t, idPath, wantID)
			checkDir(t, l.conf, "zoo.cfg")
			checkDir(t, l.data, "myid")
		})
	}
}

func checkUnmodified(t *testing.T, path string, mtime time.Time) {
	t.Helper()
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if !fi.ModTime().Equal(mtime) {
		t.Errorf("%s was modified at %v", path, fi.ModTime())
	}
}

// TestServerCommandLine checks the command the entrypoint execs for the
// server: the image's CMD (`meerkat`), none at all, and the official image's
// `zkServer.sh start-foreground` become meerkat with the configuration and
// ZOO_LOG_LEVEL as -log-level; other meerkat command lines run as given.
func TestServerCommandLine(t *testing.T) {
	tests := []struct {
		name    string
		args    []string
		env     []string
		want    []string // meerkat's arguments; "CONF/" is the conf directory
		wantErr string   // in stderr, when the entrypoint must refuse
	}{
		{name: "official CMD", args: []string{"zkServer.sh", "start-foreground"}, want: []string{"CONF/zoo.cfg"}},
		{name: "image CMD", args: []string{"meerkat"}, want: []string{"CONF/zoo.cfg"}},
		{name: "no command", want: []string{"CONF/zoo.cfg"}},
		{name: "official CMD with a file", args: []string{"zkServer.sh", "start-foreground", "other.cfg"}, want: []string{"CONF/other.cfg"}},
		{name: "WARN", args: []string{"zkServer.sh", "start-foreground"}, env: []string{"ZOO_LOG_LEVEL=WARN"},
			want: []string{"-log-level", "warn", "CONF/zoo.cfg"}},
		{name: "TRACE", args: []string{"meerkat"}, env: []string{"ZOO_LOG_LEVEL=TRACE"},
			want: []string{"-log-level", "debug", "CONF/zoo.cfg"}},
		{name: "DEBUG", args: []string{"meerkat"}, env: []string{"ZOO_LOG_LEVEL=DEBUG"},
			want: []string{"-log-level", "debug", "CONF/zoo.cfg"}},
		{name: "Info", args: []string{"zkServer.sh", "start-foreground"}, env: []string{"ZOO_LOG_LEVEL=Info"},
			want: []string{"-log-level", "info", "CONF/zoo.cfg"}},
		{name: "error", args: []string{"zkServer.sh", "start-foreground"}, env: []string{"ZOO_LOG_LEVEL=error"},
			want: []string{"-log-level", "error", "CONF/zoo.cfg"}},
		{name: "meerkat with arguments", args: []string{"meerkat", "-port", "2182", "/elsewhere/zoo.cfg"},
			env: []string{"ZOO_LOG_LEVEL=WARN"}, want: []string{"-port", "2182", "/elsewhere/zoo.cfg"}},
		{name: "unknown log level", args: []string{"zkServer.sh", "start-foreground"}, env: []string{"ZOO_LOG_LEVEL=LOUD"},
			wantErr: "ZOO_LOG_LEVEL=LOUD"},
		{name: "other zkServer.sh command", args: []string{"zkServer.sh", "status"},
			wantErr: "only 'zkServer.sh start-foreground [zoo.cfg]'"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			l := newLayout(t)
			l.installFake(t)
			stdout, stderr, err := l.run(t, l.env(tc.env...), tc.args...)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(stderr, tc.wantErr) {
					t.Fatalf("err %v, stderr %q: want a failure saying %q", err, stderr, tc.wantErr)
				}
				if stdout != "" {
					t.Errorf("the server ran: %q", stdout)
				}
				return
			}
			if err != nil {
				t.Fatalf("%v\n%s", err, stderr)
			}
			want := fmt.Sprintf("uid=%d\n", os.Getuid())
			for _, a := range tc.want {
				want += "arg=" + strings.Replace(a, "CONF/", l.conf+"/", 1) + "\n"
			}
			if stdout != want {
				t.Errorf("meerkat ran as\n%s\nwant\n%s", stdout, want)
			}
		})
	}
}

// TestServerRunsUnprivileged checks the switch to MEERKAT_USER. As root
// (the container's default), the server command runs as that user, which
// then owns the directories the server writes (but not what a symlink in
// them points to), while other commands keep root. Otherwise the entrypoint
// runs everything as it was started.
func TestServerRunsUnprivileged(t *testing.T) {
	l := newLayout(t)
	l.installFake(t)
	cfg := filepath.Join(l.conf, "zoo.cfg")

	if os.Geteuid() != 0 {
		out := l.mustRun(t, l.env("MEERKAT_USER=nobody"), "zkServer.sh", "start-foreground")
		if want := fmt.Sprintf("uid=%d\narg=%s\n", os.Getuid(), cfg); out != want {
			t.Errorf("not root: meerkat ran as\n%s\nwant\n%s", out, want)
		}
		return
	}

	nobody, err := user.Lookup("nobody")
	if err != nil {
		t.Fatalf("the test needs the user nobody: %v", err)
	}
	// The unprivileged user must reach the layout: t.TempDir's parent is
	// private to root.
	for _, dir := range []string{filepath.Dir(l.root), l.root} {
		if err := os.Chmod(dir, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	mustWrite := func(path string) {
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte("x"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	oldLog := filepath.Join(l.datalog, "wal", "00001.log")
	oldData := filepath.Join(l.data, "checkpoint", "000001.sst")
	outside := filepath.Join(l.root, "outside")
	link := filepath.Join(l.data, "link")
	mustWrite(oldLog)
	mustWrite(oldData)
	mustWrite(outside)
	if err := os.Symlink(outside, link); err != nil {
		t.Fatal(err)
	}

	out := l.mustRun(t, l.env("MEERKAT_USER=nobody"), "zkServer.sh", "start-foreground")
	if want := fmt.Sprintf("uid=%s\narg=%s\n", nobody.Uid, cfg); out != want {
		t.Errorf("meerkat ran as\n%s\nwant\n%s", out, want)
	}
	for _, p := range []string{l.conf, cfg, l.data, filepath.Join(l.data, "myid"), filepath.Dir(oldData), oldData,
		link, l.datalog, filepath.Dir(oldLog), oldLog, l.logs} {
		if uid := owner(t, p); strconv.Itoa(uid) != nobody.Uid {
			t.Errorf("%s is owned by uid %d, want %s", p, uid, nobody.Uid)
		}
	}
	if uid := owner(t, outside); uid != 0 {
		t.Errorf("the target of a symlink in the data directory changed owner to uid %d", uid)
	}

	if out := l.mustRun(t, l.env("MEERKAT_USER=nobody"), "id", "-u"); out != "0\n" {
		t.Errorf("a command other than the server ran as uid %q, want root", out)
	}

	_, stderr, err := l.run(t, l.env("MEERKAT_USER=no-such-user"), "meerkat")
	if err == nil || !strings.Contains(stderr, "user no-such-user does not exist") {
		t.Errorf("an unknown MEERKAT_USER: err %v, stderr %q", err, stderr)
	}
}

// owner returns the uid owning path itself (a symlink is not followed).
func owner(t *testing.T, path string) int {
	t.Helper()
	fi, err := os.Lstat(path)
	if err != nil {
		t.Fatal(err)
	}
	return int(fi.Sys().(*syscall.Stat_t).Uid)
}

// TestStartsMeerkat starts the real server through the entrypoint, with the
// image's CMD and with the official image's, on a configuration generated
// from the environment, and stops it with SIGTERM as docker stop does.
func TestStartsMeerkat(t *testing.T) {
	bin := zktest.MeerkatBinary(t)
	realBin, err := filepath.EvalSymlinks(bin)
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		args []string
		env  []string
	}{
		{name: "image CMD", args: []string{"meerkat"}},
		{name: "official CMD", args: []string{"zkServer.sh", "start-foreground"}, env: []string{"ZOO_LOG_LEVEL=TRACE"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			l := newLayout(t)
			if err := os.Symlink(bin, filepath.Join(l.bin, "meerkat")); err != nil {
				t.Fatal(err)
			}
			addr := fmt.Sprintf("127.0.0.1:%d", zktest.FreePort(t))
			env := l.env(append([]string{
				"ZOO_SERVERS=server.1=localhost:2888:3888;" + addr,
				"ZOO_ADMINSERVER_ENABLED=false",
			}, tc.env...)...)
			logPath := filepath.Join(l.root, "server.log")
			logFile, err := os.Create(logPath)
			if err != nil {
				t.Fatal(err)
			}
			defer logFile.Close()
			serverLog := func() string { return readFile(t, logPath) }

			cmd := exec.Command("bash", append([]string{script(t)}, tc.args...)...)
			cmd.Env, cmd.Dir = env, l.root
			cmd.Stdout, cmd.Stderr = logFile, logFile
			// Its own process group, so that the cleanup also stops a server
			// an entrypoint that failed to exec left behind.
			cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			pid := cmd.Process.Pid
			exited := make(chan struct{})
			var waitErr error
			go func() {
				waitErr = cmd.Wait()
				close(exited)
			}()
			t.Cleanup(func() {
				_ = syscall.Kill(-pid, syscall.SIGKILL)
				select {
				case <-exited:
				case <-time.After(10 * time.Second):
					t.Errorf("pid %d survived SIGKILL", pid)
				}
			})

			deadline := time.Now().Add(30 * time.Second)
			for {
				select {
				case <-exited:
					t.Fatalf("the server exited before serving: %v\n%s", waitErr, serverLog())
				default:
				}
				srvr, err := zktest.FourLetter(addr, "srvr")
				if err == nil && strings.Contains(srvr, "Mode: standalone") {
					break
				}
				if time.Now().After(deadline) {
					t.Fatalf("no standalone server on %s after 30 s (srvr: %q, %v)\n%s", addr, srvr, err, serverLog())
				}
				time.Sleep(100 * time.Millisecond)
			}

			// The entrypoint exec'd the server: the pid started is meerkat
			// itself, so docker's SIGTERM reaches it.
			if exe, err := os.Readlink(fmt.Sprintf("/proc/%d/exe", pid)); err != nil || exe != realBin {
				t.Errorf("pid %d runs %q (%v), want %s", pid, exe, err, realBin)
			}
			// The generated configuration is the one in use: the whitelist
			// is ZooKeeper's default, and the log is in ZOO_DATA_LOG_DIR.
			if got, err := zktest.FourLetter(addr, "ruok"); err != nil || got != "ruok is not executed because it is not in the whitelist.\n" {
				t.Errorf("ruok: %q, %v; want it refused by the default whitelist", got, err)
			}
			if _, err := os.Stat(filepath.Join(l.datalog, "wal")); err != nil {
				t.Errorf("no log in ZOO_DATA_LOG_DIR: %v", err)
			}

			if err := syscall.Kill(pid, syscall.SIGTERM); err != nil {
				t.Fatal(err)
			}
			select {
			case <-exited:
			case <-time.After(15 * time.Second):
				_ = syscall.Kill(-pid, syscall.SIGKILL)
				t.Fatalf("the server did not stop within 15 s of SIGTERM\n%s", serverLog())
			}
			if waitErr != nil {
				t.Errorf("the server exited with %v after SIGTERM\n%s", waitErr, serverLog())
			}
			if c, err := net.DialTimeout("tcp", addr, time.Second); err == nil {
				c.Close()
				t.Errorf("%s still accepts connections after the server exited", addr)
			}
		})
	}
}
