// Command meerkat-bench runs the side-by-side benchmark: the machine's
// limits, then Apache ZooKeeper 3.8 and Meerkat (taking turns at each
// request scenario), through the same load generator (package bench). It
// writes the raw results as JSON and regenerates BENCHMARKS.md and its
// charts.
//
//	meerkat-bench [-quick] [-json FILE] [-md FILE]   run everything
//	meerkat-bench [-quick] -only tls[,load,...]      run some groups of
//	                                                  scenarios alone (results
//	                                                  to a file of their own)
//	meerkat-bench report -json FILE [-md FILE]       regenerate the report
//	meerkat-bench ensemble [-full] [-writers N] [-md FILE]
//	                                                  three servers of each,
//	                                                  then regenerate the report
//	meerkat-bench load -addr HOST:PORT [flags]       one load run against a
//	                                                  running server, as JSON
//	                                                  (over TLS with -tls-cert,
//	                                                  -tls-key, -tls-ca)
//
// Run it from the repository root: it builds cmd/meerkat and starts
// ZooKeeper from the Debian package (see internal/zktest).
package main

import (
	"crypto/tls"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/meerkat-zk/meerkat/bench"
)

func main() {
	var err error
	if len(os.Args) > 1 {
		switch os.Args[1] {
		case "echo":
			err = runEcho(os.Args[2:])
		case "report":
			err = runReport(os.Args[2:])
		case "load":
			err = runLoad(os.Args[2:])
		case "ensemble":
			err = runEnsemble(os.Args[2:])
		default:
			err = runSuite(os.Args[1:])
		}
	} else {
		err = runSuite(nil)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "meerkat-bench:", err)
		os.Exit(1)
	}
}

func runSuite(args []string) error {
	fl := flag.NewFlagSet("meerkat-bench", flag.ContinueOnError)
	quick := fl.Bool("quick", false, "the short profile (make bench-quick)")
	jsonOut := fl.String("json", "", "raw results (default bench/results/{quick,full}.json; with -only, a new file under the temporary directory)")
	md := fl.String("md", "BENCHMARKS.md", "report to regenerate; its SVG charts go beside it (with -only, none unless given)")
	only := fl.String("only", "", "run only these groups of scenarios, comma-separated: "+strings.Join(bench.Groups, ", "))
	warmup := fl.Duration("warmup", 0, "every load scenario's warm-up instead of the profile's (0: the profile's)")
	duration := fl.Duration("duration", 0, "every load scenario's measured window instead of the profile's (0: the profile's)")
	if err := fl.Parse(args); err != nil {
		return err
	}
	if fl.NArg() > 0 {
		return fmt.Errorf("unexpected arguments %q", fl.Args())
	}
	set := map[string]bool{}
	fl.Visit(func(f *flag.Flag) { set[f.Name] = true })
	cfg := bench.FullConfig()
	name := "full"
	if *quick {
		cfg, name = bench.QuickConfig(), "quick"
	}
	if *only != "" {
		for _, g := range strings.Split(*only, ",") {
			g = strings.TrimSpace(g)
			if !slices.Contains(bench.Groups, g) {
				return fmt.Errorf("-only: unknown group %q (the groups: %s)", g, strings.Join(bench.Groups, ", "))
			}
			if !slices.Contains(cfg.Only, g) {
				cfg.Only = append(cfg.Only, g)
			}
		}
		// A partial run must not replace the results or the report of a
		// whole one: it goes elsewhere unless told.
		if *jsonOut == "" {
			*jsonOut = filepath.Join(os.TempDir(), fmt.Sprintf("meerkat-bench-%s-%s-%s.json", name, strings.Join(cfg.Only, "+"), time.Now().Format("20060102-150405")))
		}
		if !set["md"] {
			*md = ""
		}
	}
	if *warmup > 0 {
		cfg.Warmup = *warmup
	}
	if *duration > 0 {
		cfg.Duration = *duration
	}
	if *jsonOut == "" {
		*jsonOut = filepath.Join("bench", "results", name+".json")
	}
	self, err := os.Executable()
	if err != nil {
		return err
	}
	cfg.Self = self
	cfg.Command = strings.TrimSpace("meerkat-bench " + strings.Join(args, " "))
	cfg.Logf = logf
	rep := bench.RunSuite(cfg)
	if err := rep.WriteJSON(*jsonOut); err != nil {
		return err
	}
	cfg.Logf("wrote %s (%.0f s)", *jsonOut, rep.Seconds)
	if *md == "" {
		return nil
	}
	var others []*bench.Report
	if len(cfg.Only) == 0 {
		others = otherProfile(*jsonOut)
	}
	return bench.WriteReport(rep, *md, others...)
}

// otherProfile returns the latest run of the other profile, whose targets
// the report shows too, if its results sit beside ours.
func otherProfile(jsonPath string) []*bench.Report {
	other := "full.json"
	if filepath.Base(jsonPath) == "full.json" {
		other = "quick.json"
	}
	rep, err := bench.ReadJSON(filepath.Join(filepath.Dir(jsonPath), other))
	if err != nil {
		return nil
	}
	return []*bench.Report{rep}
}

