package speaker

import (
	"errors"
	"fmt"
	"maps"
	"net/netip"
	"slices"
	"strings"

	"github.com/go-logr/logr"
	corev1 "k8s.io/api/core/v1"

	"github.com/herald-lb/herald/internal/eippool"
	"github.com/herald-lb/herald/speaker/layer2"
)

// Node selection. An Eip's spec.nodeSelector names the nodes that may
// announce its addresses, and a node labelled
// node.kubernetes.io/exclude-from-external-load-balancers (any value)
// announces none (eippool.Pool.SelectsNode). Each speaker judges only its
// own node, from the one Node object its cache already watches, so the
// rule costs no API read and no watch of other nodes:
//
//   - BGP: the node leaves those Eips' addresses out of its routes
//     (Desired.RestrictToNode), on top of externalTrafficPolicy Local's
//     rule; an excluded node advertises no route at all, BgpConf's Service
//     ranges included, but keeps its sessions, so that removing the label
//     brings the routes back with one UPDATE and no session setup.
//   - Layer2 and VIP: the node lists those Eips as unavailable in its
//     Lease, as it lists an Eip whose interface is missing, so every
//     speaker leaves it out of the Eip's owners and VIP rankings from the
//     same view (layer2.AssignOwners, vipConfig) and they all agree. A
//     node that loses its selection stops answering at once, before its
//     Lease says so (the address may go unanswered until the others read
//     the Lease, never answered by it after); one that gains it takes an
//     address only once its Lease, read back through the watch, says it
//     may, as a node joining does. So a label change moves an address
//     within one Node watch event, one reconcile and one Lease write and
//     watch round trip.

// Why a node may not announce an Eip's addresses.
var (
	errNodeNotSelected = errors.New("this node's labels do not match the Eip's nodeSelector")
	errNodeExcluded    = errors.New("this node is labelled " + corev1.LabelNodeExcludeBalancers + ": it announces no Eip's addresses")
)

// nodeIneligible maps each pool node may not announce to why; nil when it
// may announce them all. A missing Node object has no labels: pools with a
// nodeSelector that needs one leave it out.
func nodeIneligible(node *corev1.Node, pools []eippool.Pool) map[string]error {
	var nodeLabels map[string]string
	if node != nil {
		nodeLabels = node.Labels
	}
	why := errNodeNotSelected
	if eippool.ExcludesNode(nodeLabels) {
		why = errNodeExcluded
	}
	var out map[string]error
	for _, p := range pools {
		if p.SelectsNode(nodeLabels) {
			continue
		}
		if out == nil {
			out = map[string]error{}
		}
		out[p.Name] = fmt.Errorf("eip %q: %w", p.Name, why)
	}
	return out
}

// RestrictToNode applies this node's labels to what Compute decided (which
// reads no labels): it records in Ineligible the Eips the node may not
// announce, for the Layer2 and VIP modes, and drops from BGP the addresses
// of those Eips, with the reason in Skipped. A node carrying the exclude
// label advertises no BGP route at all, BgpConf's Service ranges included.
// node nil (no Node object) counts as a node without labels.
func (d *Desired) RestrictToNode(node *corev1.Node, pools []eippool.Pool) {
	d.Ineligible = nodeIneligible(node, pools)
	excluded := node != nil && eippool.ExcludesNode(node.Labels)
	if len(d.Ineligible) == 0 && !excluded {
		return
	}
	if d.Skipped == nil {
		d.Skipped = map[netip.Addr]string{}
	}
	d.BGP = slices.DeleteFunc(d.BGP, func(r Route) bool {
		if excluded {
			if r.Prefix.IsSingleIP() {
				d.Skipped[r.Prefix.Addr()] = errNodeExcluded.Error()
			}
			return true
		}
		if r.Kind != RouteLoadBalancer {
			return false
		}
		p, ok := poolOf(pools, r.Prefix.Addr())
		if !ok || d.Ineligible[p.Name] == nil {
			return false
		}
		d.Skipped[r.Prefix.Addr()] = d.Ineligible[p.Name].Error()
		return true
	})
}

// withhold returns ifaces with the pools that ineligible names marked
// unavailable here, with the reason, whatever their interface: the node
// neither answers for them nor publishes itself as able to. Names that
// are no pool of ifaces (another mode's) are left out.
func withhold(ifaces layer2.EipInterfaces, ineligible map[string]error) layer2.EipInterfaces {
	for name, why := range ineligible {
		_, available := ifaces.Available[name]
		_, unavailable := ifaces.Unavailable[name]
		if !available && !unavailable {
			continue
		}
		if ifaces.Unavailable == nil {
			ifaces.Unavailable = map[string]error{}
		}
		delete(ifaces.Available, name)
		ifaces.Unavailable[name] = why
	}
	return ifaces
}

// selectionNode is the node as node selection sees it: without the
// exclude label when IgnoreExcludeLabel is set.
func (r *Reconciler) selectionNode(node *corev1.Node) *corev1.Node {
	if !r.IgnoreExcludeLabel || node == nil || !eippool.ExcludesNode(node.Labels) {
		return node
	}
	n := &corev1.Node{ObjectMeta: node.ObjectMeta}
	n.Labels = maps.Clone(node.Labels)
	delete(n.Labels, corev1.LabelNodeExcludeBalancers)
	return n
}

// logIneligible logs the Eips this node may not announce each time that
// set changes, not on every reconcile.
func (r *Reconciler) logIneligible(logger logr.Logger, ineligible map[string]error) {
	names := slices.Sorted(maps.Keys(ineligible))
	joined := strings.Join(names, ",")
	if joined == r.ineligibleLogged {
		return
	}
	r.ineligibleLogged = joined
	if len(names) == 0 {
		logger.Info("this node's labels allow it to announce every eip")
		return
	}
	for _, n := range names {
		logger.Info("this node does not announce the eip's addresses", "eip", n, "reason", ineligible[n].Error())
	}
}
