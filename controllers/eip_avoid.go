package controllers

import (
	"context"
	"strings"

	corev1 "k8s.io/api/core/v1"
	"sigs.k8s.io/controller-runtime/pkg/log"

	"github.com/herald-lb/herald/api/v1alpha2"
)

// ReasonAvoidedIPsKept is the Eip event that says addresses its
// avoidBuggyIPs would not hand out stay with the Services that hold them.
const ReasonAvoidedIPsKept = "AvoidedIPsKept"

// announceAvoided tells, once per change, that an Eip with avoidBuggyIPs
// still has .0 or .255 addresses in use: they were allocated before the
// field was set, and Herald never takes an address away from a Service,
// so they stay (and count in status.usage) until their Services let them
// go. An operator who set the field to protect old equipment needs to know
// which Services still use such an address.
func (r *EipReconciler) announceAvoided(ctx context.Context, eip *v1alpha2.Eip, rep poolReport) {
	var parts []string
	for _, a := range rep.unusable {
		parts = append(parts, a.String()+" ("+strings.Join(rep.used[a], ",")+")")
	}
	text := strings.Join(parts, ", ")
	r.mu.Lock()
	if r.avoided == nil {
		r.avoided = map[string]string{}
	}
	prev := r.avoided[eip.Name]
	if text == "" {
		delete(r.avoided, eip.Name)
	} else {
		r.avoided[eip.Name] = text
	}
	r.mu.Unlock()
	if text == "" || text == prev {
		return
	}
	log.FromContext(ctx).Info("avoidBuggyIPs is set, but addresses ending in .0 or .255 allocated before stay with their Services",
		"eip", eip.Name, "ip", joinAddrs(rep.unusable), "services", text)
	r.Recorder.Eventf(eip, nil, corev1.EventTypeNormal, ReasonAvoidedIPsKept, "AvoidBuggyIPs",
		"spec.avoidBuggyIPs is set, but %s were allocated before it was and stay with their Services (counted in status.usage); no new Service gets an address ending in .0 or .255",
		text)
}
