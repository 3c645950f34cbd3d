package shell

import "strconv"

// The commands about the shell and its session, which zkCli runs even
// without a live session.

func (sh *shell) connectCmd(words []string) error {
	host := sh.host
	if len(words) >= 2 {
		host = words[1]
	}
	return sh.connect(host)
}

func (sh *shell) closeCmd([]string) error {
	sh.closeSession()
	return nil
}

func (sh *shell) quit([]string) error { return errQuit }

// historyCmd prints the last ten commands and this one, numbered.
func (sh *shell) historyCmd([]string) error {
	for i := max(sh.count-10, 0); i <= sh.count; i++ {
		line, ok := sh.history[i]
		if !ok {
			line = "null"
		}
		sh.outln(strconv.Itoa(i) + " - " + line)
	}
	return nil
}

// redo runs command cmdno of the history again; it takes this command's
// place in the history.
func (sh *shell) redo(words []string) error {
	if len(words) < 2 {
		return nil
	}
	i, ok := decodeInt(words[1])
	if !ok || i < 0 || i >= sh.count {
		return failf("Command index out of range")
	}
	line := sh.history[i]
	again := splitLine(line)
	if again[0] == "redo" {
		return failf("No redoing redos")
	}
	sh.history[sh.count] = line
	sh.process(again)
	return nil
}

func (sh *shell) printWatchesCmd(words []string) error {
	if len(words) == 1 {
		state := "off"
		if sh.printWatches.Load() {
			state = "on"
		}
		sh.outln("printwatches is " + state)
		return nil
	}
	sh.printWatches.Store(words[1] == "on")
	return nil
}
