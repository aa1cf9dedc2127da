package layer2

import (
	"net/netip"
	"strings"
	"time"

	coordinationv1 "k8s.io/api/coordination/v1"
)

// firstSightStale is how old, by the local clock, a Lease's renewTime may
// be when the Lease is first seen for its node to start out live. Older
// ones belong to nodes that went away without releasing; the clocks of
// live nodes are assumed to agree within it (a node whose clock is further
// off starts out dead and becomes live with its next renewal).
const firstSightStale = 10 * time.Second

// member is what the table knows of one speaker's Lease.
type member struct {
	node        string
	held        bool  // holderIdentity is set
	renewMicros int64 // renewTime as written, compared only for change
	// seen is the local time holderIdentity or renewTime last changed;
	// zero for a Lease stale at first sight.
	seen        time.Time
	unavailable []string
	addrs       []netip.Addr
}

// memberTable turns observed Leases into a membership view. It is pure:
// callers pass the time and serialize calls.
type memberTable struct {
	selfLease                                 string
	leaseDuration, renewDeadline, retryPeriod time.Duration
	// knownTTL: see LeaseConfig.KnownTTL.
	knownTTL time.Duration
	// writtenAt maps a renewTime of this speaker's Lease to the local time
	// it was written at, for the renewals this speaker wrote.
	writtenAt func(renewTime time.Time) (time.Time, bool)

	members map[string]*member // by Lease name
	// selfWritten is the local write time of the latest renewal of this
	// speaker's own that came back through the watch: the stream is known
	// to carry every write committed before it.
	selfWritten time.Time
}

func newMemberTable(selfLease string, leaseDuration, renewDeadline, retryPeriod time.Duration, writtenAt func(time.Time) (time.Time, bool)) *memberTable {
	return &memberTable{
		selfLease: selfLease, leaseDuration: leaseDuration, renewDeadline: renewDeadline, retryPeriod: retryPeriod,
		knownTTL: DefaultKnownTTL, writtenAt: writtenAt, members: map[string]*member{},
	}
}

// observe records a Lease as the watch or a list delivered it at now.
func (t *memberTable) observe(lease *coordinationv1.Lease, now time.Time) {
	node, ok := strings.CutPrefix(lease.Name, LeaseNamePrefix)
	if !ok || node == "" {
		return
	}
	held := lease.Spec.HolderIdentity != nil && *lease.Spec.HolderIdentity != ""
	var renew time.Time
	if lease.Spec.RenewTime != nil {
		renew = lease.Spec.RenewTime.Time
	}
	m, known := t.members[lease.Name]
	switch {
	case !known:
		m = &member{node: node, held: held, renewMicros: renew.UnixMicro()}
		if held && !renew.IsZero() && now.Sub(renew) <= firstSightStale {
			m.seen = now
		}
		t.members[lease.Name] = m
	case m.held != held || m.renewMicros != renew.UnixMicro():
		m.held, m.renewMicros, m.seen = held, renew.UnixMicro(), now
	}
	m.unavailable = parseUnavailable(lease.Annotations[UnavailableAnnotation])
	m.addrs = parseAddresses(lease.Annotations[AddressesAnnotation])

	if lease.Name == t.selfLease && held && !renew.IsZero() {
		if at, ok := t.writtenAt(renew); ok && at.After(t.selfWritten) {
			t.selfWritten = at
		}
	}
}

// remove forgets a deleted Lease: its node is dead.
func (t *memberTable) remove(name string) {
	delete(t.members, name)
}

// replace makes the table what a list returned at now: Leases missing
// from it were deleted while the watch was down.
func (t *memberTable) replace(leases []coordinationv1.Lease, now time.Time) {
	keep := make(map[string]bool, len(leases))
	for i := range leases {
		keep[leases[i].Name] = true
		t.observe(&leases[i], now)
	}
	for name := range t.members {
		if !keep[name] {
			delete(t.members, name)
		}
	}
}

// healthy reports whether this speaker's own renewals come back through
// the watch in time; when not, the view is frozen.
func (t *memberTable) healthy(now time.Time) bool {
	return !t.selfWritten.IsZero() && now.Sub(t.selfWritten) <= t.renewDeadline
}

// expired reports whether a held Lease's node is dead at now: unchanged
// for the lease duration by the local clock, and unchanged in a stream
// that has since carried a renewal this speaker wrote at least lease
// duration minus retry period after the node was last seen.
func (t *memberTable) expired(m *member, now time.Time) bool {
	return !now.Before(m.seen.Add(t.leaseDuration)) &&
		!t.selfWritten.Before(m.seen.Add(t.leaseDuration-t.retryPeriod))
}

// view returns the membership at now and when it may next change by
// itself (zero: only with news from the watch). Until this speaker has
// seen one of its own renewals the view is empty and frozen.
func (t *memberTable) view(now time.Time) (Members, time.Time) {
	if t.selfWritten.IsZero() {
		return Members{Frozen: true}, time.Time{}
	}
	healthy := t.healthy(now)
	var next time.Time
	earliest := func(at time.Time) {
		if at.After(now) && (next.IsZero() || at.Before(next)) {
			next = at
		}
	}
	live := make(map[string][]string, len(t.members))
	known := make(map[string][]string, len(t.members))
	var addrs map[string][]netip.Addr
	// A frozen view forgets nobody: Known is judged at the last instant
	// this speaker was confirmed, as Live is.
	knownAt := now
	if !healthy {
		knownAt = t.selfWritten
	}
	for _, m := range t.members {
		isLive := m.held && !t.expired(m, now)
		renewed := time.UnixMicro(m.renewMicros)
		isKnown := isLive || (m.renewMicros != 0 && knownAt.Sub(renewed) < t.knownTTL)
		if !isKnown {
			continue
		}
		known[m.node] = m.unavailable
		if len(m.addrs) > 0 {
			if addrs == nil {
				addrs = map[string][]netip.Addr{}
			}
			addrs[m.node] = m.addrs
		}
		if healthy {
			earliest(renewed.Add(t.knownTTL))
		}
		if isLive {
			live[m.node] = m.unavailable
			earliest(m.seen.Add(t.leaseDuration))
		}
	}
	if healthy {
		earliest(t.selfWritten.Add(t.renewDeadline + time.Nanosecond))
	}
	return Members{Live: live, Known: known, Addrs: addrs, Frozen: !healthy}, next
}
