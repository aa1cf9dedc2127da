package speaker

import (
	"net/netip"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/herald-lb/herald/api/v1alpha2"
	"github.com/herald-lb/herald/internal/eippool"
)

func pools(t *testing.T) []eippool.Pool {
	var out []eippool.Pool
	for _, e := range []v1alpha2.Eip{
		{ObjectMeta: metav1.ObjectMeta{Name: "bgp4"}, Spec: v1alpha2.EipSpec{Address: "192.0.2.0/24"}},
		{ObjectMeta: metav1.ObjectMeta{Name: "bgp6"}, Spec: v1alpha2.EipSpec{Address: "2001:db8::/64", Protocol: "bgp"}},
		{ObjectMeta: metav1.ObjectMeta{Name: "l2"}, Spec: v1alpha2.EipSpec{Address: "198.51.100.0/24", Protocol: "layer2", Interface: "eth0"}},
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

func TestCompute(t *testing.T) {
	tests := []struct {
		name     string
		services []Service
		wantBGP  []string
		skipped  map[string]string
	}{
		{
			name:     "cluster traffic is announced by every node, v4 and v6",
			services: []Service{{Key: "a/web", Addrs: addrs("192.0.2.1", "2001:db8::1")}},
			wantBGP:  []string{"192.0.2.1", "2001:db8::1"},
		},
		{
			name:     "local traffic with a ready endpoint here",
			services: []Service{{Key: "a/web", Addrs: addrs("192.0.2.1"), LocalTraffic: true, ReadyNodes: []string{"node2", "node1"}}},
			wantBGP:  []string{"192.0.2.1"},
		},
		{
			name:     "local traffic without an endpoint here",
			services: []Service{{Key: "a/web", Addrs: addrs("192.0.2.1"), LocalTraffic: true, ReadyNodes: []string{"node2"}}},
			skipped:  map[string]string{"192.0.2.1": "externalTrafficPolicy Local and no ready endpoint on this node"},
		},
		{
			name: "shared address: one Service with an endpoint here is enough",
			services: []Service{
				{Key: "a/http", Addrs: addrs("192.0.2.9"), LocalTraffic: true, ReadyNodes: []string{"node2"}},
				{Key: "a/https", Addrs: addrs("192.0.2.9"), LocalTraffic: true, ReadyNodes: []string{"node1"}},
			},
			wantBGP: []string{"192.0.2.9"},
		},
		{
			name:     "address in no Eip",
			services: []Service{{Key: "a/web", Addrs: addrs("203.0.113.1")}},
			skipped:  map[string]string{"203.0.113.1": "in no valid Eip"},
		},
		{
			name:     "layer2 address is not BGP's",
			services: []Service{{Key: "a/web", Addrs: addrs("198.51.100.7")}},
			skipped:  map[string]string{"198.51.100.7": "protocol layer2 is not served by this speaker yet"},
		},
		{
			name: "sorted and unique",
			services: []Service{
				{Key: "a/x", Addrs: addrs("192.0.2.20")},
				{Key: "a/y", Addrs: addrs("192.0.2.3")},
				{Key: "a/z", Addrs: addrs("192.0.2.20")},
			},
			wantBGP: []string{"192.0.2.3", "192.0.2.20"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := Compute("node1", pools(t), tt.services)
			if diff := cmp.Diff(addrs(tt.wantBGP...), got.BGP, cmpopts.EquateEmpty(), cmpopts.EquateComparable(netip.Addr{})); diff != "" {
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
