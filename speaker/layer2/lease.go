package layer2

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"net/netip"
	"slices"
	"strings"
	"time"

	"github.com/go-logr/logr"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/validation"
	coordinationv1client "k8s.io/client-go/kubernetes/typed/coordination/v1"
	"k8s.io/client-go/tools/leaderelection"
	"k8s.io/klog/v2"
)

// Lease timings by default: a node SIGKILLed is noticed by the others 1.0
// to 1.5 s after its last renewal, for about 2 Lease writes per second per
// node (one per DefaultRetryPeriod). leaderelection requires LeaseDuration
// > RenewDeadline > 1.2 × RetryPeriod.
const (
	DefaultLeaseDuration = 1500 * time.Millisecond
	DefaultRenewDeadline = time.Second
	DefaultRetryPeriod   = 500 * time.Millisecond
	// DefaultKnownTTL is how long a node whose Lease is no longer renewed
	// (released, or its speaker dead) stays among Members.Known. VIP mode
	// ranks over Known, not Live: keepalived runs without the speaker, so
	// a speaker that crashes, restarts or is upgraded must not change any
	// VIP's ranking (the others would re-render and fight the node's
	// keepalived, which keeps the old one); VRRP itself finds dead nodes.
	// Five minutes outlasts a rollout step and a crash loop's longest
	// backoff; a node gone for good drops out of the rankings after it.
	DefaultKnownTTL = 5 * time.Minute
)

const (
	// LeaseNamePrefix followed by the node name is the name of a
	// speaker's Lease.
	LeaseNamePrefix = "herald-speaker-"
	// LeaseLabel (value "true") marks the speakers' Leases, which the
	// membership watch selects by it.
	LeaseLabel = "layer2.herald.io/speaker"
	// UnavailableAnnotation on a speaker's Lease lists the Eips the node
	// cannot answer for (interface missing or without carrier) or may not
	// (the Eip's nodeSelector does not match the node's labels, or the
	// node carries the exclude-from-external-load-balancers label), sorted
	// and comma-separated; absent when there are none.
	UnavailableAnnotation = "layer2.herald.io/unavailable"
	// AddressesAnnotation on a speaker's Lease lists the node's addresses
	// for VIP mode (its unicast VRRP source of each family: the peers'
	// address and the proof that it can run instances of that family),
	// comma-separated, IPv4 first, at most one per family; absent when
	// there are none (no vip Eip, or none resolves on the node). Nobody
	// then needs to watch Node objects for them.
	AddressesAnnotation = "layer2.herald.io/addresses"
	// VIPConfigRefusedAnnotation on a speaker's Lease lists the vip Eips
	// whose instances on this node come from a config its keepalived
	// refused (it keeps running the last good one), sorted and
	// comma-separated; absent when there are none. The controller turns it
	// into the Eips' KeepalivedConfigAccepted condition: the Eip's status
	// is the controller's alone, and the Lease is already written on
	// every change of what the node can serve.
	VIPConfigRefusedAnnotation = "vip.herald.io/config-refused"
)

// ErrLeaseConfig is wrapped by NewNodeLease's errors about its config.
var ErrLeaseConfig = errors.New("invalid layer2 lease config")

// LeaseConfig configures a speaker's own Lease.
type LeaseConfig struct {
	// Node is this node's name: the holder identity, and the Lease's name
	// after LeaseNamePrefix.
	Node string
	// Namespace holds the speakers' Leases (the speaker's own namespace).
	Namespace string
	// NodeUID, when set, makes the Node the Lease's owner, so that the
	// garbage collector deletes the Lease with the Node.
	NodeUID types.UID
	// LeaseDuration, RenewDeadline and RetryPeriod are leaderelection's;
	// zero means DefaultLeaseDuration, DefaultRenewDeadline and
	// DefaultRetryPeriod. The membership view judges liveness with
	// LeaseDuration itself: spec.leaseDurationSeconds is whole seconds.
	LeaseDuration, RenewDeadline, RetryPeriod time.Duration
	// KnownTTL is how long a Lease that is no longer renewed keeps its
	// node in Members.Known; zero means DefaultKnownTTL.
	KnownTTL time.Duration
	// KeepOnStop leaves the Lease held when Start returns, as a SIGKILLed
	// speaker does, instead of releasing it (tests).
	KeepOnStop bool
	// Log receives renewal failures and leaderelection's own messages.
	Log logr.Logger
}

