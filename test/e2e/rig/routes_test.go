package rig

import (
	"net/netip"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestParseIPRoutes(t *testing.T) {
	a := netip.MustParseAddr
	p := netip.MustParsePrefix
	for _, tc := range []struct {
		name string
		v6   bool
		json string
		want []Route
	}{
		{
			name: "IPv4 ECMP from BIRD, connected, default",
			json: `[{"dst":"default","gateway":"10.99.0.1","dev":"eth0","flags":[]},
				{"dst":"10.99.0.0/24","dev":"eth0","protocol":"kernel","scope":"link","prefsrc":"10.99.0.1","flags":[]},
				{"dst":"10.99.200.1","protocol":"bird","metric":32,"flags":[],"nexthops":[
					{"gateway":"10.99.0.12","dev":"eth0","weight":1,"flags":[]},
					{"gateway":"10.99.0.11","dev":"eth0","weight":1,"flags":[]}]}]`,
			want: []Route{
				{Dst: p("0.0.0.0/0"), Nexthops: []Nexthop{{Gateway: a("10.99.0.1"), Dev: "eth0"}}},
				{Dst: p("10.99.0.0/24"), Protocol: "kernel", Nexthops: []Nexthop{{Dev: "eth0"}}},
				{Dst: p("10.99.200.1/32"), Protocol: "bird", Nexthops: []Nexthop{
					{Gateway: a("10.99.0.12"), Dev: "eth0", Weight: 1},
					{Gateway: a("10.99.0.11"), Dev: "eth0", Weight: 1},
				}},
			},
		},
		{
			name: "IPv6 ECMP from BIRD, single path, default",
			v6:   true,
			json: `[{"dst":"fd99:200::1","protocol":"bird","metric":32,"flags":[],"pref":"medium","nexthops":[
					{"gateway":"fd99::11","dev":"eth0","weight":1,"flags":[]},
					{"gateway":"fd99::12","dev":"eth0","weight":1,"flags":[]}]},
				{"dst":"fd99:200::2","gateway":"fd99::13","dev":"eth0","protocol":"bird","metric":32,"flags":[],"pref":"medium"},
				{"dst":"default","gateway":"fd99::1","dev":"eth0","metric":1024,"flags":[],"pref":"medium"}]`,
			want: []Route{
				{Dst: p("fd99:200::1/128"), Protocol: "bird", Nexthops: []Nexthop{
					{Gateway: a("fd99::11"), Dev: "eth0", Weight: 1},
					{Gateway: a("fd99::12"), Dev: "eth0", Weight: 1},
				}},
				{Dst: p("fd99:200::2/128"), Protocol: "bird", Nexthops: []Nexthop{{Gateway: a("fd99::13"), Dev: "eth0"}}},
				{Dst: p("::/0"), Nexthops: []Nexthop{{Gateway: a("fd99::1"), Dev: "eth0"}}},
			},
		},
		{name: "no route", json: `[]`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := parseIPRoutes([]byte(tc.json), tc.v6)
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tc.want, got, cmp.Comparer(func(a, b netip.Addr) bool { return a == b }),
				cmp.Comparer(func(a, b netip.Prefix) bool { return a == b })); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
		})
	}
	if _, err := parseIPRoutes([]byte(`[{"dst":"nonsense"}]`), false); err == nil {
		t.Error("parseIPRoutes accepted a malformed dst")
	}
}

func TestRouteGateways(t *testing.T) {
	rt := Route{Nexthops: []Nexthop{{Gateway: netip.MustParseAddr("10.99.0.12")}, {Dev: "eth0"}, {Gateway: netip.MustParseAddr("10.99.0.11")}}}
	want := []netip.Addr{netip.MustParseAddr("10.99.0.11"), netip.MustParseAddr("10.99.0.12")}
	if diff := cmp.Diff(want, rt.Gateways(), cmp.Comparer(func(a, b netip.Addr) bool { return a == b })); diff != "" {
		t.Errorf("Gateways (-want +got):\n%s", diff)
	}
}
