package speaker

import (
	"net/netip"
	"slices"
	"strings"

	"github.com/herald-lb/herald/api/v1alpha2"
	"github.com/herald-lb/herald/internal/bgpconfig"
	"github.com/herald-lb/herald/internal/eippool"
)

// Service is what the speaker needs to know of one Service: a Herald
// LoadBalancer with addresses, or any Service whose cluster or external IPs
// BgpConf's Service ranges may make this node advertise.
type Service struct {
	// Key is "namespace/name".
	Key string
	// Addrs are the addresses in status.loadBalancer.ingress of a Herald
	// Service; empty for the others.
	Addrs []netip.Addr
	// ClusterIPs are spec.clusterIPs and ExternalIPs spec.externalIPs. They
	// matter only with LocalTraffic, inside BgpConf's serviceClusterIPs and
	// serviceExternalIPs; the snapshot leaves them out otherwise.
	ClusterIPs  []netip.Addr
	ExternalIPs []netip.Addr
	// LocalTraffic is externalTrafficPolicy Local: only nodes with a ready
	// endpoint of the Service may attract its traffic.
	LocalTraffic bool
	// ReadyNodes are the nodes with a ready endpoint of the Service.
	ReadyNodes []string
	// Layer2Node is the Service's layer2.openelb.kubesphere.io/v1alpha1
	// annotation: the node that last said it answers for its address.
	Layer2Node string
	// VIPHolder is the Service's vip.herald.io/holder annotation: the node
	// that last said its keepalived holds the Service's vip address.
	VIPHolder string
}

// RouteKind says why a route is advertised. Metrics count routes by it.
type RouteKind string

// The kinds of route, in the order Compute gives them precedence when two
// reasons advertise the same prefix.
const (
	// RouteLoadBalancer is a Herald Service's address, /32 or /128.
	RouteLoadBalancer RouteKind = "loadBalancer"
	// RouteClusterIP is the cluster IP, /32 or /128, of an
	// externalTrafficPolicy Local Service with a ready endpoint here,
	// inside a serviceClusterIPs range.
	RouteClusterIP RouteKind = "clusterIP"
	// RouteExternalIP is the same for an external IP inside a
	// serviceExternalIPs range.
	RouteExternalIP RouteKind = "externalIP"
	// RouteServiceClusterIPs is a range of BgpConf's serviceClusterIPs.
	RouteServiceClusterIPs RouteKind = "serviceClusterIPs"
	// RouteServiceExternalIPs is a range of BgpConf's serviceExternalIPs.
	RouteServiceExternalIPs RouteKind = "serviceExternalIPs"
)

// Route is one BGP route this node advertises.
type Route struct {
	Prefix netip.Prefix
	Kind   RouteKind
	// Eip names the bgp Eip of a RouteLoadBalancer address, whose
	// bgpAdvertisements say how it is announced.
	Eip string
	// Local is true for a RouteLoadBalancer address that every Service
	// sharing it serves with externalTrafficPolicy Local: it is never
	// aggregated, since it comes from the nodes with an endpoint only.
	Local bool
}

// Layer2Claim is one Service's wish that its address be answered on
// Layer2. Compute does not decide which node answers: the Layer2 mode does,
// from the speakers' leases, the same way on every node.
type Layer2Claim struct {
	// Service is "namespace/name"; several Services may share IP.
	Service string
	IP      netip.Addr
	// Eip names the layer2 pool IP comes from.
	Eip string
	// Nodes, when not nil, are the only nodes that may answer for IP on
	// this Service's behalf (externalTrafficPolicy Local: those with a
	// ready endpoint); nil means any node.
	Nodes []string
	// Annotated is the node the Service's annotation names now.
	Annotated string
}

// VIPClaim is the wish of the Services sharing one address of a vip pool
// that the address be held by some node through VRRP. Compute does not
// decide which node: the VIP mode ranks the eligible nodes (vipConfig), the
// same way on every node, and keepalived elects.
type VIPClaim struct {
	Addr netip.Addr
	// Eip names the vip pool Addr comes from; nodes that mark it
	// unavailable (its interface does not resolve there, or their labels
	// leave them out of it) cannot hold Addr.
	Eip string
	// Services are the Services sharing Addr ("namespace/name"), sorted.
	Services []string
	// Local is true when any of the Services has externalTrafficPolicy
	// Local: the instance then tracks a file that this node's speaker sets
	// from its endpoints, so a node without one drops the address within
	// milliseconds, without a reload.
	Local bool
	// Nodes, when not nil, are the only nodes that can hold Addr for every
	// Service sharing it: those with a ready endpoint of each Local
	// Service (a Cluster Service accepts any node). Nil means any node;
	// empty means none.
	Nodes []string
	// SomeNodes are the nodes that can hold Addr for at least one of the
	// Services (nil: any node), used when no eligible node is in Nodes,
	// as Layer2 does: no Service that could be served loses its address
	// because another shares it. Equal to Nodes for a lone Service.
	SomeNodes []string
}

