package controllers

import (
	"context"
	"fmt"
	"net/netip"
	"slices"
	"strings"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/tools/events"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/builder"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller"
	"sigs.k8s.io/controller-runtime/pkg/controller/controllerutil"
	"sigs.k8s.io/controller-runtime/pkg/event"
	"sigs.k8s.io/controller-runtime/pkg/handler"
	"sigs.k8s.io/controller-runtime/pkg/log"
	"sigs.k8s.io/controller-runtime/pkg/predicate"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"
	"sigs.k8s.io/controller-runtime/pkg/source"

	"github.com/herald-lb/herald/api/v1alpha2"
	"github.com/herald-lb/herald/internal/allocator"
	"github.com/herald-lb/herald/internal/optin"
)

// Event reasons on Services.
const (
	ReasonIPAllocated      = "IPAllocated"
	ReasonAllocationFailed = "AllocationFailed"
	ReasonIPReleased       = "IPReleased"
	// ReasonAddressNotKept: a Service Herald held nothing for had an
	// address in its status that Herald could not keep (given by MetalLB
	// before a migration opt-in made the Service Herald's, or lost to an
	// older Service at restore), and is allocated anew.
	ReasonAddressNotKept = "AddressNotKept"
)

// ServiceReconciler gives LoadBalancer Services their addresses.
type ServiceReconciler struct {
	Client   client.Client
	Recorder events.EventRecorder
	State    *State
	// Policy says which Services are Herald's (optin.IsHerald).
	Policy optin.Policy
	// MaxConcurrentReconciles bounds parallel API writes; allocation itself
	// is serialised by State.
	MaxConcurrentReconciles int

	// metrics counts allocations; nil counts nothing.
	metrics *poolMetrics
	// eipChanged asks the Eip reconciler to refresh a pool's status.
	eipChanged chan event.TypedGenericEvent[*v1alpha2.Eip]
	// retry wakes Services waiting for an address.
	retry chan event.TypedGenericEvent[*corev1.Service]
}

// +kubebuilder:rbac:groups="",resources=services,verbs=get;list;watch;update;patch
// +kubebuilder:rbac:groups="",resources=services/status,verbs=get;update;patch
// +kubebuilder:rbac:groups="",resources=namespaces,verbs=get;list;watch
// +kubebuilder:rbac:groups=events.k8s.io,resources=events,verbs=create;patch;update
// +kubebuilder:rbac:groups="",resources=events,verbs=create;patch;update

// Reconcile allocates, keeps or releases one Service's addresses.
func (r *ServiceReconciler) Reconcile(ctx context.Context, req reconcile.Request) (reconcile.Result, error) {
	logger := log.FromContext(ctx).WithValues("service", req.String())
	key := req.Namespace + "/" + req.Name

	var svc corev1.Service
	if err := r.Client.Get(ctx, req.NamespacedName, &svc); err != nil {
		if !apierrors.IsNotFound(err) {
			return reconcile.Result{}, fmt.Errorf("service %q: get: %w", key, err)
		}
		addrs, pools, err := r.State.release(ctx, key)
		if len(addrs) > 0 {
			r.metrics.released()
		}
		r.afterRelease(pools)
		return reconcile.Result{}, err
	}
	if svc.DeletionTimestamp != nil || !isOurs(&svc, r.Policy) {
		return reconcile.Result{}, r.releaseService(ctx, &svc)
	}

	if err := r.dropLegacyFinalizer(ctx, &svc); err != nil {
		return reconcile.Result{}, err
	}

	nsLabels, err := r.State.namespaceLabels(ctx, svc.Namespace)
	if err != nil {
		// Retried with the controller's backoff: deciding without the
		// labels could pick the wrong Eip for good.
		return reconcile.Result{}, fmt.Errorf("service %q: %w", key, err)
	}
	request, err := requestFor(&svc, nsLabels, r.Policy)
	if err != nil {
		r.Recorder.Eventf(&svc, nil, corev1.EventTypeWarning, ReasonAllocationFailed, "Allocate", "%s", err.Error())
		logger.Info("service asks for something invalid", "reason", err.Error())
		r.metrics.failed(allocator.ReasonInvalidRequest)
		return reconcile.Result{}, nil
	}
	out, err := r.State.allocate(ctx, request, ingressAddrs(&svc))
	if err != nil {
		return reconcile.Result{}, fmt.Errorf("service %q: %w", key, err)
	}
	defer r.notifyEips(out.pools)
	if out.notKept != "" {
		r.Recorder.Eventf(&svc, nil, corev1.EventTypeWarning, ReasonAddressNotKept, "Allocate",
			"the address in status.loadBalancer (%s) cannot be kept: %s; allocating anew",
			joinAddrs(ingressAddrs(&svc)), out.notKept)
		logger.Info("address in status cannot be kept", "ip", joinAddrs(ingressAddrs(&svc)), "reason", out.notKept)
	}
	if out.err != nil {
		r.Recorder.Eventf(&svc, nil, corev1.EventTypeWarning, ReasonAllocationFailed, "Allocate",
			"%s: %s", allocator.ReasonOf(out.err), out.err.Error())
		logger.Info("allocation failed", "reason", allocator.ReasonOf(out.err), "message", out.err.Error())
		r.metrics.failed(allocator.ReasonOf(out.err))
	}

	before := ingressAddrs(&svc)
	want := ingressFor(out.addrs)
	if !equality.Semantic.DeepEqual(svc.Status.LoadBalancer.Ingress, want) {
		orig := svc.DeepCopy()
		svc.Status.LoadBalancer.Ingress = want
		if err := r.Client.Status().Patch(ctx, &svc, client.MergeFrom(orig)); err != nil {
			return reconcile.Result{}, fmt.Errorf("service %q: write status.loadBalancer: %w", key, err)
		}
	}
	if len(out.addrs) > 0 && !sameAddrs(before, out.addrs) {
		r.Recorder.Eventf(&svc, nil, corev1.EventTypeNormal, ReasonIPAllocated, "Allocate",
			"allocated %s from Eip %s", joinAddrs(out.addrs), strings.Join(out.pools, ","))
		logger.Info("allocated", "ip", joinAddrs(out.addrs), "eip", strings.Join(out.pools, ","))
		r.metrics.allocated()
		for _, v := range out.notServed {
			r.Recorder.Eventf(&svc, nil, corev1.EventTypeWarning, v.reason, "Allocate",
				"%s is allocated, but nothing answers for it: Eip %s", joinAddrs(out.addrs), v.message)
		}
	}
	return reconcile.Result{}, nil
}

