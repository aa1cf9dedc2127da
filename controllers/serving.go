package controllers

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/builder"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/event"
	"sigs.k8s.io/controller-runtime/pkg/handler"
	"sigs.k8s.io/controller-runtime/pkg/log"
	"sigs.k8s.io/controller-runtime/pkg/predicate"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	"github.com/herald-lb/herald/api/v1alpha2"
	"github.com/herald-lb/herald/internal/eippool"
)

// Reasons of a False Ready condition on an Eip whose addresses Herald
// hands out while it knows nothing delivers traffic for them. Each comes
// with the fix in the condition's message.
const (
	// ReasonNoBgpConf: a bgp Eip, and no BgpConf named "default".
	ReasonNoBgpConf = "NoBgpConf"
	// ReasonNoBgpPeer: a bgp Eip, and no BgpPeer to announce to.
	ReasonNoBgpPeer = "NoBgpPeer"
	// ReasonNoLayer2Speakers: a layer2 Eip, and no speaker Lease at all.
	ReasonNoLayer2Speakers = "NoLayer2Speakers"
	// ReasonNoLiveLayer2Speaker: a layer2 Eip, and no speaker Lease live.
	ReasonNoLiveLayer2Speaker = "NoLiveLayer2Speaker"
	// ReasonNoVIPSpeakers: a vip Eip, and no speaker Lease at all.
	ReasonNoVIPSpeakers = "NoVIPSpeakers"
	// ReasonNoLiveVIPSpeaker: a vip Eip, and no speaker Lease live.
	ReasonNoLiveVIPSpeaker = "NoLiveVIPSpeaker"
	// ReasonInterfaceUnavailable: a layer2 or vip Eip that every live
	// speaker reports it cannot serve (interface missing or without
	// carrier, or the node's labels leave it out: spec.nodeSelector, the
	// exclude-from-external-load-balancers label).
	ReasonInterfaceUnavailable = "InterfaceUnavailable"
	// ReasonNoSelectedNode: a bgp Eip that no node may announce: its
	// spec.nodeSelector matches none, or every node it matches is
	// labelled node.kubernetes.io/exclude-from-external-load-balancers.
	// (Layer2 and vip Eips learn it from the speakers' Leases, as
	// InterfaceUnavailable.)
	ReasonNoSelectedNode = "NoSelectedNode"
)

// ReasonServed is the Normal event on an Eip whose addresses are served
// again after one of the reasons above.
const ReasonServed = "Served"

// The Warning events on the Services whose addresses come from such an
// Eip carry the same reason as its condition: the event recorder folds
// events of one reason on one object into a series that keeps the first
// message, so one reason for every case would hide the later ones.

// servingVerdict says whether anything delivers traffic for an Eip's
// addresses; an empty reason means it may, as far as Herald can tell.
type servingVerdict struct {
	reason, message string
}

func (v servingVerdict) served() bool { return v.reason == "" }

// isNotServedReason reports whether a Ready reason is one of the above.
func isNotServedReason(reason string) bool {
	switch reason {
	case ReasonNoBgpConf, ReasonNoBgpPeer, ReasonNoLayer2Speakers, ReasonNoLiveLayer2Speaker,
		ReasonNoVIPSpeakers, ReasonNoLiveVIPSpeaker, ReasonInterfaceUnavailable, ReasonNoSelectedNode:
		return true
	}
	return false
}

// +kubebuilder:rbac:groups=network.kubesphere.io,resources=bgpconfs;bgppeers,verbs=get;list;watch
// +kubebuilder:rbac:groups=coordination.k8s.io,namespace=herald-system,resources=leases,verbs=get;list;watch

