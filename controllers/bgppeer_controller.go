package controllers

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"net/netip"
	"slices"
	"strings"
	"sync"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/tools/events"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/builder"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/event"
	"sigs.k8s.io/controller-runtime/pkg/handler"
	"sigs.k8s.io/controller-runtime/pkg/log"
	"sigs.k8s.io/controller-runtime/pkg/predicate"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	"github.com/herald-lb/herald/api/v1alpha2"
	"github.com/herald-lb/herald/internal/bgpconfig"
)

// ConditionNeighborShadowed is set True on a BgpPeer that some node does
// not peer with because an older BgpPeer with the same neighbour address
// selects that node too (bgpconfig.NodePeers, the speakers' rule). It is
// removed when no node is left where that happens.
const ConditionNeighborShadowed = "NeighborShadowed"

// ReasonOlderPeerWins is the reason of ConditionNeighborShadowed and of
// the Warning event that goes with it.
const ReasonOlderPeerWins = "OlderPeerWins"

// bgpPeerFieldManager owns ConditionNeighborShadowed in BgpPeer status.
// The condition is written by server-side apply under this manager, so
// the write touches that one list entry and nothing else: the speakers'
// merge patches of status.nodesPeerStatus (speaker/bgpstatus.go) and
// conditions of other types are never overwritten, and no write needs the
// object's latest resourceVersion, which the speakers change every 30 s.
const bgpPeerFieldManager = "herald-controller-bgppeer"

// maxNodesNamed bounds the node names a condition or event spells out.
const maxNodesNamed = 5

// BgpPeerReconciler reports BgpPeers that the speakers leave out on some
// nodes because an older BgpPeer peers with the same neighbour there. The
// webhook refuses the overlaps that the node selectors alone prove; this
// covers the rest, where only the nodes' labels make two selectors meet.
// It recomputes every BgpPeer at once (one work item), because a label on
// one node or one BgpPeer's selector can change any other's verdict.
type BgpPeerReconciler struct {
	Client   client.Client
	Recorder events.EventRecorder

	mu sync.Mutex
	// warned is the neighbour and older BgpPeers of the last Warning event
	// per BgpPeer, so that a change is announced once even if the cache
	// lags behind our write.
	warned map[types.UID]string
}

// +kubebuilder:rbac:groups="",resources=nodes,verbs=get;list;watch
// +kubebuilder:rbac:groups=network.kubesphere.io,resources=bgppeers,verbs=get;list;watch
// +kubebuilder:rbac:groups=network.kubesphere.io,resources=bgppeers/status,verbs=get;update;patch

// allBgpPeers is the one work item.
var allBgpPeers = reconcile.Request{NamespacedName: types.NamespacedName{Name: "bgppeers"}}

// Reconcile sets or clears ConditionNeighborShadowed on every BgpPeer.
func (r *BgpPeerReconciler) Reconcile(ctx context.Context, _ reconcile.Request) (reconcile.Result, error) {
	var peers v1alpha2.BgpPeerList
	if err := r.Client.List(ctx, &peers); err != nil {
		return reconcile.Result{}, fmt.Errorf("list bgppeers: %w", err)
	}
	nodes := &metav1.PartialObjectMetadataList{}
	nodes.SetGroupVersionKind(corev1.SchemeGroupVersion.WithKind("NodeList"))
	if err := r.Client.List(ctx, nodes); err != nil {
		return reconcile.Result{}, fmt.Errorf("list nodes: %w", err)
	}
	shadows := shadowsByPeer(peers.Items, nodes.Items)
	byName := make(map[string]*v1alpha2.BgpPeer, len(peers.Items))
	for i := range peers.Items {
		byName[peers.Items[i].Name] = &peers.Items[i]
	}
	var errs []error
	seen := map[types.UID]bool{}
	for i := range peers.Items {
		p := &peers.Items[i]
		seen[p.UID] = true
		if p.DeletionTimestamp != nil {
			continue
		}
		if err := r.sync(ctx, p, shadows[p.Name], byName); err != nil {
			errs = append(errs, err)
		}
	}
	r.mu.Lock()
	maps.DeleteFunc(r.warned, func(uid types.UID, _ string) bool { return !seen[uid] })
	r.mu.Unlock()
	return reconcile.Result{}, errors.Join(errs...)
}