// dropLegacyFinalizer removes the finalizer OpenELB and older Herald
// releases put on Services (see the package doc for why Herald puts none):
// left in place, it would hold the Service up at deletion whenever Herald
// is not running.
func (r *ServiceReconciler) dropLegacyFinalizer(ctx context.Context, svc *corev1.Service) error {
	if !controllerutil.ContainsFinalizer(svc, LegacyServiceFinalizer) {
		return nil
	}
	orig := svc.DeepCopy()
	controllerutil.RemoveFinalizer(svc, LegacyServiceFinalizer)
	if err := r.Client.Patch(ctx, svc, client.MergeFromWithOptions(orig, client.MergeFromWithOptimisticLock{})); err != nil && !apierrors.IsNotFound(err) {
		return fmt.Errorf("service %q: remove legacy finalizer %s: %w", serviceKey(svc), LegacyServiceFinalizer, err)
	}
	log.FromContext(ctx).Info("removed legacy finalizer", "service", serviceKey(svc), "finalizer", LegacyServiceFinalizer)
	return nil
}

// releaseService frees the addresses of a Service that is going away or is
// no longer Herald's, clears the status Herald wrote and drops the legacy
// finalizer if it carries it.
func (r *ServiceReconciler) releaseService(ctx context.Context, svc *corev1.Service) error {
	key := serviceKey(svc)
	addrs, pools, err := r.State.release(ctx, key)
	if err != nil {
		return fmt.Errorf("service %q: %w", key, err)
	}
	defer r.afterRelease(pools)
	if len(addrs) > 0 {
		r.metrics.released()
	}
	// The status is Herald's to clear when Herald allocated it: the
	// allocator held it, or the Service still carries the finalizer of
	// OpenELB or an older Herald. Another implementation's status is left
	// alone.
	legacy := controllerutil.ContainsFinalizer(svc, LegacyServiceFinalizer)
	if svc.DeletionTimestamp == nil && len(svc.Status.LoadBalancer.Ingress) > 0 && (len(addrs) > 0 || legacy) {
		orig := svc.DeepCopy()
		svc.Status.LoadBalancer.Ingress = nil
		if err := r.Client.Status().Patch(ctx, svc, client.MergeFrom(orig)); err != nil {
			return fmt.Errorf("service %q: clear status.loadBalancer: %w", key, err)
		}
		if len(addrs) > 0 {
			r.Recorder.Eventf(svc, nil, corev1.EventTypeNormal, ReasonIPReleased, "Release",
				"released %s: the Service is no longer a LoadBalancer of Herald's", joinAddrs(addrs))
		}
	}
	if err := r.dropLegacyFinalizer(ctx, svc); err != nil {
		return err
	}
	if len(addrs) > 0 {
		log.FromContext(ctx).Info("released", "service", key, "ip", joinAddrs(addrs))
	}
	return nil
}

