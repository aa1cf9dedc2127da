package controllers

import (
	"slices"
	"strings"

	"github.com/herald-lb/herald/api/v1alpha2"
	"github.com/herald-lb/herald/internal/eippool"
)

// buildPools turns the cluster's Eips into pools. Admission refuses invalid
// and overlapping Eips, but one may still get in (created while the webhook
// was down, or before Herald was installed): it is left out, the older of
// two overlapping Eips wins, and problems says why, by Eip name, for its
// status.
func buildPools(eips []v1alpha2.Eip) ([]eippool.Pool, map[string]string) {
	sorted := slices.Clone(eips)
	slices.SortFunc(sorted, func(a, b v1alpha2.Eip) int {
		if c := a.CreationTimestamp.Compare(b.CreationTimestamp.Time); c != 0 {
			return c
		}
		return strings.Compare(a.Name, b.Name)
	})
	var (
		pools    []eippool.Pool
		accepted []v1alpha2.Eip
		problems = map[string]string{}
	)
	for i := range sorted {
		e := &sorted[i]
		p, err := eippool.FromEip(e)
		if err != nil {
			problems[e.Name] = err.Error()
			continue
		}
		if errs := eippool.Conflicts(e, accepted); len(errs) > 0 {
			problems[e.Name] = errs.ToAggregate().Error()
			continue
		}
		pools = append(pools, p)
		accepted = append(accepted, *e)
	}
	return pools, problems
}

// fingerprint identifies a set of Eip versions, so pools are rebuilt only
// when an Eip changed.
func fingerprint(eips []v1alpha2.Eip) string {
	parts := make([]string, 0, len(eips))
	for i := range eips {
		parts = append(parts, eips[i].Name+"@"+eips[i].ResourceVersion)
	}
	slices.Sort(parts)
	return strings.Join(parts, ",")
}
