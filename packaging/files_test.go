// Checks of the static packaging files: the Dockerfile agrees with the
// entrypoint and with the official image's interface, and the systemd unit
// keeps the settings a clean, contained start and stop depend on.

package packaging

import (
	"bufio"
	"os"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"
)

// binaryPath is where both the image and the systemd unit install meerkat.
const binaryPath = "/usr/local/bin/meerkat"

// instruction is one Dockerfile instruction, continuation lines joined.
type instruction struct {
	name string // upper case: FROM, ENV, ...
	args string
}

func readDockerfile(t *testing.T) []instruction {
	t.Helper()
	f, err := os.Open("Dockerfile")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var out []instruction
	var cur strings.Builder
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		if strings.HasSuffix(line, `\`) {
			cur.WriteString(strings.TrimSuffix(line, `\`) + " ")
			continue
		}
		cur.WriteString(line)
		name, args, _ := strings.Cut(cur.String(), " ")
		out = append(out, instruction{strings.ToUpper(name), strings.TrimSpace(args)})
		cur.Reset()
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	if cur.Len() != 0 {
		t.Fatalf("Dockerfile ends inside a continued line: %q", cur.String())
	}
	return out
}

// scriptDefaults returns the `: "${NAME:=value}"` defaults of the
// entrypoint.
func scriptDefaults(t *testing.T) map[string]string {
	t.Helper()
	re := regexp.MustCompile(`^: "\$\{([A-Z0-9_]+):=(.*)\}"$`)
	defaults := map[string]string{}
	for _, line := range strings.Split(readFile(t, "docker-entrypoint.sh"), "\n") {
		if m := re.FindStringSubmatch(line); m != nil {
			defaults[m[1]] = m[2]
		}
	}
	return defaults
}

// TestDockerfile checks that the image's ENV defaults are the entrypoint's
// (so that the script run outside the image, as the tests run it, behaves
// as inside), and that it installs and wires what the entrypoint and the
// official image's users expect.
func TestDockerfile(t *testing.T) {
	ins := readDockerfile(t)
	var froms, envs, copies []string
	last := map[string]string{}
	for _, in := range ins {
		switch in.name {
		case "FROM":
			froms = append(froms, in.args)
		case "ENV":
			envs = append(envs, strings.Fields(in.args)...)
		case "COPY":
			copies = append(copies, strings.Join(strings.Fields(in.args), " "))
		}
		last[in.name] = in.args
	}

	// Built with cgo: the build stage's Debian release is the runtime's.
	if len(froms) != 2 || !regexp.MustCompile(`^golang:\S+-bookworm AS build$`).MatchString(froms[0]) ||
		froms[1] != "debian:bookworm-slim" {
		t.Errorf("FROM lines %q: want golang:<version>-bookworm AS build, then debian:bookworm-slim", froms)
	}

	defaults := scriptDefaults(t)
	official := []string{"ZOO_CONF_DIR", "ZOO_DATA_DIR", "ZOO_DATA_LOG_DIR", "ZOO_LOG_DIR", "ZOO_TICK_TIME",
		"ZOO_INIT_LIMIT", "ZOO_SYNC_LIMIT", "ZOO_AUTOPURGE_PURGEINTERVAL", "ZOO_AUTOPURGE_SNAPRETAINCOUNT",
		"ZOO_MAX_CLIENT_CNXNS", "ZOO_STANDALONE_ENABLED", "ZOO_ADMINSERVER_ENABLED"}
	env := map[string]string{}
	for _, kv := range envs {
		k, v, ok := strings.Cut(kv, "=")
		if !ok {
			t.Errorf("ENV entry %q is not NAME=value", kv)
			continue
		}
		env[k] = v
	}
	for _, k := range official {
		if _, ok := env[k]; !ok {
			t.Errorf("the image does not set %s, which the official image sets", k)
		}
	}
	for k, v := range env {
		if d, ok := defaults[k]; !ok || d != v {
			t.Errorf("ENV %s=%s, but the entrypoint's default is %q (set: %v)", k, v, d, ok)
		}
	}

	for _, want := range []string{
		"--from=build /meerkat " + binaryPath,
		"--chmod=0755 packaging/docker-entrypoint.sh /usr/local/bin/docker-entrypoint.sh",
	} {
		if !slices.Contains(copies, want) {
			t.Errorf("no COPY %s (COPY lines: %q)", want, copies)
		}
	}
	if got := last["ENTRYPOINT"]; got != `["/usr/local/bin/docker-entrypoint.sh"]` {
		t.Errorf("ENTRYPOINT %s", got)
	}
	if got := last["CMD"]; got != `["meerkat"]` {
		t.Errorf("CMD %s: want [\"meerkat\"], which the entrypoint runs with the configuration", got)
	}
	exposed := strings.Fields(last["EXPOSE"])
	for _, port := range []string{"2181", "2888", "3888", "8080", "7000"} {
		if !slices.Contains(exposed, port) {
			t.Errorf("port %s is not exposed (EXPOSE %s)", port, last["EXPOSE"])
		}
	}
	for _, vol := range []string{`"/data"`, `"/datalog"`, `"/logs"`} {
		if !strings.Contains(last["VOLUME"], vol) {
			t.Errorf("%s is not a volume (VOLUME %s)", vol, last["VOLUME"])
		}
	}
}

// unitFile is a systemd unit: section, then key, then its values in order.
type unitFile map[string]map[string][]string

func (u unitFile) get(section, key string) string {
	v := u[section][key]
	if len(v) == 0 {
		return ""
	}
	return v[len(v)-1]
}

func readUnit(t *testing.T, path string) unitFile {
	t.Helper()
	u := unitFile{}
	section := ""
	for i, line := range strings.Split(readFile(t, path), "\n") {
		line = strings.TrimSpace(line)
		switch {
		case line == "" || strings.HasPrefix(line, "#") || strings.HasPrefix(line, ";"):
		case strings.HasPrefix(line, "[") && strings.HasSuffix(line, "]"):
			section = line[1 : len(line)-1]
			u[section] = map[string][]string{}
		case section == "":
			t.Errorf("%s:%d: %q is outside any section", path, i+1, line)
		default:
			k, v, ok := strings.Cut(line, "=")
			if !ok || strings.TrimSpace(k) == "" {
				t.Errorf("%s:%d: %q is not key=value", path, i+1, line)
				continue
			}
			k = strings.TrimSpace(k)
			u[section][k] = append(u[section][k], strings.TrimSpace(v))
		}
	}
	return u
}

// TestSystemdUnit checks the settings of meerkat.service the service's
// start, stop and confinement depend on.
func TestSystemdUnit(t *testing.T) {
	u := readUnit(t, "meerkat.service")
	execStart := strings.Fields(u.get("Service", "ExecStart"))
	if len(execStart) != 2 || execStart[0] != binaryPath || execStart[1] != "/etc/meerkat/zoo.cfg" {
		t.Errorf("ExecStart=%s: want %s /etc/meerkat/zoo.cfg", u.get("Service", "ExecStart"), binaryPath)
	}
	for _, kv := range [][3]string{
		{"Service", "Type", "simple"},
		{"Service", "User", "meerkat"},
		{"Service", "KillSignal", "SIGTERM"},
		{"Service", "Restart", "on-failure"},
		{"Service", "NoNewPrivileges", "yes"},
		{"Service", "ProtectSystem", "strict"},
		{"Service", "PrivateTmp", "yes"},
		{"Install", "WantedBy", "multi-user.target"},
	} {
		if got := u.get(kv[0], kv[1]); got != kv[2] {
			t.Errorf("[%s] %s=%q, want %q", kv[0], kv[1], got, kv[2])
		}
	}
	if !slices.Contains(strings.Fields(u.get("Service", "ReadWritePaths")), "/var/lib/meerkat") {
		t.Errorf("ReadWritePaths=%s does not hold the data directory /var/lib/meerkat", u.get("Service", "ReadWritePaths"))
	}
	// A clean stop takes up to about 10 s: SIGKILL must not come sooner.
	stop := u.get("Service", "TimeoutStopSec")
	if regexp.MustCompile(`^[0-9]+$`).MatchString(stop) {
		stop += "s"
	}
	if d, err := time.ParseDuration(stop); err != nil || d < 15*time.Second {
		t.Errorf("TimeoutStopSec=%s: want at least 15s (%v)", u.get("Service", "TimeoutStopSec"), err)
	}
	if n, err := strconv.Atoi(u.get("Service", "LimitNOFILE")); err != nil || n < 65536 {
		t.Errorf("LimitNOFILE=%q: want at least 65536", u.get("Service", "LimitNOFILE"))
	}
}
