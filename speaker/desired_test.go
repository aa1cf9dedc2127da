package speaker

import (
	"net/netip"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/herald-lb/herald/api/v1alpha2"
	"github.com/herald-lb/herald/internal/bgpconfig"
	"github.com/herald-lb/herald/internal/eippool"
)

func pools(t *testing.T) []eippool.Pool {
	var out []eippool.Pool
	for _, e := range []v1alpha2.Eip{
		{ObjectMeta: metav1.ObjectMeta{Name: "bgp4"}, Spec: v1alpha2.EipSpec{Address: "192.0.2.0/24"}},
		{ObjectMeta: metav1.ObjectMeta{Name: "bgp6"}, Spec: v1alpha2.EipSpec{Address: "2001:db8::/64", Protocol: "bgp"}},
		{ObjectMeta: metav1.ObjectMeta{Name: "l2"}, Spec: v1alpha2.EipSpec{Address: "198.51.100.0/24", Protocol: "layer2", Interface: "eth0"}},
		{ObjectMeta: metav1.ObjectMeta{Name: "vip4"}, Spec: v1alpha2.EipSpec{Address: "100.64.0.0/24", Protocol: "vip", Interface: "eth0"}},
		{ObjectMeta: metav1.ObjectMeta{Name: "vip6"}, Spec: v1alpha2.EipSpec{Address: "2001:db8:1::/64", Protocol: "vip", Interface: "eth0"}},
	} {
		p, err := eippool.FromEip(&e)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, p)
	}
	return out
}

func addrs(ss ...string) []netip.Addr {
	var out []netip.Addr
	for _, s := range ss {
		out = append(out, netip.MustParseAddr(s))
	}
	return out
}

func prefixes(ss ...string) []netip.Prefix {
	var out []netip.Prefix
	for _, s := range ss {
		out = append(out, netip.MustParsePrefix(s))
	}
	return out
}

