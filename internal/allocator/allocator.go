package allocator

import (
	"fmt"
	"net/netip"
	"slices"
	"strings"

	"github.com/herald-lb/herald/internal/eippool"
)

// Allocator holds the pools and every Service's addresses.
type Allocator struct {
	pools    map[string]*poolState
	services map[string][]netip.Addr
	holders  map[netip.Addr][]holder
	// namedFor records the Eips named by the request each Service's
	// addresses were granted for; the grant stands while the names do,
	// whatever happens to the pools.
	namedFor map[string]string
}

type poolState struct {
	eippool.Pool
	// used counts the distinct addresses of the pool that are held.
	used uint64
	// unusableHeld counts those of them the pool would not hand out now
	// (avoidBuggyIPs set after they were allocated): they count in used,
	// but not against the usable size.
	unusableHeld uint64
	// next is a lower bound of the lowest free index, so that finding the
	// lowest free address is amortised O(1).
	next uint64
}

func (p *poolState) full() bool { return p.used-p.unusableHeld >= p.UsableSize() }

// hold and drop count an address of the pool coming into and going out of
// use.
func (p *poolState) hold(addr netip.Addr) {
	p.used++
	if !p.Usable(addr) {
		p.unusableHeld++
	}
}

func (p *poolState) drop(addr netip.Addr) {
	p.used--
	if !p.Usable(addr) {
		p.unusableHeld--
	}
}

// New returns an empty allocator.
func New() *Allocator {
	return &Allocator{
		pools:    map[string]*poolState{},
		services: map[string][]netip.Addr{},
		holders:  map[netip.Addr][]holder{},
		namedFor: map[string]string{},
	}
}

// SetPools replaces the pool configuration. Addresses already held stay
// held, even when no pool contains them any more.
func (a *Allocator) SetPools(pools []eippool.Pool) {
	next := make(map[string]*poolState, len(pools))
	for _, p := range pools {
		st := &poolState{Pool: p}
		if old, ok := a.pools[p.Name]; ok && old.Range == p.Range {
			st.next = old.next
		}
		next[p.Name] = st
	}
	a.pools = next
	for addr := range a.holders {
		if p := a.poolOf(addr); p != nil {
			p.hold(addr)
		}
	}
}

// Pool returns the pool with this name.
func (a *Allocator) Pool(name string) (eippool.Pool, bool) {
	p, ok := a.pools[name]
	if !ok {
		return eippool.Pool{}, false
	}
	return p.Pool, true
}

// Addresses returns the addresses a Service holds.
func (a *Allocator) Addresses(key string) []netip.Addr {
	return slices.Clone(a.services[key])
}

// Holders returns the Services holding an address, sorted.
func (a *Allocator) Holders(addr netip.Addr) []string {
	var keys []string
	for _, h := range a.holders[addr] {
		keys = append(keys, h.key)
	}
	slices.Sort(keys)
	return keys
}

// Usage returns the held addresses of a pool with their holders.
func (a *Allocator) Usage(pool string) map[netip.Addr][]string {
	p, ok := a.pools[pool]
	if !ok {
		return nil
	}
	used := map[netip.Addr][]string{}
	for addr := range a.holders {
		if p.Range.Contains(addr) {
			used[addr] = a.Holders(addr)
		}
	}
	return used
}

// Full reports whether a pool has no usable address left to hand out.
func (a *Allocator) Full(pool string) bool {
	p, ok := a.pools[pool]
	return ok && p.full()
}

// Unusable returns the held addresses of a pool that it would not hand out
// now (avoidBuggyIPs was set after they were allocated), sorted.
func (a *Allocator) Unusable(pool string) []netip.Addr {
	p, ok := a.pools[pool]
	if !ok || p.unusableHeld == 0 {
		return nil
	}
	var out []netip.Addr
	for addr := range a.holders {
		if p.Range.Contains(addr) && !p.Usable(addr) {
			out = append(out, addr)
		}
	}
	slices.SortFunc(out, netip.Addr.Compare)
	return out
}

// InUse returns how many distinct addresses of a pool are held.
func (a *Allocator) InUse(pool string) uint64 {
	if p, ok := a.pools[pool]; ok {
		return p.used
	}
	return 0
}

// Restore records addresses a Service already holds (read from its
// status). It refuses an address another Service holds unless the two may
// share it; the caller then allocates the later Service anew.
func (a *Allocator) Restore(r Request, addrs []netip.Addr) error {
	if len(addrs) == 0 {
		return nil
	}
	h := holderOf(r, len(r.Addresses) > 0 && sameSet(r.Addresses, addrs))
	for _, addr := range addrs {
		if ok, why := h.canShareWith(a.holders[addr], false); !ok {
			return failf(ReasonAddressConflict, "%s: cannot keep %s from its status: %s", r.Key, addr, why)
		}
	}
	a.Release(r.Key)
	a.commit(h, addrs)
	a.namedFor[r.Key] = poolNames(r)
	return nil
}

