package speaker

import (
	"context"
	"fmt"
	"net/netip"
	"sync"
	"time"

	"github.com/go-logr/logr"

	"github.com/herald-lb/herald/api/v1alpha2"
	"github.com/herald-lb/herald/speaker/bfd"
	"github.com/herald-lb/herald/speaker/bgp"
)

// BFDSessions is what BGPBFD needs of speaker/bfd's Manager.
type BFDSessions interface {
	Apply(ctx context.Context, want []bfd.SessionConfig) error
}

// PeerResetter ends a BGP session so that it re-forms: speaker/bgp's
// Router.
type PeerResetter interface {
	ResetPeer(ctx context.Context, addr netip.Addr, reason string) error
}

var (
	_ BFDSessions  = (*bfd.Manager)(nil)
	_ PeerResetter = (*bgp.Router)(nil)
)

// BGPBFD runs a BFD session beside every BGP session whose BgpPeer enables
// BFD, and resets the BGP session when its BFD session goes from Up to
// Down: the router, running BFD too, drops the node's routes at the same
// moment, and without the reset GoBGP would keep the session until the
// hold time ran out. A BFD session starts once the BGP session has been
// established once, because its local address (the node's end, which the
// BFD packets must come from) is known only then; before that no route is
// announced to protect.
type BGPBFD struct {
	Sessions BFDSessions
	Router   PeerResetter
	Log      logr.Logger
	Metrics  *BFDMetrics
	// Changed, when set, is called on every state change (the status
	// writer's Trigger), so that status is written on change only.
	Changed func()

	// applyMu serialises Apply calls from reconciles and peer events, so
	// the last one wins.
	applyMu sync.Mutex
	mu      sync.Mutex
	want    map[netip.Addr]bfdPeer
	local   map[netip.Addr]netip.Addr // last local address of each neighbour's session
	state   map[netip.Addr]bfd.State
	lastErr string
}

// bfdPeer is one BgpPeer's BFD session as configured.
type bfdPeer struct {
	name string
	cfg  bfd.Config
}

// SetPeers takes the BFD settings of the BgpPeers that run a session on
// this node (cfg.Peers, by name) and adds the settings it cannot honour to
// cfg.PeerProblems. A nil BGPBFD does nothing.
func (b *BGPBFD) SetPeers(ctx context.Context, cfg *bgp.Config, peers []v1alpha2.BgpPeer) {
	if b == nil {
		return
	}
	want, problems := bfdPeers(*cfg, peers)
	for name, ps := range problems {
		if cfg.PeerProblems == nil {
			cfg.PeerProblems = map[string][]string{}
		}
		cfg.PeerProblems[name] = append(cfg.PeerProblems[name], ps...)
	}
	b.mu.Lock()
	changed := len(want) != len(b.want)
	for a, p := range want {
		if _, ok := b.want[a]; !ok {
			changed = true
			b.Metrics.state(p.name, bfd.Down) // until its session runs
		}
	}
	for a, p := range b.want {
		if _, ok := want[a]; !ok {
			b.Metrics.forget(p.name)
		}
	}
	b.want = want
	for a := range b.state {
		if _, ok := want[a]; !ok {
			delete(b.state, a)
		}
	}
	b.mu.Unlock()
	b.sync(ctx)
	if changed && b.Changed != nil {
		b.Changed() // bfdState appears or goes in status
	}
}

// PeerEvent learns the local address of a session that came up; a new one
// (re)starts that BFD session from it. Safe on a nil BGPBFD.
func (b *BGPBFD) PeerEvent(ctx context.Context, e bgp.PeerEvent) {
	if b == nil || !e.Up || !e.LocalAddress.IsValid() {
		return
	}
	b.mu.Lock()
	if b.local == nil {
		b.local = map[netip.Addr]netip.Addr{}
	}
	changed := b.local[e.Address] != e.LocalAddress
	b.local[e.Address] = e.LocalAddress
	b.mu.Unlock()
	if changed {
		b.sync(ctx)
	}
}

// sync hands the sessions whose local address is known to the Manager.
// Its errors (a socket that cannot be bound) are logged once each; the
// next reconcile retries.
func (b *BGPBFD) sync(ctx context.Context) {
	b.applyMu.Lock()
	defer b.applyMu.Unlock()
	b.mu.Lock()
	var sessions []bfd.SessionConfig
	for a, p := range b.want {
		if l, ok := b.local[a]; ok {
			sessions = append(sessions, bfd.SessionConfig{Key: bfd.Key{Peer: a, Local: l}, Name: p.name, Config: p.cfg})
		}
	}
	b.mu.Unlock()
	err := b.Sessions.Apply(ctx, sessions)
	msg := ""
	if err != nil {
		msg = err.Error()
	}
	b.mu.Lock()
	logIt := msg != b.lastErr
	b.lastErr = msg
	b.mu.Unlock()
	if err != nil && logIt {
		b.Log.Error(err, "bfd sessions not all running")
	}
}

// OnChange is the Manager's callback: it records the state for status
// and metrics, and resets the BGP session when BFD went from Up to Down.
func (b *BGPBFD) OnChange(e bfd.Event) {
	b.mu.Lock()
	if _, ok := b.want[e.Peer]; ok {
		if b.state == nil {
			b.state = map[netip.Addr]bfd.State{}
		}
		b.state[e.Peer] = e.New
	}
	b.mu.Unlock()
	b.Metrics.state(e.Name, e.New)
	log := b.Log.WithValues("peer", e.Name, "ip", e.Peer.String(), "local", e.Local.String())
	if e.Old == bfd.Up && e.New != bfd.Up {
		reason := fmt.Sprintf("BFD session %s: %s", e.New, diagText(e.Diag))
		log.Info("bfd session down: resetting the bgp session", "state", e.New.String(), "reason", diagText(e.Diag))
		b.Metrics.down(e.Name, e.Diag)
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		err := b.Router.ResetPeer(ctx, e.Peer, reason)
		cancel()
		if err != nil {
			log.Error(err, "reset bgp session after bfd down")
		}
	} else {
		log.Info("bfd session state", "state", e.New.String(), "previous", e.Old.String())
	}
	if b.Changed != nil {
		b.Changed()
	}
}

// State is the BFD state of the session with addr for BgpPeer status:
// empty when its BgpPeer does not enable BFD, Down until the session runs.
func (b *BGPBFD) State(addr netip.Addr) string {
	if b == nil {
		return ""
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	if _, ok := b.want[addr]; !ok {
		return ""
	}
	if s, ok := b.state[addr]; ok {
		return s.String()
	}
	return bfd.Down.String()
}

func diagText(d bfd.Diag) string {
	switch d {
	case bfd.DiagDetectionExpired:
		return "no packet from the neighbour within the detection time"
	case bfd.DiagNeighborDown:
		return "the neighbour signalled its session down"
	case bfd.DiagAdminDown:
		return "administratively down"
	}
	return fmt.Sprintf("diagnostic %d", d)
}
