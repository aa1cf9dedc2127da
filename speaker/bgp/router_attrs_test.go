package bgp

import (
	"context"
	"fmt"
	"net/netip"
	"slices"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	api "github.com/osrg/gobgp/v3/api"
)

// attrsAt lists the ToR's routes by prefix with the attributes Herald sets.
func attrsAt(t *testing.T, tor *testToR) map[string]Attrs {
	t.Helper()
	out := map[string]Attrs{}
	for _, f := range []Family{IPv4Unicast, IPv6Unicast} {
		err := tor.srv.ListPath(context.Background(), &api.ListPathRequest{TableType: api.TableType_GLOBAL, Family: apiFamily(f)},
			func(d *api.Destination) {
				var a Attrs
				for _, pa := range d.Paths[0].Pattrs {
					m, err := pa.UnmarshalNew()
					if err != nil {
						t.Errorf("decode attribute: %v", err)
						return
					}
					switch v := m.(type) {
					case *api.LocalPrefAttribute:
						a.LocalPref = v.LocalPref
					case *api.CommunitiesAttribute:
						a.Communities = slices.Sorted(slices.Values(v.Communities))
					case *api.LargeCommunitiesAttribute:
						for _, c := range v.Communities {
							a.LargeCommunities = append(a.LargeCommunities, LargeCommunity{c.GlobalAdmin, c.LocalData1, c.LocalData2})
						}
					}
				}
				out[d.Prefix] = a
			})
		if err != nil {
			t.Fatalf("ToR %s: list paths: %v", tor.addr, err)
		}
	}
	return out
}

func waitAttrs(t *testing.T, tor *testToR, want map[string]Attrs) {
	t.Helper()
	eventually(t, 5*time.Second, fmt.Sprintf("attributes at ToR %s", tor.addr), func() (bool, string) {
		diff := cmp.Diff(want, attrsAt(t, tor), cmp.Comparer(Attrs.Equal))
		return diff == "", diff
	})
}

