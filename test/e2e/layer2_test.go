package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/netip"
	"regexp"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	eventsv1 "k8s.io/api/events/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/herald-lb/herald/api/v1alpha2"
	"github.com/herald-lb/herald/speaker"
	"github.com/herald-lb/herald/test/e2e/cluster"
	"github.com/herald-lb/herald/test/e2e/rig"
)

// Layer2 pools on the LAN the client shares with the nodes.
const (
	l2Eip4 = "l2-v4"
	l2Eip6 = "l2-v6"
	// l2Wait bounds a failover: lease expiry (1.5 s) plus announcements,
	// with room for a loaded machine.
	l2Wait = 20 * time.Second
)

// TestLayer2 is issue 5's end-to-end scenario list on one testbed: the
// client's kernel resolves a Service's address to the owner's MAC and curl
// answers; Local Services are owned by a node with endpoints; the client
// follows a new owner after SIGKILL, link loss and a planned stop; a
// shared address has one responder; IPv6 works through NDP.
func TestLayer2(t *testing.T) {
	c := cluster.Setup(t, cluster.Options{})
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	for _, e := range []*v1alpha2.Eip{
		{ObjectMeta: metav1.ObjectMeta{Name: l2Eip4}, Spec: v1alpha2.EipSpec{Address: "10.99.0.200-10.99.0.220", Protocol: v1alpha2.ProtocolLayer2, Interface: rig.LANLink}},
		// The IPv6 pool names its interface by what it reaches (the
		// router), resolved through each node's routing table.
		{ObjectMeta: metav1.ObjectMeta{Name: l2Eip6}, Spec: v1alpha2.EipSpec{Address: "fd99::200-fd99::220", Protocol: v1alpha2.ProtocolLayer2,
			Interface: v1alpha2.InterfaceCanReachPrefix + c.Router.LAN.IPv6.Addr().String()}},
	} {
		if err := c.Client.Create(ctx, e); err != nil {
			t.Fatal(err)
		}
	}
	runSteps(ctx, t, c, []step{
		{"OwnerAnswers", testL2OwnerAnswers},
		{"LocalOwnedByEndpointNode", testL2Local},
		{"SharedAddressOneResponder", testL2Shared},
		{"SIGKILLOwnerFailover", func(ctx context.Context, t *testing.T, c *cluster.Cluster) {
			testL2Failover(ctx, t, c, "SIGKILL", func(n *cluster.Node) (func() error, error) {
				return func() error { return n.StartSpeaker() }, n.Speaker.Kill()
			})
		}},
		{"LinkDownOwnerFailover", func(ctx context.Context, t *testing.T, c *cluster.Cluster) {
			testL2Failover(ctx, t, c, "link down", func(n *cluster.Node) (func() error, error) {
				return func() error { return c.CarrierUp(n.Name) }, c.CarrierDown(n.Name)
			})
		}},
		{"PlannedHandOver", func(ctx context.Context, t *testing.T, c *cluster.Cluster) {
			testL2Failover(ctx, t, c, "SIGTERM", func(n *cluster.Node) (func() error, error) {
				if err := n.Speaker.Signal(syscall.SIGTERM); err != nil {
					return nil, err
				}
				return func() error {
					if err := n.Speaker.Wait(ctx); err != nil {
						return fmt.Errorf("speaker after SIGTERM: %w", err)
					}
					return n.StartSpeaker()
				}, nil
			})
		}},
		{"IPv6NDP", testL2IPv6},
		{"NodeSelectorPicksOwner", testL2NodeSelector},
		{"OwnerHasTheInterface", testL2OwnerHasInterface},
	})
}

