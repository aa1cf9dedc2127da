package convert

import (
	"context"
	"fmt"

	apiequality "k8s.io/apimachinery/pkg/api/equality"

	"github.com/herald-lb/herald/api/v1alpha1"
	"github.com/herald-lb/herald/api/v1alpha2"
)

// BgpConfToHub converts a v1alpha1 BgpConf to v1alpha2: as stays as,
// routerID becomes routerId and port becomes listenPort; the rest of
// v1alpha2 comes from AnnotationV1alpha2Fields, when present.
func BgpConfToHub(_ context.Context, src *v1alpha1.BgpConf, dst *v1alpha2.BgpConf) error {
	var base fields[v1alpha2.BgpConfSpec, v1alpha2.BgpConfStatus]
	if _, err := readFields(&src.ObjectMeta, AnnotationV1alpha2Fields, &base); err != nil {
		return fmt.Errorf("bgpconf %q: %w", src.Name, err)
	}
	dst.ObjectMeta = copyMeta(&src.ObjectMeta, AnnotationV1alpha2Fields)
	dst.Spec = bgpConfHub(src.Spec, base.Spec)
	dst.Status = *base.Status.DeepCopy()
	return nil
}

// BgpConfFromHub converts a v1alpha2 BgpConf to v1alpha1, keeping whatever
// v1alpha1 cannot show (asPerRack, listenAddresses, gracefulRestart,
// status, ...) in AnnotationV1alpha2Fields.
func BgpConfFromHub(_ context.Context, src *v1alpha2.BgpConf, dst *v1alpha1.BgpConf) error {
	dst.ObjectMeta = copyMeta(&src.ObjectMeta, AnnotationV1alpha1Fields)
	dst.Spec = v1alpha1.BgpConfSpec{
		As:       v1alpha1.ASNumber(src.Spec.As),
		RouterId: src.Spec.RouterId,
		Port:     src.Spec.ListenPort,
	}
	dst.Status = v1alpha1.BgpConfStatus{}
	if apiequality.Semantic.DeepEqual(bgpConfHub(dst.Spec, v1alpha2.BgpConfSpec{}), src.Spec) &&
		apiequality.Semantic.DeepEqual(v1alpha2.BgpConfStatus{}, src.Status) {
		return nil
	}
	if err := writeFields(&dst.ObjectMeta, AnnotationV1alpha2Fields, fields[v1alpha2.BgpConfSpec, v1alpha2.BgpConfStatus]{src.Spec, src.Status}); err != nil {
		return fmt.Errorf("bgpconf %q: %w", src.Name, err)
	}
	return nil
}

// bgpConfHub applies the v1alpha1 fields to the v1alpha2 base; all three
// map one to one, under other names.
func bgpConfHub(s v1alpha1.BgpConfSpec, base v1alpha2.BgpConfSpec) v1alpha2.BgpConfSpec {
	spec := *base.DeepCopy()
	spec.As = v1alpha2.ASNumber(s.As)
	spec.RouterId = s.RouterId
	spec.ListenPort = s.Port
	return spec
}
