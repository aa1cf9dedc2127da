package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"net/netip"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/herald-lb/herald/api/v1alpha2"
	"github.com/herald-lb/herald/test/e2e/cluster"
	"github.com/herald-lb/herald/test/e2e/rig"
)

// The label the node-selection steps put on nodes, and the pools they
// select with it.
const (
	selectLabel = "herald.test/announce"
	l2EipSel    = "l2-selected"
	l2EipIface  = "l2-iface"
	bgpEipSel   = "bgp-selected"
)

// setNodeLabel sets (value non-nil) or removes (nil) a label on the node's
// Node object, as an operator's kubectl label does.
func setNodeLabel(ctx context.Context, t *testing.T, c *cluster.Cluster, n *cluster.Node, key string, value *string) {
	t.Helper()
	patch, err := json.Marshal(map[string]any{"metadata": map[string]any{"labels": map[string]*string{key: value}}})
	if err != nil {
		t.Fatal(err)
	}
	node := &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: n.Name}}
	if err := c.Client.Patch(ctx, node, client.RawPatch(types.MergePatchType, patch)); err != nil {
		t.Fatalf("node %s: label %s: %v", n.Name, key, err)
	}
}

func createEip(ctx context.Context, t *testing.T, c *cluster.Cluster, e *v1alpha2.Eip) {
	t.Helper()
	if err := c.Client.Create(ctx, e); err != nil {
		t.Fatalf("create eip %s: %v", e.Name, err)
	}
	t.Cleanup(func() { _ = c.Client.Delete(context.Background(), e) })
}

// testL2NodeSelector: a layer2 Eip whose nodeSelector picks node2 → its
// Services are owned by node2, the client's ARP resolves to node2's MAC
// and only node2 answers; moving the label to node3 moves the address to
// node3 (hand-over time logged).
func testL2NodeSelector(ctx context.Context, t *testing.T, c *cluster.Cluster) {
	node2, node3 := c.Nodes[1], c.Nodes[2]
	setNodeLabel(ctx, t, c, node2, selectLabel, ptr.To("yes"))
	t.Cleanup(func() {
		for _, n := range c.Nodes {
			setNodeLabel(context.Background(), t, c, n, selectLabel, nil)
		}
	})
	createEip(ctx, t, c, &v1alpha2.Eip{ObjectMeta: metav1.ObjectMeta{Name: l2EipSel}, Spec: v1alpha2.EipSpec{
		Address: "10.99.0.221-10.99.0.224", Protocol: v1alpha2.ProtocolLayer2, Interface: rig.LANLink,
		NodeSelector: &metav1.LabelSelector{MatchLabels: map[string]string{selectLabel: "yes"}},
	}})
	// Three Services, so that the hash alone would spread them.
	var svcs []*corev1.Service
	var ips []netip.Addr
	for i := range 3 {
		svc, ip := lbService(ctx, t, c, fmt.Sprintf("l2-sel-%d", i), l2EipSel, nil)
		ips = append(ips, ip)
		waitOwner(ctx, t, c, svc, node2)
		waitClientFollows(ctx, t, c, ip, node2)
		svcs = append(svcs, svc)
		if i > 0 {
			continue
		}
		macs, err := arpReplies(ctx, c, ip)
		if err != nil {
			t.Fatal(err)
		}
		if len(macs) != 1 || macs[0] != node2.LAN.MAC.String() {
			t.Errorf("ARP replies for %s from %v; want only %s's %s", ip, macs, node2.Name, node2.LAN.MAC)
		}
	}

	moved := time.Now()
	setNodeLabel(ctx, t, c, node3, selectLabel, ptr.To("yes"))
	setNodeLabel(ctx, t, c, node2, selectLabel, nil)
	for _, svc := range svcs {
		waitOwner(ctx, t, c, svc, node3)
	}
	waitClientFollows(ctx, t, c, ips[0], node3)
	t.Logf("TIMING label moved from node2 to node3 -> client answered by node3: %v", time.Since(moved).Round(time.Millisecond))
	for _, svc := range svcs {
		deleteService(ctx, t, c, svc)
	}
}

