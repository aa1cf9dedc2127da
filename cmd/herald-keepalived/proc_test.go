package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// supervisorProc is one herald-keepalived a test started.
type supervisorProc struct {
	cmd    *exec.Cmd
	out    string // its output file
	exited chan struct{}
	err    error // of Wait, once exited is closed
}

// startSupervisor runs the command under test with args, behind prefix
// (e.g. `ip netns exec <ns>`, which execs, so the PID is the command's),
// with env added, its output to a file in the test's temp dir (a pipe
// would keep Wait waiting for a keepalived that outlived the command). It
// is killed, if still running, when the test ends.
func startSupervisor(t *testing.T, name string, prefix, env []string, args ...string) *supervisorProc {
	t.Helper()
	argv := append(append(append([]string(nil), prefix...), command), args...)
	p := &supervisorProc{
		cmd:    exec.Command(argv[0], argv[1:]...),
		out:    filepath.Join(t.TempDir(), name+".log"),
		exited: make(chan struct{}),
	}
	out, err := os.Create(p.out)
	if err != nil {
		t.Fatal(err)
	}
	defer out.Close()
	p.cmd.Stdout, p.cmd.Stderr = out, out
	p.cmd.Env = append(os.Environ(), env...)
	p.cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() {
		p.err = p.cmd.Wait()
		close(p.exited)
	}()
	t.Cleanup(func() {
		_ = p.cmd.Process.Kill()
		select {
		case <-p.exited:
		case <-time.After(10 * time.Second):
			t.Errorf("%s not reaped", name)
		}
	})
	return p
}

func (p *supervisorProc) pid() int { return p.cmd.Process.Pid }

func (p *supervisorProc) output() string {
	data, _ := os.ReadFile(p.out)
	return string(data)
}

// said reports whether the output holds a line containing every one of
// parts.
func (p *supervisorProc) said(parts ...string) bool {
	for _, line := range strings.Split(p.output(), "\n") {
		all := true
		for _, s := range parts {
			all = all && strings.Contains(line, s)
		}
		if all {
			return true
		}
	}
	return false
}

// waitExit waits at most within for the command to exit and returns how.
func (p *supervisorProc) waitExit(t *testing.T, within time.Duration) error {
	t.Helper()
	select {
	case <-p.exited:
		return p.err
	case <-time.After(within):
		t.Fatalf("herald-keepalived (pid %d) still running %v later\n%s", p.pid(), within, p.output())
		return nil
	}
}
