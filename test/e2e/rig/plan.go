package rig

import (
	"fmt"
	"net"
	"net/netip"
	"strconv"
)

// Names of the interfaces and of the bridge. They live inside the rig's
// namespaces only, so two rigs use the same names without clashing.
const (
	// LANLink is every host's interface on the shared LAN.
	LANLink = "eth0"
	// UplinkLink is the router's and the client's point-to-point link.
	UplinkLink = "up0"
	// BridgeLink is the LAN switch in the bridge namespace.
	BridgeLink = "br0"

	// MaxNodes bounds Options.Nodes: node addresses run from .11 up and
	// must stay below the client's .100.
	MaxNodes = 80
)

// The address plan. Every address lives in a namespace the rig made; none
// of these prefixes may be routed from the host (Up asserts it).
var (
	// LANv4 and LANv6 are the shared L2 segment of router, nodes and client.
	LANv4 = netip.MustParsePrefix("10.99.0.0/24")
	LANv6 = netip.MustParsePrefix("fd99::/64")
	// UplinkV4 and UplinkV6 join the router and the client directly, so the
	// client reaches BGP-announced addresses through the router.
	UplinkV4 = netip.MustParsePrefix("10.99.1.0/24")
	UplinkV6 = netip.MustParsePrefix("fd99:1::/64")
	// PoolV4 and PoolV6 are for addresses announced over BGP: the client
	// routes them to the router over the uplink.
	PoolV4 = netip.MustParsePrefix("10.99.200.0/24")
	PoolV6 = netip.MustParsePrefix("fd99:200::/64")
)

// Iface is one interface of a simulated host.
type Iface struct {
	// Name inside the host's namespace ("eth0", "up0").
	Name string
	// Port is the other end of the veth, in the bridge namespace, for LAN
	// interfaces ("p-node1"); empty for the uplink.
	Port string
	// MAC is deterministic, so that neighbour tables read the same in
	// every run: 02:99:00:00:00:<last octet of IPv4> on the LAN.
	MAC net.HardwareAddr
	// IPv4 and IPv6 are the interface's addresses with their prefix length.
	IPv4, IPv6 netip.Prefix
}

// StaticRoute is a route the rig installs on a host (and restores after a
// link flap, which flushes it: testbed-facts caveat C1).
type StaticRoute struct {
	Dst netip.Prefix
	Via netip.Addr
	Dev string
}

// Host is a simulated machine: a network namespace with a LAN interface.
type Host struct {
	// Name is the role: "router", "node1".."nodeN", "client". Node names are
	// what tests pass as Kubernetes node names (never the hostname, which
	// all namespaces share).
	Name string
	// NS is the network namespace, <prefix><Name>.
	NS string
	// LAN is eth0 on the shared segment.
	LAN Iface
	// Uplink is the router-client link; nil for nodes.
	Uplink *Iface
	// Routes are the static routes of the plan.
	Routes []StaticRoute
}

// Plan is the topology of testbed-facts §2, with IPv6 added:
//
//	netns <prefix>br: bridge br0, ports p-router, p-node1..N, p-client
//	router eth0 10.99.0.1/24  fd99::1/64    up0 10.99.1.1/24 fd99:1::1/64 <-> client up0 .2 / ::2
//	nodeI  eth0 10.99.0.1I/24 fd99::1I/64   default via 10.99.0.1 / fd99::1
//	client eth0 10.99.0.100/24 fd99::100/64 pools 10.99.200.0/24, fd99:200::/64 via the uplink
//
// The router and the client have no default route, so nothing in the rig
// can route towards the host's networks.
type Plan struct {
	Prefix   string
	BridgeNS string
	Router   Host
	Nodes    []Host
	Client   Host
}

