package webhook_test

import (
	"context"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/herald-lb/herald/api/v1alpha2"
)

// TestAccepted applies OpenELB's own samples, unchanged, and Herald's
// additions, and checks the warnings each one brings back.
func TestAccepted(t *testing.T) {
	tests := []struct {
		name     string
		manifest string
		warning  string // a phrase of the one warning expected; "" for none
	}{{
		name: "OpenELB's Eip sample",
		manifest: `
apiVersion: network.kubesphere.io/v1alpha2
kind: Eip
metadata: {name: eip-sample}
spec: {address: 139.198.121.228}`,
	}, {
		name: "OpenELB's layer2 Eip sample",
		manifest: `
apiVersion: network.kubesphere.io/v1alpha2
kind: Eip
metadata: {name: eip-layer2-sample}
spec: {address: 172.22.0.188-172.22.0.200, protocol: layer2, interface: eth0}`,
	}, {
		name: "an IPv6 vip pool found by can_reach",
		manifest: `
apiVersion: network.kubesphere.io/v1alpha2
kind: Eip
metadata: {name: eip-v6}
spec: {address: "2001:db8:1::/120", protocol: vip, interface: "can_reach:2001:db8::1", namespaces: [web]}`,
		warning: "this vip Eip holds 256 addresses but the VRID range (1-100, no exclusions) gives 100 VRIDs per address family: at most 100",
	}, {
		name: "OpenELB users' /24 vip pool: admitted, with a warning on the VRID range the suite sets (1-100)",
		manifest: `
apiVersion: network.kubesphere.io/v1alpha2
kind: Eip
metadata: {name: eip-vip-24}
spec: {address: 172.22.1.0/24, protocol: vip, interface: eth0}`,
		warning: "this vip Eip holds 256 addresses but the VRID range (1-100, no exclusions) gives 100 VRIDs per address family: at most 100 of its addresses can be served at once",
	}, {
		name: "a small vip pool: no warning",
		manifest: `
apiVersion: network.kubesphere.io/v1alpha2
kind: Eip
metadata: {name: eip-vip-small}
spec: {address: 172.22.2.0/28, protocol: vip, interface: eth0}`,
	}, {
		name: "a /24 bgp pool: no VRIDs, no warning",
		manifest: `
apiVersion: network.kubesphere.io/v1alpha2
kind: Eip
metadata: {name: eip-bgp-24}
spec: {address: 172.22.3.0/24}`,
	}, {
		name: "OpenELB's BgpConf sample: admitted, with the routerId warning",
		manifest: `
apiVersion: network.kubesphere.io/v1alpha2
kind: BgpConf
metadata: {name: default}
spec: {as: 50001, listenPort: 17900, routerId: 172.22.0.10}`,
		warning: "spec.routerId: every node will use 172.22.0.10 as its BGP router ID",
	}, {
		name: "OpenELB's BgpPeer sample",
		manifest: `
apiVersion: network.kubesphere.io/v1alpha2
kind: BgpPeer
metadata: {name: bgppeer-sample}
spec: {conf: {peerAs: 50000, neighborAddress: 172.22.0.2}}`,
	}, {
		name: "OpenELB's timers, as strings",
		manifest: `
apiVersion: network.kubesphere.io/v1alpha2
kind: BgpPeer
metadata: {name: bgppeer-timers}
spec:
  conf: {peerAs: 50000, neighborAddress: 172.22.0.3}
  timers: {config: {holdTime: "90", keepaliveInterval: "30"}}
  afiSafis: [{config: {family: {afi: AFI_IP, safi: SAFI_UNICAST}, enabled: true}, addPaths: {config: {sendMax: 10}}}]`,
	}, {
		name: "a 4-byte AS",
		manifest: `
apiVersion: network.kubesphere.io/v1alpha2
kind: BgpPeer
metadata: {name: bgppeer-4byte}
spec: {conf: {peerAs: 4200000000, localAs: 4200000001, neighborAddress: "2001:db8::2"}}`,
	}, {
		name: "a BgpConf with 4-byte ASes and no routerId: no warning",
		manifest: `
apiVersion: network.kubesphere.io/v1alpha2
kind: BgpConf
metadata: {name: default}
spec: {as: 4200000000, listenPort: 17900, asPerRack: {rack-a: 4200000001}}`,
	}, {
		name: "a BgpConf advertising Service ranges, dual-stack",
		manifest: `
apiVersion: network.kubesphere.io/v1alpha2
kind: BgpConf
metadata: {name: default}
spec:
  as: 64512
  serviceClusterIPs: [{cidr: 10.96.0.0/12}, {cidr: "fd00:96::/108"}]
  serviceExternalIPs: [{cidr: 192.0.2.0/24}]`,
	}, {
		name: "a plaintext password: admitted, with a warning",
		manifest: `
apiVersion: network.kubesphere.io/v1alpha2
kind: BgpPeer
metadata: {name: bgppeer-password}
spec: {conf: {peerAs: 50000, neighborAddress: 172.22.0.4, authPassword: s3cret}}`,
		warning: "set spec.conf.authPasswordSecretRef instead",
	}, {
		name: "a password from a Secret",
		manifest: `
apiVersion: network.kubesphere.io/v1alpha2
kind: BgpPeer
metadata: {name: bgppeer-secret}
spec: {conf: {peerAs: 50000, neighborAddress: 172.22.0.5, authPasswordSecretRef: {namespace: herald-system, name: bgp-auth}}}`,
	}, {
		name: "an Eip with issue 13's fields (no aliases: no BgpConf here)",
		manifest: `
apiVersion: network.kubesphere.io/v1alpha2
kind: Eip
metadata: {name: eip-metallb-fields}
spec:
  address: 172.22.5.0/24
  avoidBuggyIPs: true
  nodeSelector: {matchLabels: {bgp: "on"}}
  bgpAdvertisements:
  - {aggregationLength: 24, localPref: 100, communities: ["65535:65282", "large:64512:1:2", no-advertise]}
  - {peerSelector: {matchLabels: {role: tor}}, communities: [no-export]}`,
	}, {
		name: "an IPv4 length on an IPv6 pool: admitted, with a warning",
		manifest: `
apiVersion: network.kubesphere.io/v1alpha2
kind: Eip
metadata: {name: eip-v6-length}
spec: {address: "2001:db8:5::/120", bgpAdvertisements: [{aggregationLength: 24, aggregationLengthV6: 120}]}`,
		warning: "spec.bgpAdvertisements[0].aggregationLength: has no effect on IPv6 pools",
	}, {
		name: "avoidBuggyIPs on an IPv6 pool: admitted, with a warning",
		manifest: `
apiVersion: network.kubesphere.io/v1alpha2
kind: Eip
metadata: {name: eip-v6-buggy}
spec: {address: "2001:db8:6::/120", avoidBuggyIPs: true}`,
		warning: "spec.avoidBuggyIPs: has no effect on IPv6 pools",
	}, {
		name: "a BgpPeer with issue 13's fields",
		manifest: `
apiVersion: network.kubesphere.io/v1alpha2
kind: BgpPeer
metadata: {name: bgppeer-metallb-fields}
spec:
  conf: {peerAs: 50000, neighborAddress: 172.22.0.6}
  nodeSelectors: [{matchLabels: {rack: a}}, {matchExpressions: [{key: zone, operator: Exists}]}]
  sourceAddress: {cidr: 172.22.0.0/24}
  bfd: {enabled: true, transmitInterval: 300ms, receiveInterval: 300ms, detectMultiplier: 3}`,
	}, {
		name: "bfd settings while bfd is off: admitted, with a warning",
		manifest: `
apiVersion: network.kubesphere.io/v1alpha2
kind: BgpPeer
metadata: {name: bgppeer-bfd-off}
spec: {conf: {peerAs: 50000, neighborAddress: 172.22.0.7}, bfd: {enabled: false, detectMultiplier: 5}}`,
		warning: "have no effect while spec.bfd.enabled is false",
	}, {
		name: "a BgpConf with community aliases",
		manifest: `
apiVersion: network.kubesphere.io/v1alpha2
kind: BgpConf
metadata: {name: default}
spec: {as: 64512, communities: [{name: no-advertise-upstream, value: "65535:65282"}, {name: big, value: "large:64512:1:2"}]}`,
	}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, warnings := userClient(t)
			obj := manifest(t, tt.manifest)
			if err := c.Create(context.Background(), obj); err != nil {
				t.Fatalf("refused: %v", err)
			}
			deleteAfter(t, obj)
			got := warnings.take()
			switch {
			case tt.warning == "" && len(got) > 0:
				t.Errorf("unexpected warnings %q", got)
			case tt.warning != "" && (len(got) != 1 || !strings.Contains(got[0], tt.warning)):
				t.Errorf("warnings %q; want one containing %q", got, tt.warning)
			}
		})
	}
}