func (c LeaseConfig) withDefaults() LeaseConfig {
	if c.LeaseDuration == 0 {
		c.LeaseDuration = DefaultLeaseDuration
	}
	if c.RenewDeadline == 0 {
		c.RenewDeadline = DefaultRenewDeadline
	}
	if c.RetryPeriod == 0 {
		c.RetryPeriod = DefaultRetryPeriod
	}
	if c.KnownTTL == 0 {
		c.KnownTTL = DefaultKnownTTL
	}
	return c
}

func (c LeaseConfig) validate() error {
	var errs []error
	if c.Node == "" {
		errs = append(errs, errors.New("node name is empty"))
	} else if msgs := validation.IsDNS1123Subdomain(LeaseNamePrefix + c.Node); len(msgs) > 0 {
		errs = append(errs, fmt.Errorf("lease name %q: %s", LeaseNamePrefix+c.Node, strings.Join(msgs, "; ")))
	}
	if c.Namespace == "" {
		errs = append(errs, errors.New("namespace is empty"))
	}
	if c.LeaseDuration <= c.RenewDeadline || float64(c.RenewDeadline) <= leaderelection.JitterFactor*float64(c.RetryPeriod) || c.RetryPeriod <= 0 {
		errs = append(errs, fmt.Errorf("timings: need lease duration (%s) > renew deadline (%s) > %.1f × retry period (%s) > 0",
			c.LeaseDuration, c.RenewDeadline, leaderelection.JitterFactor, c.RetryPeriod))
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("%w: %w", ErrLeaseConfig, err)
	}
	return nil
}

// NodeLease keeps this speaker's Lease renewed, so that the other speakers
// count the node live, and carries its list of unavailable Eips and its
// addresses.
type NodeLease struct {
	cfg     LeaseConfig
	lock    *leaseLock
	elector *leaderelection.LeaderElector
	poke    chan struct{}
}

// NewNodeLease prepares the Lease; Start runs it. leases should time out
// its requests (rest.Config.Timeout of about RenewDeadline/2), since a
// request hanging on a dead connection delays the next renewal.
func NewNodeLease(leases coordinationv1client.LeasesGetter, cfg LeaseConfig) (*NodeLease, error) {
	cfg = cfg.withDefaults()
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	lock := newLeaseLock(leases.Leases(cfg.Namespace), cfg)
	elector, err := leaderelection.NewLeaderElector(leaderelection.LeaderElectionConfig{
		Lock:            lock,
		Name:            lock.name,
		LeaseDuration:   cfg.LeaseDuration,
		RenewDeadline:   cfg.RenewDeadline,
		RetryPeriod:     cfg.RetryPeriod,
		ReleaseOnCancel: !cfg.KeepOnStop,
		Callbacks: leaderelection.LeaderCallbacks{
			// The only candidate leads whenever its renewals succeed;
			// what others make of that is the membership view's job.
			OnStartedLeading: func(context.Context) {},
			OnStoppedLeading: func() {},
		},
	})
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrLeaseConfig, err)
	}
	return &NodeLease{cfg: cfg, lock: lock, elector: elector, poke: make(chan struct{}, 1)}, nil
}

// Start creates or takes the Lease and renews it until ctx ends, then
// releases it (unless KeepOnStop) and returns nil. A renewal that misses
// the renew deadline makes leaderelection stop leading; Start then takes
// the Lease again, without releasing it in between. Start runs once; it
// is a controller-runtime Runnable.
func (l *NodeLease) Start(ctx context.Context) error {
	l.lock.setStop(ctx.Done())
	ctx = klog.NewContext(ctx, l.cfg.Log.WithName("leaderelection"))
	writing := make(chan struct{})
	go func() {
		defer close(writing)
		l.writeAnnotations(ctx)
	}()
	defer func() { <-writing }()
	for {
		l.elector.Run(ctx)
		if ctx.Err() != nil {
			return nil
		}
		l.cfg.Log.Info("lease renewal missed its deadline; taking the lease again", "lease", l.lock.Describe())
	}
}

// NeedLeaderElection is false: every speaker runs its own Lease.
func (l *NodeLease) NeedLeaderElection() bool { return false }

// Name is the Lease's name.
func (l *NodeLease) Name() string { return l.lock.name }

