package speaker

import (
	"context"
	"maps"
	"net/netip"
	"slices"
	"time"

	"github.com/go-logr/logr"
)

// InterfaceAddrs reads the node's network interfaces by name, each with its
// addresses in the kernel's order. BgpPeers' sourceAddress rules pick the
// session's local address among them; tests pass a fake.
type InterfaceAddrs func() (map[string][]netip.Addr, error)

// DefaultSourcePoll is how often AddrPoller reads the node's addresses
// while a sourceAddress rule is in use.
const DefaultSourcePoll = 5 * time.Second

// AddrPoller wakes the reconciler when the node's interface addresses
// change, so that a BgpPeer whose sourceAddress rule found no address
// starts as soon as the address appears (and one whose address went away
// is restarted or stopped). It polls, every Period, and only while Active
// says a rule is in use: reading two netlink dumps every few seconds is
// cheaper to get right than a subscription that has to survive overruns
// and be resynchronised after every error, and a few seconds' delay is
// nothing next to the BGP connect-retry time.
type AddrPoller struct {
	Read   InterfaceAddrs
	Active func() bool
	Period time.Duration
	Log    logr.Logger

	changed chan struct{}
}

// NewAddrPoller returns a poller; Start runs it.
func NewAddrPoller(read InterfaceAddrs, active func() bool, period time.Duration, log logr.Logger) *AddrPoller {
	return &AddrPoller{Read: read, Active: active, Period: period, Log: log, changed: make(chan struct{}, 1)}
}

// Changed receives after the addresses changed.
func (p *AddrPoller) Changed() <-chan struct{} { return p.changed }

// Start polls until ctx ends (a manager.Runnable).
func (p *AddrPoller) Start(ctx context.Context) error {
	t := time.NewTicker(p.Period)
	defer t.Stop()
	var last map[string][]netip.Addr
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
		if !p.Active() {
			last = nil
			continue
		}
		now, err := p.Read()
		if err != nil {
			p.Log.V(1).Info("cannot read the node's addresses for sourceAddress rules", "error", err.Error())
			continue
		}
		if last != nil && !maps.EqualFunc(last, now, slices.Equal) {
			select {
			case p.changed <- struct{}{}:
			default:
			}
		}
		last = now
	}
}
