package speaker

import (
	"fmt"
	"net/netip"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/herald-lb/herald/internal/eippool"
	"github.com/herald-lb/herald/keepalived"
	"github.com/herald-lb/herald/speaker/layer2"
)

func member(name string, ip ...string) VIPMember {
	return VIPMember{Name: name, Addrs: addrs(ip...)}
}

// threeNodes are dual-stack node1 and node2, and IPv4-only node3.
func threeNodes() []VIPMember {
	return []VIPMember{
		member("node1", "10.0.0.1", "fd00::1"),
		member("node2", "10.0.0.2", "fd00::2"),
		member("node3", "10.0.0.3"),
	}
}

// ifacesExcept resolves every pool's interface to eth0 but those named.
func ifacesExcept(down ...string) func(eippool.Pool) (string, error) {
	return func(p eippool.Pool) (string, error) {
		if slices.Contains(down, p.Name) {
			return "", fmt.Errorf("eip %q: interface eth0: %w", p.Name, layer2.ErrNoCarrier)
		}
		return "eth0", nil
	}
}

// TestVIPConfig: which VIPs node1 renders, with which eligible nodes, and
// the problems it reports, IPv4 and IPv6; the output is the same whatever
// order claims, pools and members come in.
func TestVIPConfig(t *testing.T) {
	a := netip.MustParseAddr
	v4, v6 := a("100.64.0.1"), a("2001:db8:1::1")
	vrids := map[netip.Addr]keepalived.VRID{v4: 7, v6: 7}
	type want struct {
		addr     netip.Addr
		vrid     keepalived.VRID
		iface    string
		eligible []string
		local    bool
	}
	tests := []struct {
		name     string
		claims   []VIPClaim
		vrids    map[netip.Addr]keepalived.VRID
		members  []VIPMember
		ifaces   func(eippool.Pool) (string, error)
		want     []want
		problems []VIPProblem
	}{
		{
			name: "cluster VIPs: every live member with an address of the family",
			claims: []VIPClaim{
				{Addr: v6, Eip: "vip6", Services: []string{"a/web"}},
				{Addr: v4, Eip: "vip4", Services: []string{"a/web"}},
			},
			want: []want{
				{v4, 7, "eth0", []string{"node1", "node2", "node3"}, false},
				{v6, 7, "eth0", []string{"node1", "node2"}, false},
			},
		},
		{
			name: "VRID missing: left out, with a problem",
			claims: []VIPClaim{
				{Addr: v4, Eip: "vip4", Services: []string{"a/web"}},
				{Addr: a("100.64.0.2"), Eip: "vip4", Services: []string{"a/new"}},
				{Addr: a("2001:db8:1::2"), Eip: "vip6", Services: []string{"a/new"}},
			},
			want: []want{{v4, 7, "eth0", []string{"node1", "node2", "node3"}, false}},
			problems: []VIPProblem{
				{a("100.64.0.2"), problemNoVRID},
				{a("2001:db8:1::2"), problemNoVRID},
			},
		},
		{
			name: "Local: only the nodes with a ready endpoint, IPv4 and IPv6",
			claims: []VIPClaim{
				{Addr: v4, Eip: "vip4", Local: true, Nodes: []string{"node2", "node3"}, SomeNodes: []string{"node2", "node3"}},
				{Addr: v6, Eip: "vip6", Local: true, Nodes: []string{"node2", "node3"}, SomeNodes: []string{"node2", "node3"}},
			},
			want: []want{
				{v4, 7, "eth0", []string{"node2", "node3"}, true},
				{v6, 7, "eth0", []string{"node2"}, true}, // node3 has no IPv6 address
			},
		},
		{
			name:     "Local without any ready endpoint: rendered (its track file says 1), with a problem",
			claims:   []VIPClaim{{Addr: v4, Eip: "vip4", Local: true, Nodes: []string{}, SomeNodes: []string{}}},
			want:     []want{{v4, 7, "eth0", nil, true}},
			problems: []VIPProblem{{v4, problemNoEligible}},
		},
		{
			name: "a member that cannot serve the Eip is not eligible",
			claims: []VIPClaim{
				{Addr: v4, Eip: "vip4"},
				{Addr: v6, Eip: "vip6"},
			},
			members: []VIPMember{
				member("node1", "10.0.0.1", "fd00::1"),
				{Name: "node2", Addrs: addrs("10.0.0.2", "fd00::2"), UnavailableEips: []string{"vip6"}},
			},
			want: []want{
				{v4, 7, "eth0", []string{"node1", "node2"}, false},
				{v6, 7, "eth0", []string{"node1"}, false},
			},
		},
		{
			name: "shared address, Local endpoints on common nodes: the intersection",
			claims: []VIPClaim{{Addr: v4, Eip: "vip4", Services: []string{"a/http", "a/https"}, Local: true,
				Nodes: []string{"node2"}, SomeNodes: []string{"node1", "node2", "node3"}}},
			want: []want{{v4, 7, "eth0", []string{"node2"}, true}},
		},
		{
			name: "shared address, nobody eligible in the intersection: the union",
			claims: []VIPClaim{{Addr: v6, Eip: "vip6", Services: []string{"a/http", "a/https"}, Local: true,
				Nodes: []string{"node3"}, SomeNodes: []string{"node1", "node3"}}},
			want: []want{{v6, 7, "eth0", []string{"node1"}, true}}, // node3 has no IPv6
		},
		{
			name: "shared with a Cluster Service, no Local endpoint: any node",
			claims: []VIPClaim{{Addr: v4, Eip: "vip4", Services: []string{"a/cluster", "a/local"}, Local: true,
				Nodes: []string{}}},
			want: []want{{v4, 7, "eth0", []string{"node1", "node2", "node3"}, true}},
		},
		{
			name:   "this node's interface does not resolve: not eligible, the others are",
			claims: []VIPClaim{{Addr: v4, Eip: "vip4"}, {Addr: v6, Eip: "vip6"}},
			ifaces: ifacesExcept("vip6"),
			want: []want{
				{v4, 7, "eth0", []string{"node1", "node2", "node3"}, false},
				{v6, 7, "", []string{"node2"}, false},
			},
			problems: []VIPProblem{{v6, `this node is not eligible: eip "vip6": interface eth0: interface missing, down or without carrier`}},
		},
		{
			name:     "this node has no IPv6 address: not eligible for IPv6 VIPs",
			claims:   []VIPClaim{{Addr: v6, Eip: "vip6"}},
			members:  []VIPMember{member("node1", "10.0.0.1"), member("node2", "10.0.0.2", "fd00::2")},
			want:     []want{{v6, 7, "eth0", []string{"node2"}, false}},
			problems: []VIPProblem{{v6, "this node is not eligible: it has no IPv6 address"}},
		},
		{
			name:     "a claim in no accepted vip pool",
			claims:   []VIPClaim{{Addr: v4, Eip: "gone"}},
			problems: []VIPProblem{{v4, problemNoEip}},
		},
	}
	settings := keepalived.DefaultSettings()
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if tt.vrids == nil {
				tt.vrids = vrids
			}
			if tt.members == nil {
				tt.members = threeNodes()
			}
			if tt.ifaces == nil {
				tt.ifaces = ifacesExcept()
			}
			var wantVIPs []keepalived.VIP
			for _, w := range tt.want {
				wantVIPs = append(wantVIPs, keepalived.VIP{Addr: w.addr, VRID: w.vrid, Interface: w.iface,
					Ranked: keepalived.Rank(w.addr, w.eligible), Local: w.local})
			}
			wantAddrs := map[string][]netip.Addr{}
			for _, m := range tt.members {
				wantAddrs[m.Name] = m.Addrs
			}
			wantCfg := keepalived.Config{Node: "node1", NodeAddrs: wantAddrs, Settings: settings, VIPs: wantVIPs}
			ps := pools(t)
			for _, reversed := range []bool{false, true} {
				claims, ps, members := slices.Clone(tt.claims), slices.Clone(ps), slices.Clone(tt.members)
				if reversed {
					slices.Reverse(claims)
					slices.Reverse(ps)
					slices.Reverse(members)
				}
				cfg, problems := vipConfig("node1", claims, ps, tt.vrids, members, tt.ifaces, settings)
				opts := cmp.Options{cmpopts.EquateComparable(netip.Addr{}), cmpopts.EquateEmpty()}
				if diff := cmp.Diff(wantCfg, cfg, opts); diff != "" {
					t.Errorf("reversed=%v: config (-want +got):\n%s", reversed, diff)
				}
				if diff := cmp.Diff(tt.problems, problems, opts); diff != "" {
					t.Errorf("reversed=%v: problems (-want +got):\n%s", reversed, diff)
				}
			}
		})
	}
}

