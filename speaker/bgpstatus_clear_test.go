package speaker

import (
	"context"
	"testing"

	"github.com/go-logr/logr/testr"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/herald-lb/herald/api/v1alpha2"
)

// TestBGPStatusClearsFields: fields once written go away from the API
// object when they become empty (bfdState when BFD is turned off,
// lastError when the session recovers, router ID and timers when it goes
// down); a merge patch that only omitted them would keep them for ever.
func TestBGPStatusClearsFields(t *testing.T) {
	ctx := context.Background()
	peer := &v1alpha2.BgpPeer{ObjectMeta: metav1.ObjectMeta{Name: "clear-peer"}, Spec: v1alpha2.BgpPeerSpec{
		Conf: &v1alpha2.PeerConf{NeighborAddress: "10.98.1.1", PeerAs: 64512},
	}}
	create(t, peer)
	t.Cleanup(func() { deleteAndWait(t, &v1alpha2.BgpPeer{ObjectMeta: metav1.ObjectMeta{Name: "clear-peer"}}) })
	w := &BGPStatusWriter{Node: "clear-node", Client: env.Client, Log: testr.New(t)}
	w.Init()
	write := func(st v1alpha2.PeerState, timers ...v1alpha2.TimersState) v1alpha2.NodePeerStatus {
		t.Helper()
		entry := &v1alpha2.NodePeerStatus{PeerState: st}
		if len(timers) > 0 {
			entry.TimersState = timers[0]
		}
		if err := w.patchStatus(ctx, peer, "nodesPeerStatus", entry, map[string]bool{}); err != nil {
			t.Fatal(err)
		}
		var got v1alpha2.BgpPeer
		if err := env.Client.Get(ctx, client.ObjectKeyFromObject(peer), &got); err != nil {
			t.Fatal(err)
		}
		return got.Status.NodesPeerStatus["clear-node"]
	}
	got := write(v1alpha2.PeerState{SessionState: "ACTIVE", BfdState: "Up", LastError: "connection refused"}).PeerState
	if got.BfdState != "Up" || got.LastError != "connection refused" {
		t.Fatalf("first write: %+v", got)
	}
	established := write(v1alpha2.PeerState{SessionState: "ESTABLISHED", RouterId: "10.0.0.1"},
		v1alpha2.TimersState{HoldTime: "90", Uptime: "2026-12-05T06:00:00Z"})
	if got := established.PeerState; got.BfdState != "" || got.LastError != "" || got.SessionState != "ESTABLISHED" {
		t.Errorf("second write left %+v; want bfdState and lastError gone", got)
	}
	// Down, and GoBGP re-created the neighbour: the router ID, the
	// negotiated hold time and the time of establishment go too.
	down := write(v1alpha2.PeerState{SessionState: "IDLE", AdminState: "DOWN"})
	if down.PeerState.RouterId != "" || down.TimersState != (v1alpha2.TimersState{}) {
		t.Errorf("third write left router ID %q, timers %+v; want them gone", down.PeerState.RouterId, down.TimersState)
	}
}
