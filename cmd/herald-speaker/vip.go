package main

import (
	"errors"
	"flag"
	"fmt"
	"time"

	"github.com/go-logr/logr"
	ctrl "sigs.k8s.io/controller-runtime"

	"github.com/herald-lb/herald/internal/eippool"
	"github.com/herald-lb/herald/keepalived"
	"github.com/herald-lb/herald/speaker"
	"github.com/herald-lb/herald/speaker/layer2"
	"github.com/herald-lb/herald/vipdir"
)

// vipFlags configure VIP mode. The VRRP ones must be equal on all nodes:
// every speaker renders every VIP's instances alike, and VRRP peers that
// disagree on the advert interval or on unicast reject each other's
// adverts (keepalived.Settings).
type vipFlags struct {
	dir                  string
	advert, preemptDelay time.Duration
	unicast              bool
	participants         int
	statePoll            time.Duration
}

func (v *vipFlags) bind(fs *flag.FlagSet) {
	d := keepalived.DefaultSettings()
	fs.StringVar(&v.dir, "vip-dir", vipdir.DefaultDir,
		"VIP mode: the host directory shared with the herald-keepalived DaemonSet, mounted at this same path in both pods "+
			"(keepalived.conf names its track files and notify FIFO by absolute path); the speaker writes "+
			"keepalived.conf.candidate and track/ there and reads state.json and config.json; herald-keepalived's --dir must name the same directory")
	fs.DurationVar(&v.advert, "vrrp-advert-interval", d.AdvertInterval,
		"VIP mode: how often a VIP's VRRP master advertises. A failover takes about 3 intervals (1s: ~3.4 s; 100ms: ~0.35 s, "+
			"for ten times the packets and a risk of flapping on busy nodes). Whole centiseconds up to 40.95s; whole seconds run "+
			"VRRPv2 for IPv4, anything else VRRPv3. Must be equal on all nodes")
	fs.DurationVar(&v.preemptDelay, "vrrp-preempt-delay", d.PreemptDelay,
		"VIP mode: how long a higher-ranked node that comes back waits before taking its VIPs back from the backup serving them "+
			"(e.g. until kube-proxy has programmed its rules after a reboot); 0 takes them at once, which costs the clients ~25 ms per VIP. "+
			"Whole centiseconds up to 1000s. Must be equal on all nodes")
	fs.BoolVar(&v.unicast, "vrrp-unicast", d.Unicast,
		"VIP mode: send VRRP adverts to the other participants' node addresses instead of the multicast group, for networks that "+
			"block multicast; each instance then accepts adverts only from its peers, the only protection VRRPv3 has. "+
			"Needs --vrrp-participants of at least 2. Must be equal on all nodes")
	fs.IntVar(&v.participants, "vrrp-participants", d.Participants,
		fmt.Sprintf("VIP mode: how many nodes run a VRRP instance for each VIP (the top of the VIP's ranking): more survive more "+
			"node losses at once, fewer cost fewer adverts and, with --vrrp-unicast, shorter peer lists. 1 to %d. Must be equal on all nodes",
			keepalived.MaxParticipants))
	fs.DurationVar(&v.statePoll, "vip-state-poll", speaker.DefaultVIPStatePoll,
		"VIP mode: how often the speaker looks at the state.json herald-keepalived writes, to name the VRRP master in the "+
			"vip.herald.io/holder annotation of the Services it holds, and at the config.json beside it, to learn whether keepalived "+
			"refused the config it rendered: one stat of each local file per period, no API call; "+
			"the VIP itself moves by VRRP whatever this says")
}

