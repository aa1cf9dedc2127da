package speaker

import (
	"context"
	"fmt"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/go-logr/logr"
	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/herald-lb/herald/api/v1alpha2"
	"github.com/herald-lb/herald/internal/testenv"
	"github.com/herald-lb/herald/speaker/bgp"
)

func create(t *testing.T, obj client.Object) {
	t.Helper()
	if err := env.Client.Create(context.Background(), obj); err != nil {
		t.Fatal(err)
	}
}

// loadBalancer creates a Herald Service with an address already in its
// status, as the controller would have written it.
func loadBalancer(t *testing.T, ns, name, ip string, local bool) *corev1.Service {
	t.Helper()
	svc := &corev1.Service{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name, Annotations: map[string]string{
			v1alpha2.AnnotationLoadBalancer: v1alpha2.AnnotationLoadBalancerValue,
		}},
		Spec: corev1.ServiceSpec{
			Type:                          corev1.ServiceTypeLoadBalancer,
			Ports:                         []corev1.ServicePort{{Port: 80, Protocol: corev1.ProtocolTCP}},
			Selector:                      map[string]string{"app": name},
			AllocateLoadBalancerNodePorts: ptr.To(false),
		},
	}
	if local {
		svc.Spec.ExternalTrafficPolicy = corev1.ServiceExternalTrafficPolicyLocal
	}
	create(t, svc)
	svc.Status.LoadBalancer.Ingress = []corev1.LoadBalancerIngress{{IP: ip}}
	if err := env.Client.Status().Update(context.Background(), svc); err != nil {
		t.Fatal(err)
	}
	return svc
}

func endpointOn(t *testing.T, ns, service, node string) {
	t.Helper()
	create(t, &discoveryv1.EndpointSlice{
		ObjectMeta:  metav1.ObjectMeta{Namespace: ns, Name: service + "-" + node, Labels: map[string]string{discoveryv1.LabelServiceName: service}},
		AddressType: discoveryv1.AddressTypeIPv4,
		Endpoints: []discoveryv1.Endpoint{{
			Addresses: []string{"10.244.0.5"}, NodeName: ptr.To(node),
			Conditions: discoveryv1.EndpointConditions{Ready: ptr.To(true)},
		}},
	})
}

func pathsOf(r *fakeRouter) []string {
	_, paths := r.state()
	var out []string
	for _, p := range paths {
		out = append(out, p.Prefix.String())
	}
	return out
}

func TestBGPModeAnnounces(t *testing.T) {
	ctx := context.Background()
	node := &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: "node1", Labels: map[string]string{"rack": "a"}}}
	create(t, node)
	node.Status.Addresses = []corev1.NodeAddress{{Type: corev1.NodeInternalIP, Address: "10.99.0.11"}}
	if err := env.Client.Status().Update(ctx, node); err != nil {
		t.Fatal(err)
	}
	create(t, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "web"}})
	create(t, &v1alpha2.Eip{ObjectMeta: metav1.ObjectMeta{Name: "pool"}, Spec: v1alpha2.EipSpec{Address: "10.99.200.0/24"}})
	create(t, &v1alpha2.Eip{ObjectMeta: metav1.ObjectMeta{Name: "l2"}, Spec: v1alpha2.EipSpec{Address: "10.99.0.200", Protocol: "layer2", Interface: "eth0"}})
	create(t, &v1alpha2.BgpConf{ObjectMeta: metav1.ObjectMeta{Name: "default"}, Spec: v1alpha2.BgpConfSpec{As: 64513}})
	create(t, &v1alpha2.BgpPeer{ObjectMeta: metav1.ObjectMeta{Name: "tor"}, Spec: v1alpha2.BgpPeerSpec{
		Conf: &v1alpha2.PeerConf{NeighborAddress: "10.99.0.1", PeerAs: 64512},
	}})
	create(t, &v1alpha2.BgpPeer{ObjectMeta: metav1.ObjectMeta{Name: "other-rack"}, Spec: v1alpha2.BgpPeerSpec{
		Conf:         &v1alpha2.PeerConf{NeighborAddress: "10.99.0.2", PeerAs: 64512},
		NodeSelector: &metav1.LabelSelector{MatchLabels: map[string]string{"rack": "b"}},
	}})

	router := &fakeRouter{statuses: []bgp.PeerStatus{{
		Name: "tor", Address: netip.MustParseAddr("10.99.0.1"), PeerAS: 64512, LocalAS: 64513,
		State: bgp.StateEstablished, HoldTime: 9 * time.Second, Uptime: time.Date(2026, 11, 23, 12, 0, 0, 0, time.UTC),
	}}}
	startSpeaker(t, "node1", router)

	loadBalancer(t, "web", "cluster", "10.99.200.1", false)
	loadBalancer(t, "web", "local-here", "10.99.200.2", true)
	endpointOn(t, "web", "local-here", "node1")
	loadBalancer(t, "web", "local-elsewhere", "10.99.200.3", true)
	endpointOn(t, "web", "local-elsewhere", "node2")
	loadBalancer(t, "web", "layer2", "10.99.0.200", false)

	testenv.Eventually(t, 10*time.Second, func() error {
		cfg, _ := router.state()
		got := fmt.Sprint(pathsOf(router))
		if want := "[10.99.200.1/32 10.99.200.2/32]"; got != want {
			return fmt.Errorf("paths %s, want %s", got, want)
		}
		if cfg.Global.AS != 64513 || cfg.Global.RouterID.String() != "10.99.0.11" || len(cfg.Peers) != 1 || cfg.Peers[0].Name != "tor" {
			return fmt.Errorf("config %+v", cfg)
		}
		return nil
	})

	// The last local endpoint goes: the address is withdrawn.
	if err := env.Client.Delete(ctx, &discoveryv1.EndpointSlice{ObjectMeta: metav1.ObjectMeta{Namespace: "web", Name: "local-here-node1"}}); err != nil {
		t.Fatal(err)
	}
	testenv.Eventually(t, 10*time.Second, func() error {
		if got := fmt.Sprint(pathsOf(router)); got != "[10.99.200.1/32]" {
			return fmt.Errorf("paths %s after the endpoint left", got)
		}
		return nil
	})

	// Session status lands in the BgpPeer and BgpConf, under this node.
	testenv.Eventually(t, 10*time.Second, func() error {
		var p v1alpha2.BgpPeer
		if err := env.Client.Get(ctx, client.ObjectKey{Name: "tor"}, &p); err != nil {
			return err
		}
		st, ok := p.Status.NodesPeerStatus["node1"]
		if !ok || st.PeerState.SessionState != "ESTABLISHED" || st.TimersState.HoldTime != "9" || st.TimersState.Uptime != "2026-11-23T12:00:00Z" {
			return fmt.Errorf("nodesPeerStatus = %+v", p.Status.NodesPeerStatus)
		}
		var c v1alpha2.BgpConf
		if err := env.Client.Get(ctx, client.ObjectKey{Name: "default"}, &c); err != nil {
			return err
		}
		if cs := c.Status.NodesConfStatus["node1"]; cs.RouterId != "10.99.0.11" || cs.As != 64513 {
			return fmt.Errorf("nodesConfStatus = %+v", c.Status.NodesConfStatus)
		}
		return nil
	})

	// The Service goes: nothing is announced.
	for _, name := range []string{"cluster", "local-here", "local-elsewhere", "layer2"} {
		if err := env.Client.Delete(ctx, &corev1.Service{ObjectMeta: metav1.ObjectMeta{Namespace: "web", Name: name}}); err != nil {
			t.Fatal(err)
		}
	}
	testenv.Eventually(t, 10*time.Second, func() error {
		if got := pathsOf(router); len(got) != 0 {
			return fmt.Errorf("paths %v after the Services left", got)
		}
		return nil
	})
}

