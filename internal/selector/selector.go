package selector

import (
	"fmt"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	metav1validation "k8s.io/apimachinery/pkg/apis/meta/v1/validation"
	"k8s.io/apimachinery/pkg/util/validation/field"
)

// Validate reports each bad part of sel at its own path under path;
// LabelSelectorAsSelector then catches anything the field checks let
// through. A nil selector is valid.
func Validate(path *field.Path, sel *metav1.LabelSelector) field.ErrorList {
	if sel == nil {
		return nil
	}
	errs := metav1validation.ValidateLabelSelector(sel, metav1validation.LabelSelectorValidationOptions{}, path)
	if len(errs) > 0 {
		return errs
	}
	if _, err := metav1.LabelSelectorAsSelector(sel); err != nil {
		return field.ErrorList{field.Invalid(path, sel, fmt.Sprintf("not a valid label selector: %v; write matchLabels {key: value} or matchExpressions with operator In, NotIn, Exists or DoesNotExist", err))}
	}
	return nil
}
