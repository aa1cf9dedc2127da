package controllers

import (
	"fmt"
	"time"

	ctrl "sigs.k8s.io/controller-runtime"
)

// Options configures the controllers.
type Options struct {
	// LoadBalancerClass is the spec.loadBalancerClass Herald answers to;
	// empty means DefaultLoadBalancerClass.
	LoadBalancerClass string
	// EipStatusInterval bounds how often one Eip's status is written; zero
	// means DefaultStatusInterval.
	EipStatusInterval time.Duration
	// MaxConcurrentReconciles of the Service reconciler; zero means 4.
	MaxConcurrentReconciles int
}

// Setup registers the Service and Eip reconcilers with the manager, sharing
// one State.
func Setup(mgr ctrl.Manager, opts Options) error {
	class := opts.LoadBalancerClass
	if class == "" {
		class = DefaultLoadBalancerClass
	}
	state := NewState(mgr.GetClient(), class, mgr.GetLogger().WithName("allocator"))
	eips := &EipReconciler{
		Client:         mgr.GetClient(),
		Recorder:       mgr.GetEventRecorder("herald-controller"),
		State:          state,
		StatusInterval: opts.EipStatusInterval,
	}
	changed, err := eips.SetupWithManager(mgr)
	if err != nil {
		return fmt.Errorf("set up eip controller: %w", err)
	}
	services := &ServiceReconciler{
		Client:                  mgr.GetClient(),
		Recorder:                mgr.GetEventRecorder("herald-controller"),
		State:                   state,
		Class:                   class,
		MaxConcurrentReconciles: opts.MaxConcurrentReconciles,
	}
	if err := services.SetupWithManager(mgr, changed); err != nil {
		return fmt.Errorf("set up service controller: %w", err)
	}
	return nil
}
