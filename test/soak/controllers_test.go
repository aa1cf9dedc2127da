package soak

import (
	"context"
	"fmt"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/herald-lb/herald/test/controllerproc"
)

// controllers runs the sequence of controller processes of one soak: one
// leads at a time, a restart replaces it.
type controllers struct {
	t    *testing.T
	ctx  context.Context
	opts controllerproc.Options

	current *controllerproc.Process
	// currentTk is the current process's way to leadership.
	currentTk *takeover
	all       []*controllerproc.Process
	// terms and kills count restarts by how the leader was stopped.
	terms, kills int

	wg sync.WaitGroup
	mu sync.Mutex
	// takeovers are, per process, when it started to wait for the Lease
	// and when it got it.
	takeovers []*takeover
}

// takeover times one process's way to leadership: from since (its start,
// or the stop of its predecessor) to when it logged that it leads.
type takeover struct {
	name  string
	since time.Time
	after string
	took  time.Duration
	err   error
}

func (tk *takeover) String() string {
	if tk.err != nil {
		return fmt.Sprintf("%s never led: %v", tk.name, tk.err)
	}
	return fmt.Sprintf("%s led %.1fs after %s", tk.name, tk.took.Seconds(), tk.after)
}

// start runs one more controller and notes, in the background, when it
// acquires the Lease.
func (c *controllers) start(after string) (*controllerproc.Process, *takeover) {
	c.t.Helper()
	opts := c.opts
	opts.Name = fmt.Sprintf("controller-%d", len(c.all)+1)
	p, err := controllerproc.Start(c.t, opts)
	if err != nil {
		c.t.Fatal(err)
	}
	c.all = append(c.all, p)
	tk := &takeover{name: opts.Name, since: time.Now(), after: after}
	c.mu.Lock()
	c.takeovers = append(c.takeovers, tk)
	c.mu.Unlock()
	c.wg.Go(func() {
		err := p.WaitForLog(c.ctx, controllerproc.LeaderLog)
		c.mu.Lock()
		defer c.mu.Unlock()
		tk.err, tk.took = err, time.Since(tk.since)
	})
	return p, tk
}

// restart replaces the leader. A SIGTERM hand-over stops the leader first
// (it releases the Lease on the way out) and then starts its successor; a
// SIGKILL starts the successor first, as a standby, and then kills the
// leader, whose Lease must expire before the standby takes over.
func (c *controllers) restart(kill bool) {
	c.t.Helper()
	old := c.current
	if kill {
		successor, tk := c.start("")
		exit, err := old.Stop(syscall.SIGKILL, 10*time.Second)
		if err != nil {
			c.t.Fatal(err)
		}
		// The standby cannot lead before the kill: the Lease was held.
		c.mu.Lock()
		tk.since, tk.after = time.Now(), "SIGKILL of the leader (standby)"
		c.mu.Unlock()
		c.kills++
		c.t.Logf("SIGKILLed the leader: %s", exit)
		c.current, c.currentTk = successor, tk
		return
	}
	exit, err := old.Stop(syscall.SIGTERM, stopWithin)
	if err != nil {
		c.t.Fatal(err)
	}
	if exit.Code != 0 {
		c.t.Errorf("leader after SIGTERM: %s, want exit status 0", exit)
	}
	c.terms++
	c.t.Logf("SIGTERMed the leader: %s", exit)
	c.current, c.currentTk = c.start("SIGTERM of the leader")
}

// leads reports whether the current process has logged that it leads.
func (c *controllers) leads() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.currentTk != nil && c.currentTk.took > 0 && c.currentTk.err == nil
}

// report waits for the background waits (ctx must be done or every
// process led) and returns the takeover times.
func (c *controllers) report() []string {
	c.wg.Wait()
	c.mu.Lock()
	defer c.mu.Unlock()
	out := make([]string, 0, len(c.takeovers))
	for _, tk := range c.takeovers {
		out = append(out, tk.String())
	}
	return out
}

// checkRunning fails the test when the leader exited on its own (a crash,
// or a lost Lease it could not renew).
func (c *controllers) checkRunning() {
	c.t.Helper()
	select {
	case <-c.current.Exited():
		exit, _ := c.current.Stop(syscall.SIGKILL, time.Second)
		c.t.Fatalf("controller %s exited on its own: %s", c.current.LogPath(), exit)
	default:
	}
}

// logs scans every process's log for what must never appear and counts
// what is worth knowing.
func (c *controllers) logs() (restoreConflicts, reconcileErrors int) {
	c.t.Helper()
	for _, p := range c.all {
		for _, bad := range []string{"WARNING: DATA RACE", "panic:"} {
			if n, err := p.CountLog(bad); err != nil {
				c.t.Error(err)
			} else if n > 0 {
				c.t.Errorf("%s: %d lines with %q", p.LogPath(), n, bad)
			}
		}
		n, _ := p.CountLog("conflicts with an older Service")
		restoreConflicts += n
		n, _ = p.CountLog("Reconciler error")
		reconcileErrors += n
	}
	return restoreConflicts, reconcileErrors
}