func TestCompute(t *testing.T) {
	v4v6 := bgpconfig.ServiceCIDRs{
		ClusterIPs:  prefixes("10.96.0.0/12", "fd00:96::/108"),
		ExternalIPs: prefixes("203.0.113.0/24"),
	}
	const noEndpoint = "externalTrafficPolicy Local and no ready endpoint on this node"
	tests := []struct {
		name     string
		services []Service
		ranges   bgpconfig.ServiceCIDRs
		want     []string // "prefix kind"
		skipped  map[string]string
	}{
		{
			name:     "cluster traffic is announced by every node, v4 and v6",
			services: []Service{{Key: "a/web", Addrs: addrs("192.0.2.1", "2001:db8::1")}},
			want:     []string{"192.0.2.1/32 loadBalancer", "2001:db8::1/128 loadBalancer"},
		},
		{
			name:     "local traffic with a ready endpoint here",
			services: []Service{{Key: "a/web", Addrs: addrs("192.0.2.1"), LocalTraffic: true, ReadyNodes: []string{"node2", "node1"}}},
			want:     []string{"192.0.2.1/32 loadBalancer"},
		},
		{
			name:     "local traffic without an endpoint here",
			services: []Service{{Key: "a/web", Addrs: addrs("192.0.2.1"), LocalTraffic: true, ReadyNodes: []string{"node2"}}},
			skipped:  map[string]string{"192.0.2.1": noEndpoint},
		},
		{
			name: "shared address: one Service with an endpoint here is enough",
			services: []Service{
				{Key: "a/http", Addrs: addrs("192.0.2.9"), LocalTraffic: true, ReadyNodes: []string{"node2"}},
				{Key: "a/https", Addrs: addrs("192.0.2.9"), LocalTraffic: true, ReadyNodes: []string{"node1"}},
			},
			want: []string{"192.0.2.9/32 loadBalancer"},
		},
		{
			name:     "address in no Eip",
			services: []Service{{Key: "a/web", Addrs: addrs("203.0.113.1")}},
			skipped:  map[string]string{"203.0.113.1": "in no valid Eip"},
		},
		{
			name:     "layer2 address is not BGP's, nor skipped: the Layer2 mode decides",
			services: []Service{{Key: "a/web", Addrs: addrs("198.51.100.7")}},
		},
		{
			name: "vip addresses are not BGP's, nor skipped: the VIP mode decides",
			services: []Service{
				{Key: "a/web", Addrs: addrs("100.64.0.1", "2001:db8:1::1")},
				{Key: "a/local", Addrs: addrs("100.64.0.2"), LocalTraffic: true, ReadyNodes: []string{"node2"}},
			},
		},
		{
			name: "sorted and unique",
			services: []Service{
				{Key: "a/x", Addrs: addrs("192.0.2.20")},
				{Key: "a/y", Addrs: addrs("192.0.2.3")},
				{Key: "a/z", Addrs: addrs("192.0.2.20")},
			},
			want: []string{"192.0.2.3/32 loadBalancer", "192.0.2.20/32 loadBalancer"},
		},

		// BgpConf's Service ranges (Calico's serviceClusterIPs and
		// serviceExternalIPs).
		{
			name:     "no ranges: a Local Service's cluster and external IPs are not announced",
			services: []Service{{Key: "a/np", ClusterIPs: addrs("10.96.0.10"), ExternalIPs: addrs("203.0.113.5"), LocalTraffic: true, ReadyNodes: []string{"node1"}}},
		},
		{
			name:   "ranges are announced by every node, with no Service at all",
			ranges: v4v6,
			want:   []string{"10.96.0.0/12 serviceClusterIPs", "203.0.113.0/24 serviceExternalIPs", "fd00:96::/108 serviceClusterIPs"},
		},
		{
			name:     "a Local Service's cluster IPs, dual-stack, with an endpoint here: host routes too",
			ranges:   v4v6,
			services: []Service{{Key: "a/np", ClusterIPs: addrs("10.96.0.10", "fd00:96::10"), LocalTraffic: true, ReadyNodes: []string{"node1"}}},
			want: []string{
				"10.96.0.0/12 serviceClusterIPs", "10.96.0.10/32 clusterIP", "203.0.113.0/24 serviceExternalIPs",
				"fd00:96::/108 serviceClusterIPs", "fd00:96::10/128 clusterIP",
			},
		},
		{
			name:     "a Local Service's cluster IP with no endpoint here: the range only",
			ranges:   bgpconfig.ServiceCIDRs{ClusterIPs: prefixes("10.96.0.0/12")},
			services: []Service{{Key: "a/np", ClusterIPs: addrs("10.96.0.10"), LocalTraffic: true, ReadyNodes: []string{"node2"}}},
			want:     []string{"10.96.0.0/12 serviceClusterIPs"},
			skipped:  map[string]string{"10.96.0.10": noEndpoint},
		},
		{
			name:     "a Cluster Service's cluster IP: the range covers it, no host route",
			ranges:   bgpconfig.ServiceCIDRs{ClusterIPs: prefixes("10.96.0.0/12")},
			services: []Service{{Key: "a/np", ClusterIPs: addrs("10.96.0.10"), ReadyNodes: []string{"node1"}}},
			want:     []string{"10.96.0.0/12 serviceClusterIPs"},
		},
		{
			name:   "a cluster IP outside serviceClusterIPs is not announced",
			ranges: bgpconfig.ServiceCIDRs{ClusterIPs: prefixes("10.96.0.0/16")},
			services: []Service{{Key: "a/np", ClusterIPs: addrs("10.97.0.10"), ExternalIPs: addrs("10.96.0.7"),
				LocalTraffic: true, ReadyNodes: []string{"node1"}}},
			want: []string{"10.96.0.0/16 serviceClusterIPs"},
		},
		{
			name:   "external IPs: inside serviceExternalIPs announced, outside not",
			ranges: bgpconfig.ServiceCIDRs{ExternalIPs: prefixes("203.0.113.0/24")},
			services: []Service{{Key: "a/ext", ClusterIPs: addrs("10.96.0.10"), ExternalIPs: addrs("203.0.113.5", "198.18.0.5"),
				LocalTraffic: true, ReadyNodes: []string{"node1"}}},
			want: []string{"203.0.113.0/24 serviceExternalIPs", "203.0.113.5/32 externalIP"},
		},
		{
			name:   "a shared external IP: one Local Service with an endpoint here is enough",
			ranges: bgpconfig.ServiceCIDRs{ExternalIPs: prefixes("203.0.113.0/24")},
			services: []Service{
				{Key: "a/x", ExternalIPs: addrs("203.0.113.5"), LocalTraffic: true, ReadyNodes: []string{"node2"}},
				{Key: "a/y", ExternalIPs: addrs("203.0.113.5"), LocalTraffic: true, ReadyNodes: []string{"node1"}},
			},
			want: []string{"203.0.113.0/24 serviceExternalIPs", "203.0.113.5/32 externalIP"},
		},
		{
			name: "dedup: a load-balancer address that is also an external IP and a /32 range is one route",
			ranges: bgpconfig.ServiceCIDRs{
				ClusterIPs:  prefixes("10.96.0.0/12"),
				ExternalIPs: prefixes("192.0.2.0/24", "192.0.2.1/32", "10.96.0.0/12"),
			},
			services: []Service{{Key: "a/web", Addrs: addrs("192.0.2.1"), ExternalIPs: addrs("192.0.2.1"),
				LocalTraffic: true, ReadyNodes: []string{"node1"}}},
			want: []string{"10.96.0.0/12 serviceClusterIPs", "192.0.2.0/24 serviceExternalIPs", "192.0.2.1/32 loadBalancer"},
		},
		{
			name:   "dedup: a /32 range equal to a Local address with no endpoint here is still announced",
			ranges: bgpconfig.ServiceCIDRs{ExternalIPs: prefixes("192.0.2.1/32")},
			services: []Service{{Key: "a/web", Addrs: addrs("192.0.2.1"), ExternalIPs: addrs("192.0.2.1"),
				LocalTraffic: true, ReadyNodes: []string{"node2"}}},
			want: []string{"192.0.2.1/32 serviceExternalIPs"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := Compute("node1", pools(t), tt.services, tt.ranges)
			var gotRoutes []string
			for _, r := range got.BGP {
				gotRoutes = append(gotRoutes, r.Prefix.String()+" "+string(r.Kind))
			}
			if diff := cmp.Diff(tt.want, gotRoutes, cmpopts.EquateEmpty()); diff != "" {
				t.Errorf("BGP (-want +got):\n%s", diff)
			}
			wantSkipped := map[netip.Addr]string{}
			for a, why := range tt.skipped {
				wantSkipped[netip.MustParseAddr(a)] = why
			}
			if diff := cmp.Diff(wantSkipped, got.Skipped, cmpopts.EquateEmpty(), cmpopts.EquateComparable(netip.Addr{})); diff != "" {
				t.Errorf("Skipped (-want +got):\n%s", diff)
			}
		})
	}
}

