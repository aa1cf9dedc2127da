package allocator

import (
	"cmp"
	"net/netip"
	"slices"
	"strings"
)

// choose picks new addresses for a request without changing any state.
func (a *Allocator) choose(r Request) ([]netip.Addr, error) {
	switch {
	case len(r.Addresses) > 0:
		return a.chooseRequested(r)
	case len(r.Pools) > 0:
		return a.chooseNamed(r)
	default:
		return a.chooseFamilies(r)
	}
}

func (a *Allocator) chooseRequested(r Request) ([]netip.Addr, error) {
	seen := map[Family]bool{}
	h := holderOf(r, true)
	for _, addr := range r.Addresses {
		f := FamilyOf(addr)
		if seen[f] {
			return nil, failf(ReasonInvalidRequest, "%s asks for two %s addresses; ask for at most one per family", r.Key, f)
		}
		seen[f] = true
		if !slices.Contains(r.Families, f) {
			return nil, failf(ReasonFamilyMismatch, "%s asks for %s, an %s address, but the Service's IP families are %s",
				r.Key, addr, f, describeFamilies(r.Families))
		}
		p := a.poolOf(addr)
		if p == nil {
			return nil, failf(ReasonIPOutsideEips, "%s asks for %s, which is in no Eip; add it to an Eip's spec.address or ask for another address", r.Key, addr)
		}
		if len(r.Pools) > 0 && !slices.Contains(r.Pools, p.Name) {
			return nil, failf(ReasonIPOutsideEips, "%s asks for %s from Eip %s, but %s belongs to Eip %q",
				r.Key, addr, strings.Join(r.Pools, ","), addr, p.Name)
		}
		if !p.Admits(r.Namespace, r.NamespaceLabels) {
			return nil, failf(ReasonNamespaceNotAdmitted, "%s asks for %s, but Eip %q is bound to other namespaces", r.Key, addr, p.Name)
		}
		holders := a.holders[addr]
		alreadyMine := slices.ContainsFunc(holders, func(o holder) bool { return o.key == r.Key })
		if !alreadyMine && !p.CanAllocate() {
			return nil, failf(ReasonEipDisabled, "%s asks for %s, but Eip %q is %s", r.Key, addr, p.Name, unavailable(p))
		}
		if !alreadyMine && !p.Usable(addr) {
			return nil, failf(ReasonIPAvoided, "%s asks for %s, but Eip %q has spec.avoidBuggyIPs set and hands out no IPv4 address ending in .0 or .255; ask for another address",
				r.Key, addr, p.Name)
		}
		if ok, why := h.canShareWith(holders, !alreadyMine); !ok {
			return nil, failf(ReasonIPInUse, "%s asks for %s, which is %s", r.Key, addr, why)
		}
	}
	return slices.Clone(r.Addresses), nil
}

func (a *Allocator) chooseNamed(r Request) ([]netip.Addr, error) {
	var out []netip.Addr
	seen := map[Family]string{}
	for _, name := range r.Pools {
		p, ok := a.pools[name]
		if !ok {
			return nil, failf(ReasonEipNotFound, "%s names Eip %q, which does not exist or is invalid", r.Key, name)
		}
		f := IPv4
		if !p.Range.Is4() {
			f = IPv6
		}
		if other, dup := seen[f]; dup {
			return nil, failf(ReasonInvalidRequest, "%s names Eips %q and %q, both %s; name at most one per family", r.Key, other, name, f)
		}
		seen[f] = name
		if !slices.Contains(r.Families, f) {
			return nil, failf(ReasonFamilyMismatch, "%s names Eip %q (%s), but the Service's IP families are %s",
				r.Key, name, f, describeFamilies(r.Families))
		}
		if !p.Admits(r.Namespace, r.NamespaceLabels) {
			return nil, failf(ReasonNamespaceNotAdmitted, "%s names Eip %q, which is bound to other namespaces (spec.namespaces / spec.namespaceSelector)", r.Key, name)
		}
		if !p.CanAllocate() {
			return nil, failf(ReasonEipDisabled, "%s names Eip %q, which is %s", r.Key, name, unavailable(p))
		}
		if addr, ok := a.sharedWithKey(r, p); ok {
			out = append(out, addr)
			continue
		}
		addr, ok := a.lowestFree(p)
		if !ok {
			return nil, failf(ReasonPoolExhausted, "%s: Eip %q is exhausted (%d of %d addresses in use)", r.Key, name, p.used-p.unusableHeld, p.UsableSize())
		}
		out = append(out, addr)
	}
	return out, nil
}

