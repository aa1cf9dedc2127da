package webhook

import (
	"context"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"sigs.k8s.io/controller-runtime/pkg/client/fake"

	"github.com/herald-lb/herald/api/v1alpha2"
)

func eip(name, address string, mutate ...func(*v1alpha2.Eip)) *v1alpha2.Eip {
	e := &v1alpha2.Eip{ObjectMeta: metav1.ObjectMeta{Name: name}, Spec: v1alpha2.EipSpec{Address: address}}
	for _, m := range mutate {
		m(e)
	}
	return e
}

// TestEipValidatorUpdate covers the update rules that the envtest suite
// cannot set up through a webhook that refuses them: objects stored before
// the webhook existed, already overlapping.
func TestEipValidatorUpdate(t *testing.T) {
	scheme := runtime.NewScheme()
	if err := clientgoscheme.AddToScheme(scheme); err != nil {
		t.Fatal(err)
	}
	if err := v1alpha2.AddToScheme(scheme); err != nil {
		t.Fatal(err)
	}
	legacy := eip("legacy", "10.0.0.0/24")
	other := eip("other", "10.0.0.128/25") // overlaps legacy: stored before the webhook
	svc := &corev1.Service{
		ObjectMeta: metav1.ObjectMeta{Namespace: "ns", Name: "web"},
		Status: corev1.ServiceStatus{LoadBalancer: corev1.LoadBalancerStatus{Ingress: []corev1.LoadBalancerIngress{
			{IP: "10.0.0.7"}, {IP: "192.0.2.1"}, {Hostname: "lb.example"},
		}}},
	}
	v := &EipValidator{Reader: fake.NewClientBuilder().WithScheme(scheme).WithObjects(legacy, other, svc).Build()}

	tests := []struct {
		name   string
		old    *v1alpha2.Eip
		new    *v1alpha2.Eip
		phrase string // "" when admitted
	}{{
		name: "a label on an overlapping legacy pool is admitted",
		old:  legacy,
		new:  eip("legacy", "10.0.0.0/24", func(e *v1alpha2.Eip) { e.Labels = map[string]string{"a": "b"} }),
	}, {
		name: "the defaulter writing bgp for an empty protocol is no change",
		old:  legacy,
		new:  eip("legacy", "10.0.0.0/24", func(e *v1alpha2.Eip) { e.Spec.Protocol = v1alpha2.ProtocolBGP }),
	}, {
		name: "removing the finalizer of a pool being deleted is admitted",
		old:  legacy,
		new: eip("legacy", "10.0.0.0/30", func(e *v1alpha2.Eip) {
			now := metav1.Now()
			e.DeletionTimestamp = &now
		}),
	}, {
		name:   "an address edit of an overlapping pool is checked in full",
		old:    legacy,
		new:    eip("legacy", "10.0.0.0/23"),
		phrase: `overlaps Eip "other"`,
	}, {
		name:   "a Service's address outside the pool is not the pool's",
		old:    eip("moving", "10.0.1.0/24"),
		new:    eip("moving", "10.0.2.0/24"),
		phrase: "",
	}, {
		name: "status.used entries outside the old pool are stale and ignored",
		old: eip("stale", "10.0.3.0/24", func(e *v1alpha2.Eip) {
			e.Status.Used = map[string]string{"10.0.3.5": "ns/a", "10.9.9.9": "ns/b", "not-an-ip": "ns/c"}
		}),
		new:    eip("stale", "10.0.4.0/24"),
		phrase: "would drop 1 allocated address(es): 10.0.3.5;",
	}, {
		name:   "a Service's ingress IP counts as allocated",
		old:    eip("shrinking", "10.0.0.0/24"),
		new:    eip("shrinking", "10.0.0.0/30"),
		phrase: "would drop 1 allocated address(es): 10.0.0.7;",
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
