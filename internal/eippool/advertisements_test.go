package eippool

import (
	"net/netip"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"sigs.k8s.io/yaml"

	"github.com/herald-lb/herald/api/v1alpha2"
	"github.com/herald-lb/herald/internal/eipused"
)

// eipYAML reads an Eip called "pool" with this spec.
func eipYAML(t *testing.T, spec string) *v1alpha2.Eip {
	t.Helper()
	var e v1alpha2.Eip
	if err := yaml.UnmarshalStrict([]byte(`{metadata: {name: pool}, spec: `+spec+`}`), &e); err != nil {
		t.Fatalf("test manifest: %v", err)
	}
	return &e
}

// TestValidateNewFields covers issue 13's Eip fields in Validate: what an
// Eip says on its own, IPv4 and IPv6 rows side by side.
func TestValidateNewFields(t *testing.T) {
	tests := []struct {
		name string
		spec string
		want []string // substrings, one per expected error, in order
	}{
		{"every field, IPv4 /24", `{address: 10.0.0.0/24, avoidBuggyIPs: true, nodeSelector: {matchLabels: {bgp: "on"}},
		  bgpAdvertisements: [{aggregationLength: 24, localPref: 100, communities: ["65535:65282", "large:1:2:3", no-export, my-alias], peers: [tor-1]},
		                      {aggregationLength: 32, peerSelector: {matchLabels: {role: tor}}}]}`, nil},
		{"every length of a /24 is inside it", `{address: 10.0.0.0/24, bgpAdvertisements: [{aggregationLength: 25}, {aggregationLength: 28, peers: [a]}, {aggregationLength: 32, peers: [b]}]}`, nil},
		{"IPv6 /64 aggregated as a /64", `{address: "2001:db8::/64", bgpAdvertisements: [{aggregationLengthV6: 64}]}`, nil},
		{"range aligned to /30s", `{address: 10.0.0.8-10.0.0.15, bgpAdvertisements: [{aggregationLength: 29}]}`, nil},
		{"foreign aggregate allowed", `{address: 10.0.0.10-10.0.0.20, bgpAdvertisements: [{aggregationLength: 24, allowForeignAggregate: true}]}`, nil},
		{"other family's length is not checked against the pool", `{address: 10.0.0.10-10.0.0.20, bgpAdvertisements: [{aggregationLengthV6: 64}]}`, nil},
		{"foreign aggregate, IPv4 range", `{address: 10.0.0.10-10.0.0.20, bgpAdvertisements: [{aggregationLength: 24}]}`,
			[]string{"spec.bgpAdvertisements[0].aggregationLength: Invalid value: 24: would announce 10.0.0.0/24, which holds addresses outside the Eip (10.0.0.10-10.0.0.20); set allowForeignAggregate: true if you own the whole prefix, or remove aggregationLength to announce each address on its own"}},
		{"foreign aggregate, IPv4 /24 at 23", `{address: 10.0.1.0/24, bgpAdvertisements: [{aggregationLength: 23}]}`,
			[]string{"would announce 10.0.0.0/23"}},
		{"foreign aggregate at the last address", `{address: 10.0.0.0-10.0.0.20, bgpAdvertisements: [{aggregationLength: 28}]}`,
			[]string{"would announce 10.0.0.16/28"}},
		{"foreign aggregate, a /24 at 28 in a /23 range", `{address: 10.0.0.16-10.0.1.255, bgpAdvertisements: [{aggregationLength: 23}]}`,
			[]string{"would announce 10.0.0.0/23, which holds addresses outside the Eip (10.0.0.16-10.0.1.255); set allowForeignAggregate: true if you own the whole prefix, or use a length of 28 or more"}},
		{"foreign aggregate, IPv6", `{address: "2001:db8::/120", bgpAdvertisements: [{aggregationLengthV6: 64}]}`,
			[]string{`spec.bgpAdvertisements[0].aggregationLengthV6: Invalid value: 64: would announce 2001:db8::/64`}},
		{"length beyond 32", `{address: 10.0.0.0/24, bgpAdvertisements: [{aggregationLength: 33}]}`, []string{"must be a prefix length from 0 to 32"}},
		{"length beyond 128", `{address: "2001:db8::/120", bgpAdvertisements: [{aggregationLengthV6: 129}]}`, []string{"from 0 to 128"}},
		{"advertisements on a layer2 Eip", `{address: 10.0.0.1, protocol: layer2, interface: eth0, bgpAdvertisements: [{}]}`,
			[]string{"spec.bgpAdvertisements: Forbidden: BGP advertisements apply to bgp Eips only; this Eip's protocol is layer2"}},
		{"advertisements on a vip Eip", `{address: "2001:db8::1", protocol: vip, interface: eth0, bgpAdvertisements: [{}]}`,
			[]string{"this Eip's protocol is vip"}},
		{"malformed communities", `{address: 10.0.0.1, bgpAdvertisements: [{communities: ["65536:1", "large:1:2", ok-alias]}]}`,
			[]string{`spec.bgpAdvertisements[0].communities[0]: Invalid value: "65536:1"`, "spec.bgpAdvertisements[0].communities[1]"}},
		{"bad peer selector", `{address: 10.0.0.1, bgpAdvertisements: [{peerSelector: {matchExpressions: [{key: role, operator: Near}]}}]}`,
			[]string{"spec.bgpAdvertisements[0].peerSelector.matchExpressions[0].operator"}},
		{"bad node selector", `{address: 10.0.0.1, nodeSelector: {matchLabels: {"bad key!": x}}}`, []string{"spec.nodeSelector.matchLabels"}},
		{"two localPrefs to every peer", `{address: 10.0.0.1, bgpAdvertisements: [{localPref: 100}, {localPref: 200}]}`,
			[]string{"spec.bgpAdvertisements[1].localPref: Invalid value: 200: spec.bgpAdvertisements[0] sends every peer the same /32 routes with localPref 100"}},
		{"set and unset localPref to every peer", `{address: "2001:db8::1", bgpAdvertisements: [{localPref: 100}, {communities: [no-export]}]}`,
			[]string{`spec.bgpAdvertisements[1].localPref: Invalid value: "unset"`}},
		{"every peer and a named one", `{address: 10.0.0.1, bgpAdvertisements: [{localPref: 100, peers: [tor-1]}, {localPref: 200}]}`,
			[]string{`sends BgpPeer "tor-1" the same /32 routes`}},
		{"overlapping names", `{address: 10.0.0.1, bgpAdvertisements: [{localPref: 100, peers: [a, b]}, {localPref: 200, peers: [c, b]}]}`,
			[]string{`BgpPeer "b"`}},
		{"disjoint names", `{address: 10.0.0.1, bgpAdvertisements: [{localPref: 100, peers: [a]}, {localPref: 200, peers: [b]}]}`, nil},
		{"different lengths", `{address: 10.0.0.0/24, bgpAdvertisements: [{localPref: 100}, {localPref: 200, aggregationLength: 24}]}`, nil},
		{"same localPref", `{address: 10.0.0.1, bgpAdvertisements: [{localPref: 100}, {localPref: 100, communities: [no-export]}]}`, nil},
		{"selectors: not told statically", `{address: 10.0.0.1, bgpAdvertisements: [{localPref: 100}, {localPref: 200, peerSelector: {matchLabels: {a: b}}}]}`, nil},
		{"IPv4 lengths differ on an IPv6 pool: still the same /128", `{address: "2001:db8::1", bgpAdvertisements: [{localPref: 1, aggregationLength: 24}, {localPref: 2}]}`,
			[]string{"same /128 routes"}},
		{"avoidBuggyIPs on a lone .0", `{address: 10.0.0.0, avoidBuggyIPs: true}`,
			[]string{"spec.avoidBuggyIPs: Invalid value: true: would leave this Eip (10.0.0.0) no address to hand out"}},
		{"avoidBuggyIPs on a lone .255", `{address: 10.0.0.255/32, avoidBuggyIPs: true}`, []string{"no address to hand out"}},
		{"avoidBuggyIPs on .255 and .0", `{address: 10.0.0.255-10.0.1.0, avoidBuggyIPs: true}`, []string{"no address to hand out"}},
		{"avoidBuggyIPs on a /31 ending .255", `{address: 10.0.0.254/31, avoidBuggyIPs: true}`, nil},
		{"avoidBuggyIPs on IPv6 ::0: a warning, not a refusal", `{address: "2001:db8::", avoidBuggyIPs: true}`, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := eipYAML(t, tt.spec)
			errs := append(Validate(e), ValidateAvoidBuggyIPs(e)...)
			if len(errs) != len(tt.want) {
				t.Fatalf("Validate() = %v, want %d errors", errs, len(tt.want))
			}
			for i, w := range tt.want {
				if !strings.Contains(errs[i].Error(), w) {
					t.Errorf("error %d = %q, want it to contain %q", i, errs[i].Error(), w)
				}
			}
		})
	}
}

