package webhook

import (
	"fmt"

	ctrl "sigs.k8s.io/controller-runtime"

	"github.com/herald-lb/herald/api/v1alpha2"
)

// Options configure the webhooks.
type Options struct {
	// Namespace is Herald's own (the controller's): BgpPeer password
	// Secrets must be there. Empty means herald-system.
	Namespace string
}

// Setup registers the Eip, BgpConf and BgpPeer webhooks on the manager's
// webhook server, at the paths the generated configuration in
// config/webhook names. The manager's scheme must know v1alpha2 and the
// core types. Serving certificates are webhook/certs' job.
func Setup(mgr ctrl.Manager, opts Options) error {
	eips := &EipValidator{Reader: mgr.GetAPIReader()}
	if err := ctrl.NewWebhookManagedBy(mgr, &v1alpha2.Eip{}).
		WithDefaulter(EipDefaulter{}).
		WithValidator(eips).
		Complete(); err != nil {
		return fmt.Errorf("register Eip webhooks: %w", err)
	}
	if err := ctrl.NewWebhookManagedBy(mgr, &v1alpha2.BgpConf{}).
		WithValidator(BgpConfValidator{}).
		Complete(); err != nil {
		return fmt.Errorf("register BgpConf webhook: %w", err)
	}
	if err := ctrl.NewWebhookManagedBy(mgr, &v1alpha2.BgpPeer{}).
		WithValidator(BgpPeerValidator{Reader: mgr.GetAPIReader(), Namespace: opts.Namespace}).
		Complete(); err != nil {
		return fmt.Errorf("register BgpPeer webhook: %w", err)
	}
	return nil
}
