package rig

import (
	"context"
	"fmt"
	"os"
	"testing"
	"time"
)

// upTimeout bounds Setup's Up: building takes about half a second.
const upTimeout = time.Minute

// Main is the body of an e2e package's TestMain: it cleans up what
// crashed earlier runs left (CleanupStale), runs the tests, and removes
// this process's own leftovers (the nsforward build). It returns the exit
// code for os.Exit.
func Main(m *testing.M) int {
	if Available() == nil {
		if err := CleanupStale(); err != nil {
			fmt.Fprintln(os.Stderr, "rig: clean up stale rigs:", err)
			return 1
		}
	}
	code := m.Run()
	if err := os.RemoveAll(stateDirOf(fmt.Sprintf("%s%d-0-", NamePrefix, os.Getpid()))); err != nil {
		fmt.Fprintln(os.Stderr, "rig: remove build dir:", err)
	}
	return code
}

// SkipUnlessAvailable skips the test, loudly (on stderr too, so that a
// skipped suite is seen in a plain `go test` run), when the machine cannot
// run a rig: not root, or programs missing.
func SkipUnlessAvailable(tb testing.TB) {
	tb.Helper()
	if err := Available(); err != nil {
		msg := fmt.Sprintf("SKIPPING the network end-to-end test %s: %v.\n"+
			"It needs root and `make deps` (bird2, iproute2, iputils-ping, iptables, procps); `make test` as root installs them.", tb.Name(), err)
		fmt.Fprintln(os.Stderr, "\n*** "+msg+" ***")
		tb.Skip(msg)
	}
}

// Setup brings a rig up for one test and tears it down when the test
// ends, also when it fails or panics. On failure it prints the tail of
// every process's log and keeps the state dir; on success it removes it.
func Setup(tb testing.TB, opts Options) *Rig {
	tb.Helper()
	SkipUnlessAvailable(tb)
	if opts.Logf == nil {
		opts.Logf = tb.Logf
	}
	ctx, cancel := context.WithTimeout(context.Background(), upTimeout)
	defer cancel()
	r, err := Up(ctx, opts)
	if err != nil {
		tb.Fatalf("rig up: %v", err)
	}
	tb.Cleanup(func() {
		if tb.Failed() {
			r.DumpLogs(tb.Logf, 40)
		}
		if err := r.Down(); err != nil {
			tb.Errorf("rig down: %v", err)
		}
		if tb.Failed() {
			tb.Logf("rig state kept in %s", r.StateDir)
			return
		}
		if err := os.RemoveAll(r.StateDir); err != nil {
			tb.Errorf("rig: remove state dir: %v", err)
		}
	})
	return r
}

// DumpLogs prints the last lines of every process's log through logf.
func (r *Rig) DumpLogs(logf func(format string, args ...any), lines int) {
	for _, p := range r.Procs() {
		state := "running"
		if !p.Running() {
			state = fmt.Sprintf("exited: %v", p.Err())
		}
		logf("--- %s in %s (pid %d, %s), last %d lines of %s:\n%s", p.Name, p.NS, p.PID(), state, lines, p.Log, p.Tail(lines))
	}
}
