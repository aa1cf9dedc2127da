package bgpconfig

import (
	"net/netip"
	"strings"
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
// optional node selectors written in YAML ("" for none): a map is
// nodeSelector, a list nodeSelectors, and "{...} + [...]" sets both.
func neighborPeer(t *testing.T, name, address string, minute int, selector string) v1alpha2.BgpPeer {
	t.Helper()
	p := v1alpha2.BgpPeer{
		ObjectMeta: metav1.ObjectMeta{Name: name, CreationTimestamp: metav1.NewTime(created.Add(time.Duration(minute) * time.Minute))},
		Spec:       v1alpha2.BgpPeerSpec{Conf: &v1alpha2.PeerConf{NeighborAddress: address, PeerAs: 64512}},
	}
	setSelectors(t, &p.Spec, selector)
	return p
}

// setSelectors sets spec's node selectors from neighborPeer's notation.
func setSelectors(t *testing.T, spec *v1alpha2.BgpPeerSpec, selector string) {
	t.Helper()
	for part := range strings.SplitSeq(selector, " + ") {
		var err error
		switch {
		case part == "":
		case strings.HasPrefix(part, "["):
			err = yaml.UnmarshalStrict([]byte(part), &spec.NodeSelectors)
		default:
			spec.NodeSelector = &metav1.LabelSelector{}
			err = yaml.UnmarshalStrict([]byte(part), spec.NodeSelector)
		}
		if err != nil {
			t.Fatalf("test selector %q: %v", selector, err)
		}
	}
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
		name:   "nodeSelectors: one selector in common, written differently",
		peer:   peer{"new", "10.0.0.1", "[{matchLabels: {rack: a}}, {matchLabels: {rack: b}}]"},
		others: []peer{{"tor", "10.0.0.1", "{matchLabels: {rack: c}} + [{matchExpressions: [{key: rack, operator: In, values: [b]}]}]"}},
		want:   []string{"tor"},
	}, {
		name:   "nodeSelectors with an empty selector select every node",
		peer:   peer{"new", "2001:db8::1", "{matchLabels: {rack: a}}"},
		others: []peer{{"tor", "2001:db8::1", "[{matchLabels: {rack: z}}, {}]"}},
		want:   []string{"tor"},
	}, {
		name:   "nodeSelectors, none in common: not provable, admitted",
		peer:   peer{"new", "10.0.0.1", "[{matchLabels: {rack: a}}, {matchLabels: {rack: b}}]"},
		others: []peer{{"tor", "10.0.0.1", "{matchLabels: {rack: c}} + [{matchLabels: {rack: d}}]"}},
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
		{"selector moved into nodeSelectors", "10.0.0.1", "10.0.0.1", "{matchLabels: {rack: a}}", "[{matchLabels: {rack: a}}]", true},
		{"nodeSelectors reordered", "2001:db8::1", "2001:db8::1", "[{matchLabels: {rack: a}}, {matchLabels: {rack: b}}]",
			"[{matchLabels: {rack: b}}, {matchLabels: {rack: a}}, {matchLabels: {rack: a}}]", true},
		{"nodeSelectors entry added", "10.0.0.1", "10.0.0.1", "[{matchLabels: {rack: a}}]", "[{matchLabels: {rack: a}}, {matchLabels: {rack: b}}]", false},
		{"empty entry means every node", "10.0.0.1", "10.0.0.1", "", "{matchLabels: {rack: a}} + [{}]", true},
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
		name: "nodeSelectors: the older selects the node through its second entry",
		peers: []peer{
			{"young", "10.0.0.1", 5, ""},
			{"old", "10.0.0.1", 1, "{matchLabels: {rack: b}} + [{matchLabels: {rack: c}}, {matchLabels: {bgp: enabled}}]"},
		},
		labels:       rackA,
		wantRun:      []string{"old"},
		wantShadowed: []Shadow{{Peer: "young", Winner: "old", Neighbor: netip.MustParseAddr("10.0.0.1")}},
	}, {
		name: "nodeSelectors: no entry matches, nor nodeSelector",
		peers: []peer{
			{"v6", "2001:db8::1", 1, "{matchLabels: {rack: b}} + [{matchLabels: {rack: c}}]"},
		},
		labels: rackA,
	}, {
		name: "nodeSelectors: one entry that does not parse selects nothing, even when another matches",
		peers: []peer{
			{"young", "10.0.0.1", 5, ""},
			{"old", "10.0.0.1", 1, "[{matchLabels: {rack: a}}, {matchExpressions: [{key: rack, operator: Near, values: [a]}]}]"},
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

// TestSelectsNode: nodeSelector and nodeSelectors are OR-ed, both unset
// (or one empty selector) selects every node, and the error of a selector
// that does not parse names its field.
func TestSelectsNode(t *testing.T) {
	rackA := map[string]string{"rack": "a", "bgp": "enabled"}
	tests := []struct {
		name     string
		selector string // neighborPeer's notation
		labels   map[string]string
		want     bool
		wantErr  string
	}{
		{"no selector", "", nil, true, ""},
		{"empty nodeSelector", "{}", rackA, true, ""},
		{"empty nodeSelectors list", "[]", rackA, true, ""},
		{"nodeSelector matches", "{matchLabels: {rack: a}}", rackA, true, ""},
		{"nodeSelector does not match", "{matchLabels: {rack: b}}", rackA, false, ""},
		{"first of nodeSelectors matches", "[{matchLabels: {rack: a}}, {matchLabels: {rack: b}}]", rackA, true, ""},
		{"last of nodeSelectors matches", "[{matchLabels: {rack: b}}, {matchExpressions: [{key: bgp, operator: Exists}]}]", rackA, true, ""},
		{"none of nodeSelectors matches", "[{matchLabels: {rack: b}}, {matchLabels: {rack: c}}]", rackA, false, ""},
		{"nodeSelector fails, an entry matches", "{matchLabels: {rack: b}} + [{matchLabels: {bgp: enabled}}]", rackA, true, ""},
		{"nodeSelector matches, entries fail", "{matchLabels: {rack: a}} + [{matchLabels: {rack: b}}]", rackA, true, ""},
		{"all set, none matches", "{matchLabels: {rack: b}} + [{matchLabels: {rack: c}}]", rackA, false, ""},
		{"an empty entry selects every node", "{matchLabels: {rack: b}} + [{}]", nil, true, ""},
		{"no labels", "[{matchLabels: {rack: a}}]", nil, false, ""},
		{"a broken entry selects nothing", "[{matchLabels: {rack: a}}, {matchExpressions: [{key: rack, operator: Near, values: [a]}]}]", rackA, false,
			"spec.nodeSelectors[1]: "},
		{"a broken nodeSelector selects nothing", "{matchExpressions: [{key: rack, operator: Near}]} + [{matchLabels: {rack: a}}]", rackA, false,
			"spec.nodeSelector: "},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var spec v1alpha2.BgpPeerSpec
			setSelectors(t, &spec, tt.selector)
			got, err := SelectsNode(&spec, tt.labels)
			if got != tt.want {
				t.Errorf("SelectsNode = %v, want %v", got, tt.want)
			}
			switch {
			case tt.wantErr == "" && err != nil:
				t.Errorf("error %v, want none", err)
			case tt.wantErr != "" && (err == nil || !strings.HasPrefix(err.Error(), tt.wantErr)):
				t.Errorf("error %v, want one starting %q", err, tt.wantErr)
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
