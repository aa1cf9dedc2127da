package cluster

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/herald-lb/herald/internal/testenv"
	"github.com/herald-lb/herald/test/e2e/rig"
)

// Ports the testbed's processes listen on inside each node's namespace.
const (
	// BackendPort is where every node's httpname backend answers.
	BackendPort = 8080
	// SpeakerMetricsPort and SpeakerProbePort are herald-speaker's.
	SpeakerMetricsPort = 7472
	SpeakerProbePort   = 7473
	// KubeProxyHealthPort is kube-proxy's /healthz (200 once it synced).
	KubeProxyHealthPort = 10256
)

// SpeakerNamespace is where the speakers keep their Leases, as in the
// release manifest.
const SpeakerNamespace = "herald-system"

// PodCIDR is the cluster's pod range as kube-proxy is told it; no pod
// has an address in it (backends use their node's), it only tells
// kube-proxy which sources are outside the cluster.
const PodCIDR = "10.244.0.0/16"

// readyTimeout bounds each wait of Up for a process to be ready.
const readyTimeout = 90 * time.Second

// Options shape a Cluster. The zero value is three nodes, each running
// kube-proxy, a backend and herald-speaker, with BIRD as the ToR peering
// with every node (AS rig.NodeAS) and herald-controller on node1.
type Options struct {
	// Binaries are required (Build, or BuildOnce in tests).
	Binaries Binaries
	// Nodes is the number of nodes; 0 means 3.
	Nodes int
	// NoSpeakers leaves the speakers to the caller (Node.StartSpeaker).
	NoSpeakers bool
	// NoDataPath starts neither kube-proxy nor the backends: for
	// benchmarks of the control path (Service to route), where three
	// kube-proxies resyncing would only add noise on two cores.
	NoDataPath bool
	// SpeakerArgs are extra flags for every speaker Up starts.
	SpeakerArgs []string
	// ControllerArgs are extra flags for herald-controller. Settings the
	// two binaries must agree on (the MetalLB opt-ins) go into both this
	// and SpeakerArgs, as herald-config feeds both in a real install.
	ControllerArgs []string
	// VIP runs VIP mode: herald-keepalived on every node, started before
	// the speakers, and every speaker told the directory they share
	// (--vip-dir). Off, neither happens, so the other suites are
	// unaffected.
	VIP bool
	// Webhooks runs herald-controller with its admission webhooks, and the
	// API server calls them through a relay from the host's loopback into
	// node1 (Cluster.installWebhooks); Up returns once they answer. Off,
	// the controller runs without them, as the other suites expect.
	Webhooks bool
	// KeepalivedBinary is the keepalived the supervisors run; empty means
	// DefaultKeepalived.
	KeepalivedBinary string
	// KeepalivedArgs are extra flags for every herald-keepalived Up starts.
	KeepalivedArgs []string
	// ToR is BIRD's configuration; nil means rig's BirdToRConfig with
	// dynamic neighbours in AS rig.NodeAS.
	ToR *rig.BirdConfig
	// APIServerFlags are passed to testenv.
	APIServerFlags map[string][]string
	// Logf receives progress lines; nil discards them.
	Logf func(format string, args ...any)
}

// Cluster is the end-to-end testbed of DESIGN §4: the rig's namespaces,
// a real kube-apiserver and etcd on the host's loopback (forwarded into
// every node), Node objects, and per node the real kube-proxy (iptables
// mode), an HTTP backend and herald-speaker; BIRD as the ToR; and
// herald-controller on node1.
type Cluster struct {
	*rig.Rig
	// Env is the control plane; Client is an admin client for it.
	Env    *testenv.Env
	Client client.Client
	// Kubeconfig is an admin kubeconfig for 127.0.0.1:<port>, which works
	// on the host and, through the forwarders, inside every node.
	Kubeconfig string
	// ToR is BIRD in the router namespace.
	ToR *rig.Bird
	// Controller is herald-controller, running in node1's namespace.
	Controller *rig.Proc
	// Nodes are in the rig's order: node1, node2, ...
	Nodes []*Node

	opts  Options
	downs int // Down calls so far
}

