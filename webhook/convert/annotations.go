package convert

import (
	"encoding/json"
	"fmt"
	"maps"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

const (
	// AnnotationV1alpha2Fields holds, on an object read through v1alpha1,
	// the v1alpha2 spec and status ({"spec":...,"status":...}) whenever the
	// v1alpha1 fields alone would not convert back to them.
	AnnotationV1alpha2Fields = "network.kubesphere.io/v1alpha2-fields"
	// AnnotationV1alpha1Fields holds, on a stored v1alpha2 object, the
	// v1alpha1 fields with no v1alpha2 home ({"spec":{"usingPortForward":
	// true}} on a BgpPeer).
	AnnotationV1alpha1Fields = "network.kubesphere.io/v1alpha1-fields"
)

// fields is what either annotation holds: a spec and a status.
type fields[S, T any] struct {
	Spec   S `json:"spec"`
	Status T `json:"status"`
}

// copyMeta returns a deep copy of m without the annotation key, whichever
// version's bookkeeping that is: it must not travel to the other version.
func copyMeta(m *metav1.ObjectMeta, key string) metav1.ObjectMeta {
	out := *m.DeepCopy()
	if _, ok := out.Annotations[key]; ok {
		out.Annotations = maps.Clone(out.Annotations)
		delete(out.Annotations, key)
		if len(out.Annotations) == 0 {
			out.Annotations = nil
		}
	}
	return out
}

// readFields decodes the annotation key of m into into; false when m has
// none. A malformed annotation is an error: the write it came with is
// refused, which is better than dropping what it held.
func readFields(m *metav1.ObjectMeta, key string, into any) (bool, error) {
	text, ok := m.Annotations[key]
	if !ok {
		return false, nil
	}
	if err := json.Unmarshal([]byte(text), into); err != nil {
		return false, fmt.Errorf("annotation %s: %w (remove it to keep the fields the manifest shows only)", key, err)
	}
	return true, nil
}

// writeFields stores v as JSON in the annotation key of m.
func writeFields(m *metav1.ObjectMeta, key string, v any) error {
	data, err := json.Marshal(v)
	if err != nil {
		return fmt.Errorf("annotation %s: %w", key, err)
	}
	if m.Annotations == nil {
		m.Annotations = map[string]string{}
	}
	m.Annotations[key] = string(data)
	return nil
}
