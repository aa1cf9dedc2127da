package webhook

import (
	"context"
	"fmt"
	"strings"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/util/validation/field"

	"github.com/herald-lb/herald/api/v1alpha2"
	"github.com/herald-lb/herald/internal/bgpconfig"
)

// duplicateNeighbors refuses p when bgpconfig.DuplicateNeighbors proves
// that some node would get two sessions to its neighbour. An update that
// leaves the neighbour and the node selector as they were (oldPeer) is
// not checked: a duplicate stored before the webhook existed must not
// block a timer or password edit; only the edit that makes the overlap is
// refused. Overlaps that depend on the nodes' labels are admitted and
// settled per node by age (bgpconfig.NodePeers): the controller then
// reports them on the younger BgpPeer.
func (v BgpPeerValidator) duplicateNeighbors(ctx context.Context, oldPeer, p *v1alpha2.BgpPeer) (field.ErrorList, error) {
	if oldPeer != nil && bgpconfig.SameNeighborAndNodes(oldPeer, p) {
		return nil, nil
	}
	if _, ok := bgpconfig.Neighbor(p); !ok {
		return nil, nil // ValidatePeer says what is wrong with the address.
	}
	var peers v1alpha2.BgpPeerList
	if err := v.Reader.List(ctx, &peers); err != nil {
		return nil, apierrors.NewInternalError(fmt.Errorf("bgppeer %q: list BgpPeers to check for duplicate neighbours: %w", p.Name, err))
	}
	names := bgpconfig.DuplicateNeighbors(p, peers.Items)
	if len(names) == 0 {
		return nil, nil
	}
	quoted := make([]string, len(names))
	for i, n := range names {
		quoted[i] = fmt.Sprintf("%q", n)
	}
	which := "BgpPeer " + quoted[0] + " already peers"
	if len(quoted) > 1 {
		which = "BgpPeers " + strings.Join(quoted, ", ") + " already peer"
	}
	dup := field.Duplicate(field.NewPath("spec", "conf", "neighborAddress"), p.Spec.Conf.NeighborAddress)
	dup.Detail = fmt.Sprintf("%s with this address on nodes this BgpPeer selects too (a node selector that is empty or the same); "+
		"a node keeps one session per neighbour: give the BgpPeers nodeSelectors that select disjoint nodes, or merge them into one BgpPeer", which)
	return field.ErrorList{dup}, nil
}
