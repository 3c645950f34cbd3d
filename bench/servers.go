package bench

import (
	"bufio"
	"crypto/tls"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/meerkat-zk/meerkat/internal/zktest"
)

// System names, as results and reports spell them.
const (
	ZooKeeper = "zookeeper"
	Meerkat   = "meerkat"
	Echo      = "echo"
)

// runnerTB is the zktest.TB of the runner: Fatalf panics with a fatal that
// the scenario's guard turns into an error; cleanups run when the server's
// scenario group ends.
type runnerTB struct {
	cleanups []func()
	dirs     []string
}

type fatal struct{ msg string }

func (t *runnerTB) Helper() {}

func (t *runnerTB) Fatalf(format string, args ...any) { panic(fatal{fmt.Sprintf(format, args...)}) }

// Errorf reports a failure that does not stop the runner (the benchmark
// runs servers built without -race, so zktest's race check never fires).
func (t *runnerTB) Errorf(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "meerkat-bench: "+format+"\n", args...)
}

func (t *runnerTB) Cleanup(f func()) { t.cleanups = append(t.cleanups, f) }

func (t *runnerTB) TempDir() string {
	d, err := os.MkdirTemp("", "meerkat-bench-")
	if err != nil {
		t.Fatalf("bench: %v", err)
	}
	t.dirs = append(t.dirs, d)
	return d
}

// close runs the cleanups, last first, and removes the temporary
// directories.
func (t *runnerTB) close() {
	for i := len(t.cleanups) - 1; i >= 0; i-- {
		t.cleanups[i]()
	}
	for _, d := range t.dirs {
		_ = os.RemoveAll(d)
	}
	t.cleanups, t.dirs = nil, nil
}

// guard runs f, turning a zktest Fatalf into an error.
func guard(f func() error) (err error) {
	defer func() {
		if r := recover(); r != nil {
			ft, ok := r.(fatal)
			if !ok {
				panic(r)
			}
			err = fmt.Errorf("%s", ft.msg)
		}
	}()
	return f()
}

// server is a started server under test with its sampler.
type server struct {
	*zktest.Server
	tb        *runnerTB
	adminPort int
	// clientTLS is, for a server started with a secure client port, the
	// client side of its TLS: a certificate of the same CA and the CA as
	// the root.
	clientTLS *tls.Config
	// past holds the logs of the incarnations before the last restart
	// (zktest keeps only the current one's).
	past strings.Builder
}

// log returns everything the server logged, across restarts.
func (s *server) log() string { return s.past.String() + s.Log() }

// startServer starts system with the benchmark settings: forceSync=yes,
// maxClientCnxns=0, and for ZooKeeper the suite's JVM flags; Meerkat's
// admin server is given a free port so that its write metrics can be read.
func startServer(system string, jvm []string) (*server, error) {
	return startServerWith(system, jvm, false)
}

// startServerWith is startServer, with a secure client port beside the
// plain one when secure is set: a fresh PKI (newPKI), the server's TLS
// keys (tlsServerLines; ZooKeeper on NettyServerCnxnFactory, for both
// ports), and the client side in s.clientTLS.
func startServerWith(system string, jvm []string, secure bool) (*server, error) {
	tb := &runnerTB{}
	s := &server{tb: tb}
	err := guard(func() error {
		extra := []string{"forceSync=yes", "maxClientCnxns=0"}
		if secure {
			pki := newPKI(tb, tb.TempDir())
			extra = append(extra, pki.serverLines(system)...)
			s.clientTLS = pki.client
		}
		switch system {
		case ZooKeeper:
			s.Server = zktest.StartZooKeeper(tb, zktest.Options{JVMArgs: jvm, Extra: extra, SecurePort: secure})
		case Meerkat:
			s.adminPort = zktest.FreePort(tb)
			extra = append(extra, "admin.enableServer=true", "admin.serverAddress=127.0.0.1",
				fmt.Sprintf("admin.serverPort=%d", s.adminPort))
			s.Server = zktest.StartMeerkat(tb, zktest.Options{Extra: extra, SecurePort: secure})
		default:
			return fmt.Errorf("bench: unknown system %q", system)
		}
		return nil
	})
	if err != nil {
		tb.close()
		return nil, err
	}
	return s, nil
}

