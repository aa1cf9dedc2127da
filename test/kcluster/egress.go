package kcluster

import (
	"context"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/herald-lb/herald/test/e2e/rig"
)

// startEgress starts the API server's way into the cluster network: an
// nsforward HTTP CONNECT proxy in the router's namespace, listening on a
// unix socket in the state dir, which the API server's egress selector
// sends its "cluster" traffic to (webhook and conversion calls to pod
// IPs, logs, exec and port-forward to the kubelets). The router has a
// route to every node's pod range, so the proxy reaches pods and kubelets
// the way a control-plane node of a flat pod network would, and the host
// still gets no testbed address or route. It returns the egress selector
// configuration file.
func (c *Cluster) startEgress(ctx context.Context) (string, error) {
	bin, err := c.NSForwardBinary(ctx)
	if err != nil {
		return "", err
	}
	sock := filepath.Join(c.StateDir, "egress.sock")
	cfgFile := filepath.Join(c.StateDir, "egress-selector.yaml")
	cfg := fmt.Sprintf(`apiVersion: apiserver.k8s.io/v1beta1
kind: EgressSelectorConfiguration
egressSelections:
- name: cluster
  connection:
    proxyProtocol: HTTPConnect
    transport:
      uds:
        udsName: %s
`, sock)
	if err := os.WriteFile(cfgFile, []byte(cfg), 0o644); err != nil {
		return "", fmt.Errorf("egress: %w", err)
	}
	_ = os.Remove(sock)
	allow := []string{rig.LANv4.String(), PodNetwork.String()}
	p, err := c.Start(c.Router.NS, "egress", []string{bin, "-listen", "unix:" + sock,
		"-connect", "http-connect", "-allow", strings.Join(allow, ",")})
	if err != nil {
		return "", fmt.Errorf("egress: %w", err)
	}
	err = rig.Eventually(ctx, 10*time.Second, 10*time.Millisecond, func(context.Context) error {
		if !p.Running() {
			return fmt.Errorf("exited: %v", p.Err())
		}
		if !strings.Contains(p.Tail(5), "nsforward: listening on") {
			return fmt.Errorf("not listening yet")
		}
		return nil
	})
	if err != nil {
		return "", fmt.Errorf("egress proxy in %s: %w", c.Router.NS, err)
	}
	return cfgFile, nil
}

// PodNetwork holds every node's pod range (podCIDR).
var PodNetwork = netip.MustParsePrefix("10.244.0.0/16")
