package webhook

import (
	"fmt"

	ctrl "sigs.k8s.io/controller-runtime"

	"github.com/herald-lb/herald/api/v1alpha2"
	"github.com/herald-lb/herald/keepalived"
	"github.com/herald-lb/herald/webhook/convert"
)

// Options configure the webhooks.
type Options struct {
	// Namespace is Herald's own (the controller's): BgpPeer password
	// Secrets must be there. Empty means herald-system.
	Namespace string
	// VRIDPool is herald-controller's VRID pool (--vrrp-vrid-range minus
	// --vrrp-vrid-exclude): a vip Eip holding more addresses than it has
	// VRIDs is admitted with a warning. The zero value means
	// keepalived.DefaultVRIDPool.
	VRIDPool keepalived.VRIDPool
	// VRIDRange and VRIDExclude are those flags as the operator wrote
	// them, for the warning's text; an empty range means "1-255".
	VRIDRange, VRIDExclude string
}

// Setup registers the Eip, BgpConf and BgpPeer webhooks on the manager's
// webhook server, at the paths the generated configuration in
// config/webhook names, and the CRDs' conversion webhook at /convert
// (webhook/convert; config/crd/patches points the CRDs there). The
// manager's scheme must know v1alpha2, v1alpha1 and the core types.
// Serving certificates are webhook/certs' job.
func Setup(mgr ctrl.Manager, opts Options) error {
	eips := &EipValidator{Reader: mgr.GetAPIReader(), VRIDPool: opts.VRIDPool, VRIDRange: opts.VRIDRange, VRIDExclude: opts.VRIDExclude}
	if err := ctrl.NewWebhookManagedBy(mgr, &v1alpha2.Eip{}).
		WithDefaulter(EipDefaulter{}).
		WithValidator(eips).
		WithConverter(convert.Eip()).
		Complete(); err != nil {
		return fmt.Errorf("register Eip webhooks: %w", err)
	}
	if err := ctrl.NewWebhookManagedBy(mgr, &v1alpha2.BgpConf{}).
		WithValidator(BgpConfValidator{Reader: mgr.GetAPIReader()}).
		WithConverter(convert.BgpConf()).
		Complete(); err != nil {
		return fmt.Errorf("register BgpConf webhook: %w", err)
	}
	if err := ctrl.NewWebhookManagedBy(mgr, &v1alpha2.BgpPeer{}).
		WithValidator(BgpPeerValidator{Reader: mgr.GetAPIReader(), Namespace: opts.Namespace}).
		WithConverter(convert.BgpPeer()).
		Complete(); err != nil {
		return fmt.Errorf("register BgpPeer webhook: %w", err)
	}
	return nil
}
