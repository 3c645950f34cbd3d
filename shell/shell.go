// Package shell is `meerkat cli`, a ZooKeeper shell that speaks zkCli's
// command language: the commands, options, output and errors of Apache
// ZooKeeper 3.8's zkCli.sh, so that scripts and fingers used to zkCli work
// unchanged, against Meerkat or any ZooKeeper server.
//
// With a command on its command line it runs that command in a session and
// exits with zkCli's exit code (0, 1 for a failed command, 127 for an
// unknown one). Without one it reads commands: from a terminal with line
// editing and a history kept in ~/.meerkat_cli_history, at zkCli's prompt
// "[zk: host:port(CONNECTED) N] "; from anything else a line at a time,
// without a prompt, as zkCli does without JLine.
package shell

import (
	"errors"
	"io"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/meerkat-zk/meerkat/jute"
)

// defaultServer is the connect string when -server is not given (zkCli's
// localhost:2181, spelled as the address it means).
const defaultServer = "127.0.0.1:2181"

// options are the shell's command-line options.
type options struct {
	server            string
	timeoutMs         int32
	readOnly          bool
	waitForConnection bool
}

// Main runs the shell with zkCli's command line,
//
//	[-server host:port[,host:port...][/chroot]] [-timeout ms] [-r] [-waitforconnection] [cmd args...]
//
// reading commands from stdin when none is given, and returns the exit
// code. As in zkCli, options it does not know are ignored, and the first
// word that is not an option starts the command.
func Main(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	sh := &shell{direct: writers{stdout, stderr}, history: map[int]string{}}
	sh.printWatches.Store(true)
	opts, cmd, err := parseArgs(args)
	if err != nil {
		sh.errln(err.Error())
		return 1
	}
	sh.opts = opts
	sh.outln("Connecting to " + opts.server)
	if cmd == nil {
		sh.outln("Welcome to ZooKeeper!")
		if isTerminal(stdin) {
			sh.outln("JLine support is enabled")
		} else {
			sh.outln("JLine support is disabled")
		}
	}
	if err := sh.connect(opts.server); err != nil {
		sh.errln(err.Error())
		return 1
	}
	if opts.waitForConnection && !sh.session.waitConnected(time.Duration(opts.timeoutMs)*time.Millisecond) {
		sh.session.close()
		sh.errln((&keeperError{code: jute.CodeConnectionLoss}).Error())
		return 1
	}
	if cmd != nil {
		sh.process(cmd)
	} else {
		sh.interact(stdin)
	}
	sh.session.close()
	return sh.exitCode
}

// parseArgs reads the options and returns the command that follows them,
// nil for none.
func parseArgs(args []string) (options, []string, error) {
	opts := options{server: defaultServer, timeoutMs: 30000}
	for i := 0; i < len(args); i++ {
		a := args[i]
		value := func() (string, error) {
			if i+1 == len(args) {
				return "", failf("Error: no argument found for option " + a)
			}
			i++
			return args[i], nil
		}
		var err error
		switch a {
		case "-server":
			opts.server, err = value()
		case "-timeout":
			var v string
			if v, err = value(); err == nil {
				t, ok := parseInt(v)
				if !ok || t <= 0 {
					return opts, nil, failf("Error: -timeout must be a positive number of ms: " + v)
				}
				opts.timeoutMs = t
			}
		case "-r":
			opts.readOnly = true
		case "-waitforconnection":
			opts.waitForConnection = true
		default:
			if len(a) == 0 || a[0] != '-' {
				return opts, args[i:], nil
			}
		}
		if err != nil {
			return opts, nil, err
		}
	}
	return opts, nil, nil
}

// shell is one run of the shell: its session, its numbered command history
// and its output, which commands and the session's events share.
type shell struct {
	opts    options
	host    string  // the session's connect string, for the prompt
	session *client // the current session

	outMu  sync.Mutex // keeps each write whole
	direct writers
	// atPrompt holds the line editor's writers while it reads a line:
	// they redraw the line being typed after what they write.
	atPrompt     *writers
	printWatches atomic.Bool

	history  map[int]string // command number -> line, as zkCli numbers them
	count    int            // the next command's number
	exitCode int            // the last command's exit code
	quitting bool
}

// writers are where the shell's output goes.
type writers struct{ out, err io.Writer }

// write writes s on stdout, or stderr.
func (sh *shell) write(toStderr bool, s string) {
	sh.outMu.Lock()
	defer sh.outMu.Unlock()
	w := sh.direct
	if sh.atPrompt != nil {
		w = *sh.atPrompt
	}
	if toStderr {
		_, _ = io.WriteString(w.err, s)
	} else {
		_, _ = io.WriteString(w.out, s)
	}
}

// out writes s on stdout; outln adds a newline; errln writes a line on
// stderr.
func (sh *shell) out(s string)   { sh.write(false, s) }
func (sh *shell) outln(s string) { sh.write(false, s+"\n") }
func (sh *shell) errln(s string) { sh.write(true, s+"\n") }

// event prints a session's event as zkCli's watcher does, unless
// printwatches is off.
func (sh *shell) event(ev watchedEvent) {
	if sh.printWatches.Load() {
		sh.out("\nWATCHER::\n\n" + ev.String() + "\n")
	}
}

// connect replaces the session with a new one to the servers of host.
func (sh *shell) connect(host string) error {
	cs, err := parseConnectString(host)
	if err != nil {
		return failf(err.Error())
	}
	sh.closeSession()
	sh.host = host
	sh.session = newClient(cs, sh.opts.timeoutMs, sh.opts.readOnly, sh.event)
	return nil
}

// closeSession closes the session, if it is alive, reporting it closed.
func (sh *shell) closeSession() {
	if sh.session != nil && sh.session.State().alive() && sh.session.close() {
		sh.event(watchedEvent{state: keeperClosed, typ: eventNone})
	}
}

// prompt is zkCli's prompt for the next command.
func (sh *shell) prompt() string {
	return "[zk: " + sh.host + "(" + sh.session.State().String() + ") " + strconv.Itoa(sh.count) + "] "
}

// executeLine runs one line typed or read, numbering it in the history;
// blank lines are skipped.
func (sh *shell) executeLine(line string) {
	words := splitLine(line)
	if len(words) == 0 {
		return
	}
	sh.history[sh.count] = line
	sh.process(words)
	sh.count++
}

// process runs a command and records its exit code, printing its error.
func (sh *shell) process(words []string) {
	err := sh.run(words)
	if errors.Is(err, errQuit) {
		sh.quitting = true
		return
	}
	sh.exitCode = 0
	var ce *cliError
	if errors.As(err, &ce) {
		sh.errln(ce.msg)
		sh.exitCode = ce.code
	}
}
