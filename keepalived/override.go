package keepalived

import (
	"time"
)

// Override is one vip Eip's departure from the cluster-wide Settings
// (spec.vrrp): zero fields keep the cluster's value. Every node renders
// the Eip's instances with it, so peers still agree. The settings that
// concern the whole file (track directory, FIFO) and the participant cap,
// which every node must apply alike for the rankings to agree, are not
// overridable.
type Override struct {
	// AdvertInterval replaces Settings.AdvertInterval when non-zero.
	AdvertInterval time.Duration
	// PreemptDelay replaces Settings.PreemptDelay when set.
	PreemptDelay *time.Duration
	// Unicast replaces Settings.Unicast when set.
	Unicast *bool
}

// IsZero reports whether o changes nothing.
func (o Override) IsZero() bool {
	return o.AdvertInterval == 0 && o.PreemptDelay == nil && o.Unicast == nil
}

// apply returns s with o's values in place of the cluster's.
func (o Override) apply(s Settings) Settings {
	if o.AdvertInterval != 0 {
		s.AdvertInterval = o.AdvertInterval
	}
	if o.PreemptDelay != nil {
		s.PreemptDelay = *o.PreemptDelay
	}
	if o.Unicast != nil {
		s.Unicast = *o.Unicast
	}
	return s
}

// Validate reports what keepalived would refuse or silently change in o,
// whatever the cluster's settings (admission checks spec.vrrp with it).
func (o Override) Validate() error {
	s := o.apply(DefaultSettings())
	if o.Unicast != nil && *o.Unicast {
		// The cluster's participant cap is checked at its own start; the
		// override cannot make it invalid.
		s.Participants = max(s.Participants, 2)
	}
	return s.Validate()
}
