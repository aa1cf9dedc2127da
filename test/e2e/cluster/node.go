package cluster

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/herald-lb/herald/test/e2e/rig"
)

// Node is one simulated Kubernetes node: a rig host with a Node object,
// kube-proxy, an httpname backend answering its name on BackendPort, and
// (when started) herald-speaker.
type Node struct {
	rig.Host
	// Speaker is the latest herald-speaker started on the node; nil before
	// the first StartSpeaker.
	Speaker *rig.Proc
	// KubeProxy and Backend run for the cluster's whole life.
	KubeProxy, Backend *rig.Proc
	// Keepalived is the latest herald-keepalived started on the node (VIP
	// mode); nil before the first StartKeepalived.
	Keepalived *rig.Proc

	c           *Cluster
	speakers    int // started so far, to name each process uniquely
	keepaliveds int // the same for herald-keepalived
}

// register creates the Node object with the node's LAN addresses as
// InternalIPs and a Ready condition, as a kubelet would: kube-proxy finds
// its node IPs there, the speaker its BGP next hops.
func (n *Node) register(ctx context.Context) error {
	node := &corev1.Node{ObjectMeta: metav1.ObjectMeta{
		Name:   n.Name,
		Labels: map[string]string{corev1.LabelHostname: n.Name, corev1.LabelOSStable: "linux"},
	}}
	if err := n.c.Client.Create(ctx, node); err != nil {
		return fmt.Errorf("node %s: create: %w", n.Name, err)
	}
	now := metav1.Now()
	node.Status = corev1.NodeStatus{
		Addresses: []corev1.NodeAddress{
			{Type: corev1.NodeInternalIP, Address: n.LAN.IPv4.Addr().String()},
			{Type: corev1.NodeInternalIP, Address: n.LAN.IPv6.Addr().String()},
			{Type: corev1.NodeHostName, Address: n.Name},
		},
		Conditions: []corev1.NodeCondition{{
			Type: corev1.NodeReady, Status: corev1.ConditionTrue, Reason: "KubeletReady",
			Message: "simulated by the e2e testbed", LastHeartbeatTime: now, LastTransitionTime: now,
		}},
	}
	if err := n.c.Client.Status().Update(ctx, node); err != nil {
		return fmt.Errorf("node %s: set status: %w", n.Name, err)
	}
	return nil
}

// startKubeProxy runs the real kube-proxy in iptables mode as this node.
// The conntrack flags of 0 leave the kernel's global conntrack settings
// alone (they are not per namespace); the listeners are on the
// namespace's own loopback.
func (n *Node) startKubeProxy() error {
	p, err := n.c.Start(n.NS, "kube-proxy-"+n.Name, []string{
		n.c.opts.Binaries.KubeProxy,
		"--kubeconfig=" + n.c.Kubeconfig,
		"--hostname-override=" + n.Name,
		"--proxy-mode=iptables",
		// A pod range, as every real cluster has: traffic from outside it
		// (the client) to cluster IPs is masqueraded, so a backend on
		// another node answers through the node that received the packet.
		"--cluster-cidr=" + PodCIDR,
		"--conntrack-max-per-core=0",
		"--conntrack-tcp-timeout-established=0",
		"--conntrack-tcp-timeout-close-wait=0",
		"--metrics-bind-address=127.0.0.1:10249",
		"--healthz-bind-address=127.0.0.1:" + strconv.Itoa(KubeProxyHealthPort),
		"--v=1",
	})
	if err != nil {
		return err
	}
	n.KubeProxy = p
	return nil
}

// startBackend runs httpname on BackendPort (both families), answering
// with the node's name: a pod with host networking, whose address is
// the node's.
func (n *Node) startBackend() error {
	p, err := n.c.Start(n.NS, "backend-"+n.Name, []string{
		n.c.opts.Binaries.HTTPName, "-listen", ":" + strconv.Itoa(BackendPort), "-name", n.Name,
	})
	if err != nil {
		return err
	}
	n.Backend = p
	return nil
}

