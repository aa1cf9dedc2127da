package speaker

import (
	"context"
	"net/netip"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/herald-lb/herald/api/v1alpha2"
	"github.com/herald-lb/herald/speaker/layer2"
)

// TestLayer2ModeAnnotateServiceGone: a Service deleted between the
// snapshot and the owner annotation's patch is not an error (there is
// nothing left to annotate), and the Services that remain get theirs.
func TestLayer2ModeAnnotateServiceGone(t *testing.T) {
	ctx := context.Background()
	create(t, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "l2-annotate"}})
	create(t, &corev1.Service{
		ObjectMeta: metav1.ObjectMeta{Namespace: "l2-annotate", Name: "present"},
		Spec:       corev1.ServiceSpec{Ports: []corev1.ServicePort{{Port: 80}}},
	})
	f := newL2Fixture(t)
	f.members.m = layer2.Members{Live: map[string][]string{"n1": nil}} // n1 owns every address
	f.mode.Client = env.Client
	claims := []Layer2Claim{
		{Service: "l2-annotate/gone", IP: netip.MustParseAddr("192.0.2.1"), Eip: "a"},
		{Service: "l2-annotate/present", IP: netip.MustParseAddr("192.0.2.2"), Eip: "a"},
		{Service: "no-such-namespace/gone", IP: netip.MustParseAddr("192.0.2.3"), Eip: "a"},
	}
	if err := f.mode.Apply(ctx, f.snap, Desired{Layer2: claims}); err != nil {
		t.Fatalf("claims on deleted Services: %v", err)
	}
	var svc corev1.Service
	if err := env.Client.Get(ctx, client.ObjectKey{Namespace: "l2-annotate", Name: "present"}, &svc); err != nil {
		t.Fatal(err)
	}
	if got := svc.Annotations[v1alpha2.AnnotationLayer2Node]; got != "n1" {
		t.Errorf("owner annotation of the remaining Service = %q, want n1", got)
	}
}
