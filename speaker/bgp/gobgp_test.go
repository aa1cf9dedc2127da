package bgp

import (
	"net/netip"
	"testing"

	"github.com/google/go-cmp/cmp"
	api "github.com/osrg/gobgp/v3/api"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/testing/protocmp"
	"google.golang.org/protobuf/types/known/anypb"

	"github.com/herald-lb/herald/api/v1alpha2"
)

// TestConfFieldsToGoBGP maps each BgpConf field to the StartBgp request.
func TestConfFieldsToGoBGP(t *testing.T) {
	tests := []struct {
		name string
		conf func(*v1alpha2.BgpConfSpec)
		want *api.Global
	}{{
		name: "as, and the node's address as router ID",
		conf: func(*v1alpha2.BgpConfSpec) {},
		want: &api.Global{Asn: 65001, RouterId: "192.168.0.11", ListenPort: -1},
	}, {
		name: "asPerRack",
		conf: func(s *v1alpha2.BgpConfSpec) { s.AsPerRack = map[string]v1alpha2.ASNumber{"rack1": 64601} },
		want: &api.Global{Asn: 64601, RouterId: "192.168.0.11", ListenPort: -1},
	}, {
		name: "routerId",
		conf: func(s *v1alpha2.BgpConfSpec) { s.RouterId = "10.255.0.1" },
		want: &api.Global{Asn: 65001, RouterId: "10.255.0.1", ListenPort: -1},
	}, {
		name: "listenPort and listenAddresses",
		conf: func(s *v1alpha2.BgpConfSpec) { s.ListenPort = 17900; s.ListenAddresses = []string{"0.0.0.0", "::"} },
		want: &api.Global{Asn: 65001, RouterId: "192.168.0.11", ListenPort: 17900, ListenAddresses: []string{"0.0.0.0", "::"}},
	}, {
		name: "families",
		conf: func(s *v1alpha2.BgpConfSpec) { s.Families = []uint32{1, 0} },
		want: &api.Global{Asn: 65001, RouterId: "192.168.0.11", ListenPort: -1, Families: []uint32{1, 0}},
	}, {
		name: "useMultiplePaths",
		conf: func(s *v1alpha2.BgpConfSpec) { s.UseMultiplePaths = true },
		want: &api.Global{Asn: 65001, RouterId: "192.168.0.11", ListenPort: -1, UseMultiplePaths: true},
	}, {
		name: "gracefulRestart goes to the peers, not the global",
		conf: func(s *v1alpha2.BgpConfSpec) { s.GracefulRestart = &v1alpha2.GracefulRestart{Enabled: true} },
		want: &api.Global{Asn: 65001, RouterId: "192.168.0.11", ListenPort: -1},
	}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg, err := Translate(testConf(tt.conf), nil, testNode, noPassword)
			if err != nil {
				t.Fatalf("Translate: %v", err)
			}
			if diff := cmp.Diff(tt.want, apiGlobal(cfg.Global), protocmp.Transform()); diff != "" {
				t.Errorf("GoBGP global (-want +got):\n%s", diff)
			}
		})
	}
}

