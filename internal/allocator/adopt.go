package allocator

import (
	"net/netip"
	"slices"
	"strings"
)

// Adopt takes over addresses a Service got before Herald served it (from
// MetalLB, when a migration opt-in makes the Service Herald's), as if it
// had asked for them: each must be of one of the Service's families, lie
// in an Eip (one the Service names, if it names any) that admits its
// namespace, and be free or shareable with its holders. An adopted address
// is kept whatever the Eip's disable or avoidBuggyIPs say, since taking it
// away would cut traffic that flows today. On failure nothing changes and
// the caller allocates the Service anew; the error says why the address
// could not be kept.
func (a *Allocator) Adopt(r Request, addrs []netip.Addr) error {
	if len(addrs) == 0 {
		return nil
	}
	h := holderOf(r, false)
	seen := map[Family]bool{}
	for _, addr := range addrs {
		f := FamilyOf(addr)
		if seen[f] {
			return failf(ReasonInvalidRequest, "%s has two %s addresses in its status", r.Key, f)
		}
		seen[f] = true
		if !slices.Contains(r.Families, f) {
			return failf(ReasonFamilyMismatch, "%s: %s is an %s address, but the Service's IP families are %s",
				r.Key, addr, f, describeFamilies(r.Families))
		}
		p := a.poolOf(addr)
		if p == nil {
			return failf(ReasonIPOutsideEips, "%s: %s is in no Eip", r.Key, addr)
		}
		if len(r.Pools) > 0 && !slices.Contains(r.Pools, p.Name) {
			return failf(ReasonIPOutsideEips, "%s: %s belongs to Eip %q, not to the Eip it names (%s)",
				r.Key, addr, p.Name, strings.Join(r.Pools, ","))
		}
		if !p.Admits(r.Namespace, r.NamespaceLabels) {
			return failf(ReasonNamespaceNotAdmitted, "%s: %s belongs to Eip %q, which is bound to other namespaces", r.Key, addr, p.Name)
		}
		if ok, why := h.canShareWith(a.holders[addr], false); !ok {
			return failf(ReasonIPInUse, "%s: %s is %s", r.Key, addr, why)
		}
	}
	a.Release(r.Key)
	a.commit(h, addrs)
	a.namedFor[r.Key] = poolNames(r)
	return nil
}
