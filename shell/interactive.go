package shell

import (
	"bufio"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/chzyer/readline"
)

// historyFile is where the line editor keeps typed lines, in the home
// directory.
const historyFile = ".meerkat_cli_history"

// promptWriters makes the shell write through the line editor's writers,
// or, with nil, straight out again.
func (sh *shell) promptWriters(w *writers) {
	sh.outMu.Lock()
	defer sh.outMu.Unlock()
	sh.atPrompt = w
}

// isTerminal reports whether r is a terminal the line editor can drive.
func isTerminal(r io.Reader) bool {
	f, ok := r.(*os.File)
	return ok && readline.IsTerminal(int(f.Fd()))
}

// interact reads and runs commands until quit or the end of the input.
func (sh *shell) interact(stdin io.Reader) {
	if isTerminal(stdin) {
		// Let the first prompt show the session connected, if it can be.
		connectTimeout, _ := sh.session.timeouts()
		sh.session.waitFirstAttempt(connectTimeout)
		if sh.editLines(stdin.(*os.File)) == nil {
			return
		}
		// No line editor after all: read plain lines.
	}
	r := bufio.NewReader(stdin)
	for !sh.quitting {
		line, err := r.ReadString('\n')
		sh.executeLine(strings.TrimSuffix(strings.TrimSuffix(line, "\n"), "\r"))
		if err != nil {
			return
		}
	}
}

// editLines reads commands from the terminal in with line editing and a
// history, showing zkCli's prompt. Ctrl-C abandons the line being typed;
// Ctrl-D on an empty line ends the shell.
func (sh *shell) editLines(in *os.File) error {
	fd := int(in.Fd())
	var saved *readline.State
	cfg := &readline.Config{
		// Lines are saved below, before they run: the editor's own saving
		// races with the shell's exit.
		DisableAutoSaveHistory: true,
		Stdin:                  readline.NewCancelableStdin(in),
		Stdout:                 sh.direct.out,
		Stderr:                 sh.direct.err,
		FuncIsTerminal:         func() bool { return true },
		FuncMakeRaw: func() (err error) {
			saved, err = readline.MakeRaw(fd)
			return err
		},
		FuncExitRaw: func() error {
			if saved == nil {
				return nil
			}
			return readline.Restore(fd, saved)
		},
		FuncGetWidth: func() int {
			if w, _, err := readline.GetSize(fd); err == nil && w > 0 {
				return w
			}
			return 80
		},
	}
	if home, err := os.UserHomeDir(); err == nil {
		cfg.HistoryFile = filepath.Join(home, historyFile)
	}
	rl, err := readline.NewEx(cfg)
	if err != nil {
		return err
	}
	defer rl.Close()
	editor := &writers{rl.Stdout(), rl.Stderr()}
	for !sh.quitting {
		rl.SetPrompt(sh.prompt())
		sh.promptWriters(editor)
		line, err := rl.Readline()
		sh.promptWriters(nil)
		switch {
		case errors.Is(err, readline.ErrInterrupt):
			continue
		case err != nil:
			return nil
		}
		if strings.TrimSpace(line) != "" {
			_ = rl.SaveHistory(line)
		}
		sh.executeLine(line)
	}
	return nil
}
