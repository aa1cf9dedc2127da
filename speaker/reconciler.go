package speaker

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"slices"
	"sync/atomic"
	"time"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	"k8s.io/apimachinery/pkg/types"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/builder"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/event"
	"sigs.k8s.io/controller-runtime/pkg/handler"
	"sigs.k8s.io/controller-runtime/pkg/log"
	"sigs.k8s.io/controller-runtime/pkg/manager"
	"sigs.k8s.io/controller-runtime/pkg/predicate"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"
	"sigs.k8s.io/controller-runtime/pkg/source"

	"github.com/herald-lb/herald/api/v1alpha2"
)

// Mode announces the addresses of one protocol on this node.
type Mode interface {
	// Apply makes the node announce what d says, using whatever else the
	// snapshot holds (peers, interfaces). It is idempotent.
	Apply(ctx context.Context, snap Snapshot, d Desired) error
	// Shutdown stops announcing before the process exits, the way the mode
	// does it best (withdraw, or leave it to graceful restart).
	Shutdown(ctx context.Context) error
}

// Reconciler recomputes the node's announcements whenever anything they
// depend on changes. Every event maps to the one request "all": the queue
// coalesces bursts, and each run sees one consistent snapshot.
type Reconciler struct {
	Reader client.Reader
	// Services, when set, lists the Services in place of Reader (see
	// ServiceLister).
	Services ServiceLister
	// Node is this node's name.
	Node string
	// Class is the spec.loadBalancerClass Herald answers to.
	Class string
	// Modes by protocol name (bgp, layer2, vip).
	Modes map[string]Mode
	// Metrics, when set, records what is announced.
	Metrics *Metrics
	// Triggers wake the reconciler for changes outside the API objects it
	// watches: the Layer2 membership view, interface carrier, conflicts.
	Triggers []<-chan struct{}
	// IgnoreExcludeLabel makes node.kubernetes.io/exclude-from-external-load-balancers
	// count for nothing, so that such nodes announce as any other
	// (herald-speaker --ignore-exclude-lb, MetalLB's flag of that name).
	// kubeadm puts the label on control-plane nodes: a cluster whose
	// nodes are all control planes would otherwise announce nothing.
	IgnoreExcludeLabel bool
	// Resync reruns the reconcile this long after the last one even when
	// nothing it watches changed: the one input it does not watch, the
	// Secrets holding peer passwords, is re-read then. 0 disables it.
	Resync time.Duration

	// ready is what the last reconcile made of the modes; nil until one
	// applied a snapshot. See Ready.
	ready atomic.Pointer[readiness]
	// ineligibleLogged is the set of Eips this node may not announce, as
	// last logged (logIneligible); only Reconcile touches it, and the
	// controller runs one Reconcile at a time.
	ineligibleLogged string
}

var all = reconcile.Request{NamespacedName: types.NamespacedName{Name: "all"}}

// What the snapshot reads, through the manager's cache (list and watch,
// cluster-wide). Namespaces are not among them: which Eip a Service draws
// from is the controller's decision, already written into its status.
// +kubebuilder:rbac:groups="",resources=services;nodes,verbs=get;list;watch
// +kubebuilder:rbac:groups=discovery.k8s.io,resources=endpointslices,verbs=get;list;watch
// +kubebuilder:rbac:groups=network.kubesphere.io,resources=eips;bgpconfs;bgppeers,verbs=get;list;watch

