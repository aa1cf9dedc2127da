package bgpconfig

import (
	"cmp"
	"errors"
	"fmt"
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
// node selectors, each as a set of requirements) as it was. An edit that
// does is not refused for a duplicate that already existed before it, so
// that BgpPeers stored before the webhook existed stay editable.
func SameNeighborAndNodes(oldPeer, newPeer *v1alpha2.BgpPeer) bool {
	oa, oldOK := Neighbor(oldPeer)
	na, newOK := Neighbor(newPeer)
	oldSel, oldSelOK := nodeTerms(&oldPeer.Spec)
	newSel, newSelOK := nodeTerms(&newPeer.Spec)
	return oldOK == newOK && oa == na && oldSelOK == newSelOK && slices.Equal(oldSel, newSel)
}

// DuplicateNeighbors returns the names, sorted, of the BgpPeers among
// others that provably give some node a second session to peer's
// neighbour: the same neighbour address, and node selectors of which one
// side selects every node, or both sides hold one selector with the same
// requirements however written (matchLabels {a: b} is matchExpressions
// [{key: a, operator: In, values: [b]}]); nodeSelector and the entries of
// nodeSelectors count alike, since they are OR-ed. Selectors that merely
// might overlap (different requirements, both matching some node) are left
// to NodePeers, which decides per node. peer itself (by name), and
// BgpPeers that run nowhere because they fail ValidatePeer, are skipped.
func DuplicateNeighbors(peer *v1alpha2.BgpPeer, others []v1alpha2.BgpPeer) []string {
	addr, ok := Neighbor(peer)
	if !ok {
		return nil
	}
	terms, ok := nodeTerms(&peer.Spec)
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
		if t, _ := nodeTerms(&o.Spec); everyNode(terms) || everyNode(t) || sharesTerm(terms, t) {
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
		if !ok || !runs(p) {
			continue
		}
		if selected, err := SelectsNode(&p.Spec, nodeLabels); err != nil || !selected {
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

// SelectsNode reports whether a BgpPeer selects a node with these labels:
// nodeSelector or any entry of nodeSelectors matches them (MetalLB's
// node-selectors are OR-ed the same way), and when both are unset every
// node is selected. An empty selector ({}) selects every node too. A
// BgpPeer with a selector that does not parse selects no node, whatever
// the others say, as it fails ValidatePeer; the error names the fields
// (spec.nodeSelectors[1]: ...).
func SelectsNode(spec *v1alpha2.BgpPeerSpec, nodeLabels map[string]string) (bool, error) {
	sels, paths := nodeSelectors(spec)
	if len(sels) == 0 {
		return true, nil
	}
	parsed := make([]labels.Selector, 0, len(sels))
	var errs []error
	for i, sel := range sels {
		s, err := metav1.LabelSelectorAsSelector(sel)
		if err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", paths[i], err))
			continue
		}
		parsed = append(parsed, s)
	}
	if err := errors.Join(errs...); err != nil {
		return false, err
	}
	set := labels.Set(nodeLabels)
	return slices.ContainsFunc(parsed, func(s labels.Selector) bool { return s.Matches(set) }), nil
}

// nodeSelectors lists a BgpPeer's selectors, nodeSelector first, with the
// path of each; none when both fields are unset.
func nodeSelectors(spec *v1alpha2.BgpPeerSpec) ([]*metav1.LabelSelector, []string) {
	var sels []*metav1.LabelSelector
	var paths []string
	if spec.NodeSelector != nil {
		sels, paths = append(sels, spec.NodeSelector), append(paths, "spec.nodeSelector")
	}
	for i := range spec.NodeSelectors {
		sels, paths = append(sels, &spec.NodeSelectors[i]), append(paths, fmt.Sprintf("spec.nodeSelectors[%d]", i))
	}
	return sels, paths
}

// nodeTerms writes a BgpPeer's selectors in canonical form (selectorTerms),
// sorted and without duplicates; a BgpPeer that selects every node (no
// selector at all, or one empty selector among them) is [""]. false means
// one of them does not parse.
func nodeTerms(spec *v1alpha2.BgpPeerSpec) ([]string, bool) {
	sels, _ := nodeSelectors(spec)
	if len(sels) == 0 {
		return []string{""}, true
	}
	out := make([]string, 0, len(sels))
	for _, sel := range sels {
		t, ok := selectorTerms(sel)
		if !ok {
			return nil, false
		}
		if t == "" {
			return []string{""}, true
		}
		out = append(out, t)
	}
	slices.Sort(out)
	return slices.Compact(out), true
}

// everyNode reports whether nodeTerms selects every node.
func everyNode(terms []string) bool {
	return len(terms) == 1 && terms[0] == ""
}

// sharesTerm reports whether two sorted term lists have one in common.
func sharesTerm(a, b []string) bool {
	for _, t := range a {
		if _, found := slices.BinarySearch(b, t); found {
			return true
		}
	}
	return false
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
