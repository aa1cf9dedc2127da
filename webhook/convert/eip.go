package convert

import (
	"context"
	"fmt"

	apiequality "k8s.io/apimachinery/pkg/api/equality"

	"github.com/herald-lb/herald/api/v1alpha1"
	"github.com/herald-lb/herald/api/v1alpha2"
)

// EipToHub converts a v1alpha1 Eip to v1alpha2. Every v1alpha1 field maps
// to the v1alpha2 field of the same name; the rest of v1alpha2 comes from
// AnnotationV1alpha2Fields, when present.
func EipToHub(_ context.Context, src *v1alpha1.Eip, dst *v1alpha2.Eip) error {
	var base fields[v1alpha2.EipSpec, v1alpha2.EipStatus]
	if _, err := readFields(&src.ObjectMeta, AnnotationV1alpha2Fields, &base); err != nil {
		return fmt.Errorf("eip %q: %w", src.Name, err)
	}
	dst.ObjectMeta = copyMeta(&src.ObjectMeta, AnnotationV1alpha2Fields)
	dst.Spec, dst.Status = eipHub(src.Spec, src.Status, base.Spec, base.Status)
	return nil
}

// EipFromHub converts a v1alpha2 Eip to v1alpha1, keeping whatever
// v1alpha1 cannot show in AnnotationV1alpha2Fields.
func EipFromHub(_ context.Context, src *v1alpha2.Eip, dst *v1alpha1.Eip) error {
	dst.ObjectMeta = copyMeta(&src.ObjectMeta, AnnotationV1alpha1Fields)
	dst.Spec, dst.Status = eipSpoke(&src.Spec, &src.Status)
	spec, status := eipHub(dst.Spec, dst.Status, v1alpha2.EipSpec{}, v1alpha2.EipStatus{})
	if apiequality.Semantic.DeepEqual(spec, src.Spec) && apiequality.Semantic.DeepEqual(status, src.Status) {
		return nil
	}
	if err := writeFields(&dst.ObjectMeta, AnnotationV1alpha2Fields, fields[v1alpha2.EipSpec, v1alpha2.EipStatus]{src.Spec, src.Status}); err != nil {
		return fmt.Errorf("eip %q: %w", src.Name, err)
	}
	return nil
}

// eipSpoke is what a v1alpha2 Eip reads as in v1alpha1.
func eipSpoke(s *v1alpha2.EipSpec, st *v1alpha2.EipStatus) (v1alpha1.EipSpec, v1alpha1.EipStatus) {
	return v1alpha1.EipSpec{
			Address:       s.Address,
			Protocol:      s.Protocol,
			Disable:       s.Disable,
			UsingKnownIPs: s.UsingKnownIPs,
		}, v1alpha1.EipStatus{
			Occupied: st.Occupied,
			Usage:    st.Usage,
			PoolSize: st.PoolSize,
		}
}

// eipHub applies the v1alpha1 fields to the v1alpha2 base. They all map
// one to one, so they simply overwrite.
func eipHub(s v1alpha1.EipSpec, st v1alpha1.EipStatus, base v1alpha2.EipSpec, baseStatus v1alpha2.EipStatus) (v1alpha2.EipSpec, v1alpha2.EipStatus) {
	spec, status := *base.DeepCopy(), *baseStatus.DeepCopy()
	spec.Address, spec.Protocol, spec.Disable, spec.UsingKnownIPs = s.Address, s.Protocol, s.Disable, s.UsingKnownIPs
	status.Occupied, status.Usage, status.PoolSize = st.Occupied, st.Usage, st.PoolSize
	return spec, status
}