// TestDefaultProtocol checks that an Eip without a protocol reads back
// with the one the speakers use, on create and when an update removes it.
func TestDefaultProtocol(t *testing.T) {
	ctx := context.Background()
	c, _ := userClient(t)
	obj := manifest(t, `
apiVersion: network.kubesphere.io/v1alpha2
kind: Eip
metadata: {name: eip-no-protocol}
spec: {address: 10.77.0.0/28}`)
	if err := c.Create(ctx, obj); err != nil {
		t.Fatal(err)
	}
	deleteAfter(t, obj)
	protocol := func() string {
		t.Helper()
		var e v1alpha2.Eip
		if err := env.Client.Get(ctx, client.ObjectKey{Name: "eip-no-protocol"}, &e); err != nil {
			t.Fatal(err)
		}
		return e.Spec.Protocol
	}
	if diff := cmp.Diff(v1alpha2.ProtocolBGP, protocol()); diff != "" {
		t.Errorf("protocol after create (-want +got):\n%s", diff)
	}

	if err := c.Get(ctx, client.ObjectKeyFromObject(obj), obj); err != nil {
		t.Fatal(err)
	}
	unstructured.RemoveNestedField(obj.Object, "spec", "protocol")
	if err := c.Update(ctx, obj); err != nil {
		t.Fatalf("update without protocol: %v", err)
	}
	if diff := cmp.Diff(v1alpha2.ProtocolBGP, protocol()); diff != "" {
		t.Errorf("protocol after an update removed it (-want +got):\n%s", diff)
	}
}

