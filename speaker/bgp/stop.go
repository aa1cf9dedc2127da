package bgp

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"time"

	api "github.com/osrg/gobgp/v3/api"
)

// Stop ends every session. A later Apply starts BGP again.
//
// graceful=false withdraws cleanly: GoBGP sends each router a CEASE
// NOTIFICATION and closes the session, and the router drops this node's
// routes at once (11-14 ms measured with BIRD). Use it when the node stops
// announcing for good: the speaker is removed or the node drained.
//
// graceful=true is for a restart of the speaker, with BGP graceful restart
// negotiated: every GoBGP call that ends a session (StopBgp, DeletePeer,
// DisablePeer, ShutdownPeer, ResetPeer) sends a NOTIFICATION first, which
// tells the router to drop the routes (RFC 4724; with RFC 8538 GoBGP even
// turns it into a Hard Reset). So Stop closes the sessions' TCP connections
// beneath GoBGP instead, as the kernel does when the process dies: the
// router sees the connection go without a NOTIFICATION, keeps the node's
// routes as stale for the restart time, and the restarted speaker (with
// GracefulRestart.LocalRestarting) refreshes them; measured with BIRD, zero
// route changes. Only once GoBGP has noticed every session down does Stop
// deconfigure the router, which then sends nothing. If a session's
// connection cannot be found, Stop leaves the router running and returns an
// error, so that nothing is withdrawn: the caller is exiting, and the exit
// closes the connections the same way.
func (r *Router) Stop(ctx context.Context, graceful bool) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if graceful && r.global != nil {
		if err := r.dropSessions(ctx); err != nil {
			return fmt.Errorf("graceful stop: %w; BGP left running so that nothing is withdrawn", err)
		}
	}
	return r.stopLocked(ctx, graceful)
}

// stopLocked deconfigures every peer and stops BGP.
func (r *Router) stopLocked(ctx context.Context, graceful bool) error {
	if r.global == nil {
		return nil
	}
	if err := r.srv.StopBgp(ctx, &api.StopBgpRequest{}); err != nil {
		return fmt.Errorf("stop BGP: %w", err)
	}
	r.global = nil
	clear(r.peers)
	clear(r.paths)
	r.export = appliedExport{} // StartBgp starts GoBGP's policies afresh
	r.log.Info("stopped BGP", "graceful", graceful)
	return nil
}

// session is an established session's TCP endpoints as far as GoBGP
// reports them: the addresses, the port an outgoing connection goes to and
// the port an incoming one arrives at, but not the ephemeral port of
// either.
type session struct {
	local, remote netip.Addr
	remotePort    uint16
	listenPort    uint16 // 0 without a listener
}

// matches reports whether a TCP connection is the session's.
func (s session) matches(local, remote netip.AddrPort) bool {
	if local.Addr().Unmap() != s.local.Unmap() || remote.Addr().Unmap() != s.remote.Unmap() {
		return false
	}
	return remote.Port() == s.remotePort || (s.listenPort != 0 && local.Port() == s.listenPort)
}

// dropSessions closes the connection of every established session without
// a NOTIFICATION and waits until GoBGP has seen them all go down. GoBGP
// waits 5 s before it reconnects (caveat C10), so the caller has time to
// stop it.
func (r *Router) dropSessions(ctx context.Context) error {
	established, err := r.establishedSessions(ctx)
	if err != nil || len(established) == 0 {
		return err
	}
	var errs []error
	for a, s := range established {
		if err := closeConnection(s); err != nil {
			errs = append(errs, fmt.Errorf("peer %q: close the connection to %s: %w", r.book.name(a), a, err))
		}
	}
	if len(errs) > 0 {
		return errors.Join(errs...)
	}
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	for {
		left, err := r.establishedSessions(ctx)
		if err != nil {
			return err
		}
		if len(left) == 0 {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("%d sessions still established: %w", len(left), ctx.Err())
		case <-tick.C:
		}
	}
}

// establishedSessions lists the established sessions by neighbour address.
func (r *Router) establishedSessions(ctx context.Context) (map[netip.Addr]session, error) {
	out := map[netip.Addr]session{}
	listen := uint16(0)
	if r.global.ListenPort > 0 {
		listen = uint16(r.global.ListenPort)
	}
	err := r.srv.ListPeer(ctx, &api.ListPeerRequest{}, func(p *api.Peer) {
		if p.GetState().GetSessionState() != api.PeerState_ESTABLISHED {
			return
		}
		remote, err1 := netip.ParseAddr(p.GetState().GetNeighborAddress())
		local, err2 := netip.ParseAddr(p.GetTransport().GetLocalAddress())
		if err1 != nil || err2 != nil {
			return
		}
		port := uint16(p.GetTransport().GetRemotePort())
		if port == 0 {
			port = BGPPort
		}
		out[remote] = session{local: local, remote: remote, remotePort: port, listenPort: listen}
	})
	if err != nil {
		return nil, fmt.Errorf("list peers: %w", err)
	}
	return out, nil
}
