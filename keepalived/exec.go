package keepalived

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// ErrConfigRefused marks a configuration `keepalived -t` refused (exit
// status 5, or 6 for script security), or one that does not exist, which
// -t would wrongly pass with status 0.
var ErrConfigRefused = errors.New("keepalived refused the config")

// Exec runs the real keepalived: its Start and Check are the Supervisor's
// Starter and Checker in production. Both must run in the node's network
// namespace (the supervisor DaemonSet uses the host network), since
// keepalived resolves interface names where it runs.
type Exec struct {
	// Binary is keepalived's path; empty means /usr/sbin/keepalived.
	Binary string
	// RunDir holds the pid files. Each keepalived needs its own (-p, -r):
	// with the defaults a second one, e.g. in another network namespace of
	// a test bed, refuses to start as "already running".
	RunDir string
	// StopGrace is how long Stop waits after SIGTERM before SIGKILL; zero
	// means 10 s. A graceful stop (priority-0 adverts, VIPs removed) takes
	// milliseconds; the kill only keeps a hung keepalived from blocking the
	// pod's exit.
	StopGrace time.Duration
	// Output receives keepalived's log (it logs to the console: nodes and
	// containers often have no /dev/log); nil discards it.
	Output io.Writer
}

func (e Exec) binary() string {
	if e.Binary == "" {
		return "/usr/sbin/keepalived"
	}
	return e.Binary
}

// Args are keepalived's arguments for the config at path: stay in the
// foreground so the supervisor is its parent and sees it exit (-n), log to
// the console with detail and no syslog (-l -D -G), VRRP only (-P: Herald
// uses no IPVS, which some kernels lack), and pid files of its own.
func (e Exec) Args(path string) []string {
	return []string{"-n", "-l", "-D", "-G", "-P", "-f", path,
		"-p", filepath.Join(e.RunDir, "keepalived.pid"),
		"-r", filepath.Join(e.RunDir, "keepalived-vrrp.pid")}
}

// Check runs `keepalived -t` on path. It first makes sure the file exists,
// since -t passes a missing file, and returns an error wrapping
// ErrConfigRefused with keepalived's own words when it refuses.
func (e Exec) Check(ctx context.Context, path string) error {
	if _, err := os.Stat(path); err != nil {
		return fmt.Errorf("%w: %w", ErrConfigRefused, err)
	}
	var out bytes.Buffer
	cmd := exec.CommandContext(ctx, e.binary(), "-t", "-l", "-G", "-f", path)
	cmd.Stdout, cmd.Stderr = &out, &out
	err := cmd.Run()
	var exit *exec.ExitError
	switch {
	case err == nil:
		return nil
	case errors.As(err, &exit) && ctx.Err() == nil:
		return &RefusedError{Path: path, Status: err, Output: string(bytes.TrimSpace(out.Bytes()))}
	default:
		return fmt.Errorf("run keepalived -t on %s: %w", path, err)
	}
}

// RefusedError is Check's error when keepalived refused a config: its
// exit status and its own words. It wraps ErrConfigRefused and the status.
type RefusedError struct {
	// Path is the file checked.
	Path string
	// Status is how `keepalived -t` exited (an *exec.ExitError).
	Status error
	// Output is what it printed, trimmed: one line per problem, each
	// naming the file as given and the line.
	Output string
}

func (e *RefusedError) Error() string {
	return fmt.Sprintf("%v: %s: %s", ErrConfigRefused, e.Path, e.Reason())
}

func (e *RefusedError) Unwrap() []error { return []error{ErrConfigRefused, e.Status} }

// Reason is the refusal for an operator: the exit status and keepalived's
// words, with the file checked named by its base name only (the
// supervisor checks a staged copy in a host directory whose path means
// nothing to the readers of an Eip's events).
func (e *RefusedError) Reason() string {
	if e.Output == "" {
		return fmt.Sprintf("keepalived -t: %v", e.Status)
	}
	out := e.Output
	if e.Path != "" {
		out = strings.ReplaceAll(out, e.Path, filepath.Base(e.Path))
	}
	return fmt.Sprintf("keepalived -t: %v: %s", e.Status, out)
}

// RefusalReason is err for an operator: a RefusedError's Reason, or the
// whole error otherwise.
func RefusalReason(err error) string {
	if r, ok := errors.AsType[*RefusedError](err); ok {
		return r.Reason()
	}
	return err.Error()
}