// testL2OwnerHasInterface: a layer2 Eip whose interface exists on node3
// only (a veth pair made there) → every one of its addresses is owned by
// node3, however the hash would spread them: no node without the named
// interface is ever elected (MetalLB's documented pitfall).
func testL2OwnerHasInterface(ctx context.Context, t *testing.T, c *cluster.Cluster) {
	node3 := c.Nodes[2]
	for _, argv := range [][]string{
		{"ip", "link", "add", "hx0", "type", "veth", "peer", "name", "hx1"},
		{"ip", "link", "set", "hx0", "up"},
		{"ip", "link", "set", "hx1", "up"},
	} {
		if out, err := c.ExecContext(ctx, node3.NS, argv...); err != nil {
			t.Fatalf("%v on %s: %v\n%s", argv, node3.Name, err, out)
		}
	}
	t.Cleanup(func() { _, _ = c.ExecContext(context.Background(), node3.NS, "ip", "link", "del", "hx0") })
	createEip(ctx, t, c, &v1alpha2.Eip{ObjectMeta: metav1.ObjectMeta{Name: l2EipIface}, Spec: v1alpha2.EipSpec{
		Address: "10.99.0.225-10.99.0.229", Protocol: v1alpha2.ProtocolLayer2, Interface: "hx0",
	}})
	var svcs []*corev1.Service
	for i := range 4 {
		svc, _ := lbService(ctx, t, c, fmt.Sprintf("l2-iface-%d", i), l2EipIface, nil)
		waitOwner(ctx, t, c, svc, node3)
		svcs = append(svcs, svc)
	}
	// And it stays so: the others list the Eip unavailable in their
	// Leases, so none of them ever writes itself as owner.
	for _, n := range c.Nodes[:2] {
		m, err := n.Metrics(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if got := cluster.MetricSum(m, "herald_speaker_announced_addresses", `mode="layer2"`); got != 0 {
			t.Errorf("%s, without hx0, answers for %v layer2 addresses", n.Name, got)
		}
	}
	for _, svc := range svcs {
		deleteService(ctx, t, c, svc)
	}
}

// testBGPNodeSelection: a bgp Eip whose nodeSelector picks node1 and
// node2 → the router's route has those two next hops; moving the label
// from node2 to node3 moves the next hop; the exclude label on node1 takes
// it off every route (the selected Eip's and the plain one's) while its
// session stays established; removing it brings node1 back.
func testBGPNodeSelection(ctx context.Context, t *testing.T, c *cluster.Cluster) {
	node1, node2, node3 := c.Nodes[0], c.Nodes[1], c.Nodes[2]
	setNodeLabel(ctx, t, c, node1, selectLabel, ptr.To("yes"))
	setNodeLabel(ctx, t, c, node2, selectLabel, ptr.To("yes"))
	t.Cleanup(func() {
		for _, n := range c.Nodes {
			setNodeLabel(context.Background(), t, c, n, selectLabel, nil)
			setNodeLabel(context.Background(), t, c, n, corev1.LabelNodeExcludeBalancers, nil)
		}
	})
	createEip(ctx, t, c, &v1alpha2.Eip{ObjectMeta: metav1.ObjectMeta{Name: bgpEipSel}, Spec: v1alpha2.EipSpec{
		Address: "10.99.200.160-10.99.200.169", Protocol: v1alpha2.ProtocolBGP,
		NodeSelector: &metav1.LabelSelector{MatchLabels: map[string]string{selectLabel: "yes"}},
	}})
	sel, selIP := lbService(ctx, t, c, "bgp-sel", bgpEipSel, nil)
	plain, plainIP := lbService(ctx, t, c, "bgp-plain", bgpEip4, nil)
	waitRoute(ctx, t, c, selIP, node1, node2)
	waitRoute(ctx, t, c, plainIP, c.Nodes...)
	waitCurl(ctx, t, c, selIP)

	moved := time.Now()
	setNodeLabel(ctx, t, c, node3, selectLabel, ptr.To("yes"))
	setNodeLabel(ctx, t, c, node2, selectLabel, nil)
	waitRoute(ctx, t, c, selIP, node1, node3)
	t.Logf("TIMING label moved from node2 to node3 -> next hops node1, node3 at the router: %v", time.Since(moved).Round(time.Millisecond))

	excluded := time.Now()
	setNodeLabel(ctx, t, c, node1, corev1.LabelNodeExcludeBalancers, ptr.To(""))
	waitRoute(ctx, t, c, selIP, node3)
	waitRoute(ctx, t, c, plainIP, node2, node3)
	t.Logf("TIMING exclude label on node1 -> its next hops gone at the router: %v", time.Since(excluded).Round(time.Millisecond))
	assertEstablished(ctx, t, c, torPeer4) // the excluded node keeps its session

	back := time.Now()
	setNodeLabel(ctx, t, c, node1, corev1.LabelNodeExcludeBalancers, nil)
	waitRoute(ctx, t, c, selIP, node1, node3)
	waitRoute(ctx, t, c, plainIP, c.Nodes...)
	t.Logf("TIMING exclude label removed -> node1's next hops back: %v", time.Since(back).Round(time.Millisecond))
	deleteService(ctx, t, c, sel)
	deleteService(ctx, t, c, plain)
	waitRoute(ctx, t, c, selIP)
}

// testVIPNodeSelector: a vip Eip whose nodeSelector picks node2 → node2
// holds its address and the other nodes run no VRRP instance for it (they
// are no participants); moving the label to node3 moves the address there
// and node2's instance goes.
func testVIPNodeSelector(ctx context.Context, t *testing.T, c *cluster.Cluster) {
	node2, node3 := c.Nodes[1], c.Nodes[2]
	setNodeLabel(ctx, t, c, node2, selectLabel, ptr.To("yes"))
	t.Cleanup(func() {
		for _, n := range c.Nodes {
			setNodeLabel(context.Background(), t, c, n, selectLabel, nil)
		}
	})
	createEip(ctx, t, c, &v1alpha2.Eip{ObjectMeta: metav1.ObjectMeta{Name: "vip-selected"}, Spec: v1alpha2.EipSpec{
		Address: "10.99.0.241-10.99.0.245", Protocol: v1alpha2.ProtocolVIP, Interface: rig.LANLink,
		NodeSelector: &metav1.LabelSelector{MatchLabels: map[string]string{selectLabel: "yes"}},
	}})
	svc, ip := lbService(ctx, t, c, "vip-sel", "vip-selected", nil)
	waitVIPHolder(ctx, t, c, ip, node2)
	waitCurl(ctx, t, c, ip)
	waitOnlyInstance(ctx, t, c, ip, node2)

	moved := time.Now()
	setNodeLabel(ctx, t, c, node3, selectLabel, ptr.To("yes"))
	setNodeLabel(ctx, t, c, node2, selectLabel, nil)
	waitVIPHolder(ctx, t, c, ip, node3)
	waitCurl(ctx, t, c, ip)
	t.Logf("TIMING label moved from node2 to node3 -> %s held by node3 and answered: %v", ip, time.Since(moved).Round(time.Millisecond))
	waitOnlyInstance(ctx, t, c, ip, node3)
	deleteService(ctx, t, c, svc)
	waitVIPNowhere(ctx, t, c, ip)
}

// waitOnlyInstance waits until only node's keepalived runs an instance
// for a (the others report no state for it).
func waitOnlyInstance(ctx context.Context, t *testing.T, c *cluster.Cluster, a netip.Addr, node *cluster.Node) {
	t.Helper()
	err := rig.Eventually(ctx, vipWait, 100*time.Millisecond, func(context.Context) error {
		for _, n := range c.Nodes {
			st, err := n.VIPStates()
			if err != nil {
				return err
			}
			if s, ok := st[a]; ok != (n == node) {
				return fmt.Errorf("%s's keepalived: instance for %s %v (state %q)", n.Name, a, ok, s)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}
