// The Responder: Layer2 mode's packet layer.
//
// A Responder answers ARP (IPv4) and NDP (IPv6) on one interface for the
// addresses it is told it owns, and announces them. Who owns what is
// decided elsewhere in this package; the Responder only speaks for it.
//
// Reception. Both protocols are read from AF_PACKET sockets bound to the
// interface: one for the ARP EtherType, one for IPv6 with a BPF filter that
// keeps only ICMPv6 Neighbor Solicitations and Advertisements. An owned
// address is assigned to no local interface, so the kernel would never hand
// a unicast NUD solicitation addressed to it to an ICMPv6 socket; a packet
// socket sees it. Each owned IPv6 address's solicited-node group is still
// joined through an ICMPv6 socket (IPV6_JOIN_GROUP), so the kernel sends
// MLD reports (switches that snoop MLD forward a group only to ports that
// reported it) and lets the group's frames through the NIC's filter.
//
// Frame filtering. A frame is considered only if it arrived on this very
// interface (not on a VLAN or macvlan device on top of it, which the kernel
// also shows to a socket bound to the parent), was not sent by us, and is
// addressed to our MAC or to broadcast (ARP) or to an IPv6 multicast MAC
// (NDP). Frames addressed to another unicast MAC are ignored on purpose. A
// packet socket sees them (PACKET_OTHERHOST) when a bridge or switch floods
// unknown unicast, typically right after the previous owner's port went
// down. Such a frame is a unicast probe from a client whose cache still
// holds another host's MAC, and it was meant for that host. Answering it
// would race the addressee (alive and no longer the owner, or still the
// owner in a split brain) and flip the client between MACs depending on
// which reply lands last, all decided by the accident of a switch's MAC
// table. Ignoring it costs nothing when we do own the address: we announced
// the address on gaining it, which moves every existing cache entry, and a
// client whose unicast probes go unanswered marks the entry failed and
// resolves again with a broadcast request or multicast solicitation, which
// we answer. The socket filters drop PACKET_OTHERHOST and PACKET_OUTGOING
// frames in the kernel, so they do not even wake us; the checks are repeated
// on each frame read, on its destination MAC.
//
// Answers. An ARP reply goes unicast to the requester's MAC; an ARP probe
// (sender 0.0.0.0, RFC 5227) is answered the same way, as Linux does, which
// defends the address. A Neighbor Solicitation gets a solicited Neighbor
// Advertisement (solicited and override flags, target link-layer address
// option) sent to its source, including the unicast NUD solicitations sent
// to the owned address itself; a DAD probe (source ::) gets an NA to
// ff02::1 with the solicited flag clear (RFC 4861 §7.2.4). NAs carry the
// owned address as IPv6 source, hop limit 255 and a checksum computed here,
// since packet sockets bypass the IPv6 stack. A gratuitous ARP, an ARP
// reply or an NA for an owned address from another MAC (or a request or
// solicitation using an owned address as its source) is not answered: it
// is reported to OnConflict and the ownership layer decides. Apart from
// answering probes, the packet layer never contends for an address.
//
// Announcements. On gaining an address (SetOwned) and on Announce, the
// Responder sends at once gratuitous ARP in both forms, broadcast, sender
// = target = the address: a request (RFC 5227's announcement) and a reply
// (RFC 2002 §4.6, target hardware address = ours), since stacks differ in
// which form they accept; or for IPv6 an unsolicited NA with the override
// flag to ff02::1. It repeats them AnnounceRepeats times (default 2), every
// AnnounceInterval (default 1 s), then refreshes them every RefreshInterval
// (default 30 s, each shortened at random by up to a tenth so that addresses
// gained together spread out) for as long as it owns the address.
//
//   - The first announcement goes out without delay because failover time
//     is set by it: clients follow within milliseconds of a GARP, and take
//     tens of seconds without one (testbed: 36-47 s).
//   - Three announcements one second apart are RFC 4861's own limit for
//     unsolicited NAs (MAX_NEIGHBOR_ADVERTISEMENT, RetransTimer); ARP has
//     no such rule and gets the same schedule. Losses right after a
//     failover come in bursts (a port or bridge reconverging, a switch
//     rewriting its MAC table), so three frames spread over two seconds
//     survive more of them than the same frames within a few hundred
//     milliseconds would.
//   - Switches age MAC table entries out (300 s is the common default) long
//     before routers forget ARP entries (often hours), and then flood the
//     traffic for a quiet owner to every port. A 30 s refresh keeps the
//     owner's MAC learnt with ten chances per ageing period, and bounds how
//     long a client keeps a wrong entry after a transient conflict ends.
//     The cost is two broadcast frames (IPv4) or one multicast frame (IPv6)
//     per address every 30 s: about 70 small frames a second for a thousand
//     addresses.

