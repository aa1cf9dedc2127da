package bgp

import (
	"net/netip"
	"strings"
	"testing"

	"github.com/herald-lb/herald/api/v1alpha2"
)

// TestTranslateSourceAddress: each node picks its own session address by
// the BgpPeer's rule, from a fake set of interfaces; a node without one
// runs no session and says why.
func TestTranslateSourceAddress(t *testing.T) {
	a := netip.MustParseAddr
	node := testNode
	node.Interfaces = map[string][]netip.Addr{
		"eth0":  {a("fe80::1"), a("192.168.0.11"), a("fd00::11")},
		"eth1":  {a("fe80::2"), a("10.99.1.11"), a("10.99.1.12"), a("fd99:1::11")},
		"lo":    {a("127.0.0.1"), a("::1")},
		"dummy": {},
	}
	rule := func(iface, cidr string) func(*v1alpha2.BgpPeerSpec) {
		return func(s *v1alpha2.BgpPeerSpec) {
			s.SourceAddress = &v1alpha2.PeerSourceAddress{Interface: iface, CIDR: cidr}
		}
	}
	tests := []struct {
		name     string
		neighbor string
		mutate   func(*v1alpha2.BgpPeerSpec)
		want     string // the local address, or "" when not started
		problem  string
	}{
		{name: "no rule: the kernel's choice", neighbor: "10.99.1.1", mutate: func(*v1alpha2.BgpPeerSpec) {}},
		{name: "interface, IPv4", neighbor: "10.99.1.1", mutate: rule("eth1", ""), want: "10.99.1.11"},
		{name: "interface, IPv6: link-local skipped", neighbor: "fd99:1::1", mutate: rule("eth1", ""), want: "fd99:1::11"},
		{name: "cidr", neighbor: "10.99.1.1", mutate: rule("", "10.99.1.0/24"), want: "10.99.1.11"},
		{name: "cidr, IPv6", neighbor: "fd00::1", mutate: rule("", "fd00::/64"), want: "fd00::11"},
		{name: "no such interface", neighbor: "10.99.1.1", mutate: rule("eth9", ""), problem: `node "node1" has no interface "eth9"`},
		{name: "no global address of the family", neighbor: "10.99.1.1", mutate: rule("dummy", ""), problem: `interface "dummy" of node "node1" has no global IPv4 address`},
		{name: "no address in the cidr", neighbor: "10.99.1.1", mutate: rule("", "10.99.2.0/24"), problem: `node "node1" has no address in 10.99.2.0/24`},
		{name: "cidr of the other family", neighbor: "10.99.1.1", mutate: rule("", "fd00::/64"), problem: "but the neighbour 10.99.1.1 is IPv4"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			bp := testPeer("tor", tt.neighbor, tt.mutate)
			cfg, err := Translate(testConf(), []v1alpha2.BgpPeer{bp}, node, noPassword)
			if err != nil {
				t.Fatal(err)
			}
			if tt.problem != "" {
				if len(cfg.Peers) != 0 {
					t.Errorf("peer started with %s", cfg.Peers[0].LocalAddress)
				}
				if got := strings.Join(cfg.PeerProblems["tor"], "; "); !strings.Contains(got, tt.problem) {
					t.Errorf("problems %q, want %q", got, tt.problem)
				}
				return
			}
			if len(cfg.Peers) != 1 {
				t.Fatalf("peer not started: %v", cfg.PeerProblems)
			}
			got := ""
			if la := cfg.Peers[0].LocalAddress; la.IsValid() {
				got = la.String()
			}
			if got != tt.want {
				t.Errorf("local address %q, want %q", got, tt.want)
			}
			if got != "" && apiPeer(cfg.Peers[0]).Transport.LocalAddress != got {
				t.Errorf("GoBGP transport local address %q, want %q", apiPeer(cfg.Peers[0]).Transport.LocalAddress, got)
			}
		})
	}
}

// TestRouterSourceAddress: the session leaves from the picked address, and
// the routes carry it as their next hop.
func TestRouterSourceAddress(t *testing.T) {
	src := netip.MustParseAddr("127.0.0.21")
	tor := startToR(t, "127.0.0.22", torAS, torNeighbor{addr: src, as: routerAS})
	r := newTestRouter(t, tor)
	p := tor.peer("tor", torAS)
	p.LocalAddress = src
	r.apply(t, global(routerAS), []Peer{p}, host("10.96.0.9/32"))
	r.waitEstablished(t, establishIn, "tor")
	waitRoutes(t, tor, map[string]route{"10.96.0.9/32": {NextHop: src.String(), ASPath: "65001"}})
}
