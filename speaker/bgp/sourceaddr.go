package bgp

import (
	"fmt"
	"net/netip"
	"slices"
	"sort"

	"github.com/herald-lb/herald/api/v1alpha2"
)

// readSourceAddress applies a BgpPeer's sourceAddress rule on this node:
// the first global address of the neighbour's family on the named
// interface, or the node's address inside the CIDR. A node without such an
// address runs no session with the peer (a problem says why): the kernel's
// choice would be an address the rule was written to avoid, and the routes
// would carry it as their next hop.
func (p *Peer) readSourceAddress(s *v1alpha2.PeerSourceAddress, node Node) (string, bool) {
	if s == nil || (s.Interface == "" && s.CIDR == "") {
		return "", true
	}
	family := "IPv4"
	if p.Address.Unmap().Is6() {
		family = "IPv6"
	}
	sameFamily := func(a netip.Addr) bool { return a.Unmap().Is4() == p.Address.Unmap().Is4() }
	const notStarted = "; the session is not started on this node until it has one"
	switch {
	case s.Interface != "" && s.CIDR != "":
		return "spec.sourceAddress: set interface or cidr, not both; the peer is not started", false
	case s.Interface != "":
		addrs, ok := node.Interfaces[s.Interface]
		if !ok {
			return fmt.Sprintf("spec.sourceAddress.interface: node %q has no interface %q%s", node.Name, s.Interface, notStarted), false
		}
		for _, a := range addrs {
			if sameFamily(a) && a.IsGlobalUnicast() {
				p.LocalAddress = a.Unmap()
				return "", true
			}
		}
		return fmt.Sprintf("spec.sourceAddress.interface: interface %q of node %q has no global %s address%s", s.Interface, node.Name, family, notStarted), false
	default:
		cidr, err := netip.ParsePrefix(s.CIDR)
		if err != nil {
			return fmt.Sprintf("spec.sourceAddress.cidr: %v; the peer is not started", err), false
		}
		cidr = cidr.Masked()
		if cidr.Addr().Is4() != p.Address.Unmap().Is4() {
			return fmt.Sprintf("spec.sourceAddress.cidr: %s is not of the neighbour's family (%s); the peer is not started", cidr, family), false
		}
		names := make([]string, 0, len(node.Interfaces))
		for n := range node.Interfaces {
			names = append(names, n)
		}
		sort.Strings(names)
		for _, n := range names {
			if i := slices.IndexFunc(node.Interfaces[n], func(a netip.Addr) bool { return cidr.Contains(a.Unmap()) }); i >= 0 {
				p.LocalAddress = node.Interfaces[n][i].Unmap()
				return "", true
			}
		}
		return fmt.Sprintf("spec.sourceAddress.cidr: node %q has no address in %s%s", node.Name, cidr, notStarted), false
	}
}