package layer2

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"net/netip"
	"slices"
	"sync"
	"time"

	"github.com/go-logr/logr"
	"k8s.io/utils/clock"
)

// Default announcement timings; the notes at the top of this file say why.
const (
	DefaultAnnounceRepeats  = 2
	DefaultAnnounceInterval = time.Second
	DefaultAnnounceRefresh  = 30 * time.Second
)

var (
	// ErrAddressNotOwned is returned by Announce for an address the
	// Responder does not own.
	ErrAddressNotOwned = errors.New("address not owned by this responder")
	// ErrResponderClosed is returned by a Responder's methods after Close.
	ErrResponderClosed = errors.New("responder closed")
)

// ResponderOptions tunes a Responder. The zero value is ready to use.
type ResponderOptions struct {
	// Logger receives state changes (Info) and per-packet detail (V(1)).
	// The zero value discards.
	Logger logr.Logger
	// AnnounceRepeats is how many times the announcement of a newly gained
	// address is repeated after the first one: 0 means
	// DefaultAnnounceRepeats, a negative value none.
	AnnounceRepeats int
	// AnnounceInterval separates those repeats: 0 means
	// DefaultAnnounceInterval.
	AnnounceInterval time.Duration
	// RefreshInterval is how often an owned address is announced again once
	// the repeats are done: 0 means DefaultAnnounceRefresh, a negative value
	// never.
	RefreshInterval time.Duration
	// OnConflict is called when another MAC announces an address the
	// Responder owns; the Responder itself only reports it. It runs on the
	// receiving goroutine, outside any lock: it may call SetOwned, must not
	// call Close (which waits for that goroutine) and must not block.
	OnConflict func(addr netip.Addr, mac net.HardwareAddr)

	// Test hooks.
	clock       clock.Clock                                      // default: the real clock
	jitter      func(time.Duration) time.Duration                // default: shorten by up to 10%
	readBackoff time.Duration                                    // first pause after a read error
	trace       func(family string, out rxOutcome, frame []byte) // every frame read
}

// Responder answers ARP and NDP for the addresses it owns on one interface
// and announces them. Its methods are safe for concurrent use.
type Responder struct {
	link     respLink
	arp      frameConn
	ndp      frameConn   // nil when the host has no IPv6
	groups   groupJoiner // nil with ndp
	opts     ResponderOptions
	log      logr.Logger
	counters responderCounters

	// mu guards the owned set and the schedule. Frames for an owned address
	// are sent with mu held (read-locked for answers), so once SetOwned has
	// released an address, nothing more is sent for it.
	mu    sync.RWMutex
	owned map[netip.Addr]*announceState
	// members counts the owned addresses in each solicited-node group,
	// joined says which groups the kernel has joined.
	members map[netip.Addr]int
	joined  map[netip.Addr]bool
	timer   clock.Timer // fires at the earliest scheduled announcement
	closed  bool

	cancel    context.CancelFunc
	wg        sync.WaitGroup
	closeOnce sync.Once
	closeErr  error
}