// judgeServing decides whether anything will deliver traffic for the
// Eip's addresses. bgp Eips the controller judges from the API; layer2 and
// vip Eips from what the speakers publish in their Leases, which they
// renew while a pool of either protocol exists.
// ok is false while the speakers' view is not yet synced: no verdict then.
func (r *EipReconciler) judgeServing(ctx context.Context, eip *v1alpha2.Eip) (v servingVerdict, ok bool, err error) {
	switch eip.Spec.Protocol {
	case v1alpha2.ProtocolLayer2, v1alpha2.ProtocolVIP:
		if r.speakers == nil {
			return servingVerdict{}, true, nil
		}
		v, ok := r.speakers.judgeNow(ctx, eip, time.Now())
		return v, ok, nil
	}
	var conf v1alpha2.BgpConf
	switch err := r.Client.Get(ctx, client.ObjectKey{Name: v1alpha2.BgpConfName}, &conf); {
	case apierrors.IsNotFound(err):
		return servingVerdict{reason: ReasonNoBgpConf, message: fmt.Sprintf(
			"no BgpConf named %q: the speakers run no BGP, so no router learns this pool's addresses. "+
				"Fix: create BgpConf %q with the cluster's AS number (spec.as), and a BgpPeer for each router", v1alpha2.BgpConfName, v1alpha2.BgpConfName)}, true, nil
	case err != nil:
		return servingVerdict{}, false, fmt.Errorf("read bgpconf %q: %w", v1alpha2.BgpConfName, err)
	}
	var peers v1alpha2.BgpPeerList
	if err := r.Client.List(ctx, &peers, client.Limit(1), client.UnsafeDisableDeepCopy); err != nil {
		return servingVerdict{}, false, fmt.Errorf("list bgppeers: %w", err)
	}
	if len(peers.Items) == 0 {
		return servingVerdict{reason: ReasonNoBgpPeer, message: "no BgpPeer: the speakers have no router to announce this pool's addresses to. " +
			"Fix: create a BgpPeer for each router (spec.conf.neighborAddress and spec.conf.peerAs)"}, true, nil
	}
	return r.judgeNodes(ctx, eip)
}

// judgeNodes says whether some node may announce a bgp Eip's addresses
// (eippool.Pool.SelectsNode: its nodeSelector and the exclude label). It
// reads the Nodes' metadata from the cache the BgpPeer reconciler keeps
// anyway. No Node at all (a control plane without kubelets) tells nothing.
func (r *EipReconciler) judgeNodes(ctx context.Context, eip *v1alpha2.Eip) (servingVerdict, bool, error) {
	pool, err := eippool.FromEip(eip)
	if err != nil {
		return servingVerdict{}, true, nil // invalid: its own condition says why
	}
	nodes := &metav1.PartialObjectMetadataList{}
	nodes.SetGroupVersionKind(corev1.SchemeGroupVersion.WithKind("NodeList"))
	if err := r.Client.List(ctx, nodes, client.UnsafeDisableDeepCopy); err != nil {
		return servingVerdict{}, false, fmt.Errorf("list nodes: %w", err)
	}
	excluded := 0
	for i := range nodes.Items {
		l := nodes.Items[i].Labels
		if pool.SelectsNode(l) {
			return servingVerdict{}, true, nil
		}
		if eippool.ExcludesNode(l) {
			excluded++
		}
	}
	if len(nodes.Items) == 0 {
		return servingVerdict{}, true, nil
	}
	var msg string
	if eip.Spec.NodeSelector == nil {
		msg = fmt.Sprintf("no node may announce this pool's addresses: all %d node(s) are labelled %s. Fix: ",
			len(nodes.Items), corev1.LabelNodeExcludeBalancers)
	} else {
		msg = fmt.Sprintf("no node may announce this pool's addresses: of %d node(s), %d are labelled %s and the other %d do not match spec.nodeSelector. "+
			"Fix: label the nodes that should announce so that spec.nodeSelector matches them, or change it; ",
			len(nodes.Items), excluded, corev1.LabelNodeExcludeBalancers, len(nodes.Items)-excluded)
	}
	msg += "remove " + corev1.LabelNodeExcludeBalancers + " from the nodes that should announce (kubeadm puts it on control-plane nodes), or run herald-speaker with --ignore-exclude-lb (Helm value speaker.ignoreExcludeLabel)"
	return servingVerdict{reason: ReasonNoSelectedNode, message: msg}, true, nil
}

// applyServing turns a valid Eip's Ready condition False when nothing
// serves it. The Eip stays valid (status.ready) and keeps handing out
// addresses: refusing them would break Services that wait for an
// operator to add the missing piece.
func applyServing(st *v1alpha2.EipStatus, v servingVerdict, generation int64) {
	c := meta.FindStatusCondition(st.Conditions, v1alpha2.ConditionReady)
	if v.served() || c == nil || c.Reason != ReasonAccepted {
		return
	}
	meta.SetStatusCondition(&st.Conditions, metav1.Condition{
		Type: v1alpha2.ConditionReady, Status: metav1.ConditionFalse, Reason: v.reason,
		ObservedGeneration: generation,
		Message:            fmt.Sprintf("%s (%s)", v.message, c.Message),
	})
}

