package controllers

import (
	"context"
	"fmt"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/log"
	"sigs.k8s.io/controller-runtime/pkg/predicate"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	"github.com/herald-lb/herald/api/v1alpha2"
)

// kube-proxy's ConfigMap is the only one the controller reads; CacheOptions
// keep its informer to that one object.
// +kubebuilder:rbac:groups="",namespace=kube-system,resources=configmaps,verbs=get;list;watch

// kubeProxyStatus sets the KubeProxyCompatible condition in st when the Eip
// is a layer2 or vip one (for both, one node must be the only one that
// answers ARP for an address: the one Herald chooses, or the VRRP master)
// and removes it otherwise (its protocol may have changed).
// It returns the condition when it has just become False, which the caller
// turns into a Warning event once the status is written: one event per
// transition, not one per reconcile.
func (r *EipReconciler) kubeProxyStatus(ctx context.Context, eip *v1alpha2.Eip, st *v1alpha2.EipStatus) (*metav1.Condition, error) {
	if !answersARP(eip.Spec.Protocol) {
		meta.RemoveStatusCondition(&st.Conditions, v1alpha2.ConditionKubeProxyCompatible)
		return nil, nil
	}
	var cm corev1.ConfigMap
	found := &cm
	err := r.Client.Get(ctx, client.ObjectKey{Namespace: KubeProxyNamespace, Name: KubeProxyConfigMap}, &cm)
	switch {
	case apierrors.IsNotFound(err):
		found = nil
	case err != nil:
		return nil, fmt.Errorf("read kube-proxy's configuration: %w", err)
	}
	v := judgeKubeProxy(found)
	r.logKubeProxy(ctx, v)

	cond := kubeProxyCondition(v, st.FirstIP != "" && !st.V4, eip.Generation)
	prev := meta.FindStatusCondition(eip.Status.Conditions, v1alpha2.ConditionKubeProxyCompatible)
	meta.SetStatusCondition(&st.Conditions, cond)
	if cond.Status == metav1.ConditionFalse && (prev == nil || prev.Status != metav1.ConditionFalse) {
		return &cond, nil
	}
	return nil, nil
}

// logKubeProxy writes one line each time the verdict on kube-proxy's
// configuration changes, however many layer2 and vip Eips it touches.
func (r *EipReconciler) logKubeProxy(ctx context.Context, v kubeProxyVerdict) {
	r.mu.Lock()
	changed := r.kubeProxyReason != v.reason
	r.kubeProxyReason = v.reason
	r.mu.Unlock()
	if !changed {
		return
	}
	l := log.FromContext(ctx).WithValues("configMap", KubeProxyNamespace+"/"+KubeProxyConfigMap)
	switch v.reason {
	case ReasonStrictARPDisabled:
		l.Error(errStrictARPDisabled, "every node answers ARP for the IPv4 addresses of layer2 and vip Eips, not only the one holding them", "fix", StrictARPFix)
	case ReasonKubeProxyConfigUnreadable:
		l.Error(v.err, "cannot read kube-proxy's configuration; if it runs in IPVS mode without strictARP, layer2 and vip Eips are defeated", "fix", StrictARPFix)
	case ReasonNoKubeProxyConfig:
		l.V(1).Info("no kube-proxy configuration to check: nothing to report for layer2 and vip Eips")
	default:
		l.Info("kube-proxy leaves ARP for layer2 and vip Eips to the node holding the address", "mode", v.mode, "reason", v.reason)
	}
}

// isKubeProxyConfig lets through events of kube-proxy's ConfigMap only,
// should a manager's cache hold others.
var isKubeProxyConfig = predicate.NewPredicateFuncs(func(o client.Object) bool {
	return o.GetNamespace() == KubeProxyNamespace && o.GetName() == KubeProxyConfigMap
})

// arpEips maps a change of kube-proxy's configuration to every layer2
// and vip Eip, whose KubeProxyCompatible condition depends on it.
func (r *EipReconciler) arpEips(ctx context.Context, _ client.Object) []reconcile.Request {
	var list v1alpha2.EipList
	if err := r.Client.List(ctx, &list); err != nil {
		log.FromContext(ctx).Error(err, "list eips after a change of kube-proxy's configuration")
		return nil
	}
	var reqs []reconcile.Request
	for i := range list.Items {
		if e := &list.Items[i]; answersARP(e.Spec.Protocol) {
			reqs = append(reqs, reconcile.Request{NamespacedName: client.ObjectKeyFromObject(e)})
		}
	}
	return reqs
}

// answersARP reports whether a protocol's addresses are announced by one
// node answering ARP/NDP for them, which kube-proxy's IPVS mode without
// strictARP defeats: layer2 (Herald's responder) and vip (keepalived).
func answersARP(protocol string) bool {
	return protocol == v1alpha2.ProtocolLayer2 || protocol == v1alpha2.ProtocolVIP
}
