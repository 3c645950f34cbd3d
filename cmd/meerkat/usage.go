package main

import (
	"fmt"
	"io"
	"runtime"
	"runtime/debug"
	"strings"

	"github.com/meerkat-zk/meerkat/config"
	"github.com/meerkat-zk/meerkat/netpoll"
)

// usage is what `meerkat --help` prints.
const usage = `Meerkat: a coordination service that speaks Apache ZooKeeper's protocol.

Usage:
  meerkat [flags] [zoo.cfg]                    run a server (standalone, or an
                                               ensemble member when zoo.cfg has
                                               server.N lines)
  meerkat snapshot [-admin host:port] FILE     fetch a snapshot of a running server
  meerkat restore [flags] [zoo.cfg] FILE       build a data directory from a snapshot
  meerkat import-zk [flags] [-zk-log-dir DIR] [zoo.cfg] ZK_DATA_DIR
                                               build a data directory from Apache
                                               ZooKeeper's (version-2/ snapshots and logs)
  meerkat export-zk [flags] [zoo.cfg] OUT_DIR  write a stopped server's data as an Apache
                                               ZooKeeper data directory
  meerkat cli [-server host:port] [cmd args]   a shell speaking zkCli's commands: one
                                               command and exit, or interactive
  meerkat dump-wal DIR                         print a write-ahead log
  meerkat dump-snapshot FILE                   print a snapshot
  meerkat version                              print the version
  meerkat help                                 print this text

Without a zoo.cfg the embedded default is used: standalone on 127.0.0.1:2181,
data under ./data.

Flags (before the zoo.cfg):
  -port N              client port (overrides clientPort; 0 picks a free one)
  -data-dir DIR        data directory (overrides dataDir and dataLogDir)
  -log-level LEVEL     debug, info, warn or error (default info)
  -set key=value       override any zoo.cfg key (repeatable)

zoo.cfg keys Meerkat honours, as ZooKeeper 3.8 reads them (a zoo.cfg key
that ZooKeeper turns into a zookeeper.* system property is accepted in both
spellings):
%s
Every other key of ZooKeeper 3.8's administrator guide is accepted with a
warning that says why it has no effect, except those that would leave the
server less secure than asked (secureClientPort, sslQuorum=true,
enforce.auth.enabled=true, SASL, digestAlg other than SHA1, ...): those are
refused at start, with the reason.
`

// printUsage writes the help text with the keys wrapped to 78 columns.
func printUsage(w io.Writer) {
	var b strings.Builder
	line := " "
	for _, k := range config.HonouredKeys {
		if len(line)+1+len(k) > 78 {
			b.WriteString(line + "\n")
			line = " "
		}
		line += " " + k
	}
	b.WriteString(line + "\n")
	fmt.Fprintf(w, usage, b.String())
}

// versionLine describes this build: the ZooKeeper version it answers as,
// and the commit and Go release it was built from.
func versionLine() string {
	rev, dirty := "unknown commit", ""
	if info, ok := debug.ReadBuildInfo(); ok {
		for _, s := range info.Settings {
			switch s.Key {
			case "vcs.revision":
				rev = "commit " + s.Value
			case "vcs.modified":
				if s.Value == "true" {
					dirty = " (modified)"
				}
			}
		}
	}
	return fmt.Sprintf("meerkat %s%s, %s %s/%s; answers as ZooKeeper %s", rev, dirty, runtime.Version(), runtime.GOOS, runtime.GOARCH, netpoll.Version)
}
