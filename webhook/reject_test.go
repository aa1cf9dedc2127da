package webhook_test

import (
	"context"
	"errors"
	"strings"
	"testing"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
)

const (
	byEip     = `admission webhook "veip.network.kubesphere.io" denied the request`
	byBgpConf = `admission webhook "vbgpconf.network.kubesphere.io" denied the request`
	byBgpPeer = `admission webhook "vbgppeer.network.kubesphere.io" denied the request`
	bySchema  = "schema" // the CRD's OpenAPI schema refused it before any webhook ran
)

// TestRejections applies bad manifests through the real API server and its
// admission chain, and checks who refused each and why: the field the
// refusal names and a phrase of its message, as kubectl would print them.
func TestRejections(t *testing.T) {
	ctx := context.Background()
	c, _ := userClient(t)
	fixture := manifest(t, `
apiVersion: network.kubesphere.io/v1alpha2
kind: Eip
metadata:
  name: fixture-pool
  annotations: {eip.openelb.kubesphere.io/is-default-eip: "true"}
spec: {address: 10.99.0.0/24}`)
	if err := c.Create(ctx, fixture); err != nil {
		t.Fatalf("create the pool the overlap checks run against: %v", err)
	}
	deleteAfter(t, fixture)

	const (
		eip  = "apiVersion: network.kubesphere.io/v1alpha2\nkind: Eip\n"
		conf = "apiVersion: network.kubesphere.io/v1alpha2\nkind: BgpConf\n"
		peer = "apiVersion: network.kubesphere.io/v1alpha2\nkind: BgpPeer\n"
	)
	tests := []struct {
		name, by, manifest, field, phrase string
	}{
		// Eip: the address.
		{"address out of range", byEip, eip + `metadata: {name: bad-octet}
spec: {address: 192.168.0.300}`, "spec.address", `Invalid value: "192.168.0.300"`},
		{"address range reversed", byEip, eip + `metadata: {name: reversed}
spec: {address: 10.0.0.10-10.0.0.1}`, "spec.address", "first address is after the last one"},
		{"address range mixing families", byEip, eip + `metadata: {name: mixed}
spec: {address: 10.0.0.1-2001:db8::1}`, "spec.address", "range mixes IPv4 and IPv6"},
		{"address with an IPv6 zone", byEip, eip + `metadata: {name: zoned}
spec: {address: "fe80::1%eth0"}`, "spec.address", "IPv6 zone"},
		{"IPv4-mapped IPv6 address", byEip, eip + `metadata: {name: mapped}
spec: {address: "::ffff:10.0.0.1"}`, "spec.address", "write the IPv4 address instead"},
		{"address is a word", byEip, eip + `metadata: {name: word}
spec: {address: my-pool}`, "spec.address", "write one address (192.168.0.10), a CIDR"},
		{"address missing", bySchema, eip + `metadata: {name: no-address}
spec: {protocol: bgp}`, "spec.address", "Required value"},
		// Eip: protocol and interface.
		{"unknown protocol", bySchema, eip + `metadata: {name: ospf}
spec: {address: 10.1.0.1, protocol: ospf}`, "spec.protocol", `Unsupported value: "ospf"`},
		{"layer2 without an interface", byEip, eip + `metadata: {name: l2-no-iface}
spec: {address: 10.1.0.1, protocol: layer2}`, "spec.interface", "must name the node interface"},
		{"vip without an interface", byEip, eip + `metadata: {name: vip-no-iface}
spec: {address: 10.1.0.1, protocol: vip}`, "spec.interface", "a vip Eip must name the node interface"},
		{"can_reach without an address", byEip, eip + `metadata: {name: can-reach-name}
spec: {address: 10.1.0.1, protocol: layer2, interface: "can_reach:router"}`, "spec.interface", "can_reach: must be followed by one IPv4 or IPv6 address"},
		{"interface name too long", byEip, eip + `metadata: {name: long-iface}
spec: {address: 10.1.0.1, protocol: layer2, interface: averyveryverylongname0}`, "spec.interface", "not a Linux interface name"},
		{"vrrp settings on a bgp eip", byEip, eip + `metadata: {name: bgp-vrrp}
spec: {address: 10.1.0.1, vrrp: {unicast: true}}`, "spec.vrrp", "VRRP settings apply to vip Eips only"},
		{"vrrp advert interval beyond VRRP's limit", byEip, eip + `metadata: {name: vip-slow}
spec: {address: 10.1.0.1, protocol: vip, interface: eth0, vrrp: {advertInterval: 1m}}`, "spec.vrrp.advertInterval", "want whole centiseconds from 10ms to 40.95s"},
		// Eip: namespaces and annotations.
		{"namespace not a name", byEip, eip + `metadata: {name: bad-ns}
spec: {address: 10.1.0.1, namespaces: [Bad_NS]}`, "spec.namespaces[0]", "not a namespace name"},
		{"namespace selector with a bad key", byEip, eip + `metadata: {name: bad-selector}
spec: {address: 10.1.0.1, namespaceSelector: {"bad key!": x}}`, "spec.namespaceSelector", "not a valid label set"},
		{"default annotation not a boolean", byEip, eip + `metadata:
  name: yes-default
  annotations: {eip.openelb.kubesphere.io/is-default-eip: "yes"}
spec: {address: 10.1.0.1}`, "metadata.annotations[eip.openelb.kubesphere.io/is-default-eip]", `must be "true" or "false"`},
		// Eip: against the other pools.
		{"overlapping pool", byEip, eip + `metadata: {name: overlapping}
spec: {address: 10.99.0.200-10.99.1.5}`, "spec.address", `overlaps Eip "fixture-pool" (10.99.0.0/24)`},
		{"second default pool", byEip, eip + `metadata:
  name: second-default
  annotations: {eip.openelb.kubesphere.io/is-default-eip: "true"}
spec: {address: 10.98.0.0/24}`, "metadata.annotations[eip.openelb.kubesphere.io/is-default-eip]", `Eip "fixture-pool" is already the default`},
		// Eip: issue 13's fields.
		{"advertisements on a layer2 Eip", byEip, eip + `metadata: {name: l2-adv}
spec: {address: 10.1.0.1, protocol: layer2, interface: eth0, bgpAdvertisements: [{localPref: 100}]}`,
			"spec.bgpAdvertisements", "BGP advertisements apply to bgp Eips only"},
		{"foreign aggregate", byEip, eip + `metadata: {name: foreign-aggregate}
spec: {address: 10.1.0.10-10.1.0.20, bgpAdvertisements: [{aggregationLength: 24}]}`,
			"spec.bgpAdvertisements[0].aggregationLength",
			"Invalid value: 24: would announce 10.1.0.0/24, which holds addresses outside the Eip (10.1.0.10-10.1.0.20); set allowForeignAggregate: true if you own the whole prefix"},
		{"foreign aggregate, IPv6", byEip, eip + `metadata: {name: foreign-aggregate-v6}
spec: {address: "2001:db8:1::/120", bgpAdvertisements: [{aggregationLengthV6: 64}]}`,
			"spec.bgpAdvertisements[0].aggregationLengthV6", "would announce 2001:db8:1::/64"},
		{"unknown community alias", byEip, eip + `metadata: {name: unknown-alias}
spec: {address: 10.1.0.1, bgpAdvertisements: [{communities: [no-export]}, {communities: ["64512:1", upstream-only]}]}`,
			"spec.bgpAdvertisements[1].communities[1]", "aliases are defined in BgpConf default's spec.communities"},
		{"malformed community", byEip, eip + `metadata: {name: bad-community}
spec: {address: 10.1.0.1, bgpAdvertisements: [{communities: ["65536:1"]}]}`,
			"spec.bgpAdvertisements[0].communities[0]", "for a 4-byte AS use large"},
		{"two localPrefs for one peer", byEip, eip + `metadata: {name: two-prefs}
spec: {address: 10.1.0.1, bgpAdvertisements: [{localPref: 100}, {localPref: 200, peers: [tor-1]}]}`,
			"spec.bgpAdvertisements[1].localPref", "a peer keeps one route per prefix"},
		{"aggregation length beyond 32", bySchema, eip + `metadata: {name: length-33}
spec: {address: 10.1.0.1, bgpAdvertisements: [{aggregationLength: 33}]}`,
			"spec.bgpAdvertisements[0].aggregationLength", "less than or equal to 32"},
		{"avoidBuggyIPs on a lone .0", byEip, eip + `metadata: {name: lone-zero}
spec: {address: 10.1.1.0, avoidBuggyIPs: true}`, "spec.avoidBuggyIPs", "no address to hand out"},
		{"Eip node selector with an unknown operator", byEip, eip + `metadata: {name: eip-bad-nodes}
spec: {address: 10.1.0.1, nodeSelector: {matchExpressions: [{key: rack, operator: Near, values: [a]}]}}`,
			"spec.nodeSelector.matchExpressions[0].operator", `Invalid value: "Near"`},

		// BgpConf.
		{"BgpConf not named default", byBgpConf, conf + `metadata: {name: my-bgp}
spec: {as: 64512}`, "metadata.name", "only the BgpConf named default is used; rename it to default"},
		{"BgpConf without AS", byBgpConf, conf + `metadata: {name: default}
spec: {listenPort: 17900}`, "spec.as", "Required value"},
		{"router ID not an address", byBgpConf, conf + `metadata: {name: default}
spec: {as: 64512, routerId: node-1}`, "spec.routerId", `Invalid value: "node-1": must be an IPv4 address`},
		{"IPv6 router ID", byBgpConf, conf + `metadata: {name: default}
spec: {as: 64512, routerId: "2001:db8::1"}`, "spec.routerId", "must be an IPv4 address"},
		{"listen port too high", byBgpConf, conf + `metadata: {name: default}
spec: {as: 64512, listenPort: 70000}`, "spec.listenPort", "Invalid value: 70000: must be a TCP port from 1 to 65535"},
		{"listen address not an IP", byBgpConf, conf + `metadata: {name: default}
spec: {as: 64512, listenAddresses: [eth0]}`, "spec.listenAddresses[0]", `Invalid value: "eth0": not an IP address`},
		{"rack without AS", byBgpConf, conf + `metadata: {name: default}
spec: {as: 64512, asPerRack: {rack-a: 0}}`, "spec.asPerRack[rack-a]", "Invalid value: 0: must be an AS number"},
		{"graceful restart beyond 12 bits", byBgpConf, conf + `metadata: {name: default}
spec: {as: 64512, gracefulRestart: {enabled: true, restartTime: 5000}}`, "spec.gracefulRestart.restartTime", "at most 4095 seconds"},
		{"service CIDR with host bits set", byBgpConf, conf + `metadata: {name: default}
spec: {as: 64512, serviceClusterIPs: [{cidr: 10.96.0.1/12}]}`, "spec.serviceClusterIPs[0].cidr",
			`Invalid value: "10.96.0.1/12": has host bits set; did you mean "10.96.0.0/12"?`},
		{"service CIDR not a prefix", byBgpConf, conf + `metadata: {name: default}
spec: {as: 64512, serviceExternalIPs: [{cidr: "2001:db8::/64"}, {cidr: 192.0.2.7}]}`, "spec.serviceExternalIPs[1].cidr",
			`Invalid value: "192.0.2.7": not a CIDR`},
		{"service CIDR listed twice", byBgpConf, conf + `metadata: {name: default}
spec: {as: 64512, serviceExternalIPs: [{cidr: "fd00:1::/64"}, {cidr: "fd00:1:0::/64"}]}`, "spec.serviceExternalIPs[1].cidr",
			`Duplicate value: "fd00:1:0::/64": the same prefix as spec.serviceExternalIPs[0].cidr`},
		{"service CIDR block without cidr", bySchema, conf + `metadata: {name: default}
spec: {as: 64512, serviceClusterIPs: [{}]}`, "spec.serviceClusterIPs[0].cidr", "Required value"},

		// BgpPeer.
		{"peer without conf", byBgpPeer, peer + `metadata: {name: no-conf}
spec: {timers: {config: {holdTime: "90"}}}`, "spec.conf", "Required value"},
		{"neighbour is a host name", byBgpPeer, peer + `metadata: {name: hostname}
spec: {conf: {peerAs: 50000, neighborAddress: router.example}}`, "spec.conf.neighborAddress", `Invalid value: "router.example": not an IP address`},
		{"neighbour missing", byBgpPeer, peer + `metadata: {name: no-neighbor}
spec: {conf: {peerAs: 50000}}`, "spec.conf.neighborAddress", "Required value"},
		{"peer AS missing", byBgpPeer, peer + `metadata: {name: no-peer-as}
spec: {conf: {neighborAddress: 172.22.0.2}}`, "spec.conf.peerAs", "Required value"},
		{"negative peer AS", bySchema, peer + `metadata: {name: negative-as}
spec: {conf: {peerAs: -1, neighborAddress: 172.22.0.2}}`, "spec.conf.peerAs", "greater than or equal to 0"},
		{"hold time 2", byBgpPeer, peer + `metadata: {name: hold-2}
spec: {conf: {peerAs: 50000, neighborAddress: 172.22.0.2}, timers: {config: {holdTime: "2"}}}`,
			"spec.timers.config.holdTime", `Invalid value: "2": must be 0 (no keepalives) or at least 3 seconds`},
		{"keepalive equal to hold time", byBgpPeer, peer + `metadata: {name: keepalive-90}
spec: {conf: {peerAs: 50000, neighborAddress: 172.22.0.2}, timers: {config: {holdTime: "90", keepaliveInterval: "90"}}}`,
			"spec.timers.config.keepaliveInterval", "must be less than holdTime (90)"},
		{"keepalive with hold time 0", byBgpPeer, peer + `metadata: {name: keepalive-no-hold}
spec: {conf: {peerAs: 50000, neighborAddress: 172.22.0.2}, timers: {config: {holdTime: 0, keepaliveInterval: 30}}}`,
			"spec.timers.config.keepaliveInterval", "must be 0 or left out when holdTime is 0"},
		{"timer with a unit", byBgpPeer, peer + `metadata: {name: hold-90s}
spec: {conf: {peerAs: 50000, neighborAddress: 172.22.0.2}, timers: {config: {holdTime: 90s}}}`,
			"spec.timers.config.holdTime", `Invalid value: "90s": must be a whole number of seconds`},
		{"timer beyond 16 bits", byBgpPeer, peer + `metadata: {name: hold-70000}
spec: {conf: {peerAs: 50000, neighborAddress: 172.22.0.2}, timers: {config: {holdTime: 70000}}}`,
			"spec.timers.config.holdTime", "Invalid value: 70000: must be at most 65535 seconds"},
		{"negative connect retry", byBgpPeer, peer + `metadata: {name: retry-negative}
spec: {conf: {peerAs: 50000, neighborAddress: 172.22.0.2}, timers: {config: {connectRetry: -1}}}`,
			"spec.timers.config.connectRetry", "must not be negative"},
		{"password twice", byBgpPeer, peer + `metadata: {name: two-passwords}
spec:
  conf:
    peerAs: 50000
    neighborAddress: 172.22.0.2
    authPassword: s3cret
    authPasswordSecretRef: {namespace: herald-system, name: bgp-auth}`, "spec.conf.authPasswordSecretRef", "Forbidden: set either conf.authPassword or conf.authPasswordSecretRef, not both"},
		{"secret reference in another namespace", byBgpPeer, peer + `metadata: {name: ref-other-ns}
spec: {conf: {peerAs: 50000, neighborAddress: 172.22.0.2, authPasswordSecretRef: {namespace: default, name: bgp-auth}}}`,
			"spec.conf.authPasswordSecretRef.namespace", "create the Secret in namespace herald-system"},
		{"node selector with an unknown operator", byBgpPeer, peer + `metadata: {name: bad-operator}
spec:
  conf: {peerAs: 50000, neighborAddress: 172.22.0.2}
  nodeSelector: {matchExpressions: [{key: rack, operator: Near, values: [a]}]}`,
			"spec.nodeSelector.matchExpressions[0].operator", `Invalid value: "Near"`},
		{"multihop TTL beyond 8 bits", byBgpPeer, peer + `metadata: {name: ttl-256}
spec: {conf: {peerAs: 50000, neighborAddress: 172.22.0.2}, ebgpMultihop: {enabled: true, multihopTtl: 256}}`,
			"spec.ebgpMultihop.multihopTtl", "Invalid value: 256: must be at most 255"},
		{"remote port beyond 16 bits", byBgpPeer, peer + `metadata: {name: port-70000}
spec: {conf: {peerAs: 50000, neighborAddress: 172.22.0.2}, transport: {remotePort: 70000}}`,
			"spec.transport.remotePort", "Invalid value: 70000: must be a TCP port"},
		{"EVPN family", byBgpPeer, peer + `metadata: {name: evpn}
spec:
  conf: {peerAs: 50000, neighborAddress: 172.22.0.2}
  afiSafis: [{config: {family: {afi: AFI_L2VPN, safi: SAFI_EVPN}, enabled: true}}]`,
			"spec.afiSafis[0].config.family.afi", "unicast routes only"},
		// BgpPeer: issue 13's fields.
		{"second node selector with an unknown operator", byBgpPeer, peer + `metadata: {name: bad-selectors}
spec:
  conf: {peerAs: 50000, neighborAddress: 172.22.0.2}
  nodeSelectors: [{matchLabels: {rack: a}}, {matchExpressions: [{key: rack, operator: Near, values: [a]}]}]`,
			"spec.nodeSelectors[1].matchExpressions[0].operator", `Invalid value: "Near"`},
		{"source address with both rules", byBgpPeer, peer + `metadata: {name: two-sources}
spec: {conf: {peerAs: 50000, neighborAddress: 172.22.0.2}, sourceAddress: {interface: eth1, cidr: 10.99.0.0/24}}`,
			"spec.sourceAddress", "set either interface (eth1) or cidr (10.99.0.0/24), not both"},
		{"source CIDR of the other family", byBgpPeer, peer + `metadata: {name: wrong-family}
spec: {conf: {peerAs: 50000, neighborAddress: 172.22.0.2}, sourceAddress: {cidr: "2001:db8:99::/64"}}`,
			"spec.sourceAddress.cidr", "is IPv6 but the neighbour 172.22.0.2 is IPv4"},
		{"source CIDR with host bits", byBgpPeer, peer + `metadata: {name: host-bits}
spec: {conf: {peerAs: 50000, neighborAddress: 172.22.0.2}, sourceAddress: {cidr: 10.99.0.1/24}}`,
			"spec.sourceAddress.cidr", `did you mean "10.99.0.0/24"?`},
		{"source interface with a slash", byBgpPeer, peer + `metadata: {name: slash-iface}
spec: {conf: {peerAs: 50000, neighborAddress: 172.22.0.2}, sourceAddress: {interface: eth0/1}}`,
			"spec.sourceAddress.interface", "not a Linux interface name"},
		{"bfd with multihop", byBgpPeer, peer + `metadata: {name: bfd-multihop}
spec: {conf: {peerAs: 50000, neighborAddress: 172.22.0.2}, ebgpMultihop: {enabled: true, multihopTtl: 3}, bfd: {enabled: true}}`,
			"spec.bfd.enabled", "Herald's BFD is single hop (RFC 5881)"},
		{"bfd interval below 10ms", byBgpPeer, peer + `metadata: {name: bfd-fast}
spec: {conf: {peerAs: 50000, neighborAddress: 172.22.0.2}, bfd: {enabled: true, transmitInterval: 5ms}}`,
			"spec.bfd.transmitInterval", "want whole milliseconds from 10ms to 60s"},
		{"bfd multiplier 1", bySchema, peer + `metadata: {name: bfd-mult-1}
spec: {conf: {peerAs: 50000, neighborAddress: 172.22.0.2}, bfd: {enabled: true, detectMultiplier: 1}}`,
			"spec.bfd.detectMultiplier", "greater than or equal to 2"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := c.Create(ctx, manifest(t, tt.manifest))
			if err == nil {
				t.Fatal("admitted; want it refused")
			}
			var status *apierrors.StatusError
			if !errors.As(err, &status) || !apierrors.IsInvalid(err) {
				t.Fatalf("refused with %v; want a 422 Invalid status", err)
			}
			fromWebhook := strings.Contains(err.Error(), "admission webhook")
			switch {
			case tt.by == bySchema && fromWebhook:
				t.Errorf("refused by a webhook, want the CRD schema: %v", err)
			case tt.by != bySchema && !strings.Contains(err.Error(), tt.by):
				t.Errorf("refused by someone else than %s: %v", tt.by, err)
			}
			var causes []string
			for _, cause := range status.ErrStatus.Details.Causes {
				if cause.Field == tt.field && strings.Contains(cause.Message, tt.phrase) {
					return
				}
				causes = append(causes, cause.Field+": "+cause.Message)
			}
			t.Errorf("no cause at %s containing %q; causes:\n  %s", tt.field, tt.phrase, strings.Join(causes, "\n  "))
		})
	}
	if len(tests) < 30 {
		t.Errorf("only %d bad manifests; the suite promises at least 30", len(tests))
	}
}
