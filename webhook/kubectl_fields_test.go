package webhook_test

import (
	"strings"
	"testing"
)

// TestKubectlIssue13Output runs the real kubectl against the suite: the
// words a MetalLB migrant sees for an unknown community alias, a foreign
// aggregate, a localPref an eBGP peer never gets, BFD beside multihop, a
// source address with both rules and a source CIDR of the wrong family.
func TestKubectlIssue13Output(t *testing.T) {
	run := kubectl(t)
	setup := `
apiVersion: network.kubesphere.io/v1alpha2
kind: BgpConf
metadata: {name: default}
spec: {as: 64512, communities: [{name: upstream-only, value: "64512:100"}]}
---
apiVersion: network.kubesphere.io/v1alpha2
kind: BgpPeer
metadata: {name: kubectl-tor}
spec: {conf: {peerAs: 65000, neighborAddress: 172.44.0.1}}`
	if out, err := run(setup, "apply", "-f", "-"); err != nil {
		t.Fatalf("kubectl apply of the BgpConf and BgpPeer: %v\n%s", err, out)
	}
	t.Cleanup(func() {
		if out, err := run(setup, "delete", "-f", "-"); err != nil {
			t.Errorf("kubectl delete: %v\n%s", err, out)
		}
	})

	refused := []struct{ name, manifest, want string }{
		{"unknown alias", `
apiVersion: network.kubesphere.io/v1alpha2
kind: Eip
metadata: {name: kubectl-alias}
spec: {address: 10.45.0.0/24, bgpAdvertisements: [{communities: [upstream]}]}`,
			`The Eip "kubectl-alias" is invalid: spec.bgpAdvertisements[0].communities[0]: Invalid value: "upstream": is neither a community`},
		{"foreign aggregate", `
apiVersion: network.kubesphere.io/v1alpha2
kind: Eip
metadata: {name: kubectl-aggregate}
spec: {address: 10.45.1.10-10.45.1.20, bgpAdvertisements: [{aggregationLength: 24}]}`,
			`spec.bgpAdvertisements[0].aggregationLength: Invalid value: 24: would announce 10.45.1.0/24, which holds addresses outside the Eip (10.45.1.10-10.45.1.20); set allowForeignAggregate: true if you own the whole prefix`},
		{"bfd with multihop", `
apiVersion: network.kubesphere.io/v1alpha2
kind: BgpPeer
metadata: {name: kubectl-bfd}
spec: {conf: {peerAs: 65000, neighborAddress: 172.44.0.2}, ebgpMultihop: {enabled: true, multihopTtl: 2}, bfd: {enabled: true}}`,
			`The BgpPeer "kubectl-bfd" is invalid: spec.bfd.enabled: Forbidden: Herald's BFD is single hop (RFC 5881) and cannot run beside ebgpMultihop`},
		{"source address with both rules", `
apiVersion: network.kubesphere.io/v1alpha2
kind: BgpPeer
metadata: {name: kubectl-source}
spec: {conf: {peerAs: 65000, neighborAddress: 172.44.0.3}, sourceAddress: {interface: eth1, cidr: 172.44.0.0/24}}`,
			`spec.sourceAddress: Forbidden: set either interface (eth1) or cidr (172.44.0.0/24), not both`},
		{"source CIDR of the other family", `
apiVersion: network.kubesphere.io/v1alpha2
kind: BgpPeer
metadata: {name: kubectl-family}
spec: {conf: {peerAs: 65000, neighborAddress: "2001:db8:44::1"}, sourceAddress: {cidr: 172.44.0.0/24}}`,
			`spec.sourceAddress.cidr: Invalid value: "172.44.0.0/24": is IPv4 but the neighbour 2001:db8:44::1 is IPv6`},
	}
	for _, tt := range refused {
		out, err := run(tt.manifest, "apply", "-f", "-")
		if err == nil {
			t.Errorf("%s: kubectl apply succeeded:\n%s", tt.name, out)
			continue
		}
		t.Logf("%s:\n%s", tt.name, out)
		if !strings.Contains(out, tt.want) {
			t.Errorf("%s: kubectl printed:\n%s\nwant it to contain:\n%s", tt.name, out, tt.want)
		}
	}

	eip := `
apiVersion: network.kubesphere.io/v1alpha2
kind: Eip
metadata: {name: kubectl-localpref}
spec: {address: 10.45.2.0/24, bgpAdvertisements: [{localPref: 100, communities: [upstream-only]}]}`
	out, err := run(eip, "apply", "-f", "-")
	if err != nil {
		t.Fatalf("kubectl apply of an Eip with localPref: %v\n%s", err, out)
	}
	t.Cleanup(func() {
		if out, err := run(eip, "delete", "-f", "-"); err != nil {
			t.Errorf("kubectl delete: %v\n%s", err, out)
		}
	})
	t.Logf("localPref to an eBGP peer:\n%s", out)
	const want = `Warning: spec.bgpAdvertisements[0].localPref: LOCAL_PREF is only sent to iBGP peers, and this advertisement reaches eBGP peer(s) "kubectl-tor"`
	if !strings.Contains(out, want) {
		t.Errorf("kubectl printed:\n%s\nwant it to contain:\n%s", out, want)
	}
}
