package controllers

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/herald-lb/herald/api/v1alpha2"
	"github.com/herald-lb/herald/internal/testenv"
)

// TestBgpPeerShadowed gives two BgpPeers the same neighbour and different
// selectors that both match a node: the younger gets a condition and one
// Warning event naming the older and the node, while a speaker's merge
// patch of nodesPeerStatus and the condition leave each other alone.
// Relabelling the node so that only one selector matches clears it.
func TestBgpPeerShadowed(t *testing.T) {
	ctx := context.Background()
	startController(t, Options{})

	node := &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: "bgp-shadow-node", Labels: map[string]string{"rack": "a", "bgp": "enabled"}}}
	if err := env.Client.Create(ctx, node); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = env.Client.Delete(ctx, node) })
	createPeer := func(name string, selector map[string]string) {
		t.Helper()
		p := &v1alpha2.BgpPeer{
			ObjectMeta: metav1.ObjectMeta{Name: name},
			Spec: v1alpha2.BgpPeerSpec{
				Conf:         &v1alpha2.PeerConf{NeighborAddress: "2001:db8:62::1", PeerAs: 64512},
				NodeSelector: &metav1.LabelSelector{MatchLabels: selector},
			},
		}
		if err := env.Client.Create(ctx, p); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() {
			if err := env.Client.Delete(ctx, p); err != nil && !apierrors.IsNotFound(err) {
				t.Errorf("delete bgppeer %s: %v", name, err)
			}
		})
	}
	// "shadow-a-young" sorts first by name: age must decide, not the name.
	createPeer("shadow-z-old", map[string]string{"rack": "a"})
	// A speaker has already written its view of the younger one.
	speakerWrites(t, "shadow-z-old", "bgp-shadow-node", "ESTABLISHED")
	// creationTimestamp counts whole seconds: let the next one begin.
	var old v1alpha2.BgpPeer
	if err := env.Client.Get(ctx, client.ObjectKey{Name: "shadow-z-old"}, &old); err != nil {
		t.Fatal(err)
	}
	testenv.Eventually(t, 5*time.Second, func() error {
		if next := old.CreationTimestamp.Add(time.Second); time.Now().Before(next) {
			return fmt.Errorf("waiting for %s", next)
		}
		return nil
	})
	createPeer("shadow-a-young", map[string]string{"bgp": "enabled"})
	speakerWrites(t, "shadow-a-young", "bgp-shadow-node", "NOT_RUNNING")

	testenv.Eventually(t, 10*time.Second, func() error {
		c, err := shadowCondition(ctx, "shadow-a-young")
		if err != nil {
			return err
		}
		if c == nil || c.Status != metav1.ConditionTrue || c.Reason != ReasonOlderPeerWins ||
			!strings.Contains(c.Message, `older BgpPeer "shadow-z-old"`) || !strings.Contains(c.Message, "1 node(s): bgp-shadow-node") {
			return fmt.Errorf("shadow-a-young: condition %+v; want True naming shadow-z-old and bgp-shadow-node", c)
		}
		return nil
	})
	if c, err := shadowCondition(ctx, "shadow-z-old"); err != nil || c != nil {
		t.Errorf("the older BgpPeer: condition %+v (%v); want none", c, err)
	}
	testenv.Eventually(t, 10*time.Second, func() error {
		notes := peerEvents(t, "shadow-a-young", ReasonOlderPeerWins)
		if len(notes) != 1 || !strings.HasPrefix(notes[0], corev1.EventTypeWarning+": ") ||
			!strings.Contains(notes[0], `BgpPeer "shadow-a-young" and BgpPeer "shadow-z-old"`) {
			return fmt.Errorf("events %q; want one Warning naming both BgpPeers", notes)
		}
		return nil
	})

	// A second node where both match: the condition names both nodes,
	// the event is not repeated (the same BgpPeer still wins).
	node2 := &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: "bgp-shadow-node2", Labels: map[string]string{"rack": "a", "bgp": "enabled"}}}
	if err := env.Client.Create(ctx, node2); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = env.Client.Delete(ctx, node2) })
	testenv.Eventually(t, 10*time.Second, func() error {
		c, err := shadowCondition(ctx, "shadow-a-young")
		if err != nil {
			return err
		}
		if c == nil || !strings.Contains(c.Message, "2 node(s): bgp-shadow-node, bgp-shadow-node2") {
			return fmt.Errorf("shadow-a-young: condition %+v; want it to name both nodes", c)
		}
		return nil
	})
	if notes := peerEvents(t, "shadow-a-young", ReasonOlderPeerWins); len(notes) != 1 {
		t.Errorf("events %q after a second node; want still the one", notes)
	}

	// The speaker's entry survived the condition, and the condition
	// survives the speaker's next write.
	speakerWrites(t, "shadow-a-young", "bgp-shadow-node", "NOT_RUNNING")
	var p v1alpha2.BgpPeer
	if err := env.Client.Get(ctx, client.ObjectKey{Name: "shadow-a-young"}, &p); err != nil {
		t.Fatal(err)
	}
	if _, ok := p.Status.NodesPeerStatus["bgp-shadow-node"]; !ok || meta.FindStatusCondition(p.Status.Conditions, ConditionNeighborShadowed) == nil {
		t.Errorf("status %+v; want both the speaker's entry and the condition", p.Status)
	}

	// Only one selector matches now: the condition goes, the speaker's
	// entry stays, and no second event is recorded.
	for _, n := range []*corev1.Node{node, node2} {
		if err := env.Client.Patch(ctx, n, client.RawPatch(types.MergePatchType, []byte(`{"metadata":{"labels":{"bgp":null}}}`))); err != nil {
			t.Fatal(err)
		}
	}
	testenv.Eventually(t, 10*time.Second, func() error {
		if err := env.Client.Get(ctx, client.ObjectKey{Name: "shadow-a-young"}, &p); err != nil {
			return err
		}
		if c := meta.FindStatusCondition(p.Status.Conditions, ConditionNeighborShadowed); c != nil {
			return fmt.Errorf("condition %+v still there after relabelling", c)
		}
		return nil
	})
	if _, ok := p.Status.NodesPeerStatus["bgp-shadow-node"]; !ok {
		t.Errorf("nodesPeerStatus %+v; the speaker's entry was wiped", p.Status.NodesPeerStatus)
	}
	if notes := peerEvents(t, "shadow-a-young", ReasonOlderPeerWins); len(notes) != 1 {
		t.Errorf("events %q; want still the one", notes)
	}
}

