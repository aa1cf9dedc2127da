package soak

import (
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
)

// TestObserver feeds the observer a history with known violations, so a
// soak that passes is known to have been able to fail.
func TestObserver(t *testing.T) {
	svc := func(name string, uid types.UID, ip string, deleting bool) *corev1.Service {
		s := &corev1.Service{ObjectMeta: metav1.ObjectMeta{Namespace: freeNS, Name: name, UID: uid}}
		if ip != "" {
			s.Status.LoadBalancer.Ingress = []corev1.LoadBalancerIngress{{IP: ip}}
		}
		if deleting {
			now := metav1.Now()
			s.DeletionTimestamp = &now
		}
		return s
	}
	o := newObserver()
	o.update(svc("a", "ua", "", false))
	o.update(svc("a", "ua", "10.0.0.1", false))
	o.update(svc("b", "ub", "10.0.0.1", false)) // shared
	o.update(svc("a", "ua", "10.0.0.1", true))  // a goes: b may have it
	o.update(svc("c", "uc", "10.0.0.2", false))
	o.update(svc("c", "uc", "10.0.0.3", false)) // moved
	o.update(svc("c", "uc", "", false))         // lost
	o.remove(svc("a", "ua", "10.0.0.1", true))
	o.update(svc("d", "ud", "10.0.0.1", false)) // b still shows it: shared

	snap := o.snapshot()
	want := []string{
		"shared: soak-free/b shows 10.0.0.1, which soak-free/a shows too",
		`moved: soak-free/c had 10.0.0.2, now shows "10.0.0.3"`,
		`moved: soak-free/c had 10.0.0.2, now shows ""`,
		"shared: soak-free/d shows 10.0.0.1, which soak-free/b shows too",
	}
	if len(snap.violations) != len(want) {
		t.Fatalf("violations:\n%s\nwant %d", joinLines(snap.violations), len(want))
	}
	for i, w := range want {
		if !strings.HasPrefix(snap.violations[i], w) {
			t.Errorf("violation %d = %q, want prefix %q", i, snap.violations[i], w)
		}
	}
	if snap.allocations != 4 {
		t.Errorf("allocations = %d, want 4 (a, b, c, d)", snap.allocations)
	}
}
