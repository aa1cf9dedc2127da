package controllers

import (
	"slices"
	"strings"

	"github.com/herald-lb/herald/api/v1alpha2"
	"github.com/herald-lb/herald/internal/eippool"
)

// buildPools turns the cluster's Eips into pools, and says why, by Eip
// name, an Eip is left out, for its status. It is eippool.Accept, which the
// speakers run too: an address must be announced under the Eip it was
// allocated from.
func buildPools(eips []v1alpha2.Eip) ([]eippool.Pool, map[string]string) {
	return eippool.Accept(eips)
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
