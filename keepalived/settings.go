package keepalived

import (
	"errors"
	"fmt"
	"path/filepath"
	"strconv"
	"time"
)

// Settings are the cluster-wide VRRP settings every node renders alike
// (flags today, per-Eip overrides later). They must be equal on all nodes:
// VRRP peers that disagree on the advert interval or on unicast reject each
// other's adverts.
type Settings struct {
	// AdvertInterval is how often the master advertises. Failover takes the
	// master-down interval, 3×AdvertInterval plus a skew under a quarter
	// interval, so 1 s costs ~3.4 s and 100 ms ~0.35 s, at the price of ten
	// times the packets and a risk of flapping on busy nodes. Whole
	// centiseconds up to 40.95 s, VRRPv3's limit, which IPv6 instances
	// always run; whole seconds run VRRPv2 for IPv4, anything else VRRPv3.
	// Zero means 1 s.
	AdvertInterval time.Duration
	// PreemptDelay makes a higher-ranked node that comes back wait before
	// taking its VIPs back from the backup serving them (keepalived's
	// preempt_delay, at most 1000 s), e.g. until kube-proxy has programmed
	// its rules after a reboot. Zero preempts at once; a takeover from a
	// live master costs the clients ~25 ms.
	PreemptDelay time.Duration
	// Unicast sends adverts to the other participants' addresses instead of
	// the VRRP multicast group, for networks that block multicast. Every
	// instance then checks that adverts come from its peers
	// (vrrp_check_unicast_src), the only protection VRRPv3 has, since
	// keepalived has no authentication for it.
	Unicast bool
	// Participants caps how many nodes run an instance for each VIP, the
	// top of Rank's order: more survive more node losses, fewer cost fewer
	// adverts. Zero means DefaultParticipants; at most MaxParticipants. In
	// unicast mode at least 2, since a lone unicast participant has no
	// peer to advertise to.
	Participants int
	// TrackDir is the absolute directory, shared with keepalived, holding
	// one track file per externalTrafficPolicy Local VIP (TrackFilePath).
	TrackDir string
	// NotifyFIFO is the absolute path of the FIFO keepalived writes VRRP
	// state changes to, which the supervisor reads back.
	NotifyFIFO string
}

// DefaultSettings are the settings of a cluster that says nothing: adverts
// every second over multicast, three participants per VIP, and the host
// directory the supervisor DaemonSet shares with the speaker.
func DefaultSettings() Settings {
	return Settings{
		AdvertInterval: time.Second,
		Participants:   DefaultParticipants,
		TrackDir:       "/run/herald/keepalived/track",
		NotifyFIFO:     "/run/herald/keepalived/notify.fifo",
	}
}

// ErrInvalidConfig marks a Config or Settings that Render refuses; nothing
// is rendered, so keepalived keeps its last good configuration.
var ErrInvalidConfig = errors.New("invalid keepalived config")

// Validate reports every setting keepalived would refuse or silently
// change (it rounds a sub-second VRRPv2 interval, for one).
func (s Settings) Validate() error {
	var errs []error
	a := s.advert()
	switch {
	case a <= 0:
		errs = append(errs, fmt.Errorf("advert interval %v: not positive: %w", a, ErrInvalidConfig))
	case a%(10*time.Millisecond) != 0 || a > 4095*10*time.Millisecond:
		errs = append(errs, fmt.Errorf("advert interval %v: want whole centiseconds up to 40.95 s: %w", a, ErrInvalidConfig))
	}
	if s.PreemptDelay < 0 || s.PreemptDelay > 1000*time.Second || s.PreemptDelay%(10*time.Millisecond) != 0 {
		errs = append(errs, fmt.Errorf("preempt delay %v: want whole centiseconds from 0 to 1000 s: %w", s.PreemptDelay, ErrInvalidConfig))
	}
	switch p := s.participants(); {
	case p > MaxParticipants:
		errs = append(errs, fmt.Errorf("participants %d: at most %d keep every priority at %d or above: %w", p, MaxParticipants, MinPriority, ErrInvalidConfig))
	case s.Unicast && p < 2:
		errs = append(errs, fmt.Errorf("participants %d: unicast needs at least 2: %w", p, ErrInvalidConfig))
	}
	if !filepath.IsAbs(s.TrackDir) {
		errs = append(errs, fmt.Errorf("track directory %q: not absolute: %w", s.TrackDir, ErrInvalidConfig))
	}
	if !filepath.IsAbs(s.NotifyFIFO) {
		errs = append(errs, fmt.Errorf("notify fifo %q: not absolute: %w", s.NotifyFIFO, ErrInvalidConfig))
	}
	return errors.Join(errs...)
}

func (s Settings) advert() time.Duration {
	if s.AdvertInterval == 0 {
		return time.Second
	}
	return s.AdvertInterval
}

func (s Settings) participants() int {
	if s.Participants <= 0 {
		return DefaultParticipants
	}
	return s.Participants
}

// needsVRRPv3 reports whether IPv4 instances must run VRRPv3: VRRPv2 counts
// the interval in whole seconds. IPv6 instances always run VRRPv3.
func (s Settings) needsVRRPv3() bool {
	return s.advert()%time.Second != 0
}

// seconds renders a duration as keepalived reads it: seconds with up to two
// decimals ("1", "0.1", "2.25").
func seconds(d time.Duration) string {
	return strconv.FormatFloat(d.Seconds(), 'f', -1, 64)
}
