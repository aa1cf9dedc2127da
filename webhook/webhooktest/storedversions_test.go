package webhooktest_test

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/herald-lb/herald/api/v1alpha1"
	"github.com/herald-lb/herald/api/v1alpha2"
	"github.com/herald-lb/herald/internal/testenv"
	"github.com/herald-lb/herald/webhook/convert"
	"github.com/herald-lb/herald/webhook/webhooktest"
)

// TestObjectsStoredAtV1alpha1ReadBack replays a cluster's history with
// OpenELB: its CRDs first stored v1alpha1 only (objects written then stay
// at v1alpha1 in etcd), then v1alpha2 with conversion None. Herald's CRDs
// replace them: v1alpha2 storage, conversion through the webhook. Every
// object then reads through v1alpha2 with its fields, renamed ones
// included, and status.storedVersions still lists v1alpha1, since objects
// written then were never rewritten.
func TestObjectsStoredAtV1alpha1ReadBack(t *testing.T) {
	env := testenv.Start(t, testenv.Options{CRDDirectoryPaths: []string{t.TempDir()}})
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	c := webhooktest.Client(t, env.Config)
	herald := webhooktest.CRDs(t)

	// OpenELB's first releases: v1alpha1, stored.
	webhooktest.InstallOpenELBv1alpha1(ctx, t, c, herald)
	for _, obj := range []client.Object{
		&v1alpha1.Eip{ObjectMeta: named("eip-v1"), Spec: v1alpha1.EipSpec{Address: "192.168.0.91-192.168.0.100", Protocol: "layer2", UsingKnownIPs: true}},
		&v1alpha1.BgpConf{ObjectMeta: named("default"), Spec: v1alpha1.BgpConfSpec{As: 50001, RouterId: "172.22.0.10", Port: 17900}},
		&v1alpha1.BgpPeer{ObjectMeta: named("peer-v1"), Spec: v1alpha1.BgpPeerSpec{
			Config: v1alpha1.NeighborConfig{PeerAs: 50000, NeighborAddress: "172.22.0.2"}, AddPaths: v1alpha1.AddPaths{SendMax: 10},
			Transport: v1alpha1.Transport{RemotePort: 179}, UsingPortForward: true}},
	} {
		testenv.Eventually(t, 30*time.Second, func() error { return c.Create(ctx, obj) })
	}

	// OpenELB v0.6: both served, v1alpha2 stored, conversion None.
	webhooktest.ReplaceCRDs(ctx, t, c, herald, webhooktest.ConversionNone)
	eipV2 := &v1alpha2.Eip{ObjectMeta: named("eip-v2"), Spec: v1alpha2.EipSpec{Address: "10.0.0.0/28", Protocol: "layer2", Interface: "eth0", Priority: 3}}
	testenv.Eventually(t, 30*time.Second, func() error { return c.Create(ctx, eipV2) })
	// What conversion None does to the v1alpha1 BgpConf: routerID and
	// port have no v1alpha2 name, so they read as unset.
	var lost v1alpha2.BgpConf
	if err := c.Get(ctx, client.ObjectKey{Name: "default"}, &lost); err != nil {
		t.Fatal(err)
	}
	if lost.Spec.RouterId != "" || lost.Spec.ListenPort != 0 {
		t.Logf("conversion None kept routerId %q and listenPort %d; expected them lost", lost.Spec.RouterId, lost.Spec.ListenPort)
	}

	// Herald's CRDs, and its webhook server answering /convert.
	webhooktest.ReplaceCRDs(ctx, t, c, herald, nil)
	srv, err := webhooktest.Start(ctx, env.Config, c.Scheme())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := srv.Stop(); err != nil {
			t.Error(err)
		}
	})

	var eip v1alpha2.Eip
	get(ctx, t, c, "eip-v1", &eip)
	same(t, "v1alpha1-stored Eip through v1alpha2", v1alpha2.EipSpec{Address: "192.168.0.91-192.168.0.100", Protocol: "layer2", UsingKnownIPs: true}, eip.Spec)
	get(ctx, t, c, "eip-v2", &eip)
	same(t, "v1alpha2-stored Eip", eipV2.Spec, eip.Spec)
	var conf v1alpha2.BgpConf
	get(ctx, t, c, "default", &conf)
	same(t, "v1alpha1-stored BgpConf through v1alpha2", v1alpha2.BgpConfSpec{As: 50001, RouterId: "172.22.0.10", ListenPort: 17900}, conf.Spec)
	var peer v1alpha2.BgpPeer
	get(ctx, t, c, "peer-v1", &peer)
	same(t, "v1alpha1-stored BgpPeer through v1alpha2", v1alpha2.BgpPeerSpec{
		Conf:      &v1alpha2.PeerConf{PeerAs: 50000, NeighborAddress: "172.22.0.2"},
		Transport: &v1alpha2.Transport{RemotePort: 179},
		AfiSafis: []v1alpha2.AfiSafi{{
			Config:   &v1alpha2.AfiSafiConfig{Family: &v1alpha2.Family{Afi: "AFI_IP", Safi: "SAFI_UNICAST"}, Enabled: true},
			AddPaths: &v1alpha2.AddPaths{Config: &v1alpha2.AddPathsConfig{SendMax: 10}},
		}},
	}, peer.Spec)
	if _, ok := peer.Annotations[convert.AnnotationV1alpha1Fields]; !ok {
		t.Errorf("the v1alpha2 view of a v1alpha1 BgpPeer with usingPortForward lacks %s", convert.AnnotationV1alpha1Fields)
	}
	var peer1 v1alpha1.BgpPeer
	get(ctx, t, c, "peer-v1", &peer1)
	if !peer1.Spec.UsingPortForward {
		t.Error("usingPortForward did not read back through v1alpha1")
	}

	for _, crd := range herald {
		var got apiextensionsv1.CustomResourceDefinition
		get(ctx, t, c, crd.Name, &got)
		stored := slices.Sorted(slices.Values(got.Status.StoredVersions))
		if !slices.Equal(stored, []string{"v1alpha1", "v1alpha2"}) {
			t.Errorf("CRD %s: storedVersions %v, want v1alpha1 and v1alpha2", crd.Name, stored)
		}
	}
}

func named(name string) metav1.ObjectMeta { return metav1.ObjectMeta{Name: name} }

// get reads name into obj, retrying while the API server catches up with a
// CRD change.
func get(ctx context.Context, t *testing.T, c client.Client, name string, obj client.Object) {
	t.Helper()
	testenv.Eventually(t, 30*time.Second, func() error { return c.Get(ctx, client.ObjectKey{Name: name}, obj) })
}

func same(t *testing.T, what string, want, got any) {
	t.Helper()
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("%s (-want +got):\n%s", what, diff)
	}
}
