package kcluster

import (
	"context"
	"fmt"
	"net/netip"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	"github.com/herald-lb/herald/test/bench/probelog"
	"github.com/herald-lb/herald/test/e2e/rig"
)

// probePkg is the client-side prober; the test process builds it once
// per cluster (the build cache makes that quick).
const probePkg = "github.com/herald-lb/herald/test/e2e/cmd/probe"

// StartProbe runs the prober in the client's namespace against
// http://ip/ every interval (each request on a new connection, timing out
// after 200 ms) and waits until it probes.
func (c *Cluster) StartProbe(ctx context.Context, name string, ip netip.Addr, interval time.Duration) (*rig.Proc, error) {
	if c.probe == "" {
		bin := filepath.Join(c.StateDir, "probe")
		bctx, cancel := context.WithTimeout(ctx, 3*time.Minute)
		out, err := exec.CommandContext(bctx, "go", "build", "-o", bin, probePkg).CombinedOutput()
		cancel()
		if err != nil {
			return nil, fmt.Errorf("build probe: %w: %s", err, strings.TrimSpace(string(out)))
		}
		c.probe = bin
	}
	return probelog.StartHTTP(ctx, c.Rig, c.Rig.Client.NS, name, c.probe, ip, interval, 10*time.Minute)
}

// StopProbe stops a prober and returns its probes.
func StopProbe(p *rig.Proc) ([]probelog.HTTP, error) { return probelog.StopHTTP(p) }
