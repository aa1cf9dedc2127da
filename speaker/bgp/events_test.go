package bgp

import (
	"context"
	"net/netip"
	"testing"
	"time"

	api "github.com/osrg/gobgp/v3/api"
)

// TestPeerEventCallbackMayWaitForRouter: OnPeerEvent runs on a goroutine
// of GoBGP's that neither GoBGP's main loop nor the Router waits for (GoBGP
// queues events without bound), so a callback that waits for Router.mu,
// as PeerStatus does, cannot wedge a Router that calls GoBGP with Router.mu
// held (Apply, Stop). Were events delivered from GoBGP's main loop, the
// calls below would never return.
func TestPeerEventCallbackMayWaitForRouter(t *testing.T) {
	tor := startToR(t, "127.0.0.12", torAS, torNeighbor{addr: netip.MustParseAddr("127.0.0.1"), as: routerAS})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var r *Router
	created := make(chan struct{})
	entered, events := make(chan PeerEvent, 16), make(chan PeerEvent, 16)
	r, err := NewRouter(ctx, Options{Logger: testLogger(t), OnPeerEvent: func(e PeerEvent) {
		<-created
		entered <- e
		if _, err := r.PeerStatus(context.Background()); err != nil { // takes Router.mu
			t.Errorf("PeerStatus from OnPeerEvent: %v", err)
		}
		events <- e
	}})
	if err != nil {
		t.Fatalf("NewRouter: %v", err)
	}
	close(created)
	t.Cleanup(func() { _ = r.Stop(context.Background(), false) })
	tr := &testRouter{Router: r, tors: []*testToR{tor}}
	tr.apply(t, global(routerAS), []Peer{tor.peer("tor", torAS)}, host("10.96.0.12/32"))
	waitEvent := func(ch chan PeerEvent, up bool) {
		t.Helper()
		deadline := time.After(establishIn)
		for {
			select {
			case e := <-ch:
				if e.Up == up {
					return
				}
			case <-deadline:
				t.Fatalf("no peer event with Up=%v within %v", up, establishIn)
			}
		}
	}
	waitEvent(events, true)

	// Router.mu held, as Apply and Stop hold it; the ToR drops the
	// session, and the callback reporting it waits for Router.mu.
	r.mu.Lock()
	locked := true
	defer func() {
		if locked {
			r.mu.Unlock()
		}
	}()
	if err := tor.srv.DisablePeer(context.Background(), &api.DisablePeerRequest{Address: "127.0.0.1"}); err != nil {
		t.Fatalf("ToR: disable peer: %v", err)
	}
	waitEvent(entered, false)

	done := make(chan error, 1)
	go func() {
		_, err := r.establishedSessions(context.Background()) // GoBGP's ListPeer, as Stop calls it
		done <- err
	}()
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("GoBGP call with Router.mu held did not return within 10s while the peer-event callback waits for Router.mu")
	}
	go func() { done <- r.stopLocked(context.Background(), false) }()
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("StopBgp with Router.mu held did not return within 10s while the peer-event callback waits for Router.mu")
	}
	r.mu.Unlock()
	locked = false
	waitEvent(events, false)
}
