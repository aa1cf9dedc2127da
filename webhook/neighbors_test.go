package webhook_test

import (
	"context"
	"errors"
	"strings"
	"testing"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/herald-lb/herald/api/v1alpha2"
)

// TestDuplicateNeighbors applies BgpPeers that would give some node a
// second session to a neighbour another BgpPeer already peers with, where
// the selectors alone prove it, and checks that each is refused naming the
// BgpPeer that is already there and saying how to fix it; BgpPeers whose
// selectors differ are admitted (the controller settles those per node).
func TestDuplicateNeighbors(t *testing.T) {
	ctx := context.Background()
	c, _ := userClient(t)
	const peer = "apiVersion: network.kubesphere.io/v1alpha2\nkind: BgpPeer\n"
	for _, fixture := range []string{
		peer + `metadata: {name: tor-everywhere}
spec: {conf: {peerAs: 64512, neighborAddress: 10.61.0.1}}`,
		peer + `metadata: {name: tor-rack-a}
spec:
  conf: {peerAs: 64512, neighborAddress: "2001:db8:61::1"}
  nodeSelector: {matchLabels: {rack: a}}`,
	} {
		obj := manifest(t, fixture)
		if err := c.Create(ctx, obj); err != nil {
			t.Fatalf("create the BgpPeer the checks run against: %v", err)
		}
		deleteAfter(t, obj)
	}

	refused := []struct {
		name, manifest, other string
	}{
		{"both selectors empty", peer + `metadata: {name: dup-both-empty}
spec: {conf: {peerAs: 64513, neighborAddress: 10.61.0.1}}`, "tor-everywhere"},
		{"the existing one's selector empty", peer + `metadata: {name: dup-existing-empty}
spec:
  conf: {peerAs: 64512, neighborAddress: 10.61.0.1}
  nodeSelector: {matchLabels: {rack: b}}`, "tor-everywhere"},
		{"the new one's selector empty, IPv6 written another way", peer + `metadata: {name: dup-new-empty}
spec: {conf: {peerAs: 64512, neighborAddress: "2001:DB8:61:0:0::1"}}`, "tor-rack-a"},
		{"identical selectors, written differently", peer + `metadata: {name: dup-identical}
spec:
  conf: {peerAs: 64512, neighborAddress: "2001:db8:61::1"}
  nodeSelector: {matchExpressions: [{key: rack, operator: In, values: [a]}]}`, "tor-rack-a"},
	}
	for _, tt := range refused {
		t.Run(tt.name, func(t *testing.T) {
			obj := manifest(t, tt.manifest)
			err := c.Create(ctx, obj)
			if err == nil {
				deleteAfter(t, obj)
				t.Fatal("admitted; want it refused")
			}
			checkDuplicate(t, err, tt.other)
		})
	}

	// Disjoint selectors: admitted.
	disjoint := manifest(t, peer+`metadata: {name: tor-rack-b}
spec:
  conf: {peerAs: 64512, neighborAddress: "2001:db8:61::1"}
  nodeSelector: {matchLabels: {rack: b}}`)
	if err := c.Create(ctx, disjoint); err != nil {
		t.Fatalf("BgpPeer with a selector disjoint from tor-rack-a's refused: %v", err)
	}
	deleteAfter(t, disjoint)

	// Editing it: a timer change passes; the edit that makes the overlap
	// provable (dropping the selector) is refused.
	edited := &v1alpha2.BgpPeer{ObjectMeta: metav1.ObjectMeta{Name: "tor-rack-b"}}
	if err := c.Patch(ctx, edited, client.RawPatch(types.MergePatchType,
		[]byte(`{"spec":{"timers":{"config":{"holdTime":"90"}}}}`))); err != nil {
		t.Errorf("timer edit refused: %v", err)
	}
	err := c.Patch(ctx, edited, client.RawPatch(types.MergePatchType,
		[]byte(`{"spec":{"nodeSelector":null}}`)))
	if err == nil {
		t.Fatal("removing tor-rack-b's node selector admitted; want it refused")
	}
	checkDuplicate(t, err, "tor-rack-a")
}

// checkDuplicate checks that err is the webhook's refusal of a duplicate
// neighbour naming the other BgpPeer and the way out.
func checkDuplicate(t *testing.T, err error, other string) {
	t.Helper()
	var status *apierrors.StatusError
	if !errors.As(err, &status) || !apierrors.IsInvalid(err) || !strings.Contains(err.Error(), byBgpPeer) {
		t.Fatalf("refused with %v; want a 422 Invalid from the BgpPeer webhook", err)
	}
	var causes []string
	for _, cause := range status.ErrStatus.Details.Causes {
		if cause.Field == "spec.conf.neighborAddress" && strings.Contains(cause.Message, `BgpPeer "`+other+`" already peers`) &&
			strings.Contains(cause.Message, "give the BgpPeers nodeSelectors that select disjoint nodes, or merge them") {
			return
		}
		causes = append(causes, cause.Field+": "+cause.Message)
	}
	t.Errorf("no cause at spec.conf.neighborAddress naming BgpPeer %q and the fix; causes:\n  %s", other, strings.Join(causes, "\n  "))
}
