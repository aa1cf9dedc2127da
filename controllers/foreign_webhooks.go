package controllers

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"sync"

	admissionregistrationv1 "k8s.io/api/admissionregistration/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/client-go/tools/events"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/builder"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/log"
	"sigs.k8s.io/controller-runtime/pkg/predicate"

	"github.com/herald-lb/herald/api/v1alpha2"
)

// +kubebuilder:rbac:groups=admissionregistration.k8s.io,resources=validatingwebhookconfigurations;mutatingwebhookconfigurations,verbs=get;list;watch

// ReasonForeignWebhook is the reason of the Warning event on a webhook
// configuration that is not Herald's but intercepts writes of Eips,
// BgpConfs or BgpPeers.
const ReasonForeignWebhook = "ForeignWebhook"

// heraldResources are the resources of Herald's API group a foreign
// webhook could block.
var heraldResources = []string{"eips", "bgpconfs", "bgppeers"}

// ForeignWebhookReconciler reports webhook configurations that are not
// Herald's and intercept creates or updates of its resources. The usual
// one is OpenELB's openelb-admission, left behind when OpenELB is replaced
// in place: with failurePolicy Fail and OpenELB's controller gone, every
// Eip write fails, users' and Herald's own alike (the finalizer that
// guards a pool in use is written by an update). Herald never deletes an
// object it does not own, so it says what blocks and how to remove it: an
// Info log line and a Warning event on the configuration, once per
// generation of it.
type ForeignWebhookReconciler struct {
	Client   client.Client
	Recorder events.EventRecorder
	// Own are the names of Herald's configurations, which are skipped.
	Own []string
	// Kind is the configuration kind this reconciler watches:
	// "ValidatingWebhookConfiguration" or "MutatingWebhookConfiguration".
	Kind string

	mu       sync.Mutex
	reported map[string]int64 // name -> generation reported
}

// Reconcile checks one configuration.
func (r *ForeignWebhookReconciler) Reconcile(ctx context.Context, req ctrl.Request) (ctrl.Result, error) {
	if slices.Contains(r.Own, req.Name) {
		return ctrl.Result{}, nil
	}
	obj, hooks := r.newObject()
	if err := r.Client.Get(ctx, req.NamespacedName, obj); apierrors.IsNotFound(err) {
		r.forget(req.Name)
		return ctrl.Result{}, nil
	} else if err != nil {
		return ctrl.Result{}, fmt.Errorf("%s %q: %w", r.Kind, req.Name, err)
	}
	gating := hooks()
	if len(gating) == 0 {
		r.forget(req.Name)
		return ctrl.Result{}, nil
	}
	if !r.firstReport(req.Name, obj.GetGeneration()) {
		return ctrl.Result{}, nil
	}
	blocking := slices.ContainsFunc(gating, func(g gatingWebhook) bool { return g.fails })
	resource := "validatingwebhookconfiguration"
	if r.Kind == "MutatingWebhookConfiguration" {
		resource = "mutatingwebhookconfiguration"
	}
	names := make([]string, len(gating))
	for i, g := range gating {
		names[i] = fmt.Sprintf("%s (%s)", g.name, g.resources)
	}
	note := fmt.Sprintf("%s %q is not Herald's but intercepts writes of %s: %s. "+
		"If it belongs to a removed OpenELB, delete it (kubectl delete %s %s)",
		r.Kind, req.Name, v1alpha2.GroupVersion.Group, strings.Join(names, ", "), resource, req.Name)
	if blocking {
		note += "; while its server is gone, failurePolicy Fail refuses every such write, Herald's own included"
	}
	log.FromContext(ctx).Info("a webhook configuration that is not Herald's intercepts its resources",
		"kind", r.Kind, "name", req.Name, "webhooks", names, "failurePolicyFail", blocking)
	r.Recorder.Eventf(obj, nil, corev1.EventTypeWarning, ReasonForeignWebhook, "CheckWebhooks", "%s", note)
	return ctrl.Result{}, nil
}

// gatingWebhook is one webhook of a foreign configuration that intercepts
// Herald's resources.
type gatingWebhook struct {
	name, resources string
	fails           bool
}

// newObject returns an empty configuration of r.Kind and a function that,
// once it is filled, lists its webhooks that gate Herald's resources.
func (r *ForeignWebhookReconciler) newObject() (client.Object, func() []gatingWebhook) {
	if r.Kind == "MutatingWebhookConfiguration" {
		m := &admissionregistrationv1.MutatingWebhookConfiguration{}
		return m, func() []gatingWebhook {
			var out []gatingWebhook
			for _, w := range m.Webhooks {
				if res := gatedResources(w.Rules); res != "" {
					out = append(out, gatingWebhook{w.Name, res, failsClosed(w.FailurePolicy)})
				}
			}
			return out
		}
	}
	v := &admissionregistrationv1.ValidatingWebhookConfiguration{}
	return v, func() []gatingWebhook {
		var out []gatingWebhook
		for _, w := range v.Webhooks {
			if res := gatedResources(w.Rules); res != "" {
				out = append(out, gatingWebhook{w.Name, res, failsClosed(w.FailurePolicy)})
			}
		}
		return out
	}
}

// failsClosed: an unset failurePolicy is Fail in admissionregistration/v1.
func failsClosed(p *admissionregistrationv1.FailurePolicyType) bool {
	return p == nil || *p == admissionregistrationv1.Fail
}

// gatedResources names the Herald resources the rules intercept on create
// or update ("eips, bgppeers"), or "" when they intercept none.
func gatedResources(rules []admissionregistrationv1.RuleWithOperations) string {
	var hit []string
	for _, rule := range rules {
		if !matches(rule.APIGroups, v1alpha2.GroupVersion.Group) {
			continue
		}
		if !slices.ContainsFunc(rule.Operations, func(op admissionregistrationv1.OperationType) bool {
			return op == admissionregistrationv1.Create || op == admissionregistrationv1.Update ||
				op == admissionregistrationv1.OperationAll
		}) {
			continue
		}
		for _, res := range heraldResources {
			if matches(rule.Resources, res) && !slices.Contains(hit, res) {
				hit = append(hit, res)
			}
		}
	}
	return strings.Join(hit, ", ")
}

// matches: a rule's list names v or holds the wildcard.
func matches(list []string, v string) bool {
	return slices.Contains(list, v) || slices.Contains(list, "*")
}

func (r *ForeignWebhookReconciler) firstReport(name string, generation int64) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.reported == nil {
		r.reported = map[string]int64{}
	}
	if g, ok := r.reported[name]; ok && g == generation {
		return false
	}
	r.reported[name] = generation
	return true
}

func (r *ForeignWebhookReconciler) forget(name string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	delete(r.reported, name)
}

// SetupWithManager watches configurations of r.Kind; only their creation
// and changes of their spec (generation) matter.
func (r *ForeignWebhookReconciler) SetupWithManager(mgr ctrl.Manager) error {
	obj, _ := r.newObject()
	return ctrl.NewControllerManagedBy(mgr).
		Named("foreign-"+strings.ToLower(r.Kind)).
		For(obj, builder.WithPredicates(predicate.GenerationChangedPredicate{})).
		Complete(r)
}
