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

// TestBGPStatusStateIgnoresRetries: what decides a write ignores the
// message counters, and the FSM state and downtime of a session that is
// retrying (GoBGP moves a refused session round ACTIVE, OPENSENT and IDLE
// on its own); it still tells established from not, a session not running
// at all, and a new reason.
func TestBGPStatusStateIgnoresRetries(t *testing.T) {
	entry := func(state, downtime, lastError string, keepalives string) *v1alpha2.NodePeerStatus {
		return &v1alpha2.NodePeerStatus{
			PeerState: v1alpha2.PeerState{SessionState: state, LastError: lastError, AdminState: "UP",
				Messages: &v1alpha2.Messages{Sent: &v1alpha2.Message{Keepalive: keepalives}}},
			TimersState: v1alpha2.TimersState{Downtime: downtime},
		}
	}
	state := func(e *v1alpha2.NodePeerStatus) string {
		t.Helper()
		s, err := statusState(e)
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	refused := "received NOTIFICATION OPEN Message Error/Bad Peer AS"
	base := state(entry("ACTIVE", "2026-12-05T06:00:00Z", refused, "3"))
	for _, same := range []*v1alpha2.NodePeerStatus{
		entry("OPENSENT", "2026-12-05T06:00:01Z", refused, "3"),
		entry("IDLE", "2026-12-05T06:00:02Z", refused, "4"),
		entry("ACTIVE", "2026-12-05T06:00:00Z", refused, "900"),
	} {
		if got := state(same); got != base {
			t.Errorf("%s/%s/keepalives %s differs from ACTIVE: %s vs %s", same.PeerState.SessionState, same.TimersState.Downtime,
				same.PeerState.Messages.Sent.Keepalive, got, base)
		}
	}
	for _, other := range []*v1alpha2.NodePeerStatus{
		entry("ESTABLISHED", "2026-12-05T06:00:00Z", refused, "3"),
		entry("NOT_RUNNING", "2026-12-05T06:00:00Z", refused, "3"),
		entry("ACTIVE", "2026-12-05T06:00:00Z", "cannot connect: connection refused", "3"),
	} {
		if state(other) == base {
			t.Errorf("%s with %q counts as the same state as ACTIVE with %q", other.PeerState.SessionState, other.PeerState.LastError, refused)
		}
	}
}
