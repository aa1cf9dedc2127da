package controllers

import (
	"fmt"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/herald-lb/herald/api/v1alpha2"
	"github.com/herald-lb/herald/internal/testenv"
)

// TestVIPRefusedBy: only live Leases count, and only those listing the Eip.
func TestVIPRefusedBy(t *testing.T) {
	now := time.Now()
	v := newSpeakerView(nil, nil, "herald-system", nil)
	refusing := func(node, list string, renew time.Time) {
		l := speakerLeaseAt(node, node, renew, "")
		l.Annotations = map[string]string{speakerVIPRefusedAnnotation: list}
		v.observe(l, now)
	}
	refusing("node-b", "other,pool", now)
	refusing("node-a", "pool", now)
	refusing("node-c", "other", now)
	refusing("node-d", "pool", now.Add(-time.Hour)) // stale when first seen: not live
	if diff := cmp.Diff([]string{"node-a", "node-b"}, v.vipRefusedBy("pool", now)); diff != "" {
		t.Errorf("refused by (-want +got):\n%s", diff)
	}
	if got := v.vipRefusedBy("pool", now.Add(time.Minute)); len(got) != 0 {
		t.Errorf("refused by %v once every Lease expired, want none", got)
	}
}

// TestVIPConfigRefusedCondition: a vip Eip's KeepalivedConfigAccepted
// condition follows what the speakers publish in their Leases, through the
// real API server: true with no refusal, false naming the nodes whose
// keepalived refused the config, true again once it is accepted. Other
// Eips get no such condition.
func TestVIPConfigRefusedCondition(t *testing.T) {
	speakers := namespace(t, nil)
	startController(t, Options{SpeakerNamespace: speakers})
	e := createEip(t, "vip-refused", "192.0.2.232/30", func(e *v1alpha2.Eip) {
		e.Spec.Protocol, e.Spec.Interface = v1alpha2.ProtocolVIP, "eth0"
	})
	l2 := createEip(t, "l2-not-vip", "192.0.2.236/30", func(e *v1alpha2.Eip) {
		e.Spec.Protocol, e.Spec.Interface = v1alpha2.ProtocolLayer2, "eth0"
	})
	a := startFakeSpeaker(t, speakers, "node-a", "")
	b := startFakeSpeaker(t, speakers, "node-b", "")
	waitCondition(t, e.Name, v1alpha2.ConditionKeepalivedConfigAccepted, metav1.ConditionTrue, ReasonKeepalivedConfigsAccepted)

	a.setVIPRefused("other," + e.Name)
	b.setVIPRefused(e.Name)
	testenv.Eventually(t, 15*time.Second, func() error {
		c := waitCondition(t, e.Name, v1alpha2.ConditionKeepalivedConfigAccepted, metav1.ConditionFalse, ReasonKeepalivedConfigRefused)
		if !contains(c.Message, "node(s) node-a, node-b") || !contains(c.Message, "keeps running the last good one") {
			return fmt.Errorf("message %q does not name both nodes and say the old config runs", c.Message)
		}
		return nil
	})
	// Ready is about whether anything serves the pool, and it is served.
	waitReady(t, e.Name, metav1.ConditionTrue, ReasonAccepted)

	a.setVIPRefused("other")
	b.setVIPRefused("")
	waitCondition(t, e.Name, v1alpha2.ConditionKeepalivedConfigAccepted, metav1.ConditionTrue, ReasonKeepalivedConfigsAccepted)
	got, err := getEip(l2.Name)
	if err != nil {
		t.Fatal(err)
	}
	if c := meta.FindStatusCondition(got.Status.Conditions, v1alpha2.ConditionKeepalivedConfigAccepted); c != nil {
		t.Errorf("layer2 Eip has a %s condition: %+v", v1alpha2.ConditionKeepalivedConfigAccepted, c)
	}
}
