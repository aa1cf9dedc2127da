package layer2

import (
	"context"
	"maps"
	"net/netip"
	"slices"
	"sync"
	"time"

	"github.com/go-logr/logr"
	coordinationv1client "k8s.io/client-go/kubernetes/typed/coordination/v1"
	"k8s.io/utils/clock"
)

// Members is a membership view at one instant. It is shared: do not
// modify it.
type Members struct {
	// Live maps every live node to the Eips it marks unavailable (sorted;
	// nil when none).
	Live map[string][]string
	// Known maps every node whose Lease is live or was renewed (or
	// released) within LeaseConfig.KnownTTL to the Eips it marks
	// unavailable: VIP mode ranks over it, Layer2 ownership over Live.
	Known map[string][]string
	// Addrs maps the known nodes that publish addresses (VIP mode's
	// AddressesAnnotation) to them: IPv4 first, the first of each family
	// counting; nodes without any are absent. Layer2 ownership ignores it.
	Addrs map[string][]netip.Addr
	// Frozen is set while this speaker cannot confirm its own Lease
	// through the API server: nobody expires, and Live is the last view
	// (empty before the speaker was ever confirmed).
	Frozen bool
}

// Nodes returns the live nodes, sorted.
func (m Members) Nodes() []string {
	return slices.Sorted(maps.Keys(m.Live))
}

// Serves reports whether node is live and does not mark eip unavailable.
func (m Members) Serves(node, eip string) bool {
	unavailable, live := m.Live[node]
	return live && !slices.Contains(unavailable, eip)
}

// Equal reports whether two views are the same, addresses included.
func (m Members) Equal(o Members) bool {
	return m.Frozen == o.Frozen && maps.EqualFunc(m.Live, o.Live, slices.Equal[[]string]) &&
		maps.EqualFunc(m.Known, o.Known, slices.Equal[[]string]) &&
		maps.EqualFunc(m.Addrs, o.Addrs, slices.Equal[[]netip.Addr])
}

// Membership is this speaker's view of which speakers are live, from the
// Leases in the speakers' namespace (see the design notes in owner.go).
type Membership struct {
	lease  *NodeLease
	leases coordinationv1client.LeaseInterface
	log    logr.Logger
	// clock times the pauses between lists; tests step a fake one.
	clock clock.Clock

	kick    chan struct{} // the table changed
	changed chan struct{} // the view changed; capacity 1

	mu    sync.Mutex
	table *memberTable
	view  Members
}

// NewMembership prepares the view of the Leases in self's namespace;
// Start runs it. leases must not time out watches (no
// rest.Config.Timeout), and may be the same client as the Lease's only
// when it has none.
func NewMembership(leases coordinationv1client.LeasesGetter, self *NodeLease) *Membership {
	cfg := self.cfg
	table := newMemberTable(self.Name(), cfg.LeaseDuration, cfg.RenewDeadline, cfg.RetryPeriod, self.lock.writtenAt)
	table.knownTTL = cfg.KnownTTL
	return &Membership{
		lease:   self,
		leases:  leases.Leases(cfg.Namespace),
		log:     cfg.Log.WithName("membership"),
		clock:   clock.RealClock{},
		kick:    make(chan struct{}, 1),
		changed: make(chan struct{}, 1),
		table:   table,
		view:    Members{Frozen: true},
	}
}

// Start watches the Leases and keeps the view current until ctx ends,
// then returns nil. It is a controller-runtime Runnable.
func (m *Membership) Start(ctx context.Context) error {
	watching := make(chan struct{})
	go func() {
		defer close(watching)
		m.watch(ctx)
	}()
	defer func() { <-watching }()
	timer := time.NewTimer(time.Hour)
	defer timer.Stop()
	for {
		next := m.update(time.Now())
		timer.Stop()
		if !next.IsZero() {
			timer.Reset(time.Until(next))
		}
		select {
		case <-ctx.Done():
			return nil
		case <-m.kick:
		case <-timer.C:
		}
	}
}

// NeedLeaderElection is false: every speaker keeps its own view.
func (m *Membership) NeedLeaderElection() bool { return false }

// Snapshot returns the current view.
func (m *Membership) Snapshot() Members {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.view
}

// Healthy reports whether the view is current (not frozen).
func (m *Membership) Healthy() bool {
	return !m.Snapshot().Frozen
}

// Changed receives a value after the view changes: a node became live or
// dead, changed its unavailable Eips or its addresses, or the view froze
// or thawed. Changes coalesce; read Snapshot after receiving.
func (m *Membership) Changed() <-chan struct{} {
	return m.changed
}

// update recomputes the view and reports when to do so again by itself.
func (m *Membership) update(now time.Time) time.Time {
	m.mu.Lock()
	view, next := m.table.view(now)
	old := m.view
	changed := !view.Equal(old)
	if changed {
		m.view = view
	}
	m.mu.Unlock()
	if !changed {
		return next
	}
	m.logChange(old, view)
	select {
	case m.changed <- struct{}{}:
	default:
	}
	return next
}

// touch wakes Start's loop after the table changed.
func (m *Membership) touch() {
	select {
	case m.kick <- struct{}{}:
	default:
	}
}

// logChange logs the transitions between two views.
func (m *Membership) logChange(old, view Members) {
	switch {
	case view.Frozen && !old.Frozen:
		m.log.Info("membership view frozen: own lease not confirmed through the API server in time; nobody expires", "nodes", view.Nodes())
	case !view.Frozen && old.Frozen:
		m.log.Info("membership view current", "nodes", view.Nodes())
	}
	for _, n := range view.Nodes() {
		if _, was := old.Live[n]; !was {
			m.log.Info("node live", "node", n, "unavailableEips", view.Live[n], "addresses", view.Addrs[n])
			continue
		}
		if !slices.Equal(old.Live[n], view.Live[n]) {
			m.log.Info("node unavailable eips changed", "node", n, "unavailableEips", view.Live[n])
		}
		if !slices.Equal(old.Addrs[n], view.Addrs[n]) {
			m.log.Info("node addresses changed", "node", n, "addresses", view.Addrs[n])
		}
	}
	for _, n := range old.Nodes() {
		if _, is := view.Live[n]; !is {
			m.log.Info("node dead", "node", n)
		}
	}
}
