package e2e

import (
	"context"
	"fmt"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	coordinationv1 "k8s.io/api/coordination/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/herald-lb/herald/api/v1alpha2"
	"github.com/herald-lb/herald/internal/testenv"
	"github.com/herald-lb/herald/speaker/layer2"
	"github.com/herald-lb/herald/test/e2e/cluster"
	"github.com/herald-lb/herald/test/e2e/rig"
)

// Names of the BGP scenario's objects.
const (
	bgpEip4   = "bgp-v4"
	bgpEip6   = "bgp-v6"
	torPeer4  = "tor-v4"
	torPeer6  = "tor-v6"
	testNS    = "default"
	routeWait = 20 * time.Second
)

// TestBGP is issue 4's end-to-end scenario list, on one testbed: the real
// API server, herald-controller, herald-speaker and kube-proxy on three
// nodes, BIRD as the ToR, curl from a client behind it. The controller
// serves its admission webhooks here, so every object the steps write
// passes them, as in a real install.
func TestBGP(t *testing.T) {
	c := cluster.Setup(t, cluster.Options{Webhooks: true})
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	applyBGP(ctx, t, c)

	// Subtests run in order and build on each other's state; each leaves
	// the testbed as it found it (services deleted, speakers running).
	runSteps(ctx, t, c, []step{
		{"MisconfigurationRefused", testMisconfigurationRefused},
		{"ECMPAndCurl", testECMPAndCurl},
		{"ExternalTrafficPolicyLocal", testETPLocal},
		{"KilledSpeakerLeaves", testKilledSpeaker},
		{"APIServerUnreachableKeepsRoutes", testAPIServerUnreachable},
		{"WrongASReportedOthersUnaffected", testWrongAS},
		{"GracefulRestartNoRouteChange", testGracefulRestart},
		{"UninstallWithdrawsDespiteGracefulRestart", testUninstallWithdraws},
		{"Metrics", testMetrics},
		{"ServiceCIDRs", testServiceCIDRs},
		{"Advertisements", testAdvertisements},
		{"SourceAddressMissing", testSourceAddressMissing},
		{"NoLeasesWithoutLayer2", testNoLeasesWithoutLayer2},
		{"NodeSelectionNextHops", testBGPNodeSelection},
		{"BFDDropsSilentNode", testBFD},
		{"BFDWithFRR", testBFDWithFRR},
	})
}

// step is one subtest of a scenario list.
type step struct {
	name string
	run  func(context.Context, *testing.T, *cluster.Cluster)
}

// runSteps runs the steps in order as subtests, stopping at the first
// that fails: later steps assume the earlier ones' state.
func runSteps(ctx context.Context, t *testing.T, c *cluster.Cluster, steps []step) {
	t.Helper()
	for _, s := range steps {
		if !t.Run(s.name, func(t *testing.T) { s.run(ctx, t, c) }) {
			return
		}
	}
}

// applyBGP creates the BGP configuration every step uses: BgpConf default
// (AS rig.NodeAS), one IPv4 BgpPeer for the router with fast timers, and
// an IPv4 Eip in the routed pool. The IPv6 peer is testWrongAS's.
func applyBGP(ctx context.Context, t *testing.T, c *cluster.Cluster) {
	t.Helper()
	objs := []client.Object{
		&v1alpha2.BgpConf{
			ObjectMeta: metav1.ObjectMeta{Name: v1alpha2.BgpConfName},
			Spec:       v1alpha2.BgpConfSpec{As: rig.NodeAS},
		},
		torPeer(c, torPeer4, c.Router.LAN.IPv4.Addr(), rig.RouterAS),
		&v1alpha2.Eip{
			ObjectMeta: metav1.ObjectMeta{Name: bgpEip4},
			Spec:       v1alpha2.EipSpec{Address: "10.99.200.1-10.99.200.100", Protocol: v1alpha2.ProtocolBGP},
		},
		&v1alpha2.Eip{
			ObjectMeta: metav1.ObjectMeta{Name: bgpEip6},
			Spec:       v1alpha2.EipSpec{Address: "fd99:200::1-fd99:200::ff", Protocol: v1alpha2.ProtocolBGP},
		},
	}
	for _, o := range objs {
		if err := c.Client.Create(ctx, o); err != nil {
			t.Fatalf("create %T %s: %v", o, o.GetName(), err)
		}
	}
}

// torPeer is a BgpPeer for the ToR at addr with testbed-facts' fast
// timers (hold 9 s, keepalive 3 s, connect retry 1 s).
func torPeer(c *cluster.Cluster, name string, addr netip.Addr, as uint32) *v1alpha2.BgpPeer {
	return &v1alpha2.BgpPeer{
		ObjectMeta: metav1.ObjectMeta{Name: name},
		Spec: v1alpha2.BgpPeerSpec{
			Conf: &v1alpha2.PeerConf{NeighborAddress: addr.String(), PeerAs: v1alpha2.ASNumber(as)},
			Timers: &v1alpha2.Timers{Config: &v1alpha2.TimersConfig{
				HoldTime:          ptr.To(intstr.FromInt32(9)),
				KeepaliveInterval: ptr.To(intstr.FromInt32(3)),
				ConnectRetry:      ptr.To(intstr.FromInt32(1)),
			}},
		},
	}
}