// settings are the flags as keepalived.Settings, with the track directory
// and notify FIFO in --vip-dir. Each flag is checked on its own first, so
// that the error names the flag to fix.
func (v vipFlags) settings() (keepalived.Settings, error) {
	dir := vipdir.Dir(v.dir)
	base := dir.Settings(keepalived.DefaultSettings())
	var errs []error
	check := func(name string, value any, set func(*keepalived.Settings)) {
		s := base
		set(&s)
		if err := s.Validate(); err != nil {
			errs = append(errs, fmt.Errorf("--%s=%v: %w", name, value, err))
		}
	}
	check("vip-dir", v.dir, func(*keepalived.Settings) {})
	if len(errs) > 0 {
		base = keepalived.DefaultSettings() // the other flags are checked alone
	}
	check("vrrp-advert-interval", v.advert, func(s *keepalived.Settings) { s.AdvertInterval = v.advert })
	check("vrrp-preempt-delay", v.preemptDelay, func(s *keepalived.Settings) { s.PreemptDelay = v.preemptDelay })
	if v.participants < 1 {
		errs = append(errs, fmt.Errorf("--vrrp-participants=%d: want 1 to %d: %w", v.participants, keepalived.MaxParticipants, keepalived.ErrInvalidConfig))
	} else {
		n := len(errs)
		check("vrrp-participants", v.participants, func(s *keepalived.Settings) { s.Participants = v.participants })
		if len(errs) == n && v.unicast {
			check(fmt.Sprintf("vrrp-participants=%d with --vrrp-unicast", v.participants), v.unicast, func(s *keepalived.Settings) {
				s.Participants, s.Unicast = v.participants, v.unicast
			})
		}
	}
	if v.statePoll <= 0 {
		errs = append(errs, fmt.Errorf("--vip-state-poll=%v: not positive", v.statePoll))
	}
	if err := errors.Join(errs...); err != nil {
		return keepalived.Settings{}, err
	}
	s := base
	s.AdvertInterval, s.PreemptDelay, s.Unicast, s.Participants = v.advert, v.preemptDelay, v.unicast, v.participants
	if err := s.Validate(); err != nil { // no flag alone is wrong; should not happen
		return keepalived.Settings{}, fmt.Errorf("--vip-dir and --vrrp-*: %w", err)
	}
	return s, nil
}

// vipSetup is what VIP mode adds to the reconciler.
type vipSetup struct {
	mode     *speaker.VIPMode
	triggers []<-chan struct{}
}

// setupVIP builds VIP mode over the Layer2 mode's membership view (the
// speakers' per-node Leases), route lookup and carrier watch, and adds
// the state file's watcher to mgr.
func setupVIP(mgr ctrl.Manager, node string, f vipFlags, l2 layer2Setup, log logr.Logger, m *speaker.Metrics) (vipSetup, error) {
	settings, err := f.settings()
	if err != nil {
		return vipSetup{}, err
	}
	dir := vipdir.Dir(f.dir)
	states := speaker.NewVIPStateWatcher(dir.State(), f.statePoll, log.WithName("vipstate"), m)
	states.ConfigPath = dir.ConfigStatus()
	if err := mgr.Add(runnable{states}); err != nil {
		return vipSetup{}, fmt.Errorf("add vip state watcher: %w", err)
	}
	routes, carrier := l2.mode.Routes, l2.mode.Carrier
	mode := &speaker.VIPMode{
		Node:     node,
		Settings: settings,
		Members:  l2.mode.VIPMembers,
		// Carrier changes wake the reconciler through Layer2's triggers.
		Interfaces: func(pools []eippool.Pool) layer2.EipInterfaces {
			// Carrier loss is keepalived's (FAULT, no reload): only a
			// missing interface takes this node out.
			return layer2.ResolveEipInterfaces(pools, routes, carrier.Exists)
		},
		InterfacesSynced: carrier.Synced,
		Sink:             speaker.FileConfigSink{Path: dir.Candidate()},
		TrackDir:         dir.Track(),
		States:           states.States,
		Verdict:          states.Config,
		PublishRefused:   l2.mode.SetVIPConfigRefused,
		Client:           mgr.GetClient(), Recorder: mgr.GetEventRecorder("herald-speaker"),
		Log:     log.WithName("vip"),
		Metrics: m,
	}
	return vipSetup{mode: mode, triggers: []<-chan struct{}{states.Changed()}}, nil
}
