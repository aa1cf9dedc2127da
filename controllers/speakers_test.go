package controllers

import (
	"testing"
	"time"

	coordinationv1 "k8s.io/api/coordination/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"

	"github.com/herald-lb/herald/api/v1alpha2"
)

func speakerLeaseAt(node, holder string, renew time.Time, unavailable string) *coordinationv1.Lease {
	l := &coordinationv1.Lease{
		ObjectMeta: metav1.ObjectMeta{Namespace: "herald-system", Name: speakerLeasePrefix + node},
		Spec: coordinationv1.LeaseSpec{
			HolderIdentity: ptr.To(holder), LeaseDurationSeconds: ptr.To[int32](1),
			RenewTime: &metav1.MicroTime{Time: renew},
		},
	}
	if unavailable != "" {
		l.Annotations = map[string]string{speakerUnavailableAnnotation: unavailable}
	}
	return l
}

// TestSpeakerViewJudge walks one view through the cases, by the
// controller's clock: liveness comes from when a renewal was seen, with
// 2 × leaseDurationSeconds + 1 s of slack.
func TestSpeakerViewJudge(t *testing.T) {
	t0 := time.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC)
	eip := &v1alpha2.Eip{ObjectMeta: metav1.ObjectMeta{Name: "pool"}, Spec: v1alpha2.EipSpec{Protocol: v1alpha2.ProtocolLayer2, Interface: "eth1"}}
	v := newSpeakerView(nil, nil, "herald-system", nil)
	steps := []struct {
		name  string
		do    func()
		at    time.Time
		want  string
		alive int
	}{
		{"no lease at all", func() {}, t0, ReasonNoLayer2Speakers, 0},
		{"a lease left behind long ago is dead at first sight", func() {
			v.observe(speakerLeaseAt("old", "old", t0.Add(-time.Minute), ""), t0)
		}, t0, ReasonNoLiveLayer2Speaker, 0},
		{"a renewing speaker without the interface", func() {
			v.observe(speakerLeaseAt("a", "a", t0, "other,pool"), t0)
		}, t0, ReasonInterfaceUnavailable, 1},
		{"another that has it", func() {
			v.observe(speakerLeaseAt("b", "b", t0, ""), t0)
		}, t0.Add(2 * time.Second), "", 2},
		{"b renewed by a clock an hour behind still counts: the change is what is seen", func() {
			v.observe(speakerLeaseAt("b", "b", t0.Add(-time.Hour), ""), t0.Add(2*time.Second))
		}, t0.Add(4 * time.Second), "", 1},
		{"b released", func() {
			v.observe(speakerLeaseAt("b", "", t0.Add(-time.Hour), ""), t0.Add(4*time.Second))
		}, t0.Add(4 * time.Second), ReasonNoLiveLayer2Speaker, 0},
		{"b deleted, a renewed", func() {
			v.forget(speakerLeaseAt("b", "", t0, ""))
			v.observe(speakerLeaseAt("a", "a", t0.Add(4*time.Second), "pool"), t0.Add(4*time.Second))
		}, t0.Add(5 * time.Second), ReasonInterfaceUnavailable, 1},
	}
	for _, s := range steps {
		s.do()
		got := v.judge(eip, s.at)
		if got.reason != s.want {
			t.Fatalf("%s: reason %q, want %q (%s)", s.name, got.reason, s.want, got.message)
		}
		summary, next := v.summary(s.at)
		if alive := countLive(v, s.at); alive != s.alive {
			t.Errorf("%s: %d live, want %d (summary %s, next expiry %v)", s.name, alive, s.alive, summary, next)
		}
	}
}

func countLive(v *speakerView, now time.Time) int {
	v.mu.Lock()
	defer v.mu.Unlock()
	n := 0
	for _, l := range v.leases {
		if l.live(now) {
			n++
		}
	}
	return n
}

// TestSpeakerViewSummary: the summary changes when a Lease expires
// unrenewed, at the time it reports as the next expiry, which is when the
// view looks again.
func TestSpeakerViewSummary(t *testing.T) {
	t0 := time.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC)
	v := newSpeakerView(nil, nil, "herald-system", nil)
	v.observe(speakerLeaseAt("a", "a", t0, ""), t0)
	before, next := v.summary(t0)
	if want := t0.Add(3 * time.Second); !next.Equal(want) {
		t.Fatalf("next expiry %v, want %v", next, want)
	}
	if s, _ := v.summary(next.Add(-time.Millisecond)); s != before {
		t.Errorf("summary changed before the expiry: %q -> %q", before, s)
	}
	if s, n := v.summary(next); s == before || !n.IsZero() {
		t.Errorf("at the expiry: summary %q (was %q), next %v; want a change and no next expiry", s, before, n)
	}
}
