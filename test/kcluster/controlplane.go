package kcluster

import (
	"context"
	"fmt"
	"io"
	"net/netip"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/herald-lb/herald/internal/testenv"
)

// The `kubernetes` Service's ClusterIP: the first address of testenv's
// service range.
const kubernetesServiceIP = "10.96.0.1"

// NodeMonitorGracePeriod is how long kube-controller-manager waits for a
// node's lease before it marks the node NotReady and its pods not ready
// (Kubernetes' own endpoint removal); the kubelets renew their leases
// every nodeLeaseRenewal.
const (
	NodeMonitorGracePeriod = 10 * time.Second
	nodeLeaseDuration      = 8 * time.Second // the kubelet renews at a quarter: 2 s
)

// apiServerOptions are the control plane's settings for a cluster whose
// pods and nodes call the API server at the router's LAN address
// (advertised, so the `kubernetes` Service's endpoint is there too) and
// whose webhooks the API server calls at their pods' addresses through
// the egress proxy.
func (c *Cluster) apiServerOptions(egressConfig, auditPolicy string, log io.Writer) testenv.Options {
	router := c.Router.LAN.IPv4.Addr().String()
	return testenv.Options{
		APIServerLog:    log,
		NoCRDs:          true, // Herald's install brings them
		ServiceAccounts: true,
		ServingHosts: []string{kubernetesServiceIP, router, "kubernetes", "kubernetes.default",
			"kubernetes.default.svc", "kubernetes.default.svc.cluster.local"},
		APIServerFlags: map[string][]string{
			"advertise-address":           {router},
			"egress-selector-config-file": {egressConfig},
			// Webhook and conversion calls go to the endpoints (pod IPs),
			// which the egress proxy reaches, not to ClusterIPs, which only
			// kube-proxy on a node translates.
			"enable-aggregator-routing":       {"true"},
			"kubelet-preferred-address-types": {"InternalIP"},
			"audit-policy-file":               {auditPolicy},
			"audit-log-path":                  {c.AuditLog()},
			"audit-log-format":                {"json"},
			"audit-log-mode":                  {"blocking"},
		},
	}
}

// AuditLog is the API server's audit log (JSON lines): every request of
// Herald's service accounts, at Metadata level, for the RBAC check.
func (c *Cluster) AuditLog() string { return filepath.Join(c.StateDir, "audit.log") }

// writeAuditPolicy logs Herald's service accounts' requests only.
func writeAuditPolicy(dir string) (string, error) {
	path := filepath.Join(dir, "audit-policy.yaml")
	policy := `apiVersion: audit.k8s.io/v1
kind: Policy
omitStages: ["RequestReceived"]
rules:
- level: Metadata
  userGroups: ["system:serviceaccounts:herald-system"]
- level: None
`
	if err := os.WriteFile(path, []byte(policy), 0o644); err != nil {
		return "", fmt.Errorf("audit policy: %w", err)
	}
	return path, nil
}

// exposeAPIServer makes the API server reachable where the cluster
// expects it: at the router's LAN address and the secure port (the
// `kubernetes` Service's endpoint, for pods through kube-proxy and for
// kube-proxy itself), and on the loopback of the router (for the
// controller manager and the scheduler, which run there) and of every node
// (for the kubelets).
func (c *Cluster) exposeAPIServer(ctx context.Context) error {
	host := c.Env.APIServerURL().Host
	ap, err := netip.ParseAddrPort(host)
	if err != nil {
		return fmt.Errorf("API server address %q: %w", host, err)
	}
	nss := []string{c.Router.NS}
	for _, h := range c.Rig.Nodes {
		nss = append(nss, h.NS)
	}
	if err := c.ForwardHost(ctx, host, nss...); err != nil {
		return err
	}
	return c.ForwardHostAt(ctx, host, c.Router.NS, netip.AddrPortFrom(c.Router.LAN.IPv4.Addr(), ap.Port()))
}

// APIServerPort is the API server's secure port, which the router's
// address serves too.
func (c *Cluster) APIServerPort() int {
	p, _ := strconv.Atoi(c.Env.APIServerURL().Port())
	return p
}

// startControllers runs kube-controller-manager and kube-scheduler in
// the router's namespace (off the nodes, so that a node's loss leaves the
// control plane up), with the admin kubeconfig, no leader election and no
// serving port. The controller manager publishes the API server's CA as
// kube-root-ca.crt (pods verify the API server with it), creates every
// namespace's default ServiceAccount, runs the Deployments, ReplicaSets,
// DaemonSets and EndpointSlices, and marks a silent node's pods not ready
// after NodeMonitorGracePeriod.
func (c *Cluster) startControllers(ctx context.Context) error {
	kcm, err := testenv.AssetPath("kube-controller-manager")
	if err != nil {
		return err
	}
	sched, err := testenv.AssetPath("kube-scheduler")
	if err != nil {
		return err
	}
	certs := c.Env.CertDir()
	for _, argv := range [][]string{{
		kcm,
		"--kubeconfig=" + c.Kubeconfig,
		"--leader-elect=false",
		"--secure-port=0",
		"--root-ca-file=" + filepath.Join(certs, testenv.CAFile),
		"--service-account-private-key-file=" + filepath.Join(certs, "sa-signer.key"),
		"--service-cluster-ip-range=" + testenv.ServiceCIDRv4,
		"--cluster-cidr=" + PodNetwork.String(),
		"--node-monitor-period=1s",
		"--node-monitor-grace-period=" + NodeMonitorGracePeriod.String(),
		"--concurrent-service-endpoint-syncs=5",
		"--v=1",
	}, {
		sched,
		"--kubeconfig=" + c.Kubeconfig,
		"--authentication-kubeconfig=" + c.Kubeconfig,
		"--authorization-kubeconfig=" + c.Kubeconfig,
		"--leader-elect=false",
		"--secure-port=0",
		"--v=1",
	}} {
		name := filepath.Base(argv[0])
		p, err := c.Start(c.Router.NS, name, argv)
		if err != nil {
			return fmt.Errorf("%s: %w", name, err)
		}
		c.controlPlane = append(c.controlPlane, p)
	}
	return nil
}

// checkControllers reports a controller manager or scheduler that exited.
func (c *Cluster) checkControllers() error {
	var dead []string
	for _, p := range c.controlPlane {
		if !p.Running() {
			dead = append(dead, fmt.Sprintf("%s exited: %v\n%s", p.Name, p.Err(), p.Tail(20)))
		}
	}
	if len(dead) > 0 {
		return fmt.Errorf("control plane: %s", strings.Join(dead, "\n"))
	}
	return nil
}
