package eippool

import (
	"slices"
	"strings"

	"github.com/herald-lb/herald/api/v1alpha2"
	"github.com/herald-lb/herald/internal/iprange"
)

// Accept decides which of the cluster's Eips count, for the controller
// that allocates from them and for the speakers that announce their
// addresses alike: if the two decided apart, an address allocated under
// one Eip could be announced under another's protocol and interface.
//
// Admission refuses invalid and conflicting Eips, but one may still get in
// (created while the webhook was down, or before Herald was installed).
// Eips are taken oldest first (creationTimestamp, then name, so ties and
// input order change nothing): an invalid Eip is left out, and so is one
// that Conflicts with an Eip already taken, by overlapping it or by being a
// second default pool of its family. The older one keeps serving the
// addresses it handed out. Eips being deleted still count: they keep their
// allocations.
//
// The pools come oldest first and never overlap, so an address is in at
// most one. problems says, by Eip name, why an Eip was left out. Accept
// reads eips but never writes to them, so they may come straight from an
// informer's cache; it runs on every speaker reconcile, so it parses each
// address once and looks for overlaps with one binary search per Eip.
func Accept(eips []v1alpha2.Eip) (pools []Pool, problems map[string]string) {
	order := make([]*v1alpha2.Eip, len(eips))
	for i := range eips {
		order[i] = &eips[i]
	}
	slices.SortFunc(order, func(a, b *v1alpha2.Eip) int {
		if c := a.CreationTimestamp.Compare(b.CreationTimestamp.Time); c != 0 {
			return c
		}
		return strings.Compare(a.Name, b.Name)
	})
	problems = map[string]string{}
	var (
		accepted []*v1alpha2.Eip
		taken    taken
	)
	for _, e := range order {
		p, err := FromEip(e)
		if err != nil {
			problems[e.Name] = err.Error()
			continue
		}
		if taken.conflicts(p) {
			problems[e.Name] = Conflicts(e, deref(accepted)).ToAggregate().Error()
			continue
		}
		taken.add(p)
		pools = append(pools, p)
		accepted = append(accepted, e)
	}
	return pools, problems
}

// taken is what the accepted pools occupy, for a cheap test of what
// Conflicts would find, leaving Conflicts to word the rare refusal: the
// ranges, disjoint and sorted by first address (IPv4 before IPv6), so
// only the two neighbours of a new range can overlap it; and the default
// pool of each family. Names are unique, as in any listing of a cluster.
type taken struct {
	ranges   []iprange.Range
	default4 bool
	default6 bool
}

func (t *taken) conflicts(p Pool) bool {
	if p.Default && ((p.Range.Is4() && t.default4) || (!p.Range.Is4() && t.default6)) {
		return true
	}
	i := t.search(p.Range)
	return (i < len(t.ranges) && t.ranges[i].Overlaps(p.Range)) ||
		(i > 0 && t.ranges[i-1].Overlaps(p.Range))
}

func (t *taken) add(p Pool) {
	t.ranges = slices.Insert(t.ranges, t.search(p.Range), p.Range)
	if p.Default {
		t.default4 = t.default4 || p.Range.Is4()
		t.default6 = t.default6 || !p.Range.Is4()
	}
}

// search is where r goes in t.ranges.
func (t *taken) search(r iprange.Range) int {
	i, _ := slices.BinarySearchFunc(t.ranges, r, func(a, b iprange.Range) int { return a.First().Compare(b.First()) })
	return i
}

func deref(eips []*v1alpha2.Eip) []v1alpha2.Eip {
	out := make([]v1alpha2.Eip, len(eips))
	for i, e := range eips {
		out[i] = *e
	}
	return out
}
