package bgpconfig

import (
	"testing"

	"sigs.k8s.io/yaml"

	"github.com/herald-lb/herald/api/v1alpha2"
)

func TestValidatePeer(t *testing.T) {
	const conf = `conf: {peerAs: 50000, neighborAddress: 172.22.0.2}`
	tests := []struct {
		name string
		spec string // the BgpPeer's spec, YAML
		want verdict
	}{{
		name: "OpenELB's sample, unchanged",
		spec: `{conf: {peerAs: 50000, neighborAddress: 172.22.0.2}}`,
	}, {
		name: "OpenELB's timers as strings",
		spec: `{` + conf + `, timers: {config: {holdTime: "90", keepaliveInterval: "30", connectRetry: "120"}}}`,
	}, {
		name: "timers as numbers",
		spec: `{` + conf + `, timers: {config: {holdTime: 9, keepaliveInterval: 3, connectRetry: 65535, minimumAdvertisementInterval: 0}}}`,
	}, {
		name: "hold time 0 turns keepalives off",
		spec: `{` + conf + `, timers: {config: {holdTime: 0, keepaliveInterval: "0"}}}`,
	}, {
		name: "IPv6 neighbour, 4-byte AS, local AS, everything optional set",
		spec: `{conf: {peerAs: 4200000000, localAs: 4200000001, neighborAddress: "2001:db8::2",
		        authPasswordSecretRef: {namespace: herald-system, name: bgp-auth, key: password}},
		        ebgpMultihop: {enabled: true, multihopTtl: 255}, transport: {passiveMode: true, remotePort: 65535},
		        gracefulRestart: {enabled: true, restartTime: 120},
		        afiSafis: [{config: {family: {afi: AFI_IP, safi: SAFI_UNICAST}, enabled: true}},
		                   {config: {family: {afi: AFI_IP6, safi: SAFI_UNICAST}, enabled: true}, addPaths: {config: {sendMax: 8}}}],
		        nodeSelector: {matchLabels: {bgp: "on"}, matchExpressions: [{key: rack, operator: In, values: [a, b]}]}}`,
	}, {
		name: "plaintext password: admitted with a warning",
		spec: `{conf: {peerAs: 50000, neighborAddress: 172.22.0.2, authPassword: s3cret}}`,
		want: verdict{warning: "set spec.conf.authPasswordSecretRef instead"},
	}, {
		name: "no conf",
		spec: `{timers: {config: {holdTime: 90}}}`,
		want: verdict{errs: []string{"spec.conf: Required value"}, phrase: "conf.neighborAddress"},
	}, {
		name: "no neighbour address",
		spec: `{conf: {peerAs: 50000}}`,
		want: verdict{errs: []string{"spec.conf.neighborAddress: Required value"}, phrase: "for example 172.22.0.2"},
	}, {
		name: "neighbour address is a name",
		spec: `{conf: {peerAs: 50000, neighborAddress: router.example}}`,
		want: verdict{errs: []string{"spec.conf.neighborAddress: Invalid value"}, phrase: `"router.example": not an IP address`},
	}, {
		name: "neighbour address is a CIDR",
		spec: `{conf: {peerAs: 50000, neighborAddress: 172.22.0.2/24}}`,
		want: verdict{errs: []string{"spec.conf.neighborAddress: Invalid value"}, phrase: "not an IP address"},
	}, {
		name: "no peer AS",
		spec: `{conf: {neighborAddress: 172.22.0.2}}`,
		want: verdict{errs: []string{"spec.conf.peerAs: Required value"}, phrase: "the router's AS number"},
	}, {
		name: "hold time below 3",
		spec: `{` + conf + `, timers: {config: {holdTime: "2"}}}`,
		want: verdict{errs: []string{"spec.timers.config.holdTime: Invalid value"}, phrase: `"2": must be 0 (no keepalives) or at least 3 seconds`},
	}, {
		name: "keepalive not below hold time",
		spec: `{` + conf + `, timers: {config: {holdTime: 90, keepaliveInterval: 90}}}`,
		want: verdict{errs: []string{"spec.timers.config.keepaliveInterval: Invalid value"}, phrase: "must be less than holdTime (90)"},
	}, {
		name: "keepalive with hold time 0",
		spec: `{` + conf + `, timers: {config: {holdTime: "0", keepaliveInterval: "30"}}}`,
		want: verdict{errs: []string{"spec.timers.config.keepaliveInterval: Invalid value"}, phrase: "must be 0 or left out when holdTime is 0"},
	}, {
		name: "timer not a number",
		spec: `{` + conf + `, timers: {config: {holdTime: 90s}}}`,
		want: verdict{errs: []string{"spec.timers.config.holdTime: Invalid value"}, phrase: `"90s": must be a whole number of seconds`},
	}, {
		name: "timer with a sign",
		spec: `{` + conf + `, timers: {config: {keepaliveInterval: "+30"}}}`,
		want: verdict{errs: []string{"spec.timers.config.keepaliveInterval: Invalid value"}, phrase: "must be a whole number of seconds"},
	}, {
		name: "empty timer string",
		spec: `{` + conf + `, timers: {config: {minimumAdvertisementInterval: ""}}}`,
		want: verdict{errs: []string{"spec.timers.config.minimumAdvertisementInterval: Invalid value"}, phrase: "must be a whole number of seconds"},
	}, {
		name: "negative timer",
		spec: `{` + conf + `, timers: {config: {holdTime: -90}}}`,
		want: verdict{errs: []string{"spec.timers.config.holdTime: Invalid value"}, phrase: "must not be negative"},
	}, {
		name: "hold time beyond 16 bits",
		spec: `{` + conf + `, timers: {config: {holdTime: 65536}}}`,
		want: verdict{errs: []string{"spec.timers.config.holdTime: Invalid value"}, phrase: "Invalid value: 65536: must be at most 65535 seconds"},
	}, {
		name: "connect retry beyond 16 bits, as a huge string",
		spec: `{` + conf + `, timers: {config: {connectRetry: "99999999999999999999999"}}}`,
		want: verdict{errs: []string{"spec.timers.config.connectRetry: Invalid value"}, phrase: "must be at most 65535 seconds"},
	}, {
		name: "password twice",
		spec: `{conf: {peerAs: 50000, neighborAddress: 172.22.0.2, authPassword: s3cret,
		        authPasswordSecretRef: {namespace: herald-system, name: bgp-auth}}}`,
		want: verdict{errs: []string{"spec.conf.authPasswordSecretRef: Forbidden"}, phrase: "not both"},
	}, {
		name: "secret reference without a name (no namespace means Herald's)",
		spec: `{conf: {peerAs: 50000, neighborAddress: 172.22.0.2, authPasswordSecretRef: {namespace: "", name: ""}}}`,
		want: verdict{errs: []string{
			"spec.conf.authPasswordSecretRef.name: Required value",
		}},
	}, {
		name: "secret reference with bad names",
		spec: `{conf: {peerAs: 50000, neighborAddress: 172.22.0.2,
		        authPasswordSecretRef: {namespace: Herald_System, name: bgp/auth, key: "pass word"}}}`,
		want: verdict{errs: []string{
			"spec.conf.authPasswordSecretRef.namespace: Invalid value",
			"spec.conf.authPasswordSecretRef.name: Invalid value",
			"spec.conf.authPasswordSecretRef.key: Invalid value",
		}},
	}, {
		name: "node selector with a bad operator",
		spec: `{` + conf + `, nodeSelector: {matchExpressions: [{key: rack, operator: Near, values: [a]}]}}`,
		want: verdict{errs: []string{"spec.nodeSelector.matchExpressions[0].operator: Invalid value"}, phrase: `"Near"`},
	}, {
		name: "node selector with a bad label",
		spec: `{` + conf + `, nodeSelector: {matchLabels: {"bad key!": "x"}}}`,
		want: verdict{errs: []string{"spec.nodeSelector.matchLabels: Invalid value"}, phrase: "bad key!"},
	}, {
		name: "node selector Exists with values",
		spec: `{` + conf + `, nodeSelector: {matchExpressions: [{key: rack, operator: Exists, values: [a]}]}}`,
		want: verdict{errs: []string{"spec.nodeSelector.matchExpressions[0].values: Forbidden"}},
	}, {
		name: "nodeSelectors: each entry checked at its own path",
		spec: `{` + conf + `, nodeSelectors: [{matchLabels: {rack: a}}, {matchExpressions: [{key: rack, operator: Near, values: [a]}]}, {matchLabels: {"bad key!": "x"}}]}`,
		want: verdict{errs: []string{
			"spec.nodeSelectors[1].matchExpressions[0].operator: Invalid value",
			"spec.nodeSelectors[2].matchLabels: Invalid value",
		}},
	}, {
		name: "multihop TTL beyond 8 bits",
		spec: `{` + conf + `, ebgpMultihop: {enabled: true, multihopTtl: 256}}`,
		want: verdict{errs: []string{"spec.ebgpMultihop.multihopTtl: Invalid value"}, phrase: "at most 255"},
	}, {
		name: "remote port beyond 16 bits",
		spec: `{` + conf + `, transport: {remotePort: 65536}}`,
		want: verdict{errs: []string{"spec.transport.remotePort: Invalid value"}, phrase: "must be a TCP port from 1 to 65535"},
	}, {
		name: "peer graceful restart time beyond 12 bits",
		spec: `{` + conf + `, gracefulRestart: {enabled: true, restartTime: 5000}}`,
		want: verdict{errs: []string{"spec.gracefulRestart.restartTime: Invalid value"}, phrase: "RFC 4724"},
	}, {
		name: "EVPN family",
		spec: `{` + conf + `, afiSafis: [{config: {family: {afi: AFI_L2VPN, safi: SAFI_EVPN}}}]}`,
		want: verdict{errs: []string{
			"spec.afiSafis[0].config.family.afi: Unsupported value",
			"spec.afiSafis[0].config.family.safi: Unsupported value",
		}, phrase: "unicast routes only"},
	}, {
		name: "family in the wrong spelling",
		spec: `{` + conf + `, afiSafis: [{config: {family: {afi: ipv4, safi: unicast}}}]}`,
		want: verdict{errs: []string{
			"spec.afiSafis[0].config.family.afi: Unsupported value",
			"spec.afiSafis[0].config.family.safi: Unsupported value",
		}, phrase: `supported values: "AFI_IP", "AFI_IP6"`},
	}, {
		name: "family missing",
		spec: `{` + conf + `, afiSafis: [{addPaths: {config: {sendMax: 2}}}]}`,
		want: verdict{errs: []string{"spec.afiSafis[0].config.family: Required value"}, phrase: "{afi: AFI_IP, safi: SAFI_UNICAST}"},
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
