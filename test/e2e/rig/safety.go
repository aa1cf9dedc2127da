package rig

import (
	"fmt"
	"net"
	"net/netip"
	"os"
	"slices"
	"strings"

	"github.com/google/go-cmp/cmp"
	"github.com/vishvananda/netlink"
)

// Addresses outside the testbed the safety check asks the router and the
// client for a route to (TEST-NET-1 and the IPv6 documentation prefix): a
// route means a path out of the testbed exists.
var outsideProbes = []netip.Addr{
	netip.MustParseAddr("192.0.2.1"),
	netip.MustParseAddr("2001:db8::1"),
}

// hostState is what the rig must never change in the host's namespace.
type hostState struct {
	Links     []string // "name mac"
	Addrs     []string // "dev address/len"
	IPForward string
}

// snapshotHost records the host namespace's links, addresses and
// ip_forward (read by the test process, which never leaves that namespace).
func snapshotHost() (hostState, error) {
	var s hostState
	links, err := netlink.LinkList()
	if err != nil {
		return s, fmt.Errorf("list host links: %w", err)
	}
	names := map[int]string{}
	for _, l := range links {
		a := l.Attrs()
		names[a.Index] = a.Name
		s.Links = append(s.Links, a.Name+" "+a.HardwareAddr.String())
	}
	addrs, err := netlink.AddrList(nil, netlink.FAMILY_ALL)
	if err != nil {
		return s, fmt.Errorf("list host addresses: %w", err)
	}
	for _, a := range addrs {
		s.Addrs = append(s.Addrs, names[a.LinkIndex]+" "+a.IPNet.String())
	}
	slices.Sort(s.Links)
	slices.Sort(s.Addrs)
	fwd, err := os.ReadFile("/proc/sys/net/ipv4/ip_forward")
	if err != nil {
		return s, fmt.Errorf("read host ip_forward: %w", err)
	}
	s.IPForward = strings.TrimSpace(string(fwd))
	return s, nil
}

// checkNoOverlap fails when one of the testbed's prefixes overlaps a
// network of the host's: the plan would then shadow a real one.
func checkNoOverlap(s hostState) error {
	for _, a := range s.Addrs {
		_, cidr, _ := strings.Cut(a, " ")
		p, err := netip.ParsePrefix(cidr)
		if err != nil || p.Addr().IsLoopback() || p.Addr().IsLinkLocalUnicast() {
			continue
		}
		for _, mine := range []netip.Prefix{LANv4, LANv6, UplinkV4, UplinkV6, PoolV4, PoolV6} {
			if mine.Overlaps(p.Masked()) {
				return fmt.Errorf("testbed prefix %s overlaps the host's %s", mine, a)
			}
		}
	}
	return nil
}

// checkSafety asserts that neither the router nor the client has a route
// out of the testbed (`ip route get` sends no packet), and that the host's
// namespace is as it was before the rig was built.
func (r *Rig) checkSafety(before hostState) error {
	for _, h := range []Host{r.Router, r.Client} {
		nh, err := r.handle(h.NS)
		if err != nil {
			return err
		}
		for _, dst := range outsideProbes {
			routes, err := nh.RouteGet(net.IP(dst.AsSlice()))
			if err == nil {
				return fmt.Errorf("%s has a route to %s outside the testbed: %+v", h.Name, dst, routes)
			}
		}
	}
	return hostUnchanged(before)
}

// CheckHostUnchanged compares the host's namespace with its state before
// Up: no new link, no new address, ip_forward untouched. It works after
// Down too.
func (r *Rig) CheckHostUnchanged() error {
	return hostUnchanged(r.hostBefore)
}

func hostUnchanged(before hostState) error {
	after, err := snapshotHost()
	if err != nil {
		return err
	}
	if diff := cmp.Diff(before, after); diff != "" {
		return fmt.Errorf("the host's namespace changed (-before +after):\n%s", diff)
	}
	return nil
}