// StartSpeaker starts herald-speaker for this node with extra flags args;
// the previous one, if any, must have exited. It does not wait for it to
// be ready (WaitSpeakerReady).
func (n *Node) StartSpeaker(args ...string) error {
	if n.Speaker != nil && n.Speaker.Running() {
		return fmt.Errorf("node %s: a speaker is still running (pid %d)", n.Name, n.Speaker.PID())
	}
	n.speakers++
	name := "speaker-" + n.Name
	if n.speakers > 1 {
		name = fmt.Sprintf("%s-%d", name, n.speakers)
	}
	argv := append([]string{
		n.c.opts.Binaries.Speaker,
		"--kubeconfig=" + n.c.Kubeconfig,
		"--node-name=" + n.Name,
		"--metrics-bind-address=127.0.0.1:" + strconv.Itoa(SpeakerMetricsPort),
		"--health-probe-bind-address=127.0.0.1:" + strconv.Itoa(SpeakerProbePort),
	}, args...)
	if n.c.opts.VIP {
		argv = append(argv, "--vip-dir="+string(n.VIPDir()))
	}
	p, err := n.c.Start(n.NS, name, argv)
	if err != nil {
		return err
	}
	n.Speaker = p
	return nil
}

// WaitSpeakerReady waits until the speaker's /readyz answers 200: it has
// read the cluster's state and applied it once.
func (n *Node) WaitSpeakerReady(ctx context.Context) error {
	return n.waitHTTP(ctx, n.Speaker, "http://127.0.0.1:"+strconv.Itoa(SpeakerProbePort)+"/readyz")
}

// waitReady waits for kube-proxy's first sync and the backend (with
// dataPath), and the speaker (with speaker).
func (n *Node) waitReady(ctx context.Context, dataPath, speaker bool) error {
	if dataPath {
		if err := n.waitHTTP(ctx, n.KubeProxy, "http://127.0.0.1:"+strconv.Itoa(KubeProxyHealthPort)+"/healthz"); err != nil {
			return err
		}
		if err := n.waitHTTP(ctx, n.Backend, "http://127.0.0.1:"+strconv.Itoa(BackendPort)+"/"); err != nil {
			return err
		}
	}
	if speaker {
		return n.WaitSpeakerReady(ctx)
	}
	return nil
}

// waitHTTP polls url inside the node until it answers 2xx, failing early
// when p exits.
func (n *Node) waitHTTP(ctx context.Context, p *rig.Proc, url string) error {
	err := rig.Eventually(ctx, readyTimeout, 50*time.Millisecond, func(ctx context.Context) error {
		if !p.Running() {
			return fmt.Errorf("%s exited: %v", p.Name, p.Err())
		}
		_, err := n.c.ExecContext(ctx, n.NS, "curl", "-sSf", "--max-time", "1", url)
		return err
	})
	if err != nil {
		return fmt.Errorf("node %s: %s not ready at %s: %w\n%s", n.Name, p.Name, url, err, p.Tail(20))
	}
	return nil
}

// Metrics scrapes the speaker's Prometheus endpoint from inside the node.
func (n *Node) Metrics(ctx context.Context) (string, error) {
	out, err := n.c.ExecContext(ctx, n.NS, "curl", "-sSf", "--max-time", "2",
		"http://127.0.0.1:"+strconv.Itoa(SpeakerMetricsPort)+"/metrics")
	if err != nil {
		return "", fmt.Errorf("node %s: scrape speaker metrics: %w", n.Name, err)
	}
	return out, nil
}

// MetricValue returns the value of the sample whose name and labels read
// exactly series (e.g. `herald_speaker_announced_addresses{mode="bgp"}`)
// in a text exposition, and whether it was there.
func MetricValue(exposition, series string) (float64, bool) {
	for _, line := range strings.Split(exposition, "\n") {
		rest, ok := strings.CutPrefix(line, series+" ")
		if !ok {
			continue
		}
		v, err := strconv.ParseFloat(strings.TrimSpace(rest), 64)
		return v, err == nil
	}
	return 0, false
}

// MetricSum adds up the samples of metric name whose label set contains
// every one of labels (e.g. `code="<error>"`) in a text exposition.
func MetricSum(exposition, name string, labels ...string) float64 {
	var sum float64
	for _, line := range strings.Split(exposition, "\n") {
		sp := strings.LastIndexByte(line, ' ')
		if strings.HasPrefix(line, "#") || sp < 0 {
			continue
		}
		series, value := line[:sp], line[sp+1:]
		metric, labelSet := series, ""
		if b := strings.IndexByte(series, '{'); b >= 0 {
			metric, labelSet = series[:b], series[b:]
		}
		if metric != name {
			continue
		}
		matches := true
		for _, l := range labels {
			matches = matches && strings.Contains(labelSet, l)
		}
		if v, err := strconv.ParseFloat(value, 64); err == nil && matches {
			sum += v
		}
	}
	return sum
}