// Desired is what one node announces.
type Desired struct {
	// Layer2 are the claims on addresses of layer2 pools, sorted by
	// address, then Service.
	Layer2 []Layer2Claim
	// VIP are the claims on addresses of vip pools, one per address,
	// sorted by address.
	VIP []VIPClaim
	// BGP are the routes advertised over BGP, one per prefix, sorted by
	// address, then length (10.96.0.0/12 before 10.96.0.10/32).
	BGP []Route
	// Skipped explains, by address, why an address of some Service is not
	// announced by this node although it might be expected to.
	Skipped map[netip.Addr]string
	// Ineligible maps each Eip this node may not announce, because of its
	// labels, to why (RestrictToNode): the Layer2 and VIP modes list those
	// Eips in the node's Lease, as they list Eips whose interface is
	// missing here. Nil when there are none.
	Ineligible map[string]error
}

// Skip reasons.
const (
	skipNoLocalEndpoint = "externalTrafficPolicy Local and no ready endpoint on this node"
	skipNoEip           = "in no valid Eip"
)

// Compute decides what node announces.
//
// A load-balancer address is announced in the mode of the Eip that
// contains it; when several Services share it, the node announces it if
// any of them would have it announce: one with Cluster traffic, or one with
// Local traffic that has a ready endpoint on the node. Addresses in no
// valid Eip are skipped, with the reason. Addresses of layer2 and vip
// pools are claims, the same on every node (Layer2Claim, VIPClaim): which
// node answers for them is the mode's decision, so they are never skipped
// here.
//
// BgpConf's Service ranges follow Calico's BGPConfiguration: every node
// advertises each range, and an externalTrafficPolicy Local Service's
// cluster IPs inside serviceClusterIPs, and external IPs inside
// serviceExternalIPs, are also advertised as host routes from the nodes
// with a ready endpoint, so routers prefer those nodes by longest match.
// Such IPs outside the ranges are not advertised at all. A prefix that
// several rules give is one route, of the first kind in RouteKind's order.
func Compute(node string, pools []eippool.Pool, services []Service, ranges bgpconfig.ServiceCIDRs) Desired {
	d := Desired{Skipped: map[netip.Addr]string{}}
	routes := map[netip.Prefix]Route{}
	add := func(p netip.Prefix, k RouteKind) {
		if _, ok := routes[p]; !ok {
			routes[p] = Route{Prefix: p, Kind: k}
		}
	}

	for _, r := range loadBalancerAddrs(node, pools, services, d.Skipped) {
		routes[r.Prefix] = r
	}
	d.Layer2 = layer2Claims(pools, services)
	d.VIP = vipClaims(pools, services)
	clusterIPs := localHostRoutes(node, services, d.Skipped, ranges.ClusterIPs, func(s Service) []netip.Addr { return s.ClusterIPs })
	externalIPs := localHostRoutes(node, services, d.Skipped, ranges.ExternalIPs, func(s Service) []netip.Addr { return s.ExternalIPs })
	for _, a := range clusterIPs {
		add(host(a), RouteClusterIP)
	}
	for _, a := range externalIPs {
		add(host(a), RouteExternalIP)
	}
	for _, p := range ranges.ClusterIPs {
		add(p, RouteServiceClusterIPs)
	}
	for _, p := range ranges.ExternalIPs {
		add(p, RouteServiceExternalIPs)
	}

	for p, r := range routes {
		d.BGP = append(d.BGP, r)
		if p.IsSingleIP() {
			delete(d.Skipped, p.Addr()) // announced after all, for another reason
		}
	}
	slices.SortFunc(d.BGP, func(x, y Route) int {
		if c := x.Prefix.Addr().Compare(y.Prefix.Addr()); c != 0 {
			return c
		}
		return x.Prefix.Bits() - y.Prefix.Bits()
	})
	return d
}

// loadBalancerAddrs are the routes of the Herald load-balancer addresses
// node announces over BGP; the others land in skipped with the reason.
func loadBalancerAddrs(node string, pools []eippool.Pool, services []Service, skipped map[netip.Addr]string) []Route {
	wanted := map[netip.Addr]bool{}
	protocol := map[netip.Addr]string{}
	eip := map[netip.Addr]string{}
	cluster := map[netip.Addr]bool{} // some Service sharing it has Cluster traffic
	for _, svc := range services {
		here := !svc.LocalTraffic || slices.Contains(svc.ReadyNodes, node)
		for _, a := range svc.Addrs {
			p, ok := poolOf(pools, a)
			if !ok {
				skipped[a] = skipNoEip
				continue
			}
			protocol[a], eip[a] = p.Protocol, p.Name
			wanted[a] = wanted[a] || here
			cluster[a] = cluster[a] || !svc.LocalTraffic
		}
	}
	var out []Route
	for a, yes := range wanted {
		if protocol[a] == v1alpha2.ProtocolLayer2 || protocol[a] == v1alpha2.ProtocolVIP {
			continue // claimed by layer2Claims or vipClaims; the mode decides who holds it
		}
		if !yes {
			skipped[a] = skipNoLocalEndpoint
			continue
		}
		delete(skipped, a)
		switch protocol[a] {
		case v1alpha2.ProtocolBGP:
			out = append(out, Route{Prefix: host(a), Kind: RouteLoadBalancer, Eip: eip[a], Local: !cluster[a]})
		default:
			skipped[a] = "protocol " + protocol[a] + " is not served by this speaker yet"
		}
	}
	return out
}

