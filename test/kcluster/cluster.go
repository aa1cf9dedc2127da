package kcluster

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/herald-lb/herald/internal/testenv"
	"github.com/herald-lb/herald/test/e2e/rig"
)

// Binaries are what the nodes run.
type Binaries struct {
	// Dir holds kubelet, containerd, containerd-shim-runc-v2 and ctr
	// (`make cluster-deps`); node.sh puts it first in PATH, so containerd
	// finds its own shim, not a Debian containerd 1.x one.
	Dir string
	// Runc is Debian's runc; CNI is Debian's containernetworking-plugins.
	Runc, CNI string
}

// KubeletPort is every kubelet's API port, inside its node's namespace.
const KubeletPort = 10250

// Programs the nodes need besides Binaries.Dir's.
var nodeBinaries = []string{"kubelet", "containerd", "containerd-shim-runc-v2", "ctr"}

// FindBinaries locates the node binaries next to kube-apiserver
// ($KUBEBUILDER_ASSETS or bin/), runc and the CNI plugins.
func FindBinaries() (Binaries, error) {
	var b Binaries
	var errs []error
	for _, name := range nodeBinaries {
		p, err := testenv.AssetPath(name)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		b.Dir = filepath.Dir(p)
	}
	var err error
	runc := "runc"
	if r := os.Getenv("HERALD_RUNC"); r != "" {
		runc = r // another runc to try, or a wrapper that logs
	}
	if b.Runc, err = exec.LookPath(runc); err != nil {
		errs = append(errs, fmt.Errorf("runc: %w", err))
	}
	b.CNI = "/usr/lib/cni"
	for _, p := range []string{"bridge", "host-local", "loopback"} {
		if _, err := os.Stat(filepath.Join(b.CNI, p)); err != nil {
			errs = append(errs, fmt.Errorf("CNI plugin: %w", err))
		}
	}
	if len(errs) > 0 {
		return b, fmt.Errorf("cluster binaries (`make cluster-deps`): %w", errors.Join(errs...))
	}
	return b, nil
}

// Options shape a Cluster.
type Options struct {
	// Nodes is the number of nodes; 0 means 1.
	Nodes int
	// Images are imported into every node besides the pause image.
	Images []Image
	// Logf receives progress lines; nil discards them.
	Logf func(format string, args ...any)
}

// Cluster is the rig's namespaces with a real control plane on the host
// and a containerd and kubelet in every node.
type Cluster struct {
	*rig.Rig
	// Env is the control plane; Client an admin client for it.
	Env    *testenv.Env
	Client client.Client
	// Kubeconfig is the admin kubeconfig (127.0.0.1:<port>, forwarded into
	// the router and every node) that the kubelets, the controller manager
	// and the scheduler use too: a kubelet may register any Node with it.
	Kubeconfig string
	// Pause is the sandbox image every node's containerd is told to use.
	Pause Image

	bin     Binaries
	opts    Options
	sysctls Sysctls
	absent  []string // hostPaths that did not exist before Up
	// mountsBefore are the host's mounts under /run, /var/log and
	// /var/lib before Up (CheckClean reports only new ones).
	mountsBefore []string
	nodes        []*Node
	apiServerLog *os.File
	probe        string // the prober's binary, once built
	// controlPlane are kube-controller-manager and kube-scheduler.
	controlPlane []*rig.Proc
}

// hostPaths are fixed paths a kubelet, containerd or the CNI plugins write
// to by default; node.sh hides them behind its own mounts, and CheckClean
// asserts that none appeared on the host.
var hostPaths = []string{
	"/var/lib/kubelet", "/var/lib/cni", "/var/lib/containerd",
	"/var/log/containers", "/var/log/pods", "/var/run/nri",
	"/etc/cni/net.d/10-herald.conflist", "/opt/cni", "/run/herald", "/run/containerd/s",
}

// Nodes are the started nodes, node1 first.
func (c *Cluster) Nodes() []*Node { return c.nodes }

