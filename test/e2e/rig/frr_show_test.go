package rig

import (
	"encoding/json"
	"net/netip"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
)

// addrsEqual compares netip values by ==, as their fields are unexported.
var addrsEqual = cmpopts.EquateComparable(netip.Addr{}, netip.Prefix{})

func TestNormalizeCommunity(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"64513:100", "64513:100"},
		{"0065535:00001", "65535:1"},
		{"no-advertise", "65535:65282"}, // FRR's string
		{"noAdvertise", "65535:65282"},  // FRR's JSON list
		{"NO_EXPORT", "65535:65281"},
		{"local-AS", "65535:65283"},
		{"graceful-shutdown", "65535:0"},
		{"blackhole", "65535:666"},
		{"no-peer", "65535:65284"},
		{"internet", "0:0"},
		{"65536:1", ""},
		{"1:2:3", ""},
		{"nope", ""},
	} {
		got, err := NormalizeCommunity(tc.in)
		if got != tc.want || (err == nil) != (tc.want != "") {
			t.Errorf("NormalizeCommunity(%q) = %q, %v; want %q", tc.in, got, err, tc.want)
		}
	}
}

// frrBGPv6 is `show bgp ipv6 unicast fd99:200::1/128 json` of FRR 8.4.4
// with two iBGP paths (trimmed), one of them stale.
const frrBGPv6 = `{"prefix":"fd99:200::1/128","paths":[
 {"aspath":{"string":"Local","segments":[],"length":0},"origin":"IGP","locPrf":100,"valid":true,"multipath":true,"stale":true,
  "community":{"string":"64513:100 no-export","list":["64513:100","noExport"]},
  "nexthops":[{"ip":"fd99::12","afi":"ipv6","scope":"global","accessible":true},{"ip":"fe80::99:ff:fe00:c","afi":"ipv6","scope":"link-local","used":true}],
  "peer":{"peerId":"fd99::12","routerId":"10.99.0.12","type":"internal"}},
 {"aspath":{"string":"64513 64600","length":2},"origin":"incomplete","metric":5,"valid":true,"bestpath":{"overall":true},
  "largeCommunity":{"string":"64513:2:3 64513:1:2"},
  "nexthops":[{"ip":"fd99::11","afi":"ipv6","scope":"global"}],
  "peer":{"peerId":"fd99::11"}}]}`

func TestParseFRRBGP(t *testing.T) {
	var raw frrBGPJSON
	if err := json.Unmarshal([]byte(frrBGPv6), &raw); err != nil {
		t.Fatal(err)
	}
	a := netip.MustParseAddr
	prefix := netip.MustParsePrefix("fd99:200::1/128")
	got, err := parseFRRBGP(prefix, raw)
	if err != nil {
		t.Fatal(err)
	}
	want := FRRBGPRoute{Prefix: prefix, Paths: []FRRPath{
		{Peer: a("fd99::12"), NextHop: a("fd99::12"), Origin: "IGP", LocalPref: 100,
			Communities: []string{"64513:100", "65535:65281"}, Multipath: true, Valid: true, Stale: true},
		{Peer: a("fd99::11"), NextHop: a("fd99::11"), ASPath: "64513 64600", Origin: "incomplete", MED: 5,
			LargeCommunities: []string{"64513:1:2", "64513:2:3"}, Best: true, Valid: true},
	}}
	if diff := cmp.Diff(want, got, addrsEqual); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
	if hops := got.NextHops(); len(hops) != 2 || hops[0] != a("fd99::11") {
		t.Errorf("NextHops %v, want sorted [fd99::11 fd99::12]", hops)
	}
	var empty frrBGPJSON // FRR prints {} for an unknown prefix
	if err := json.Unmarshal([]byte("{\n}"), &empty); err != nil {
		t.Fatal(err)
	}
	if r, err := parseFRRBGP(prefix, empty); err != nil || len(r.Paths) != 0 {
		t.Errorf("unknown prefix: %+v, %v; want no paths", r, err)
	}
}

func TestZebraNexthopsLinkLocal(t *testing.T) {
	r := &Rig{}
	plan, err := NewPlan("he2e-1-1-", 2)
	if err != nil {
		t.Fatal(err)
	}
	r.Plan = plan
	if got := linkLocalOf(plan.Nodes[0].LAN.MAC); got != netip.MustParseAddr("fe80::99:ff:fe00:b") {
		t.Errorf("linkLocalOf(node1) = %v, want the kernel's fe80::99:ff:fe00:b", got)
	}
	var raw map[string][]frrZebraRoute
	data := `{"fd99:200::1/128":[{"protocol":"bgp","selected":true,"installed":true,"nexthops":[
	 {"fib":true,"ip":"fe80::99:ff:fe00:c","interfaceName":"eth0"},
	 {"fib":true,"ip":"fe80::1234","interfaceName":"eth0"},
	 {"fib":false,"ip":"fe80::99:ff:fe00:b","interfaceName":"eth0"}]},
	 {"protocol":"static","selected":false,"installed":false,"nexthops":[{"fib":true,"ip":"fd99::13"}]}]}`
	if err := json.Unmarshal([]byte(data), &raw); err != nil {
		t.Fatal(err)
	}
	prefix := netip.MustParsePrefix("fd99:200::1/128")
	got, err := r.zebraNexthops(prefix, raw[prefix.String()])
	if err != nil {
		t.Fatal(err)
	}
	want := []netip.Addr{netip.MustParseAddr("fd99::12"), netip.MustParseAddr("fe80::1234")}
	if diff := cmp.Diff(want, got, addrsEqual); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
}