// TestRouterAttributes: communities and LOCAL_PREF ride on the path, LOCAL_PREF
// reaches the iBGP ToR only (GoBGP gives iBGP 100 by default), a change of
// attributes reaches the ToRs without resetting a session, a route can be
// kept from one neighbour, and one prefix can carry different attributes to
// different neighbours.
func TestRouterAttributes(t *testing.T) {
	router := netip.MustParseAddr("127.0.0.1")
	ebgp := startToR(t, "127.0.0.12", torAS, torNeighbor{addr: router, as: routerAS})
	ibgp := startToR(t, "127.0.0.13", routerAS, torNeighbor{addr: router, as: routerAS})
	r := newTestRouter(t, ebgp, ibgp)
	peers := []Peer{ebgp.peer("ebgp", torAS), ibgp.peer("ibgp", routerAS)}

	noAdvertise := uint32(0xFFFFFF02) // no-advertise
	a1 := Attrs{LocalPref: 200, Communities: []uint32{noAdvertise}, LargeCommunities: []LargeCommunity{{1, 2, 3}}}
	plain := host("10.96.0.1/32")
	withA1 := Path{Prefix: netip.MustParsePrefix("10.96.0.2/32"), Attrs: a1}
	r.apply(t, global(routerAS), peers, plain, withA1)
	r.waitEstablished(t, establishIn, "ebgp", "ibgp")
	eA1 := a1
	eA1.LocalPref = 0
	waitAttrs(t, ebgp, map[string]Attrs{"10.96.0.1/32": {}, "10.96.0.2/32": eA1})
	waitAttrs(t, ibgp, map[string]Attrs{"10.96.0.1/32": {LocalPref: 100}, "10.96.0.2/32": a1})
	baseE, baseI := r.status(t, "ebgp"), r.status(t, "ibgp")

	// New communities: the same sessions, the new attributes.
	a2 := Attrs{LocalPref: 150, Communities: []uint32{65000<<16 | 7}}
	withA1.Attrs = a2
	r.apply(t, global(routerAS), peers, plain, withA1)
	waitAttrs(t, ebgp, map[string]Attrs{"10.96.0.1/32": {}, "10.96.0.2/32": {Communities: a2.Communities}})
	waitAttrs(t, ibgp, map[string]Attrs{"10.96.0.1/32": {LocalPref: 100}, "10.96.0.2/32": a2})

	// 10.96.0.3 to the iBGP ToR only; 10.96.0.1 with different attributes
	// to each.
	ebgpOnly, ibgpOnly := []netip.Addr{ebgp.addr}, []netip.Addr{ibgp.addr}
	r.apply(t, global(routerAS), peers,
		Path{Prefix: plain.Prefix, Peers: ebgpOnly, Attrs: Attrs{Communities: []uint32{65000<<16 | 1}}},
		Path{Prefix: plain.Prefix, Peers: ibgpOnly, Attrs: Attrs{LocalPref: 300}},
		withA1,
		Path{Prefix: netip.MustParsePrefix("10.96.0.3/32"), Peers: ibgpOnly})
	waitAttrs(t, ebgp, map[string]Attrs{"10.96.0.1/32": {Communities: []uint32{65000<<16 | 1}}, "10.96.0.2/32": {Communities: a2.Communities}})
	waitAttrs(t, ibgp, map[string]Attrs{"10.96.0.1/32": {LocalPref: 300}, "10.96.0.2/32": a2, "10.96.0.3/32": {LocalPref: 100}})

	// 10.96.0.2 leaves the eBGP ToR; 10.96.0.3 reaches it too.
	r.apply(t, global(routerAS), peers,
		plain,
		Path{Prefix: withA1.Prefix, Peers: ibgpOnly, Attrs: a2},
		host("10.96.0.3/32"))
	waitAttrs(t, ebgp, map[string]Attrs{"10.96.0.1/32": {}, "10.96.0.3/32": {}})
	waitAttrs(t, ibgp, map[string]Attrs{"10.96.0.1/32": {LocalPref: 100}, "10.96.0.2/32": a2, "10.96.0.3/32": {LocalPref: 100}})

	for _, base := range []PeerStatus{baseE, baseI} {
		if s := r.status(t, base.Name); s.State != StateEstablished || s.Flops != base.Flops || s.Uptime != base.Uptime {
			t.Errorf("session %s was reset: %s, flops %d (was %d), up since %v (was %v)", base.Name, s.State, s.Flops, base.Flops, s.Uptime, base.Uptime)
		}
	}
}

func TestCompileRoute(t *testing.T) {
	p := netip.MustParsePrefix("10.96.0.1/32")
	x, y := netip.MustParseAddr("10.0.0.1"), netip.MustParseAddr("10.0.0.2")
	c1 := Attrs{Communities: []uint32{1}}
	tests := []struct {
		name    string
		paths   []Path
		want    routeSpec
		wantErr bool
	}{
		{name: "every peer", paths: []Path{{Prefix: p, Attrs: c1}}, want: routeSpec{attrs: c1}},
		{name: "same attributes to each", paths: []Path{{Prefix: p, Peers: []netip.Addr{y}, Attrs: c1}, {Prefix: p, Peers: []netip.Addr{x}, Attrs: c1}},
			want: routeSpec{attrs: c1, only: []netip.Addr{x, y}}},
		{name: "different attributes", paths: []Path{{Prefix: p, Peers: []netip.Addr{x}, Attrs: c1}, {Prefix: p, Peers: []netip.Addr{y}}},
			want: routeSpec{only: []netip.Addr{x, y}, per: map[netip.Addr]Attrs{x: c1}}},
		{name: "no peer", paths: []Path{{Prefix: p, Peers: []netip.Addr{}}}, want: routeSpec{only: []netip.Addr{}}},
		{name: "one peer twice", paths: []Path{{Prefix: p, Peers: []netip.Addr{x}, Attrs: c1}, {Prefix: p, Peers: []netip.Addr{x}}}, wantErr: true},
		{name: "every peer and some", paths: []Path{{Prefix: p}, {Prefix: p, Peers: []netip.Addr{x}}}, wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := pathTable(tt.paths)
			if (err != nil) != tt.wantErr {
				t.Fatalf("error = %v, want error %v", err, tt.wantErr)
			}
			if err == nil && !got[p].equal(tt.want) {
				t.Errorf("got %+v, want %+v", got[p], tt.want)
			}
		})
	}
}