// announceServing tells of a change of verdict once, after the status
// that records it is written: a log line, an event on the Eip and, when
// the pool just became unserved, a Warning event on every Service that
// holds one of its addresses. prev is the Ready condition before.
func (r *EipReconciler) announceServing(ctx context.Context, eip *v1alpha2.Eip, prev *metav1.Condition, st *v1alpha2.EipStatus, rep poolReport) {
	now := meta.FindStatusCondition(st.Conditions, v1alpha2.ConditionReady)
	if now == nil {
		return
	}
	wasNotServed := prev != nil && isNotServedReason(prev.Reason)
	logger := log.FromContext(ctx).WithValues("eip", eip.Name)
	switch {
	case isNotServedReason(now.Reason) && (prev == nil || prev.Reason != now.Reason):
		logger.Info("nothing delivers traffic for this Eip's addresses", "reason", now.Reason, "message", now.Message)
		r.Recorder.Eventf(eip, nil, corev1.EventTypeWarning, now.Reason, "CheckServing", "%s", now.Message)
		for _, key := range holdersOf(rep.used) {
			r.warnService(ctx, key, eip.Name, now.Reason, now.Message)
		}
	case wasNotServed && !isNotServedReason(now.Reason):
		logger.Info("this Eip's addresses are served again", "was", prev.Reason)
		r.Recorder.Eventf(eip, nil, corev1.EventTypeNormal, ReasonServed, "CheckServing", "served again (was %s)", prev.Reason)
	}
}

// warnService records on one Service that its address is not served.
func (r *EipReconciler) warnService(ctx context.Context, key, eip, reason, message string) {
	var svc corev1.Service
	ns, name, _ := strings.Cut(key, "/")
	if err := r.Client.Get(ctx, client.ObjectKey{Namespace: ns, Name: name}, &svc); err != nil {
		return // gone: nobody to tell
	}
	r.Recorder.Eventf(&svc, nil, corev1.EventTypeWarning, reason, "CheckServing",
		"the address from Eip %s is allocated, but nothing answers for it: %s", eip, message)
}

// watchServingInputs makes the Eip reconciler judge bgp Eips again when a
// BgpConf or BgpPeer is created or deleted; their updates (BgpPeer status
// changes with every session's counters) do not matter to the verdict.
func (r *EipReconciler) watchServingInputs(b *builder.Builder) *builder.Builder {
	existence := builder.WithPredicates(predicate.Funcs{
		UpdateFunc: func(event.UpdateEvent) bool { return false },
	})
	h := handler.EnqueueRequestsFromMapFunc(r.bgpEips)
	// Nodes as metadata only, their labels deciding which may announce
	// (judgeNodes); the kubelet's heartbeats pass no event.
	return b.Watches(&v1alpha2.BgpConf{}, h, existence).Watches(&v1alpha2.BgpPeer{}, h, existence).
		Watches(&corev1.Node{}, h, builder.OnlyMetadata, builder.WithPredicates(nodeLabelsChanged))
}

// bgpEips maps a change of the BGP configuration to every bgp Eip.
func (r *EipReconciler) bgpEips(ctx context.Context, _ client.Object) []reconcile.Request {
	var list v1alpha2.EipList
	if err := r.Client.List(ctx, &list); err != nil {
		log.FromContext(ctx).Error(err, "list eips after a change of the BGP configuration")
		return nil
	}
	var reqs []reconcile.Request
	for i := range list.Items {
		if p := list.Items[i].Spec.Protocol; p == "" || p == v1alpha2.ProtocolBGP {
			reqs = append(reqs, reconcile.Request{NamespacedName: client.ObjectKeyFromObject(&list.Items[i])})
		}
	}
	return reqs
}

// notServed returns the verdicts of those of pools nothing serves, as
// last judged, each message starting with the Eip's name.
func notServed(verdicts map[string]servingVerdict, pools []string) []servingVerdict {
	var out []servingVerdict
	for _, p := range slices.Compact(slices.Sorted(slices.Values(pools))) {
		if v, ok := verdicts[p]; ok && !v.served() {
			out = append(out, servingVerdict{reason: v.reason, message: p + ": " + v.message})
		}
	}
	return out
}
