package clients

import (
	"bufio"
	"fmt"
	"os/exec"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/meerkat-zk/meerkat/internal/zktest"
)

// curatorJars are the Debian jars Curator's framework and recipes run on.
var curatorJars = []string{"curator-recipes.jar", "curator-framework.jar", "curator-client.jar", "zookeeper.jar",
	"zookeeper-jute.jar", "guava.jar", "slf4j-api.jar", "slf4j-nop.jar"}

// curatorProgram compiles testdata/<name>.java and returns the classpath
// to run its class with.
func curatorProgram(t *testing.T, name string) (classpath string) {
	t.Helper()
	requireFile(t, "/usr/share/java/curator-framework.jar", "libcurator-framework-java")
	requireFile(t, "/usr/share/java/curator-recipes.jar", "libcurator-recipes-java")
	requireFile(t, "/usr/bin/javac", "openjdk-17-jdk-headless")
	var jars []string
	for _, j := range curatorJars {
		jars = append(jars, "/usr/share/java/"+j)
	}
	cp := strings.Join(jars, ":")
	dir := t.TempDir()
	if out, err := exec.Command("/usr/bin/javac", "-d", dir, "-cp", cp, "testdata/"+name+".java").CombinedOutput(); err != nil {
		t.Fatalf("javac: %v\n%s", err, out)
	}
	return dir + ":" + cp
}

// TestCuratorEnsembleTracker runs Curator's EnsembleTracker, which reads
// /zookeeper/config and rewrites the client's connection string, against a
// Meerkat ensemble and, in parallel, a ZooKeeper 3.8 one: started with two
// of the three servers in its connect string, it learns the third; a
// reconfig removing a server takes it out, and one adding it back puts it
// in again.
func TestCuratorEnsembleTracker(t *testing.T) {
	cp := curatorProgram(t, "CuratorTracker")
	for _, k := range ensembleKinds {
		t.Run(k.name, func(t *testing.T) {
			t.Parallel()
			e := k.start(t, zktest.EnsembleOptions{ClientPortsInLines: true,
				Options: zktest.Options{Extra: []string{"reconfigEnabled=true", "zookeeper.skipACL=yes"}}})
			lead := e.Leader(t)
			f, r := (lead+1)%3, (lead+2)%3
			all := []string{e.Members[0].Addr, e.Members[1].Addr, e.Members[2].Addr}
			without := slices.DeleteFunc(slices.Clone(all), func(a string) bool { return a == e.Members[r].Addr })
			slices.Sort(all)

			cmd := exec.Command("/usr/bin/java", "-cp", cp, "CuratorTracker", e.Members[lead].Addr+","+e.Members[f].Addr)
			stdin, _ := cmd.StdinPipe()
			stdout, _ := cmd.StdoutPipe()
			cmd.Stderr = cmd.Stdout
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { _ = stdin.Close(); _ = cmd.Process.Kill(); _ = cmd.Wait() })
			lines := make(chan string, 64)
			go func() {
				s := bufio.NewScanner(stdout)
				for s.Scan() {
					lines <- s.Text()
				}
				close(lines)
			}()
			var seen []string
			expect := func(what string, hosts []string) {
				t.Helper()
				want := "ensemble " + strings.Join(hosts, ",")
				deadline := time.After(60 * time.Second)
				for {
					select {
					case line, ok := <-lines:
						if !ok {
							t.Fatalf("%s: Curator ended; it printed %q", what, seen)
						}
						seen = append(seen, line)
						if line == want {
							return
						}
					case <-deadline:
						t.Fatalf("%s: Curator never had %q; it printed %q", what, want, seen)
					}
				}
			}
			expect("from /zookeeper/config at the start", all)

			admin := zktest.Session(t, e.Members[lead].Addr, 10*time.Second)
			data, _, err := admin.Get("/zookeeper/config")
			if err != nil {
				t.Fatal(err)
			}
			var line string
			for _, l := range strings.Split(string(data), "\n") {
				if strings.HasPrefix(l, fmt.Sprintf("server.%d=", r+1)) {
					line = l
				}
			}
			if _, err := admin.IncrementalReconfig(nil, []string{fmt.Sprint(r + 1)}, -1); err != nil {
				t.Fatalf("reconfig removing server %d: %v", r+1, err)
			}
			slices.Sort(without)
			expect("after the removal", without)
			zktest.Eventually(t, "reconfig adding it back", func() error {
				_, err := admin.IncrementalReconfig([]string{line}, nil, -1)
				return err
			})
			expect("after adding it back", all)
		})
	}
}
