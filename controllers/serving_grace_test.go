package controllers

import (
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// TestHoldBack: a verdict that other objects may still change waits out
// the grace before it is reported; one already reported and a served one
// are reported at once.
func TestHoldBack(t *testing.T) {
	const grace = 5 * time.Second
	t0 := time.Date(2026, 12, 4, 12, 0, 0, 0, time.UTC)
	noConf := servingVerdict{reason: ReasonNoBgpConf}
	noPeer := servingVerdict{reason: ReasonNoBgpPeer}
	reported := &metav1.Condition{Reason: ReasonNoBgpConf}
	steps := []struct {
		name    string
		verdict servingVerdict
		prev    *metav1.Condition
		at      time.Duration // after t0
		want    time.Duration
	}{
		{"served: at once", servingVerdict{}, nil, 0, 0},
		{"first unserved: the whole grace", noConf, nil, 0, grace},
		{"still unserved: the rest of it", noConf, nil, 2 * time.Second, 3 * time.Second},
		{"another reason: the grace again", noPeer, nil, 3 * time.Second, grace},
		{"that reason held for the grace: report", noPeer, nil, 8 * time.Second, 0},
		{"served again: forgotten", servingVerdict{}, nil, 9 * time.Second, 0},
		{"unserved again: the whole grace", noConf, nil, 10 * time.Second, grace},
		{"already reported: at once", noConf, reported, 11 * time.Second, 0},
	}
	r := &EipReconciler{ServingGrace: grace}
	for _, s := range steps {
		if got := r.holdBack("pool", s.verdict, s.prev, t0.Add(s.at)); got != s.want {
			t.Errorf("%s: holdBack = %v, want %v", s.name, got, s.want)
		}
	}
}
