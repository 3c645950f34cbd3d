package shell

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/creack/pty"
	"github.com/meerkat-zk/meerkat/internal/zktest"
)

// stepTimeout bounds every wait for the shell's answer on the terminal.
const stepTimeout = 20 * time.Second

// terminal is the shell running on a pseudo-terminal, and what it has
// shown.
type terminal struct {
	t    *testing.T
	pty  *os.File
	cmd  *exec.Cmd
	mu   sync.Mutex
	out  []byte
	grew chan struct{} // closed, and replaced, when out grows
	read chan struct{} // closed when the pty reads no more
	mark int           // where the next wait starts looking, in screen()
}

func startTerminal(t *testing.T, cmd *exec.Cmd) *terminal {
	t.Helper()
	f, tty, err := pty.Open()
	if err != nil {
		t.Fatalf("opening a pty: %v", err)
	}
	defer tty.Close()
	if err := pty.Setsize(f, &pty.Winsize{Rows: 50, Cols: 200}); err != nil {
		t.Fatalf("sizing the pty: %v", err)
	}
	// The shell gets the terminal as its controlling one, in a session of
	// its own, as a login shell would.
	cmd.Stdin, cmd.Stdout, cmd.Stderr = tty, tty, tty
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true, Setctty: true}
	if err := cmd.Start(); err != nil {
		f.Close()
		t.Fatalf("starting the shell on a pty: %v", err)
	}
	term := &terminal{t: t, pty: f, cmd: cmd, grew: make(chan struct{}), read: make(chan struct{})}
	go term.copy()
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		_ = f.Close()
		<-term.read
	})
	return term
}

func (term *terminal) copy() {
	defer close(term.read)
	buf := make([]byte, 4096)
	for {
		n, err := term.pty.Read(buf)
		term.mu.Lock()
		term.out = append(term.out, buf[:n]...)
		close(term.grew)
		term.grew = make(chan struct{})
		term.mu.Unlock()
		if err != nil {
			return
		}
	}
}

// ansiRE matches the terminal control sequences the line editor writes.
var ansiRE = regexp.MustCompile(`\x1b\[[0-9;?]*[A-Za-z]`)

// screen is what the shell has written, without control sequences and
// carriage returns.
func (term *terminal) screen() (string, chan struct{}) {
	term.mu.Lock()
	defer term.mu.Unlock()
	return strings.ReplaceAll(ansiRE.ReplaceAllString(string(term.out), ""), "\r", ""), term.grew
}

// waitFor waits until want shows after the mark, then moves the mark past
// it.
func (term *terminal) waitFor(want string) {
	term.t.Helper()
	deadline := time.After(stepTimeout)
	for {
		s, grew := term.screen()
		if i := strings.Index(s[min(term.mark, len(s)):], want); i >= 0 {
			term.mark += i + len(want)
			return
		}
		select {
		case <-grew:
		case <-term.read:
			s, _ = term.screen()
			if !strings.Contains(s[min(term.mark, len(s)):], want) {
				term.t.Fatalf("the shell ended without showing %q\n--- screen ---\n%s", want, s)
			}
		case <-deadline:
			term.t.Fatalf("the shell did not show %q within %v\n--- screen ---\n%s", want, stepTimeout, s)
		}
	}
}

// typeKeys sends keys as typed.
func (term *terminal) typeKeys(keys string) {
	term.t.Helper()
	if _, err := term.pty.WriteString(keys); err != nil {
		term.t.Fatalf("typing %q: %v", keys, err)
	}
}

// Keys as a terminal sends them.
const (
	keyLeft      = "\x1b[D"
	keyUp        = "\x1b[A"
	keyBackspace = "\x7f"
	keyEnter     = "\r"
)

// TestInteractiveTerminal types commands at the shell's prompt on a
// terminal, one of them edited with backspace and the arrow keys and one
// recalled from the history, and checks the answers, the history, and that
// quit ends the shell with exit code 0.
func TestInteractiveTerminal(t *testing.T) {
	srv := zktest.StartMeerkat(t, zktest.Options{})
	home := t.TempDir()
	term := startTerminal(t, shellCommand(home, "-server", srv.Addr))
	prompt := func(n int) string { return fmt.Sprintf("[zk: %s(CONNECTED) %d] ", srv.Addr, n) }

	term.waitFor("JLine support is enabled\n")
	term.waitFor("WatchedEvent state:SyncConnected type:None path:null\n")
	term.waitFor(prompt(0))
	term.typeKeys("create /pty hello" + keyEnter)
	term.waitFor("Created /pty\n")
	term.waitFor(prompt(1))
	// "gt /ptyX": rub out the X, go back to after the g, insert the e.
	term.typeKeys("gt /ptyX" + keyBackspace + strings.Repeat(keyLeft, 6) + "e" + keyEnter)
	term.waitFor("\nhello\n")
	term.waitFor(prompt(2))
	term.typeKeys("ls /" + keyEnter)
	term.waitFor("[pty, zookeeper]\n")
	term.waitFor(prompt(3))
	term.typeKeys(keyUp + keyEnter)
	term.waitFor("\n[pty, zookeeper]\n")
	term.waitFor(prompt(4))
	term.typeKeys("history" + keyEnter)
	term.waitFor("0 - create /pty hello\n1 - get /pty\n2 - ls /\n3 - ls /\n4 - history\n")
	term.waitFor(prompt(5))
	term.typeKeys("quit" + keyEnter)

	exited := make(chan error, 1)
	go func() { exited <- term.cmd.Wait() }()
	select {
	case err := <-exited:
		if err != nil {
			s, _ := term.screen()
			t.Fatalf("quit: the shell exited with %v, want exit code 0\n--- screen ---\n%s", err, s)
		}
	case <-time.After(stepTimeout):
		_ = term.cmd.Process.Signal(syscall.SIGQUIT)
		t.Fatalf("the shell did not exit within %v of quit", stepTimeout)
	}
	history, err := os.ReadFile(filepath.Join(home, historyFile))
	if err != nil {
		t.Fatalf("the line history: %v", err)
	}
	if want := "create /pty hello\nget /pty\nls /\nhistory\nquit\n"; string(history) != want {
		t.Errorf("%s holds %q, want %q", historyFile, history, want)
	}
}
