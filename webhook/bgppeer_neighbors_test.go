package webhook

import (
	"context"
	"strings"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client/fake"

	"github.com/herald-lb/herald/api/v1alpha2"
)

func bgpPeer(name, neighbor string, selector map[string]string, mutate ...func(*v1alpha2.BgpPeer)) *v1alpha2.BgpPeer {
	p := &v1alpha2.BgpPeer{
		ObjectMeta: metav1.ObjectMeta{Name: name},
		Spec:       v1alpha2.BgpPeerSpec{Conf: &v1alpha2.PeerConf{NeighborAddress: neighbor, PeerAs: 64512}},
	}
	if selector != nil {
		p.Spec.NodeSelector = &metav1.LabelSelector{MatchLabels: selector}
	}
	for _, m := range mutate {
		m(p)
	}
	return p
}

// TestBgpPeerValidatorUpdate covers the update rules that the envtest
// suite cannot set up through a webhook that refuses them: two BgpPeers
// stored before the webhook existed, already duplicates. Edits that leave
// the neighbour and the selector alone pass; the edit that makes a new
// provable overlap is refused.
func TestBgpPeerValidatorUpdate(t *testing.T) {
	scheme := runtime.NewScheme()
	if err := v1alpha2.AddToScheme(scheme); err != nil {
		t.Fatal(err)
	}
	legacy := bgpPeer("legacy", "10.0.0.1", nil)
	twin := bgpPeer("twin", "10.0.0.1", nil) // the same neighbour everywhere: stored before the webhook
	rackA := bgpPeer("rack-a", "2001:db8::1", map[string]string{"rack": "a"})
	v := BgpPeerValidator{Reader: fake.NewClientBuilder().WithScheme(scheme).WithObjects(legacy, twin, rackA).Build()}

	tests := []struct {
		name     string
		old, new *v1alpha2.BgpPeer
		phrase   string // "" when admitted
	}{{
		name: "a label on a legacy duplicate is admitted",
		old:  twin,
		new:  bgpPeer("twin", "10.0.0.1", nil, func(p *v1alpha2.BgpPeer) { p.Labels = map[string]string{"a": "b"} }),
	}, {
		name: "a timer edit of a legacy duplicate is admitted",
		old:  twin,
		new: bgpPeer("twin", "10.0.0.1", nil, func(p *v1alpha2.BgpPeer) {
			p.Spec.Timers = &v1alpha2.Timers{Config: &v1alpha2.TimersConfig{HoldTime: ptr.To(intstr.FromInt32(90))}}
		}),
	}, {
		name: "respelling the address is no change",
		old:  rackA,
		new:  bgpPeer("rack-a", "2001:DB8:0::1", map[string]string{"rack": "a"}),
	}, {
		name:   "a legacy duplicate moved to another neighbour that is taken is refused",
		old:    twin,
		new:    bgpPeer("twin", "2001:db8::1", nil),
		phrase: `BgpPeer "rack-a" already peers`,
	}, {
		name:   "narrowing a legacy duplicate's selector still overlaps the other's empty one",
		old:    twin,
		new:    bgpPeer("twin", "10.0.0.1", map[string]string{"rack": "b"}),
		phrase: `BgpPeer "legacy" already peers`,
	}, {
		name:   "dropping a selector is refused",
		old:    bgpPeer("rack-b", "2001:db8::1", map[string]string{"rack": "b"}),
		new:    bgpPeer("rack-b", "2001:db8::1", nil),
		phrase: `BgpPeer "rack-a" already peers`,
	}, {
		name: "moving to a free neighbour is admitted",
		old:  twin,
		new:  bgpPeer("twin", "10.0.0.2", nil),
	}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := v.ValidateUpdate(context.Background(), tt.old, tt.new)
			switch {
			case tt.phrase == "" && err != nil:
				t.Errorf("refused: %v", err)
			case tt.phrase != "" && (err == nil || !strings.Contains(err.Error(), tt.phrase)):
				t.Errorf("got %v; want a refusal containing %q", err, tt.phrase)
			}
		})
	}
}
