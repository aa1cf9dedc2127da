package controllers

import (
	"cmp"
	"context"
	"fmt"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	coordinationv1 "k8s.io/api/coordination/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/labels"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/metrics"

	"github.com/herald-lb/herald/internal/optin"
	"github.com/herald-lb/herald/keepalived"
	"github.com/herald-lb/herald/webhook/certs"
)

// Options configures the controllers.
type Options struct {
	// LoadBalancerClass is the spec.loadBalancerClass Herald answers to;
	// empty means DefaultLoadBalancerClass.
	LoadBalancerClass string
	// MetalLBAnnotations and ClasslessServices are the MetalLB migration
	// opt-ins (optin.Policy); the speakers must be given the same.
	MetalLBAnnotations bool
	ClasslessServices  bool
	// EipStatusInterval bounds how often one Eip's status is written; zero
	// means DefaultStatusInterval.
	EipStatusInterval time.Duration
	// EipStatusUsed is the form of status.used the Eip reconciler writes
	// (--eip-status-used); the zero value is UsedAuto at
	// DefaultUsedMaxBytes.
	EipStatusUsed UsedForm
	// MaxConcurrentReconciles of the Service reconciler; zero means 4.
	MaxConcurrentReconciles int
	// SpeakerNamespace is where the speakers keep their Leases (the
	// controller's own namespace in the manifests); empty means
	// DefaultSpeakerNamespace. CacheOptions must be given the same.
	SpeakerNamespace string
	// VRIDPool is where VRIDs of vip Eips' addresses come from
	// (--vrrp-vrid-range minus --vrrp-vrid-exclude); the zero value means
	// keepalived.DefaultVRIDPool, 1-255.
	VRIDPool keepalived.VRIDPool
	// ServingGrace is EipReconciler.ServingGrace; zero means
	// DefaultServingGrace.
	ServingGrace time.Duration
	// OwnWebhookConfigurations are the names of Herald's own webhook
	// configurations, which ForeignWebhookReconciler leaves alone; empty
	// means the release's (webhook/certs' defaults).
	OwnWebhookConfigurations []string
	// Metrics is where the pool metrics (metrics.go) are registered; nil
	// means controller-runtime's metrics.Registry, which the manager
	// serves on its metrics endpoint.
	Metrics prometheus.Registerer

	// wrapReader, when set, wraps the reader the State reads through
	// (tests inject read failures with it).
	wrapReader func(client.Reader) client.Reader
	// uninstalling, when set, replaces the check of the Eip CRD's
	// deletion (EipReconciler.Uninstalling).
	uninstalling func(context.Context) (bool, error)
}

// Setup registers the Service and Eip reconcilers with the manager, sharing
// one State and the pool metrics, and the BgpPeer reconciler.
func Setup(mgr ctrl.Manager, opts Options) error {
	policy := optin.Policy{
		Class:              cmp.Or(opts.LoadBalancerClass, DefaultLoadBalancerClass),
		MetalLBAnnotations: opts.MetalLBAnnotations,
		ClasslessServices:  opts.ClasslessServices,
	}
	var reader client.Reader = mgr.GetClient()
	if opts.wrapReader != nil {
		reader = opts.wrapReader(reader)
	}
	state := NewState(reader, policy, mgr.GetLogger().WithName("allocator"))
	state.vrids.pool = opts.VRIDPool
	if state.vrids.pool.Size() == 0 {
		state.vrids.pool = keepalived.DefaultVRIDPool()
	}
	reg := opts.Metrics
	if reg == nil {
		reg = metrics.Registry
	}
	pm, err := newPoolMetrics(reg)
	if err != nil {
		return err
	}
	eips := &EipReconciler{
		Client:           mgr.GetClient(),
		Recorder:         mgr.GetEventRecorder("herald-controller"),
		State:            state,
		StatusInterval:   opts.EipStatusInterval,
		SpeakerNamespace: cmp.Or(opts.SpeakerNamespace, DefaultSpeakerNamespace),
		ServingGrace:     opts.ServingGrace,
		UsedForm:         opts.EipStatusUsed,
		Uninstalling: func(ctx context.Context) (bool, error) {
			return eipCRDDeleting(ctx, mgr.GetAPIReader())
		},
		metrics: pm,
	}
	if opts.uninstalling != nil {
		eips.Uninstalling = opts.uninstalling
	}
	changed, err := eips.SetupWithManager(mgr)
	if err != nil {
		return fmt.Errorf("set up eip controller: %w", err)
	}
	services := &ServiceReconciler{
		Client:                  mgr.GetClient(),
		Recorder:                mgr.GetEventRecorder("herald-controller"),
		State:                   state,
		Policy:                  policy,
		MaxConcurrentReconciles: opts.MaxConcurrentReconciles,
		metrics:                 pm,
	}
	if err := services.SetupWithManager(mgr, changed); err != nil {
		return fmt.Errorf("set up service controller: %w", err)
	}
	if err := (&BgpPeerReconciler{Client: mgr.GetClient(), Recorder: mgr.GetEventRecorder("herald-controller")}).SetupWithManager(mgr); err != nil {
		return fmt.Errorf("set up bgppeer controller: %w", err)
	}
	own := opts.OwnWebhookConfigurations
	if len(own) == 0 {
		own = []string{certs.DefaultValidatingWebhook, certs.DefaultMutatingWebhook}
	}
	for _, kind := range []string{"ValidatingWebhookConfiguration", "MutatingWebhookConfiguration"} {
		r := &ForeignWebhookReconciler{Client: mgr.GetClient(), Recorder: mgr.GetEventRecorder("herald-controller"), Own: own, Kind: kind}
		if err := r.SetupWithManager(mgr); err != nil {
			return fmt.Errorf("set up %s check: %w", kind, err)
		}
	}
	return nil
}

// CacheOptions keep herald-controller's informer caches to what it reads:
// of all the cluster's ConfigMaps, only kube-proxy's configuration; of all
// its Leases, only the speakers' in speakerNamespace (empty means
// DefaultSpeakerNamespace; give the same as Options.SpeakerNamespace).
// Pass them to the manager that runs Setup's reconcilers; without them the
// manager would watch every ConfigMap and every node's heartbeat Lease,
// and need to be allowed to.
func CacheOptions(speakerNamespace string) cache.Options {
	return cache.Options{
		ByObject: map[client.Object]cache.ByObject{
			&corev1.ConfigMap{}: {
				Namespaces: map[string]cache.Config{KubeProxyNamespace: {}},
				Field:      fields.OneTermEqualSelector("metadata.name", KubeProxyConfigMap),
			},
			&coordinationv1.Lease{}: {
				Namespaces: map[string]cache.Config{cmp.Or(speakerNamespace, DefaultSpeakerNamespace): {}},
				Label:      labels.SelectorFromSet(labels.Set{speakerLeaseLabel: "true"}),
			},
		},
	}
}
