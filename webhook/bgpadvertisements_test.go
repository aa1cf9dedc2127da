package webhook_test

import (
	"context"
	"errors"
	"strings"
	"testing"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/herald-lb/herald/api/v1alpha2"
)

// refusedAt fails the test unless err is a 422 whose causes include one at
// field with a message containing phrase, as kubectl would print it.
func refusedAt(t *testing.T, err error, by, field, phrase string) {
	t.Helper()
	var status *apierrors.StatusError
	if err == nil || !errors.As(err, &status) || !apierrors.IsInvalid(err) {
		t.Fatalf("got %v; want a 422 Invalid status", err)
	}
	if !strings.Contains(err.Error(), by) {
		t.Errorf("refused by someone else than %s: %v", by, err)
	}
	for _, cause := range status.ErrStatus.Details.Causes {
		if cause.Field == field && strings.Contains(cause.Message, phrase) {
			return
		}
	}
	t.Errorf("no cause at %s containing %q: %v", field, phrase, err)
}

// oneWarning fails the test unless got is one warning containing phrase.
func oneWarning(t *testing.T, got []string, phrase string) {
	t.Helper()
	if len(got) != 1 || !strings.Contains(got[0], phrase) {
		t.Errorf("warnings %q; want one containing %q", got, phrase)
	}
}

