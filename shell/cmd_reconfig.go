package shell

import (
	"errors"
	"io/fs"
	"strconv"
	"strings"

	"github.com/meerkat-zk/meerkat/config"
	"github.com/meerkat-zk/meerkat/jute"
)

// reconfigUsage is zkCli's usage of reconfig.
const reconfigUsage = "[-s] [-v version] [[-file path] | [-members serverID=host:port1:port2;port3[,...]*]] | " +
	"[-add serverId=host:port1:port2;port3[,...]]* [-remove serverId[,...]*]"

// reconfigOptions are reconfig's options, each with whether it takes a
// value. Unlike the other commands' they may be whole words (-members),
// as zkCli reads them with Commons CLI's PosixParser.
var reconfigOptions = map[string]bool{"s": false, "v": true, "file": true, "members": true, "add": true, "remove": true}

// parseReconfigOptions reads reconfig's words as PosixParser does: an
// option's value is the next word unless that word is an option, an
// unknown option is an error, and other words are ignored. Only an
// option's first value counts.
func parseReconfigOptions(words []string) (map[string]string, error) {
	given := map[string]string{}
	for i := 1; i < len(words); i++ {
		w := words[i]
		if len(w) < 2 || w[0] != '-' {
			continue
		}
		name := strings.TrimLeft(w, "-")
		takesValue, ok := reconfigOptions[name]
		if !ok {
			return nil, parseError("UnrecognizedOptionException", "Unrecognized option: "+w)
		}
		value := ""
		if takesValue {
			if i+1 == len(words) || isReconfigOption(words[i+1]) {
				return nil, parseError("MissingArgumentException", "Missing argument for option: "+name)
			}
			i++
			value = stripQuotes(words[i])
		}
		if _, seen := given[name]; !seen {
			given[name] = value
		}
	}
	return given, nil
}

func isReconfigOption(w string) bool {
	_, ok := reconfigOptions[strings.TrimLeft(w, "-")]
	return strings.HasPrefix(w, "-") && ok
}

// reconfig asks for a new membership, incremental (-add, -remove) or whole
// (-members, or -file: a membership file that is checked here first), and
// prints the one committed, as zkCli does.
func (sh *shell) reconfig(words []string) error {
	opts, err := parseReconfigOptions(words)
	if err != nil {
		return err
	}
	has := func(name string) bool { _, ok := opts[name]; return ok }
	if !has("file") && !has("members") && !has("add") && !has("remove") {
		return usageError("reconfig")
	}
	req := &jute.ReconfigRequest{CurConfigID: -1, NewMembersNull: true}
	if has("v") {
		v, err := strconv.ParseInt(opts["v"], 16, 64)
		if err != nil {
			return failf("-v must be followed by a long (configuration version)")
		}
		req.CurConfigID = v
	}
	if (has("file") || has("members")) && (has("add") || has("remove")) {
		return failf("Can't use -file or -members together with -add or -remove (mixing incremental and non-incremental modes is not allowed)")
	}
	if has("file") && has("members") {
		return failf("Can't use -file and -members together (conflicting non-incremental modes)")
	}
	req.JoiningServers = strings.ToLower(opts["add"])
	req.LeavingServers = strings.ToLower(opts["remove"])
	if has("members") {
		req.NewMembers, req.NewMembersNull = strings.ToLower(opts["members"]), false
	}
	if has("file") {
		members, err := membershipFile(opts["file"])
		if err != nil {
			// zkCli's words, the path and the reason run together.
			return failf("Error processing " + opts["file"] + err.Error())
		}
		req.NewMembers, req.NewMembersNull = members, false
	}
	data, st, err := sh.session.reconfig(req)
	if err != nil {
		return commandError(err)
	}
	out := "Committed new configuration:\n" + javaString(data) + "\n"
	if has("s") {
		out += formatStat(&st)
	}
	sh.out(out)
	return nil
}

// membershipFile reads a membership file as ZooKeeper reads a dynamic
// configuration file, and returns it as ZooKeeper prints a membership,
// which is what zkCli sends.
func membershipFile(path string) (string, error) {
	c, err := config.ReadDynamicConfig(path)
	if errors.Is(err, fs.ErrNotExist) {
		// Java's FileNotFoundException.
		return "", errors.New(path + " (No such file or directory)")
	}
	if err != nil {
		return "", err
	}
	return c.Text(), nil
}
