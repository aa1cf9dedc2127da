package bgpconfig

import (
	"net/netip"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/yaml"

	"github.com/herald-lb/herald/api/v1alpha2"
)

// created is when the test's BgpPeers were created, minute by minute.
var created = time.Date(2026, 12, 1, 12, 0, 0, 0, time.UTC)

// neighborPeer builds a BgpPeer created minute minutes after created, with
// an optional node selector written in YAML ("" for none).
func neighborPeer(t *testing.T, name, address string, minute int, selector string) v1alpha2.BgpPeer {
	t.Helper()
	p := v1alpha2.BgpPeer{
		ObjectMeta: metav1.ObjectMeta{Name: name, CreationTimestamp: metav1.NewTime(created.Add(time.Duration(minute) * time.Minute))},
		Spec:       v1alpha2.BgpPeerSpec{Conf: &v1alpha2.PeerConf{NeighborAddress: address, PeerAs: 64512}},
	}
	if selector != "" {
		p.Spec.NodeSelector = &metav1.LabelSelector{}
		if err := yaml.UnmarshalStrict([]byte(selector), p.Spec.NodeSelector); err != nil {
			t.Fatalf("test selector %q: %v", selector, err)
		}
	}
	return p
}

func TestDuplicateNeighbors(t *testing.T) {
	type peer struct{ name, address, selector string }
	tests := []struct {
		name   string
		peer   peer
		others []peer
		want   []string
	}{{
		name:   "both selectors empty",
		peer:   peer{"new", "10.0.0.1", ""},
		others: []peer{{"tor", "10.0.0.1", ""}, {"other", "10.0.0.2", ""}},
		want:   []string{"tor"},
	}, {
		name:   "both selectors empty, IPv6 written two ways",
		peer:   peer{"new", "2001:db8::1", ""},
		others: []peer{{"tor", "2001:0DB8:0:0::0001", ""}, {"other", "2001:db8::2", ""}},
		want:   []string{"tor"},
	}, {
		name:   "IPv4-mapped IPv6 is the IPv4 neighbour",
		peer:   peer{"new", "::ffff:10.0.0.1", ""},
		others: []peer{{"tor", "10.0.0.1", ""}},
		want:   []string{"tor"},
	}, {
		name:   "new selector empty, the other's not",
		peer:   peer{"new", "10.0.0.1", ""},
		others: []peer{{"tor", "10.0.0.1", "{matchLabels: {rack: a}}"}},
		want:   []string{"tor"},
	}, {
		name:   "the other's selector empty, the new one's not",
		peer:   peer{"new", "2001:db8::1", "{matchLabels: {rack: a}}"},
		others: []peer{{"tor", "2001:db8::1", "{}"}},
		want:   []string{"tor"},
	}, {
		name:   "identical selectors",
		peer:   peer{"new", "10.0.0.1", "{matchLabels: {rack: a, bgp: enabled}}"},
		others: []peer{{"tor", "10.0.0.1", "{matchLabels: {bgp: enabled, rack: a}}"}},
		want:   []string{"tor"},
	}, {
		name: "identical selectors written differently",
		peer: peer{"new", "2001:db8::1", "{matchLabels: {rack: a}, matchExpressions: [{key: zone, operator: In, values: [y, x, x]}]}"},
		others: []peer{{"tor", "2001:db8::1",
			"{matchExpressions: [{key: zone, operator: In, values: [x, y]}, {key: rack, operator: In, values: [a]}]}"}},
		want: []string{"tor"},
	}, {
		name:   "several duplicates, named in order",
		peer:   peer{"new", "10.0.0.1", ""},
		others: []peer{{"tor-b", "10.0.0.1", "{matchLabels: {rack: b}}"}, {"tor-a", "10.0.0.1", "{matchLabels: {rack: a}}"}},
		want:   []string{"tor-a", "tor-b"},
	}, {
		name:   "different selectors: not provable, admitted",
		peer:   peer{"new", "10.0.0.1", "{matchLabels: {rack: a}}"},
		others: []peer{{"tor", "10.0.0.1", "{matchLabels: {rack: b}}"}},
	}, {
		name:   "different selectors, IPv6: not provable, admitted",
		peer:   peer{"new", "2001:db8::1", "{matchLabels: {rack: a}}"},
		others: []peer{{"tor", "2001:db8::1", "{matchExpressions: [{key: rack, operator: NotIn, values: [a]}]}"}},
	}, {
		name:   "different neighbours",
		peer:   peer{"new", "10.0.0.1", ""},
		others: []peer{{"tor", "10.0.0.10", ""}, {"v6", "2001:db8::1", ""}},
	}, {
		name:   "itself, on update",
		peer:   peer{"tor", "10.0.0.1", ""},
		others: []peer{{"tor", "10.0.0.1", ""}},
	}, {
		name:   "another that runs nowhere (no peer AS) shadows nothing",
		peer:   peer{"new", "10.0.0.1", ""},
		others: []peer{{"broken", "10.0.0.1", ""}},
	}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := neighborPeer(t, tt.peer.name, tt.peer.address, 0, tt.peer.selector)
			var others []v1alpha2.BgpPeer
			for i, o := range tt.others {
				op := neighborPeer(t, o.name, o.address, i, o.selector)
				if o.name == "broken" {
					op.Spec.Conf.PeerAs = 0
				}
				others = append(others, op)
			}
			if diff := cmp.Diff(tt.want, DuplicateNeighbors(&p, others)); diff != "" {
				t.Errorf("DuplicateNeighbors (-want +got):\n%s", diff)
			}
		})
	}
}

