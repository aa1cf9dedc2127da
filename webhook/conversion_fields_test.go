package webhook_test

import (
	"context"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/herald-lb/herald/api/v1alpha1"
	"github.com/herald-lb/herald/api/v1alpha2"
	"github.com/herald-lb/herald/webhook/convert"
)

// TestIssue13FieldsSurviveV1alpha1Edits writes an Eip, a BgpConf and a
// BgpPeer carrying every field issue 13 added through v1alpha2, lets a
// v1alpha1 client read each, change a label and write it back, then a
// v1alpha1 field too, and reads through v1alpha2: every new field is
// there exactly as written, carried through v1alpha1 in the conversion
// annotation. An OpenELB-era client (KubeSphere's console, an old
// controller) must not strip a MetalLB migrant's settings.
func TestIssue13FieldsSurviveV1alpha1Edits(t *testing.T) {
	ctx := context.Background()
	c, _ := userClient(t)

	conf := &v1alpha2.BgpConf{ObjectMeta: metav1.ObjectMeta{Name: "default"}, Spec: v1alpha2.BgpConfSpec{
		As: 64512, ListenPort: 17900,
		Communities: []v1alpha2.CommunityAlias{{Name: "upstream-only", Value: "64512:100"}, {Name: "big", Value: "large:64512:1:2"}},
	}}
	peer := &v1alpha2.BgpPeer{ObjectMeta: metav1.ObjectMeta{Name: "conv-peer", Labels: map[string]string{"role": "tor"}}, Spec: v1alpha2.BgpPeerSpec{
		Conf:          &v1alpha2.PeerConf{PeerAs: 64512, NeighborAddress: "172.43.0.1"},
		NodeSelector:  &metav1.LabelSelector{MatchLabels: map[string]string{"bgp": "on"}},
		NodeSelectors: []metav1.LabelSelector{{MatchLabels: map[string]string{"rack": "a"}}, {MatchExpressions: []metav1.LabelSelectorRequirement{{Key: "zone", Operator: metav1.LabelSelectorOpIn, Values: []string{"x", "y"}}}}},
		SourceAddress: &v1alpha2.PeerSourceAddress{CIDR: "172.43.0.0/24"},
		Bfd: &v1alpha2.PeerBfd{Enabled: true, TransmitInterval: &metav1.Duration{Duration: 250 * time.Millisecond},
			ReceiveInterval: &metav1.Duration{Duration: time.Second}, DetectMultiplier: ptr.To[int32](5)},
	}}
	eip := &v1alpha2.Eip{ObjectMeta: metav1.ObjectMeta{Name: "conv-eip"}, Spec: v1alpha2.EipSpec{
		Address: "10.74.0.0/24", Protocol: "bgp", AvoidBuggyIPs: true,
		NodeSelector: &metav1.LabelSelector{MatchLabels: map[string]string{"bgp": "on"}},
		BgpAdvertisements: []v1alpha2.BgpAdvertisement{{
			AggregationLength: ptr.To[int32](24), LocalPref: ptr.To[uint32](150),
			Communities: []string{"upstream-only", "big", "no-export", "65535:65282", "large:1:2:3"},
			Peers:       []string{"conv-peer"},
		}, {
			AggregationLength: ptr.To[int32](16), AllowForeignAggregate: true,
			PeerSelector: &metav1.LabelSelector{MatchExpressions: []metav1.LabelSelectorRequirement{{Key: "role", Operator: metav1.LabelSelectorOpExists}}},
		}},
	}}
	for _, obj := range []client.Object{conf, peer, eip} {
		if err := c.Create(ctx, obj); err != nil {
			t.Fatalf("create %s: %v", obj.GetName(), err)
		}
		deleteAfter(t, obj)
	}
	wantEip, wantConf, wantPeer := eip.Spec.DeepCopy(), conf.Spec.DeepCopy(), peer.Spec.DeepCopy()

	label := func(o client.Object) { o.SetLabels(map[string]string{"edited-by": "v1alpha1"}) }
	editV1alpha1(ctx, t, c, &v1alpha1.Eip{}, "conv-eip", label)
	editV1alpha1(ctx, t, c, &v1alpha1.BgpConf{}, "default", label)
	editV1alpha1(ctx, t, c, &v1alpha1.BgpPeer{}, "conv-peer", label)
	check := func(when string) {
		t.Helper()
		var e v1alpha2.Eip
		var bc v1alpha2.BgpConf
		var p v1alpha2.BgpPeer
		for name, obj := range map[string]client.Object{"conv-eip": &e, "default": &bc, "conv-peer": &p} {
			if err := c.Get(ctx, client.ObjectKey{Name: name}, obj); err != nil {
				t.Fatal(err)
			}
			noBookkeeping(t, obj, convert.AnnotationV1alpha2Fields)
		}
		equal(t, "Eip spec "+when, *wantEip, e.Spec)
		equal(t, "BgpConf spec "+when, *wantConf, bc.Spec)
		equal(t, "BgpPeer spec "+when, *wantPeer, p.Spec)
	}
	check("after a v1alpha1 label edit")

	// A v1alpha1 field edited too: the new fields still ride along.
	editV1alpha1(ctx, t, c, &v1alpha1.Eip{}, "conv-eip", func(o client.Object) { o.(*v1alpha1.Eip).Spec.Disable = true })
	editV1alpha1(ctx, t, c, &v1alpha1.BgpConf{}, "default", func(o client.Object) { o.(*v1alpha1.BgpConf).Spec.Port = 17901 })
	editV1alpha1(ctx, t, c, &v1alpha1.BgpPeer{}, "conv-peer", func(o client.Object) { o.(*v1alpha1.BgpPeer).Spec.Config.PeerAs = 64513 })
	wantEip.Disable, wantConf.ListenPort, wantPeer.Conf.PeerAs = true, 17901, 64513
	check("after v1alpha1 spec edits")
}
