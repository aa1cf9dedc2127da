package controllers

import (
	"context"
	"fmt"
	"math"
	"net/netip"
	"slices"
	"strings"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/tools/events"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/builder"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller/controllerutil"
	"sigs.k8s.io/controller-runtime/pkg/event"
	"sigs.k8s.io/controller-runtime/pkg/handler"
	"sigs.k8s.io/controller-runtime/pkg/log"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"
	"sigs.k8s.io/controller-runtime/pkg/source"

	"github.com/herald-lb/herald/api/v1alpha2"
	"github.com/herald-lb/herald/internal/iprange"
)

// EipFinalizer holds an Eip back from deletion while Services hold its
// addresses, and only then: an Eip nobody uses carries none, so it can be
// deleted while Herald is not running (see the package doc). It is
// OpenELB's name, so migrated Eips are adopted as they are.
const EipFinalizer = "finalizer.ipam.kubesphere.io/v1alpha1"

// Condition reasons on Eips.
const (
	ReasonAccepted    = "Accepted"
	ReasonInvalid     = "Invalid"
	ReasonTerminating = "Terminating"
)

// DefaultStatusInterval bounds how often one Eip's status is written,
// however many of its addresses change in between; one more interval is
// added per 1,000 addresses in use.
const DefaultStatusInterval = time.Second

// EipReconciler reports pool usage in Eip status and guards deletion.
type EipReconciler struct {
	Client   client.Client
	Recorder events.EventRecorder
	State    *State
	// StatusInterval is the least time between two status writes of one
	// Eip; zero means DefaultStatusInterval.
	StatusInterval time.Duration
	// SpeakerNamespace holds the speakers' Leases, from which layer2 Eips
	// are judged served or not; empty means they are not judged.
	SpeakerNamespace string
	// ServingGrace is how long an Eip must stay unserved, for a reason
	// other objects may still remove, before Ready turns False and its
	// Services are warned; zero means DefaultServingGrace.
	ServingGrace time.Duration
	// UsedForm says which form of status.used to write.
	UsedForm UsedForm
	// Uninstalling says whether Herald's API is being removed (the Eip CRD
	// is being deleted): an Eip being deleted then goes even while
	// Services hold its addresses. Nil means never.
	Uninstalling func(context.Context) (bool, error)

	speakers *speakerView
	// metrics holds the pool gauges; nil records nothing.
	metrics *poolMetrics
	// changed is the channel SetupWithManager makes to enqueue Eips.
	changed chan<- event.TypedGenericEvent[*v1alpha2.Eip]

	mu sync.Mutex
	// lastWrite is when each Eip's status was last computed.
	lastWrite map[string]time.Time
	// kubeProxyReason is the last verdict on kube-proxy's configuration
	// that was logged.
	kubeProxyReason string
	// unserved holds back, by Eip, verdicts not reported yet (holdBack).
	unserved map[string]unservedSince
	// avoided is, by Eip, the held addresses its avoidBuggyIPs would not
	// hand out that were last reported (announceAvoided).
	avoided map[string]string
}

// +kubebuilder:rbac:groups=network.kubesphere.io,resources=eips,verbs=get;list;watch;update;patch
// +kubebuilder:rbac:groups=network.kubesphere.io,resources=eips/status,verbs=get;update;patch
// +kubebuilder:rbac:groups=network.kubesphere.io,resources=eips/finalizers,verbs=update