// afterRelease refreshes the pools' status and retries waiting Services,
// since addresses came free.
func (r *ServiceReconciler) afterRelease(pools []string) {
	r.notifyEips(pools)
	if len(pools) == 0 {
		return
	}
	for _, key := range r.State.pendingKeys("") {
		ns, name, _ := strings.Cut(key, "/")
		svc := &corev1.Service{}
		svc.Namespace, svc.Name = ns, name
		r.retry <- event.TypedGenericEvent[*corev1.Service]{Object: svc}
	}
}

func (r *ServiceReconciler) notifyEips(pools []string) {
	for _, name := range pools {
		e := &v1alpha2.Eip{}
		e.Name = name
		r.eipChanged <- event.TypedGenericEvent[*v1alpha2.Eip]{Object: e}
	}
}

// SetupWithManager registers the reconciler; eipChanged is shared with the
// EipReconciler.
func (r *ServiceReconciler) SetupWithManager(mgr ctrl.Manager, eipChanged chan event.TypedGenericEvent[*v1alpha2.Eip]) error {
	r.eipChanged = eipChanged
	r.retry = make(chan event.TypedGenericEvent[*corev1.Service], 1024)
	if r.MaxConcurrentReconciles == 0 {
		r.MaxConcurrentReconciles = 4
	}
	pendingAll := handler.EnqueueRequestsFromMapFunc(func(ctx context.Context, _ client.Object) []reconcile.Request {
		return requestsFor(r.State.pendingKeys(""))
	})
	pendingInNamespace := handler.EnqueueRequestsFromMapFunc(func(ctx context.Context, ns client.Object) []reconcile.Request {
		return requestsFor(r.State.pendingKeys(ns.GetName()))
	})
	return ctrl.NewControllerManagedBy(mgr).
		Named("service").
		For(&corev1.Service{}, builder.WithPredicates(r.relevant())).
		Watches(&v1alpha2.Eip{}, pendingAll).
		Watches(&corev1.Namespace{}, pendingInNamespace, builder.WithPredicates(predicate.LabelChangedPredicate{})).
		WatchesRawSource(source.Channel(r.retry, &handler.TypedEnqueueRequestForObject[*corev1.Service]{})).
		WithOptions(controller.Options{MaxConcurrentReconciles: r.MaxConcurrentReconciles}).
		Complete(r)
}

// relevant drops Service events that cannot change an allocation, above
// all the echo of Herald's own patches (the legacy finalizer's removal),
// which would otherwise make a reconcile race its own status write.
func (r *ServiceReconciler) relevant() predicate.Predicate {
	mine := func(o client.Object) bool {
		svc, ok := o.(*corev1.Service)
		return ok && (isOurs(svc, r.Policy) || controllerutil.ContainsFinalizer(svc, LegacyServiceFinalizer))
	}
	return predicate.Funcs{
		CreateFunc:  func(e event.CreateEvent) bool { return mine(e.Object) },
		DeleteFunc:  func(e event.DeleteEvent) bool { return mine(e.Object) },
		GenericFunc: func(e event.GenericEvent) bool { return true },
		UpdateFunc: func(e event.UpdateEvent) bool {
			oldSvc, ok1 := e.ObjectOld.(*corev1.Service)
			newSvc, ok2 := e.ObjectNew.(*corev1.Service)
			if !ok1 || !ok2 || !(mine(oldSvc) || mine(newSvc)) {
				return false
			}
			return !equality.Semantic.DeepEqual(oldSvc.Spec, newSvc.Spec) ||
				!equality.Semantic.DeepEqual(oldSvc.Annotations, newSvc.Annotations) ||
				!equality.Semantic.DeepEqual(oldSvc.Status.LoadBalancer, newSvc.Status.LoadBalancer) ||
				(oldSvc.DeletionTimestamp == nil) != (newSvc.DeletionTimestamp == nil) ||
				controllerutil.ContainsFinalizer(newSvc, LegacyServiceFinalizer)
		},
	}
}

func requestsFor(keys []string) []reconcile.Request {
	out := make([]reconcile.Request, 0, len(keys))
	for _, k := range keys {
		ns, name, _ := strings.Cut(k, "/")
		out = append(out, reconcile.Request{NamespacedName: types.NamespacedName{Namespace: ns, Name: name}})
	}
	return out
}

func sameAddrs(x, y []netip.Addr) bool {
	if len(x) != len(y) {
		return false
	}
	for _, a := range x {
		if !slices.Contains(y, a) {
			return false
		}
	}
	return true
}

func joinAddrs(addrs []netip.Addr) string {
	parts := make([]string, 0, len(addrs))
	for _, a := range addrs {
		parts = append(parts, a.String())
	}
	return strings.Join(parts, ",")
}
