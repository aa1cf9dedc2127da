package speaker

import (
	"fmt"
	"net/netip"
	"slices"
	"strings"

	"github.com/herald-lb/herald/internal/eippool"
	"github.com/herald-lb/herald/keepalived"
)

// VIPMember is one live speaker as VIP mode sees it: the node it runs on,
// the node's addresses (unicast peers and sources, and proof that it can
// run instances of a family at all) and the vip Eips whose interface does
// not resolve there. The source is the speakers' per-node Leases, as for
// Layer2; every speaker reads the same view, so all rank alike.
type VIPMember struct {
	Name string
	// Addrs are the node's addresses; the first of each family counts.
	Addrs []netip.Addr
	// UnavailableEips are the vip Eips the node cannot hold addresses of.
	UnavailableEips []string
}

// VIPProblem says why a claimed address is not served as expected. They
// are logged, not returned as errors: each concerns one VIP, and the others
// must still be rendered.
type VIPProblem struct {
	Addr   netip.Addr
	Reason string
}

func (p VIPProblem) String() string { return fmt.Sprintf("vip %s: %s", p.Addr, p.Reason) }

// VIP problem reasons.
const (
	problemNoVRID       = "no VRID assigned yet (or range exhausted)"
	problemNoEip        = "its Eip is not an accepted vip pool"
	problemNoEligible   = "no eligible node (live, interface resolved, an address of its family, and a ready endpoint when Local)"
	problemNotHere      = "this node is not eligible: %v"
	problemNoFamilyAddr = "this node is not eligible: it has no %s address"
)

// vipConfig is this node's keepalived Config for the claims, and the
// problems met on the way. It is pure, and every node computes the same
// VIPs with the same rankings from the same inputs; only Node and the
// interface names, which are this node's, differ.
//
// A claim without a VRID is left out: speakers never allocate, and an
// instance without one cannot be rendered. The nodes eligible for a VIP
// are the live members that do not list its Eip as unavailable and have
// an address of its family (unicast needs one; a node without any IPv6
// address has no business in IPv6 VRRP either); this node is also
// ineligible when ifaces gives an error for the pool (its interface does
// not resolve here, or the node's labels leave it out of the Eip), even
// before its Lease says so. A Local claim restricts them further to the
// nodes with a ready endpoint of every Service sharing the address, and
// when none of the eligible ones has, to those with an endpoint of at
// least one: the rule Layer2 ownership follows (layer2.AssignOwners).
// Ranked is keepalived.Rank over what remains. The track file of a Local
// VIP (written by VIPMode) then only has to cover the moments between an
// endpoint change and keepalived's reload.
//
// Claims, pools and members may come in any order; the output does not
// depend on it.
func vipConfig(node string, claims []VIPClaim, pools []eippool.Pool, vrids map[netip.Addr]keepalived.VRID,
	members []VIPMember, ifaces func(pool eippool.Pool) (string, error), settings keepalived.Settings,
) (keepalived.Config, []VIPProblem) {
	cfg := keepalived.Config{Node: node, Settings: settings, NodeAddrs: map[string][]netip.Addr{}}
	live := slices.Clone(members)
	slices.SortStableFunc(live, func(a, b VIPMember) int { return strings.Compare(a.Name, b.Name) })
	live = slices.CompactFunc(live, func(a, b VIPMember) bool { return a.Name == b.Name })
	for _, m := range live {
		cfg.NodeAddrs[m.Name] = slices.Clone(m.Addrs)
	}
	poolByName := make(map[string]eippool.Pool, len(pools))
	for _, p := range pools {
		poolByName[p.Name] = p
	}

	var problems []VIPProblem
	for _, c := range claims {
		addr := c.Addr.Unmap()
		vrid, ok := vrids[addr]
		if !ok {
			problems = append(problems, VIPProblem{addr, problemNoVRID})
			continue
		}
		pool, ok := poolByName[c.Eip]
		if !ok {
			problems = append(problems, VIPProblem{addr, problemNoEip})
			continue
		}
		iface, notHere := ifaces(pool)
		here := notHere == nil
		if !here {
			problems = append(problems, VIPProblem{addr, fmt.Sprintf(problemNotHere, notHere)})
			iface = ""
		}
		var eligible []string
		for _, m := range live {
			if slices.Contains(m.UnavailableEips, c.Eip) || (m.Name == node && !here) {
				continue
			}
			if !hasFamily(m.Addrs, addr) {
				if m.Name == node && here {
					problems = append(problems, VIPProblem{addr, fmt.Sprintf(problemNoFamilyAddr, familyOf(addr))})
				}
				continue
			}
			eligible = append(eligible, m.Name)
		}
		if c.Local {
			eligible = restrictLocal(eligible, c)
		}
		if len(eligible) == 0 {
			problems = append(problems, VIPProblem{addr, problemNoEligible})
		}
		cfg.VIPs = append(cfg.VIPs, keepalived.VIP{
			Addr:      addr,
			VRID:      vrid,
			Interface: iface,
			Ranked:    keepalived.Rank(addr, eligible),
			Local:     c.Local,
			Override:  pool.VRRP,
		})
	}
	slices.SortFunc(cfg.VIPs, func(a, b keepalived.VIP) int { return a.Addr.Compare(b.Addr) })
	slices.SortStableFunc(problems, func(a, b VIPProblem) int {
		if c := a.Addr.Compare(b.Addr); c != 0 {
			return c
		}
		return strings.Compare(a.Reason, b.Reason)
	})
	return cfg, problems
}

// restrictLocal keeps the eligible nodes that can hold c for every Service
// sharing it, or, when there are none, for at least one (nil lists mean
// any node).
func restrictLocal(eligible []string, c VIPClaim) []string {
	in := func(set []string) []string {
		if set == nil {
			return eligible
		}
		var out []string
		for _, n := range eligible {
			if slices.Contains(set, n) {
				out = append(out, n)
			}
		}
		return out
	}
	if all := in(c.Nodes); len(all) > 0 {
		return all
	}
	return in(c.SomeNodes)
}

// hasFamily reports whether addrs hold an address of vip's family.
func hasFamily(addrs []netip.Addr, vip netip.Addr) bool {
	for _, a := range addrs {
		if a = a.Unmap(); a.IsValid() && a.Is4() == vip.Is4() {
			return true
		}
	}
	return false
}

func familyOf(a netip.Addr) string {
	if a.Is4() {
		return "IPv4"
	}
	return "IPv6"
}