func TestAdvertisementWarnings(t *testing.T) {
	tests := []struct {
		name string
		spec string
		want []string // substrings, one per warning
	}{
		{"none", `{address: 10.0.0.0/24, avoidBuggyIPs: true, bgpAdvertisements: [{aggregationLength: 24}]}`, nil},
		{"IPv6 length on an IPv4 pool", `{address: 10.0.0.0/24, bgpAdvertisements: [{aggregationLength: 24}, {aggregationLengthV6: 64}]}`,
			[]string{"spec.bgpAdvertisements[1].aggregationLengthV6: has no effect on IPv4 pools"}},
		{"IPv4 length on an IPv6 pool", `{address: "2001:db8::/64", bgpAdvertisements: [{aggregationLength: 24}]}`,
			[]string{"spec.bgpAdvertisements[0].aggregationLength: has no effect on IPv6 pools"}},
		{"avoidBuggyIPs on IPv6", `{address: "2001:db8::/64", avoidBuggyIPs: true}`, []string{"spec.avoidBuggyIPs: has no effect on IPv6 pools"}},
		{"bad address: Validate's business", `{address: x, avoidBuggyIPs: true}`, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := AdvertisementWarnings(eipYAML(t, tt.spec))
			if len(got) != len(tt.want) {
				t.Fatalf("warnings %q, want %d", got, len(tt.want))
			}
			for i, w := range tt.want {
				if !strings.Contains(got[i], w) {
					t.Errorf("warning %d = %q, want it to contain %q", i, got[i], w)
				}
			}
		})
	}
}

