package speaker

import (
	"context"
	"testing"

	"github.com/go-logr/logr/testr"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/herald-lb/herald/api/v1alpha2"
)

// TestBGPStatusClearsFields: bfdState and lastError, once written, go
// away from the API object when they become empty (BFD turned off, the
// session recovered); a merge patch that only omitted them would keep
// them for ever.
func TestBGPStatusClearsFields(t *testing.T) {
	ctx := context.Background()
	peer := &v1alpha2.BgpPeer{ObjectMeta: metav1.ObjectMeta{Name: "clear-peer"}, Spec: v1alpha2.BgpPeerSpec{
		Conf: &v1alpha2.PeerConf{NeighborAddress: "10.98.1.1", PeerAs: 64512},
	}}
	create(t, peer)
	t.Cleanup(func() { deleteAndWait(t, &v1alpha2.BgpPeer{ObjectMeta: metav1.ObjectMeta{Name: "clear-peer"}}) })
	w := &BGPStatusWriter{Node: "clear-node", Client: env.Client, Log: testr.New(t)}
	w.Init()
	write := func(st v1alpha2.PeerState) v1alpha2.PeerState {
		t.Helper()
		entry := &v1alpha2.NodePeerStatus{PeerState: st}
		if err := w.patchStatus(ctx, peer, "nodesPeerStatus", entry, map[string]bool{}); err != nil {
			t.Fatal(err)
		}
		var got v1alpha2.BgpPeer
		if err := env.Client.Get(ctx, client.ObjectKeyFromObject(peer), &got); err != nil {
			t.Fatal(err)
		}
		return got.Status.NodesPeerStatus["clear-node"].PeerState
	}
	got := write(v1alpha2.PeerState{SessionState: "ACTIVE", BfdState: "Up", LastError: "connection refused"})
	if got.BfdState != "Up" || got.LastError != "connection refused" {
		t.Fatalf("first write: %+v", got)
	}
	got = write(v1alpha2.PeerState{SessionState: "ESTABLISHED"})
	if got.BfdState != "" || got.LastError != "" || got.SessionState != "ESTABLISHED" {
		t.Errorf("second write left %+v; want bfdState and lastError gone", got)
	}
}