// SetUnavailableEips records the Eips this node cannot answer for now. When
// the list differs from what the Lease carries, it is written at once
// (one write), in the background; every renewal carries it too, so a
// write that fails is repaired by the next renewal. It never blocks.
func (l *NodeLease) SetUnavailableEips(eips []string) {
	value := formatUnavailable(eips)
	l.publish(func(a *leaseAnnotations) { a.unavailable = value })
}

// SetAddresses records the node's addresses for VIP mode: the first of
// each family counts, IPv4 first (AddressesAnnotation). It is written as
// SetUnavailableEips's list is, by the same one write when both changed.
// It never blocks.
func (l *NodeLease) SetAddresses(addrs []netip.Addr) {
	value := formatAddresses(addrs)
	l.publish(func(a *leaseAnnotations) { a.addresses = value })
}

// SetVIPConfigRefused records the vip Eips whose instances on this node
// come from a config keepalived refused (VIPConfigRefusedAnnotation). It
// is written as SetUnavailableEips's list is, and never blocks.
func (l *NodeLease) SetVIPConfigRefused(eips []string) {
	value := formatUnavailable(eips)
	l.publish(func(a *leaseAnnotations) { a.vipRefused = value })
}

// publish applies change to the annotations the Lease carries and, when
// they changed, wakes writeAnnotations.
func (l *NodeLease) publish(change func(*leaseAnnotations)) {
	if l.lock.publish(change) {
		select {
		case l.poke <- struct{}{}:
		default:
		}
	}
}

// writeAnnotations writes changed annotations outside the renewal cycle,
// until ctx ends. Changes made while a write is in flight coalesce into
// the next one.
func (l *NodeLease) writeAnnotations(ctx context.Context) {
	for {
		select {
		case <-ctx.Done():
			return
		case <-l.poke:
		}
		wctx, cancel := context.WithTimeout(ctx, l.cfg.RenewDeadline)
		if err := l.lock.writePublished(wctx); err != nil {
			l.cfg.Log.Info("could not write the lease annotations now; the next renewal carries them", "lease", l.lock.Describe(), "error", err.Error())
		}
		cancel()
	}
}

// formatUnavailable is the annotation value for a list of Eips: sorted,
// without duplicates or empty names.
func formatUnavailable(eips []string) string {
	s := slices.DeleteFunc(slices.Clone(eips), func(e string) bool { return e == "" })
	slices.Sort(s)
	return strings.Join(slices.Compact(s), ",")
}

// parseUnavailable reads the annotation back; nil when empty.
func parseUnavailable(v string) []string {
	if v == "" {
		return nil
	}
	s := strings.Split(v, ",")
	for i := range s {
		s[i] = strings.TrimSpace(s[i])
	}
	s = slices.DeleteFunc(s, func(e string) bool { return e == "" })
	if len(s) == 0 {
		return nil
	}
	slices.Sort(s)
	return slices.Compact(s)
}

// formatAddresses is the annotation value for a node's addresses: the
// first valid address of each family in addrs (IPv4-mapped IPv6 counts as
// IPv4; zones are dropped), IPv4 first.
func formatAddresses(addrs []netip.Addr) string {
	var v4, v6 netip.Addr
	for _, a := range addrs {
		a = a.Unmap().WithZone("")
		switch {
		case a.Is4() && !v4.IsValid():
			v4 = a
		case a.Is6() && !v6.IsValid():
			v6 = a
		}
	}
	var out []string
	for _, a := range []netip.Addr{v4, v6} {
		if a.IsValid() {
			out = append(out, a.String())
		}
	}
	return strings.Join(out, ",")
}

// parseAddresses reads the annotation back leniently: entries that are
// not addresses, or carry a zone (meaningless on another node), are
// skipped, as are duplicates; IPv4 comes first, otherwise the written
// order is kept. nil when none is left.
func parseAddresses(v string) []netip.Addr {
	var out []netip.Addr
	for f := range strings.SplitSeq(v, ",") {
		a, err := netip.ParseAddr(strings.TrimSpace(f))
		if err != nil || a.Zone() != "" {
			continue
		}
		if a = a.Unmap(); !slices.Contains(out, a) {
			out = append(out, a)
		}
	}
	slices.SortStableFunc(out, func(a, b netip.Addr) int {
		return cmp.Compare(a.BitLen(), b.BitLen())
	})
	return out
}
