package controllerproc

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// Options says how to run one controller process.
type Options struct {
	// Binary is the herald-controller executable (Binary.Path).
	Binary string
	// Kubeconfig is passed as --kubeconfig.
	Kubeconfig string
	// LeaseNamespace holds the leader-election Lease; it must exist.
	LeaseNamespace string
	// LeaseDuration and RenewDeadline default to 4 s and 3 s, short enough
	// that the successor of a SIGKILLed leader takes over within seconds
	// (a candidate waits LeaseDuration from when it first saw the Lease,
	// plus up to client-go's 2 s retry period).
	LeaseDuration, RenewDeadline time.Duration
	// Args are extra flags, after the ones Start sets.
	Args []string
	// LogDir receives the process's stderr as <Name>.log; empty means the
	// test's temporary directory.
	LogDir string
	// Name tells processes of one test apart in log file names; empty
	// means "controller".
	Name string
}

// Process is one running (or exited) controller.
type Process struct {
	tb      testing.TB
	cmd     *exec.Cmd
	logPath string
	logFile *os.File
	started time.Time
	// exited is closed once the process has been waited for; state and
	// waitErr are set before.
	exited  chan struct{}
	state   *os.ProcessState
	waitErr error
}

// Exit describes how a process ended.
type Exit struct {
	// Code is the exit status, or -1 when a signal killed it.
	Code int
	// Signal is the signal that killed it, or 0.
	Signal syscall.Signal
	// PeakRSS is the most resident memory the process ever had, in bytes
	// (the kernel's ru_maxrss for the waited child).
	PeakRSS int64
	// Ran is how long the process lived.
	Ran time.Duration
}

func (e Exit) String() string {
	if e.Signal != 0 {
		return fmt.Sprintf("killed by signal %d (%v) after %s, peak RSS %.1f MiB", int(e.Signal), e.Signal, e.Ran.Round(time.Millisecond), float64(e.PeakRSS)/(1<<20))
	}
	return fmt.Sprintf("exit status %d after %s, peak RSS %.1f MiB", e.Code, e.Ran.Round(time.Millisecond), float64(e.PeakRSS)/(1<<20))
}

// Start runs the controller with the webhooks, the metrics and the health
// probe listeners off and leader election on. The process is killed (by
// PID) when the test ends if it still runs, and the tail of its log is
// printed if the test failed.
func Start(tb testing.TB, opts Options) (*Process, error) {
	tb.Helper()
	if opts.Name == "" {
		opts.Name = "controller"
	}
	if opts.LogDir == "" {
		opts.LogDir = tb.TempDir()
	}
	if opts.LeaseDuration == 0 {
		opts.LeaseDuration = 4 * time.Second
	}
	if opts.RenewDeadline == 0 {
		opts.RenewDeadline = 3 * time.Second
	}
	logPath := filepath.Join(opts.LogDir, opts.Name+".log")
	logFile, err := os.Create(logPath)
	if err != nil {
		return nil, fmt.Errorf("controller %s: create log: %w", opts.Name, err)
	}
	args := []string{
		"--kubeconfig=" + opts.Kubeconfig,
		"--enable-webhooks=false",
		"--metrics-bind-address=0",
		"--health-probe-bind-address=0",
		"--leader-elect=true",
		"--leader-election-namespace=" + opts.LeaseNamespace,
		"--leader-elect-lease-duration=" + opts.LeaseDuration.String(),
		"--leader-elect-renew-deadline=" + opts.RenewDeadline.String(),
	}
	args = append(args, opts.Args...)
	cmd := exec.Command(opts.Binary, args...)
	cmd.Stdout = logFile
	cmd.Stderr = logFile
	// Pdeathsig: should the test binary die (a panic, go test's -timeout)
	// the kernel kills the controller rather than leaving it to allocate
	// against the next test's control plane.
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		logFile.Close()
		return nil, fmt.Errorf("controller %s: start: %w", opts.Name, err)
	}
	p := &Process{
		tb: tb, cmd: cmd, logPath: logPath, logFile: logFile,
		started: time.Now(), exited: make(chan struct{}),
	}
	go p.wait()
	tb.Cleanup(p.cleanup)
	return p, nil
}

func (p *Process) wait() {
	p.waitErr = p.cmd.Wait()
	p.state = p.cmd.ProcessState
	p.logFile.Close()
	close(p.exited)
}

// cleanup kills a process the test left running and shows its log when the
// test failed.
func (p *Process) cleanup() {
	select {
	case <-p.exited:
	default:
		if _, err := p.Stop(syscall.SIGKILL, 10*time.Second); err != nil {
			p.tb.Errorf("%v", err)
		}
	}
	if p.tb.Failed() {
		p.tb.Logf("last lines of %s:\n%s", p.logPath, p.Tail(40))
	}
}

// PID is the process's ID.
func (p *Process) PID() int { return p.cmd.Process.Pid }

// LogPath is the file the process's stderr goes to.
func (p *Process) LogPath() string { return p.logPath }

