package kcluster

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"

	"github.com/herald-lb/herald/test/e2e/rig"
)

// Node is one Kubernetes node: a rig namespace running containerd and
// the kubelet (one node.sh process, see the package doc).
type Node struct {
	rig.Host
	// PodCIDR is the range its CNI config hands out (host-local).
	PodCIDR netip.Prefix
	// Dir is the node's state dir (configs, logs, containerd's and the
	// kubelet's roots).
	Dir string
	// Proc is node.sh; containerd and the kubelet are its children.
	Proc *rig.Proc

	cfg nodeConfig
	c   *Cluster
}

// podCIDR is node i's (1-based) pod range.
func podCIDR(i int) netip.Prefix {
	return netip.PrefixFrom(netip.AddrFrom4([4]byte{10, 244, byte(i), 0}), 24)
}

// withNSEnter makes rig.Start run argv through nsenter and unshare
// instead of `ip netns exec`: the node's network namespace, the host's
// /sys (with the cgroup hierarchies) and a fresh private mount namespace
// that containerd and the kubelet share (package doc).
func withNSEnter(ns string) rig.StartOption {
	return func(c *exec.Cmd) {
		// rig.Start built: ip netns exec <ns> argv...
		argv := c.Args[4:]
		c.Path, _ = exec.LookPath("nsenter")
		c.Args = append([]string{"nsenter", "--net=/run/netns/" + ns,
			"unshare", "--mount", "--propagation", "private", "--"}, argv...)
	}
}

// startNode writes node i's configs, makes its cgroup root, starts node.sh
// and waits for containerd to answer.
func (c *Cluster) startNode(ctx context.Context, i int, h rig.Host) (*Node, error) {
	n := &Node{Host: h, PodCIDR: podCIDR(i), Dir: filepath.Join(c.StateDir, h.Name), c: c}
	n.cfg = nodeConfig{
		Name:         h.Name,
		IP:           h.LAN.IPv4.Addr().String(),
		Dir:          n.Dir,
		Bin:          c.bin.Dir,
		Runc:         c.bin.Runc,
		CNIBin:       c.bin.CNI,
		PodCIDR:      n.PodCIDR.String(),
		CgroupRoot:   "/" + n.cgroupName(),
		Socket:       filepath.Join(n.Dir, "containerd", "containerd.sock"),
		Kubeconfig:   c.Kubeconfig,
		SandboxImage: c.Pause.Ref,
		LeaseSeconds: int(nodeLeaseDuration / time.Second),
	}
	for _, d := range []string{"containerd", "cni/net.d", "cni/ipam", "var-log", "kubelet", "pod-logs"} {
		if err := os.MkdirAll(filepath.Join(n.Dir, d), 0o755); err != nil {
			return nil, fmt.Errorf("node %s: %w", h.Name, err)
		}
	}
	for name, path := range map[string]string{
		"containerd.toml": filepath.Join(n.Dir, "containerd.toml"),
		"kubelet.yaml":    filepath.Join(n.Dir, "kubelet.yaml"),
		"cni.conflist":    filepath.Join(n.Dir, "cni", "net.d", "10-herald.conflist"),
		"node.sh":         filepath.Join(n.Dir, "node.sh"),
	} {
		data, err := render(name, n.cfg)
		if err != nil {
			return nil, err
		}
		if err := os.WriteFile(path, data, 0o644); err != nil {
			return nil, fmt.Errorf("node %s: %w", h.Name, err)
		}
	}
	if err := makeCgroupRoot(n.cgroupName()); err != nil {
		return nil, fmt.Errorf("node %s: %w", h.Name, err)
	}
	c.nodes = append(c.nodes, n) // from here on Down removes its cgroup root
	p, err := c.Start(h.NS, "node-"+h.Name, []string{"sh", filepath.Join(n.Dir, "node.sh")}, withNSEnter(h.NS))
	if err != nil {
		return nil, err
	}
	n.Proc = p
	err = rig.Eventually(ctx, 30*time.Second, 50*time.Millisecond, func(context.Context) error {
		if !p.Running() {
			return fmt.Errorf("node.sh exited: %v", p.Err())
		}
		if !strings.Contains(p.Tail(50), "node.sh: containerd ready") {
			return fmt.Errorf("containerd not ready")
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("node %s: %w\n%s\ncontainerd.log:\n%s", h.Name, err, p.Tail(20), n.Log("containerd", 20))
	}
	return n, nil
}

// cgroupName is the node's cgroup root below every hierarchy: the rig's
// prefix keeps two test processes' nodes apart.
func (n *Node) cgroupName() string {
	return strings.TrimSuffix(n.c.Prefix, "-") + "-" + n.Name
}

// Log returns the last lines of the node's containerd or kubelet log.
func (n *Node) Log(component string, lines int) string {
	return rig.TailFile(filepath.Join(n.Dir, component+".log"), lines)
}

// stop ends node.sh (which stops the kubelet, then containerd), then every
// container left in the node's cgroup root, by PID, and removes the root.
func (n *Node) stop() error {
	var errs []error
	start := time.Now()
	if n.Proc != nil {
		if err := n.Proc.Stop(20 * time.Second); err != nil {
			errs = append(errs, fmt.Errorf("node %s: %w", n.Name, err))
		}
	}
	stopped := time.Since(start)
	killed, err := removeCgroupRoot(n.cgroupName())
	if err != nil {
		errs = append(errs, fmt.Errorf("node %s: %w", n.Name, err))
	}
	n.c.opts.Logf("node %s down: kubelet and containerd stopped in %v, %d container processes killed by PID, cgroup root removed",
		n.Name, stopped.Round(time.Millisecond), killed)
	return errors.Join(errs...)
}

// Ready reports whether the Node object says Ready=True.
func Ready(node *corev1.Node) error {
	for _, c := range node.Status.Conditions {
		if c.Type == corev1.NodeReady {
			if c.Status == corev1.ConditionTrue {
				return nil
			}
			return fmt.Errorf("node %s: Ready=%s: %s", node.Name, c.Status, c.Message)
		}
	}
	return fmt.Errorf("node %s: no Ready condition yet", node.Name)
}
