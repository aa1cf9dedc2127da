package keepalived

import (
	"errors"
	"fmt"
	"net/netip"

	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"
)

// NetlinkAddresses is the AddressRemover of a real node: it deletes
// addresses through netlink in the network namespace of Handle, or the
// caller's when Handle is nil (the supervisor runs in the node's).
type NetlinkAddresses struct {
	Handle *netlink.Handle
}

var _ AddressRemover = NetlinkAddresses{}

// RemoveAddress deletes the address that equals addr exactly, address and
// prefix length, from ifname; a /24 holding the same address stays.
func (n NetlinkAddresses) RemoveAddress(ifname string, addr netip.Prefix) (bool, error) {
	a := addr.Addr()
	if !addr.IsValid() || a.Zone() != "" || addr.Bits() != a.BitLen() {
		return false, fmt.Errorf("remove address %s from %s: not a host prefix", addr, ifname)
	}
	h := n.Handle
	if h == nil {
		h = &netlink.Handle{} // a request socket per call, in the caller's namespace
	}
	link, err := h.LinkByName(ifname)
	if err != nil {
		var missing netlink.LinkNotFoundError
		if errors.As(err, &missing) {
			return false, nil
		}
		return false, fmt.Errorf("remove address %s: interface %s: %w", addr, ifname, err)
	}
	family := netlink.FAMILY_V4
	if a.Is6() {
		family = netlink.FAMILY_V6
	}
	list, err := h.AddrList(link, family)
	if err != nil {
		return false, fmt.Errorf("remove address %s: list the addresses of %s: %w", addr, ifname, err)
	}
	for _, have := range list {
		got, ok := netip.AddrFromSlice(have.IPNet.IP)
		ones, bits := have.IPNet.Mask.Size()
		if !ok || got.Unmap() != a || ones != addr.Bits() || bits != a.BitLen() {
			continue
		}
		if err := h.AddrDel(link, &have); err != nil {
			if errors.Is(err, unix.EADDRNOTAVAIL) {
				return false, nil // gone meanwhile
			}
			return false, fmt.Errorf("remove address %s from %s: %w", addr, ifname, err)
		}
		return true, nil
	}
	return false, nil
}
