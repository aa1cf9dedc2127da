package speaker

import (
	"fmt"
	"net/netip"

	"github.com/vishvananda/netlink"
)

// SystemInterfaceAddrs reads the node's interfaces and addresses from the
// kernel with two netlink dumps, whatever the number of interfaces
// (net.Interface.Addrs dumps every address once per interface).
func SystemInterfaceAddrs() (map[string][]netip.Addr, error) {
	links, err := netlink.LinkList()
	if err != nil {
		return nil, fmt.Errorf("list interfaces: %w", err)
	}
	addrs, err := netlink.AddrList(nil, netlink.FAMILY_ALL)
	if err != nil {
		return nil, fmt.Errorf("list addresses: %w", err)
	}
	names := make(map[int]string, len(links))
	out := make(map[string][]netip.Addr, len(links))
	for _, l := range links {
		names[l.Attrs().Index] = l.Attrs().Name
		out[l.Attrs().Name] = nil
	}
	for _, a := range addrs {
		name, ok := names[a.LinkIndex]
		if !ok || a.IPNet == nil {
			continue
		}
		if ip, ok := netip.AddrFromSlice(a.IP); ok {
			out[name] = append(out[name], ip.Unmap())
		}
	}
	return out, nil
}