func TestSameNeighborAndNodes(t *testing.T) {
	tests := []struct {
		name             string
		oldAddr, newAddr string
		oldSel, newSel   string
		want             bool
	}{
		{"nothing changed", "10.0.0.1", "10.0.0.1", "{matchLabels: {rack: a}}", "{matchLabels: {rack: a}}", true},
		{"IPv6 respelt", "2001:db8::1", "2001:DB8:0::1", "", "", true},
		{"selector rewritten, same meaning", "10.0.0.1", "10.0.0.1", "{matchLabels: {rack: a}}",
			"{matchExpressions: [{key: rack, operator: In, values: [a]}]}", true},
		{"empty selector for none", "2001:db8::1", "2001:db8::1", "", "{}", true},
		{"neighbour changed", "10.0.0.1", "10.0.0.2", "", "", false},
		{"IPv6 neighbour changed", "2001:db8::1", "2001:db8::2", "", "", false},
		{"selector changed", "10.0.0.1", "10.0.0.1", "{matchLabels: {rack: a}}", "{matchLabels: {rack: b}}", false},
		{"selector removed", "10.0.0.1", "10.0.0.1", "{matchLabels: {rack: a}}", "", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			o := neighborPeer(t, "tor", tt.oldAddr, 0, tt.oldSel)
			n := neighborPeer(t, "tor", tt.newAddr, 0, tt.newSel)
			if got := SameNeighborAndNodes(&o, &n); got != tt.want {
				t.Errorf("SameNeighborAndNodes = %v, want %v", got, tt.want)
			}
		})
	}
}

