package speaker

import (
	"context"
	"fmt"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

// Reading its own pod, its DaemonSet and its namespace at SIGTERM tells
// the speaker an uninstall from a rollout (UninstallCheck).
// +kubebuilder:rbac:groups="",namespace=herald-system,resources=pods,verbs=get
// +kubebuilder:rbac:groups=apps,namespace=herald-system,resources=daemonsets,verbs=get
// +kubebuilder:rbac:groups="",resources=namespaces,verbs=get

// DefaultUninstallCheckTimeout bounds UninstallCheck's reads at SIGTERM:
// the shutdown budget is shared with withdrawing and handing over.
const DefaultUninstallCheckTimeout = 2 * time.Second

// UninstallCheck tells, when the speaker is stopped, whether Herald is
// being uninstalled or only the speaker replaced. It matters for BGP with
// graceful restart: on a rollout the speaker drops its sessions without a
// NOTIFICATION so that the routers keep its routes until the new speaker
// is back (no route event at all); on an uninstall nobody comes back, and
// keeping the routes would black-hole the addresses for the whole restart
// time, so the speaker withdraws them instead.
//
// Herald is leaving when the speaker's namespace is being deleted
// (`kubectl delete -f deploy/herald.yaml`) or the DaemonSet that owns the
// speaker's pod is gone or being deleted (`helm uninstall`). A rollout
// deletes the pod and keeps both. It is leaving too when the API server
// refuses the speaker's reads as Forbidden or Unauthorized: both `kubectl
// delete -f` and `helm uninstall` delete the speaker's RBAC objects and
// ServiceAccount while its pod still runs, often before the pod gets
// SIGTERM, and no rollout ever takes them away. When the answer cannot be
// read in time
// (the API server unreachable, no pod name), the check says "not leaving":
// a lost graceful restart would cost a route flap on every rollout, while a
// missed uninstall costs at most the restart time.
type UninstallCheck struct {
	// Reader must read the API server directly (the manager's API reader):
	// the check runs after the manager and its caches have stopped.
	Reader client.Reader
	// PodName and Namespace are the speaker's own pod ($POD_NAME,
	// $POD_NAMESPACE); an empty PodName makes the check answer "not
	// leaving" (the speaker runs outside a pod).
	PodName, Namespace string
	// Timeout bounds the reads; zero means DefaultUninstallCheckTimeout.
	Timeout time.Duration
}

// Leaving reports whether Herald is being uninstalled, and why (or why it
// could not tell), for the log line that goes with the decision.
func (u UninstallCheck) Leaving(ctx context.Context) (bool, string) {
	if u.PodName == "" || u.Namespace == "" {
		return false, "no pod name or namespace to check"
	}
	timeout := u.Timeout
	if timeout == 0 {
		timeout = DefaultUninstallCheckTimeout
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()

	var ns corev1.Namespace
	if err := u.Reader.Get(ctx, client.ObjectKey{Name: u.Namespace}, &ns); err != nil {
		return lostAccess(err), fmt.Sprintf("namespace %q: %v%s", u.Namespace, err, lostAccessWhy(err))
	}
	if ns.DeletionTimestamp != nil {
		return true, fmt.Sprintf("namespace %q is being deleted", u.Namespace)
	}
	var pod corev1.Pod
	if err := u.Reader.Get(ctx, client.ObjectKey{Namespace: u.Namespace, Name: u.PodName}, &pod); err != nil {
		return lostAccess(err), fmt.Sprintf("pod %s/%s: %v%s", u.Namespace, u.PodName, err, lostAccessWhy(err))
	}
	owner := daemonSetOwner(&pod)
	if owner == "" {
		return false, fmt.Sprintf("pod %s/%s has no DaemonSet owner", u.Namespace, u.PodName)
	}
	// Metadata only: the speaker's scheme leaves out apps/v1 (memory on
	// every node), and existence and deletion are all that matter.
	ds := &metav1.PartialObjectMetadata{}
	ds.SetGroupVersionKind(appsv1.SchemeGroupVersion.WithKind("DaemonSet"))
	err := u.Reader.Get(ctx, client.ObjectKey{Namespace: u.Namespace, Name: owner}, ds)
	switch {
	case apierrors.IsNotFound(err):
		return true, fmt.Sprintf("daemonset %s/%s is gone", u.Namespace, owner)
	case err != nil:
		return lostAccess(err), fmt.Sprintf("daemonset %s/%s: %v%s", u.Namespace, owner, err, lostAccessWhy(err))
	case ds.DeletionTimestamp != nil:
		return true, fmt.Sprintf("daemonset %s/%s is being deleted", u.Namespace, owner)
	}
	return false, fmt.Sprintf("daemonset %s/%s stays: a restart or rollout", u.Namespace, owner)
}

// daemonSetOwner is the name of the DaemonSet controlling the pod, or "".
func daemonSetOwner(pod *corev1.Pod) string {
	for _, ref := range pod.OwnerReferences {
		if ref.Kind == "DaemonSet" && ref.Controller != nil && *ref.Controller {
			return ref.Name
		}
	}
	return ""
}

// lostAccess reports whether err says the speaker's own identity or
// permissions are gone: an uninstall deleting its RBAC objects or its
// ServiceAccount.
func lostAccess(err error) bool { return apierrors.IsForbidden(err) || apierrors.IsUnauthorized(err) }

// lostAccessWhy explains the decision lostAccess leads to, for the log.
func lostAccessWhy(err error) string {
	if lostAccess(err) {
		return ": the speaker's RBAC or ServiceAccount is gone, which only an uninstall does"
	}
	return ""
}
