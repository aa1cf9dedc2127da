package webhook

import (
	"cmp"
	"context"
	"fmt"
	"net/netip"
	"strings"

	corev1 "k8s.io/api/core/v1"
	apiequality "k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/util/validation/field"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/webhook/admission"

	"github.com/herald-lb/herald/api/v1alpha2"
	"github.com/herald-lb/herald/internal/eippool"
	"github.com/herald-lb/herald/internal/iprange"
	"github.com/herald-lb/herald/keepalived"
)

// +kubebuilder:webhook:path=/mutate-network-kubesphere-io-v1alpha2-eip,mutating=true,failurePolicy=fail,sideEffects=None,groups=network.kubesphere.io,resources=eips,verbs=create;update,versions=v1alpha2,name=meip.network.kubesphere.io,admissionReviewVersions=v1,timeoutSeconds=10
// +kubebuilder:webhook:path=/validate-network-kubesphere-io-v1alpha2-eip,mutating=false,failurePolicy=fail,sideEffects=None,groups=network.kubesphere.io,resources=eips,verbs=create;update,versions=v1alpha2,name=veip.network.kubesphere.io,admissionReviewVersions=v1,timeoutSeconds=10

// EipDefaulter writes the protocol an Eip gets when it names none, so that
// `kubectl get eip -o yaml` shows what the speakers do instead of leaving
// readers to remember OpenELB's default.
type EipDefaulter struct{}

var _ admission.Defaulter[*v1alpha2.Eip] = EipDefaulter{}

// Default sets an empty spec.protocol to bgp.
func (EipDefaulter) Default(_ context.Context, e *v1alpha2.Eip) error {
	if e.Spec.Protocol == "" {
		e.Spec.Protocol = v1alpha2.ProtocolBGP
	}
	return nil
}

// EipValidator admits Eips: each on its own (eippool.Validate), against the
// other pools (eippool.Conflicts), against BgpConf's community aliases and
// the BgpPeers (eippool.CheckBGP) and, on update, against the addresses in
// use (eippool.ValidateUpdate, eippool.BuggyInUse).
type EipValidator struct {
	// Reader lists Eips and Services. Setup passes the manager's API reader
	// rather than its cache: a pool created a moment ago must be seen, or
	// two overlapping pools applied together would both be admitted.
	Reader client.Reader
	// VRIDPool, VRIDRange and VRIDExclude are Options' (see there).
	VRIDPool               keepalived.VRIDPool
	VRIDRange, VRIDExclude string
}

var _ admission.Validator[*v1alpha2.Eip] = (*EipValidator)(nil)

// ValidateCreate checks a new Eip.
func (v *EipValidator) ValidateCreate(ctx context.Context, e *v1alpha2.Eip) (admission.Warnings, error) {
	warnings, errs, err := v.validate(ctx, e)
	if err != nil {
		return nil, err
	}
	if len(errs) > 0 {
		_, errs = forClient(ctx, "Eip", nil, errs)
		return nil, invalid("Eip", e.Name, errs)
	}
	warnings, _ = forClient(ctx, "Eip", append(warnings, v.vridWarnings(e)...), nil)
	return warnings, nil
}

// ValidateUpdate checks an edit. Edits that leave the spec and the default
// annotation alone (labels, finalizers, deletion) are always admitted, so
// an Eip created before the webhook existed can still be labelled or
// deleted. Unlike OpenELB, which refuses every address edit, any edit that
// keeps the allocated addresses in the pool is admitted, growth included.
func (v *EipValidator) ValidateUpdate(ctx context.Context, oldEip, newEip *v1alpha2.Eip) (admission.Warnings, error) {
	if newEip.DeletionTimestamp != nil || sameEipSettings(oldEip, newEip) {
		return nil, nil
	}
	warnings, errs, err := v.validate(ctx, newEip)
	if err != nil {
		return nil, err
	}
	if w := eippool.BuggyInUseWarning(eippool.BuggyInUse(oldEip, newEip)); w != "" {
		warnings = append(warnings, w)
	}
	// Only an address or protocol change can strand an allocated address;
	// other edits spare the API server a list of every Service.
	if oldEip.Spec.Address != newEip.Spec.Address || eippool.Protocol(oldEip) != eippool.Protocol(newEip) {
		allocated, err := v.allocated(ctx, oldEip)
		if err != nil {
			return nil, apierrors.NewInternalError(fmt.Errorf("eip %q: %w", newEip.Name, err))
		}
		errs = append(errs, eippool.ValidateUpdate(oldEip, newEip, allocated)...)
	}
	if len(errs) > 0 {
		_, errs = forClient(ctx, "Eip", nil, errs)
		return nil, invalid("Eip", newEip.Name, errs)
	}
	warnings, _ = forClient(ctx, "Eip", append(warnings, v.vridWarnings(newEip)...), nil)
	return warnings, nil
}

