package bgp

import (
	"context"
	"fmt"
	"net/netip"
	"slices"
	"strings"
	"time"

	api "github.com/osrg/gobgp/v3/api"
)

// SessionState is a BGP finite-state-machine state. The values are GoBGP's
// names, which OpenELB wrote to BgpPeer status, so that existing consoles
// keep reading them.
type SessionState string

// The session states of RFC 4271 §8.
const (
	StateUnknown     SessionState = "UNKNOWN"
	StateIdle        SessionState = "IDLE"
	StateConnect     SessionState = "CONNECT"
	StateActive      SessionState = "ACTIVE"
	StateOpenSent    SessionState = "OPENSENT"
	StateOpenConfirm SessionState = "OPENCONFIRM"
	StateEstablished SessionState = "ESTABLISHED"
)

func sessionState(s api.PeerState_SessionState) SessionState {
	if name, ok := api.PeerState_SessionState_name[int32(s)]; ok {
		return SessionState(name)
	}
	return StateUnknown
}

// MessageCounts counts the BGP messages of one direction of a session.
type MessageCounts struct {
	Notification, Update, Open, Keepalive, Refresh, Discarded, Total uint64
	WithdrawUpdate, WithdrawPrefix                                   uint64
}

// PeerStatus is one session as this node sees it, for BgpPeer status.
type PeerStatus struct {
	// Name is the BgpPeer's name.
	Name        string
	Description string
	Address     netip.Addr
	PeerAS      uint32
	LocalAS     uint32
	State       SessionState
	AdminDown   bool
	// RouterID is the router's BGP identifier, once established.
	RouterID string
	// LocalAddress is the node's end of the session, once established.
	LocalAddress netip.Addr
	// Flops counts how often the session went down.
	Flops uint32
	// Uptime is when the session was last established, Downtime when it
	// last went down; zero when it never was.
	Uptime, Downtime time.Time
	// HoldTime and KeepaliveInterval are the negotiated timers.
	HoldTime, KeepaliveInterval time.Duration
	Sent, Received              MessageCounts
	// LastError says why the session is not established, when known.
	LastError string
}

// PeerEvent is a session coming up or going down.
type PeerEvent struct {
	// Peer is the BgpPeer's name; empty for a neighbour no longer
	// configured under any name.
	Peer    string
	Address netip.Addr
	// Up is true when the session became established, false when an
	// established session went down.
	Up    bool
	State SessionState
	// LocalAddress is the node's end of a session that came up.
	LocalAddress netip.Addr
	// Reason says why a session went down, when known.
	Reason string
}

// PeerStatus reports every session the router runs, sorted by name.
func (r *Router) PeerStatus(ctx context.Context) ([]PeerStatus, error) {
	var out []PeerStatus
	descriptions := r.descriptions()
	err := r.srv.ListPeer(ctx, &api.ListPeerRequest{}, func(p *api.Peer) {
		s := r.peerStatus(p)
		s.Description = descriptions[s.Address]
		out = append(out, s)
	})
	if err != nil {
		return nil, fmt.Errorf("list peers: %w", err)
	}
	slices.SortFunc(out, func(a, b PeerStatus) int {
		if c := strings.Compare(a.Name, b.Name); c != 0 {
			return c
		}
		return a.Address.Compare(b.Address)
	})
	return out, nil
}

func (r *Router) peerStatus(p *api.Peer) PeerStatus {
	var s PeerStatus
	if c := p.GetConf(); c != nil {
		s.Address, _ = netip.ParseAddr(c.NeighborAddress)
		s.PeerAS, s.LocalAS = c.PeerAsn, c.LocalAsn
	}
	if st := p.GetState(); st != nil {
		s.State = sessionState(st.SessionState)
		s.AdminDown = st.AdminState != api.PeerState_UP
		s.Flops = st.Flops
		if st.PeerAsn != 0 {
			s.PeerAS = st.PeerAsn
		}
		if st.LocalAsn != 0 {
			s.LocalAS = st.LocalAsn
		}
		s.Sent = messageCounts(st.GetMessages().GetSent())
		s.Received = messageCounts(st.GetMessages().GetReceived())
	}
	if s.State == StateEstablished {
		s.RouterID = p.GetState().GetRouterId()
		s.LocalAddress, _ = netip.ParseAddr(p.GetTransport().GetLocalAddress())
	}
	if ts := p.GetTimers().GetState(); ts != nil {
		if u := ts.GetUptime(); u != nil && u.Seconds > 0 {
			s.Uptime = u.AsTime()
		}
		if d := ts.GetDowntime(); d != nil && d.Seconds > 0 {
			s.Downtime = d.AsTime()
		}
		if s.State == StateEstablished {
			s.HoldTime = time.Duration(ts.NegotiatedHoldTime) * time.Second
			s.KeepaliveInterval = time.Duration(ts.KeepaliveInterval) * time.Second
		}
	}
	s.Name = r.book.name(s.Address)
	if s.State != StateEstablished {
		s.LastError = r.book.lastError(s.Address)
	}
	return s
}

func messageCounts(m *api.Message) MessageCounts {
	if m == nil {
		return MessageCounts{}
	}
	return MessageCounts{
		Notification: m.Notification, Update: m.Update, Open: m.Open, Keepalive: m.Keepalive,
		Refresh: m.Refresh, Discarded: m.Discarded, Total: m.Total,
		WithdrawUpdate: m.WithdrawUpdate, WithdrawPrefix: m.WithdrawPrefix,
	}
}

// peerWatcher turns GoBGP's peer-state events into PeerEvents. GoBGP calls
// it from one goroutine of its own, which ends with the Router's context,
// so last is owned by that goroutine alone.
type peerWatcher struct {
	book   *peerBook
	notify func(PeerEvent)
	last   map[netip.Addr]SessionState
}

func (w *peerWatcher) handle(resp *api.WatchEventResponse) {
	ev := resp.GetPeer()
	if ev == nil || ev.Type != api.WatchEventResponse_PeerEvent_STATE {
		return
	}
	a, err := netip.ParseAddr(ev.GetPeer().GetState().GetNeighborAddress())
	if err != nil {
		return
	}
	state := sessionState(ev.GetPeer().GetState().GetSessionState())
	was := w.last[a]
	w.last[a] = state
	if state == StateEstablished {
		w.book.clearError(a)
	}
	if (state == StateEstablished) == (was == StateEstablished) {
		return
	}
	pe := PeerEvent{Peer: w.book.name(a), Address: a, Up: state == StateEstablished, State: state}
	if pe.Up {
		pe.LocalAddress, _ = netip.ParseAddr(ev.GetPeer().GetTransport().GetLocalAddress())
	} else {
		pe.Reason = w.book.lastError(a)
	}
	if w.notify != nil {
		w.notify(pe)
	}
}
