package speaker

import (
	"context"
	"net/netip"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/herald-lb/herald/api/v1alpha2"
)

// listedReader is a client.Reader that lists exactly these Eips, in this
// order, and nothing else: the order a cache lists in is not fixed.
type listedReader struct{ eips []v1alpha2.Eip }

var _ client.Reader = listedReader{}

func (listedReader) Get(_ context.Context, key client.ObjectKey, _ client.Object, _ ...client.GetOption) error {
	return apierrors.NewNotFound(schema.GroupResource{}, key.Name)
}

func (r listedReader) List(_ context.Context, list client.ObjectList, _ ...client.ListOption) error {
	if l, ok := list.(*v1alpha2.EipList); ok {
		l.Items = r.eips
	}
	return nil
}

// TestGatherAttributesOverlapToAcceptedEip: an address inside two
// overlapping Eips is announced as the Eip that counts (the older one;
// the controller allocates from it) whatever order the Eips are listed
// in, IPv4 and IPv6 alike.
func TestGatherAttributesOverlapToAcceptedEip(t *testing.T) {
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	eip := func(name, address, protocol string, age time.Duration) v1alpha2.Eip {
		e := v1alpha2.Eip{
			ObjectMeta: metav1.ObjectMeta{Name: name, CreationTimestamp: metav1.NewTime(t0.Add(-age))},
			Spec:       v1alpha2.EipSpec{Address: address, Protocol: protocol},
		}
		if protocol == v1alpha2.ProtocolLayer2 {
			e.Spec.Interface = "eth0"
		}
		return e
	}
	tests := []struct {
		name         string
		older, newer v1alpha2.Eip
		ip           string
		want         string
	}{
		{
			name:  "v4: older bgp, newer layer2",
			older: eip("z-bgp", "192.0.2.0/24", v1alpha2.ProtocolBGP, time.Hour),
			newer: eip("a-l2", "192.0.2.0/28", v1alpha2.ProtocolLayer2, time.Minute),
			ip:    "192.0.2.3", want: "[bgp]",
		},
		{
			name:  "v4: older layer2, newer bgp",
			older: eip("z-l2", "192.0.2.0/28", v1alpha2.ProtocolLayer2, time.Hour),
			newer: eip("a-bgp", "192.0.2.0/24", v1alpha2.ProtocolBGP, time.Minute),
			ip:    "192.0.2.3", want: "[layer2 z-l2]",
		},
		{
			name:  "v4: same age, the first name wins",
			older: eip("a-l2", "192.0.2.0/28", v1alpha2.ProtocolLayer2, time.Hour),
			newer: eip("b-bgp", "192.0.2.0/24", v1alpha2.ProtocolBGP, time.Hour),
			ip:    "192.0.2.3", want: "[layer2 a-l2]",
		},
		{
			name:  "v6: older layer2, newer bgp",
			older: eip("z-l2", "2001:db8::/120", v1alpha2.ProtocolLayer2, time.Hour),
			newer: eip("a-bgp", "2001:db8::/64", v1alpha2.ProtocolBGP, time.Minute),
			ip:    "2001:db8::3", want: "[layer2 z-l2]",
		},
		{
			name:  "v6: older bgp, newer layer2",
			older: eip("z-bgp", "2001:db8::/64", v1alpha2.ProtocolBGP, time.Hour),
			newer: eip("a-l2", "2001:db8::/120", v1alpha2.ProtocolLayer2, time.Minute),
			ip:    "2001:db8::3", want: "[bgp]",
		},
	}
	for _, tt := range tests {
		for _, order := range [][]v1alpha2.Eip{{tt.older, tt.newer}, {tt.newer, tt.older}} {
			ip := netip.MustParseAddr(tt.ip)
			svc := &corev1.Service{
				ObjectMeta: metav1.ObjectMeta{Namespace: "a", Name: "web", Annotations: map[string]string{
					v1alpha2.AnnotationLoadBalancer: v1alpha2.AnnotationLoadBalancerValue,
				}},
				Spec:   corev1.ServiceSpec{Type: corev1.ServiceTypeLoadBalancer},
				Status: corev1.ServiceStatus{LoadBalancer: corev1.LoadBalancerStatus{Ingress: []corev1.LoadBalancerIngress{{IP: tt.ip}}}},
			}
			snap, err := gather(context.Background(), listedReader{eips: order}, func() []*corev1.Service { return []*corev1.Service{svc} }, "node1", "herald.io/lb")
			if err != nil {
				t.Fatal(err)
			}
			d := Compute("node1", snap.Pools, snap.Services, snap.ServiceCIDRs)
			if diff := cmp.Diff(tt.want, announcedAs(d, ip)); diff != "" {
				t.Errorf("%s, listed %s first: %s announced as (-want +got):\n%s", tt.name, order[0].Name, ip, diff)
			}
		}
	}
}
