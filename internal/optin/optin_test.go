package optin

import (
	"testing"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/utils/ptr"

	"github.com/herald-lb/herald/api/v1alpha2"
)

func TestIsHerald(t *testing.T) {
	lb := corev1.ServiceTypeLoadBalancer
	off := DefaultPolicy()
	metallb := Policy{MetalLBAnnotations: true}
	classless := Policy{ClasslessServices: true}
	tests := []struct {
		name        string
		typ         corev1.ServiceType
		class       *string
		annotations map[string]string
		policy      Policy
		want        bool
		migration   bool
	}{
		{"annotated load balancer", lb, nil, map[string]string{v1alpha2.AnnotationLoadBalancer: "openelb"}, off, true, false},
		{"annotation with another value", lb, nil, map[string]string{v1alpha2.AnnotationLoadBalancer: "metallb"}, off, false, false},
		{"no annotation, no class", lb, nil, nil, off, false, false},
		{"our class", lb, ptr.To("herald.io/lb"), nil, off, true, false},
		{"another class wins over the annotation", lb, ptr.To("other.io/lb"), map[string]string{v1alpha2.AnnotationLoadBalancer: "openelb"}, off, false, false},
		{"not a load balancer", corev1.ServiceTypeClusterIP, nil, map[string]string{v1alpha2.AnnotationLoadBalancer: "openelb"}, off, false, false},

		{"metallb pool, opt-in off", lb, nil, map[string]string{v1alpha2.AnnotationMetalLBAddressPool: "a"}, off, false, false},
		{"metallb pool, opt-in on", lb, nil, map[string]string{v1alpha2.AnnotationMetalLBAddressPool: "a"}, metallb, true, true},
		{"legacy metallb pool", lb, nil, map[string]string{v1alpha2.AnnotationMetalLBAddressPoolLegacy: "a"}, metallb, true, true},
		{"metallb addresses", lb, nil, map[string]string{v1alpha2.AnnotationMetalLBLoadBalancerIPs: "192.0.2.1"}, metallb, true, true},
		{"legacy metallb addresses", lb, nil, map[string]string{v1alpha2.AnnotationMetalLBLoadBalancerIPsLegacy: "192.0.2.1"}, metallb, true, true},
		{"metallb sharing key", lb, nil, map[string]string{v1alpha2.AnnotationMetalLBAllowSharedIP: "k"}, metallb, true, true},
		{"legacy metallb sharing key", lb, nil, map[string]string{v1alpha2.AnnotationMetalLBAllowSharedIPLegacy: "k"}, metallb, true, true},
		{"empty metallb annotation", lb, nil, map[string]string{v1alpha2.AnnotationMetalLBAddressPool: ""}, metallb, false, false},
		{"no metallb annotation, metallb opt-in", lb, nil, nil, metallb, false, false},
		{"metallb annotation on another class", lb, ptr.To("metallb.io/x"), map[string]string{v1alpha2.AnnotationMetalLBAddressPool: "a"}, metallb, false, false},
		{"metallb annotation on a ClusterIP", corev1.ServiceTypeClusterIP, nil, map[string]string{v1alpha2.AnnotationMetalLBAddressPool: "a"}, metallb, false, false},

		{"class-less, classless opt-in", lb, nil, nil, classless, true, true},
		{"openelb annotated is not a migration", lb, nil, map[string]string{v1alpha2.AnnotationLoadBalancer: "openelb"}, classless, true, false},
		{"another class, classless opt-in", lb, ptr.To("other.io/lb"), nil, classless, false, false},
		{"our class, classless opt-in", lb, ptr.To("herald.io/lb"), nil, classless, true, false},
		{"configured class", lb, ptr.To("x.io/lb"), nil, Policy{Class: "x.io/lb", ClasslessServices: true}, true, false},
		{"ClusterIP, classless opt-in", corev1.ServiceTypeClusterIP, nil, nil, classless, false, false},
	}
	for _, tt := range tests {
		svc := &corev1.Service{Spec: corev1.ServiceSpec{Type: tt.typ, LoadBalancerClass: tt.class}}
		svc.Annotations = tt.annotations
		if got := IsHerald(svc, tt.policy); got != tt.want {
			t.Errorf("%s: IsHerald = %v, want %v", tt.name, got, tt.want)
		}
		if got := ByMigrationOnly(svc, tt.policy); got != tt.migration {
			t.Errorf("%s: ByMigrationOnly = %v, want %v", tt.name, got, tt.migration)
		}
		// The speaker carries the policy as text: it must decide alike.
		if got := IsHerald(svc, ParsePolicy(tt.policy.String())); got != tt.want {
			t.Errorf("%s: IsHerald after ParsePolicy(%q) = %v, want %v", tt.name, tt.policy.String(), got, tt.want)
		}
	}
}

func TestPolicyText(t *testing.T) {
	tests := []struct {
		p    Policy
		text string
	}{
		{DefaultPolicy(), "herald.io/lb"},
		{Policy{}, "herald.io/lb"},
		{Policy{Class: "x.io/lb", MetalLBAnnotations: true}, "x.io/lb,metallb-annotations"},
		{Policy{ClasslessServices: true}, "herald.io/lb,classless-services"},
		{Policy{Class: "a", MetalLBAnnotations: true, ClasslessServices: true}, "a,metallb-annotations,classless-services"},
	}
	for _, tt := range tests {
		if got := tt.p.String(); got != tt.text {
			t.Errorf("%+v: String = %q, want %q", tt.p, got, tt.text)
		}
		back := ParsePolicy(tt.text)
		if back.class() != tt.p.class() || back.MetalLBAnnotations != tt.p.MetalLBAnnotations || back.ClasslessServices != tt.p.ClasslessServices {
			t.Errorf("ParsePolicy(%q) = %+v, want %+v", tt.text, back, tt.p)
		}
	}
}

func TestMetalLBAnnotations(t *testing.T) {
	svc := &corev1.Service{}
	svc.Annotations = map[string]string{
		v1alpha2.AnnotationMetalLBAddressPoolLegacy:     "old",
		v1alpha2.AnnotationMetalLBAddressPool:           "new",
		v1alpha2.AnnotationMetalLBLoadBalancerIPsLegacy: "192.0.2.1, 2001:db8::1",
		v1alpha2.AnnotationMetalLBAllowSharedIPLegacy:   "legacy-key",
	}
	on, off := Policy{MetalLBAnnotations: true}, DefaultPolicy()
	if got := MetalLBPool(svc, on); got != "new" {
		t.Errorf("MetalLBPool = %q, want the metallb.io one", got)
	}
	if got := MetalLBAddresses(svc, on); got != "192.0.2.1, 2001:db8::1" {
		t.Errorf("MetalLBAddresses = %q", got)
	}
	if got := SharingKey(svc, on); got != "legacy-key" {
		t.Errorf("SharingKey = %q, want legacy-key", got)
	}
	if MetalLBPool(svc, off) != "" || MetalLBAddresses(svc, off) != "" || SharingKey(svc, off) != "" {
		t.Error("MetalLB annotations read with the opt-in off")
	}
	svc.Annotations[v1alpha2.AnnotationAllowSharedIP] = "herald-key"
	if SharingKey(svc, on) != "herald-key" || SharingKey(svc, off) != "herald-key" {
		t.Error("Herald's own sharing key must win, opt-in or not")
	}
}