// Reconcile writes one Eip's status and finalizer.
func (r *EipReconciler) Reconcile(ctx context.Context, req reconcile.Request) (res reconcile.Result, err error) {
	var eip v1alpha2.Eip
	if err := r.Client.Get(ctx, req.NamespacedName, &eip); err != nil {
		if apierrors.IsNotFound(err) {
			r.State.setVerdict(req.Name, servingVerdict{})
			r.holdBack(req.Name, servingVerdict{}, nil, time.Now()) // forgets it
			r.metrics.forget(req.Name)
		}
		return reconcile.Result{}, client.IgnoreNotFound(err)
	}
	if eip.DeletionTimestamp != nil {
		rep, err := r.State.report(ctx, eip.Name)
		if err != nil {
			return reconcile.Result{}, fmt.Errorf("eip %q: %w", eip.Name, err)
		}
		r.metrics.pool(eip.Name, rep)
		return r.finishDeletion(ctx, &eip, rep)
	}
	inUse, err := r.State.inUse(ctx, eip.Name)
	if err != nil {
		return reconcile.Result{}, fmt.Errorf("eip %q: %w", eip.Name, err)
	}
	if finalizerErr := r.syncFinalizer(ctx, &eip, inUse > 0); finalizerErr != nil {
		// Go on: the status must tell the truth about the pool even while
		// the finalizer cannot be written (a webhook that is not Herald's
		// refusing Eip updates, say; status is a subresource it does not
		// gate). The error still fails this reconcile, which retries it
		// with backoff.
		defer func() {
			if err == nil {
				res, err = reconcile.Result{}, finalizerErr
			}
		}()
	}
	// Every allocation asks for a refresh; computing the status walks every
	// address in use, so it runs at most once per interval, and the
	// interval grows with the pool's usage: the status of a pool with
	// 10,000 Services is a 400 KB object, which must not be rewritten every
	// second while Services arrive. A vip Eip with an address in use that
	// its status gives no VRID yet is written at once: the speakers read
	// VRIDs only there, and no node serves the address until they do.
	if wait := r.throttle(eip.Name, inUse, awaitsVRID(&eip, inUse)); wait > 0 {
		return reconcile.Result{RequeueAfter: wait}, nil
	}
	rep, err := r.State.report(ctx, eip.Name)
	if err != nil {
		return reconcile.Result{}, fmt.Errorf("eip %q: %w", eip.Name, err)
	}
	r.metrics.pool(eip.Name, rep)
	verdict, judged, err := r.judgeServing(ctx, &eip)
	if err != nil {
		return reconcile.Result{}, fmt.Errorf("eip %q: %w", eip.Name, err)
	}
	if !judged {
		// The speakers' view is still loading; judging now would report
		// no speaker at all.
		r.forget(eip.Name)
		return reconcile.Result{RequeueAfter: 100 * time.Millisecond}, nil
	}
	if wait := r.holdBack(eip.Name, verdict, meta.FindStatusCondition(eip.Status.Conditions, v1alpha2.ConditionReady), time.Now()); wait > 0 {
		// Not served, maybe only until objects applied together or
		// starting speakers arrive: judge again after the grace.
		r.forget(eip.Name)
		return reconcile.Result{RequeueAfter: wait}, nil
	}
	r.State.setVerdict(eip.Name, verdict)
	st := statusFor(&eip, rep, r.UsedForm)
	applyServing(&st, verdict, eip.Generation)
	if r.speakers != nil {
		applyVIPConfigs(&eip, &st, r.speakers.vipRefusedBy(eip.Name, time.Now()))
	}
	r.applyVRIDs(ctx, &eip, &st, rep)
	warn, err := r.kubeProxyStatus(ctx, &eip, &st)
	if err != nil {
		return reconcile.Result{}, fmt.Errorf("eip %q: %w", eip.Name, err)
	}
	prev := r.previousForVRIDs(&eip, rep)
	prevReady := meta.FindStatusCondition(eip.Status.Conditions, v1alpha2.ConditionReady).DeepCopy()
	res, err = r.writeStatus(ctx, &eip, st)
	if err != nil {
		return res, err
	}
	if warn != nil {
		r.Recorder.Eventf(&eip, nil, corev1.EventTypeWarning, warn.Reason, "CheckKubeProxy", "%s", warn.Message)
	}
	r.announceServing(ctx, &eip, prevReady, &st, rep)
	r.announceAvoided(ctx, &eip, rep)
	r.announceVRIDs(ctx, &eip, prev, &st, rep)
	return res, nil
}

// forget lets the next reconcile of an Eip compute its status at once.
func (r *EipReconciler) forget(name string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	delete(r.lastWrite, name)
}