// NewPlan lays out a rig of n nodes whose namespaces start with prefix.
func NewPlan(prefix string, n int) (Plan, error) {
	if n < 1 || n > MaxNodes {
		return Plan{}, fmt.Errorf("plan: %d nodes: want 1..%d", n, MaxNodes)
	}
	if prefix == "" {
		return Plan{}, fmt.Errorf("plan: empty namespace prefix")
	}
	p := Plan{Prefix: prefix, BridgeNS: prefix + "br"}

	p.Router = lanHost(prefix, "router", 1)
	p.Router.Uplink = &Iface{
		Name: UplinkLink,
		MAC:  net.HardwareAddr{0x02, 0x99, 0x01, 0, 0, 1},
		IPv4: hostPrefix(UplinkV4, 1),
		IPv6: hostPrefix(UplinkV6, 1),
	}

	gw4, gw6 := p.Router.LAN.IPv4.Addr(), p.Router.LAN.IPv6.Addr()
	for i := 1; i <= n; i++ {
		node := lanHost(prefix, "node"+strconv.Itoa(i), 10+i)
		node.Routes = []StaticRoute{
			{Dst: netip.PrefixFrom(netip.IPv4Unspecified(), 0), Via: gw4, Dev: LANLink},
			{Dst: netip.PrefixFrom(netip.IPv6Unspecified(), 0), Via: gw6, Dev: LANLink},
		}
		p.Nodes = append(p.Nodes, node)
	}

	p.Client = lanHost(prefix, "client", 100)
	p.Client.Uplink = &Iface{
		Name: UplinkLink,
		MAC:  net.HardwareAddr{0x02, 0x99, 0x01, 0, 0, 2},
		IPv4: hostPrefix(UplinkV4, 2),
		IPv6: hostPrefix(UplinkV6, 2),
	}
	p.Client.Routes = []StaticRoute{
		{Dst: PoolV4, Via: p.Router.Uplink.IPv4.Addr(), Dev: UplinkLink},
		{Dst: PoolV6, Via: p.Router.Uplink.IPv6.Addr(), Dev: UplinkLink},
	}
	return p, nil
}

// Hosts returns the router, the nodes and the client, in that order.
func (p Plan) Hosts() []Host {
	hosts := make([]Host, 0, len(p.Nodes)+2)
	hosts = append(hosts, p.Router)
	hosts = append(hosts, p.Nodes...)
	return append(hosts, p.Client)
}

// Namespaces returns every namespace of the plan, the bridge's last.
func (p Plan) Namespaces() []string {
	var names []string
	for _, h := range p.Hosts() {
		names = append(names, h.NS)
	}
	return append(names, p.BridgeNS)
}

// Host returns the host with the given role name ("router", "node2").
func (p Plan) Host(name string) (Host, bool) {
	for _, h := range p.Hosts() {
		if h.Name == name {
			return h, true
		}
	}
	return Host{}, false
}

// lanHost is a host whose LAN addresses end in id: 10.99.0.<id> and
// fd99::<id>, the IPv6 one written with the same digits so that node1 is
// .11 and ::11 (id is at most 100, so the digits are valid hex).
func lanHost(prefix, name string, id int) Host {
	return Host{
		Name: name,
		NS:   prefix + name,
		LAN: Iface{
			Name: LANLink,
			Port: "p-" + name,
			MAC:  net.HardwareAddr{0x02, 0x99, 0, 0, 0, byte(id)},
			IPv4: hostPrefix(LANv4, id),
			IPv6: hostPrefix(LANv6, id),
		},
	}
}

// hostPrefix is address id of network, with the network's length; for
// IPv6 the decimal digits of id are read as hex (see lanHost).
func hostPrefix(network netip.Prefix, id int) netip.Prefix {
	base := network.Addr().As16()
	if network.Addr().Is4() {
		b := network.Addr().As4()
		b[3] = byte(id)
		return netip.PrefixFrom(netip.AddrFrom4(b), network.Bits())
	}
	v, err := strconv.ParseUint(strconv.Itoa(id), 16, 16)
	if err != nil {
		panic(fmt.Sprintf("plan: host id %d: %v", id, err))
	}
	base[14], base[15] = byte(v>>8), byte(v)
	return netip.PrefixFrom(netip.AddrFrom16(base), network.Bits())
}

// portMAC is the MAC of a LAN host's bridge-side veth end.
func portMAC(lan Iface) net.HardwareAddr {
	return net.HardwareAddr{0x02, 0x99, 0x02, 0, 0, lan.MAC[5]}
}

// bridgeMAC is br0's MAC (set, so the bridge does not take a port's).
var bridgeMAC = net.HardwareAddr{0x02, 0x99, 0x00, 0, 0, 0xfe}
