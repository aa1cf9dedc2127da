package speaker

import (
	"testing"

	"github.com/google/go-cmp/cmp"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/herald-lb/herald/api/v1alpha2"
)

// TestStripEipKeepsVRIDs: VIP mode reads the VRIDs the controller assigned
// from status.vrids; the trim keeps that map and still drops the rest of
// the status (status.used grows with every address handed out).
func TestStripEipKeepsVRIDs(t *testing.T) {
	full := &v1alpha2.Eip{
		ObjectMeta: metav1.ObjectMeta{Name: "vip"},
		Spec:       v1alpha2.EipSpec{Address: "192.0.2.0/24", Protocol: v1alpha2.ProtocolVIP},
		Status: v1alpha2.EipStatus{
			Used:       map[string]string{"192.0.2.1": "web/a", "192.0.2.2": "web/b"},
			Usage:      2,
			PoolSize:   256,
			Ready:      true,
			VRIDs:      map[string]int32{"192.0.2.1": 7, "192.0.2.2": 8},
			Conditions: []metav1.Condition{{Type: v1alpha2.ConditionVRIDsAssigned, Status: metav1.ConditionTrue}},
		},
	}
	out, err := stripEip(full.DeepCopy())
	if err != nil {
		t.Fatal(err)
	}
	want := v1alpha2.EipStatus{VRIDs: map[string]int32{"192.0.2.1": 7, "192.0.2.2": 8}}
	if diff := cmp.Diff(want, out.(*v1alpha2.Eip).Status); diff != "" {
		t.Errorf("stripEip status (-want +got):\n%s", diff)
	}
}
