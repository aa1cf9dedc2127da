package speaker

import (
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/herald-lb/herald/internal/bgpconfig"
)

// TestComputeRouteEip: a load-balancer route names its Eip, whose
// bgpAdvertisements apply, and is Local (never aggregated) only when every
// Service sharing the address has externalTrafficPolicy Local.
func TestComputeRouteEip(t *testing.T) {
	services := []Service{
		{Key: "a/cluster", Addrs: addrs("192.0.2.1", "2001:db8::1")},
		{Key: "a/local", Addrs: addrs("192.0.2.2"), LocalTraffic: true, ReadyNodes: []string{"node1"}},
		{Key: "a/shared-local", Addrs: addrs("192.0.2.3"), LocalTraffic: true, ReadyNodes: []string{"node1"}},
		{Key: "a/shared-cluster", Addrs: addrs("192.0.2.3")},
	}
	got := Compute("node1", pools(t), services, bgpconfig.ServiceCIDRs{})
	var gotRoutes []string
	for _, r := range got.BGP {
		s := r.Prefix.String() + " " + r.Eip
		if r.Local {
			s += " local"
		}
		gotRoutes = append(gotRoutes, s)
	}
	want := []string{"192.0.2.1/32 bgp4", "192.0.2.2/32 bgp4 local", "192.0.2.3/32 bgp4", "2001:db8::1/128 bgp6"}
	if diff := cmp.Diff(want, gotRoutes); diff != "" {
		t.Errorf("(-want +got)\n%s", diff)
	}
}
