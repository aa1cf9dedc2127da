package controllers

import (
	"fmt"
	"net/netip"
	"strings"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/labels"

	"github.com/herald-lb/herald/api/v1alpha2"
	"github.com/herald-lb/herald/internal/allocator"
	"github.com/herald-lb/herald/internal/optin"
)

// DefaultLoadBalancerClass is the spec.loadBalancerClass Herald answers to
// unless configured otherwise.
const DefaultLoadBalancerClass = optin.DefaultLoadBalancerClass

// LegacyServiceFinalizer is the finalizer OpenELB, and Herald before it
// dropped it, put on Services. Herald puts none and removes this one from
// the Services it reconciles; the package doc says why.
const LegacyServiceFinalizer = "finalizer.lb.kubesphere.io/v1alpha1"

// isOurs reports whether Herald allocates for this Service.
func isOurs(svc *corev1.Service, policy optin.Policy) bool {
	return optin.IsHerald(svc, policy)
}

// serviceKey is the "namespace/name" form used in Eip status and events.
func serviceKey(svc *corev1.Service) string {
	return svc.Namespace + "/" + svc.Name
}

// requestFor reads what a Service asks for. Errors are the Service's own
// mistakes (an unparsable address, contradicting annotations) and go to a
// Warning event. MetalLB's annotations are read only when the policy's
// MetalLBAnnotations opt-in is on, and Herald's (OpenELB's) win over them.
func requestFor(svc *corev1.Service, nsLabels map[string]string, policy optin.Policy) (allocator.Request, error) {
	r := allocator.Request{
		Key:             serviceKey(svc),
		Namespace:       svc.Namespace,
		NamespaceLabels: nsLabels,
		ClusterTraffic:  svc.Spec.ExternalTrafficPolicy != corev1.ServiceExternalTrafficPolicyLocal,
		Selector:        labels.SelectorFromSet(svc.Spec.Selector).String(),
		SharingKey:      optin.SharingKey(svc, policy),
	}
	for _, p := range svc.Spec.Ports {
		r.Ports = append(r.Ports, allocator.Port{Port: p.Port, Protocol: string(p.Protocol)})
	}
	r.Families, r.RequireAllFamilies = families(svc)

	long, short := svc.Annotations[v1alpha2.AnnotationEip], svc.Annotations[v1alpha2.AnnotationEipShort]
	if long != "" && short != "" && long != short {
		return r, fmt.Errorf("annotations %s=%q and %s=%q name different Eips; keep one",
			v1alpha2.AnnotationEip, long, v1alpha2.AnnotationEipShort, short)
	}
	r.Pools = splitList(long)
	if len(r.Pools) == 0 {
		r.Pools = splitList(short)
	}
	if len(r.Pools) == 0 {
		r.Pools = splitList(optin.MetalLBPool(svc, policy))
	}

	requested := svc.Annotations[v1alpha2.AnnotationRequestedIP]
	source := "annotation " + v1alpha2.AnnotationRequestedIP
	if requested == "" {
		requested, source = optin.MetalLBAddresses(svc, policy), "MetalLB's loadBalancerIPs annotation"
	}
	if requested == "" {
		requested, source = svc.Spec.LoadBalancerIP, "spec.loadBalancerIP"
	}
	for _, text := range splitList(requested) {
		a, err := netip.ParseAddr(text)
		if err != nil || a.Zone() != "" || a.Is4In6() {
			return r, fmt.Errorf("%s: %q is not an IP address", source, text)
		}
		r.Addresses = append(r.Addresses, a)
	}
	return r, nil
}

// families maps spec.ipFamilies and spec.ipFamilyPolicy to the families to
// allocate, as the API server resolved them for the cluster.
func families(svc *corev1.Service) ([]allocator.Family, bool) {
	var fs []allocator.Family
	for _, f := range svc.Spec.IPFamilies {
		if f == corev1.IPv6Protocol {
			fs = append(fs, allocator.IPv6)
		} else {
			fs = append(fs, allocator.IPv4)
		}
	}
	if len(fs) == 0 {
		fs = []allocator.Family{allocator.IPv4}
	}
	policy := corev1.IPFamilyPolicySingleStack
	if svc.Spec.IPFamilyPolicy != nil {
		policy = *svc.Spec.IPFamilyPolicy
	}
	switch policy {
	case corev1.IPFamilyPolicyRequireDualStack:
		return fs, true
	case corev1.IPFamilyPolicyPreferDualStack:
		return fs, false
	default:
		return fs[:1], false
	}
}

func splitList(s string) []string {
	var out []string
	for _, part := range strings.Split(s, ",") {
		if part = strings.TrimSpace(part); part != "" {
			out = append(out, part)
		}
	}
	return out
}

// ingressFor is the status.loadBalancer.ingress Herald writes: the traffic
// arrives with the address as destination, so ipMode is VIP.
func ingressFor(addrs []netip.Addr) []corev1.LoadBalancerIngress {
	vip := corev1.LoadBalancerIPModeVIP
	var out []corev1.LoadBalancerIngress
	for _, a := range addrs {
		out = append(out, corev1.LoadBalancerIngress{IP: a.String(), IPMode: &vip})
	}
	return out
}

// ingressAddrs reads the addresses in a Service's status, skipping
// hostnames and anything unparsable.
func ingressAddrs(svc *corev1.Service) []netip.Addr {
	var out []netip.Addr
	for _, in := range svc.Status.LoadBalancer.Ingress {
		if a, err := netip.ParseAddr(in.IP); err == nil {
			out = append(out, a)
		}
	}
	return out
}