// layer2Claims are the claims of every Service on addresses of layer2
// pools, whatever node this is.
func layer2Claims(pools []eippool.Pool, services []Service) []Layer2Claim {
	var out []Layer2Claim
	for _, svc := range services {
		for _, a := range svc.Addrs {
			p, ok := poolOf(pools, a)
			if !ok || p.Protocol != v1alpha2.ProtocolLayer2 {
				continue
			}
			c := Layer2Claim{Service: svc.Key, IP: a, Eip: p.Name, Annotated: svc.Layer2Node}
			if svc.LocalTraffic {
				c.Nodes = append([]string{}, svc.ReadyNodes...) // empty, not nil: no node
			}
			out = append(out, c)
		}
	}
	slices.SortFunc(out, func(x, y Layer2Claim) int {
		if c := x.IP.Compare(y.IP); c != 0 {
			return c
		}
		return strings.Compare(x.Service, y.Service)
	})
	return out
}

// vipClaims are the claims on addresses of vip pools, one per address
// whatever the number of Services sharing it, whatever node this is. One
// claim per address because keepalived runs one instance per address, and
// all Services sharing it must agree on who holds it.
func vipClaims(pools []eippool.Pool, services []Service) []VIPClaim {
	byAddr := map[netip.Addr]*VIPClaim{}
	// cluster marks addresses shared with a Cluster Service: any node
	// serves that one, so the fallback (SomeNodes) is any node.
	cluster := map[netip.Addr]bool{}
	for _, svc := range services {
		for _, a := range svc.Addrs {
			p, ok := poolOf(pools, a)
			if !ok || p.Protocol != v1alpha2.ProtocolVIP {
				continue
			}
			c := byAddr[a]
			if c == nil {
				c = &VIPClaim{Addr: a, Eip: p.Name}
				byAddr[a] = c
			}
			if slices.Contains(c.Services, svc.Key) {
				continue // listed twice in one Service's status
			}
			c.Services = append(c.Services, svc.Key)
			if !svc.LocalTraffic {
				cluster[a] = true
				continue
			}
			ready := slices.Sorted(slices.Values(svc.ReadyNodes))
			ready = slices.Compact(ready)
			if !c.Local {
				c.Local = true
				c.Nodes = append([]string{}, ready...) // empty, not nil: no node
				c.SomeNodes = append([]string{}, ready...)
				continue
			}
			c.Nodes = slices.DeleteFunc(c.Nodes, func(n string) bool { return !slices.Contains(ready, n) })
			for _, n := range ready {
				if !slices.Contains(c.SomeNodes, n) {
					c.SomeNodes = append(c.SomeNodes, n)
				}
			}
		}
	}
	out := make([]VIPClaim, 0, len(byAddr))
	for a, c := range byAddr {
		slices.Sort(c.Services)
		if cluster[a] {
			c.SomeNodes = nil
		} else {
			slices.Sort(c.SomeNodes)
		}
		out = append(out, *c)
	}
	slices.SortFunc(out, func(x, y VIPClaim) int { return x.Addr.Compare(y.Addr) })
	if len(out) == 0 {
		return nil
	}
	return out
}

// localHostRoutes are the IPs (picked from each Service by ips) inside
// ranges of externalTrafficPolicy Local Services with a ready endpoint on
// node. An IP that several Services share is announced if any of them has
// one here.
func localHostRoutes(node string, services []Service, skipped map[netip.Addr]string, ranges []netip.Prefix, ips func(Service) []netip.Addr) []netip.Addr {
	if len(ranges) == 0 {
		return nil
	}
	wanted := map[netip.Addr]bool{}
	for _, svc := range services {
		if !svc.LocalTraffic {
			continue // the range covers it from every node
		}
		here := slices.Contains(svc.ReadyNodes, node)
		for _, a := range ips(svc) {
			if inAny(ranges, a) {
				wanted[a] = wanted[a] || here
			}
		}
	}
	var out []netip.Addr
	for a, yes := range wanted {
		if !yes {
			skipped[a] = skipNoLocalEndpoint
			continue
		}
		out = append(out, a)
	}
	return out
}

func inAny(ranges []netip.Prefix, a netip.Addr) bool {
	for _, p := range ranges {
		if p.Contains(a) {
			return true
		}
	}
	return false
}

// host is a as a /32 or /128.
func host(a netip.Addr) netip.Prefix {
	return netip.PrefixFrom(a, a.BitLen())
}

// poolOf is the pool that holds a. Pools from eippool.Accept never
// overlap, so it is the one the controller allocated a from.
func poolOf(pools []eippool.Pool, a netip.Addr) (eippool.Pool, bool) {
	for _, p := range pools {
		if p.Range.Contains(a) {
			return p, true
		}
	}
	return eippool.Pool{}, false
}
