// Package optin says which Services are Herald's, for the controller that
// allocates their addresses and the speakers that announce them; both must
// agree, so the rule lives here once.
package optin

import (
	corev1 "k8s.io/api/core/v1"

	"github.com/herald-lb/herald/api/v1alpha2"
)

// DefaultLoadBalancerClass is the spec.loadBalancerClass Herald answers to
// unless configured otherwise.
const DefaultLoadBalancerClass = "herald.io/lb"

// IsHerald reports whether Herald serves this Service: a LoadBalancer of
// Herald's class, or of no class with OpenELB's opt-in annotation. A
// Service of another class is never touched, whatever its annotations.
func IsHerald(svc *corev1.Service, class string) bool {
	if svc.Spec.Type != corev1.ServiceTypeLoadBalancer {
		return false
	}
	if svc.Spec.LoadBalancerClass != nil {
		return *svc.Spec.LoadBalancerClass == class
	}
	return svc.Annotations[v1alpha2.AnnotationLoadBalancer] == v1alpha2.AnnotationLoadBalancerValue
}
