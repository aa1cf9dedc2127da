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
	"sync"
	"syscall"
	"time"
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
		return fmt.Errorf("%w: %s: %w: %s", ErrConfigRefused, path, err, bytes.TrimSpace(out.Bytes()))
	default:
		return fmt.Errorf("run keepalived -t on %s: %w", path, err)
	}
}

// Start starts keepalived on the config at path.
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
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start %s: %w", e.binary(), err)
	}
	p := &execProcess{cmd: cmd, grace: e.StopGrace, done: make(chan struct{})}
	if p.grace <= 0 {
		p.grace = 10 * time.Second
	}
	go func() {
		p.err = cmd.Wait()
		close(p.done)
	}()
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

// Stop sends SIGTERM, and SIGKILL if keepalived is still running after the
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
				_ = p.signal(syscall.SIGKILL)
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
