package webhook

import (
	"context"

	apiequality "k8s.io/apimachinery/pkg/api/equality"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/webhook/admission"

	"github.com/herald-lb/herald/api/v1alpha2"
	"github.com/herald-lb/herald/internal/bgpconfig"
)

// +kubebuilder:webhook:path=/validate-network-kubesphere-io-v1alpha2-bgpconf,mutating=false,failurePolicy=fail,sideEffects=None,groups=network.kubesphere.io,resources=bgpconfs,verbs=create;update,versions=v1alpha2,name=vbgpconf.network.kubesphere.io,admissionReviewVersions=v1,timeoutSeconds=10
// +kubebuilder:webhook:path=/validate-network-kubesphere-io-v1alpha2-bgppeer,mutating=false,failurePolicy=fail,sideEffects=None,groups=network.kubesphere.io,resources=bgppeers,verbs=create;update,versions=v1alpha2,name=vbgppeer.network.kubesphere.io,admissionReviewVersions=v1,timeoutSeconds=10

// BgpConfValidator admits BgpConfs that internal/bgpconfig accepts, the
// same check the speakers run, and passes its advice on as warnings.
// OpenELB checked neither BgpConf nor BgpPeer. On update it also refuses
// to remove or rename a community alias that an Eip's advertisement still
// uses (aliasesInUse).
type BgpConfValidator struct {
	// Reader lists Eips on updates that drop an alias. Setup passes the
	// manager's API reader; the zero value checks creates only.
	Reader client.Reader
}

var _ admission.Validator[*v1alpha2.BgpConf] = BgpConfValidator{}

// ValidateCreate checks a new BgpConf.
func (BgpConfValidator) ValidateCreate(ctx context.Context, c *v1alpha2.BgpConf) (admission.Warnings, error) {
	warnings, errs := bgpconfig.ValidateConf(c)
	warnings, errs = forClient(ctx, "BgpConf", warnings, errs)
	return warnings, invalid("BgpConf", c.Name, errs)
}

// ValidateUpdate checks an edit of the spec; edits that leave the spec
// alone (labels, finalizers) are admitted, so that a BgpConf created before
// the webhook existed stays manageable.
func (v BgpConfValidator) ValidateUpdate(ctx context.Context, oldConf, newConf *v1alpha2.BgpConf) (admission.Warnings, error) {
	if newConf.DeletionTimestamp != nil || apiequality.Semantic.DeepEqual(oldConf.Spec, newConf.Spec) {
		return nil, nil
	}
	warnings, errs := bgpconfig.ValidateConf(newConf)
	inUse, err := v.aliasesInUse(ctx, oldConf, newConf)
	if err != nil {
		return nil, err
	}
	warnings, errs = forClient(ctx, "BgpConf", warnings, append(errs, inUse...))
	return warnings, invalid("BgpConf", newConf.Name, errs)
}

// ValidateDelete admits every deletion.
func (BgpConfValidator) ValidateDelete(context.Context, *v1alpha2.BgpConf) (admission.Warnings, error) {
	return nil, nil
}

// BgpPeerValidator admits BgpPeers that internal/bgpconfig accepts, warns
// about plaintext passwords, refuses a password Secret outside Herald's
// namespace, and refuses a BgpPeer that provably gives a node a second
// session to a neighbour another BgpPeer already peers with.
type BgpPeerValidator struct {
	// Reader lists the other BgpPeers. Setup passes the manager's API
	// reader rather than its cache, so that two duplicates applied
	// together are not both admitted.
	Reader client.Reader
	// Namespace is Herald's, the only one whose Secrets may hold peer
	// passwords (checkSecretNamespace); empty means herald-system.
	Namespace string
}

var _ admission.Validator[*v1alpha2.BgpPeer] = BgpPeerValidator{}

// ValidateCreate checks a new BgpPeer.
func (v BgpPeerValidator) ValidateCreate(ctx context.Context, p *v1alpha2.BgpPeer) (admission.Warnings, error) {
	return v.validate(ctx, nil, p)
}

// ValidateUpdate checks an edit of the spec, as BgpConfValidator does.
func (v BgpPeerValidator) ValidateUpdate(ctx context.Context, oldPeer, newPeer *v1alpha2.BgpPeer) (admission.Warnings, error) {
	if newPeer.DeletionTimestamp != nil || apiequality.Semantic.DeepEqual(oldPeer.Spec, newPeer.Spec) {
		return nil, nil
	}
	return v.validate(ctx, oldPeer, newPeer)
}

// validate checks p on its own and against the other BgpPeers; oldPeer is
// nil on create. The error is for failures to check, not for what the
// check found.
func (v BgpPeerValidator) validate(ctx context.Context, oldPeer, p *v1alpha2.BgpPeer) (admission.Warnings, error) {
	warnings, errs := bgpconfig.ValidatePeer(p)
	errs = append(errs, checkSecretNamespace(p, v.Namespace)...)
	dups, err := v.duplicateNeighbors(ctx, oldPeer, p)
	if err != nil {
		return nil, err
	}
	warnings, errs = forClient(ctx, "BgpPeer", warnings, append(errs, dups...))
	return warnings, invalid("BgpPeer", p.Name, errs)
}

// ValidateDelete admits every deletion.
func (BgpPeerValidator) ValidateDelete(context.Context, *v1alpha2.BgpPeer) (admission.Warnings, error) {
	return nil, nil
}
