package bgpconfig

import (
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"k8s.io/apimachinery/pkg/util/validation/field"
	"sigs.k8s.io/yaml"

	"github.com/herald-lb/herald/api/v1alpha2"
)

// verdict is what a test row expects: each error as "<path>: <type>", a
// phrase every error message together must contain, and a phrase for the
// warnings (empty: no warning).
type verdict struct {
	errs    []string
	phrase  string
	warning string
}

// summarize renders errors as "<path>: <type>" so rows stay short while
// still pinning the exact field and kind of every error.
func summarize(errs field.ErrorList) []string {
	var out []string
	for _, e := range errs {
		out = append(out, e.Field+": "+e.Type.String())
	}
	return out
}

func check(t *testing.T, want verdict, warnings []string, errs field.ErrorList) {
	t.Helper()
	if diff := cmp.Diff(want.errs, summarize(errs)); diff != "" {
		t.Errorf("errors (-want +got):\n%s\nall: %v", diff, errs)
	}
	if text := errs.ToAggregate(); want.phrase != "" && (text == nil || !strings.Contains(text.Error(), want.phrase)) {
		t.Errorf("errors %v do not contain %q", text, want.phrase)
	}
	if want.warning == "" {
		if len(warnings) > 0 {
			t.Errorf("unexpected warnings %q", warnings)
		}
	} else if len(warnings) != 1 || !strings.Contains(warnings[0], want.warning) {
		t.Errorf("warnings %q, want one containing %q", warnings, want.warning)
	}
}