// shadowing is where one BgpPeer is left out: per older BgpPeer that wins
// over it, the nodes where that one does, sorted.
type shadowing struct {
	neighbor netip.Addr
	winners  map[string][]string
}

// shadowsByPeer runs the speakers' decision for every node and gathers,
// per shadowed BgpPeer, who wins on which nodes.
//
// Only BgpPeers that share their neighbour with another can be shadowed,
// so the others are left out first: in the usual cluster that leaves
// nothing, and no node has to be looked at.
func shadowsByPeer(peers []v1alpha2.BgpPeer, nodes []metav1.PartialObjectMetadata) map[string]*shadowing {
	count := map[netip.Addr]int{}
	for i := range peers {
		if a, ok := bgpconfig.Neighbor(&peers[i]); ok {
			count[a]++
		}
	}
	var shared []v1alpha2.BgpPeer
	for i := range peers {
		if a, ok := bgpconfig.Neighbor(&peers[i]); ok && count[a] > 1 {
			shared = append(shared, peers[i])
		}
	}
	out := map[string]*shadowing{}
	if len(shared) == 0 {
		return out
	}
	for i := range nodes {
		_, shadowed := bgpconfig.NodePeers(shared, nodes[i].Labels)
		for _, s := range shadowed {
			sh := out[s.Peer]
			if sh == nil {
				sh = &shadowing{neighbor: s.Neighbor, winners: map[string][]string{}}
				out[s.Peer] = sh
			}
			sh.winners[s.Winner] = append(sh.winners[s.Winner], nodes[i].Name)
		}
	}
	for _, sh := range out {
		for _, ns := range sh.winners {
			slices.Sort(ns)
		}
	}
	return out
}

// message says who wins where, and what to do about it.
func (sh *shadowing) message() string {
	var parts []string
	for _, w := range slices.Sorted(maps.Keys(sh.winners)) {
		parts = append(parts, fmt.Sprintf("the older BgpPeer %q peers with it instead on %s", w, nodeList(sh.winners[w])))
	}
	return fmt.Sprintf("neighbour %s: %s; a node keeps one session per neighbour, so this BgpPeer runs none there. "+
		"Give the BgpPeers nodeSelectors that select disjoint nodes, or merge them into one BgpPeer",
		sh.neighbor, strings.Join(parts, "; "))
}

// nodeList names the first few nodes and counts the rest.
func nodeList(nodes []string) string {
	s := fmt.Sprintf("%d node(s): %s", len(nodes), strings.Join(nodes[:min(len(nodes), maxNodesNamed)], ", "))
	if len(nodes) > maxNodesNamed {
		s += fmt.Sprintf(" and %d more", len(nodes)-maxNodesNamed)
	}
	return s
}

// sync makes one BgpPeer's condition say what sh says (nil: not
// shadowed anywhere), and records a Warning event when it changes.
func (r *BgpPeerReconciler) sync(ctx context.Context, p *v1alpha2.BgpPeer, sh *shadowing, byName map[string]*v1alpha2.BgpPeer) error {
	current := meta.FindStatusCondition(p.Status.Conditions, ConditionNeighborShadowed)
	if sh == nil {
		if current == nil {
			return nil
		}
		if err := r.applyCondition(ctx, p, nil); err != nil {
			return err
		}
		log.FromContext(ctx).Info("bgppeer no longer shadowed: no node has an older BgpPeer with its neighbour", "peer", p.Name)
		r.mu.Lock()
		delete(r.warned, p.UID)
		r.mu.Unlock()
		return nil
	}
	want := metav1.Condition{
		Type: ConditionNeighborShadowed, Status: metav1.ConditionTrue, Reason: ReasonOlderPeerWins,
		Message: sh.message(), ObservedGeneration: p.Generation,
	}
	if current != nil && current.Status == want.Status && current.Reason == want.Reason &&
		current.Message == want.Message && current.ObservedGeneration == want.ObservedGeneration {
		return nil
	}
	conds := slices.Clone(p.Status.Conditions)
	meta.SetStatusCondition(&conds, want) // keeps lastTransitionTime while it stays True
	if err := r.applyCondition(ctx, p, meta.FindStatusCondition(conds, ConditionNeighborShadowed)); err != nil {
		return err
	}

	// One event per change of who wins over it, not per node that joins:
	// the condition carries the node list.
	winners := slices.Sorted(maps.Keys(sh.winners))
	key := sh.neighbor.String() + " " + strings.Join(winners, ",")
	r.mu.Lock()
	if r.warned == nil {
		r.warned = map[types.UID]string{}
	}
	fresh := r.warned[p.UID] != key
	r.warned[p.UID] = key
	r.mu.Unlock()
	if !fresh {
		return nil
	}
	log.FromContext(ctx).Info("bgppeer shadowed on some nodes by an older BgpPeer with the same neighbour",
		"peer", p.Name, "olderPeers", winners, "ip", sh.neighbor)
	var related runtime.Object // the (first) older BgpPeer, for kubectl describe
	if w, ok := byName[winners[0]]; ok {
		related = w
	}
	r.Recorder.Eventf(p, related, corev1.EventTypeWarning, ReasonOlderPeerWins, "SelectPeers",
		"BgpPeer %q and %s: %s", p.Name, quoteAll(winners), want.Message)
	return nil
}