// TestVIPConfigRenders: the config vipConfig builds is one keepalived
// accepts, with unicast peers from the members' addresses of the VIP's
// family.
func TestVIPConfigRenders(t *testing.T) {
	settings := keepalived.DefaultSettings()
	settings.Unicast = true
	claims := []VIPClaim{{Addr: netip.MustParseAddr("2001:db8:1::1"), Eip: "vip6"}}
	vrids := map[netip.Addr]keepalived.VRID{netip.MustParseAddr("2001:db8:1::1"): 9}
	cfg, problems := vipConfig("node1", claims, pools(t), vrids, threeNodes(), ifacesExcept(), settings)
	if len(problems) != 0 {
		t.Fatalf("problems: %v", problems)
	}
	out, err := keepalived.Render(cfg)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"virtual_router_id 9", "unicast_src_ip fd00::1", "fd00::2"} {
		if !strings.Contains(string(out), want) {
			t.Errorf("rendered config lacks %q:\n%s", want, out)
		}
	}
}

// TestVIPConfigCarriesEipVRRP: a vip Eip's spec.vrrp reaches its VIPs'
// instances, and only theirs.
func TestVIPConfigCarriesEipVRRP(t *testing.T) {
	ps := pools(t)
	fast := keepalived.Override{AdvertInterval: 100 * time.Millisecond}
	for i := range ps {
		if ps[i].Name == "vip4" {
			ps[i].VRRP = fast
		}
	}
	v4, v6 := netip.MustParseAddr("100.64.0.1"), netip.MustParseAddr("2001:db8:1::1")
	claims := []VIPClaim{{Addr: v4, Eip: "vip4"}, {Addr: v6, Eip: "vip6"}}
	vrids := map[netip.Addr]keepalived.VRID{v4: 1, v6: 1}
	cfg, _ := vipConfig("node1", claims, ps, vrids, threeNodes(), ifacesExcept(), keepalived.DefaultSettings())
	for _, v := range cfg.VIPs {
		want := keepalived.Override{}
		if v.Addr == v4 {
			want = fast
		}
		if v.Override != want {
			t.Errorf("vip %s: override %+v, want %+v", v.Addr, v.Override, want)
		}
	}
	out, err := keepalived.Render(cfg)
	if err != nil || !strings.Contains(string(out), "advert_int 0.1") || !strings.Contains(string(out), "advert_int 1\n") {
		t.Errorf("rendered (err %v) without both intervals:\n%s", err, out)
	}
}
