package speaker

import (
	"context"
	"fmt"
	"net/netip"
	"slices"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/herald-lb/herald/api/v1alpha2"
	"github.com/herald-lb/herald/internal/testenv"
)

// TestNodeSelectionThroughReconciler runs the speaker's reconciler and BGP
// mode over a real API server and cache: the node's own labels, read from
// the one Node object its cache watches, decide which Eips' addresses it
// advertises (spec.nodeSelector), a relabel takes effect through the Node
// watch, and the exclude label withdraws every route while the session,
// from a BgpPeer that selects the node through its second nodeSelectors
// entry, stays configured.
func TestNodeSelectionThroughReconciler(t *testing.T) {
	const node, ns = "selnode", "nodesel"
	ctx := context.Background()
	n := &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: node, Labels: map[string]string{"rack": "r1"}}}
	create(t, n)
	n.Status.Addresses = []corev1.NodeAddress{{Type: corev1.NodeInternalIP, Address: "10.98.0.1"}}
	if err := env.Client.Status().Update(ctx, n); err != nil {
		t.Fatal(err)
	}
	create(t, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}})
	editBgpConf(t, func(*v1alpha2.BgpConfSpec) {})
	peer := &v1alpha2.BgpPeer{ObjectMeta: metav1.ObjectMeta{Name: "sel-tor"}, Spec: v1alpha2.BgpPeerSpec{
		Conf: &v1alpha2.PeerConf{NeighborAddress: "10.98.0.254", PeerAs: 64512},
		NodeSelectors: []metav1.LabelSelector{
			{MatchLabels: map[string]string{"kubernetes.io/hostname": "elsewhere"}},
			{MatchExpressions: []metav1.LabelSelectorRequirement{{Key: "rack", Operator: metav1.LabelSelectorOpExists}}},
		},
	}}
	eips := []*v1alpha2.Eip{
		{ObjectMeta: metav1.ObjectMeta{Name: "sel-rack"}, Spec: v1alpha2.EipSpec{Address: "10.98.77.0/29",
			NodeSelector: &metav1.LabelSelector{MatchLabels: map[string]string{"rack": "r1"}}}},
		{ObjectMeta: metav1.ObjectMeta{Name: "sel-open"}, Spec: v1alpha2.EipSpec{Address: "10.98.77.8/29"}},
	}
	for _, o := range []client.Object{peer, eips[0], eips[1]} {
		create(t, o)
		t.Cleanup(func() {
			if err := env.Client.Delete(ctx, o); err != nil {
				t.Error(err)
			}
		})
	}
	router := &fakeRouter{}
	startSpeaker(t, node, router)
	for _, s := range []struct{ name, ip string }{{"rack", "10.98.77.1"}, {"open", "10.98.77.9"}} {
		svc := loadBalancer(t, ns, s.name, s.ip, false)
		t.Cleanup(func() { _ = env.Client.Delete(ctx, svc) })
	}

	ours := netip.MustParsePrefix("10.98.77.0/28")
	expect := func(what string, peers int, want ...string) time.Duration {
		t.Helper()
		start := time.Now()
		testenv.Eventually(t, 10*time.Second, func() error {
			var got []string
			for _, p := range pathsOf(router) {
				if ours.Overlaps(netip.MustParsePrefix(p)) {
					got = append(got, p)
				}
			}
			slices.Sort(got)
			if !slices.Equal(got, want) {
				return fmt.Errorf("%s: paths %v, want %v", what, got, want)
			}
			if cfg, _ := router.state(); len(cfg.Peers) != peers {
				return fmt.Errorf("%s: %d peers configured, want %d", what, len(cfg.Peers), peers)
			}
			return nil
		})
		return time.Since(start)
	}
	label := func(labels map[string]string) {
		t.Helper()
		var cur corev1.Node
		if err := env.Client.Get(ctx, client.ObjectKey{Name: node}, &cur); err != nil {
			t.Fatal(err)
		}
		cur.Labels = labels
		if err := env.Client.Update(ctx, &cur); err != nil {
			t.Fatal(err)
		}
	}

	expect("selected", 1, "10.98.77.1/32", "10.98.77.9/32")
	label(map[string]string{"rack": "r2"})
	took := expect("relabelled out of the rack pool", 1, "10.98.77.9/32")
	t.Logf("relabel -> route withdrawn from the router: %v", took)
	label(map[string]string{"rack": "r1", corev1.LabelNodeExcludeBalancers: ""})
	expect("excluded: nothing advertised, the session kept", 1)
	label(map[string]string{"rack": "r1"})
	expect("selected again", 1, "10.98.77.1/32", "10.98.77.9/32")
}