// waitOwner waits until svc's owner annotation names one of nodes (any
// node when none given) and returns that node.
func waitOwner(ctx context.Context, t *testing.T, c *cluster.Cluster, svc *corev1.Service, nodes ...*cluster.Node) *cluster.Node {
	t.Helper()
	var owner *cluster.Node
	err := rig.Eventually(ctx, l2Wait, 50*time.Millisecond, func(ctx context.Context) error {
		var cur corev1.Service
		if err := c.Client.Get(ctx, client.ObjectKeyFromObject(svc), &cur); err != nil {
			return err
		}
		name := cur.Annotations[v1alpha2.AnnotationLayer2Node]
		owner = c.Node(name)
		if owner == nil {
			return fmt.Errorf("service %s: owner annotation %q", svc.Name, name)
		}
		if len(nodes) > 0 && !slices.Contains(nodes, owner) {
			return fmt.Errorf("service %s owned by %s, want one of %v", svc.Name, name, nodeNames(nodes))
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return owner
}

func nodeNames(nodes []*cluster.Node) []string {
	var out []string
	for _, n := range nodes {
		out = append(out, n.Name)
	}
	return out
}

// clientNeigh is the client's neighbour entry for a on its LAN interface:
// the MAC it resolved (nil when none) and the entry's states.
func clientNeigh(ctx context.Context, c *cluster.Cluster, a netip.Addr) (net.HardwareAddr, []string, error) {
	out, err := c.ExecContext(ctx, c.Rig.Client.NS, "ip", "-j", "neigh", "show", "dev", rig.LANLink, "to", a.String())
	if err != nil {
		return nil, nil, err
	}
	var entries []struct {
		Dst    string   `json:"dst"`
		LLAddr string   `json:"lladdr"`
		State  []string `json:"state"`
	}
	if err := json.Unmarshal([]byte(out), &entries); err != nil {
		return nil, nil, fmt.Errorf("ip -j neigh: %w: %q", err, out)
	}
	for _, e := range entries {
		if e.LLAddr == "" {
			return nil, e.State, nil
		}
		mac, err := net.ParseMAC(e.LLAddr)
		return mac, e.State, err
	}
	return nil, nil, nil
}

// waitClientFollows curls a from the client until it is answered and the
// client's neighbour entry for a is owner's MAC.
func waitClientFollows(ctx context.Context, t *testing.T, c *cluster.Cluster, a netip.Addr, owner *cluster.Node) {
	t.Helper()
	url := "http://" + netip.AddrPortFrom(a, 80).String() + "/"
	err := rig.Eventually(ctx, l2Wait, 50*time.Millisecond, func(ctx context.Context) error {
		if _, err := c.Curl(ctx, url); err != nil {
			return err
		}
		mac, state, err := clientNeigh(ctx, c, a)
		if err != nil {
			return err
		}
		if mac.String() != owner.LAN.MAC.String() {
			return fmt.Errorf("client resolves %s to %v (%v), want %s's %s", a, mac, state, owner.Name, owner.LAN.MAC)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

// testL2OwnerAnswers: a Service of a layer2 Eip gets an owner (annotation
// and event), the client's kernel resolves its address to the owner's MAC
// and curl answers.
func testL2OwnerAnswers(ctx context.Context, t *testing.T, c *cluster.Cluster) {
	svc, ip := lbService(ctx, t, c, "l2-web", l2Eip4, nil)
	owner := waitOwner(ctx, t, c, svc)
	waitClientFollows(ctx, t, c, ip, owner)
	// The owner said so in an event on the Service.
	err := rig.Eventually(ctx, 10*time.Second, 100*time.Millisecond, func(ctx context.Context) error {
		var list eventsv1.EventList
		if err := c.Client.List(ctx, &list, client.InNamespace(svc.Namespace)); err != nil {
			return err
		}
		for _, e := range list.Items {
			if e.Regarding.Name == svc.Name && e.Reason == speaker.ReasonLayer2Owner && strings.Contains(e.Note, owner.Name) {
				return nil
			}
		}
		return fmt.Errorf("no %s event naming %s on service %s among %d events", speaker.ReasonLayer2Owner, owner.Name, svc.Name, len(list.Items))
	})
	if err != nil {
		t.Error(err)
	}
	t.Logf("%s owned by %s; 10 curls answered by %v", ip, owner.Name, curlNames(ctx, t, c, ip, 10))
	// The owner's /metrics says what it does: one address answered, ARP
	// replies and announcements sent, all three nodes live.
	m, err := owner.Metrics(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for _, check := range []struct {
		series string
		labels []string
		min    float64
	}{
		{"herald_speaker_announced_addresses", []string{`mode="layer2"`}, 1},
		{"herald_speaker_layer2_packets_total", []string{`kind="arp_reply"`}, 1},
		{"herald_speaker_layer2_packets_total", []string{`kind="gratuitous_arp"`}, 2},
		{"herald_speaker_layer2_live_nodes", nil, 3},
	} {
		if got := cluster.MetricSum(m, check.series, check.labels...); got < check.min {
			t.Errorf("%s's %s%v = %v, want >= %v", owner.Name, check.series, check.labels, got, check.min)
		}
	}
	if got := cluster.MetricSum(m, "herald_speaker_layer2_view_frozen"); got != 0 {
		t.Errorf("%s's view is frozen (%v)", owner.Name, got)
	}
	deleteService(ctx, t, c, svc)
}

// testL2Local: externalTrafficPolicy Local → owned by the node with the
// endpoint, whichever the hash would pick; moving the endpoint moves it.
func testL2Local(ctx context.Context, t *testing.T, c *cluster.Cluster) {
	local := func(s *corev1.Service) { s.Spec.ExternalTrafficPolicy = corev1.ServiceExternalTrafficPolicyLocal }
	for _, n := range c.Nodes {
		svc, ip := lbService(ctx, t, c, "l2-local-"+n.Name, l2Eip4, local, n)
		owner := waitOwner(ctx, t, c, svc, n)
		waitClientFollows(ctx, t, c, ip, owner)
		waitCurlAnsweredBy(ctx, t, c, ip, n.Name)
		deleteService(ctx, t, c, svc)
	}
}

// arpReplies returns the MACs that answer an ARP request for a sent by
// the client (arping, 3 requests).
func arpReplies(ctx context.Context, c *cluster.Cluster, a netip.Addr) ([]string, error) {
	out, err := c.ExecContext(ctx, c.Rig.Client.NS, "arping", "-c", "3", "-w", "3", "-I", rig.LANLink, a.String())
	if err != nil && !strings.Contains(out, "reply from") {
		return nil, fmt.Errorf("arping %s: %w\n%s", a, err, out)
	}
	var macs []string
	for _, m := range arpingMAC.FindAllStringSubmatch(out, -1) {
		mac := strings.ToLower(m[1])
		if !slices.Contains(macs, mac) {
			macs = append(macs, mac)
		}
	}
	return macs, nil
}

var arpingMAC = regexp.MustCompile(`reply from \S+ \[([0-9A-Fa-f:]+)\]`)

// testL2Shared: two Services sharing an address (one Cluster, one Local
// with an endpoint on node3) → the address has exactly one owner, node3
// (the only node that can serve both), and one MAC answers ARP.
func testL2Shared(ctx context.Context, t *testing.T, c *cluster.Cluster) {
	node3 := c.Nodes[2]
	a, ipA := lbService(ctx, t, c, "l2-shared-a", l2Eip4, func(s *corev1.Service) {
		s.Annotations[v1alpha2.AnnotationRequestedIP] = "10.99.0.210"
		s.Spec.Selector = map[string]string{"app": "shared"} // sharing a Local Service's IP needs equal selectors
		s.Spec.Ports[0].Port = 80
	})
	b, ipB := lbService(ctx, t, c, "l2-shared-b", l2Eip4, func(s *corev1.Service) {
		s.Annotations[v1alpha2.AnnotationRequestedIP] = "10.99.0.210"
		s.Spec.Selector = map[string]string{"app": "shared"}
		s.Spec.Ports[0].Port = 8080
		s.Spec.ExternalTrafficPolicy = corev1.ServiceExternalTrafficPolicyLocal
	}, node3)
	if ipA != ipB {
		t.Fatalf("services got %s and %s; want one shared address", ipA, ipB)
	}
	waitOwner(ctx, t, c, a, node3)
	waitOwner(ctx, t, c, b, node3)
	waitClientFollows(ctx, t, c, ipA, node3)
	macs, err := arpReplies(ctx, c, ipA)
	if err != nil {
		t.Fatal(err)
	}
	if len(macs) != 1 || macs[0] != node3.LAN.MAC.String() {
		t.Errorf("ARP replies for %s from %v; want only %s's %s", ipA, macs, node3.Name, node3.LAN.MAC)
	}
	deleteService(ctx, t, c, a)
	deleteService(ctx, t, c, b)
}

// testL2Failover: the owner of a Service's address fails (how is given by
// fail, which returns the way back) → another node takes it over, the
// client's neighbour entry follows and curl answers again; the outage seen
// by the client (a curl every 50 ms) is logged.
func testL2Failover(ctx context.Context, t *testing.T, c *cluster.Cluster, how string, fail func(*cluster.Node) (func() error, error)) {
	svc, ip := lbService(ctx, t, c, "l2-failover", l2Eip4, nil)
	owner := waitOwner(ctx, t, c, svc)
	waitClientFollows(ctx, t, c, ip, owner)

	failed := time.Now()
	restore, err := fail(owner)
	if err != nil {
		t.Fatal(err)
	}
	var others []*cluster.Node
	for _, n := range c.Nodes {
		if n != owner {
			others = append(others, n)
		}
	}
	next := waitOwner(ctx, t, c, svc, others...)
	waitClientFollows(ctx, t, c, ip, next)
	t.Logf("TIMING %s of owner %s -> client answered by the new owner %s: %v", how, owner.Name, next.Name, time.Since(failed).Round(time.Millisecond))

	if err := restore(); err != nil {
		t.Fatal(err)
	}
	if err := owner.WaitSpeakerReady(ctx); err != nil {
		t.Fatal(err)
	}
	// Live again, the node wins its address back (the hash did not
	// change): the annotation and the client follow it.
	waitOwner(ctx, t, c, svc, owner)
	waitClientFollows(ctx, t, c, ip, owner)
	deleteService(ctx, t, c, svc)
}

// testL2IPv6: an IPv6 Service of a layer2 Eip whose interface is
// can_reach:<router> → the client resolves it through NDP to the owner's
// MAC and curl answers.
func testL2IPv6(ctx context.Context, t *testing.T, c *cluster.Cluster) {
	svc, ip := lbService(ctx, t, c, "l2-v6", l2Eip6, func(s *corev1.Service) {
		s.Spec.IPFamilies = []corev1.IPFamily{corev1.IPv6Protocol}
	})
	owner := waitOwner(ctx, t, c, svc)
	waitClientFollows(ctx, t, c, ip, owner)
	deleteService(ctx, t, c, svc)
}
