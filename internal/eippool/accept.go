package eippool

import (
	"slices"
	"strings"

	"github.com/herald-lb/herald/api/v1alpha2"
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
// informer's cache; it runs on every speaker reconcile and parses each
// address once.
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
	var accepted []*v1alpha2.Eip
	for _, e := range order {
		p, err := FromEip(e)
		if err != nil {
			problems[e.Name] = err.Error()
			continue
		}
		if conflicts(p, pools) {
			problems[e.Name] = Conflicts(e, deref(accepted)).ToAggregate().Error()
			continue
		}
		pools = append(pools, p)
		accepted = append(accepted, e)
	}
	return pools, problems
}

// conflicts is Conflicts over pools already parsed: the cheap test Accept
// runs for every Eip, leaving Conflicts to word the rare refusal.
func conflicts(p Pool, accepted []Pool) bool {
	for _, q := range accepted {
		if q.Name == p.Name {
			continue
		}
		if p.Range.Overlaps(q.Range) || (p.Default && q.Default && p.Range.Is4() == q.Range.Is4()) {
			return true
		}
	}
	return false
}

func deref(eips []*v1alpha2.Eip) []v1alpha2.Eip {
	out := make([]v1alpha2.Eip, len(eips))
	for i, e := range eips {
		out[i] = *e
	}
	return out
}