// Reconcile gathers a snapshot, computes this node's announcements and
// applies them through every mode.
func (r *Reconciler) Reconcile(ctx context.Context, _ reconcile.Request) (reconcile.Result, error) {
	logger := log.FromContext(ctx).WithValues("node", r.Node)
	snap, err := gather(ctx, r.Reader, r.Services, r.Node, r.Class)
	if err != nil {
		r.Metrics.reconcileError()
		return reconcile.Result{}, fmt.Errorf("node %q: %w", r.Node, err)
	}
	d := Compute(r.Node, snap.Pools, snap.Services, snap.ServiceCIDRs)
	d.RestrictToNode(r.selectionNode(snap.Node), snap.Pools)
	r.logIneligible(logger, d.Ineligible)
	for a, why := range d.Skipped {
		logger.V(1).Info("not announced", "ip", a.String(), "reason", why)
	}
	if _, ok := r.Modes[v1alpha2.ProtocolVIP]; !ok {
		// Compute leaves vip addresses to the VIP mode; without one they
		// are served by nobody, and the debug output says so.
		for _, c := range d.VIP {
			logger.V(1).Info("not announced", "ip", c.Addr.String(), "reason", "protocol vip is not served by this speaker")
		}
	}
	err = r.applyModes(ctx, logger, snap, d)
	r.Metrics.announced(v1alpha2.ProtocolBGP, d.BGP)
	if err != nil {
		r.Metrics.reconcileError()
		return reconcile.Result{}, fmt.Errorf("node %q: %w", r.Node, err)
	}
	return reconcile.Result{RequeueAfter: r.Resync}, nil
}

// SetupWithManager watches everything the snapshot reads. Status-only
// changes of Herald's own objects (Eip usage, BgpPeer session status, which
// the speakers write themselves) do not wake it, except the VRIDs in an
// Eip's status, which VIP mode renders.
func (r *Reconciler) SetupWithManager(mgr ctrl.Manager) error {
	toAll := handler.EnqueueRequestsFromMapFunc(func(context.Context, client.Object) []reconcile.Request {
		return []reconcile.Request{all}
	})
	thisNode := predicate.NewPredicateFuncs(func(o client.Object) bool { return o.GetName() == r.Node })
	triggered := make(chan event.GenericEvent)
	if err := mgr.Add(manager.RunnableFunc(func(ctx context.Context) error {
		forwardTriggers(ctx, r.Triggers, triggered)
		return nil
	})); err != nil {
		return fmt.Errorf("add trigger forwarder: %w", err)
	}
	return ctrl.NewControllerManagedBy(mgr).
		WatchesRawSource(source.Channel(triggered, toAll)).
		Named("speaker").
		Watches(&corev1.Service{}, toAll).
		Watches(&discoveryv1.EndpointSlice{}, toAll).
		Watches(&corev1.Node{}, toAll, builder.WithPredicates(thisNode)).
		Watches(&v1alpha2.Eip{}, toAll, builder.WithPredicates(eipChanged)).
		Watches(&v1alpha2.BgpConf{}, toAll, builder.WithPredicates(predicate.GenerationChangedPredicate{})).
		// Labels too: bgpAdvertisements' peerSelector matches them.
		Watches(&v1alpha2.BgpPeer{}, toAll, builder.WithPredicates(predicate.Or[client.Object](predicate.GenerationChangedPredicate{}, predicate.LabelChangedPredicate{}))).
		Complete(r)
}

// forwardTriggers turns a poke on any trigger into an event for the
// controller, until ctx ends.
func forwardTriggers(ctx context.Context, triggers []<-chan struct{}, out chan<- event.GenericEvent) {
	cases := []reflect.SelectCase{{Dir: reflect.SelectRecv, Chan: reflect.ValueOf(ctx.Done())}}
	for _, t := range triggers {
		cases = append(cases, reflect.SelectCase{Dir: reflect.SelectRecv, Chan: reflect.ValueOf(t)})
	}
	poke := event.GenericEvent{Object: &corev1.Node{}} // any object: it maps to "all"
	for {
		chosen, _, ok := reflect.Select(cases)
		if chosen == 0 {
			return
		}
		if !ok {
			cases[chosen].Chan = reflect.ValueOf((<-chan struct{})(nil)) // closed: never again
			continue
		}
		select {
		case out <- poke:
		case <-ctx.Done():
			return
		}
	}
}

// Shutdown stops every mode; errors are joined so each mode gets its turn.
func (r *Reconciler) Shutdown(ctx context.Context) error {
	var errs []error
	for _, name := range sortedKeys(r.Modes) {
		if err := r.Modes[name].Shutdown(ctx); err != nil {
			errs = append(errs, fmt.Errorf("%s mode: %w", name, err))
		}
	}
	return errors.Join(errs...)
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}
