package cluster

import (
	"context"
	"fmt"
	"os"
	"testing"
	"time"

	"github.com/go-logr/logr"
	ctrl "sigs.k8s.io/controller-runtime"

	"github.com/herald-lb/herald/test/e2e/rig"
)

// upTimeout bounds Setup: a cold build of the commands plus the control
// plane and the processes' first sync.
const upTimeout = 15 * time.Minute

// Setup builds (once per process) and brings up a cluster for one test,
// skipping it loudly when the machine cannot run the rig. The cluster is
// torn down when the test ends; on failure the tail of every process's
// log is printed and the state dir kept.
func Setup(tb testing.TB, opts Options) *Cluster {
	tb.Helper()
	rig.SkipUnlessAvailable(tb)
	ctx, cancel := context.WithTimeout(context.Background(), upTimeout)
	defer cancel()
	if opts.Binaries.Speaker == "" {
		start := time.Now()
		bins, err := BuildOnce(ctx)
		if err != nil {
			tb.Fatal(err)
		}
		tb.Logf("TIMING build of the commands: %v", time.Since(start).Round(time.Millisecond))
		opts.Binaries = bins
	}
	if opts.Logf == nil {
		opts.Logf = tb.Logf
	}
	c, err := Up(ctx, opts)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() {
		if tb.Failed() {
			c.DumpLogs(tb.Logf, 40)
		}
		if err := c.Down(); err != nil {
			tb.Errorf("cluster down: %v", err)
		}
		if tb.Failed() {
			tb.Logf("testbed state kept in %s", c.StateDir)
			return
		}
		if err := os.RemoveAll(c.StateDir); err != nil {
			tb.Errorf("cluster: remove state dir: %v", err)
		}
	})
	return c
}

// BenchMain is the TestMain of a benchmark package built on the testbed:
// controller-runtime's log discarded (envtest's lines would drown the
// benchmark's own), rig.Main around the run, and the shared build removed
// after it. pkg names the package in its one error line.
func BenchMain(m *testing.M, pkg string) int {
	ctrl.SetLogger(logr.Discard())
	code := rig.Main(m)
	if err := RemoveBuild(); err != nil {
		fmt.Fprintf(os.Stderr, "%s: remove the build: %v\n", pkg, err)
	}
	return code
}