// TestBgpAdvertisementsAgainstBgpObjects applies an Eip's
// bgpAdvertisements next to a BgpConf with community aliases and an iBGP
// and an eBGP BgpPeer: an unknown alias is refused and the refusal says
// where aliases live; a localPref that reaches the eBGP peer and a peer
// name that does not exist are admitted with warnings; and the BgpConf
// cannot drop an alias an Eip still uses.
func TestBgpAdvertisementsAgainstBgpObjects(t *testing.T) {
	ctx := context.Background()
	c, warnings := userClient(t)
	for _, m := range []string{`
apiVersion: network.kubesphere.io/v1alpha2
kind: BgpConf
metadata: {name: default}
spec:
  as: 64512
  communities: [{name: upstream-only, value: "64512:100"}, {name: keep-local, value: "65535:65281"}]`, `
apiVersion: network.kubesphere.io/v1alpha2
kind: BgpPeer
metadata: {name: adv-ibgp, labels: {role: rr}}
spec: {conf: {peerAs: 64512, neighborAddress: 172.40.0.1}}`, `
apiVersion: network.kubesphere.io/v1alpha2
kind: BgpPeer
metadata: {name: adv-ebgp, labels: {role: tor}}
spec: {conf: {peerAs: 65000, neighborAddress: 172.40.0.2}}`} {
		obj := manifest(t, m)
		if err := c.Create(ctx, obj); err != nil {
			t.Fatal(err)
		}
		deleteAfter(t, obj)
	}
	warnings.take()

	// An alias BgpConf does not define.
	err := c.Create(ctx, manifest(t, `
apiVersion: network.kubesphere.io/v1alpha2
kind: Eip
metadata: {name: adv-unknown-alias}
spec: {address: 10.41.0.0/24, bgpAdvertisements: [{communities: [upstream-only, upstream]}]}`))
	refusedAt(t, err, byEip, "spec.bgpAdvertisements[0].communities[1]",
		`is neither a community (65535:65282, large:64512:1:2), a well-known name (no-export, no-advertise, ...) nor an alias: `+
			`aliases are defined in BgpConf default's spec.communities (defined now: "keep-local", "upstream-only"); add {name: upstream, value: <community>} there first`)

	// localPref to the iBGP peer only: no warning.
	ibgp := manifest(t, `
apiVersion: network.kubesphere.io/v1alpha2
kind: Eip
metadata: {name: adv-ibgp-pref}
spec: {address: 10.41.1.0/24, bgpAdvertisements: [{localPref: 200, peerSelector: {matchLabels: {role: rr}}, communities: [keep-local]}]}`)
	if err := c.Create(ctx, ibgp); err != nil {
		t.Fatalf("refused: %v", err)
	}
	deleteAfter(t, ibgp)
	if got := warnings.take(); len(got) > 0 {
		t.Errorf("localPref to an iBGP peer: unexpected warnings %q", got)
	}

	// localPref to every peer, the eBGP one included, and a peer that
	// does not exist yet: admitted, with a warning each.
	eip := manifest(t, `
apiVersion: network.kubesphere.io/v1alpha2
kind: Eip
metadata: {name: adv-ebgp-pref}
spec:
  address: 10.41.2.0/24
  bgpAdvertisements:
  - {aggregationLength: 24, localPref: 100, communities: [upstream-only, no-export, "large:64512:1:2"]}
  - {peers: [adv-ibgp, tor-later]}`)
	if err := c.Create(ctx, eip); err != nil {
		t.Fatalf("refused: %v", err)
	}
	deleteAfter(t, eip)
	got := warnings.take()
	want := []string{
		`spec.bgpAdvertisements[0].localPref: LOCAL_PREF is only sent to iBGP peers, and this advertisement reaches eBGP peer(s) "adv-ebgp"`,
		`spec.bgpAdvertisements[1].peers: no BgpPeer is called "tor-later" (yet)`,
	}
	if len(got) != len(want) {
		t.Fatalf("warnings %q; want %d", got, len(want))
	}
	for i := range want {
		if !strings.Contains(got[i], want[i]) {
			t.Errorf("warning %d = %q; want it to contain %q", i, got[i], want[i])
		}
	}

	// BgpConf: dropping upstream-only, which adv-ebgp-pref uses, is refused;
	// changing its value is not.
	conf := &v1alpha2.BgpConf{}
	patch := func(p string) error {
		return c.Patch(ctx, conf, client.RawPatch(types.MergePatchType, []byte(p)))
	}
	if err := c.Get(ctx, client.ObjectKey{Name: "default"}, conf); err != nil {
		t.Fatal(err)
	}
	err = patch(`{"spec":{"communities":[{"name":"keep-local","value":"65535:65281"},{"name":"upstream","value":"64512:100"}]}}`)
	refusedAt(t, err, byBgpConf, "spec.communities",
		`alias "upstream-only" is still used by Eip "adv-ebgp-pref" (spec.bgpAdvertisements[0].communities[0]); remove it from their spec.bgpAdvertisements[].communities first`)
	if err := patch(`{"spec":{"communities":[{"name":"keep-local","value":"65535:65281"},{"name":"upstream-only","value":"64512:200"}]}}`); err != nil {
		t.Errorf("changing an alias's value: %v", err)
	}
	err = patch(`{"spec":{"communities":[{"name":"no-export","value":"64512:1"}]}}`)
	refusedAt(t, err, byBgpConf, "spec.communities[0].name", "is a well-known community name")
}

// TestAvoidBuggyIPsInUse: turning avoidBuggyIPs on while a .0 address is
// in use is admitted with a warning that the address stays where it is.
func TestAvoidBuggyIPsInUse(t *testing.T) {
	ctx := context.Background()
	c, warnings := userClient(t)
	pool := &v1alpha2.Eip{}
	pool.Name = "buggy-in-use"
	pool.Spec = v1alpha2.EipSpec{Address: "10.42.0.0/24"}
	if err := c.Create(ctx, pool); err != nil {
		t.Fatal(err)
	}
	deleteAfter(t, pool)
	pool.Status.Used = map[string]string{"10.42.0.0": "default/web", "10.42.0.7": "default/api"}
	if err := c.Status().Update(ctx, pool); err != nil {
		t.Fatal(err)
	}
	warnings.take()
	if err := c.Patch(ctx, pool, client.RawPatch(types.MergePatchType, []byte(`{"spec":{"avoidBuggyIPs":true}}`))); err != nil {
		t.Fatalf("refused: %v", err)
	}
	oneWarning(t, warnings.take(), "spec.avoidBuggyIPs: 1 address(es) ending in .0 or .255 are in use (10.42.0.0); each stays with its Service until released")
}
