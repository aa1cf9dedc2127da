package rig

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"time"
)

// DefaultExecTimeout bounds Exec: the commands it is for (ip, ping, curl,
// birdc, sysctl) answer in milliseconds.
const DefaultExecTimeout = 10 * time.Second

// Proc is a long-lived process started in a namespace by Start.
type Proc struct {
	// Name is unique within the rig; the log file is named after it.
	Name string
	// NS is the namespace it runs in.
	NS string
	// Log holds its stdout and stderr.
	Log string

	cmd  *exec.Cmd
	done chan struct{}
	err  error // of Wait; read after done is closed
}

// StartOption tunes Start.
type StartOption func(*exec.Cmd)

// WithEnv adds KEY=VALUE pairs to the process's environment (which is
// otherwise the test's).
func WithEnv(kv ...string) StartOption {
	return func(c *exec.Cmd) {
		if c.Env == nil {
			c.Env = os.Environ()
		}
		c.Env = append(c.Env, kv...)
	}
}

// Start runs argv inside namespace ns (`ip netns exec`, which execs, so the
// PID recorded is the program's own) with stdout and stderr appended to
// <state dir>/<name>.log; a name may be reused once its process exited
// (the log continues after a header line). The process is stopped by Down, and killed by the
// kernel should the test process die first (parent-death signal).
func (r *Rig) Start(ns, name string, argv []string, opts ...StartOption) (*Proc, error) {
	if len(argv) == 0 {
		return nil, fmt.Errorf("start %s: empty command", name)
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.down {
		return nil, fmt.Errorf("start %s: rig is down", name)
	}
	if !r.ownsNS(ns) {
		return nil, fmt.Errorf("start %s: namespace %q is not this rig's", name, ns)
	}
	for _, p := range r.procs {
		if p.Name == name && p.Running() {
			return nil, fmt.Errorf("start %s: a process of that name is running (pid %d)", name, p.PID())
		}
	}
	logPath := filepath.Join(r.StateDir, name+".log")
	logFile, err := os.OpenFile(logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return nil, fmt.Errorf("start %s: %w", name, err)
	}
	defer logFile.Close() // the child has its own copy

	cmd := exec.Command("ip", append([]string{"netns", "exec", ns}, argv...)...)
	cmd.Stdout, cmd.Stderr = logFile, logFile
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL, Setpgid: true}
	for _, o := range opts {
		o(cmd)
	}
	fmt.Fprintf(logFile, "=== %s: ip netns exec %s %s\n", time.Now().Format(time.RFC3339Nano), ns, strings.Join(argv, " "))
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start %s in %s: %w", name, ns, err)
	}
	p := &Proc{Name: name, NS: ns, Log: logPath, cmd: cmd, done: make(chan struct{})}
	go func() {
		p.err = cmd.Wait()
		close(p.done)
	}()
	r.procs = append(r.procs, p)
	r.logf("started %s in %s: pid %d", name, ns, cmd.Process.Pid)
	return p, nil
}

// PID is the process's ID in the host's PID namespace.
func (p *Proc) PID() int { return p.cmd.Process.Pid }

// Done is closed when the process has exited (and been reaped).
func (p *Proc) Done() <-chan struct{} { return p.done }

// Err is how the process ended; nil while it runs.
func (p *Proc) Err() error {
	select {
	case <-p.done:
		return p.err
	default:
		return nil
	}
}

// Running reports whether the process has not exited yet.
func (p *Proc) Running() bool {
	select {
	case <-p.done:
		return false
	default:
		return true
	}
}

// Signal sends sig to the process (by PID); a process that already exited
// is not an error.
func (p *Proc) Signal(sig syscall.Signal) error {
	if !p.Running() {
		return nil
	}
	if err := p.cmd.Process.Signal(sig); err != nil && !errors.Is(err, os.ErrProcessDone) {
		return fmt.Errorf("signal %s (pid %d): %w", p.Name, p.PID(), err)
	}
	return nil
}

// Kill sends SIGKILL and waits (at most 5 s) until the process is reaped.
func (p *Proc) Kill() error {
	if err := p.Signal(syscall.SIGKILL); err != nil {
		return err
	}
	return p.wait(5 * time.Second)
}

// Stop sends SIGTERM, waits up to timeout for the process to exit, then
// kills it. It returns an error only when the process could not be ended;
// how it exited is in Err.
func (p *Proc) Stop(timeout time.Duration) error {
	if err := p.Signal(syscall.SIGTERM); err != nil {
		return err
	}
	if p.wait(timeout) == nil {
		return nil
	}
	return p.Kill()
}

// Wait waits for the process to exit, until ctx ends.
func (p *Proc) Wait(ctx context.Context) error {
	select {
	case <-p.done:
		return p.err
	case <-ctx.Done():
		return fmt.Errorf("wait for %s (pid %d): %w", p.Name, p.PID(), ctx.Err())
	}
}

func (p *Proc) wait(timeout time.Duration) error {
	t := time.NewTimer(timeout)
	defer t.Stop()
	select {
	case <-p.done:
		return nil
	case <-t.C:
		return fmt.Errorf("%s (pid %d) still running after %v", p.Name, p.PID(), timeout)
	}
}

// LogSize is the current size of the process's log: what LogSince skips.
func (p *Proc) LogSize() int64 { return fileSize(p.Log) }

// LogSince returns what the process logged after offset (a LogSize).
func (p *Proc) LogSince(offset int64) string { return readFrom(p.Log, offset) }

// Tail returns the last n lines of the process's log.
func (p *Proc) Tail(n int) string { return TailFile(p.Log, n) }

// TailFile returns the last n lines of a (small) log file.
func TailFile(path string, n int) string {
	data, err := os.ReadFile(path)
	if err != nil {
		return fmt.Sprintf("(read %s: %v)", path, err)
	}
	lines := strings.Split(strings.TrimRight(string(data), "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

// Exec runs a short command inside namespace ns and returns its combined
// output; it fails after DefaultExecTimeout.
func (r *Rig) Exec(ns string, argv ...string) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), DefaultExecTimeout)
	defer cancel()
	return r.ExecContext(ctx, ns, argv...)
}

// ExecContext is Exec bounded by ctx (and by DefaultExecTimeout when ctx
// has no deadline).
func (r *Rig) ExecContext(ctx context.Context, ns string, argv ...string) (string, error) {
	if !r.ownsNS(ns) {
		return "", fmt.Errorf("exec %v: namespace %q is not this rig's", argv, ns)
	}
	return run(ctx, "ip", append([]string{"netns", "exec", ns}, argv...)...)
}

// run runs a short host command, bounded by ctx and at most
// DefaultExecTimeout, and returns its combined output; a failure carries
// the output, which is where the reason is.
func run(ctx context.Context, name string, args ...string) (string, error) {
	if _, ok := ctx.Deadline(); !ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, DefaultExecTimeout)
		defer cancel()
	}
	var out bytes.Buffer
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Stdout, cmd.Stderr = &out, &out
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	cmd.WaitDelay = time.Second
	if err := cmd.Run(); err != nil {
		return out.String(), fmt.Errorf("%s %s: %w: %s", name, strings.Join(args, " "), err, strings.TrimSpace(out.String()))
	}
	return out.String(), nil
}
