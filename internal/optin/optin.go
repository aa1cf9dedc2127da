// Package optin says which Services are Herald's, for the controller that
// allocates their addresses and the speakers that announce them; both must
// agree, so the rule lives here once, and both binaries read the same
// Policy from the same place (the herald-config ConfigMap).
package optin

import (
	"strings"

	corev1 "k8s.io/api/core/v1"

	"github.com/herald-lb/herald/api/v1alpha2"
)

// DefaultLoadBalancerClass is the spec.loadBalancerClass Herald answers to
// unless configured otherwise.
const DefaultLoadBalancerClass = "herald.io/lb"

// Setting names of the MetalLB migration opt-ins: the keys of the
// herald-config ConfigMap and, with "--" in front, the flags of both
// binaries.
const (
	SettingMetalLBAnnotations = "metallb-annotations"
	SettingClasslessServices  = "classless-services"
)

// Policy is which Services Herald serves besides those of its class and
// those with OpenELB's annotation. Both opt-ins are off by default so that
// Herald never takes Services another load balancer owns.
type Policy struct {
	// Class is the spec.loadBalancerClass Herald answers to; empty means
	// DefaultLoadBalancerClass.
	Class string
	// MetalLBAnnotations makes class-less LoadBalancer Services with a
	// MetalLB annotation (address pool, requested addresses or sharing
	// key) Herald's, and makes Herald read those annotations.
	MetalLBAnnotations bool
	// ClasslessServices makes every class-less LoadBalancer Service
	// Herald's, as MetalLB serves them; their pool is chosen by the usual
	// rules (namespace-bound Eips, then the default Eip).
	ClasslessServices bool
}

// DefaultPolicy answers to DefaultLoadBalancerClass and OpenELB's
// annotation only.
func DefaultPolicy() Policy { return Policy{Class: DefaultLoadBalancerClass} }

func (p Policy) class() string {
	if p.Class == "" {
		return DefaultLoadBalancerClass
	}
	return p.Class
}

// IsHerald reports whether Herald serves this Service: a LoadBalancer of
// Herald's class; or of no class with OpenELB's opt-in annotation, or
// with a MetalLB annotation when p.MetalLBAnnotations, or any when
// p.ClasslessServices. A Service of another class is never touched,
// whatever its annotations.
func IsHerald(svc *corev1.Service, p Policy) bool {
	if svc.Spec.Type != corev1.ServiceTypeLoadBalancer {
		return false
	}
	if svc.Spec.LoadBalancerClass != nil {
		return *svc.Spec.LoadBalancerClass == p.class()
	}
	if svc.Annotations[v1alpha2.AnnotationLoadBalancer] == v1alpha2.AnnotationLoadBalancerValue {
		return true
	}
	return p.ClasslessServices || (p.MetalLBAnnotations && HasMetalLBAnnotation(svc))
}

// ByMigrationOnly reports whether Herald serves this Service only because
// of a MetalLB migration opt-in: another load balancer may have given it
// the address in its status.
func ByMigrationOnly(svc *corev1.Service, p Policy) bool {
	return IsHerald(svc, p) && !IsHerald(svc, Policy{Class: p.Class})
}

// metalLBAnnotations are MetalLB's Service annotations Herald reads.
var metalLBAnnotations = [...]string{
	v1alpha2.AnnotationMetalLBAddressPool, v1alpha2.AnnotationMetalLBAddressPoolLegacy,
	v1alpha2.AnnotationMetalLBLoadBalancerIPs, v1alpha2.AnnotationMetalLBLoadBalancerIPsLegacy,
	v1alpha2.AnnotationMetalLBAllowSharedIP, v1alpha2.AnnotationMetalLBAllowSharedIPLegacy,
}

// HasMetalLBAnnotation reports whether a Service carries one of MetalLB's
// annotations with a value.
func HasMetalLBAnnotation(svc *corev1.Service) bool {
	for _, k := range metalLBAnnotations {
		if svc.Annotations[k] != "" {
			return true
		}
	}
	return false
}

// SharingKey is the Service's sharing key: Herald's annotation, else, when
// p.MetalLBAnnotations, MetalLB's (metallb.io, then metallb.universe.tf).
func SharingKey(svc *corev1.Service, p Policy) string {
	if k := svc.Annotations[v1alpha2.AnnotationAllowSharedIP]; k != "" || !p.MetalLBAnnotations {
		return k
	}
	return firstOf(svc, v1alpha2.AnnotationMetalLBAllowSharedIP, v1alpha2.AnnotationMetalLBAllowSharedIPLegacy)
}

// MetalLBPool is the Eip a Service names with MetalLB's address-pool
// annotation, when p.MetalLBAnnotations; empty otherwise.
func MetalLBPool(svc *corev1.Service, p Policy) string {
	if !p.MetalLBAnnotations {
		return ""
	}
	return firstOf(svc, v1alpha2.AnnotationMetalLBAddressPool, v1alpha2.AnnotationMetalLBAddressPoolLegacy)
}

// MetalLBAddresses is the comma-separated list of addresses a Service asks
// for with MetalLB's loadBalancerIPs annotation, when p.MetalLBAnnotations;
// empty otherwise.
func MetalLBAddresses(svc *corev1.Service, p Policy) string {
	if !p.MetalLBAnnotations {
		return ""
	}
	return firstOf(svc, v1alpha2.AnnotationMetalLBLoadBalancerIPs, v1alpha2.AnnotationMetalLBLoadBalancerIPsLegacy)
}

func firstOf(svc *corev1.Service, keys ...string) string {
	for _, k := range keys {
		if v := strings.TrimSpace(svc.Annotations[k]); v != "" {
			return v
		}
	}
	return ""
}

// String is the policy in one line, for logs and for ParsePolicy: the
// class, then the opt-ins that are on, comma separated (a class name
// cannot hold a comma).
func (p Policy) String() string {
	parts := []string{p.class()}
	if p.MetalLBAnnotations {
		parts = append(parts, SettingMetalLBAnnotations)
	}
	if p.ClasslessServices {
		parts = append(parts, SettingClasslessServices)
	}
	return strings.Join(parts, ",")
}

// ParsePolicy reads what String wrote; a bare class name is a policy with
// both opt-ins off. The speaker carries its policy in this form.
func ParsePolicy(s string) Policy {
	class, rest, more := strings.Cut(s, ",")
	p := Policy{Class: class}
	for more {
		var part string
		part, rest, more = strings.Cut(rest, ",")
		switch part {
		case SettingMetalLBAnnotations:
			p.MetalLBAnnotations = true
		case SettingClasslessServices:
			p.ClasslessServices = true
		}
	}
	return p
}
