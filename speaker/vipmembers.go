package speaker

import (
	"errors"
	"fmt"
	"maps"
	"net"
	"net/netip"
	"slices"
	"strings"

	"github.com/herald-lb/herald/internal/eippool"
	"github.com/herald-lb/herald/speaker/layer2"
)

// VIPMembers is the membership view as VIP mode needs it (VIPMode.Members):
// every known speaker (layer2.Members.Known: live, or renewed or released
// within the known TTL) with the addresses and the unavailable Eips its
// Lease publishes, sorted by name. Known rather than live: keepalived
// keeps running while a node's speaker crashes, restarts or is upgraded,
// so the others must keep ranking that node as before, or they would
// re-render every VIP it takes part in and fight its keepalived; VRRP
// itself finds nodes that are really gone. It is nil while no session runs (no layer2 or
// vip pool) and until this node's view has been confirmed once, so that a
// speaker just started never ranks itself alone for every VIP. A view
// frozen after that (this node cut off from the API server) is returned
// as it is: like Layer2, VIP mode keeps rendering the last view.
//
// It is safe to call from any goroutine, VIPMode.Apply on the reconciler's
// included: m.mu is held only to read the session, never around the
// session's Snapshot, which takes only the view's own lock.
func (m *Layer2Mode) VIPMembers() []VIPMember {
	m.mu.Lock()
	session := m.session
	m.mu.Unlock()
	if session == nil {
		return nil
	}
	view := session.Snapshot()
	if len(view.Known) == 0 {
		return nil // never confirmed: frozen and empty
	}
	out := make([]VIPMember, 0, len(view.Known))
	for _, n := range slices.Sorted(maps.Keys(view.Known)) {
		out = append(out, VIPMember{
			Name:            n,
			Addrs:           slices.Clone(view.Addrs[n]),
			UnavailableEips: slices.Clone(view.Known[n]),
		})
	}
	return out
}

// vipSourceAddrs are the addresses this node publishes for VIP mode: for
// each family, the first global unicast address on the interfaces its vip
// pools resolve to (ifaces), pools taken in name order and each
// interface's addresses in the order the system lists them. Link-local
// addresses cannot be unicast VRRP peers across nodes; addresses inside an
// accepted pool are VIPs (keepalived puts them on these very interfaces)
// or other Herald addresses, never the node's own, and would move with
// the VIP. An Eip unavailable here contributes nothing. nil without vip
// pools, so that a Layer2-only cluster publishes none.
func (m *Layer2Mode) vipSourceAddrs(accepted, vipPools []eippool.Pool, ifaces layer2.EipInterfaces) []netip.Addr {
	if len(vipPools) == 0 {
		return nil
	}
	list := m.InterfaceAddrs
	if list == nil {
		list = hostInterfaceAddrs
	}
	addrs, err := pickSourceAddrs(accepted, vipPools, ifaces, list)
	if err != nil {
		// Transient (an interface gone since it was resolved); the next
		// reconcile, which its carrier change triggers, reads again.
		m.Log.V(1).Info("cannot read interface addresses for vip mode", "error", err.Error())
	}
	return addrs
}

// pickSourceAddrs is vipSourceAddrs over list; interfaces whose addresses
// cannot be read are skipped, and the errors joined.
func pickSourceAddrs(accepted, vipPools []eippool.Pool, ifaces layer2.EipInterfaces,
	list func(iface string) ([]netip.Addr, error),
) ([]netip.Addr, error) {
	pools := slices.SortedFunc(slices.Values(vipPools), func(a, b eippool.Pool) int { return strings.Compare(a.Name, b.Name) })
	inPool := func(a netip.Addr) bool {
		return slices.ContainsFunc(accepted, func(p eippool.Pool) bool { return p.Range.Contains(a) })
	}
	var v4, v6 netip.Addr
	read := map[string]bool{}
	var errs []error
	for _, p := range pools {
		if v4.IsValid() && v6.IsValid() {
			break
		}
		iface, ok := ifaces.Available[p.Name]
		if !ok || read[iface] {
			continue
		}
		read[iface] = true
		addrs, err := list(iface)
		if err != nil {
			errs = append(errs, fmt.Errorf("eip %q: interface %q: %w", p.Name, iface, err))
			continue
		}
		for _, a := range addrs {
			a = a.Unmap().WithZone("")
			if !a.IsGlobalUnicast() || inPool(a) {
				continue
			}
			if a.Is4() && !v4.IsValid() {
				v4 = a
			} else if a.Is6() && !v6.IsValid() {
				v6 = a
			}
		}
	}
	var out []netip.Addr
	for _, a := range []netip.Addr{v4, v6} {
		if a.IsValid() {
			out = append(out, a)
		}
	}
	return out, errors.Join(errs...)
}

// hostInterfaceAddrs lists the addresses of the named interface of this
// host (network namespace).
func hostInterfaceAddrs(name string) ([]netip.Addr, error) {
	ifi, err := net.InterfaceByName(name)
	if err != nil {
		return nil, err
	}
	addrs, err := ifi.Addrs()
	if err != nil {
		return nil, err
	}
	out := make([]netip.Addr, 0, len(addrs))
	for _, a := range addrs {
		if n, ok := a.(*net.IPNet); ok {
			if ip, ok := netip.AddrFromSlice(n.IP); ok {
				out = append(out, ip.Unmap())
			}
		}
	}
	return out, nil
}

// SetVIPConfigRefused publishes on this node's Lease the vip Eips whose
// instances here come from a config keepalived refused (VIPMode's
// PublishRefused), at once when the session runs, and with the next Apply
// into a session started later. It never blocks.
func (m *Layer2Mode) SetVIPConfigRefused(eips []string) {
	m.mu.Lock()
	m.vipRefused = slices.Clone(eips)
	s := m.session
	m.mu.Unlock()
	if s != nil {
		s.SetVIPConfigRefused(eips)
	}
}