// stop kills the server and removes its data.
func (s *server) stop() { s.tb.close() }

// sampled are the server counters the scenarios keep: fsyncs and the
// writes they carried, checkpoint flushes and their bytes.
var sampled = map[string]bool{
	"meerkat_pipeline_batch_entries_count": true, "meerkat_pipeline_batch_entries_sum": true,
	"meerkat_wal_fsync_duration_seconds_count": true, "meerkat_wal_fsync_duration_seconds_sum": true,
	"zk_cnt_fsynctime": true, "zk_sum_fsynctime": true,
	"zk_cnt_sync_processor_batch_size": true, "zk_sum_sync_processor_batch_size": true,
	"meerkat_checkpoint_flushes_total": true, "meerkat_checkpoint_flushed_bytes_total": true,
	"meerkat_checkpoint_compacted_bytes_total": true,
}

// sample reads the server's counters: ZooKeeper's mntr, Meerkat's
// /metrics.
func (s *server) sample() map[string]float64 {
	out := map[string]float64{}
	if s.Name == ZooKeeper {
		text, err := zktest.FourLetter(s.Addr, "mntr")
		if err != nil {
			return out
		}
		for _, line := range strings.Split(text, "\n") {
			k, v, ok := strings.Cut(line, "\t")
			if f, err := strconv.ParseFloat(strings.TrimSpace(v), 64); ok && err == nil && sampled[k] {
				out[k] = f
			}
		}
		return out
	}
	cl := http.Client{Timeout: 5 * time.Second}
	resp, err := cl.Get(fmt.Sprintf("http://127.0.0.1:%d/metrics", s.adminPort))
	if err != nil {
		return out
	}
	defer resp.Body.Close()
	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() {
		line := sc.Text()
		if strings.HasPrefix(line, "#") || strings.Contains(line, "{") {
			continue
		}
		k, v, ok := strings.Cut(line, " ")
		if f, err := strconv.ParseFloat(strings.TrimSpace(v), 64); ok && err == nil && sampled[k] {
			out[k] = f
		}
	}
	return out
}

// writesPerSync derives the group-commit factor, transactions per fsync,
// from sampled counter differences: Meerkat's batch histogram (one batch is
// one fsync), ZooKeeper's SyncRequestProcessor batch sizes (one batch is
// one flush).
func writesPerSync(system string, d map[string]float64) float64 {
	switch system {
	case Meerkat:
		if n := d["meerkat_pipeline_batch_entries_count"]; n > 0 {
			return d["meerkat_pipeline_batch_entries_sum"] / n
		}
	case ZooKeeper:
		if n := d["zk_cnt_sync_processor_batch_size"]; n > 0 {
			return d["zk_sum_sync_processor_batch_size"] / n
		}
	}
	return 0
}

// echoProcess is the read-limit echo server, a separate process.
type echoProcess struct {
	cmd  *exec.Cmd
	addr string
	done chan struct{}
}

// startEcho runs `self echo -addr A -value N` and waits until it answers a
// handshake.
func startEcho(self string, valueSize int) (*echoProcess, error) {
	tb := &runnerTB{}
	var port int
	if err := guard(func() error { port = zktest.FreePort(tb); return nil }); err != nil {
		return nil, err
	}
	addr := fmt.Sprintf("127.0.0.1:%d", port)
	cmd := exec.Command(self, "echo", "-addr", addr, "-value", strconv.Itoa(valueSize))
	cmd.Stdout, cmd.Stderr = io.Discard, os.Stderr
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	e := &echoProcess{cmd: cmd, addr: addr, done: make(chan struct{})}
	go func() { _ = cmd.Wait(); close(e.done) }()
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		if c, err := dial(addr, time.Second, time.Now().Add(time.Second)); err == nil {
			c.nc.Close()
			return e, nil
		}
		time.Sleep(20 * time.Millisecond)
	}
	e.kill()
	return nil, fmt.Errorf("bench: echo server did not start on %s", addr)
}

func (e *echoProcess) pid() int { return e.cmd.Process.Pid }

func (e *echoProcess) kill() {
	_ = e.cmd.Process.Kill()
	<-e.done
}