func quoteAll(names []string) string {
	q := make([]string, len(names))
	for i, n := range names {
		q[i] = fmt.Sprintf("BgpPeer %q", n)
	}
	return strings.Join(q, ", ")
}

// applyCondition server-side applies ConditionNeighborShadowed as c, or
// removes it (c nil): what this field manager applied before and leaves
// out now is deleted, and only that.
func (r *BgpPeerReconciler) applyCondition(ctx context.Context, p *v1alpha2.BgpPeer, c *metav1.Condition) error {
	type status struct {
		Conditions []metav1.Condition `json:"conditions,omitempty"`
	}
	body := struct {
		APIVersion string            `json:"apiVersion"`
		Kind       string            `json:"kind"`
		Metadata   map[string]string `json:"metadata"`
		Status     status            `json:"status"`
	}{
		APIVersion: v1alpha2.GroupVersion.String(), Kind: "BgpPeer",
		Metadata: map[string]string{"name": p.Name, "uid": string(p.UID)},
	}
	if c != nil {
		body.Status.Conditions = []metav1.Condition{*c}
	}
	data, err := json.Marshal(body)
	if err != nil {
		return fmt.Errorf("bgppeer %q: encode condition: %w", p.Name, err)
	}
	target := &v1alpha2.BgpPeer{ObjectMeta: metav1.ObjectMeta{Name: p.Name}}
	err = r.Client.Status().Patch(ctx, target, client.RawPatch(types.ApplyPatchType, data),
		client.FieldOwner(bgpPeerFieldManager), client.ForceOwnership)
	if err != nil && !apierrors.IsNotFound(err) { // A BgpPeer deleted meanwhile needs no condition.
		return fmt.Errorf("bgppeer %q: write condition %s: %w", p.Name, ConditionNeighborShadowed, err)
	}
	return nil
}

// SetupWithManager registers the reconciler. It reacts to BgpPeers being
// created, deleted or changing spec (not to the speakers' status writes),
// and to Nodes coming, going or changing labels; Nodes are watched as
// metadata only, since labels are all it reads.
func (r *BgpPeerReconciler) SetupWithManager(mgr ctrl.Manager) error {
	all := handler.EnqueueRequestsFromMapFunc(func(context.Context, client.Object) []reconcile.Request {
		return []reconcile.Request{allBgpPeers}
	})
	return ctrl.NewControllerManagedBy(mgr).
		Named("bgppeer").
		Watches(&v1alpha2.BgpPeer{}, all, builder.WithPredicates(predicate.GenerationChangedPredicate{})).
		Watches(&corev1.Node{}, all, builder.OnlyMetadata, builder.WithPredicates(nodeLabelsChanged)).
		Complete(r)
}

// nodeLabelsChanged passes Node events that can change which BgpPeers
// select it: everything but updates that leave the labels alone (the
// kubelet's heartbeats).
var nodeLabelsChanged = predicate.Funcs{
	UpdateFunc: func(e event.UpdateEvent) bool {
		return !maps.Equal(e.ObjectOld.GetLabels(), e.ObjectNew.GetLabels())
	},
}