// createService creates svc and waits for its LoadBalancer address.
func createService(ctx context.Context, t *testing.T, c *cluster.Cluster, svc *corev1.Service) netip.Addr {
	t.Helper()
	if err := c.Client.Create(ctx, svc); err != nil {
		t.Fatalf("create service %s: %v", svc.Name, err)
	}
	t.Cleanup(func() {
		// Best effort for a failed step; the steps delete their Services.
		_ = c.Client.Delete(context.Background(), svc)
	})
	return waitServiceIP(ctx, t, c, svc, 20*time.Second)
}

// waitServiceIP waits, at most within, for svc's first LoadBalancer address.
func waitServiceIP(ctx context.Context, t *testing.T, c *cluster.Cluster, svc *corev1.Service, within time.Duration) netip.Addr {
	t.Helper()
	var ip netip.Addr
	err := rig.Eventually(ctx, within, 50*time.Millisecond, func(ctx context.Context) error {
		var cur corev1.Service
		if err := c.Client.Get(ctx, client.ObjectKeyFromObject(svc), &cur); err != nil {
			return err
		}
		if len(cur.Status.LoadBalancer.Ingress) == 0 {
			return fmt.Errorf("service %s has no LoadBalancer address yet", svc.Name)
		}
		a, err := netip.ParseAddr(cur.Status.LoadBalancer.Ingress[0].IP)
		ip = a
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return ip
}

// lbService creates a LoadBalancer Service of eip, publishes endpoints on
// nodes (all when none are given) and returns it with its address.
func lbService(ctx context.Context, t *testing.T, c *cluster.Cluster, name, eip string, mutate func(*corev1.Service), nodes ...*cluster.Node) (*corev1.Service, netip.Addr) {
	t.Helper()
	svc := cluster.LoadBalancer(testNS, name, eip)
	if mutate != nil {
		mutate(svc)
	}
	ip := createService(ctx, t, c, svc)
	if len(nodes) == 0 {
		nodes = c.Nodes
	}
	if err := c.PublishEndpoints(ctx, svc, nodes...); err != nil {
		t.Fatal(err)
	}
	return svc, ip
}

// deleteService deletes svc and waits until it is gone.
func deleteService(ctx context.Context, t *testing.T, c *cluster.Cluster, svc *corev1.Service) {
	t.Helper()
	if err := c.Client.Delete(ctx, svc); err != nil {
		t.Fatalf("delete service %s: %v", svc.Name, err)
	}
	err := rig.Eventually(ctx, 20*time.Second, 50*time.Millisecond, func(ctx context.Context) error {
		err := c.Client.Get(ctx, client.ObjectKeyFromObject(svc), &corev1.Service{})
		if client.IgnoreNotFound(err) != nil {
			return err
		}
		if err == nil {
			return fmt.Errorf("service %s still exists", svc.Name)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

// hostRoute is the /32 or /128 of a.
func hostRoute(a netip.Addr) netip.Prefix { return netip.PrefixFrom(a, a.BitLen()) }

// nodeAddrs are the nodes' LAN addresses of a's family, sorted as
// BirdRoutes sorts next hops.
func nodeAddrs(a netip.Addr, nodes ...*cluster.Node) []netip.Addr {
	var out []netip.Addr
	for _, n := range nodes {
		if a.Is4() {
			out = append(out, n.LAN.IPv4.Addr())
		} else {
			out = append(out, n.LAN.IPv6.Addr())
		}
	}
	slices.SortFunc(out, netip.Addr.Compare)
	return out
}

// waitRoute waits until the router's kernel routes a's host route via
// exactly the given nodes (none: no route).
func waitRoute(ctx context.Context, t *testing.T, c *cluster.Cluster, a netip.Addr, nodes ...*cluster.Node) {
	t.Helper()
	waitPrefix(ctx, t, c, hostRoute(a), nodes...)
}

// curlNames curls http://a/ from the client n times and returns which
// backends answered, with counts; every curl must answer.
func curlNames(ctx context.Context, t *testing.T, c *cluster.Cluster, a netip.Addr, n int) map[string]int {
	t.Helper()
	url := "http://" + netip.AddrPortFrom(a, 80).String() + "/"
	names := map[string]int{}
	for i := 0; i < n; i++ {
		name, err := c.Curl(ctx, url)
		if err != nil {
			t.Fatalf("curl %d/%d: %v", i+1, n, err)
		}
		names[name]++
	}
	return names
}

// waitCurl waits until curl from the client answers (kube-proxy programs
// its rules at most a second after a change).
func waitCurl(ctx context.Context, t *testing.T, c *cluster.Cluster, a netip.Addr) {
	t.Helper()
	url := "http://" + netip.AddrPortFrom(a, 80).String() + "/"
	err := rig.Eventually(ctx, 20*time.Second, 100*time.Millisecond, func(ctx context.Context) error {
		_, err := c.Curl(ctx, url)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
}

// waitCurlAnsweredBy waits until 5 curls in a row are answered by the
// backend called name.
func waitCurlAnsweredBy(ctx context.Context, t *testing.T, c *cluster.Cluster, a netip.Addr, name string) {
	t.Helper()
	url := "http://" + netip.AddrPortFrom(a, 80).String() + "/"
	streak := 0
	err := rig.Eventually(ctx, 20*time.Second, 50*time.Millisecond, func(ctx context.Context) error {
		got, err := c.Curl(ctx, url)
		if err != nil || got != name {
			streak = 0
			return fmt.Errorf("curl %s: answered by %q (%v), want %q", url, got, err, name)
		}
		if streak++; streak < 5 {
			return fmt.Errorf("answered by %s %d times in a row", name, streak)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

// testECMPAndCurl: a Service from a bgp Eip → the router's kernel has an
// ECMP route to its address via all three nodes → curl from the client
// is answered, by backends on more than one node (kube-proxy spreads);
// deleting the Service withdraws the route.
func testECMPAndCurl(ctx context.Context, t *testing.T, c *cluster.Cluster) {
	svc := cluster.LoadBalancer(testNS, "web", bgpEip4)
	created := time.Now()
	ip := createService(ctx, t, c, svc)
	if err := c.PublishEndpoints(ctx, svc, c.Nodes...); err != nil {
		t.Fatal(err)
	}
	waitRoute(ctx, t, c, ip, c.Nodes...)
	t.Logf("TIMING service created -> ECMP route via 3 nodes at the router: %v", time.Since(created).Round(time.Millisecond))
	waitCurl(ctx, t, c, ip)
	names := curlNames(ctx, t, c, ip, 30)
	t.Logf("30 curls to %s answered by %v", ip, names)
	if len(names) < 2 {
		t.Errorf("30 curls answered only by %v; want backends on several nodes", names)
	}

	deleted := time.Now()
	deleteService(ctx, t, c, svc)
	waitRoute(ctx, t, c, ip)
	t.Logf("TIMING service deleted -> route gone at the router: %v", time.Since(deleted).Round(time.Millisecond))
}

// testETPLocal: externalTrafficPolicy Local → only nodes with a ready
// local endpoint are next hops; the set follows the endpoints, and the
// route goes when the last endpoint does.
func testETPLocal(ctx context.Context, t *testing.T, c *cluster.Cluster) {
	node1, node2, node3 := c.Nodes[0], c.Nodes[1], c.Nodes[2]
	svc := cluster.LoadBalancer(testNS, "local", bgpEip4)
	svc.Spec.ExternalTrafficPolicy = corev1.ServiceExternalTrafficPolicyLocal
	ip := createService(ctx, t, c, svc)

	if err := c.PublishEndpoints(ctx, svc, node2); err != nil {
		t.Fatal(err)
	}
	waitRoute(ctx, t, c, ip, node2)
	// kube-proxy applies changes at most once a second: the address may
	// still lead to the previous step's Service for a moment.
	waitCurlAnsweredBy(ctx, t, c, ip, node2.Name)
	if names := curlNames(ctx, t, c, ip, 10); names[node2.Name] != 10 {
		t.Errorf("curls answered by %v; want all by %s (the only node with an endpoint)", names, node2.Name)
	}

	if err := c.PublishEndpoints(ctx, svc, node1, node3); err != nil {
		t.Fatal(err)
	}
	waitRoute(ctx, t, c, ip, node1, node3)

	if err := c.PublishEndpoints(ctx, svc); err != nil {
		t.Fatal(err)
	}
	waitRoute(ctx, t, c, ip)
	deleteService(ctx, t, c, svc)
}

// testKilledSpeaker: SIGKILL one speaker → its next hop leaves the ECMP
// route (the kernel closes its TCP session); restarted, it comes back.
func testKilledSpeaker(ctx context.Context, t *testing.T, c *cluster.Cluster) {
	svc := cluster.LoadBalancer(testNS, "kill", bgpEip4)
	ip := createService(ctx, t, c, svc)
	waitRoute(ctx, t, c, ip, c.Nodes...)

	victim := c.Nodes[2]
	killed := time.Now()
	if err := victim.Speaker.Kill(); err != nil {
		t.Fatal(err)
	}
	waitRoute(ctx, t, c, ip, c.Nodes[:2]...)
	t.Logf("TIMING speaker SIGKILL -> its next hop gone: %v", time.Since(killed).Round(time.Millisecond))

	restarted := time.Now()
	if err := victim.StartSpeaker(); err != nil {
		t.Fatal(err)
	}
	waitRoute(ctx, t, c, ip, c.Nodes...)
	t.Logf("TIMING speaker restart -> next hop back: %v", time.Since(restarted).Round(time.Millisecond))

	// SIGTERM without graceful restart: the speaker withdraws (CEASE)
	// before it exits.
	if err := victim.WaitSpeakerReady(ctx); err != nil {
		t.Fatal(err)
	}
	terminated := time.Now()
	if err := victim.Speaker.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	waitRoute(ctx, t, c, ip, c.Nodes[:2]...)
	t.Logf("TIMING speaker SIGTERM -> its next hop gone: %v", time.Since(terminated).Round(time.Millisecond))
	if err := victim.Speaker.Wait(ctx); err != nil {
		t.Errorf("speaker after SIGTERM: %v (want a clean exit)", err)
	}
	if err := victim.StartSpeaker(); err != nil {
		t.Fatal(err)
	}
	waitRoute(ctx, t, c, ip, c.Nodes...)
	deleteService(ctx, t, c, svc)
}

// testAPIServerUnreachable: every node loses the API server (its
// forwarder dies, connections reset) → the speakers keep announcing what
// they had, with no route change at the router; when the API server is
// back they catch up with a Service created meanwhile.
func testAPIServerUnreachable(ctx context.Context, t *testing.T, c *cluster.Cluster) {
	svc := cluster.LoadBalancer(testNS, "steady", bgpEip4)
	ip := createService(ctx, t, c, svc)
	waitRoute(ctx, t, c, ip, c.Nodes...)
	events, err := c.WatchRoutes(ctx, c.Router.NS)
	if err != nil {
		t.Fatal(err)
	}
	apiServer := c.Env.APIServerURL().Host
	var nss []string
	failedBefore := map[string]float64{}
	for _, n := range c.Nodes {
		nss = append(nss, n.NS)
		m, err := n.Metrics(ctx)
		if err != nil {
			t.Fatal(err)
		}
		failedBefore[n.Name] = cluster.MetricSum(m, "rest_client_requests_total", `code="<error>"`)
	}
	cut := time.Now()
	if err := c.CutForward(apiServer, nss...); err != nil {
		t.Fatal(err)
	}
	// Each speaker has noticed: its requests to the API server fail
	// (client-go counts them under code "<error>")...
	failed := func(ctx context.Context, n *cluster.Node) (float64, error) {
		m, err := n.Metrics(ctx)
		return cluster.MetricSum(m, "rest_client_requests_total", `code="<error>"`), err
	}
	seen := map[string]float64{}
	err = rig.Eventually(ctx, 60*time.Second, 200*time.Millisecond, func(ctx context.Context) error {
		for _, n := range c.Nodes {
			v, err := failed(ctx, n)
			if err != nil {
				return err
			}
			if v <= failedBefore[n.Name] {
				return fmt.Errorf("%s's speaker has not failed a request to the API server yet", n.Name)
			}
			seen[n.Name] = v
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	noticed := time.Now()
	t.Logf("TIMING API server cut -> every speaker saw a request fail: %v", noticed.Sub(cut).Round(time.Millisecond))
	// ...and is still retrying two seconds later, announcing all along.
	err = rig.Eventually(ctx, 60*time.Second, 200*time.Millisecond, func(ctx context.Context) error {
		if time.Since(noticed) < 2*time.Second {
			return fmt.Errorf("cut off for %v only", time.Since(noticed))
		}
		for _, n := range c.Nodes {
			v, err := failed(ctx, n)
			if err != nil {
				return err
			}
			if v <= seen[n.Name] {
				return fmt.Errorf("%s's speaker has not retried since", n.Name)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	// Created while no node reaches the API server (the controller runs on
	// node1 too): it gets its address and its route once they are back.
	later := cluster.LoadBalancer(testNS, "later", bgpEip4)
	if err := c.Client.Create(ctx, later); err != nil {
		t.Fatal(err)
	}
	for _, n := range c.Nodes {
		if !n.Speaker.Running() {
			t.Fatalf("%s's speaker exited without the API server: %v\n%s", n.Name, n.Speaker.Err(), n.Speaker.Tail(20))
		}
	}
	assertNoRouteEvents(t, events, hostRoute(ip))
	waitRoute(ctx, t, c, ip, c.Nodes...)

	restored := time.Now()
	if err := c.ForwardHost(ctx, apiServer, nss...); err != nil {
		t.Fatal(err)
	}
	// client-go's reflectors back off up to 30 s between failed lists.
	laterIP := waitServiceIP(ctx, t, c, later, time.Minute)
	waitRouteWithin(ctx, t, c, hostRoute(laterIP), time.Minute, c.Nodes...)
	t.Logf("TIMING API server back -> the Service created meanwhile is routed: %v", time.Since(restored).Round(time.Millisecond))
	assertNoRouteEvents(t, events, hostRoute(ip))
	deleteService(ctx, t, c, later)
	deleteService(ctx, t, c, svc)
}

// testWrongAS: an IPv6 BgpPeer with the wrong AS → every node's status for
// it says why its session is down, while the IPv4 sessions and routes are
// unaffected; fixing the AS in place brings the IPv6 sessions up.
func testWrongAS(ctx context.Context, t *testing.T, c *cluster.Cluster) {
	svc4 := cluster.LoadBalancer(testNS, "v4", bgpEip4)
	ip4 := createService(ctx, t, c, svc4)
	waitRoute(ctx, t, c, ip4, c.Nodes...)
	events, err := c.WatchRoutes(ctx, c.Router.NS)
	if err != nil {
		t.Fatal(err)
	}

	const wrongAS = 64999
	peer6 := torPeer(c, torPeer6, c.Router.LAN.IPv6.Addr(), wrongAS)
	if err := c.Client.Create(ctx, peer6); err != nil {
		t.Fatal(err)
	}
	err = rig.Eventually(ctx, 30*time.Second, 200*time.Millisecond, func(ctx context.Context) error {
		var p v1alpha2.BgpPeer
		if err := c.Client.Get(ctx, client.ObjectKey{Name: torPeer6}, &p); err != nil {
			return err
		}
		for _, n := range c.Nodes {
			st, ok := p.Status.NodesPeerStatus[n.Name]
			if !ok {
				return fmt.Errorf("no status for %s yet: %+v", n.Name, p.Status.NodesPeerStatus)
			}
			if st.PeerState.SessionState == "ESTABLISHED" || !strings.Contains(strings.ToLower(st.PeerState.LastError), "as") {
				return fmt.Errorf("%s: session %q, lastError %q; want it down with an error about the AS",
					n.Name, st.PeerState.SessionState, st.PeerState.LastError)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	var p v1alpha2.BgpPeer
	if err := c.Client.Get(ctx, client.ObjectKey{Name: torPeer6}, &p); err != nil {
		t.Fatal(err)
	}
	t.Logf("node1's status for the wrong-AS peer: session %s, lastError %q",
		p.Status.NodesPeerStatus["node1"].PeerState.SessionState, p.Status.NodesPeerStatus["node1"].PeerState.LastError)
	assertEstablished(ctx, t, c, torPeer4)
	assertNoRouteEvents(t, events, hostRoute(ip4))
	waitRoute(ctx, t, c, ip4, c.Nodes...)

	// Fixed in place: the IPv6 sessions come up and carry an IPv6 Service.
	p.Spec.Conf.PeerAs = rig.RouterAS
	if err := c.Client.Update(ctx, &p); err != nil {
		t.Fatal(err)
	}
	svc6 := cluster.LoadBalancer(testNS, "v6", bgpEip6)
	svc6.Spec.IPFamilies = []corev1.IPFamily{corev1.IPv6Protocol}
	ip6 := createService(ctx, t, c, svc6)
	if err := c.PublishEndpoints(ctx, svc6, c.Nodes...); err != nil {
		t.Fatal(err)
	}
	// After a run of refused sessions BIRD waits up to its maximum error
	// wait (10 s) before it accepts the next, and GoBGP retries after its
	// fixed 5 s idle hold plus up to two connect-retry periods.
	fixed := time.Now()
	waitRouteWithin(ctx, t, c, hostRoute(ip6), time.Minute, c.Nodes...)
	t.Logf("TIMING peer AS fixed -> IPv6 route via every node: %v", time.Since(fixed).Round(time.Millisecond))
	waitCurl(ctx, t, c, ip6)
	assertEstablished(ctx, t, c, torPeer6)
	assertNoRouteEvents(t, events, hostRoute(ip4))

	deleteService(ctx, t, c, svc6)
	waitRoute(ctx, t, c, ip6)
	deleteService(ctx, t, c, svc4)
}

// assertEstablished checks (eventually) that every node reports its
// session with peer as established.
func assertEstablished(ctx context.Context, t *testing.T, c *cluster.Cluster, peer string) {
	t.Helper()
	err := rig.Eventually(ctx, 30*time.Second, 200*time.Millisecond, func(ctx context.Context) error {
		var p v1alpha2.BgpPeer
		if err := c.Client.Get(ctx, client.ObjectKey{Name: peer}, &p); err != nil {
			return err
		}
		for _, n := range c.Nodes {
			if st := p.Status.NodesPeerStatus[n.Name].PeerState; st.SessionState != "ESTABLISHED" {
				return fmt.Errorf("%s's session with %s: %q (%s)", n.Name, peer, st.SessionState, st.LastError)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

// assertNoRouteEvents fails when the watch buffered any change of prefix.
func assertNoRouteEvents(t *testing.T, events <-chan rig.RouteEvent, prefix netip.Prefix) {
	t.Helper()
	for {
		select {
		case ev := <-events:
			if ev.Dst == prefix {
				t.Errorf("route to %s changed at the router: %+v", prefix, ev)
			}
		default:
			return
		}
	}
}

// testGracefulRestart: with graceful restart on the peer, a speaker that
// is stopped (SIGTERM) and started again leaves the router's route alone:
// BIRD keeps the stale path until the new session's End-of-RIB.
func testGracefulRestart(ctx context.Context, t *testing.T, c *cluster.Cluster) {
	var p v1alpha2.BgpPeer
	if err := c.Client.Get(ctx, client.ObjectKey{Name: torPeer4}, &p); err != nil {
		t.Fatal(err)
	}
	p.Spec.GracefulRestart = &v1alpha2.GracefulRestart{Enabled: true, RestartTime: 30}
	p.Spec.AfiSafis = []v1alpha2.AfiSafi{{
		Config:            &v1alpha2.AfiSafiConfig{Family: &v1alpha2.Family{Afi: "AFI_IP", Safi: "SAFI_UNICAST"}, Enabled: true},
		MpGracefulRestart: &v1alpha2.MpGracefulRestart{Config: &v1alpha2.MpGracefulRestartConfig{Enabled: true}},
	}}
	if err := c.Client.Update(ctx, &p); err != nil {
		t.Fatal(err)
	}
	svc := cluster.LoadBalancer(testNS, "gr", bgpEip4)
	ip := createService(ctx, t, c, svc)
	waitRoute(ctx, t, c, ip, c.Nodes...)
	assertEstablished(ctx, t, c, torPeer4)
	// The sessions renegotiated with the GR capability; wait for BIRD to
	// see it on every session before restarting one.
	err := rig.Eventually(ctx, 30*time.Second, 200*time.Millisecond, func(ctx context.Context) error {
		out, err := c.ToR.Cmd(ctx, "show", "protocols", "all")
		if err != nil {
			return err
		}
		if n := strings.Count(out, "graceful restart"); n < len(c.Nodes) {
			return fmt.Errorf("BIRD shows the graceful restart capability %d times, want >= %d:\n%s", n, len(c.Nodes), out)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}

	events, err := c.WatchRoutes(ctx, c.Router.NS)
	if err != nil {
		t.Fatal(err)
	}
	victim := c.Nodes[1]
	torLog := c.ToR.Proc.LogSize()
	stopped := time.Now()
	if err := victim.Speaker.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	if err := victim.Speaker.Wait(ctx); err != nil {
		t.Logf("speaker exit: %v", err)
	}
	if err := victim.StartSpeaker(); err != nil {
		t.Fatal(err)
	}
	// Done when BIRD says so: the restarted speaker sent End-of-RIB.
	err = rig.Eventually(ctx, 40*time.Second, 100*time.Millisecond, func(context.Context) error {
		if !strings.Contains(c.ToR.Proc.LogSince(torLog), "graceful restart done") {
			return fmt.Errorf("BIRD has not finished the graceful restart")
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("TIMING speaker SIGTERM -> restarted, graceful restart done at the router: %v", time.Since(stopped).Round(time.Millisecond))
	assertNoRouteEvents(t, events, hostRoute(ip))
	waitRoute(ctx, t, c, ip, c.Nodes...)
	deleteService(ctx, t, c, svc)
	waitRoute(ctx, t, c, ip)
}

// testUninstallWithdraws: with graceful restart on (the previous step
// turned it on), a speaker stopped for a rollout keeps its routes at the
// router; one stopped because Herald is being uninstalled (its pod's
// DaemonSet deleted, as `helm uninstall` does) withdraws them at once
// instead of leaving the router a black hole for the 30 s restart time.
// The testbed has no kubelet: the DaemonSet and the pod are objects only,
// which is all the speaker reads.
func testUninstallWithdraws(ctx context.Context, t *testing.T, c *cluster.Cluster) {
	victim := c.Nodes[2]
	labels := map[string]string{"app.kubernetes.io/name": "herald", "app.kubernetes.io/component": "speaker"}
	podSpec := corev1.PodSpec{Containers: []corev1.Container{{Name: "speaker", Image: "herald-speaker:e2e"}}}
	ds := &appsv1.DaemonSet{
		ObjectMeta: metav1.ObjectMeta{Namespace: cluster.SpeakerNamespace, Name: "herald-speaker"},
		Spec: appsv1.DaemonSetSpec{
			Selector: &metav1.LabelSelector{MatchLabels: labels},
			Template: corev1.PodTemplateSpec{ObjectMeta: metav1.ObjectMeta{Labels: labels}, Spec: podSpec},
		},
	}
	if err := c.Client.Create(ctx, ds); err != nil {
		t.Fatal(err)
	}
	podSpec.NodeName = victim.Name
	pod := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{
			Namespace: cluster.SpeakerNamespace, Name: "herald-speaker-" + victim.Name, Labels: labels,
			OwnerReferences: []metav1.OwnerReference{{APIVersion: "apps/v1", Kind: "DaemonSet", Name: ds.Name, UID: ds.UID, Controller: ptr.To(true)}},
		},
		Spec: podSpec,
	}
	if err := c.Client.Create(ctx, pod); err != nil {
		t.Fatal(err)
	}
	defer func() { _ = c.Client.Delete(context.WithoutCancel(ctx), pod) }()

	// The victim's speaker, now knowing its pod.
	restartSpeaker := func(args ...string) {
		t.Helper()
		if err := victim.Speaker.Signal(syscall.SIGTERM); err != nil {
			t.Fatal(err)
		}
		if err := victim.Speaker.Wait(ctx); err != nil {
			t.Logf("speaker exit: %v", err)
		}
		if err := victim.StartSpeaker(args...); err != nil {
			t.Fatal(err)
		}
		if err := victim.WaitSpeakerReady(ctx); err != nil {
			t.Fatal(err)
		}
	}
	restartSpeaker("--pod-name=" + pod.Name)
	svc := cluster.LoadBalancer(testNS, "uninstall", bgpEip4)
	ip := createService(ctx, t, c, svc)
	waitRoute(ctx, t, c, ip, c.Nodes...)

	// helm uninstall deletes the DaemonSet, then the pods go.
	if err := c.Client.Delete(ctx, ds, client.PropagationPolicy(metav1.DeletePropagationBackground)); err != nil {
		t.Fatal(err)
	}
	logged := victim.Speaker.LogSize()
	stopped := time.Now()
	if err := victim.Speaker.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	if err := victim.Speaker.Wait(ctx); err != nil {
		t.Logf("speaker exit: %v", err)
	}
	// Well inside the 30 s graceful-restart time the router would keep a
	// restarting speaker's routes for.
	waitRouteWithin(ctx, t, c, hostRoute(ip), 10*time.Second, c.Nodes[0], c.Nodes[1])
	t.Logf("TIMING uninstall: speaker SIGTERM -> its route gone at the router: %v", time.Since(stopped).Round(time.Millisecond))
	if log := victim.Speaker.LogSince(logged); !strings.Contains(log, "Herald is being uninstalled") {
		t.Errorf("the speaker did not log the uninstall; its log:\n%s", log)
	}

	// Leave the testbed as found: the speaker back, without a pod.
	if err := victim.StartSpeaker(); err != nil {
		t.Fatal(err)
	}
	waitRoute(ctx, t, c, ip, c.Nodes...)
	deleteService(ctx, t, c, svc)
	waitRoute(ctx, t, c, ip)
}

// testMetrics scrapes every speaker's /metrics: one address announced in
// BGP mode, both sessions established.
func testMetrics(ctx context.Context, t *testing.T, c *cluster.Cluster) {
	svc := cluster.LoadBalancer(testNS, "metrics", bgpEip4)
	ip := createService(ctx, t, c, svc)
	waitRoute(ctx, t, c, ip, c.Nodes...)
	for _, n := range c.Nodes {
		// The IPv6 session of the node restarted by the previous step
		// may wait out BIRD's error wait (up to 10 s) and GoBGP's 5 s idle
		// hold before it is back.
		err := rig.Eventually(ctx, time.Minute, 200*time.Millisecond, func(ctx context.Context) error {
			m, err := n.Metrics(ctx)
			if err != nil {
				return err
			}
			for series, want := range map[string]float64{
				`herald_speaker_announced_addresses{mode="bgp"}`:                                1,
				`herald_speaker_bgp_session_state{peer="` + torPeer4 + `",state="ESTABLISHED"}`: 1,
				`herald_speaker_bgp_session_state{peer="` + torPeer6 + `",state="ESTABLISHED"}`: 1,
			} {
				if got, ok := cluster.MetricValue(m, series); !ok || got != want {
					return fmt.Errorf("%s: %s = %v (present %v), want %v", n.Name, series, got, ok, want)
				}
			}
			return nil
		})
		if err != nil {
			t.Error(err)
		}
	}
	deleteService(ctx, t, c, svc)
}

// testServiceCIDRs: BgpConf serviceClusterIPs and serviceExternalIPs →
// every node advertises the ranges (ECMP at the router) and the client
// reaches a ClusterIP Service's cluster IP and external IP through them,
// with no LoadBalancer Service; a Local Service's cluster IP is also a
// /32 from the nodes with its endpoints only; removing the fields
// withdraws everything.
func testServiceCIDRs(ctx context.Context, t *testing.T, c *cluster.Cluster) {
	clusterIPs := netip.MustParsePrefix(testenvServiceCIDR)
	externalIPs := netip.MustParsePrefix("10.99.210.0/24")
	externalIP := netip.MustParseAddr("10.99.210.5")
	// The client routes both ranges to the router, as a real client's
	// default route would.
	for _, p := range []netip.Prefix{clusterIPs, externalIPs} {
		if out, err := c.Exec(c.Rig.Client.NS, "ip", "route", "replace", p.String(), "via", c.Router.Uplink.IPv4.Addr().String()); err != nil {
			t.Fatalf("client route to %s: %v\n%s", p, err, out)
		}
	}
	setCIDRs := func(cluster, external []v1alpha2.ServiceIPBlock) {
		t.Helper()
		var conf v1alpha2.BgpConf
		if err := c.Client.Get(ctx, client.ObjectKey{Name: v1alpha2.BgpConfName}, &conf); err != nil {
			t.Fatal(err)
		}
		conf.Spec.ServiceClusterIPs, conf.Spec.ServiceExternalIPs = cluster, external
		if err := c.Client.Update(ctx, &conf); err != nil {
			t.Fatal(err)
		}
	}
	setCIDRs([]v1alpha2.ServiceIPBlock{{CIDR: clusterIPs.String()}}, []v1alpha2.ServiceIPBlock{{CIDR: externalIPs.String()}})
	for _, p := range []netip.Prefix{clusterIPs, externalIPs} {
		waitPrefix(ctx, t, c, p, c.Nodes...)
	}

	svc := &corev1.Service{
		ObjectMeta: metav1.ObjectMeta{Namespace: testNS, Name: "cluster-ip"},
		Spec: corev1.ServiceSpec{
			Ports:       []corev1.ServicePort{{Name: "http", Port: 80, TargetPort: intstr.FromInt32(cluster.BackendPort), Protocol: corev1.ProtocolTCP}},
			ExternalIPs: []string{externalIP.String()},
		},
	}
	if err := c.Client.Create(ctx, svc); err != nil {
		t.Fatal(err)
	}
	if err := c.PublishEndpoints(ctx, svc, c.Nodes...); err != nil {
		t.Fatal(err)
	}
	if err := c.Client.Get(ctx, client.ObjectKeyFromObject(svc), svc); err != nil {
		t.Fatal(err)
	}
	clusterIP := netip.MustParseAddr(svc.Spec.ClusterIP)
	waitCurl(ctx, t, c, clusterIP)
	t.Logf("30 curls to cluster IP %s answered by %v", clusterIP, curlNames(ctx, t, c, clusterIP, 30))
	waitCurl(ctx, t, c, externalIP)

	// Local: the LoadBalancer Service's cluster IP as a /32 from node3 only.
	local := cluster.LoadBalancer(testNS, "local-cidr", bgpEip4)
	local.Spec.ExternalTrafficPolicy = corev1.ServiceExternalTrafficPolicyLocal
	lbIP := createService(ctx, t, c, local)
	if err := c.PublishEndpoints(ctx, local, c.Nodes[2]); err != nil {
		t.Fatal(err)
	}
	if err := c.Client.Get(ctx, client.ObjectKeyFromObject(local), local); err != nil {
		t.Fatal(err)
	}
	waitRoute(ctx, t, c, netip.MustParseAddr(local.Spec.ClusterIP), c.Nodes[2])
	waitRoute(ctx, t, c, lbIP, c.Nodes[2])

	setCIDRs(nil, nil)
	for _, p := range []netip.Prefix{clusterIPs, externalIPs} {
		waitPrefix(ctx, t, c, p)
	}
	waitRoute(ctx, t, c, netip.MustParseAddr(local.Spec.ClusterIP))
	waitRoute(ctx, t, c, lbIP, c.Nodes[2]) // the LoadBalancer address stays
	deleteService(ctx, t, c, local)
	if err := c.Client.Delete(ctx, svc); err != nil {
		t.Fatal(err)
	}
}

// testenvServiceCIDR is the API server's IPv4 cluster-IP range.
const testenvServiceCIDR = testenv.ServiceCIDRv4

// waitPrefix waits until the router's kernel routes prefix via exactly
// the given nodes (none: no route).
func waitPrefix(ctx context.Context, t *testing.T, c *cluster.Cluster, prefix netip.Prefix, nodes ...*cluster.Node) {
	t.Helper()
	waitRouteWithin(ctx, t, c, prefix, routeWait, nodes...)
}

// waitRouteWithin is waitPrefix with its own bound.
func waitRouteWithin(ctx context.Context, t *testing.T, c *cluster.Cluster, prefix netip.Prefix, within time.Duration, nodes ...*cluster.Node) {
	t.Helper()
	waitNexthops(ctx, t, c.Rig, prefix, nodeAddrs(prefix.Addr(), nodes...), within)
}

// testNoLeasesWithoutLayer2: with no layer2 Eip, no speaker renews a
// Lease: a cluster that uses BGP alone pays no Layer2 API writes.
func testNoLeasesWithoutLayer2(ctx context.Context, t *testing.T, c *cluster.Cluster) {
	var leases coordinationv1.LeaseList
	if err := c.Client.List(ctx, &leases, client.InNamespace(cluster.SpeakerNamespace)); err != nil {
		t.Fatal(err)
	}
	for _, l := range leases.Items {
		if strings.HasPrefix(l.Name, layer2.LeaseNamePrefix) {
			t.Errorf("Lease %s/%s exists, though no layer2 Eip does", l.Namespace, l.Name)
		}
	}
}

// testMisconfigurationRefused applies, with kubectl as a user would, an
// Eip overlapping the BGP pool: the API server calls herald-controller's
// webhook in node1, kubectl fails with the field and the Eip it overlaps,
// and nothing is created.
func testMisconfigurationRefused(ctx context.Context, t *testing.T, c *cluster.Cluster) {
	kubectl, err := kubectlPath()
	if err != nil {
		t.Fatal(err)
	}
	manifest := filepath.Join(t.TempDir(), "overlap.yaml")
	const bad = `apiVersion: network.kubesphere.io/v1alpha2
kind: Eip
metadata:
  name: overlapping
spec:
  address: 10.99.200.50-10.99.200.150
  protocol: bgp
`
	if err := os.WriteFile(manifest, []byte(bad), 0o644); err != nil {
		t.Fatal(err)
	}
	out, err := exec.CommandContext(ctx, kubectl, "--kubeconfig", c.Kubeconfig, "apply", "-f", manifest).CombinedOutput()
	if err == nil {
		t.Fatalf("kubectl apply of an overlapping Eip succeeded:\n%s", out)
	}
	for _, want := range []string{`Eip "overlapping" is invalid`, "spec.address", fmt.Sprintf("overlaps Eip %q", bgpEip4)} {
		if !strings.Contains(string(out), want) {
			t.Errorf("kubectl's refusal lacks %q:\n%s", want, out)
		}
	}
	var eip v1alpha2.Eip
	if err := c.Client.Get(ctx, client.ObjectKey{Name: "overlapping"}, &eip); !apierrors.IsNotFound(err) {
		t.Errorf("the refused Eip: get = %v, want NotFound", err)
	}
}