// Machine describes where the benchmark ran.
type Machine struct {
	CPU         string  `json:"cpu"`
	Cores       int     `json:"cores"`
	MemoryGiB   float64 `json:"memory_gib"`
	Kernel      string  `json:"kernel"`
	Filesystem  string  `json:"filesystem"`
	Go          string  `json:"go"`
	Java        string  `json:"java"`
	ZooKeeper   string  `json:"zookeeper"`
	MeerkatRev  string  `json:"meerkat_rev"`
	Virtualised string  `json:"virtualisation,omitempty"`
	// Flush is what the block device says about write caching and flushes.
	Flush string `json:"flush"`
}

// describeMachine gathers the machine facts that the report prints.
func describeMachine() Machine {
	m := Machine{Cores: runtime.NumCPU(), Go: runtime.Version()}
	if b, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		for _, line := range strings.Split(string(b), "\n") {
			if k, v, ok := strings.Cut(line, ":"); ok && strings.TrimSpace(k) == "model name" {
				m.CPU = strings.TrimSpace(v)
				break
			}
		}
	}
	if b, err := os.ReadFile("/proc/meminfo"); err == nil {
		var kb float64
		fmt.Sscanf(strings.TrimPrefix(strings.SplitN(string(b), "\n", 2)[0], "MemTotal:"), "%g", &kb)
		m.MemoryGiB = kb / (1 << 20)
	}
	var u syscall.Utsname
	if syscall.Uname(&u) == nil {
		m.Kernel = utsString(u.Sysname[:]) + " " + utsString(u.Release[:]) + " " + utsString(u.Machine[:])
	}
	var dev string
	m.Filesystem, dev = tempFilesystem()
	if out, err := exec.Command("java", "-version").CombinedOutput(); err == nil {
		m.Java = strings.TrimSpace(strings.SplitN(string(out), "\n", 2)[0])
	}
	if out, err := exec.Command("dpkg-query", "-W", "-f", "${Version}", "zookeeper").Output(); err == nil {
		m.ZooKeeper = "Apache ZooKeeper (Debian package zookeeper " + string(out) + ")"
	}
	if out, err := exec.Command("git", "describe", "--always", "--dirty").Output(); err == nil {
		m.MeerkatRev = strings.TrimSpace(string(out))
	}
	if out, err := exec.Command("systemd-detect-virt").Output(); err == nil {
		m.Virtualised = strings.TrimSpace(string(out))
	}
	m.Flush = flushSemantics(dev, m.Kernel)
	return m
}

// flushSemantics reports the block device's write cache mode and FUA
// support, and flags a Firecracker guest kernel, whose virtio block device
// by default acknowledges flushes without syncing on the host.
func flushSemantics(dev, kernel string) string {
	name := strings.TrimPrefix(dev, "/dev/")
	read := func(f string) string {
		b, err := os.ReadFile("/sys/block/" + name + "/queue/" + f)
		if err != nil {
			return "?"
		}
		return strings.TrimSpace(string(b))
	}
	s := fmt.Sprintf("%s: write_cache=%q, fua=%s", dev, read("write_cache"), read("fua"))
	if strings.Contains(kernel, "-fc") {
		s += "; Firecracker guest kernel: the virtio block device may acknowledge flushes without syncing on the host (cache_type Unsafe), so fsync here is not proof of durable media"
	}
	return s
}

func utsString(b []int8) string {
	var s strings.Builder
	for _, c := range b {
		if c == 0 {
			break
		}
		s.WriteByte(byte(c))
	}
	return s.String()
}

// tempFilesystem names the filesystem that holds the temporary directory
// (where both servers keep their data) and its device.
func tempFilesystem() (desc, dev string) {
	b, err := os.ReadFile("/proc/self/mounts")
	if err != nil {
		return "", ""
	}
	dir := os.TempDir()
	best, bestLen := "", -1
	for _, line := range strings.Split(string(b), "\n") {
		f := strings.Fields(line)
		if len(f) < 4 {
			continue
		}
		if strings.HasPrefix(dir, f[1]) && len(f[1]) > bestLen {
			best, bestLen, dev = fmt.Sprintf("%s (%s on %s, %s)", dir, f[2], f[0], f[3]), len(f[1]), f[0]
		}
	}
	return best, dev
}
