package controllers

import (
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// DefaultServingGrace is EipReconciler.ServingGrace's default. An operator
// who applies an Eip together with its BgpConf and BgpPeers, or a first
// layer2 Eip (the speakers start their Leases only when one exists), sees
// the missing piece arrive within a second or two; five seconds keeps
// those installs free of false alarms and still tells of a real gap at
// once by human standards.
const DefaultServingGrace = 5 * time.Second

// unservedSince is when the reconciler first judged an Eip not served, for
// which reason.
type unservedSince struct {
	reason string
	since  time.Time
}

// holdBack says how long to wait before reporting an Eip as not served:
// a verdict that depends on other objects (BgpConf, BgpPeers, the
// speakers' Leases) must hold for grace before it turns Ready False and
// warns every Service, so that objects applied together, or speakers
// starting, raise no alarm. A verdict already reported is reported again
// at once (prev, the Ready condition as written). It returns 0 when the
// verdict may be reported now.
func (r *EipReconciler) holdBack(name string, v servingVerdict, prev *metav1.Condition, now time.Time) time.Duration {
	r.mu.Lock()
	defer r.mu.Unlock()
	if v.served() || (prev != nil && prev.Reason == v.reason) {
		delete(r.unserved, name)
		return 0
	}
	if r.unserved == nil {
		r.unserved = map[string]unservedSince{}
	}
	u, ok := r.unserved[name]
	if !ok || u.reason != v.reason {
		u = unservedSince{reason: v.reason, since: now}
		r.unserved[name] = u
	}
	grace := r.ServingGrace
	if grace == 0 {
		grace = DefaultServingGrace
	}
	if wait := u.since.Add(grace).Sub(now); wait > 0 {
		return wait
	}
	return 0
}
