package metallbmigrate

import (
	"strings"
	"testing"
)

// classicDoc wraps a classic configuration in its ConfigMap.
func classicDoc(config string) string {
	return "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: config\n  namespace: metallb-system\ndata:\n  config: |\n    " +
		strings.ReplaceAll(strings.TrimSpace(config), "\n", "\n    ") + "\n"
}

const okPool = "address-pools:\n- name: p\n  protocol: bgp\n  addresses: [10.0.0.0/24]\n"

// TestInvalidInput checks that input MetalLB would refuse is an error that
// names the object and the field.
func TestInvalidInput(t *testing.T) {
	for _, tc := range []struct {
		name, input string
		want        []string
	}{
		{"bad range", classicDoc("address-pools:\n- name: p\n  protocol: bgp\n  addresses: [10.0.0.9-10.0.0.1]"),
			[]string{`address-pools[0] "p": addresses[0]`, "first address is after the last one"}},
		{"mixed range", classicDoc("address-pools:\n- name: p\n  protocol: layer2\n  addresses: [10.0.0.1-fd00::1]"),
			[]string{`addresses[0]`, "mixes IPv4 and IPv6"}},
		{"no protocol", classicDoc("address-pools:\n- name: p\n  addresses: [10.0.0.0/24]"),
			[]string{`address-pools[0] "p": protocol: required`}},
		{"bad protocol", classicDoc("address-pools:\n- name: p\n  protocol: vip\n  addresses: [10.0.0.0/24]"),
			[]string{`protocol: "vip": want bgp or layer2`}},
		{"no name", classicDoc("address-pools:\n- protocol: bgp\n  addresses: [10.0.0.0/24]"),
			[]string{`address-pools[0].name: required`}},
		{"no addresses", classicDoc("address-pools:\n- name: p\n  protocol: bgp"),
			[]string{`"p": addresses: required`}},
		{"layer2 with advertisements", classicDoc("address-pools:\n- name: p\n  protocol: layer2\n  addresses: [10.0.0.0/24]\n  bgp-advertisements:\n  - localpref: 1"),
			[]string{`"p": bgp-advertisements: only bgp pools`}},
		{"unknown alias", classicDoc("address-pools:\n- name: p\n  protocol: bgp\n  addresses: [10.0.0.0/24]\n  bgp-advertisements:\n  - communities: [nope]"),
			[]string{`bgp-advertisements[0]: communities[0]`, `"nope" is neither a community`}},
		{"bad alias value", classicDoc("bgp-communities:\n  a: 70000:1\n" + okPool),
			[]string{`bgp-communities: a: "70000:1"`, "16-bit"}},
		{"aggregation too long", classicDoc("address-pools:\n- name: p\n  protocol: bgp\n  addresses: [10.0.0.0/24]\n  bgp-advertisements:\n  - aggregation-length: 33"),
			[]string{`bgp-advertisements[0]: aggregation-length: 33: want 0 to 32`}},
		{"peer without my-asn", classicDoc("peers:\n- peer-address: 10.0.0.1\n  peer-asn: 1\n" + okPool),
			[]string{`peers[0]: my-asn: required`}},
		{"peer without peer-asn", classicDoc("peers:\n- peer-address: 10.0.0.1\n  my-asn: 1\n" + okPool),
			[]string{`peers[0]: peer-asn: required`}},
		{"peer address", classicDoc("peers:\n- peer-address: router\n  my-asn: 1\n  peer-asn: 2\n" + okPool),
			[]string{`peers[0]: peer-address: "router": not an IP address`}},
		{"hold time", classicDoc("peers:\n- peer-address: 10.0.0.1\n  my-asn: 1\n  peer-asn: 2\n  hold-time: soon\n" + okPool),
			[]string{`data.config`, `"soon" is not a duration`}},
		{"selector", classicDoc("peers:\n- peer-address: 10.0.0.1\n  my-asn: 1\n  peer-asn: 2\n  node-selectors:\n  - match-expressions:\n    - key: a\n      operator: Near\n" + okPool),
			[]string{`peers[0]: node-selectors[0]`, `"Near"`}},
		{"unknown bfd profile", classicDoc("peers:\n- peer-address: 10.0.0.1\n  my-asn: 1\n  peer-asn: 2\n  bfd-profile: x\n" + okPool),
			[]string{`peers[0]: bfd-profile: "x": no such BFD profile`}},
		{"no config key", "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: config\ndata:\n  other: x\n",
			[]string{`ConfigMap "config": data.config: required`}},
		{"wrong type", "apiVersion: metallb.io/v1beta2\nkind: BGPPeer\nmetadata:\n  name: r\n  namespace: m\nspec:\n  myASN: many\n",
			[]string{`BGPPeer "m/r": spec: myASN`}},
		{"both ASNs", "apiVersion: metallb.io/v1beta2\nkind: BGPPeer\nmetadata:\n  name: r\nspec:\n  myASN: 1\n  peerASN: 2\n  dynamicASN: external\n  peerAddress: 10.0.0.1\n",
			[]string{`BGPPeer "r": spec.dynamicASN: set together with spec.peerASN`}},
		{"pool selector", "apiVersion: metallb.io/v1beta1\nkind: IPAddressPool\nmetadata:\n  name: p\nspec:\n  addresses: [10.0.0.0/24]\n---\n" +
			"apiVersion: metallb.io/v1beta1\nkind: L2Advertisement\nmetadata:\n  name: a\nspec:\n  ipAddressPoolSelectors:\n  - matchExpressions:\n    - key: x\n      operator: Bad\n",
			[]string{`L2Advertisement "a": spec.ipAddressPoolSelectors[0]`}},
		{"no name", "apiVersion: metallb.io/v1beta1\nkind: IPAddressPool\nspec:\n  addresses: [10.0.0.0/24]\n",
			[]string{`IPAddressPool: metadata.name: required`}},
		{"nothing", "apiVersion: v1\nkind: Secret\nmetadata:\n  name: s\n",
			[]string{"no MetalLB address pool or peer in the input"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Convert(Options{}, Input{Name: "in.yaml", R: strings.NewReader(tc.input)})
			if err == nil {
				t.Fatalf("no error; want one containing %q", tc.want)
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not contain %q", err, w)
				}
			}
		})
	}
}