// TestResendNeeded: only a neighbour that must get an unchanged path anew,
// or with other policy attributes, costs a soft reset out.
func TestResendNeeded(t *testing.T) {
	p := netip.MustParsePrefix("10.96.0.1/32")
	x, y := netip.MustParseAddr("10.0.0.1"), netip.MustParseAddr("10.0.0.2")
	c1 := Attrs{Communities: []uint32{1}}
	tests := []struct {
		name     string
		old, new routeSpec
		want     []netip.Addr
	}{
		{name: "unchanged", old: routeSpec{only: []netip.Addr{x}}, new: routeSpec{only: []netip.Addr{x}}},
		{name: "hidden from y", old: routeSpec{}, new: routeSpec{only: []netip.Addr{x}}},
		{name: "shown to y", old: routeSpec{only: []netip.Addr{x}}, new: routeSpec{}, want: []netip.Addr{y}},
		{name: "shown to y with new path attributes", old: routeSpec{only: []netip.Addr{x}}, new: routeSpec{attrs: c1}},
		{name: "y's policy attributes", old: routeSpec{only: []netip.Addr{x, y}, per: map[netip.Addr]Attrs{x: c1}},
			new: routeSpec{only: []netip.Addr{x, y}, per: map[netip.Addr]Attrs{x: c1, y: c1}}, want: []netip.Addr{y}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := &Router{paths: map[netip.Prefix]routeSpec{p: tt.old}}
			got := r.resendNeeded(map[netip.Prefix]routeSpec{p: tt.new}, []netip.Addr{x, y})
			if diff := cmp.Diff(tt.want, got, cmp.Comparer(func(a, b netip.Addr) bool { return a == b })); diff != "" {
				t.Errorf("(-want +got)\n%s", diff)
			}
		})
	}
}

// TestRouterExportPolicyGone: once no route needs the export policy any
// more, routes still reach every neighbour. GoBGP's DeletePolicyAssignment
// (All) also clears the default action, which then rejects every route.
func TestRouterExportPolicyGone(t *testing.T) {
	router := netip.MustParseAddr("127.0.0.1")
	tor := startToR(t, "127.0.0.14", torAS, torNeighbor{addr: router, as: routerAS})
	r := newTestRouter(t, tor)
	peers := []Peer{tor.peer("tor", torAS)}
	c1 := Attrs{Communities: []uint32{65000<<16 | 1}}
	r.apply(t, global(routerAS), peers,
		Path{Prefix: netip.MustParsePrefix("10.96.0.1/32"), Peers: []netip.Addr{tor.addr}, Attrs: c1},
		Path{Prefix: netip.MustParsePrefix("10.96.0.2/32"), Peers: []netip.Addr{}})
	r.waitEstablished(t, establishIn, "tor")
	waitAttrs(t, tor, map[string]Attrs{"10.96.0.1/32": c1})

	// No route left that needs a policy statement: the policy goes.
	r.apply(t, global(routerAS), peers, host("10.96.0.1/32"))
	waitAttrs(t, tor, map[string]Attrs{"10.96.0.1/32": {}})
	r.apply(t, global(routerAS), peers, host("10.96.0.1/32"), host("10.96.0.3/32"))
	waitAttrs(t, tor, map[string]Attrs{"10.96.0.1/32": {}, "10.96.0.3/32": {}})
}