// TestVIPEipGrowsPastVRIDRange: growing a vip Eip past the VRID range the
// suite sets (1-100) brings the warning; an edit of its labels does not.
func TestVIPEipGrowsPastVRIDRange(t *testing.T) {
	ctx := context.Background()
	c, warnings := userClient(t)
	obj := manifest(t, `
apiVersion: network.kubesphere.io/v1alpha2
kind: Eip
metadata: {name: eip-vip-grows}
spec: {address: 172.22.4.0/26, protocol: vip, interface: eth0}`)
	if err := c.Create(ctx, obj); err != nil {
		t.Fatalf("refused: %v", err)
	}
	deleteAfter(t, obj)
	if got := warnings.take(); len(got) > 0 {
		t.Errorf("64 addresses, 100 VRIDs: unexpected warnings %q", got)
	}
	patch := func(p string) []string {
		t.Helper()
		if err := c.Patch(ctx, obj, client.RawPatch(types.MergePatchType, []byte(p))); err != nil {
			t.Fatalf("patch %s refused: %v", p, err)
		}
		return warnings.take()
	}
	want := "this vip Eip holds 128 addresses but the VRID range (1-100, no exclusions) gives 100 VRIDs per address family"
	if got := patch(`{"spec":{"address":"172.22.4.0/25"}}`); len(got) != 1 || !strings.Contains(got[0], want) {
		t.Errorf("growing to a /25: warnings %q; want one containing %q", got, want)
	}
	if got := patch(`{"metadata":{"labels":{"team":"web"}}}`); len(got) > 0 {
		t.Errorf("a label edit: unexpected warnings %q", got)
	}
}
