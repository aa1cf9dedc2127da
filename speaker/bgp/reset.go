package bgp

import (
	"context"
	"fmt"
	"net/netip"

	api "github.com/osrg/gobgp/v3/api"
)

// idleHoldAfterReset is how long, in seconds, a session waits after
// ResetPeer before it connects again: GoBGP's wait after any other drop (5
// s) instead of its 30 s default for a reset, so that a session BFD took
// down re-forms as soon as the link is back.
const idleHoldAfterReset = 5

// ResetPeer ends the session with the neighbour at addr with a CEASE
// (administrative reset) carrying reason, and lets it re-form. The speaker
// calls it when BFD says the neighbour is unreachable: the session would
// otherwise stay established until the hold time runs out. Resetting a
// neighbour that is not configured is an error; one whose session is not
// established is harmless.
func (r *Router) ResetPeer(ctx context.Context, addr netip.Addr, reason string) error {
	if err := r.srv.ResetPeer(ctx, &api.ResetPeerRequest{Address: addr.String(), Communication: reason}); err != nil {
		return fmt.Errorf("reset session with %s: %w", addr, err)
	}
	return nil
}
