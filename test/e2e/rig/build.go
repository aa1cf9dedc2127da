package rig

import (
	"context"
	"fmt"
	"net"
	"net/netip"
	"time"

	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netns"
	"golang.org/x/sys/unix"
)

// nodadFlag skips IPv6 duplicate address detection, so that addresses are
// usable at once.
const nodadFlag = unix.IFA_F_NODAD

// build creates the namespaces, links, sysctls, addresses and routes. Links
// are created inside their namespaces directly (the bridge namespace's
// netlink socket creates each veth with its peer placed in the host's
// namespace), so no interface ever appears in the host's namespace, even
// for a moment.
func (r *Rig) build(ctx context.Context) error {
	t0 := time.Now()
	for _, ns := range r.Namespaces() {
		if _, err := run(ctx, "ip", "netns", "add", ns); err != nil {
			return err
		}
		fd, err := netns.GetFromName(ns)
		if err != nil {
			return fmt.Errorf("open namespace %s: %w", ns, err)
		}
		h, err := netlink.NewHandleAt(fd)
		if err != nil {
			fd.Close()
			return fmt.Errorf("netlink handle in %s: %w", ns, err)
		}
		r.mu.Lock()
		r.nsFDs[ns], r.handles[ns] = fd, h
		r.mu.Unlock()
	}
	tNS := time.Now()

	if err := r.buildLinks(); err != nil {
		return err
	}
	tLinks := time.Now()

	// Sysctls before any interface is up: accept_dad and disable_ipv6 must
	// be in force when the link-local addresses appear.
	for ns, kv := range sysctls(r.Plan, r.opts.NeighReachable) {
		if err := r.applySysctls(ctx, ns, kv); err != nil {
			return err
		}
	}
	tSysctl := time.Now()

	for _, h := range r.Hosts() {
		if err := r.configureHost(h); err != nil {
			return err
		}
	}
	br := r.handles[r.BridgeNS]
	for _, h := range r.Hosts() {
		if err := setUp(br, h.LAN.Port); err != nil {
			return fmt.Errorf("bridge: %w", err)
		}
	}
	if err := setUp(br, BridgeLink); err != nil {
		return fmt.Errorf("bridge: %w", err)
	}
	for _, h := range r.Hosts() {
		if err := r.addRoutes(h); err != nil {
			return err
		}
	}
	r.logf("rig %s: namespaces %v, links %v, sysctls %v, addresses and routes %v",
		r.Prefix, tNS.Sub(t0).Round(time.Millisecond), tLinks.Sub(tNS).Round(time.Millisecond),
		tSysctl.Sub(tLinks).Round(time.Millisecond), time.Since(tSysctl).Round(time.Millisecond))
	return nil
}

// buildLinks creates br0, one veth per host from the bridge to the host's
// eth0, and the router-client uplink. Everything starts down.
func (r *Rig) buildLinks() error {
	br := r.handles[r.BridgeNS]
	snoop := false
	bridge := &netlink.Bridge{
		LinkAttrs: netlink.LinkAttrs{Name: BridgeLink, HardwareAddr: bridgeMAC},
		// A dumb switch: flood multicast (NDP, VRRP) to every port instead
		// of depending on MLD/IGMP reports nobody queries for.
		MulticastSnooping: &snoop,
	}
	if err := br.LinkAdd(bridge); err != nil {
		return fmt.Errorf("add %s: %w", BridgeLink, err)
	}
	brLink, err := br.LinkByName(BridgeLink)
	if err != nil {
		return fmt.Errorf("find %s: %w", BridgeLink, err)
	}
	for _, h := range r.Hosts() {
		veth := &netlink.Veth{
			LinkAttrs: netlink.LinkAttrs{
				Name:         h.LAN.Port,
				HardwareAddr: portMAC(h.LAN),
				MasterIndex:  brLink.Attrs().Index,
			},
			PeerName:         h.LAN.Name,
			PeerHardwareAddr: h.LAN.MAC,
			PeerNamespace:    netlink.NsFd(r.nsFDs[h.NS]),
		}
		if err := br.LinkAdd(veth); err != nil {
			return fmt.Errorf("add veth %s <-> %s/%s: %w", h.LAN.Port, h.NS, h.LAN.Name, err)
		}
	}
	up := &netlink.Veth{
		LinkAttrs:        netlink.LinkAttrs{Name: r.Router.Uplink.Name, HardwareAddr: r.Router.Uplink.MAC},
		PeerName:         r.Client.Uplink.Name,
		PeerHardwareAddr: r.Client.Uplink.MAC,
		PeerNamespace:    netlink.NsFd(r.nsFDs[r.Client.NS]),
	}
	if err := r.handles[r.Router.NS].LinkAdd(up); err != nil {
		return fmt.Errorf("add uplink %s <-> %s: %w", r.Router.NS, r.Client.NS, err)
	}
	return nil
}

// configureHost brings lo up and gives the host's interfaces their
// addresses, then brings them up.
func (r *Rig) configureHost(h Host) error {
	nh := r.handles[h.NS]
	if err := setUp(nh, "lo"); err != nil {
		return fmt.Errorf("%s: %w", h.Name, err)
	}
	ifaces := []Iface{h.LAN}
	if h.Uplink != nil {
		ifaces = append(ifaces, *h.Uplink)
	}
	for _, i := range ifaces {
		link, err := nh.LinkByName(i.Name)
		if err != nil {
			return fmt.Errorf("%s: find %s: %w", h.Name, i.Name, err)
		}
		for _, a := range ifaceAddrs(i) {
			if err := nh.AddrAdd(link, a); err != nil {
				return fmt.Errorf("%s: add %s to %s: %w", h.Name, a.IPNet, i.Name, err)
			}
		}
		if err := nh.LinkSetUp(link); err != nil {
			return fmt.Errorf("%s: set %s up: %w", h.Name, i.Name, err)
		}
	}
	return nil
}

// addRoutes installs (or re-installs, after a link flap) the host's static
// routes of the plan.
func (r *Rig) addRoutes(h Host) error {
	nh, err := r.handle(h.NS)
	if err != nil {
		return err
	}
	for _, rt := range h.Routes {
		link, err := nh.LinkByName(rt.Dev)
		if err != nil {
			return fmt.Errorf("%s: route %s: find %s: %w", h.Name, rt.Dst, rt.Dev, err)
		}
		route := &netlink.Route{
			LinkIndex: link.Attrs().Index,
			Dst:       ipNet(rt.Dst),
			Gw:        rt.Via.AsSlice(),
		}
		if err := nh.RouteReplace(route); err != nil {
			return fmt.Errorf("%s: route %s via %s dev %s: %w", h.Name, rt.Dst, rt.Via, rt.Dev, err)
		}
	}
	return nil
}

func setUp(h *netlink.Handle, name string) error {
	link, err := h.LinkByName(name)
	if err != nil {
		return fmt.Errorf("find %s: %w", name, err)
	}
	if err := h.LinkSetUp(link); err != nil {
		return fmt.Errorf("set %s up: %w", name, err)
	}
	return nil
}

func ipNet(p netip.Prefix) *net.IPNet {
	ip := p.Addr().AsSlice()
	return &net.IPNet{IP: ip, Mask: net.CIDRMask(p.Bits(), len(ip)*8)}
}

// ifaceAddrs are an interface's addresses as netlink wants them.
func ifaceAddrs(i Iface) []*netlink.Addr {
	return []*netlink.Addr{
		{IPNet: ipNet(i.IPv4), Flags: nodadFlag},
		{IPNet: ipNet(i.IPv6), Flags: nodadFlag},
	}
}
