package speaker

import (
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/event"

	"github.com/herald-lb/herald/api/v1alpha2"
)

// TestEipChangedPredicate: the speaker wakes for a new Eip generation and
// for changed VRIDs, not for the rest of the status (usage on every
// allocation).
func TestEipChangedPredicate(t *testing.T) {
	eip := func(gen int64, used map[string]string, vrids map[string]int32) *v1alpha2.Eip {
		return &v1alpha2.Eip{
			ObjectMeta: metav1.ObjectMeta{Name: "vip", Generation: gen},
			Status:     v1alpha2.EipStatus{Used: used, VRIDs: vrids},
		}
	}
	tests := []struct {
		name     string
		old, new *v1alpha2.Eip
		want     bool
	}{
		{"spec changed", eip(1, nil, nil), eip(2, nil, nil), true},
		{"usage changed", eip(1, nil, nil), eip(1, map[string]string{"192.0.2.1": "a/web"}, nil), false},
		{"VRID assigned, IPv4", eip(1, nil, nil), eip(1, nil, map[string]int32{"192.0.2.1": 1}), true},
		{"VRID changed, IPv6", eip(1, nil, map[string]int32{"2001:db8::1": 1}), eip(1, nil, map[string]int32{"2001:db8::1": 2}), true},
		{"VRID released", eip(1, nil, map[string]int32{"2001:db8::1": 1}), eip(1, nil, nil), true},
		{"nothing the speaker reads", eip(1, nil, map[string]int32{"192.0.2.1": 1}), eip(1, map[string]string{"x": "y"}, map[string]int32{"192.0.2.1": 1}), false},
	}
	for _, tt := range tests {
		if got := eipChanged.Update(event.UpdateEvent{ObjectOld: tt.old, ObjectNew: tt.new}); got != tt.want {
			t.Errorf("%s: Update = %v, want %v", tt.name, got, tt.want)
		}
	}
	if !eipChanged.Create(event.CreateEvent{Object: eip(1, nil, nil)}) || !eipChanged.Delete(event.DeleteEvent{Object: eip(1, nil, nil)}) {
		t.Error("creates and deletes must pass")
	}
}
