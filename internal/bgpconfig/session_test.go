package bgpconfig

import (
	"testing"

	"sigs.k8s.io/yaml"

	"github.com/herald-lb/herald/api/v1alpha2"
)

// TestValidatePeerSession covers issue 13's BgpPeer fields: nodeSelectors,
// sourceAddress and bfd, IPv4 and IPv6 rows side by side.
func TestValidatePeerSession(t *testing.T) {
	const (
		v4 = `conf: {peerAs: 50000, neighborAddress: 172.22.0.2}`
		v6 = `conf: {peerAs: 50000, neighborAddress: "2001:db8::2"}`
	)
	tests := []struct {
		name string
		spec string
		want verdict
	}{{
		name: "every new field, IPv4",
		spec: `{` + v4 + `, nodeSelectors: [{matchLabels: {rack: a}}, {matchExpressions: [{key: zone, operator: Exists}]}],
		        sourceAddress: {cidr: 10.99.0.0/24}, bfd: {enabled: true, transmitInterval: 300ms, receiveInterval: 1s, detectMultiplier: 3}}`,
	}, {
		name: "every new field, IPv6",
		spec: `{` + v6 + `, sourceAddress: {cidr: "2001:db8:99::/64"}, bfd: {enabled: true, transmitInterval: 10ms, receiveInterval: 60s, detectMultiplier: 255}}`,
	}, {
		name: "source interface",
		spec: `{` + v4 + `, sourceAddress: {interface: bond0.100}}`,
	}, {
		name: "bfd with multihop off",
		spec: `{` + v4 + `, ebgpMultihop: {enabled: false, multihopTtl: 3}, bfd: {enabled: true}}`,
	}, {
		name: "bad second node selector",
		spec: `{` + v4 + `, nodeSelectors: [{matchLabels: {rack: a}}, {matchExpressions: [{key: rack, operator: Near, values: [a]}]}]}`,
		want: verdict{errs: []string{"spec.nodeSelectors[1].matchExpressions[0].operator: Invalid value"}, phrase: `"Near"`},
	}, {
		name: "source address with both rules",
		spec: `{` + v4 + `, sourceAddress: {interface: eth1, cidr: 10.99.0.0/24}}`,
		want: verdict{errs: []string{"spec.sourceAddress: Forbidden"}, phrase: "set either interface (eth1) or cidr (10.99.0.0/24), not both"},
	}, {
		name: "source address with no rule",
		spec: `{` + v4 + `, sourceAddress: {}}`,
		want: verdict{errs: []string{"spec.sourceAddress: Required value"}, phrase: "or remove sourceAddress"},
	}, {
		name: "source interface with a slash",
		spec: `{` + v4 + `, sourceAddress: {interface: eth0/1}}`,
		want: verdict{errs: []string{"spec.sourceAddress.interface: Invalid value"}, phrase: "not a Linux interface name"},
	}, {
		name: "source interface with a blank",
		spec: `{` + v4 + `, sourceAddress: {interface: "eth 1"}}`,
		want: verdict{errs: []string{"spec.sourceAddress.interface: Invalid value"}, phrase: "not a Linux interface name"},
	}, {
		name: "source interface too long",
		spec: `{` + v4 + `, sourceAddress: {interface: averyveryverylong}}`,
		want: verdict{errs: []string{"spec.sourceAddress.interface: Invalid value"}, phrase: "1 to 15 characters"},
	}, {
		name: "source CIDR not a CIDR",
		spec: `{` + v4 + `, sourceAddress: {cidr: 10.99.0.1}}`,
		want: verdict{errs: []string{"spec.sourceAddress.cidr: Invalid value"}, phrase: "not a CIDR"},
	}, {
		name: "source CIDR with host bits, IPv4",
		spec: `{` + v4 + `, sourceAddress: {cidr: 10.99.0.1/24}}`,
		want: verdict{errs: []string{"spec.sourceAddress.cidr: Invalid value"}, phrase: `did you mean "10.99.0.0/24"?`},
	}, {
		name: "source CIDR not canonical, IPv6",
		spec: `{` + v6 + `, sourceAddress: {cidr: "2001:DB8:99:0::/64"}}`,
		want: verdict{errs: []string{"spec.sourceAddress.cidr: Invalid value"}, phrase: `did you mean "2001:db8:99::/64"?`},
	}, {
		name: "IPv6 source CIDR for an IPv4 neighbour",
		spec: `{` + v4 + `, sourceAddress: {cidr: "2001:db8:99::/64"}}`,
		want: verdict{errs: []string{"spec.sourceAddress.cidr: Invalid value"}, phrase: "is IPv6 but the neighbour 172.22.0.2 is IPv4"},
	}, {
		name: "IPv4 source CIDR for an IPv6 neighbour",
		spec: `{` + v6 + `, sourceAddress: {cidr: 10.99.0.0/24}}`,
		want: verdict{errs: []string{"spec.sourceAddress.cidr: Invalid value"}, phrase: "write an IPv6 CIDR"},
	}, {
		name: "bfd interval below 10ms",
		spec: `{` + v4 + `, bfd: {enabled: true, transmitInterval: 5ms}}`,
		want: verdict{errs: []string{"spec.bfd.transmitInterval: Invalid value"}, phrase: "want whole milliseconds from 10ms to 60s"},
	}, {
		name: "bfd interval above 60s",
		spec: `{` + v4 + `, bfd: {enabled: true, receiveInterval: 61s}}`,
		want: verdict{errs: []string{"spec.bfd.receiveInterval: Invalid value"}, phrase: "want whole milliseconds"},
	}, {
		name: "bfd interval not whole milliseconds",
		spec: `{` + v4 + `, bfd: {enabled: true, receiveInterval: 300500us}}`,
		want: verdict{errs: []string{"spec.bfd.receiveInterval: Invalid value"}, phrase: "want whole milliseconds"},
	}, {
		name: "bfd multiplier 1",
		spec: `{` + v4 + `, bfd: {enabled: true, detectMultiplier: 1}}`,
		want: verdict{errs: []string{"spec.bfd.detectMultiplier: Invalid value"}, phrase: "from 2 to 255"},
	}, {
		name: "bfd multiplier 256",
		spec: `{` + v4 + `, bfd: {enabled: true, detectMultiplier: 256}}`,
		want: verdict{errs: []string{"spec.bfd.detectMultiplier: Invalid value"}, phrase: "from 2 to 255"},
	}, {
		name: "bfd with multihop",
		spec: `{` + v6 + `, ebgpMultihop: {enabled: true, multihopTtl: 3}, bfd: {enabled: true}}`,
		want: verdict{errs: []string{"spec.bfd.enabled: Forbidden"}, phrase: "single hop (RFC 5881)"},
	}, {
		name: "bfd settings while off: admitted with a warning",
		spec: `{` + v4 + `, bfd: {enabled: false, transmitInterval: 300ms}}`,
		want: verdict{warning: "have no effect while spec.bfd.enabled is false"},
	}, {
		name: "bfd off with multihop: nothing to refuse",
		spec: `{` + v4 + `, ebgpMultihop: {enabled: true, multihopTtl: 3}, bfd: {enabled: false}}`,
	}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var p v1alpha2.BgpPeer
			if err := yaml.UnmarshalStrict([]byte(`{metadata: {name: bgppeer-sample}, spec: `+tt.spec+`}`), &p); err != nil {
				t.Fatalf("test manifest: %v", err)
			}
			warnings, errs := ValidatePeer(&p)
			check(t, tt.want, warnings, errs)
		})
	}
}
