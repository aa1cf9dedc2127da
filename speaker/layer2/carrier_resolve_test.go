package layer2

import (
	"errors"
	"fmt"
	"net/netip"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/herald-lb/herald/internal/eippool"
)

// routeTable is a RouteLookup over fixed answers.
type routeTable map[netip.Addr]string

func (r routeTable) InterfaceTo(dst netip.Addr) (string, error) {
	if name, ok := r[dst]; ok {
		return name, nil
	}
	return "", fmt.Errorf("route to %s: network is unreachable", dst)
}

func canReach(name, ip string) eippool.Pool {
	return eippool.Pool{Name: name, Interface: "can_reach:" + ip, CanReach: netip.MustParseAddr(ip)}
}

func TestInterfaceFor(t *testing.T) {
	routes := routeTable{
		netip.MustParseAddr("192.168.0.1"): "eth0",
		netip.MustParseAddr("fd00::1"):     "eth1",
	}
	for _, tc := range []struct {
		name    string
		pool    eippool.Pool
		want    string
		wantErr bool
	}{
		{"by name", eippool.Pool{Name: "p", Interface: "bond0.100"}, "bond0.100", false},
		{"can_reach IPv4", canReach("p", "192.168.0.1"), "eth0", false},
		{"can_reach IPv6", canReach("p", "fd00::1"), "eth1", false},
		{"can_reach without a route", canReach("p", "10.9.9.9"), "", true},
		{"no interface", eippool.Pool{Name: "p"}, "", true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := InterfaceFor(tc.pool, routes)
			if got != tc.want || (err != nil) != tc.wantErr {
				t.Errorf("InterfaceFor = %q, %v; want %q, error %v", got, err, tc.want, tc.wantErr)
			}
		})
	}
}

func TestResolveEipInterfaces(t *testing.T) {
	routes := routeTable{netip.MustParseAddr("192.168.0.1"): "eth0", netip.MustParseAddr("10.0.0.1"): "eth1"}
	up := map[string]bool{"eth0": true, "eth1": false}
	got := ResolveEipInterfaces([]eippool.Pool{
		{Name: "named", Interface: "eth0"},
		canReach("reach", "192.168.0.1"),
		canReach("no-carrier", "10.0.0.1"),
		{Name: "missing", Interface: "eth5"},
		canReach("unroutable", "172.16.0.1"),
	}, routes, func(name string) bool { return up[name] })

	if diff := cmp.Diff(map[string]string{"named": "eth0", "reach": "eth0"}, got.Available); diff != "" {
		t.Errorf("available (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]string{"missing", "no-carrier", "unroutable"}, got.UnavailableNames()); diff != "" {
		t.Errorf("unavailable (-want +got):\n%s", diff)
	}
	if !errors.Is(got.Unavailable["no-carrier"], ErrNoCarrier) || !errors.Is(got.Unavailable["missing"], ErrNoCarrier) || errors.Is(got.Unavailable["unroutable"], ErrNoCarrier) {
		t.Errorf("reasons: %v", got.Unavailable)
	}
}