func (a *Allocator) chooseFamilies(r Request) ([]netip.Addr, error) {
	families := r.Families
	if len(families) == 0 {
		families = []Family{IPv4}
	}
	var out []netip.Addr
	var firstErr error
	for _, f := range families {
		addr, err := a.chooseAutomatic(r, f)
		if err != nil {
			if r.RequireAllFamilies {
				return nil, err
			}
			if firstErr == nil {
				firstErr = err
			}
			continue
		}
		out = append(out, addr)
	}
	if len(out) == 0 {
		return nil, firstErr
	}
	return out, nil
}

// chooseAutomatic applies OpenELB's pool order for one family.
func (a *Allocator) chooseAutomatic(r Request, f Family) (netip.Addr, error) {
	var bound, defaults []*poolState
	for _, p := range a.pools {
		if p.Range.Is4() != (f == IPv4) {
			continue
		}
		if p.BindsNamespace(r.Namespace, r.NamespaceLabels) {
			bound = append(bound, p)
		} else if p.Default && !p.IsBound() {
			defaults = append(defaults, p)
		}
	}
	candidates := bound
	if len(bound) == 0 {
		candidates = defaults
	}
	if len(candidates) == 0 {
		return netip.Addr{}, failf(ReasonNoPool, "%s: no %s Eip is bound to namespace %q and there is no default %s Eip; "+
			"name an Eip with the annotation eip.openelb.kubesphere.io/v1alpha2, bind one to the namespace, or mark one with eip.openelb.kubesphere.io/is-default-eip: \"true\"",
			r.Key, f, r.Namespace, f)
	}
	slices.SortFunc(candidates, func(x, y *poolState) int {
		if c := compareBool(x.full(), y.full()); c != 0 {
			return c
		}
		return cmp.Or(cmp.Compare(x.Priority, y.Priority), strings.Compare(x.Name, y.Name))
	})
	// A keyed Service joins an address its key already holds in one of
	// the candidate pools before it takes a new one: that is what the key
	// asks for.
	for _, p := range candidates {
		if p.CanAllocate() {
			if addr, ok := a.sharedWithKey(r, p); ok {
				return addr, nil
			}
		}
	}
	var tried []string
	for _, p := range candidates {
		if !p.CanAllocate() {
			tried = append(tried, p.Name+" ("+unavailable(p)+")")
			continue
		}
		if addr, ok := a.lowestFree(p); ok {
			return addr, nil
		}
		tried = append(tried, p.Name+" (exhausted)")
	}
	return netip.Addr{}, failf(ReasonPoolExhausted, "%s: no %s address left in Eip %s", r.Key, f, strings.Join(tried, ", "))
}

// sharedWithKey returns the lowest address of a pool that Services with the
// request's sharing key hold and that the request may join.
func (a *Allocator) sharedWithKey(r Request, p *poolState) (netip.Addr, bool) {
	if r.SharingKey == "" {
		return netip.Addr{}, false
	}
	h := holderOf(r, false)
	var best netip.Addr
	for addr, holders := range a.holders {
		if !p.Range.Contains(addr) || !p.Usable(addr) || (best.IsValid() && !addr.Less(best)) {
			continue
		}
		if !slices.ContainsFunc(holders, func(o holder) bool { return o.sharingKey == r.SharingKey }) {
			continue
		}
		if ok, _ := h.canShareWith(holders, true); ok {
			best = addr
		}
	}
	return best, best.IsValid()
}

// lowestFree returns the lowest free address of a pool, moving the pool's
// hint forward past the held ones it skips.
func (a *Allocator) lowestFree(p *poolState) (netip.Addr, bool) {
	if p.full() {
		return netip.Addr{}, false
	}
	for i := p.next; ; i++ {
		addr, ok := p.Range.Nth(i)
		if !ok {
			return netip.Addr{}, false
		}
		if len(a.holders[addr]) == 0 && p.Usable(addr) {
			p.next = i
			return addr, true
		}
	}
}

func unavailable(p *poolState) string {
	if p.Deleting {
		return "being deleted"
	}
	return "disabled"
}

func compareBool(x, y bool) int {
	switch {
	case x == y:
		return 0
	case !x:
		return -1
	default:
		return 1
	}
}
