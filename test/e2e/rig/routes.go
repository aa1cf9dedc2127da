package rig

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/netip"
	"slices"
	"time"

	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"
)

// Route is a kernel route as `ip -j route show` reports it.
type Route struct {
	Dst      netip.Prefix
	Protocol string // "bird", "kernel", "static", "boot"...
	// Nexthops has one entry for a plain route, several for ECMP.
	Nexthops []Nexthop
}

// Nexthop is one path of a route.
type Nexthop struct {
	// Gateway is invalid for a directly connected route.
	Gateway netip.Addr
	Dev     string
	// Weight is 1 unless set (and 0 for a route with one path).
	Weight int
}

// Gateways returns the route's gateways, sorted.
func (rt Route) Gateways() []netip.Addr {
	var out []netip.Addr
	for _, nh := range rt.Nexthops {
		if nh.Gateway.IsValid() {
			out = append(out, nh.Gateway)
		}
	}
	slices.SortFunc(out, netip.Addr.Compare)
	return out
}

// Routes returns the routes of namespace ns's main table whose destination
// is exactly prefix (`ip -j route show exact`).
func (r *Rig) Routes(ctx context.Context, ns string, prefix netip.Prefix) ([]Route, error) {
	if !r.ownsNS(ns) {
		return nil, fmt.Errorf("routes: namespace %q is not this rig's", ns)
	}
	fam := "-4"
	if prefix.Addr().Is6() {
		fam = "-6"
	}
	out, err := run(ctx, "ip", "-j", fam, "-n", ns, "route", "show", "exact", prefix.Masked().String())
	if err != nil {
		return nil, err
	}
	return parseIPRoutes([]byte(out), prefix.Addr().Is6())
}

// BirdRoutes returns the next hops BIRD installed in the router's kernel
// FIB for prefix (a /32 or /128 announced by the speakers), sorted; none
// when there is no such route. Two or more means ECMP.
func (r *Rig) BirdRoutes(ctx context.Context, prefix netip.Prefix) ([]netip.Addr, error) {
	routes, err := r.Routes(ctx, r.Router.NS, prefix)
	if err != nil {
		return nil, err
	}
	for _, rt := range routes {
		if rt.Protocol == "bird" {
			return rt.Gateways(), nil
		}
	}
	return nil, nil
}

// ipRoute is one element of `ip -j route show`.
type ipRoute struct {
	Dst      string `json:"dst"`
	Gateway  string `json:"gateway"`
	Dev      string `json:"dev"`
	Protocol string `json:"protocol"`
	Nexthops []struct {
		Gateway string `json:"gateway"`
		Dev     string `json:"dev"`
		Weight  int    `json:"weight"`
	} `json:"nexthops"`
}

// parseIPRoutes reads `ip -j route show` output. ip writes host routes
// without a length ("10.99.200.1") and the default route as "default".
func parseIPRoutes(data []byte, v6 bool) ([]Route, error) {
	var raw []ipRoute
	if err := json.Unmarshal(data, &raw); err != nil {
		return nil, fmt.Errorf("parse ip -j route: %w", err)
	}
	var out []Route
	for _, ir := range raw {
		dst, err := parseDst(ir.Dst, v6)
		if err != nil {
			return nil, err
		}
		rt := Route{Dst: dst, Protocol: ir.Protocol}
		if len(ir.Nexthops) == 0 {
			nh := Nexthop{Dev: ir.Dev}
			if ir.Gateway != "" {
				if nh.Gateway, err = netip.ParseAddr(ir.Gateway); err != nil {
					return nil, fmt.Errorf("parse ip -j route %s: gateway: %w", ir.Dst, err)
				}
			}
			rt.Nexthops = []Nexthop{nh}
		}
		for _, n := range ir.Nexthops {
			nh := Nexthop{Dev: n.Dev, Weight: n.Weight}
			if n.Gateway != "" {
				if nh.Gateway, err = netip.ParseAddr(n.Gateway); err != nil {
					return nil, fmt.Errorf("parse ip -j route %s: nexthop gateway: %w", ir.Dst, err)
				}
			}
			rt.Nexthops = append(rt.Nexthops, nh)
		}
		out = append(out, rt)
	}
	return out, nil
}

