package controllers

import (
	"strings"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/herald-lb/herald/api/v1alpha2"
)

// TestSpeakerViewJudgeNodeSelection: a speaker lists an Eip its labels
// rule it out of as it lists one whose interface it lacks, so when every
// live speaker lists it the message names the causes that apply: the
// Eip's nodeSelector when it has one, and always the exclude label, with
// their fixes.
func TestSpeakerViewJudgeNodeSelection(t *testing.T) {
	t0 := time.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC)
	v := newSpeakerView(nil, nil, "herald-system", nil)
	v.observe(speakerLeaseAt("a", "a", t0, "pool"), t0)
	for _, tt := range []struct {
		name     string
		selector *metav1.LabelSelector
		want     []string
		notWant  []string
	}{{
		name:    "no nodeSelector",
		want:    []string{"interface eth1 is missing", "node.kubernetes.io/exclude-from-external-load-balancers", "--ignore-exclude-lb"},
		notWant: []string{"spec.nodeSelector"},
	}, {
		name:     "nodeSelector",
		selector: &metav1.LabelSelector{MatchLabels: map[string]string{"rack": "r1"}},
		want: []string{"interface eth1 is missing", "does not match spec.nodeSelector", "so that spec.nodeSelector matches them",
			"node.kubernetes.io/exclude-from-external-load-balancers"},
	}} {
		eip := &v1alpha2.Eip{ObjectMeta: metav1.ObjectMeta{Name: "pool"},
			Spec: v1alpha2.EipSpec{Protocol: v1alpha2.ProtocolLayer2, Interface: "eth1", NodeSelector: tt.selector}}
		got := v.judge(eip, t0)
		if got.reason != ReasonInterfaceUnavailable {
			t.Fatalf("%s: reason %q, want %q", tt.name, got.reason, ReasonInterfaceUnavailable)
		}
		for _, w := range tt.want {
			if !strings.Contains(got.message, w) {
				t.Errorf("%s: message %q lacks %q", tt.name, got.message, w)
			}
		}
		for _, w := range tt.notWant {
			if strings.Contains(got.message, w) {
				t.Errorf("%s: message %q has %q", tt.name, got.message, w)
			}
		}
	}
}
