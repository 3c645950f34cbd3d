package bench

import (
	"bufio"
	"fmt"
	"os"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// selfCPU returns the CPU time (user + system, every thread) this process
// has used so far.
func selfCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// clockTick is USER_HZ, the unit of /proc/<pid>/stat times (100 on Linux).
const clockTick = 100

// processCPU returns the CPU time (user + system) that process pid has used
// so far, from /proc/<pid>/stat, at 10 ms resolution; 0 if it is gone.
func processCPU(pid int) time.Duration {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0
	}
	// The command name (field 2) may hold spaces; count fields after ')'.
	s := string(b)
	i := strings.LastIndexByte(s, ')')
	if i < 0 {
		return 0
	}
	f := strings.Fields(s[i+1:])
	// f[0] is field 3 (state); utime and stime are fields 14 and 15.
	if len(f) < 13 {
		return 0
	}
	ut, _ := strconv.ParseInt(f[11], 10, 64)
	st, _ := strconv.ParseInt(f[12], 10, 64)
	return time.Duration(ut+st) * time.Second / clockTick
}

// ProcessRSS returns the resident set size of process pid in bytes, from
// VmRSS in /proc/<pid>/status.
func ProcessRSS(pid int) (int64, error) {
	f, err := os.Open(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), "VmRSS:"); ok {
			kb, err := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
			return kb << 10, err
		}
	}
	return 0, fmt.Errorf("bench: no VmRSS for pid %d", pid)
}

// systemBusy returns the CPU time all processes of the machine have spent
// busy so far (every state of the cpu line of /proc/stat but idle and
// iowait).
func systemBusy() time.Duration {
	b, err := os.ReadFile("/proc/stat")
	if err != nil {
		return 0
	}
	line, _, _ := strings.Cut(string(b), "\n")
	f := strings.Fields(line)
	if len(f) < 8 || f[0] != "cpu" {
		return 0
	}
	var busy int64
	for i, v := range f[1:] {
		if i == 3 || i == 4 { // idle, iowait
			continue
		}
		if i >= 8 { // guest time is already in user
			break
		}
		n, _ := strconv.ParseInt(v, 10, 64)
		busy += n
	}
	return time.Duration(busy) * time.Second / clockTick
}

// cpuMark is how much CPU the generator, the server and the whole machine
// had used at one moment; two marks bound a measured window.
type cpuMark struct {
	at                time.Time
	gen, server, busy time.Duration
}

// markCPU takes a cpuMark; the server's time is that of serverPids
// together (a pid of 0 counts for nothing).
func markCPU(serverPids ...int) cpuMark {
	m := cpuMark{at: time.Now(), gen: selfCPU(), busy: systemBusy()}
	for _, pid := range serverPids {
		if pid > 0 {
			m.server += processCPU(pid)
		}
	}
	return m
}

// setWindow fills the window's length, throughput and CPU figures of r,
// whose Ops are counted, from the marks at its start and end.
func (r *Result) setWindow(m0, m1 cpuMark) {
	r.Seconds = m1.at.Sub(m0.at).Seconds()
	if r.Seconds > 0 {
		r.Throughput = float64(r.Ops) / r.Seconds
		r.GenCores = (m1.gen - m0.gen).Seconds() / r.Seconds
		r.ServerCores = (m1.server - m0.server).Seconds() / r.Seconds
		r.OtherCores = max(0, (m1.busy-m0.busy).Seconds()/r.Seconds-r.GenCores-r.ServerCores)
	}
	if r.Ops > 0 {
		r.GenCPUPerOp = float64(m1.gen-m0.gen) / 1e3 / float64(r.Ops)
		r.ServerCPUPerOp = float64(m1.server-m0.server) / 1e3 / float64(r.Ops)
	}
}