// TestBGPModeShutdown: graceful restart keeps the routes at the routers
// on a restart, not on an uninstall (Leaving), and Leaving is asked only
// when graceful restart is on.
func TestBGPModeShutdown(t *testing.T) {
	for _, tc := range []struct {
		graceful, leaving bool
		want              bool
	}{
		{graceful: false, want: false},
		{graceful: true, want: true},
		{graceful: true, leaving: true, want: false},
		{graceful: false, leaving: true, want: false},
	} {
		router := &fakeRouter{}
		asked := false
		m := &BGPMode{Node: "n", Router: router, Log: logr.Discard(), Leaving: func(context.Context) (bool, string) {
			asked = true
			return tc.leaving, "test"
		}}
		m.last = bgp.Config{Peers: []bgp.Peer{{Name: "tor", GracefulRestart: bgp.GracefulRestart{Enabled: tc.graceful}}}}
		if err := m.Shutdown(context.Background()); err != nil {
			t.Fatal(err)
		}
		if router.stopped == nil || *router.stopped != tc.want {
			t.Errorf("graceful restart %v, leaving %v: Stop(graceful=%v), want %v", tc.graceful, tc.leaving, router.stopped, tc.want)
		}
		if asked != tc.graceful {
			t.Errorf("graceful restart %v: Leaving asked %v", tc.graceful, asked)
		}
	}
}

func TestPathsNextHop(t *testing.T) {
	v4peer := bgp.Config{Peers: []bgp.Peer{{Address: netip.MustParseAddr("10.99.0.1")}}}
	v6peer := bgp.Config{Peers: []bgp.Peer{{Address: netip.MustParseAddr("fd99::1")}}}
	nodeAddrs := []netip.Addr{netip.MustParseAddr("10.99.0.11"), netip.MustParseAddr("fd99::11")}
	routes := []Route{
		{Prefix: netip.MustParsePrefix("10.99.200.1/32")}, {Prefix: netip.MustParsePrefix("10.96.0.0/12")},
		{Prefix: netip.MustParsePrefix("fd99:200::1/128")}, {Prefix: netip.MustParsePrefix("fd00:96::/108")},
	}
	for _, tt := range []struct {
		name string
		cfg  bgp.Config
		want string
	}{
		{"v4 sessions only: v6 routes carry the node's v6 address", v4peer,
			"[{10.99.200.1/32 invalid IP} {10.96.0.0/12 invalid IP} {fd99:200::1/128 fd99::11} {fd00:96::/108 fd99::11}]"},
		{"a v6 session: the router picks per session", v6peer,
			"[{10.99.200.1/32 invalid IP} {10.96.0.0/12 invalid IP} {fd99:200::1/128 invalid IP} {fd00:96::/108 invalid IP}]"},
	} {
		var paths []string
		for _, r := range routesFor(routes, tt.cfg, nodeAddrs) {
			paths = append(paths, fmt.Sprintf("{%s %s}", r.Prefix, r.NextHop))
		}
		if got := "[" + strings.Join(paths, " ") + "]"; got != tt.want {
			t.Errorf("%s: %s, want %s", tt.name, got, tt.want)
		}
	}
}