// Up builds the rig, starts the control plane, then containerd and the
// kubelet in every node, imports the images and waits until every Node is
// Ready. On error everything started is torn down.
func Up(ctx context.Context, opts Options) (c *Cluster, err error) {
	if opts.Nodes == 0 {
		opts.Nodes = 1
	}
	if opts.Logf == nil {
		opts.Logf = func(string, ...any) {}
	}
	bin, err := FindBinaries()
	if err != nil {
		return nil, err
	}
	pause, err := FindImage("herald-pause")
	if err != nil {
		return nil, err
	}
	saved, err := originalSysctls()
	if err != nil {
		return nil, err
	}
	start := time.Now()
	r, err := rig.Up(ctx, rig.Options{Nodes: opts.Nodes, Logf: opts.Logf})
	if err != nil {
		return nil, fmt.Errorf("cluster up: %w", err)
	}
	c = &Cluster{Rig: r, Pause: pause, bin: bin, opts: opts, sysctls: saved}
	for _, p := range hostPaths {
		if _, err := os.Lstat(p); err != nil {
			c.absent = append(c.absent, p)
		}
	}
	if c.mountsBefore, err = mountsUnder("/run", "/var/log", "/var/lib"); err != nil {
		return nil, errors.Join(err, r.Down())
	}
	defer func() {
		if err != nil {
			c.DumpLogs(opts.Logf, 30)
			err = errors.Join(fmt.Errorf("cluster up: %w", err), c.Down())
			c = nil
		}
	}()

	egressConfig, err := c.startEgress(ctx)
	if err != nil {
		return c, err
	}
	auditPolicy, err := writeAuditPolicy(r.StateDir)
	if err != nil {
		return c, err
	}
	if c.apiServerLog, err = os.Create(filepath.Join(r.StateDir, "kube-apiserver.log")); err != nil {
		return c, err
	}
	if c.Env, err = testenv.New(c.apiServerOptions(egressConfig, auditPolicy, c.apiServerLog)); err != nil {
		return c, err
	}
	c.Client = c.Env.Client
	if c.Kubeconfig, err = c.Env.WriteKubeconfig(r.StateDir); err != nil {
		return c, err
	}
	if err := c.exposeAPIServer(ctx); err != nil {
		return c, err
	}
	if err := c.startControllers(ctx); err != nil {
		return c, err
	}
	for i, h := range r.Nodes {
		n, err := c.startNode(ctx, i+1, h)
		if err != nil {
			return c, err
		}
		if err := n.importImages(ctx, append([]Image{pause}, opts.Images...)...); err != nil {
			return c, err
		}
	}
	if err := c.addPodRoutes(ctx); err != nil {
		return c, err
	}
	opts.Logf("cluster: containerd up in %d nodes, images imported (%v)", len(c.nodes), time.Since(start).Round(time.Millisecond))
	for _, n := range c.nodes {
		err := rig.Eventually(ctx, 90*time.Second, 200*time.Millisecond, func(ctx context.Context) error {
			if !n.Proc.Running() {
				return fmt.Errorf("node.sh exited: %v", n.Proc.Err())
			}
			if err := c.checkControllers(); err != nil {
				return err
			}
			var node corev1.Node
			if err := c.Client.Get(ctx, client.ObjectKey{Name: n.Name}, &node); err != nil {
				return err
			}
			return Ready(&node)
		})
		if err != nil {
			return c, fmt.Errorf("node %s: %w\nkubelet.log:\n%s", n.Name, err, n.Log("kubelet", 30))
		}
	}
	opts.Logf("cluster up: %d nodes Ready (%v)", len(c.nodes), time.Since(start).Round(time.Millisecond))
	return c, nil
}

// DumpLogs prints the tails of every node's containerd and kubelet logs,
// after the rig's process logs.
func (c *Cluster) DumpLogs(logf func(format string, args ...any), lines int) {
	c.Rig.DumpLogs(logf, lines)
	for _, n := range c.nodes {
		for _, comp := range []string{"containerd", "kubelet"} {
			logf("--- %s of %s, last %d lines:\n%s", comp, n.Name, lines, n.Log(comp, lines))
		}
	}
}