func TestAPIPath(t *testing.T) {
	mustAny := func(m proto.Message) *anypb.Any {
		a, err := anypb.New(m)
		if err != nil {
			t.Fatal(err)
		}
		return a
	}
	v4, v6 := &api.Family{Afi: api.Family_AFI_IP, Safi: api.Family_SAFI_UNICAST}, &api.Family{Afi: api.Family_AFI_IP6, Safi: api.Family_SAFI_UNICAST}
	origin := mustAny(&api.OriginAttribute{})
	nlri4 := mustAny(&api.IPAddressPrefix{Prefix: "10.96.0.1", PrefixLen: 32})
	nlri6 := mustAny(&api.IPAddressPrefix{Prefix: "fd00:96::1", PrefixLen: 128})
	range4 := mustAny(&api.IPAddressPrefix{Prefix: "10.96.0.0", PrefixLen: 12})
	range6 := mustAny(&api.IPAddressPrefix{Prefix: "fd00:96::", PrefixLen: 108})
	tests := []struct {
		name string
		path Path
		want *api.Path
	}{{
		name: "IPv4, session's local address",
		path: Path{Prefix: netip.MustParsePrefix("10.96.0.1/32")},
		want: &api.Path{Family: v4, Nlri: nlri4, Pattrs: []*anypb.Any{origin, mustAny(&api.NextHopAttribute{NextHop: "0.0.0.0"})}},
	}, {
		name: "IPv4, given next hop",
		path: Path{Prefix: netip.MustParsePrefix("10.96.0.1/32"), NextHop: netip.MustParseAddr("192.168.0.11")},
		want: &api.Path{Family: v4, Nlri: nlri4, Pattrs: []*anypb.Any{origin, mustAny(&api.NextHopAttribute{NextHop: "192.168.0.11"})}},
	}, {
		name: "IPv4 with an IPv6 next hop (RFC 8950)",
		path: Path{Prefix: netip.MustParsePrefix("10.96.0.1/32"), NextHop: netip.MustParseAddr("fd00::11")},
		want: &api.Path{Family: v4, Nlri: nlri4, Pattrs: []*anypb.Any{origin,
			mustAny(&api.MpReachNLRIAttribute{Family: v4, NextHops: []string{"fd00::11"}, Nlris: []*anypb.Any{nlri4}})}},
	}, {
		name: "IPv6, session's local address",
		path: Path{Prefix: netip.MustParsePrefix("fd00:96::1/128")},
		want: &api.Path{Family: v6, Nlri: nlri6, Pattrs: []*anypb.Any{origin,
			mustAny(&api.MpReachNLRIAttribute{Family: v6, NextHops: []string{"::"}, Nlris: []*anypb.Any{nlri6}})}},
	}, {
		name: "IPv4 range",
		path: Path{Prefix: netip.MustParsePrefix("10.96.0.0/12")},
		want: &api.Path{Family: v4, Nlri: range4, Pattrs: []*anypb.Any{origin, mustAny(&api.NextHopAttribute{NextHop: "0.0.0.0"})}},
	}, {
		name: "IPv6 range, given next hop",
		path: Path{Prefix: netip.MustParsePrefix("fd00:96::/108"), NextHop: netip.MustParseAddr("fd00::11")},
		want: &api.Path{Family: v6, Nlri: range6, Pattrs: []*anypb.Any{origin,
			mustAny(&api.MpReachNLRIAttribute{Family: v6, NextHops: []string{"fd00::11"}, Nlris: []*anypb.Any{range6}})}},
	}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := apiPath(tt.path)
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tt.want, got, protocmp.Transform()); diff != "" {
				t.Errorf("GoBGP path (-want +got):\n%s", diff)
			}
		})
	}
}

func TestPathTable(t *testing.T) {
	p := netip.MustParsePrefix
	a := netip.MustParseAddr
	tests := []struct {
		name    string
		paths   []Path
		wantErr bool
	}{
		{name: "host routes", paths: []Path{{Prefix: p("10.96.0.1/32")}, {Prefix: p("fd00::1/128"), NextHop: a("fd00::11")}}},
		{name: "same path twice", paths: []Path{{Prefix: p("10.96.0.1/32")}, {Prefix: p("10.96.0.1/32")}}},
		{name: "one prefix, two next hops", paths: []Path{{Prefix: p("10.96.0.1/32")}, {Prefix: p("10.96.0.1/32"), NextHop: a("10.0.0.1")}}, wantErr: true},
		{name: "ranges, v4 and v6", paths: []Path{{Prefix: p("10.96.0.0/12")}, {Prefix: p("fd00:96::/108"), NextHop: a("fd00::11")}, {Prefix: p("0.0.0.0/0")}}},
		{name: "host bits set", paths: []Path{{Prefix: p("10.96.0.1/12")}}, wantErr: true},
		{name: "IPv6 host bits set", paths: []Path{{Prefix: p("fd00:96::1/108")}}, wantErr: true},
		{name: "IPv4-mapped", paths: []Path{{Prefix: p("::ffff:10.96.0.1/128")}}, wantErr: true},
		{name: "zero prefix", paths: []Path{{}}, wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := pathTable(tt.paths)
			if (err != nil) != tt.wantErr {
				t.Errorf("pathTable error = %v, want error %v", err, tt.wantErr)
			}
		})
	}
}
