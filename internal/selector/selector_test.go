package selector

import (
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/validation/field"
)

func TestValidate(t *testing.T) {
	path := field.NewPath("spec", "nodeSelector")
	tests := []struct {
		name  string
		sel   *metav1.LabelSelector
		field string // where the first error is; "" for none
	}{
		{name: "nil", sel: nil},
		{name: "empty selects everything", sel: &metav1.LabelSelector{}},
		{name: "labels and expressions", sel: &metav1.LabelSelector{MatchLabels: map[string]string{"rack": "a"},
			MatchExpressions: []metav1.LabelSelectorRequirement{{Key: "zone", Operator: metav1.LabelSelectorOpIn, Values: []string{"x"}}}}},
		{name: "bad key", sel: &metav1.LabelSelector{MatchLabels: map[string]string{"bad key!": "a"}}, field: "spec.nodeSelector.matchLabels"},
		{name: "unknown operator", sel: &metav1.LabelSelector{MatchExpressions: []metav1.LabelSelectorRequirement{{Key: "rack", Operator: "Near", Values: []string{"a"}}}},
			field: "spec.nodeSelector.matchExpressions[0].operator"},
		{name: "In without values", sel: &metav1.LabelSelector{MatchExpressions: []metav1.LabelSelectorRequirement{{Key: "rack", Operator: metav1.LabelSelectorOpIn}}},
			field: "spec.nodeSelector.matchExpressions[0].values"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			errs := Validate(path, tt.sel)
			switch {
			case tt.field == "" && len(errs) > 0:
				t.Errorf("unexpected errors: %v", errs)
			case tt.field != "" && (len(errs) == 0 || errs[0].Field != tt.field):
				t.Errorf("errors %v; want the first at %s", errs, tt.field)
			}
		})
	}
}