// Allocate returns the Service's addresses, allocating them when it has
// none or when what it asks for changed. When the new request cannot be
// met the Service keeps what it had, unless its own change made it clash
// with a Service it shares an address with: then it gives that address up,
// and the Services that did not change keep theirs.
func (a *Allocator) Allocate(r Request) ([]netip.Addr, error) {
	current := a.services[r.Key]
	var clash error
	if len(current) > 0 {
		clash = a.clash(r, current)
		if clash == nil && a.satisfies(r, current) {
			a.refreshHolder(r, current)
			if len(r.Addresses) == 0 && len(r.Pools) == 0 {
				return a.extendFamilies(r, current)
			}
			return slices.Clone(current), nil
		}
		if clash != nil {
			a.Release(r.Key)
			current = nil
		} else {
			// Whatever happens next, what it holds is now shared on its
			// current terms.
			a.refreshHolder(r, current)
		}
	}
	addrs, err := a.choose(r)
	if err != nil {
		if clash != nil {
			err = failf(ReasonOf(err), "%v; and: %v", clash, err)
		}
		return slices.Clone(current), err
	}
	a.Release(r.Key)
	a.commit(holderOf(r, len(r.Addresses) > 0), addrs)
	a.namedFor[r.Key] = poolNames(r)
	return slices.Clone(addrs), nil
}

// poolNames is the canonical form of the Eips a request names.
func poolNames(r Request) string {
	names := slices.Clone(r.Pools)
	slices.Sort(names)
	return strings.Join(names, ",")
}

// Release frees a Service's addresses.
func (a *Allocator) Release(key string) {
	for _, addr := range a.services[key] {
		hs := slices.DeleteFunc(a.holders[addr], func(h holder) bool { return h.key == key })
		if len(hs) > 0 {
			a.holders[addr] = hs
			continue
		}
		delete(a.holders, addr)
		if p := a.poolOf(addr); p != nil {
			p.drop(addr)
			if idx, ok := p.Range.Index(addr); ok && idx < p.next {
				p.next = idx
			}
		}
	}
	delete(a.services, key)
	delete(a.namedFor, key)
}

func (a *Allocator) commit(h holder, addrs []netip.Addr) {
	for _, addr := range addrs {
		if len(a.holders[addr]) == 0 {
			if p := a.poolOf(addr); p != nil {
				p.hold(addr)
			}
		}
		a.holders[addr] = append(a.holders[addr], h)
	}
	a.services[h.key] = slices.Clone(addrs)
}

// clash reports whether a Service's current ports and traffic policy
// forbid it to keep sharing the addresses it holds.
func (a *Allocator) clash(r Request, addrs []netip.Addr) error {
	for _, addr := range addrs {
		if ok, why := holderOf(r, false).canShareWith(a.holders[addr], false); !ok {
			return failf(ReasonIPInUse, "%s gives up %s: its ports or traffic policy now clash, %s is %s", r.Key, addr, addr, why)
		}
	}
	return nil
}

// refreshHolder records a Service's current ports and traffic policy on
// the addresses it keeps.
func (a *Allocator) refreshHolder(r Request, addrs []netip.Addr) {
	for _, addr := range addrs {
		for i, h := range a.holders[addr] {
			if h.key == r.Key {
				a.holders[addr][i] = holderOf(r, h.explicit && slices.Contains(r.Addresses, addr))
			}
		}
	}
}

// poolOf returns the pool containing addr, if any.
func (a *Allocator) poolOf(addr netip.Addr) *poolState {
	for _, p := range a.pools {
		if p.Range.Contains(addr) {
			return p
		}
	}
	return nil
}

// satisfies reports whether the addresses a Service holds still match what
// it asks for.
func (a *Allocator) satisfies(r Request, current []netip.Addr) bool {
	switch {
	case len(r.Addresses) > 0:
		return sameSet(r.Addresses, current)
	case len(r.Pools) > 0:
		if len(r.Pools) != len(current) {
			return false
		}
		return a.namedFor[r.Key] == poolNames(r)
	default:
		for _, addr := range current {
			if !slices.Contains(r.Families, FamilyOf(addr)) {
				return false
			}
		}
		return true
	}
}

// extendFamilies adds an address of each wanted family the Service lacks
// (a Service that became dual-stack), keeping what it has.
func (a *Allocator) extendFamilies(r Request, current []netip.Addr) ([]netip.Addr, error) {
	out := slices.Clone(current)
	var errs []string
	for _, f := range r.Families {
		if slices.ContainsFunc(current, func(addr netip.Addr) bool { return FamilyOf(addr) == f }) {
			continue
		}
		addr, err := a.chooseAutomatic(r, f)
		if err != nil {
			if r.RequireAllFamilies {
				errs = append(errs, err.Error())
			}
			continue
		}
		a.commitOne(r, addr)
		out = append(out, addr)
	}
	if len(errs) > 0 {
		return out, failf(ReasonPoolExhausted, "%s", strings.Join(errs, "; "))
	}
	return out, nil
}

func (a *Allocator) commitOne(r Request, addr netip.Addr) {
	h := holderOf(r, false)
	if len(a.holders[addr]) == 0 {
		if p := a.poolOf(addr); p != nil {
			p.hold(addr)
		}
	}
	a.holders[addr] = append(a.holders[addr], h)
	a.services[r.Key] = append(a.services[r.Key], addr)
}

func sameSet(x, y []netip.Addr) bool {
	if len(x) != len(y) {
		return false
	}
	for _, addr := range x {
		if !slices.Contains(y, addr) {
			return false
		}
	}
	return true
}

func describeFamilies(fs []Family) string {
	var parts []string
	for _, f := range fs {
		parts = append(parts, f.String())
	}
	return fmt.Sprintf("[%s]", strings.Join(parts, ", "))
}

// PoolOf returns the name of the pool containing addr.
func (a *Allocator) PoolOf(addr netip.Addr) (string, bool) {
	if p := a.poolOf(addr); p != nil {
		return p.Name, true
	}
	return "", false
}