// respLink is what the Responder needs to know about its interface.
type respLink struct {
	name  string
	index int
	mac   net.HardwareAddr
}

// NewResponder opens the sockets of a Responder on ifi and starts it, owning
// nothing. The sockets belong to the network namespace of the calling
// thread. It needs CAP_NET_RAW.
func NewResponder(ifi *net.Interface, opts ResponderOptions) (*Responder, error) {
	if ifi == nil {
		return nil, errors.New("new responder: no interface")
	}
	if len(ifi.HardwareAddr) != 6 {
		return nil, fmt.Errorf("interface %q: not an Ethernet interface (hardware address %q)", ifi.Name, ifi.HardwareAddr)
	}
	arpc, ndpc, groups, err := openResponderSockets(ifi)
	if err != nil {
		return nil, fmt.Errorf("interface %q: %w", ifi.Name, err)
	}
	link := respLink{name: ifi.Name, index: ifi.Index, mac: slices.Clone(ifi.HardwareAddr)}
	return newResponder(link, arpc, ndpc, groups, opts), nil
}

// newResponder starts a Responder on already open connections; ndpc and
// groups may be nil (no IPv6).
func newResponder(link respLink, arpc, ndpc frameConn, groups groupJoiner, opts ResponderOptions) *Responder {
	opts = responderDefaults(opts)
	ctx, cancel := context.WithCancel(context.Background())
	r := &Responder{
		link:    link,
		arp:     arpc,
		ndp:     ndpc,
		groups:  groups,
		opts:    opts,
		log:     opts.Logger.WithValues("interface", link.name),
		owned:   make(map[netip.Addr]*announceState),
		members: make(map[netip.Addr]int),
		joined:  make(map[netip.Addr]bool),
		timer:   opts.clock.NewTimer(time.Hour),
		cancel:  cancel,
	}
	r.timer.Stop()
	r.wg.Add(2)
	go r.receive(ctx, "arp", arpc, r.handleARP)
	go r.announceLoop(ctx)
	if ndpc != nil {
		r.wg.Add(1)
		go r.receive(ctx, "ndp", ndpc, r.handleNDP)
	}
	return r
}

func responderDefaults(o ResponderOptions) ResponderOptions {
	if o.Logger.GetSink() == nil {
		o.Logger = logr.Discard()
	}
	switch {
	case o.AnnounceRepeats == 0:
		o.AnnounceRepeats = DefaultAnnounceRepeats
	case o.AnnounceRepeats < 0:
		o.AnnounceRepeats = 0
	}
	if o.AnnounceInterval <= 0 {
		o.AnnounceInterval = DefaultAnnounceInterval
	}
	if o.RefreshInterval == 0 {
		o.RefreshInterval = DefaultAnnounceRefresh
	}
	if o.clock == nil {
		o.clock = clock.RealClock{}
	}
	if o.jitter == nil {
		o.jitter = func(d time.Duration) time.Duration { return d - rand.N(d/10+1) }
	}
	if o.readBackoff <= 0 {
		o.readBackoff = 100 * time.Millisecond
	}
	return o
}

