package shell

import (
	"errors"
	"slices"
	"strings"
)

// command is one of zkCli's commands: its options and arguments as zkCli's
// usage spells them, and what it does.
type command struct {
	usage string
	// run executes the command's words (its name first). Session commands
	// run even without a live session; the others need one.
	run     func(sh *shell, words []string) error
	session bool
}

// commands are the shell's commands by name.
var commands map[string]*command

func init() {
	commands = map[string]*command{
		"addWatch":             {usage: addWatchUsage, run: (*shell).addWatch},
		"addauth":              {usage: "scheme auth", run: (*shell).addAuth},
		"close":                {usage: "", run: (*shell).closeCmd},
		"config":               {usage: "[-c] [-w] [-s]", run: (*shell).config},
		"connect":              {usage: "host:port", run: (*shell).connectCmd, session: true},
		"create":               {usage: "[-s] [-e] [-c] [-t ttl] path [data] [acl]", run: (*shell).create},
		"delete":               {usage: "[-v version] path", run: (*shell).delete},
		"deleteall":            {usage: "path [-b batch size]", run: (*shell).deleteAll},
		"get":                  {usage: "[-s] [-w] path", run: (*shell).get},
		"getAcl":               {usage: "[-s] path", run: (*shell).getACL},
		"getAllChildrenNumber": {usage: "path", run: (*shell).getAllChildrenNumber},
		"getEphemerals":        {usage: "path", run: (*shell).getEphemerals},
		"history":              {usage: "", run: (*shell).historyCmd, session: true},
		"ls":                   {usage: "[-s] [-w] [-R] path", run: (*shell).ls},
		"printwatches":         {usage: "on|off", run: (*shell).printWatchesCmd, session: true},
		"quit":                 {usage: "", run: (*shell).quit, session: true},
		"reconfig":             {usage: reconfigUsage, run: (*shell).reconfig},
		"redo":                 {usage: "cmdno", run: (*shell).redo, session: true},
		"removewatches":        {usage: "path [-c|-d|-a] [-l]", run: (*shell).removeWatches},
		"set":                  {usage: "[-s] [-v version] path data", run: (*shell).set},
		"setAcl":               {usage: "[-s] [-v version] [-R] path acl", run: (*shell).setACL},
		"stat":                 {usage: "[-w] path", run: (*shell).stat},
		"sync":                 {usage: "path", run: (*shell).sync},
		"whoami":               {usage: "", run: (*shell).whoAmI},
	}
}

// errQuit is what quit returns: the shell ends, keeping the exit code of
// the command before.
var errQuit = errors.New("quit")

// run executes one command, as zkCli's processZKCmd does: an unknown
// command prints the usage; the session commands run, then like every
// other command they find the session closed ("Not connected").
func (sh *shell) run(words []string) error {
	name := words[0]
	if name == "help" {
		sh.usage()
		return nil
	}
	cmd, ok := commands[name]
	if !ok {
		sh.usage()
		return &cliError{msg: "Command not found: Command not found " + name, code: 127}
	}
	if cmd.session {
		if err := cmd.run(sh, words); err != nil || sh.quitting {
			return err
		}
	}
	if !sh.session.State().alive() {
		sh.outln("Not connected")
		return nil
	}
	if cmd.session {
		return nil
	}
	return cmd.run(sh, words)
}

// usage prints the commands and their arguments on stderr, as zkCli does.
func (sh *shell) usage() {
	names := make([]string, 0, len(commands))
	for n := range commands {
		names = append(names, n)
	}
	sortJava(names)
	var b strings.Builder
	b.WriteString("ZooKeeper -server host:port cmd args\n")
	for _, n := range names {
		b.WriteString("\t" + n + " " + commands[n].usage + "\n")
	}
	sh.write(true, b.String())
}

// usageError is the failure of a command given the wrong arguments.
func usageError(name string) error {
	return failf(name + " " + commands[name].usage)
}

// parse reads a command's options; for the commands that still accept
// zkCli 3.4's trailing watch argument ("get path watch"), a third word
// after the name is taken as -w, with zkCli's warning.
func (sh *shell) parse(spec optionSpec, words []string, deprecated string) (*cmdLine, error) {
	cl, err := parseOptions(spec, words)
	if err != nil || deprecated == "" || len(cl.args) <= 2 {
		return cl, err
	}
	sh.errln(deprecated)
	words = slices.Clone(words)
	if words[0] != "delete" {
		words[2] = "-w"
	}
	return parseOptions(spec, words)
}