func parseDst(s string, v6 bool) (netip.Prefix, error) {
	switch {
	case s == "default" && v6:
		return netip.PrefixFrom(netip.IPv6Unspecified(), 0), nil
	case s == "default":
		return netip.PrefixFrom(netip.IPv4Unspecified(), 0), nil
	}
	if p, err := netip.ParsePrefix(s); err == nil {
		return p, nil
	}
	a, err := netip.ParseAddr(s)
	if err != nil {
		return netip.Prefix{}, fmt.Errorf("parse ip -j route: dst %q: %w", s, err)
	}
	return netip.PrefixFrom(a, a.BitLen()), nil
}

// RouteEvent is one route change seen in a namespace, timestamped when the
// notification arrived (milliseconds apart, unlike polling `ip route`,
// which costs tens of milliseconds per sample: caveat C14).
type RouteEvent struct {
	At       time.Time
	Deleted  bool
	Dst      netip.Prefix
	Protocol string
	// Gateways of the route, sorted; several for ECMP.
	Gateways []netip.Addr
}

// WatchRoutes streams the route changes of namespace ns until ctx ends or
// the rig goes down; then the channel is closed. The netlink socket is
// opened inside ns once (the calling goroutine's thread switches there for
// that moment only), so the goroutine reading it runs in the host's
// namespace like the rest of the test. The channel is buffered; a reader
// that falls behind by more than its size slows the watch, never loses
// events.
func (r *Rig) WatchRoutes(ctx context.Context, ns string) (<-chan RouteEvent, error) {
	r.mu.Lock()
	fd, ok := r.nsFDs[ns]
	r.mu.Unlock()
	if !ok {
		return nil, fmt.Errorf("watch routes: namespace %q is not this rig's (or the rig is down)", ns)
	}
	updates := make(chan netlink.RouteUpdate, 256)
	done := make(chan struct{})
	err := netlink.RouteSubscribeWithOptions(updates, done, netlink.RouteSubscribeOptions{
		Namespace:         &fd,
		ReceiveBufferSize: 1 << 20,
	})
	if err != nil {
		return nil, fmt.Errorf("watch routes in %s: %w", ns, err)
	}
	out := make(chan RouteEvent, 1024)
	r.wg.Add(1)
	go func() {
		defer r.wg.Done()
		defer close(out)
		defer drain(updates, done)
		for {
			select {
			case u, ok := <-updates:
				if !ok {
					return
				}
				ev := routeEvent(u, time.Now())
				select {
				case out <- ev:
				case <-ctx.Done():
					return
				case <-r.ctx.Done():
					return
				}
			case <-ctx.Done():
				return
			case <-r.ctx.Done():
				return
			}
		}
	}()
	return out, nil
}

// drain closes the subscription and reads what its goroutine still sends,
// for at most a second, so that it can exit.
func drain(updates <-chan netlink.RouteUpdate, done chan struct{}) {
	close(done)
	t := time.NewTimer(time.Second)
	defer t.Stop()
	for {
		select {
		case _, ok := <-updates:
			if !ok {
				return
			}
		case <-t.C:
			return
		}
	}
}

func routeEvent(u netlink.RouteUpdate, at time.Time) RouteEvent {
	ev := RouteEvent{At: at, Deleted: u.Type == unix.RTM_DELROUTE, Protocol: u.Protocol.String()}
	if u.Dst != nil {
		ev.Dst = prefixOf(u.Dst)
	} else if u.Family == unix.AF_INET6 {
		ev.Dst = netip.PrefixFrom(netip.IPv6Unspecified(), 0)
	} else {
		ev.Dst = netip.PrefixFrom(netip.IPv4Unspecified(), 0)
	}
	gws := []net.IP{u.Gw}
	for _, nh := range u.MultiPath {
		gws = append(gws, nh.Gw)
	}
	for _, gw := range gws {
		if a, ok := netip.AddrFromSlice(gw); ok {
			ev.Gateways = append(ev.Gateways, a.Unmap())
		}
	}
	slices.SortFunc(ev.Gateways, netip.Addr.Compare)
	return ev
}

func prefixOf(n *net.IPNet) netip.Prefix {
	a, _ := netip.AddrFromSlice(n.IP)
	a = a.Unmap()
	ones, _ := n.Mask.Size()
	return netip.PrefixFrom(a, ones)
}