// TestComputeLayer2Claims: every Service's address in a layer2 pool is a
// claim, on every node alike; Local Services restrict the claim to the
// nodes with ready endpoints (none: an empty, non-nil list).
func TestComputeLayer2Claims(t *testing.T) {
	services := []Service{
		{Key: "b/local", Addrs: addrs("198.51.100.7"), LocalTraffic: true, ReadyNodes: []string{"node2"}},
		{Key: "a/web", Addrs: addrs("198.51.100.7")},
		{Key: "a/idle", Addrs: addrs("198.51.100.9"), LocalTraffic: true},
		{Key: "a/bgp", Addrs: addrs("192.0.2.1")},
	}
	want := []Layer2Claim{
		{Service: "a/web", IP: netip.MustParseAddr("198.51.100.7"), Eip: "l2"},
		{Service: "b/local", IP: netip.MustParseAddr("198.51.100.7"), Eip: "l2", Nodes: []string{"node2"}},
		{Service: "a/idle", IP: netip.MustParseAddr("198.51.100.9"), Eip: "l2", Nodes: []string{}},
	}
	for _, node := range []string{"node1", "node2"} {
		got := Compute(node, pools(t), services, bgpconfig.ServiceCIDRs{})
		if diff := cmp.Diff(want, got.Layer2, cmpopts.EquateComparable(netip.Addr{})); diff != "" {
			t.Errorf("%s: Layer2 (-want +got):\n%s", node, diff)
		}
		if len(got.Skipped) != 0 {
			t.Errorf("%s: skipped %v; layer2 addresses are not skipped", node, got.Skipped)
		}
	}
}