// SetOwned replaces the set of addresses the Responder answers for. A
// released address is not answered or announced any more once SetOwned
// returns, and its solicited-node group is left; a gained one is announced
// before SetOwned returns, then on the schedule described at the top of
// this file. The new set always takes effect, minus invalid addresses; the
// error reports those, and multicast joins or first announcements that
// failed (the repeats retry the latter).
func (r *Responder) SetOwned(addrs []netip.Addr) error {
	want := make(map[netip.Addr]bool, len(addrs))
	var errs []error
	for _, a := range addrs {
		a, err := r.checkAddr(a)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		want[a] = true
	}

	r.mu.Lock()
	defer r.mu.Unlock()
	if r.closed {
		return fmt.Errorf("interface %q: set owned addresses: %w", r.link.name, ErrResponderClosed)
	}
	for a := range r.owned {
		if want[a] {
			continue
		}
		delete(r.owned, a)
		if a.Is6() {
			errs = append(errs, r.leaveLocked(a))
		}
		r.log.Info("stopped answering for address", "ip", a)
	}
	now := r.opts.clock.Now()
	for a := range want {
		if _, ok := r.owned[a]; ok {
			continue
		}
		if a.Is6() {
			errs = append(errs, r.joinLocked(a))
		}
		r.owned[a] = r.startSchedule(now)
		r.log.Info("answering for address", "ip", a)
		errs = append(errs, r.announceLocked(a))
	}
	r.rescheduleLocked(now)
	return errors.Join(errs...)
}

// checkAddr normalises an address to own, or says why it cannot be owned.
func (r *Responder) checkAddr(a netip.Addr) (netip.Addr, error) {
	a = a.Unmap().WithZone("")
	switch {
	case !a.IsValid():
		return a, fmt.Errorf("interface %q: cannot own the zero address", r.link.name)
	case a.IsUnspecified() || a.IsMulticast() || a.IsLoopback():
		return a, fmt.Errorf("interface %q: cannot own %s: not a unicast address", r.link.name, a)
	case a.Is6() && r.ndp == nil:
		return a, fmt.Errorf("interface %q: cannot own %s: IPv6 is disabled on this host", r.link.name, a)
	}
	return a, nil
}

// Owned returns the owned addresses, sorted.
func (r *Responder) Owned() []netip.Addr {
	r.mu.RLock()
	defer r.mu.RUnlock()
	out := make([]netip.Addr, 0, len(r.owned))
	for a := range r.owned {
		out = append(out, a)
	}
	slices.SortFunc(out, netip.Addr.Compare)
	return out
}

// Announce announces an owned address now and starts its repeats again,
// as on gaining it: for a caller that knows the network may have missed the
// previous ones, for instance after the link came back up. It also retries
// a multicast join that failed. It returns the errors of both.
func (r *Responder) Announce(addr netip.Addr) error {
	addr = addr.Unmap().WithZone("")
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.closed {
		return fmt.Errorf("interface %q: announce %s: %w", r.link.name, addr, ErrResponderClosed)
	}
	if _, ok := r.owned[addr]; !ok {
		return fmt.Errorf("interface %q: announce %s: %w", r.link.name, addr, ErrAddressNotOwned)
	}
	var errs []error
	if addr.Is6() && !r.joined[solicitedNode(addr)] {
		// The join failed when the address was gained; try again.
		r.members[solicitedNode(addr)]--
		errs = append(errs, r.joinLocked(addr))
	}
	now := r.opts.clock.Now()
	r.owned[addr] = r.startSchedule(now)
	r.rescheduleLocked(now)
	return errors.Join(append(errs, r.announceLocked(addr))...)
}

// Counters returns a snapshot of the Responder's counters.
func (r *Responder) Counters() ResponderCounters { return r.counters.snapshot() }

// Close stops the Responder: it stops answering and announcing, leaves its
// multicast groups, closes its sockets and waits for its goroutines. It
// does not say goodbye on the network: the next owner's announcements move
// the clients. Close is idempotent.
func (r *Responder) Close() error {
	r.closeOnce.Do(func() {
		r.mu.Lock()
		r.closed = true
		r.owned = map[netip.Addr]*announceState{}
		r.timer.Stop()
		r.mu.Unlock()

		r.cancel()
		errs := []error{r.arp.Close()}
		if r.ndp != nil {
			errs = append(errs, r.ndp.Close(), r.groups.Close())
		}
		r.wg.Wait()
		if err := errors.Join(errs...); err != nil {
			r.closeErr = fmt.Errorf("interface %q: close responder: %w", r.link.name, err)
		}
	})
	return r.closeErr
}