func TestCheckBGP(t *testing.T) {
	var conf v1alpha2.BgpConf
	if err := yaml.UnmarshalStrict([]byte(`{metadata: {name: default}, spec: {as: 64512, asPerRack: {r1: 64513},
	    communities: [{name: upstream, value: "64512:100"}, {name: big, value: "large:1:2:3"}]}}`), &conf); err != nil {
		t.Fatal(err)
	}
	var peers v1alpha2.BgpPeerList
	if err := yaml.UnmarshalStrict([]byte(`{items: [
	    {metadata: {name: ibgp, labels: {role: rr}}, spec: {conf: {peerAs: 64512, localAs: 64512, neighborAddress: 10.1.0.1}}},
	    {metadata: {name: ebgp, labels: {role: tor}}, spec: {conf: {peerAs: 65000, neighborAddress: 10.1.0.2}}},
	    {metadata: {name: racks}, spec: {conf: {peerAs: 64512, neighborAddress: 10.1.0.3}}}]}`), &peers); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name     string
		spec     string
		conf     *v1alpha2.BgpConf
		errs     []string
		warnings []string
	}{
		{name: "aliases, well-known and numbers", conf: &conf,
			spec: `{address: 10.0.0.1, bgpAdvertisements: [{communities: [upstream, big, no-export, "1:2", "large:4:5:6"]}]}`},
		{name: "unknown alias", conf: &conf, spec: `{address: 10.0.0.1, bgpAdvertisements: [{}, {communities: [no-export, upstreams]}]}`,
			errs: []string{`spec.bgpAdvertisements[1].communities[1]: Invalid value: "upstreams": is neither a community`,
				`aliases are defined in BgpConf default's spec.communities (defined now: "big", "upstream"); add {name: upstreams, value: <community>} there first`}},
		{name: "alias without a BgpConf", spec: `{address: 10.0.0.1, bgpAdvertisements: [{communities: [upstream]}]}`,
			errs: []string{"(none defined now)"}},
		{name: "a missing peer: a warning", conf: &conf, spec: `{address: 10.0.0.1, bgpAdvertisements: [{peers: [ibgp, tor-9]}]}`,
			warnings: []string{`spec.bgpAdvertisements[0].peers: no BgpPeer is called "tor-9" (yet)`}},
		{name: "localPref to an iBGP peer only", conf: &conf, spec: `{address: 10.0.0.1, bgpAdvertisements: [{localPref: 100, peers: [ibgp]}]}`},
		{name: "localPref to every peer", conf: &conf, spec: `{address: 10.0.0.1, bgpAdvertisements: [{localPref: 100}]}`,
			warnings: []string{`spec.bgpAdvertisements[0].localPref: LOCAL_PREF is only sent to iBGP peers, and this advertisement reaches eBGP peer(s) "ebgp", "racks"`}},
		{name: "localPref by selector", conf: &conf, spec: `{address: 10.0.0.1, bgpAdvertisements: [{localPref: 100, peerSelector: {matchLabels: {role: tor}}}]}`,
			warnings: []string{`eBGP peer(s) "ebgp" (peer AS`}},
		{name: "localPref, no BgpConf: only peers with their own local AS count", spec: `{address: 10.0.0.1, bgpAdvertisements: [{localPref: 100}]}`},
		{name: "not a bgp Eip: Validate's refusal", conf: &conf, spec: `{address: 10.0.0.1, protocol: layer2, interface: eth0, bgpAdvertisements: [{communities: [nope], localPref: 1}]}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			warnings, errs := CheckBGP(eipYAML(t, tt.spec), tt.conf, peers.Items)
			text := errs.ToAggregate()
			if len(errs) != min(len(tt.errs), 1) {
				t.Fatalf("errors %v, want %d", errs, min(len(tt.errs), 1))
			}
			for _, w := range tt.errs {
				if !strings.Contains(text.Error(), w) {
					t.Errorf("errors %q do not contain %q", text, w)
				}
			}
			if len(warnings) != len(tt.warnings) {
				t.Fatalf("warnings %q, want %d", warnings, len(tt.warnings))
			}
			for i, w := range tt.warnings {
				if !strings.Contains(warnings[i], w) {
					t.Errorf("warning %d = %q, want it to contain %q", i, warnings[i], w)
				}
			}
		})
	}
}

func TestBuggyInUse(t *testing.T) {
	old := eipYAML(t, `{address: 10.0.0.0/23}`)
	old.Status.Used = map[string]string{"10.0.0.0": "a/x", "10.0.0.255": "a/y", "10.0.1.7": "a/z"}
	on := old.DeepCopy()
	on.Spec.AvoidBuggyIPs = true
	got := BuggyInUse(old, on)
	if len(got) != 2 {
		t.Fatalf("BuggyInUse = %v, want the .0 and the .255", got)
	}
	want := "spec.avoidBuggyIPs: 2 address(es) ending in .0 or .255 are in use (10.0.0.0, 10.0.0.255); each stays with its Service until released"
	if diff := cmp.Diff(true, strings.HasPrefix(BuggyInUseWarning(got), want)); diff != "" {
		t.Errorf("warning %q, want it to start with %q", BuggyInUseWarning(got), want)
	}
	if got := BuggyInUse(on, on); got != nil {
		t.Errorf("already on: BuggyInUse = %v, want none", got)
	}
	if BuggyInUseWarning(nil) != "" {
		t.Error("a warning for no address")
	}
}

// TestBuggyInUseCompact: a large pool's status.usedCompact counts too.
func TestBuggyInUseCompact(t *testing.T) {
	old := eipYAML(t, `{address: 10.0.0.0/22}`)
	var inUse []netip.Addr
	for a := netip.MustParseAddr("10.0.0.200"); a.Less(netip.MustParseAddr("10.0.2.10")); a = a.Next() {
		inUse = append(inUse, a)
	}
	compact, rest := eipused.Encode(netip.MustParseAddr("10.0.0.0"), inUse)
	if len(rest) != 0 {
		t.Fatalf("Encode left %v", rest)
	}
	old.Status.UsedCompact = &compact
	on := old.DeepCopy()
	on.Spec.AvoidBuggyIPs = true
	got := BuggyInUse(old, on)
	want := []netip.Addr{netip.MustParseAddr("10.0.0.255"), netip.MustParseAddr("10.0.1.0"), netip.MustParseAddr("10.0.1.255"), netip.MustParseAddr("10.0.2.0")}
	if diff := cmp.Diff(want, got, cmp.Comparer(func(a, b netip.Addr) bool { return a == b })); diff != "" {
		t.Errorf("BuggyInUse (-want +got):\n%s", diff)
	}
}

func TestBuggyIn(t *testing.T) {
	a := netip.MustParseAddr
	tests := []struct {
		first, last string
		want        int
	}{
		{"10.0.0.1", "10.0.0.254", 0},
		{"10.0.0.0", "10.0.0.0", 1},
		{"10.0.0.255", "10.0.1.0", 2},
		{"10.0.0.0", "10.0.255.255", 512},
		{"255.255.255.0", "255.255.255.255", 2},
		{"2001:db8::", "2001:db8::ff", 0},
	}
	for _, tt := range tests {
		if got := buggyIn(a(tt.first), a(tt.last)); len(got) != tt.want {
			t.Errorf("buggyIn(%s, %s) = %d addresses, want %d", tt.first, tt.last, len(got), tt.want)
		}
	}
}