// syncFinalizer puts the finalizer on an Eip when a Service holds one of
// its addresses and takes it off when none does: one write each time the
// pool turns from empty to used or back, never one per Service. It runs
// before the status throttle, so the finalizer follows the first
// allocation within one reconcile.
func (r *EipReconciler) syncFinalizer(ctx context.Context, eip *v1alpha2.Eip, inUse bool) error {
	if controllerutil.ContainsFinalizer(eip, EipFinalizer) == inUse {
		return nil
	}
	orig := eip.DeepCopy()
	verb := "add"
	if inUse {
		controllerutil.AddFinalizer(eip, EipFinalizer)
	} else {
		verb = "remove"
		controllerutil.RemoveFinalizer(eip, EipFinalizer)
	}
	if err := r.Client.Patch(ctx, eip, client.MergeFromWithOptions(orig, client.MergeFromWithOptimisticLock{})); err != nil {
		*eip = *orig
		return fmt.Errorf("eip %q: %s finalizer: %w", eip.Name, verb, err)
	}
	return nil
}

// throttle returns how long to wait before this Eip's status may be
// computed again, or 0 after recording that it is computed now.
func (r *EipReconciler) throttle(name string, inUse uint64, urgent bool) time.Duration {
	interval := r.StatusInterval
	if interval == 0 {
		interval = DefaultStatusInterval
	}
	interval += interval * time.Duration(inUse/1000)
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.lastWrite == nil {
		r.lastWrite = map[string]time.Time{}
	}
	if wait := interval - time.Since(r.lastWrite[name]); wait > 0 && !urgent {
		return wait
	}
	r.lastWrite[name] = time.Now()
	return 0
}

// finishDeletion lets an Eip go once no Service holds one of its
// addresses, and says in its status what it is waiting for until then.
func (r *EipReconciler) finishDeletion(ctx context.Context, eip *v1alpha2.Eip, rep poolReport) (reconcile.Result, error) {
	if !controllerutil.ContainsFinalizer(eip, EipFinalizer) {
		return reconcile.Result{}, nil
	}
	uninstall := len(rep.used) > 0 && r.uninstalling(ctx)
	if uninstall {
		holders := holdersOf(rep.used)
		log.FromContext(ctx).Info("eip released although Services hold its addresses: the Eip CRD is being deleted (uninstall)",
			"eip", eip.Name, "services", summarizeKeys(holders))
		r.Recorder.Eventf(eip, nil, corev1.EventTypeWarning, ReasonUninstalled, "Delete",
			"Herald's Eip CRD is being deleted: released although %d Service(s) hold its addresses: %s", len(holders), summarizeKeys(holders))
	} else if len(rep.used) > 0 {
		st := statusFor(eip, rep, r.UsedForm)
		holders := holdersOf(rep.used)
		meta.SetStatusCondition(&st.Conditions, metav1.Condition{
			Type: v1alpha2.ConditionReady, Status: metav1.ConditionFalse, Reason: ReasonTerminating,
			ObservedGeneration: eip.Generation,
			Message: fmt.Sprintf("deletion waits until %d Service(s) release their addresses: %s; it hands out no new addresses meanwhile",
				len(holders), summarizeKeys(holders)),
		})
		// Its addresses are still served, so they keep their VRIDs.
		r.applyVRIDs(ctx, eip, &st, rep)
		prev := r.previousForVRIDs(eip, rep)
		res, err := r.writeStatus(ctx, eip, st)
		if err == nil {
			r.announceVRIDs(ctx, eip, prev, &st, rep)
		}
		return res, err
	}
	orig := eip.DeepCopy()
	controllerutil.RemoveFinalizer(eip, EipFinalizer)
	if err := r.Client.Patch(ctx, eip, client.MergeFromWithOptions(orig, client.MergeFromWithOptimisticLock{})); err != nil && !apierrors.IsNotFound(err) {
		return reconcile.Result{}, fmt.Errorf("eip %q: remove finalizer: %w", eip.Name, err)
	}
	if !uninstall {
		log.FromContext(ctx).Info("eip deleted: no Service holds its addresses", "eip", eip.Name)
	}
	return reconcile.Result{}, nil
}

// uninstalling asks Uninstalling; an error counts as no (the Eip keeps
// waiting for its Services) and is logged.
func (r *EipReconciler) uninstalling(ctx context.Context) bool {
	if r.Uninstalling == nil {
		return false
	}
	yes, err := r.Uninstalling(ctx)
	if err != nil {
		log.FromContext(ctx).Error(err, "cannot tell whether Herald is being uninstalled; the Eip keeps waiting for its Services")
		return false
	}
	return yes
}

