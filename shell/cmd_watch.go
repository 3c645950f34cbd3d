package shell

import (
	"strings"
)

// The commands about watches and the ensemble's configuration.

const addWatchUsage = "[-m mode] path # optional mode is one of [PERSISTENT, PERSISTENT_RECURSIVE] - default is PERSISTENT_RECURSIVE"

func (sh *shell) addWatch(words []string) error {
	cl, err := parseOptions("m:", words)
	if err != nil {
		return err
	}
	if len(cl.args) != 2 {
		return usageError("addWatch")
	}
	mode := addWatchRecursive
	if cl.has('m') {
		switch strings.ToUpper(cl.value('m')) {
		case "PERSISTENT":
			mode = addWatchPersistent
		case "PERSISTENT_RECURSIVE":
		default:
			return usageError("addWatch")
		}
	}
	return commandErrorOrNil(sh.session.addWatch(cl.args[1], mode))
}

func (sh *shell) removeWatches(words []string) error {
	cl, err := parseOptions("cdal", words)
	if err != nil {
		return err
	}
	if len(cl.args) < 2 {
		return usageError("removewatches")
	}
	wtype := watcherAny
	switch {
	case cl.has('c'):
		wtype = watcherChildren
	case cl.has('d'):
		wtype = watcherData
	}
	return commandErrorOrNil(sh.session.removeWatches(cl.args[1], wtype, cl.has('l')))
}

func (sh *shell) config(words []string) error {
	cl, err := parseOptions("swc", words)
	if err != nil {
		return err
	}
	data, st, err := sh.session.getConfig(cl.has('w'))
	if err != nil {
		return commandError(err)
	}
	text := "null"
	if data != nil {
		text = javaString(data)
	}
	if cl.has('c') {
		text = clientConfig(text)
	}
	out := text + "\n"
	if cl.has('s') {
		out += formatStat(&st)
	}
	sh.out(out)
	return nil
}

// clientConfig reduces a dynamic configuration ("server.N=host:port:port
// [:role];[clientAddr:]clientPort" lines and version=N) to what a client
// needs, as zkCli's config -c prints it: "version host:port,host:port". A
// server without a client address leaves its place in the list empty.
func clientConfig(cfg string) string {
	version := ""
	var addrs []string
	for _, line := range strings.Split(cfg, "\n") {
		key, value, ok := strings.Cut(line, "=")
		key, value = strings.TrimSpace(key), strings.TrimSpace(value)
		if !ok {
			continue
		}
		if key == "version" {
			version = value
		}
		if !strings.HasPrefix(key, "server.") {
			continue
		}
		addr := ""
		if _, client, ok := strings.Cut(value, ";"); ok {
			host, port := "0.0.0.0", client
			if i := strings.LastIndexByte(client, ':'); i >= 0 {
				host, port = client[:i], client[i+1:]
			}
			addr = host + ":" + port
		}
		addrs = append(addrs, addr)
	}
	return version + " " + strings.Join(addrs, ",")
}