// speakerWrites merge-patches one node's entry into a BgpPeer's
// nodesPeerStatus, as speaker/bgpstatus.go does.
func speakerWrites(t *testing.T, peer, node, state string) {
	t.Helper()
	body := fmt.Sprintf(`{"status":{"nodesPeerStatus":{%q:{"peerState":{"sessionState":%q}}}}}`, node, state)
	p := &v1alpha2.BgpPeer{ObjectMeta: metav1.ObjectMeta{Name: peer}}
	if err := env.Client.Status().Patch(context.Background(), p, client.RawPatch(types.MergePatchType, []byte(body))); err != nil {
		t.Fatalf("speaker status write on %s: %v", peer, err)
	}
}

func shadowCondition(ctx context.Context, peer string) (*metav1.Condition, error) {
	var p v1alpha2.BgpPeer
	if err := env.Client.Get(ctx, client.ObjectKey{Name: peer}, &p); err != nil {
		return nil, err
	}
	return meta.FindStatusCondition(p.Status.Conditions, ConditionNeighborShadowed), nil
}

// peerEvents returns the notes of the events with this reason on a
// BgpPeer, one per occurrence, as eipEvents does for Eips; only those of
// the BgpPeer that has this name now, not of an earlier one (-count).
func peerEvents(t *testing.T, peer, reason string) []string {
	t.Helper()
	var p v1alpha2.BgpPeer
	if err := env.Client.Get(context.Background(), client.ObjectKey{Name: peer}, &p); err != nil {
		t.Fatal(err)
	}
	var list corev1.EventList
	if err := env.Client.List(context.Background(), &list, client.InNamespace(metav1.NamespaceDefault)); err != nil {
		t.Fatal(err)
	}
	var notes []string
	for _, e := range list.Items {
		if e.InvolvedObject.Kind != "BgpPeer" || e.InvolvedObject.UID != p.UID || e.Reason != reason {
			continue
		}
		n := 1
		if e.Series != nil {
			n += int(e.Series.Count)
		}
		for range n {
			notes = append(notes, e.Type+": "+e.Message)
		}
	}
	return notes
}

// TestShadowMessage checks the aggregation over nodes: two older BgpPeers
// each winning on some nodes, the node list cut after a few, and a
// BgpPeer with a neighbour of its own left alone.
func TestShadowMessage(t *testing.T) {
	t0 := time.Date(2026, 12, 1, 12, 0, 0, 0, time.UTC)
	peer := func(name string, minute int, neighbor, label string) v1alpha2.BgpPeer {
		return v1alpha2.BgpPeer{
			ObjectMeta: metav1.ObjectMeta{Name: name, CreationTimestamp: metav1.NewTime(t0.Add(time.Duration(minute) * time.Minute))},
			Spec: v1alpha2.BgpPeerSpec{
				Conf:         &v1alpha2.PeerConf{NeighborAddress: neighbor, PeerAs: 64512},
				NodeSelector: &metav1.LabelSelector{MatchLabels: map[string]string{label: "yes"}},
			},
		}
	}
	peers := []v1alpha2.BgpPeer{
		peer("young", 9, "10.0.0.1", "all"),
		peer("old-a", 1, "10.0.0.1", "a"),
		peer("old-b", 2, "10.0.0.1", "b"),
		peer("alone", 0, "10.0.0.2", "all"),
	}
	var nodes []metav1.PartialObjectMetadata
	for i := range 8 {
		rack := "a"
		if i == 7 {
			rack = "b"
		}
		nodes = append(nodes, metav1.PartialObjectMetadata{ObjectMeta: metav1.ObjectMeta{
			Name: fmt.Sprintf("n%d", i), Labels: map[string]string{"all": "yes", rack: "yes"}}})
	}
	got := shadowsByPeer(peers, nodes)
	if len(got) != 1 || got["young"] == nil {
		t.Fatalf("shadowed %v; want only young", got)
	}
	want := `neighbour 10.0.0.1: the older BgpPeer "old-a" peers with it instead on 7 node(s): n0, n1, n2, n3, n4 and 2 more; ` +
		`the older BgpPeer "old-b" peers with it instead on 1 node(s): n7; a node keeps one session per neighbour, so this BgpPeer runs none there. ` +
		`Give the BgpPeers nodeSelectors that select disjoint nodes, or merge them into one BgpPeer`
	if diff := cmp.Diff(want, got["young"].message()); diff != "" {
		t.Errorf("message (-want +got):\n%s", diff)
	}
}
