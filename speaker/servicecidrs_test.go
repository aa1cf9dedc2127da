package speaker

import (
	"context"
	"fmt"
	"slices"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/herald-lb/herald/api/v1alpha2"
	"github.com/herald-lb/herald/internal/testenv"
)

// editBgpConf applies edit to the BgpConf named default, creating it
// first when no other test has (and then deleting it when the test ends,
// so that the next test can create its own). A merge patch leaves the
// status the speakers write alone, and turns a field set to nil into a
// removal.
func editBgpConf(t *testing.T, edit func(*v1alpha2.BgpConfSpec)) {
	t.Helper()
	ctx := context.Background()
	var c v1alpha2.BgpConf
	err := env.Client.Get(ctx, client.ObjectKey{Name: v1alpha2.BgpConfName}, &c)
	if apierrors.IsNotFound(err) {
		c = v1alpha2.BgpConf{ObjectMeta: metav1.ObjectMeta{Name: v1alpha2.BgpConfName}, Spec: v1alpha2.BgpConfSpec{As: 64513}}
		if err = env.Client.Create(ctx, &c); err == nil {
			t.Cleanup(func() {
				if err := env.Client.Delete(ctx, &v1alpha2.BgpConf{ObjectMeta: metav1.ObjectMeta{Name: v1alpha2.BgpConfName}}); err != nil {
					t.Error(err)
				}
			})
		}
	}
	if err != nil {
		t.Fatal(err)
	}
	before := c.DeepCopy()
	edit(&c.Spec)
	if err := env.Client.Patch(ctx, &c, client.MergeFrom(before)); err != nil {
		t.Fatalf("bgpconf %q: %v", c.Name, err)
	}
}

// service creates a Service of no load balancer of Herald's: cluster IPs
// are the API server's, external IPs the user's.
func service(t *testing.T, ns, name string, typ corev1.ServiceType, local bool, externalIPs ...string) *corev1.Service {
	t.Helper()
	svc := &corev1.Service{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name},
		Spec: corev1.ServiceSpec{
			Type:        typ,
			Ports:       []corev1.ServicePort{{Port: 80, Protocol: corev1.ProtocolTCP}},
			Selector:    map[string]string{"app": name},
			ExternalIPs: externalIPs,
		},
	}
	if local {
		svc.Spec.ExternalTrafficPolicy = corev1.ServiceExternalTrafficPolicyLocal
	}
	create(t, svc)
	return svc
}

// TestBGPModeServiceCIDRs sets BgpConf's Service ranges and checks that the
// node hands its router the ranges, the host routes of its Local Services
// with an endpoint here, and nothing once the ranges are removed.
func TestBGPModeServiceCIDRs(t *testing.T) {
	ctx := context.Background()
	node := &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: "node3", Labels: map[string]string{"kubernetes.io/hostname": "node3"}}}
	create(t, node)
	node.Status.Addresses = []corev1.NodeAddress{{Type: corev1.NodeInternalIP, Address: "10.99.0.13"}}
	if err := env.Client.Status().Update(ctx, node); err != nil {
		t.Fatal(err)
	}
	create(t, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "cidrs"}})
	editBgpConf(t, func(*v1alpha2.BgpConfSpec) {})
	peer := &v1alpha2.BgpPeer{ObjectMeta: metav1.ObjectMeta{Name: "cidr-tor"}, Spec: v1alpha2.BgpPeerSpec{
		Conf:         &v1alpha2.PeerConf{NeighborAddress: "10.99.0.3", PeerAs: 64512},
		NodeSelector: &metav1.LabelSelector{MatchLabels: map[string]string{"kubernetes.io/hostname": "node3"}},
	}}
	create(t, peer)
	t.Cleanup(func() {
		if err := env.Client.Delete(ctx, peer); err != nil {
			t.Error(err)
		}
	})

	router := &fakeRouter{}
	startSpeaker(t, "node3", router)

	// None of these is Herald's. Cluster IPs come from testenv's
	// ServiceCIDRv4; external IPs are the user's, one of them outside the
	// range set below.
	nodePortLocal := service(t, "cidrs", "nodeport-local", corev1.ServiceTypeNodePort, true)
	endpointOn(t, "cidrs", "nodeport-local", "node3")
	service(t, "cidrs", "nodeport-cluster", corev1.ServiceTypeNodePort, false)
	endpointOn(t, "cidrs", "nodeport-cluster", "node3")
	externalLocal := service(t, "cidrs", "external-local", corev1.ServiceTypeClusterIP, true, "192.0.2.5", "198.51.100.5")
	endpointOn(t, "cidrs", "external-local", "node3")

	expect := func(what string, want ...string) {
		t.Helper()
		slices.Sort(want)
		testenv.Eventually(t, 10*time.Second, func() error {
			got := pathsOf(router)
			slices.Sort(got)
			if !slices.Equal(got, want) {
				return fmt.Errorf("%s: paths %v, want %v", what, got, want)
			}
			return nil
		})
	}
	// Without ranges, no Service here has anything to announce; the
	// reconcile that says so has run once the peer is configured.
	testenv.Eventually(t, 10*time.Second, func() error {
		if cfg, _ := router.state(); len(cfg.Peers) == 0 {
			return fmt.Errorf("no peer configured yet")
		}
		return nil
	})
	expect("no ranges")

	editBgpConf(t, func(s *v1alpha2.BgpConfSpec) {
		s.ServiceClusterIPs = []v1alpha2.ServiceIPBlock{{CIDR: testenv.ServiceCIDRv4}}
		s.ServiceExternalIPs = []v1alpha2.ServiceIPBlock{{CIDR: "192.0.2.0/24"}}
	})
	expect("ranges set", testenv.ServiceCIDRv4, "192.0.2.0/24",
		nodePortLocal.Spec.ClusterIP+"/32", externalLocal.Spec.ClusterIP+"/32", "192.0.2.5/32")

	// The Local Service's endpoint leaves this node: its host route goes,
	// the range stays.
	if err := env.Client.Delete(ctx, &discoveryv1.EndpointSlice{ObjectMeta: metav1.ObjectMeta{Namespace: "cidrs", Name: "nodeport-local-node3"}}); err != nil {
		t.Fatal(err)
	}
	expect("endpoint gone", testenv.ServiceCIDRv4, "192.0.2.0/24", externalLocal.Spec.ClusterIP+"/32", "192.0.2.5/32")

	editBgpConf(t, func(s *v1alpha2.BgpConfSpec) {
		s.ServiceClusterIPs, s.ServiceExternalIPs = nil, nil
	})
	expect("ranges removed")
}
