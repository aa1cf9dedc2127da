package speaker

import (
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/herald-lb/herald/api/v1alpha2"
	"github.com/herald-lb/herald/internal/eippool"
)

// TestStripEipKeepsWhatAcceptReads: the speaker decides which Eips count
// with eippool.Accept, from its trimmed cache; the trim must leave what
// that rule reads (name, creation and deletion time, the default-pool
// annotation, the spec), or a speaker could pick another Eip than the
// controller.
func TestStripEipKeepsWhatAcceptReads(t *testing.T) {
	created := metav1.NewTime(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC))
	gone := metav1.NewTime(created.Add(time.Hour))
	full := &v1alpha2.Eip{
		ObjectMeta: metav1.ObjectMeta{
			Name: "pool", CreationTimestamp: created, DeletionTimestamp: &gone,
			Annotations: map[string]string{
				v1alpha2.AnnotationDefaultEip: "true",
				lastApplied:                   `{"spec":{}}`,
			},
			ManagedFields: []metav1.ManagedFieldsEntry{{Manager: "kubectl"}},
		},
		Spec:   v1alpha2.EipSpec{Address: "192.0.2.0/24", Protocol: v1alpha2.ProtocolLayer2, Interface: "eth0", Namespaces: []string{"web"}},
		Status: v1alpha2.EipStatus{Used: map[string]string{"192.0.2.1": "web/a"}, Ready: true},
	}
	out, err := stripEip(full.DeepCopy())
	if err != nil {
		t.Fatal(err)
	}
	got := out.(*v1alpha2.Eip)

	want := &v1alpha2.Eip{
		ObjectMeta: metav1.ObjectMeta{
			Name: "pool", CreationTimestamp: created, DeletionTimestamp: &gone,
			Annotations: map[string]string{v1alpha2.AnnotationDefaultEip: "true"},
		},
		Spec: full.Spec,
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("stripEip (-want +got):\n%s", diff)
	}
	pools, problems := eippool.Accept([]v1alpha2.Eip{*got})
	if len(pools) != 1 || !pools[0].Default || !pools[0].Deleting || len(problems) != 0 {
		t.Errorf("Accept(stripped Eip) = %+v, %v; want one default pool being deleted", pools, problems)
	}
}
