package bgp

import (
	"context"
	"net/netip"
	"testing"
	"time"
)

// TestRouterResetPeer: a reset takes the session down at once and it
// re-forms after the short idle hold, not GoBGP's 30 s default.
func TestRouterResetPeer(t *testing.T) {
	tor := startToR(t, "127.0.0.2", torAS, torNeighbor{addr: netip.MustParseAddr("127.0.0.1"), as: routerAS})
	r := newTestRouter(t, tor)
	r.apply(t, global(routerAS), []Peer{tor.peer("tor", torAS)})
	r.waitEstablished(t, establishIn, "tor")
	if e := <-r.events; !e.Up {
		t.Fatalf("event %+v, want up", e)
	}
	start := time.Now()
	if err := r.ResetPeer(context.Background(), tor.addr, "bfd down"); err != nil {
		t.Fatal(err)
	}
	select {
	case e := <-r.events:
		if e.Up || e.Peer != "tor" {
			t.Errorf("event %+v, want tor down", e)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("no down event after the reset")
	}
	r.waitEstablished(t, idleHoldAfterReset*time.Second+establishIn, "tor")
	t.Logf("re-established %v after the reset", time.Since(start))
	if err := r.ResetPeer(context.Background(), netip.MustParseAddr("127.0.0.9"), "x"); err == nil {
		t.Error("reset of an unknown neighbour succeeded")
	}
}