// Up builds the testbed; on error everything started is torn down.
func Up(ctx context.Context, opts Options) (c *Cluster, err error) {
	if opts.Binaries.Speaker == "" {
		return nil, errors.New("cluster up: Options.Binaries is required")
	}
	if opts.Logf == nil {
		opts.Logf = func(string, ...any) {}
	}
	if opts.VIP {
		if err := (&Cluster{opts: opts}).checkKeepalived(); err != nil {
			return nil, fmt.Errorf("cluster up: %w", err)
		}
	}
	start := time.Now()
	r, err := rig.Up(ctx, rig.Options{Nodes: opts.Nodes, NSForward: opts.Binaries.NSForward, Logf: opts.Logf})
	if err != nil {
		return nil, fmt.Errorf("cluster up: %w", err)
	}
	c = &Cluster{Rig: r, opts: opts}
	defer func() {
		if err != nil {
			err = errors.Join(fmt.Errorf("cluster up: %w", err), c.Down())
			c = nil
		}
	}()

	env, err := testenv.New(testenv.Options{DualStack: true, APIServerFlags: opts.APIServerFlags})
	if err != nil {
		return c, err
	}
	c.Env, c.Client = env, env.Client
	if c.Kubeconfig, err = env.WriteKubeconfig(r.StateDir); err != nil {
		return c, err
	}
	apiServer := env.APIServerURL().Host
	var nss []string
	for _, h := range r.Nodes {
		nss = append(nss, h.NS)
	}
	if err := r.ForwardHost(ctx, apiServer, nss...); err != nil {
		return c, err
	}
	opts.Logf("control plane at %s, forwarded into %d nodes (%v)", apiServer, len(nss), time.Since(start).Round(time.Millisecond))

	// The speakers' namespace: their Leases (Layer2 mode) live there.
	if err := c.Client.Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: SpeakerNamespace}}); err != nil {
		return c, fmt.Errorf("create namespace %s: %w", SpeakerNamespace, err)
	}

	tor := r.BirdToRConfig(rig.NodeAS)
	if opts.ToR != nil {
		tor = *opts.ToR
	}
	if c.ToR, err = r.StartToR(ctx, tor); err != nil {
		return c, err
	}

	for _, h := range r.Nodes {
		n := &Node{Host: h, c: c}
		c.Nodes = append(c.Nodes, n)
		if err := n.register(ctx); err != nil {
			return c, err
		}
		if opts.NoDataPath {
			continue
		}
		if err := n.startKubeProxy(); err != nil {
			return c, err
		}
		if err := n.startBackend(); err != nil {
			return c, err
		}
	}
	if opts.Webhooks {
		if err := c.installWebhooks(ctx); err != nil {
			return c, err
		}
	}
	if err := c.startController(); err != nil {
		return c, err
	}
	if opts.Webhooks {
		if err := c.WaitWebhooks(ctx); err != nil {
			return c, fmt.Errorf("%w\n%s", err, c.Controller.Tail(20))
		}
	}
	if opts.VIP {
		for _, n := range c.Nodes {
			if err := n.StartKeepalived(opts.KeepalivedArgs...); err != nil {
				return c, err
			}
		}
		for _, n := range c.Nodes {
			if err := n.WaitKeepalivedReady(ctx); err != nil {
				return c, err
			}
		}
	}
	if !opts.NoSpeakers {
		for _, n := range c.Nodes {
			if err := n.StartSpeaker(opts.SpeakerArgs...); err != nil {
				return c, err
			}
		}
	}
	for _, n := range c.Nodes {
		if err := n.waitReady(ctx, !opts.NoDataPath, !opts.NoSpeakers); err != nil {
			return c, err
		}
	}
	opts.Logf("cluster up: %d nodes (kube-proxy and backends: %v, speakers: %v), ToR, controller (%v)",
		len(c.Nodes), !opts.NoDataPath, !opts.NoSpeakers, time.Since(start).Round(time.Millisecond))
	return c, nil
}

// Down stops every process (by PID), deletes the namespaces and stops
// the control plane. It is idempotent. In VIP mode the supervisors go
// first, with SIGTERM, and no keepalived may outlive them.
func (c *Cluster) Down() error {
	var errs []error
	if c.opts.VIP && c.downs == 0 {
		errs = append(errs, c.StopKeepaliveds())
	}
	c.downs++
	errs = append(errs, c.Rig.Down())
	if c.Env != nil {
		errs = append(errs, c.Env.Stop())
		c.Env = nil
	}
	return errors.Join(errs...)
}

// Node returns the node called name ("node1"), or nil.
func (c *Cluster) Node(name string) *Node {
	for _, n := range c.Nodes {
		if n.Name == name {
			return n
		}
	}
	return nil
}

// NodeByAddr returns the node whose LAN address is a, or nil.
func (c *Cluster) NodeByAddr(a netip.Addr) *Node {
	for _, n := range c.Nodes {
		if n.LAN.IPv4.Addr() == a || n.LAN.IPv6.Addr() == a {
			return n
		}
	}
	return nil
}

// startController runs herald-controller in node1's namespace, as a pod
// with host networking would; its webhooks only with Options.Webhooks.
func (c *Cluster) startController() error {
	argv := []string{
		c.opts.Binaries.Controller,
		"--kubeconfig=" + c.Kubeconfig,
		"--leader-elect=false",
		"--metrics-bind-address=0",
		"--health-probe-bind-address=0",
	}
	if c.opts.Webhooks {
		argv = append(argv, c.controllerWebhookArgs()...)
	} else {
		argv = append(argv, "--enable-webhooks=false")
	}
	argv = append(argv, c.opts.ControllerArgs...)
	p, err := c.Start(c.Nodes[0].NS, "herald-controller", argv)
	if err != nil {
		return err
	}
	c.Controller = p
	return nil
}

// Curl fetches url from the client namespace and returns the body (the
// backend's name for httpname) with surrounding space trimmed.
func (c *Cluster) Curl(ctx context.Context, url string) (string, error) {
	out, err := c.ExecContext(ctx, c.Rig.Client.NS, "curl", "-sS", "--max-time", "2", url)
	if err != nil {
		return "", fmt.Errorf("curl %s from the client: %w", url, err)
	}
	return strings.TrimSpace(out), nil
}