// Down stops the nodes (kubelet, then containerd, then what is left in
// their cgroup roots, by PID), the rig, the control plane, and restores
// the kernel sysctls; then it checks that nothing is left: no mount under
// the state dir, no cgroup root, the sysctls as before.
func (c *Cluster) Down() error {
	var errs []error
	for _, n := range c.nodes {
		if err := n.stop(); err != nil {
			errs = append(errs, err)
		}
	}
	if err := c.Rig.Down(); err != nil {
		errs = append(errs, err)
	}
	if c.Env != nil {
		if err := c.Env.Stop(); err != nil {
			errs = append(errs, err)
		}
	}
	if c.apiServerLog != nil {
		if err := c.apiServerLog.Close(); err != nil {
			errs = append(errs, err)
		}
	}
	if err := releaseSysctls(c.sysctls); err != nil {
		errs = append(errs, err)
	}
	if err := c.CheckClean(); err != nil {
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}

// CheckClean reports what the cluster left on the host: mounts under the
// state dir, /run/containerd or /var/log, files at hostPaths, cgroup
// roots, changed sysctls.
func (c *Cluster) CheckClean() error {
	var errs []error
	mounts, err := mountsUnder(c.StateDir, "/run", "/var/log", "/var/lib")
	if err != nil {
		errs = append(errs, err)
	} else if left := slices.DeleteFunc(mounts, func(m string) bool { return slices.Contains(c.mountsBefore, m) }); len(left) > 0 {
		errs = append(errs, fmt.Errorf("mounts left on the host: %v", left))
	}
	for _, p := range c.absent {
		if _, err := os.Lstat(p); err == nil {
			errs = append(errs, fmt.Errorf("%s appeared on the host", p))
		}
	}
	for _, n := range c.nodes {
		dirs, err := cgroupDirs(n.cgroupName())
		if err != nil {
			errs = append(errs, err)
		} else if len(dirs) > 0 {
			errs = append(errs, fmt.Errorf("node %s: cgroup dirs left: %v", n.Name, dirs))
		}
	}
	if d, err := c.sysctls.Diff(); err != nil {
		errs = append(errs, err)
	} else if d != "" {
		errs = append(errs, fmt.Errorf("sysctls not restored: %s", d))
	}
	return errors.Join(errs...)
}

// mountsUnder lists the host's mount points at or below any of dirs.
func mountsUnder(dirs ...string) ([]string, error) {
	f, err := os.Open("/proc/self/mountinfo")
	if err != nil {
		return nil, fmt.Errorf("mounts: %w", err)
	}
	defer f.Close()
	var out []string
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		if len(fields) < 5 {
			continue
		}
		mp := fields[4]
		for _, d := range dirs {
			if mp == d || strings.HasPrefix(mp, d+"/") {
				out = append(out, mp)
			}
		}
	}
	return out, sc.Err()
}

// addPodRoutes gives every node a route to every other node's pod range
// via that node's LAN address, as a cloud route table or a flat CNI would
// (the bridge plugin only knows its own node's range), and the router a
// route to every node's range: the API server's egress proxy and the
// address the API server is advertised at live there.
func (c *Cluster) addPodRoutes(ctx context.Context) error {
	for _, m := range c.nodes {
		if _, err := c.ExecContext(ctx, c.Router.NS, "ip", "route", "replace", m.PodCIDR.String(), "via", m.LAN.IPv4.Addr().String()); err != nil {
			return fmt.Errorf("router: route to %s's pods: %w", m.Name, err)
		}
	}
	for _, n := range c.nodes {
		for _, m := range c.nodes {
			if m == n {
				continue
			}
			if _, err := c.ExecContext(ctx, n.NS, "ip", "route", "replace", m.PodCIDR.String(), "via", m.LAN.IPv4.Addr().String()); err != nil {
				return fmt.Errorf("node %s: route to %s's pods: %w", n.Name, m.Name, err)
			}
		}
	}
	return nil
}
