package bgp

import (
	"net/netip"
	"testing"

	"github.com/google/go-cmp/cmp"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/herald-lb/herald/api/v1alpha2"
)

func TestAdvertise(t *testing.T) {
	pfx := netip.MustParsePrefix
	x, y := netip.MustParseAddr("10.0.0.1"), netip.MustParseAddr("10.0.0.2")
	peers := []Peer{{Name: "tor-x", Address: x, Labels: map[string]string{"role": "transit"}}, {Name: "tor-y", Address: y}}
	i32 := func(v int32) *int32 { return &v }
	u32 := func(v uint32) *uint32 { return &v }
	noAdv := uint32(0xFFFFFF02)
	metallb := []v1alpha2.BgpAdvertisement{
		{AggregationLength: i32(32), LocalPref: u32(100), Communities: []string{"no-advertise"}},
		{AggregationLength: i32(24), AggregationLengthV6: i32(64)},
	}
	tests := []struct {
		name      string
		routes    []Route
		ads       map[string][]v1alpha2.BgpAdvertisement
		want      []Path
		wantNotes []string
	}{
		{
			name:   "no advertisements: host routes to every peer",
			routes: []Route{{Prefix: pfx("192.0.2.1/32"), Eip: "a"}, {Prefix: pfx("10.96.0.0/12")}},
			want:   []Path{{Prefix: pfx("10.96.0.0/12")}, {Prefix: pfx("192.0.2.1/32")}},
		},
		{
			name: "MetalLB's example: host routes with attributes and one aggregate per /24",
			routes: []Route{
				{Prefix: pfx("192.0.2.1/32"), Eip: "a"}, {Prefix: pfx("192.0.2.9/32"), Eip: "a"},
				{Prefix: pfx("2001:db8::1/128"), Eip: "a"},
			},
			ads: map[string][]v1alpha2.BgpAdvertisement{"a": metallb},
			want: []Path{
				{Prefix: pfx("192.0.2.0/24"), Peers: []netip.Addr{x, y}},
				{Prefix: pfx("192.0.2.1/32"), Attrs: Attrs{LocalPref: 100, Communities: []uint32{noAdv}}, Peers: []netip.Addr{x, y}},
				{Prefix: pfx("192.0.2.9/32"), Attrs: Attrs{LocalPref: 100, Communities: []uint32{noAdv}}, Peers: []netip.Addr{x, y}},
				{Prefix: pfx("2001:db8::/64"), Peers: []netip.Addr{x, y}},
				{Prefix: pfx("2001:db8::1/128"), Attrs: Attrs{LocalPref: 100, Communities: []uint32{noAdv}}, Peers: []netip.Addr{x, y}},
			},
		},
		{
			name:   "Local addresses stay host routes",
			routes: []Route{{Prefix: pfx("192.0.2.1/32"), Eip: "a", Local: true}},
			ads:    map[string][]v1alpha2.BgpAdvertisement{"a": metallb},
			want:   []Path{{Prefix: pfx("192.0.2.1/32"), Attrs: Attrs{LocalPref: 100, Communities: []uint32{noAdv}}, Peers: []netip.Addr{x, y}}},
		},
		{
			name:   "peers by name and by label; a peer selected by none gets nothing",
			routes: []Route{{Prefix: pfx("192.0.2.1/32"), Eip: "a"}, {Prefix: pfx("198.51.100.1/32"), Eip: "b"}},
			ads: map[string][]v1alpha2.BgpAdvertisement{
				"a": {{AggregationLength: i32(24), PeerSelector: &metav1.LabelSelector{MatchLabels: map[string]string{"role": "transit"}}},
					{Peers: []string{"tor-y"}, Communities: []string{"65000:1"}}},
				"b": {{Peers: []string{"tor-x"}}},
			},
			want: []Path{
				{Prefix: pfx("192.0.2.0/24"), Peers: []netip.Addr{x}},
				{Prefix: pfx("192.0.2.1/32"), Attrs: Attrs{Communities: []uint32{65000<<16 | 1}}, Peers: []netip.Addr{y}},
				{Prefix: pfx("198.51.100.1/32"), Peers: []netip.Addr{x}},
			},
		},
		{
			name:   "two advertisements, one prefix, one peer: merged",
			routes: []Route{{Prefix: pfx("192.0.2.1/32"), Eip: "a"}},
			ads: map[string][]v1alpha2.BgpAdvertisement{"a": {
				{LocalPref: u32(50), Communities: []string{"65000:2", "large:1:2:3"}},
				{LocalPref: u32(70), Communities: []string{"65000:1"}, Peers: []string{"tor-x"}},
			}},
			want: []Path{
				{Prefix: pfx("192.0.2.1/32"), Attrs: Attrs{LocalPref: 70, Communities: []uint32{65000<<16 | 1, 65000<<16 | 2}, LargeCommunities: []LargeCommunity{{1, 2, 3}}}, Peers: []netip.Addr{x}},
				{Prefix: pfx("192.0.2.1/32"), Attrs: Attrs{LocalPref: 50, Communities: []uint32{65000<<16 | 2}, LargeCommunities: []LargeCommunity{{1, 2, 3}}}, Peers: []netip.Addr{y}},
			},
			wantNotes: []string{`eip "a": two advertisements give 192.0.2.1/32 to neighbour 10.0.0.1; it carries the communities of both and the higher localPref`},
		},
		{
			name:      "an unreadable community is left out",
			routes:    []Route{{Prefix: pfx("192.0.2.1/32"), Eip: "a"}},
			ads:       map[string][]v1alpha2.BgpAdvertisement{"a": {{Communities: []string{"nope", "65000:1"}}}},
			want:      []Path{{Prefix: pfx("192.0.2.1/32"), Attrs: Attrs{Communities: []uint32{65000<<16 | 1}}, Peers: []netip.Addr{x, y}}},
			wantNotes: []string{`eip "a": spec.bgpAdvertisements[0].communities[0]: community "nope": unknown community alias of bgpconf "default"; left out`},
		},
		{
			name:   "an aggregate that is also a plain route reaches every peer",
			routes: []Route{{Prefix: pfx("192.0.2.1/32"), Eip: "a"}, {Prefix: pfx("192.0.2.0/24")}},
			ads:    map[string][]v1alpha2.BgpAdvertisement{"a": {{AggregationLength: i32(24), Peers: []string{"tor-x"}, Communities: []string{"65000:1"}}}},
			want: []Path{
				{Prefix: pfx("192.0.2.0/24"), Attrs: Attrs{Communities: []uint32{65000<<16 | 1}}, Peers: []netip.Addr{x}},
				{Prefix: pfx("192.0.2.0/24"), Peers: []netip.Addr{y}},
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, notes := Advertise(tt.routes, tt.ads, nil, peers)
			if diff := cmp.Diff(tt.want, got, cmp.Comparer(func(a, b netip.Addr) bool { return a == b }),
				cmp.Comparer(func(a, b netip.Prefix) bool { return a == b })); diff != "" {
				t.Errorf("paths (-want +got)\n%s", diff)
			}
			if diff := cmp.Diff(tt.wantNotes, notes); diff != "" {
				t.Errorf("notes (-want +got)\n%s", diff)
			}
			if _, err := pathTable(got); err != nil {
				t.Errorf("the router refuses the paths: %v", err)
			}
		})
	}
}