// vridWarnings warns about a vip Eip that holds more addresses than the
// VRID pool has VRIDs. It is admitted (OpenELB users have /24 vip pools,
// rarely with 256 Services), but each address served needs a VRID of its
// own, unique in its family across the cluster, and the operator should
// know how many can be served before Services find out.
func (v *EipValidator) vridWarnings(e *v1alpha2.Eip) admission.Warnings {
	if eippool.Protocol(e) != v1alpha2.ProtocolVIP {
		return nil
	}
	r, err := iprange.Parse(e.Spec.Address)
	if err != nil {
		return nil
	}
	pool := v.VRIDPool
	if pool.Size() == 0 {
		pool = keepalived.DefaultVRIDPool()
	}
	m := pool.Size()
	if r.Size() <= uint64(m) {
		return nil
	}
	spec := cmp.Or(strings.TrimSpace(v.VRIDRange), "1-255")
	if x := strings.TrimSpace(v.VRIDExclude); x != "" {
		spec += ", minus exclusions " + x
	} else {
		spec += ", no exclusions"
	}
	return admission.Warnings{fmt.Sprintf("this vip Eip holds %d addresses but the VRID range (%s) gives %d VRIDs per address family: "+
		"at most %d of its addresses can be served at once, fewer while other vip Eips of the same family hold VRIDs; "+
		"an address allocated beyond that has no VRID and no node serves it until one is freed "+
		"(herald-controller's --vrrp-vrid-range and --vrrp-vrid-exclude set the range)",
		r.Size(), spec, m, m)}
}

// ValidateDelete admits every deletion: the controller's finalizer keeps
// the pool until its Services have let go of it.
func (v *EipValidator) ValidateDelete(context.Context, *v1alpha2.Eip) (admission.Warnings, error) {
	return nil, nil
}

// validate checks the Eip on its own, against the other pools and, when
// it has bgpAdvertisements, against BgpConf's aliases and the BgpPeers.
// The error is for failures to check, not for what the check found.
func (v *EipValidator) validate(ctx context.Context, e *v1alpha2.Eip) (admission.Warnings, field.ErrorList, error) {
	errs := append(eippool.Validate(e), eippool.ValidateAvoidBuggyIPs(e)...)
	warnings := eippool.AdvertisementWarnings(e)
	var eips v1alpha2.EipList
	if err := v.Reader.List(ctx, &eips); err != nil {
		return nil, nil, apierrors.NewInternalError(fmt.Errorf("eip %q: list Eips to check for overlaps: %w", e.Name, err))
	}
	errs = append(errs, eippool.Conflicts(e, eips.Items)...)
	if len(e.Spec.BgpAdvertisements) == 0 {
		return warnings, errs, nil
	}
	conf, peers, err := v.bgpObjects(ctx)
	if err != nil {
		return nil, nil, apierrors.NewInternalError(fmt.Errorf("eip %q: %w", e.Name, err))
	}
	w, bgpErrs := eippool.CheckBGP(e, conf, peers)
	return append(warnings, w...), append(errs, bgpErrs...), nil
}

// bgpObjects reads BgpConf "default" (nil when there is none) and every
// BgpPeer, for the checks of an Eip's bgpAdvertisements.
func (v *EipValidator) bgpObjects(ctx context.Context) (*v1alpha2.BgpConf, []v1alpha2.BgpPeer, error) {
	conf := &v1alpha2.BgpConf{}
	if err := v.Reader.Get(ctx, client.ObjectKey{Name: v1alpha2.BgpConfName}, conf); apierrors.IsNotFound(err) {
		conf = nil
	} else if err != nil {
		return nil, nil, fmt.Errorf("get BgpConf %s for its community aliases: %w", v1alpha2.BgpConfName, err)
	}
	var peers v1alpha2.BgpPeerList
	if err := v.Reader.List(ctx, &peers); err != nil {
		return nil, nil, fmt.Errorf("list BgpPeers for the advertisements' peers: %w", err)
	}
	return conf, peers.Items, nil
}

// allocated returns the addresses of the old pool that are in use: those
// the controller recorded in status.used and those some Service carries in
// its status, which covers allocations the status has not caught up with.
func (v *EipValidator) allocated(ctx context.Context, old *v1alpha2.Eip) ([]netip.Addr, error) {
	r, err := iprange.Parse(old.Spec.Address)
	if err != nil {
		return nil, nil // A pool that never parsed handed nothing out.
	}
	seen := map[netip.Addr]bool{}
	add := func(s string) {
		if a, err := netip.ParseAddr(s); err == nil && r.Contains(a) {
			seen[a] = true
		}
	}
	for ip := range old.Status.Used {
		add(ip)
	}
	var services corev1.ServiceList
	if err := v.Reader.List(ctx, &services); err != nil {
		return nil, fmt.Errorf("list Services to find the addresses in use: %w", err)
	}
	for i := range services.Items {
		for _, ing := range services.Items[i].Status.LoadBalancer.Ingress {
			add(ing.IP)
		}
	}
	addrs := make([]netip.Addr, 0, len(seen))
	for a := range seen {
		addrs = append(addrs, a)
	}
	return addrs, nil
}

// sameEipSettings reports whether an update leaves everything the
// validator checks as it was. The protocol is compared as the speakers read
// it, so that the defaulter turning "" into "bgp" counts as no change.
func sameEipSettings(oldEip, newEip *v1alpha2.Eip) bool {
	o, n := oldEip.Spec, newEip.Spec
	o.Protocol, n.Protocol = eippool.Protocol(oldEip), eippool.Protocol(newEip)
	oa, oldSet := oldEip.Annotations[v1alpha2.AnnotationDefaultEip]
	na, newSet := newEip.Annotations[v1alpha2.AnnotationDefaultEip]
	return apiequality.Semantic.DeepEqual(o, n) && oa == na && oldSet == newSet
}

// invalid turns field errors about a network.kubesphere.io object of this
// kind into the 422 Invalid status kubectl prints as
// `The Eip "x" is invalid: spec.address: Invalid value: ...`; nil when
// there are none.
func invalid(kind, name string, errs field.ErrorList) error {
	if len(errs) == 0 {
		return nil
	}
	return apierrors.NewInvalid(schema.GroupKind{Group: v1alpha2.GroupVersion.Group, Kind: kind}, name, errs)
}