func TestValidateConf(t *testing.T) {
	tests := []struct {
		name string
		yaml string
		want verdict
	}{{
		name: "OpenELB's sample, unchanged: admitted with the routerId warning",
		yaml: `{metadata: {name: default}, spec: {as: 50001, listenPort: 17900, routerId: 172.22.0.10}}`,
		want: verdict{warning: "every node will use 172.22.0.10 as its BGP router ID"},
	}, {
		name: "minimal",
		yaml: `{metadata: {name: default}, spec: {as: 64512}}`,
	}, {
		name: "4-byte AS, listeners and racks",
		yaml: `{metadata: {name: default}, spec: {as: 4200000000, listenPort: 179,
		        listenAddresses: [0.0.0.0, "::", 192.0.2.1, "2001:db8::1"], asPerRack: {rack-a: 65001, r2: 4200000001},
		        gracefulRestart: {enabled: true, restartTime: 4095}}}`,
	}, {
		name: "another name is refused",
		yaml: `{metadata: {name: my-bgp}, spec: {as: 64512}}`,
		want: verdict{errs: []string{"metadata.name: Invalid value"}, phrase: "only the BgpConf named default is used; rename it to default"},
	}, {
		name: "missing AS",
		yaml: `{metadata: {name: default}, spec: {listenPort: 17900}}`,
		want: verdict{errs: []string{"spec.as: Required value"}, phrase: "AS number"},
	}, {
		name: "router ID not an address",
		yaml: `{metadata: {name: default}, spec: {as: 64512, routerId: node-1}}`,
		want: verdict{errs: []string{"spec.routerId: Invalid value"}, phrase: "must be an IPv4 address"},
	}, {
		name: "IPv6 router ID",
		yaml: `{metadata: {name: default}, spec: {as: 64512, routerId: "2001:db8::1"}}`,
		want: verdict{errs: []string{"spec.routerId: Invalid value"}, phrase: "must be an IPv4 address"},
	}, {
		name: "zero router ID",
		yaml: `{metadata: {name: default}, spec: {as: 64512, routerId: 0.0.0.0}}`,
		want: verdict{errs: []string{"spec.routerId: Invalid value"}, phrase: "must not be 0.0.0.0"},
	}, {
		name: "listen port too high",
		yaml: `{metadata: {name: default}, spec: {as: 64512, listenPort: 70000}}`,
		want: verdict{errs: []string{"spec.listenPort: Invalid value"}, phrase: "Invalid value: 70000: must be a TCP port from 1 to 65535"},
	}, {
		name: "negative listen port",
		yaml: `{metadata: {name: default}, spec: {as: 64512, listenPort: -1}}`,
		want: verdict{errs: []string{"spec.listenPort: Invalid value"}, phrase: "0/unset for no listener"},
	}, {
		name: "listen address not an IP",
		yaml: `{metadata: {name: default}, spec: {as: 64512, listenAddresses: [192.0.2.1, eth0, "fe80::1%eth0"]}}`,
		want: verdict{errs: []string{"spec.listenAddresses[1]: Invalid value", "spec.listenAddresses[2]: Invalid value"}, phrase: "not an IP address"},
	}, {
		name: "rack without an AS",
		yaml: `{metadata: {name: default}, spec: {as: 64512, asPerRack: {rack-a: 0}}}`,
		want: verdict{errs: []string{"spec.asPerRack[rack-a]: Invalid value"}, phrase: "must be an AS number from 1 to 4294967295"},
	}, {
		name: "rack that no label can name",
		yaml: `{metadata: {name: default}, spec: {as: 64512, asPerRack: {"rack a": 65001}}}`,
		want: verdict{errs: []string{"spec.asPerRack[rack a]: Invalid value"}, phrase: "openelb.kubesphere.io/rack"},
	}, {
		name: "graceful restart time beyond 12 bits",
		yaml: `{metadata: {name: default}, spec: {as: 64512, gracefulRestart: {enabled: true, restartTime: 4096}}}`,
		want: verdict{errs: []string{"spec.gracefulRestart.restartTime: Invalid value"}, phrase: "at most 4095 seconds"},
	}, {
		name: "Service CIDRs, v4 and v6; the same range in both lists is fine",
		yaml: `{metadata: {name: default}, spec: {as: 64512,
		        serviceClusterIPs: [{cidr: 10.96.0.0/12}, {cidr: "fd00:96::/108"}],
		        serviceExternalIPs: [{cidr: 192.0.2.0/24}, {cidr: 198.51.100.7/32}, {cidr: 10.96.0.0/12}, {cidr: "2001:db8::/64"}]}}`,
	}, {
		name: "cluster-IP CIDR with host bits set",
		yaml: `{metadata: {name: default}, spec: {as: 64512, serviceClusterIPs: [{cidr: 10.96.0.1/12}]}}`,
		want: verdict{errs: []string{"spec.serviceClusterIPs[0].cidr: Invalid value"},
			phrase: `spec.serviceClusterIPs[0].cidr: Invalid value: "10.96.0.1/12": has host bits set; did you mean "10.96.0.0/12"?`},
	}, {
		name: "IPv6 external-IP CIDR with host bits set",
		yaml: `{metadata: {name: default}, spec: {as: 64512, serviceExternalIPs: [{cidr: "2001:db8::/64"}, {cidr: "2001:db8::1/64"}]}}`,
		want: verdict{errs: []string{"spec.serviceExternalIPs[1].cidr: Invalid value"}, phrase: `did you mean "2001:db8::/64"?`},
	}, {
		name: "not a CIDR: an address, a word, a zone",
		yaml: `{metadata: {name: default}, spec: {as: 64512, serviceClusterIPs: [{cidr: 10.96.0.0}, {cidr: services}, {cidr: "fe80::/64%eth0"}]}}`,
		want: verdict{errs: []string{
			"spec.serviceClusterIPs[0].cidr: Invalid value", "spec.serviceClusterIPs[1].cidr: Invalid value",
			"spec.serviceClusterIPs[2].cidr: Invalid value",
		}, phrase: "not a CIDR; write an IPv4 or IPv6 prefix such as 10.96.0.0/12"},
	}, {
		name: "IPv4-mapped IPv6 CIDR",
		yaml: `{metadata: {name: default}, spec: {as: 64512, serviceExternalIPs: [{cidr: "::ffff:192.0.2.0/120"}]}}`,
		want: verdict{errs: []string{"spec.serviceExternalIPs[0].cidr: Invalid value"}, phrase: "write the IPv4 prefix instead (192.0.2.0/24)"},
	}, {
		name: "the same range twice in one list, also in another spelling",
		yaml: `{metadata: {name: default}, spec: {as: 64512,
		        serviceClusterIPs: [{cidr: 10.96.0.0/12}, {cidr: "fd00::/108"}, {cidr: 10.96.0.0/12}, {cidr: "fd00:0::/108"}]}}`,
		want: verdict{errs: []string{"spec.serviceClusterIPs[2].cidr: Duplicate value", "spec.serviceClusterIPs[3].cidr: Duplicate value"},
			phrase: `the same prefix as spec.serviceClusterIPs[1].cidr ("fd00::/108")`},
	}, {
		name: "a default route is admitted with a warning",
		yaml: `{metadata: {name: default}, spec: {as: 64512, serviceExternalIPs: [{cidr: 0.0.0.0/0}]}}`,
		want: verdict{warning: "spec.serviceExternalIPs[0].cidr: 0.0.0.0/0 is a default route"},
	}, {
		name: "every problem at once",
		yaml: `{metadata: {name: bgp}, spec: {routerId: x, listenPort: 65536}}`,
		want: verdict{errs: []string{
			"metadata.name: Invalid value", "spec.as: Required value",
			"spec.routerId: Invalid value", "spec.listenPort: Invalid value",
		}},
	}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var c v1alpha2.BgpConf
			if err := yaml.UnmarshalStrict([]byte(tt.yaml), &c); err != nil {
				t.Fatalf("test manifest: %v", err)
			}
			warnings, errs := ValidateConf(&c)
			check(t, tt.want, warnings, errs)
		})
	}
}
