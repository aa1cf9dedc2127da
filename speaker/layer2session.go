package speaker

import (
	"fmt"
	"net/netip"

	"github.com/herald-lb/herald/speaker/layer2"
)

// L2Session is this node's part in the speakers' membership, which Layer2
// and VIP mode share: its own Lease renewed (layer2.NodeLease) and its
// view of the others' (layer2.Membership). It runs only while layer2 or
// vip pools exist, so that a cluster that uses BGP alone pays no Lease
// writes.
type L2Session interface {
	// Snapshot is the current membership view.
	Snapshot() layer2.Members
	// SetUnavailableEips publishes the layer2 and vip Eips this node
	// cannot serve.
	SetUnavailableEips(eips []string)
	// SetAddresses publishes this node's addresses for VIP mode (the
	// first of each family counts); nil publishes none.
	SetAddresses(addrs []netip.Addr)
	// SetVIPConfigRefused publishes the vip Eips whose instances on this
	// node come from a config keepalived refused; nil publishes none.
	SetVIPConfigRefused(eips []string)
	// Changed is poked when the view changes.
	Changed() <-chan struct{}
	// Stop releases the Lease and ends the session; it returns when both
	// have stopped.
	Stop()
}

// L2SessionFactory starts a session.
type L2SessionFactory func() (L2Session, error)

// ensureSession starts the Lease and membership session when layer2 or
// vip pools exist (wanted) and none runs, and stops it when none exist; it
// returns the running session, or nil.
func (m *Layer2Mode) ensureSession(wanted bool) (L2Session, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	switch {
	case wanted && m.session == nil:
		s, err := m.Sessions()
		if err != nil {
			return nil, fmt.Errorf("start layer2 lease: %w", err)
		}
		m.session, m.stopWatch = s, make(chan struct{})
		go m.forwardChanges(s.Changed(), m.stopWatch)
		m.Log.Info("layer2 or vip pools exist: renewing this node's Lease")
	case !wanted && m.session != nil:
		m.stopSessionLocked()
		m.Log.Info("no layer2 or vip pool left: this node's Lease released")
	}
	return m.session, nil
}

// stopSessionLocked releases the Lease; m.mu is held. Stop waits for the
// session's goroutines, which never call into the mode: they signal
// changes on Changed, which forwardChanges reads and Stop does not wait
// for.
func (m *Layer2Mode) stopSessionLocked() {
	if m.session == nil {
		return
	}
	close(m.stopWatch)
	m.session.Stop()
	m.session, m.stopWatch = nil, nil
}

// forwardChanges pokes Trigger on every change of the view until stop.
func (m *Layer2Mode) forwardChanges(changed <-chan struct{}, stop <-chan struct{}) {
	for {
		select {
		case <-changed:
			if m.Trigger != nil {
				m.Trigger()
			}
		case <-stop:
			return
		}
	}
}