func TestNodePeers(t *testing.T) {
	type peer struct {
		name, address string
		minute        int
		selector      string
	}
	rackA := map[string]string{"rack": "a", "bgp": "enabled"}
	tests := []struct {
		name         string
		peers        []peer
		labels       map[string]string
		wantRun      []string
		wantShadowed []Shadow
	}{{
		name: "different selectors both matching: the older wins",
		peers: []peer{
			{"young", "10.0.0.1", 5, "{matchLabels: {rack: a}}"},
			{"old", "10.0.0.1", 1, "{matchLabels: {bgp: enabled}}"},
		},
		labels:       rackA,
		wantRun:      []string{"old"},
		wantShadowed: []Shadow{{Peer: "young", Winner: "old", Neighbor: netip.MustParseAddr("10.0.0.1")}},
	}, {
		name: "IPv6, written two ways: the older wins",
		peers: []peer{
			{"a-young", "2001:db8::1", 5, "{matchLabels: {rack: a}}"},
			{"z-old", "2001:DB8:0::1", 1, "{matchLabels: {bgp: enabled}}"},
		},
		labels:       rackA,
		wantRun:      []string{"z-old"},
		wantShadowed: []Shadow{{Peer: "a-young", Winner: "z-old", Neighbor: netip.MustParseAddr("2001:db8::1")}},
	}, {
		name: "created in the same second: the first by name wins",
		peers: []peer{
			{"tor-b", "10.0.0.1", 1, ""},
			{"tor-a", "10.0.0.1", 1, "{matchLabels: {rack: a}}"},
		},
		labels:       rackA,
		wantRun:      []string{"tor-a"},
		wantShadowed: []Shadow{{Peer: "tor-b", Winner: "tor-a", Neighbor: netip.MustParseAddr("10.0.0.1")}},
	}, {
		name: "the older does not select the node: the younger runs",
		peers: []peer{
			{"young", "10.0.0.1", 5, "{matchLabels: {rack: a}}"},
			{"old", "10.0.0.1", 1, "{matchLabels: {rack: b}}"},
		},
		labels:  rackA,
		wantRun: []string{"young"},
	}, {
		name: "the older runs nowhere (invalid): the younger runs",
		peers: []peer{
			{"young", "10.0.0.1", 5, ""},
			{"broken", "10.0.0.1", 1, ""},
		},
		labels:  rackA,
		wantRun: []string{"young"},
	}, {
		name: "a selector that does not parse selects nothing",
		peers: []peer{
			{"young", "10.0.0.1", 5, ""},
			{"old", "10.0.0.1", 1, "{matchExpressions: [{key: rack, operator: Near, values: [a]}]}"},
		},
		labels:  rackA,
		wantRun: []string{"young"},
	}, {
		name: "different neighbours, IPv4 and IPv6, all run, oldest first",
		peers: []peer{
			{"v6", "2001:db8::1", 3, ""},
			{"v4", "10.0.0.1", 2, "{matchLabels: {rack: a}}"},
			{"v4-other", "10.0.0.2", 4, ""},
		},
		labels:  rackA,
		wantRun: []string{"v4", "v6", "v4-other"},
	}, {
		name: "three on one neighbour: both younger ones shadowed by the oldest",
		peers: []peer{
			{"c", "2001:db8::1", 3, ""},
			{"a", "2001:db8::1", 1, "{matchLabels: {rack: a}}"},
			{"b", "2001:db8::1", 2, "{matchLabels: {bgp: enabled}}"},
		},
		labels:  rackA,
		wantRun: []string{"a"},
		wantShadowed: []Shadow{
			{Peer: "b", Winner: "a", Neighbor: netip.MustParseAddr("2001:db8::1")},
			{Peer: "c", Winner: "a", Neighbor: netip.MustParseAddr("2001:db8::1")},
		},
	}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var peers []v1alpha2.BgpPeer
			for _, p := range tt.peers {
				bp := neighborPeer(t, p.name, p.address, p.minute, p.selector)
				if p.name == "broken" {
					bp.Spec.Conf.PeerAs = 0
				}
				peers = append(peers, bp)
			}
			run, shadowed := NodePeers(peers, tt.labels)
			if diff := cmp.Diff(tt.wantRun, run); diff != "" {
				t.Errorf("run (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(tt.wantShadowed, shadowed, cmp.Comparer(func(a, b netip.Addr) bool { return a == b })); diff != "" {
				t.Errorf("shadowed (-want +got):\n%s", diff)
			}
		})
	}
}

func TestNeighbor(t *testing.T) {
	tests := []struct {
		address string
		want    string // "" when it has none
	}{
		{"10.0.0.1", "10.0.0.1"},
		{"::ffff:10.0.0.1", "10.0.0.1"},
		{"2001:0DB8:0000::0001", "2001:db8::1"},
		{"2001:db8::1", "2001:db8::1"},
		// Leading zeros are refused (ValidatePeer: not an IP address)
		// rather than read as octal or decimal: nothing to compare.
		{"10.0.0.01", ""},
		{"fe80::1%eth0", ""},
		{"", ""},
	}
	for _, tt := range tests {
		p := neighborPeer(t, "tor", tt.address, 0, "")
		got := ""
		if a, ok := Neighbor(&p); ok {
			got = a.String()
		}
		if got != tt.want {
			t.Errorf("Neighbor(%q) = %q, want %q", tt.address, got, tt.want)
		}
	}
}