// TestComputeVIPClaims: every address of a vip pool in use is one claim,
// the same on every node, with the Services sharing it. Shared addresses
// combine as Layer2 claims do: Nodes are the nodes that can serve every
// Service (nil: any node), SomeNodes those that can serve at least one
// (nil: any node), for when no node can serve all.
func TestComputeVIPClaims(t *testing.T) {
	a := netip.MustParseAddr
	tests := []struct {
		name     string
		services []Service
		want     []VIPClaim
	}{
		{
			name:     "cluster traffic, IPv4 and IPv6: any node",
			services: []Service{{Key: "a/web", Addrs: addrs("2001:db8:1::1", "100.64.0.1")}},
			want: []VIPClaim{
				{Addr: a("100.64.0.1"), Eip: "vip4", Services: []string{"a/web"}},
				{Addr: a("2001:db8:1::1"), Eip: "vip6", Services: []string{"a/web"}},
			},
		},
		{
			name:     "local traffic: the nodes with a ready endpoint, IPv6",
			services: []Service{{Key: "a/web", Addrs: addrs("2001:db8:1::1"), LocalTraffic: true, ReadyNodes: []string{"node3", "node1"}}},
			want: []VIPClaim{{Addr: a("2001:db8:1::1"), Eip: "vip6", Services: []string{"a/web"}, Local: true,
				Nodes: []string{"node1", "node3"}, SomeNodes: []string{"node1", "node3"}}},
		},
		{
			name:     "local traffic without any endpoint: no node (empty, not nil)",
			services: []Service{{Key: "a/web", Addrs: addrs("100.64.0.1"), LocalTraffic: true}},
			want: []VIPClaim{{Addr: a("100.64.0.1"), Eip: "vip4", Services: []string{"a/web"}, Local: true,
				Nodes: []string{}, SomeNodes: []string{}}},
		},
		{
			name: "shared by two Local Services: intersection, and union as fallback",
			services: []Service{
				{Key: "b/https", Addrs: addrs("100.64.0.9"), LocalTraffic: true, ReadyNodes: []string{"node2", "node3"}},
				{Key: "a/http", Addrs: addrs("100.64.0.9"), LocalTraffic: true, ReadyNodes: []string{"node1", "node2"}},
			},
			want: []VIPClaim{{Addr: a("100.64.0.9"), Eip: "vip4", Services: []string{"a/http", "b/https"}, Local: true,
				Nodes: []string{"node2"}, SomeNodes: []string{"node1", "node2", "node3"}}},
		},
		{
			name: "shared by a Local and a Cluster Service: the Local one restricts, any node as fallback",
			services: []Service{
				{Key: "a/local", Addrs: addrs("2001:db8:1::9"), LocalTraffic: true, ReadyNodes: []string{"node2"}},
				{Key: "a/cluster", Addrs: addrs("2001:db8:1::9")},
			},
			want: []VIPClaim{{Addr: a("2001:db8:1::9"), Eip: "vip6", Services: []string{"a/cluster", "a/local"}, Local: true,
				Nodes: []string{"node2"}}},
		},
		{
			name: "sorted by address; other protocols and addresses in no Eip are no claims",
			services: []Service{
				{Key: "a/x", Addrs: addrs("100.64.0.20", "192.0.2.1", "198.51.100.1", "203.0.113.1")},
				{Key: "a/y", Addrs: addrs("100.64.0.3")},
				{Key: "a/z", Addrs: addrs("100.64.0.20")},
			},
			want: []VIPClaim{
				{Addr: a("100.64.0.3"), Eip: "vip4", Services: []string{"a/y"}},
				{Addr: a("100.64.0.20"), Eip: "vip4", Services: []string{"a/x", "a/z"}},
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for _, node := range []string{"node1", "node2"} {
				got := Compute(node, pools(t), tt.services, bgpconfig.ServiceCIDRs{})
				if diff := cmp.Diff(tt.want, got.VIP, cmpopts.EquateComparable(netip.Addr{})); diff != "" {
					t.Errorf("%s: VIP (-want +got):\n%s", node, diff)
				}
				for _, c := range tt.want {
					if why, ok := got.Skipped[c.Addr]; ok {
						t.Errorf("%s: %s skipped (%s); vip addresses are the VIP mode's", node, c.Addr, why)
					}
				}
			}
		})
	}
}
