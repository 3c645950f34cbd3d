package shell

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"
)

// runShellEnv, set in its environment, makes the test binary run the shell
// instead of the tests: the tests start the shell as a process of its own,
// as `meerkat cli` runs, on pipes or on a terminal.
const runShellEnv = "MEERKAT_SHELL_TEST_RUN_SHELL"

func TestMain(m *testing.M) {
	if os.Getenv(runShellEnv) == "1" {
		os.Exit(Main(os.Args[1:], os.Stdin, os.Stdout, os.Stderr))
	}
	os.Exit(m.Run())
}

// The reference: Debian's zkCli (package zookeeper) and its java.
const (
	zkCliPath = "/usr/share/zookeeper/bin/zkCli.sh"
	javaPath  = "/usr/bin/java"
)

// runTimeout bounds one run of a client, a JVM start included.
const runTimeout = 60 * time.Second

// result is what a client run printed and its exit code.
type result struct {
	stdout, stderr string
	code           int
}

// run runs cmd to its end with stdin as its input, killing its process
// group after runTimeout.
func run(cmd *exec.Cmd, stdin string) (result, error) {
	ctx, cancel := context.WithTimeout(context.Background(), runTimeout)
	defer cancel()
	var out, errOut bytes.Buffer
	cmd.Stdin = strings.NewReader(stdin)
	cmd.Stdout, cmd.Stderr = &out, &errOut
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.WaitDelay = 5 * time.Second
	if err := cmd.Start(); err != nil {
		return result{}, err
	}
	stop := context.AfterFunc(ctx, func() { _ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) })
	defer stop()
	err := cmd.Wait()
	r := result{stdout: out.String(), stderr: errOut.String(), code: cmd.ProcessState.ExitCode()}
	if ctx.Err() != nil {
		return r, fmt.Errorf("%s killed after %v", cmd.Path, runTimeout)
	}
	var exit *exec.ExitError
	if err != nil && !errors.As(err, &exit) {
		return r, err
	}
	return r, nil
}