func TestParseFRRBFDAndNeighbors(t *testing.T) {
	var bfd []frrBFDJSON
	if err := json.Unmarshal([]byte(`[{"multihop":false,"peer":"10.99.0.12","local":"10.99.0.2","vrf":"default","interface":"eth0",
		"status":"down","downtime":3,"diagnostic":"control detection time expired","remote-diagnostic":"ok",
		"receive-interval":100,"transmit-interval":100,"detect-multiplier":3,
		"remote-receive-interval":300,"remote-transmit-interval":300,"remote-detect-multiplier":5}]`), &bfd); err != nil {
		t.Fatal(err)
	}
	peers, err := parseFRRBFD(bfd)
	if err != nil {
		t.Fatal(err)
	}
	wantBFD := FRRBFDPeer{Status: "down", Local: netip.MustParseAddr("10.99.0.2"), Interface: "eth0",
		Diagnostic: "control detection time expired", RemoteDiagnostic: "ok",
		ReceiveInterval: 100 * time.Millisecond, TransmitInterval: 100 * time.Millisecond, DetectMultiplier: 3,
		RemoteReceiveInterval: 300 * time.Millisecond, RemoteTransmitInterval: 300 * time.Millisecond, RemoteDetectMultiplier: 5}
	if diff := cmp.Diff(wantBFD, peers[netip.MustParseAddr("10.99.0.12")], addrsEqual); diff != "" {
		t.Errorf("bfd peer (-want +got):\n%s", diff)
	}

	var raw map[string]json.RawMessage
	if err := json.Unmarshal([]byte(`{"fd99::11":{"remoteAs":64513,"peerGroup":"nodes6","peerSubnetRangeGroup":"fd99::\/64",
		"bgpState":"Established","bgpTimerUpMsec":5000,"bgpTimerUpEstablishedEpoch":1796448440,
		"connectionsEstablished":1,"connectionsDropped":0,"lastResetDueTo":"No AFI\/SAFI activated for peer",
		"peerBfdInfo":{"type":"single hop","status":"Up"}},
		"10.99.0.13":{"remoteAs":64513,"bgpState":"Active","bgpTimerUpMsec":70000,"connectionsEstablished":2,"connectionsDropped":2}}`), &raw); err != nil {
		t.Fatal(err)
	}
	nbs, err := parseFRRNeighbors(raw)
	if err != nil {
		t.Fatal(err)
	}
	want := map[netip.Addr]FRRNeighbor{
		netip.MustParseAddr("fd99::11"): {State: "Established", RemoteAS: 64513, PeerGroup: "nodes6", Dynamic: true,
			Uptime: 5 * time.Second, EstablishedAt: time.Unix(1796448440, 0), ConnectionsEstablished: 1,
			BFDStatus: "Up", LastResetReason: "No AFI/SAFI activated for peer"},
		netip.MustParseAddr("10.99.0.13"): {State: "Active", RemoteAS: 64513, ConnectionsEstablished: 2, ConnectionsDropped: 2},
	}
	if diff := cmp.Diff(want, nbs, addrsEqual); diff != "" {
		t.Errorf("neighbors (-want +got):\n%s", diff)
	}
}

func TestFRRNeighborSameSession(t *testing.T) {
	at := time.Unix(1796448440, 0)
	up := FRRNeighbor{State: "Established", EstablishedAt: at, ConnectionsEstablished: 1}
	for _, tc := range []struct {
		name  string
		after FRRNeighbor
		want  bool
	}{
		{"unchanged", up, true},
		{"clock jitter", FRRNeighbor{State: "Established", EstablishedAt: at.Add(time.Second), ConnectionsEstablished: 1}, true},
		{"re-established later", FRRNeighbor{State: "Established", EstablishedAt: at.Add(6 * time.Second), ConnectionsEstablished: 1}, false},
		{"down", FRRNeighbor{State: "Active", ConnectionsEstablished: 1, ConnectionsDropped: 1}, false},
		{"dropped and back at once", FRRNeighbor{State: "Established", EstablishedAt: at, ConnectionsEstablished: 2, ConnectionsDropped: 1}, false},
	} {
		if got := tc.after.SameSession(up); got != tc.want {
			t.Errorf("%s: SameSession = %v, want %v", tc.name, got, tc.want)
		}
	}
}