func runReport(args []string) error {
	fl := flag.NewFlagSet("report", flag.ContinueOnError)
	in := fl.String("json", "bench/results/quick.json", "raw results written by a run")
	md := fl.String("md", "BENCHMARKS.md", "report to write; its SVG charts go beside it")
	if err := fl.Parse(args); err != nil {
		return err
	}
	rep, err := bench.ReadJSON(*in)
	if err != nil {
		return err
	}
	return bench.WriteReport(rep, *md, otherProfile(*in)...)
}

// runEnsemble compares three-server ensembles, writes
// bench/results/ensemble.json and regenerates the report from the latest
// standalone results with it.
func runEnsemble(args []string) error {
	fl := flag.NewFlagSet("ensemble", flag.ContinueOnError)
	full := fl.Bool("full", false, "5 rounds of 6 s windows, 10^6 znodes to catch up (default: 3 rounds of 3 s, 10^5)")
	md := fl.String("md", "BENCHMARKS.md", "report to regenerate")
	writers := fl.Int("writers", 0, "connections of the setData loads (default 64)")
	if err := fl.Parse(args); err != nil {
		return err
	}
	cfg := bench.QuickEnsembleConfig()
	if *full {
		cfg = bench.FullEnsembleConfig()
	}
	if *writers > 0 {
		cfg.Writers = *writers
	}
	cfg.Command = strings.TrimSpace("meerkat-bench ensemble " + strings.Join(args, " "))
	cfg.Logf = logf
	rep := bench.RunEnsembles(cfg)
	out := filepath.Join(filepath.Dir(*md), "bench", "results", "ensemble.json")
	if err := rep.WriteJSON(out); err != nil {
		return err
	}
	cfg.Logf("wrote %s (%.0f s)", out, rep.Seconds)
	return runReport([]string{"-json", filepath.Join(filepath.Dir(*md), "bench", "results", "full.json"), "-md", *md})
}

// logf prints a progress line with the time.
func logf(format string, a ...any) {
	fmt.Fprintf(os.Stderr, "%s %s\n", time.Now().Format("15:04:05"), fmt.Sprintf(format, a...))
}

func runLoad(args []string) error {
	fl := flag.NewFlagSet("load", flag.ContinueOnError)
	addr := fl.String("addr", "127.0.0.1:2181", "server")
	conns := fl.Int("conns", 64, "connections")
	depth := fl.Int("depth", 8, "outstanding requests per connection (open loop: the cap)")
	rate := fl.Float64("rate", 0, "open loop: requests per second over all connections (0: closed loop)")
	warmup := fl.Duration("warmup", time.Second, "warm-up, not counted")
	duration := fl.Duration("duration", 5*time.Second, "measured window")
	keys := fl.Int("keys", 1000, "hot-set size (created if missing)")
	value := fl.Int("value", 128, "value size, bytes")
	writes := fl.Int("writes", 0, "percent of requests that are setData")
	var pids []int
	fl.Func("pid", "server pid, to measure its CPU; repeat it for an ensemble's members, whose CPU is summed", func(s string) error {
		pid, err := strconv.Atoi(s)
		pids = append(pids, pid)
		return err
	})
	tlsCert := fl.String("tls-cert", "", "TLS: the client certificate (PEM, with its chain; may hold the key too, as a ZooKeeper PEM key store does)")
	tlsKey := fl.String("tls-key", "", "TLS: the client certificate's key (PEM, unencrypted; default: -tls-cert's file)")
	tlsCA := fl.String("tls-ca", "", "TLS: the CA certificates to verify the server with (PEM; default: the system's)")
	tlsName := fl.String("tls-server-name", "", "TLS: the name to verify the server's certificate against (default: -addr's host)")
	useTLS := fl.Bool("tls", false, "TLS with the system's roots and no client certificate (implied by the other -tls flags)")
	if err := fl.Parse(args); err != nil {
		return err
	}
	var tc *tls.Config
	if *useTLS || *tlsCert != "" || *tlsKey != "" || *tlsCA != "" || *tlsName != "" {
		var err error
		if tc, err = bench.ClientTLS(*tlsCert, *tlsKey, *tlsCA, *tlsName); err != nil {
			return err
		}
	}
	if err := bench.CreateHotSetTLS(*addr, tc, *keys, *value, time.Minute); err != nil {
		return err
	}
	res, err := bench.Load(bench.Options{Addr: *addr, TLS: tc, Conns: *conns, Depth: *depth, Rate: *rate, Warmup: *warmup, Duration: *duration, ServerPids: pids},
		bench.Mix{Keys: *keys, ValueSize: *value, WritePercent: *writes}.Streams())
	if err != nil {
		return err
	}
	enc := json.NewEncoder(os.Stdout)
	enc.SetIndent("", "  ")
	return enc.Encode(res)
}

// runEcho is the hidden subcommand behind the read limit: the echo
// server in a process of its own.
func runEcho(args []string) error {
	fl := flag.NewFlagSet("echo", flag.ContinueOnError)
	addr := fl.String("addr", "127.0.0.1:0", "listen address")
	value := fl.Int("value", 128, "getData value size the replies mimic, bytes")
	if err := fl.Parse(args); err != nil {
		return err
	}
	return bench.ServeEcho(*addr, *value)
}
