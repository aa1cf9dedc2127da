package kcluster

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	"github.com/herald-lb/herald/internal/testenv"
)

// Helm runs bin/helm against the cluster, with its configuration, cache
// and data under the state dir (no user's), and returns its output.
func (c *Cluster) Helm(ctx context.Context, args ...string) (string, error) {
	bin, err := testenv.AssetPath("helm")
	if err != nil {
		return "", err
	}
	hctx, cancel := context.WithTimeout(ctx, 3*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(hctx, bin, append([]string{"--kubeconfig", c.Kubeconfig}, args...)...)
	home := filepath.Join(c.StateDir, "helm")
	cmd.Env = append(cmd.Environ(),
		"HELM_CONFIG_HOME="+filepath.Join(home, "config"),
		"HELM_CACHE_HOME="+filepath.Join(home, "cache"),
		"HELM_DATA_HOME="+filepath.Join(home, "data"))
	out, err := cmd.CombinedOutput()
	if err != nil {
		return string(out), fmt.Errorf("helm %s: %w: %s", strings.Join(args, " "), err, strings.TrimSpace(string(out)))
	}
	return string(out), nil
}

// Leftovers lists what an uninstall must not leave on the network: any
// of addrs on a node's interface (a VIP keepalived did not remove) and
// any route to them at the router (a BGP route nobody withdrew).
func (c *Cluster) Leftovers(ctx context.Context, addrs ...netip.Addr) ([]string, error) {
	var left []string
	for _, n := range c.nodes {
		out, err := c.ExecContext(ctx, n.NS, "ip", "-o", "addr", "show")
		if err != nil {
			return nil, err
		}
		for _, a := range addrs {
			if strings.Contains(out, " "+a.String()+"/") {
				left = append(left, fmt.Sprintf("%s on an interface of %s", a, n.Name))
			}
		}
	}
	for _, a := range addrs {
		routes, err := c.Routes(ctx, c.Router.NS, netip.PrefixFrom(a, a.BitLen()))
		if err != nil {
			return nil, err
		}
		for _, r := range routes {
			left = append(left, fmt.Sprintf("route %s via %v at the router", r.Dst, r.Gateways()))
		}
	}
	return left, nil
}

// InstallChart runs `helm install herald` of deploy/charts/herald into
// herald-system with the image tag of images (extra --set flags after)
// and waits until Herald runs everywhere.
func (c *Cluster) InstallChart(ctx context.Context, images HeraldImages, sets ...string) error {
	root, err := testenv.RepoRoot()
	if err != nil {
		return err
	}
	_, tag, _ := splitRef(images.Controller.Ref)
	args := []string{"install", "herald", filepath.Join(root, "deploy", "charts", "herald"), "-n", "herald-system",
		"--create-namespace", "--set", "image.tag=" + tag, "--wait", "--timeout", "3m"}
	for _, s := range sets {
		args = append(args, "--set", s)
	}
	if out, err := c.Helm(ctx, args...); err != nil {
		return fmt.Errorf("%w\n%s", err, out)
	}
	return c.WaitHerald(ctx, 3*time.Minute)
}

// CleanupStale removes what a killed cluster left on the host: container
// processes and cgroup roots of dead test processes, and the kernel
// sysctls their kubelets changed. rig.CleanupStale removes the rest.
func CleanupStale() error {
	return errors.Join(cleanupStaleCgroups(), restoreStaleSysctls())
}
