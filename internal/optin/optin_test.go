package optin

import (
	"testing"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/utils/ptr"

	"github.com/herald-lb/herald/api/v1alpha2"
)

func TestIsHerald(t *testing.T) {
	lb := corev1.ServiceTypeLoadBalancer
	tests := []struct {
		name       string
		typ        corev1.ServiceType
		class      *string
		annotation string
		want       bool
	}{
		{"annotated load balancer", lb, nil, "openelb", true},
		{"annotation with another value", lb, nil, "metallb", false},
		{"no annotation, no class", lb, nil, "", false},
		{"our class", lb, ptr.To("herald.io/lb"), "", true},
		{"another class wins over the annotation", lb, ptr.To("other.io/lb"), "openelb", false},
		{"not a load balancer", corev1.ServiceTypeClusterIP, nil, "openelb", false},
	}
	for _, tt := range tests {
		svc := &corev1.Service{Spec: corev1.ServiceSpec{Type: tt.typ, LoadBalancerClass: tt.class}}
		if tt.annotation != "" {
			svc.Annotations = map[string]string{v1alpha2.AnnotationLoadBalancer: tt.annotation}
		}
		if got := IsHerald(svc, DefaultLoadBalancerClass); got != tt.want {
			t.Errorf("%s: IsHerald = %v, want %v", tt.name, got, tt.want)
		}
	}
}