// Exited is closed when the process has ended, for whatever reason.
func (p *Process) Exited() <-chan struct{} { return p.exited }

// Stop sends sig and waits up to within for the process to end; if it has
// not, it gets SIGQUIT (a goroutine dump into the log) and then SIGKILL,
// and Stop returns an error with what it did get. A process that already
// ended is only reported.
func (p *Process) Stop(sig syscall.Signal, within time.Duration) (Exit, error) {
	select {
	case <-p.exited:
		return p.exit(), nil
	default:
	}
	if err := p.cmd.Process.Signal(sig); err != nil && !errors.Is(err, os.ErrProcessDone) {
		return Exit{}, fmt.Errorf("controller pid %d: send %s: %w", p.PID(), sig, err)
	}
	timer := time.NewTimer(within)
	defer timer.Stop()
	select {
	case <-p.exited:
		return p.exit(), nil
	case <-timer.C:
	}
	// A Go program answers SIGQUIT by writing every goroutine's stack to
	// stderr, i.e. to the log: the tail then shows where it hung.
	_ = p.cmd.Process.Signal(syscall.SIGQUIT)
	select {
	case <-p.exited:
		return p.exit(), fmt.Errorf("controller pid %d: did not exit within %s of %s; goroutine dump (SIGQUIT) in %s", p.PID(), within, sig, p.logPath)
	case <-time.After(5 * time.Second):
	}
	// The kill cannot be refused; wait boundedly all the same.
	_ = p.cmd.Process.Kill()
	select {
	case <-p.exited:
	case <-time.After(10 * time.Second):
		return Exit{}, fmt.Errorf("controller pid %d: still running 10s after SIGKILL", p.PID())
	}
	return p.exit(), fmt.Errorf("controller pid %d: did not exit within %s of %s; killed", p.PID(), within, sig)
}

func (p *Process) exit() Exit {
	e := Exit{Code: p.state.ExitCode(), Ran: time.Since(p.started)}
	if ws, ok := p.state.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
		e.Signal = ws.Signal()
	}
	if ru, ok := p.state.SysUsage().(*syscall.Rusage); ok {
		e.PeakRSS = ru.Maxrss * 1024 // KiB on Linux
	}
	return e
}

// HighWaterRSS reads VmHWM, the peak resident memory so far, of the
// running process from /proc, in bytes.
func (p *Process) HighWaterRSS() (int64, error) {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", p.PID()))
	if err != nil {
		return 0, fmt.Errorf("controller pid %d: read status: %w", p.PID(), err)
	}
	for _, line := range strings.Split(string(data), "\n") {
		rest, ok := strings.CutPrefix(line, "VmHWM:")
		if !ok {
			continue
		}
		fields := strings.Fields(rest)
		if len(fields) != 2 || fields[1] != "kB" {
			return 0, fmt.Errorf("controller pid %d: unexpected VmHWM line %q", p.PID(), line)
		}
		kib, err := strconv.ParseInt(fields[0], 10, 64)
		if err != nil {
			return 0, fmt.Errorf("controller pid %d: parse VmHWM: %w", p.PID(), err)
		}
		return kib * 1024, nil
	}
	return 0, fmt.Errorf("controller pid %d: no VmHWM in /proc status", p.PID())
}

// Log returns what the process has written so far.
func (p *Process) Log() ([]byte, error) {
	data, err := os.ReadFile(p.logPath)
	if err != nil {
		return nil, fmt.Errorf("controller log: %w", err)
	}
	return data, nil
}

// CountLog returns how many lines of the log contain substr, ignoring
// case (klog's messages changed capitalisation between releases).
func (p *Process) CountLog(substr string) (int, error) {
	data, err := p.Log()
	if err != nil {
		return 0, err
	}
	want := bytes.ToLower([]byte(substr))
	n := 0
	for _, line := range bytes.Split(data, []byte("\n")) {
		if bytes.Contains(bytes.ToLower(line), want) {
			n++
		}
	}
	return n, nil
}

// Tail returns the last n lines of the log, or why it could not be read.
func (p *Process) Tail(n int) string {
	data, err := p.Log()
	if err != nil {
		return err.Error()
	}
	lines := strings.Split(strings.TrimRight(string(data), "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

// WaitForLog polls the log every 50 ms until a line contains substr
// (ignoring case), the process exits, or ctx ends.
func (p *Process) WaitForLog(ctx context.Context, substr string) error {
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	for {
		if n, err := p.CountLog(substr); err != nil {
			return err
		} else if n > 0 {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("controller pid %d: no log line with %q: %w", p.PID(), substr, ctx.Err())
		case <-p.exited:
			return fmt.Errorf("controller pid %d exited (%s) before logging %q", p.PID(), p.exit(), substr)
		case <-tick.C:
		}
	}
}

// LeaderLog is what client-go's leader election logs when this process
// acquires the Lease (matched ignoring case by CountLog and WaitForLog).
const LeaderLog = "successfully acquired lease"