// Start starts keepalived on the config at path, tied to the supervisor's
// life: keepalived must never outlive it, or a restarted supervisor would
// start a second keepalived beside it (in a pod the container dies as a
// whole; in the e2e testbed, or anywhere the supervisor runs as a plain
// process, nothing else would end it). So keepalived gets SIGTERM from the
// kernel when its parent dies (parent-death signal: it stops gracefully,
// sending priority-0 adverts and removing its VIPs), and runs in a process
// group of its own, which Stop and Wait kill as a whole so that its VRRP
// child cannot survive a parent that was killed.
//
// The parent-death signal fires when the OS thread that forked the child
// exits, not the process, and the Go runtime may end a thread that a
// goroutine locked and left: the fork therefore happens on a goroutine
// locked to its thread, which stays there, blocked in Wait, for as long as
// keepalived runs.
func (e Exec) Start(path string) (Process, error) {
	if err := os.MkdirAll(e.RunDir, 0o755); err != nil {
		return nil, fmt.Errorf("keepalived run directory: %w", err)
	}
	cmd := exec.Command(e.binary(), e.Args(path)...)
	out := e.Output
	if out == nil {
		out = io.Discard
	}
	cmd.Stdout, cmd.Stderr = out, out
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGTERM}
	p := &execProcess{cmd: cmd, grace: e.StopGrace, done: make(chan struct{})}
	if p.grace <= 0 {
		p.grace = 10 * time.Second
	}
	started := make(chan error, 1)
	go func() {
		runtime.LockOSThread()
		defer runtime.UnlockOSThread()
		if err := cmd.Start(); err != nil {
			started <- err
			return
		}
		started <- nil
		p.err = p.wait()
		close(p.done)
	}()
	if err := <-started; err != nil {
		return nil, fmt.Errorf("start %s: %w", e.binary(), err)
	}
	return p, nil
}

// execProcess is a started keepalived; its one waiting goroutine ends when
// the process does.
type execProcess struct {
	cmd   *exec.Cmd
	grace time.Duration
	done  chan struct{}
	err   error // set before done is closed
	stop  sync.Once
}

var _ Process = (*execProcess)(nil)

// Reload sends SIGHUP: keepalived rereads the config it was started with.
func (p *execProcess) Reload() error { return p.signal(syscall.SIGHUP) }

// Stop sends SIGTERM to keepalived, which stops its VRRP child itself, and
// SIGKILL to its whole process group if it is still running after the
// grace period. It returns at once; Wait says when it is gone.
func (p *execProcess) Stop() error {
	var err error
	p.stop.Do(func() {
		if err = p.signal(syscall.SIGTERM); err != nil {
			return
		}
		go func() {
			t := time.NewTimer(p.grace)
			defer t.Stop()
			select {
			case <-p.done:
			case <-t.C:
				// The whole group: a hung parent may have left its
				// VRRP child running too.
				_ = syscall.Kill(-p.cmd.Process.Pid, syscall.SIGKILL)
			}
		}()
	})
	return err
}

// Wait returns keepalived's exit status once it has exited; any number of
// callers may wait.
func (p *execProcess) Wait() error {
	<-p.done
	return p.err
}

// wait waits for keepalived to exit, then kills what is left of its
// process group (a VRRP child whose parent was killed) before reaping the
// parent: while the parent is a zombie its PID, the group's ID, cannot be
// reused, so the kill cannot reach an unrelated process.
func (p *execProcess) wait() error {
	pid := p.cmd.Process.Pid
	var info unix.Siginfo
	err := unix.Waitid(unix.P_PID, pid, &info, unix.WEXITED|unix.WNOWAIT, nil)
	for errors.Is(err, unix.EINTR) {
		err = unix.Waitid(unix.P_PID, pid, &info, unix.WEXITED|unix.WNOWAIT, nil)
	}
	if err == nil { // not otherwise: without the zombie the ID may be reused
		_ = syscall.Kill(-pid, syscall.SIGKILL) // ESRCH: the group is already gone
	}
	return p.cmd.Wait()
}

func (p *execProcess) signal(sig os.Signal) error {
	select {
	case <-p.done:
		return fmt.Errorf("signal %v: %w", sig, os.ErrProcessDone)
	default:
	}
	if err := p.cmd.Process.Signal(sig); err != nil {
		return fmt.Errorf("signal %v: %w", sig, err)
	}
	return nil
}