// writeStatus writes st unless it is what the Eip already says.
func (r *EipReconciler) writeStatus(ctx context.Context, eip *v1alpha2.Eip, st v1alpha2.EipStatus) (reconcile.Result, error) {
	if equality.Semantic.DeepEqual(eip.Status, st) {
		return reconcile.Result{}, nil
	}
	orig := eip.DeepCopy()
	eip.Status = st
	if err := r.Client.Status().Patch(ctx, eip, client.MergeFrom(orig)); err != nil {
		return reconcile.Result{}, fmt.Errorf("eip %q: write status: %w", eip.Name, err)
	}
	return reconcile.Result{}, nil
}

// statusFor computes an Eip's status from the allocator's report, with
// the addresses in use in the form f.
func statusFor(eip *v1alpha2.Eip, rep poolReport, f UsedForm) v1alpha2.EipStatus {
	st := v1alpha2.EipStatus{Conditions: slices.Clone(eip.Status.Conditions)}
	var first netip.Addr
	if r, err := iprange.Parse(eip.Spec.Address); err == nil {
		first = r.First()
		st.FirstIP, st.LastIP, st.V4 = first.String(), r.Last().String(), r.Is4()
	}
	cond := metav1.Condition{Type: v1alpha2.ConditionReady, ObservedGeneration: eip.Generation}
	if !rep.valid {
		cond.Status, cond.Reason, cond.Message = metav1.ConditionFalse, ReasonInvalid, rep.problem
		meta.SetStatusCondition(&st.Conditions, cond)
		return st
	}
	st.Ready = true
	st.PoolSize = saturatingInt(rep.size)
	st.Usage = len(rep.used)
	st.Occupied = rep.full
	f.fill(&st, &eip.Status, rep.used, first)
	cond.Status, cond.Reason = metav1.ConditionTrue, ReasonAccepted
	cond.Message = fmt.Sprintf("%d of %d addresses in use", st.Usage-len(rep.unusable), rep.size)
	if n := len(rep.unusable); n > 0 {
		cond.Message += fmt.Sprintf(", and %d ending in .0 or .255 kept from before spec.avoidBuggyIPs was set", n)
	}
	if eip.Spec.Disable {
		cond.Message += "; disabled: hands out no new addresses"
	}
	meta.SetStatusCondition(&st.Conditions, cond)
	return st
}

func holdersOf(used map[netip.Addr][]string) []string {
	var keys []string
	for _, ks := range used {
		keys = append(keys, ks...)
	}
	slices.Sort(keys)
	return slices.Compact(keys)
}

func summarizeKeys(keys []string) string {
	const max = 5
	if len(keys) <= max {
		return strings.Join(keys, ", ")
	}
	return fmt.Sprintf("%s and %d more", strings.Join(keys[:max], ", "), len(keys)-max)
}

func saturatingInt(n uint64) int {
	if n > math.MaxInt {
		return math.MaxInt
	}
	return int(n)
}

// SetupWithManager registers the reconciler and returns the channel the
// ServiceReconciler uses to ask for a status refresh. It also watches
// kube-proxy's ConfigMap (CacheOptions keep that informer to the one
// object), so that fixing strictARP clears the layer2 and vip Eips' condition
// promptly.
func (r *EipReconciler) SetupWithManager(mgr ctrl.Manager) (chan event.TypedGenericEvent[*v1alpha2.Eip], error) {
	changed := make(chan event.TypedGenericEvent[*v1alpha2.Eip], 1024)
	r.changed = changed
	if r.SpeakerNamespace != "" {
		r.speakers = newSpeakerView(mgr.GetCache(), mgr.GetClient(), r.SpeakerNamespace, changed)
		if err := mgr.Add(r.speakers); err != nil {
			return nil, fmt.Errorf("add speaker lease view: %w", err)
		}
	}
	b := ctrl.NewControllerManagedBy(mgr).
		Named("eip").
		For(&v1alpha2.Eip{}).
		Watches(&corev1.ConfigMap{}, handler.EnqueueRequestsFromMapFunc(r.arpEips), builder.WithPredicates(isKubeProxyConfig)).
		WatchesRawSource(source.Channel(changed, &handler.TypedEnqueueRequestForObject[*v1alpha2.Eip]{}))
	err := r.watchServingInputs(b).Complete(r)
	return changed, err
}
