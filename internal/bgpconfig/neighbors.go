package bgpconfig

import (
	"cmp"
	"net/netip"
	"slices"
	"strings"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/selection"

	"github.com/herald-lb/herald/api/v1alpha2"
)

// A router keeps one BGP session per neighbour address and node: two
// BgpPeers with the same neighborAddress that both select a node would ask
// that node for two sessions to one router, and GoBGP refuses the second.
// The rules here decide which one runs, the same way for the admission
// webhook (DuplicateNeighbors), the speakers and the controller
// (NodePeers), so that what the webhook admits, what a node runs and what
// the BgpPeer's status says agree.

// Neighbor returns the address a BgpPeer peers with, an IPv4-mapped IPv6
// address written as the IPv4 address it is (a dual-stack socket reaches
// both the same way), and false when the BgpPeer has none that parses.
func Neighbor(p *v1alpha2.BgpPeer) (netip.Addr, bool) {
	if p.Spec.Conf == nil {
		return netip.Addr{}, false
	}
	a, err := parseIP(p.Spec.Conf.NeighborAddress)
	if err != nil {
		return netip.Addr{}, false
	}
	return a.Unmap(), true
}

// SameNeighborAndNodes reports whether an update leaves what
// DuplicateNeighbors looks at (the neighbour address, as parsed, and the
// node selector, as a set of requirements) as it was. An edit that does
// is not refused for a duplicate that already existed before it, so that
// BgpPeers stored before the webhook existed stay editable.
func SameNeighborAndNodes(oldPeer, newPeer *v1alpha2.BgpPeer) bool {
	oa, oldOK := Neighbor(oldPeer)
	na, newOK := Neighbor(newPeer)
	oldSel, oldSelOK := selectorTerms(oldPeer.Spec.NodeSelector)
	newSel, newSelOK := selectorTerms(newPeer.Spec.NodeSelector)
	return oldOK == newOK && oa == na && oldSelOK == newSelOK && oldSel == newSel
}

// DuplicateNeighbors returns the names, sorted, of the BgpPeers among
// others that provably give some node a second session to peer's
// neighbour: the same neighbour address and node selectors that are both
// empty, one empty, or the same requirements however written (matchLabels
// {a: b} is matchExpressions [{key: a, operator: In, values: [b]}]).
// Selectors that merely might overlap (different requirements, both
// matching some node) are left to NodePeers, which decides per node.
// peer itself (by name), and BgpPeers that run nowhere because they fail
// ValidatePeer, are skipped.
func DuplicateNeighbors(peer *v1alpha2.BgpPeer, others []v1alpha2.BgpPeer) []string {
	addr, ok := Neighbor(peer)
	if !ok {
		return nil
	}
	terms, ok := selectorTerms(peer.Spec.NodeSelector)
	if !ok {
		return nil
	}
	var names []string
	for i := range others {
		o := &others[i]
		if o.Name == peer.Name || !runs(o) {
			continue
		}
		if a, _ := Neighbor(o); a != addr {
			continue
		}
		if t, _ := selectorTerms(o.Spec.NodeSelector); terms == "" || t == "" || t == terms {
			names = append(names, o.Name)
		}
	}
	slices.Sort(names)
	return names
}

// Shadow is a BgpPeer that selects a node but runs no session there,
// because an older BgpPeer has the same neighbour address.
type Shadow struct {
	// Peer is the name of the BgpPeer left out.
	Peer string
	// Winner is the name of the older BgpPeer that runs the session.
	Winner string
	// Neighbor is the address they share.
	Neighbor netip.Addr
}

// NodePeers decides which BgpPeers a node with these labels peers with.
// Of the BgpPeers that select the node and pass ValidatePeer, the oldest
// (creationTimestamp, then name) of each neighbour address runs; the
// others are shadowed. It returns the names of those that run, oldest
// first, and the shadowed ones in the same order. BgpPeers that fail
// ValidatePeer or whose selector does not parse run nowhere and shadow
// nothing; the speaker reports them itself.
//
// The oldest wins, rather than the first by name, so that creating a
// BgpPeer never takes a session away from one that is already running.
func NodePeers(peers []v1alpha2.BgpPeer, nodeLabels map[string]string) (run []string, shadowed []Shadow) {
	byAge := make([]*v1alpha2.BgpPeer, 0, len(peers))
	for i := range peers {
		byAge = append(byAge, &peers[i])
	}
	slices.SortFunc(byAge, func(a, b *v1alpha2.BgpPeer) int {
		return cmp.Or(a.CreationTimestamp.Time.Compare(b.CreationTimestamp.Time), strings.Compare(a.Name, b.Name))
	})
	owner := map[netip.Addr]string{}
	for _, p := range byAge {
		addr, ok := Neighbor(p)
		if !ok || !selects(p.Spec.NodeSelector, nodeLabels) || !runs(p) {
			continue
		}
		if winner, taken := owner[addr]; taken {
			shadowed = append(shadowed, Shadow{Peer: p.Name, Winner: winner, Neighbor: addr})
			continue
		}
		owner[addr] = p.Name
		run = append(run, p.Name)
	}
	return run, shadowed
}

// runs reports whether a BgpPeer can run at all: one that fails the
// webhook's checks (stored before the webhook existed) runs on no node.
func runs(p *v1alpha2.BgpPeer) bool {
	_, errs := ValidatePeer(p)
	return len(errs) == 0
}

// selects reports whether a node selector picks a node with these labels;
// no selector picks every node, one that does not parse picks none.
func selects(sel *metav1.LabelSelector, nodeLabels map[string]string) bool {
	if sel == nil {
		return true
	}
	s, err := metav1.LabelSelectorAsSelector(sel)
	return err == nil && s.Matches(labels.Set(nodeLabels))
}

// selectorTerms writes a node selector's requirements in one canonical
// form: sorted, duplicates dropped, "=" and a one-value "In" written
// alike, and "!=" and a one-value "NotIn" too. "" means every node (no
// selector, or an empty one); false means it does not parse.
func selectorTerms(sel *metav1.LabelSelector) (string, bool) {
	if sel == nil {
		return "", true
	}
	s, err := metav1.LabelSelectorAsSelector(sel)
	if err != nil {
		return "", false
	}
	reqs, _ := s.Requirements()
	terms := make([]string, 0, len(reqs))
	for _, r := range reqs {
		op := r.Operator()
		switch op {
		case selection.Equals, selection.DoubleEquals:
			op = selection.In
		case selection.NotEquals:
			op = selection.NotIn
		}
		values := r.ValuesUnsorted()
		slices.Sort(values)
		values = slices.Compact(values)
		// Label keys and values cannot hold spaces, commas or semicolons.
		terms = append(terms, r.Key()+" "+string(op)+" "+strings.Join(values, ","))
	}
	slices.Sort(terms)
	return strings.Join(slices.Compact(terms), ";"), true
}
