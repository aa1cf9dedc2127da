package speaker

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"net"
	"net/netip"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/go-logr/logr"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/tools/events"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/herald-lb/herald/api/v1alpha2"
	"github.com/herald-lb/herald/internal/eippool"
	"github.com/herald-lb/herald/speaker/layer2"
)

// The Layer2 mode writes the owner annotation on Services (and VIP mode the
// holder annotation), nothing else on them (the release's
// ValidatingAdmissionPolicy refuses any other change from the speaker:
// RBAC cannot narrow a patch), and events about it in the Services'
// namespaces. The speakers' Leases live in the
// speaker's namespace (herald-system in the release manifest): each
// speaker creates and updates its own and watches the others'; none is
// patched or deleted.
// +kubebuilder:rbac:groups="",resources=services,verbs=patch
// +kubebuilder:rbac:groups=events.k8s.io,resources=events,verbs=create;patch
// +kubebuilder:rbac:groups=coordination.k8s.io,namespace=herald-system,resources=leases,verbs=get;list;watch;create;update

// Layer2 mode's event reasons on Services.
const (
	// ReasonLayer2Owner: this node now answers ARP/NDP for the address.
	ReasonLayer2Owner = "Layer2Owner"
)

// L2Carrier says whether an interface is up with carrier
// (layer2.CarrierWatch); nothing is answered before its first sync.
type L2Carrier interface {
	Up(iface string) bool
	// Exists is whether the interface exists at all, carrier or not: what
	// vip pools need (keepalived faults on carrier loss by itself).
	Exists(iface string) bool
	Synced() bool
}

// L2Responder answers for the addresses of one interface
// (layer2.Responder).
type L2Responder interface {
	SetOwned(addrs []netip.Addr) error
	Counters() layer2.ResponderCounters
	Close() error
}

// L2ResponderFactory opens a responder on the named interface; conflicts
// it hears (another MAC announcing an address it owns) go to onConflict.
type L2ResponderFactory func(iface string, onConflict func(netip.Addr, net.HardwareAddr)) (L2Responder, error)

// Layer2Mode answers ARP and NDP for the layer2 addresses this node owns.
// Every speaker assigns every address the same way (layer2.AssignOwners
// over the live speakers' leases), so no two nodes answer for one address
// while their views agree; see speaker/layer2's package documentation for
// the design, the timings and what a node cut off from the API server does.
// The membership it runs is VIP mode's too (VIPMembers).
type Layer2Mode struct {
	// Node is this node's name.
	Node string
	// Sessions starts the Lease and membership view when the first layer2
	// or vip pool appears; the session is stopped when the last one goes.
	// VIP mode reads the view through VIPMembers.
	Sessions L2SessionFactory
	Carrier  L2Carrier
	// Routes resolves can_reach:<ip> interfaces.
	Routes layer2.RouteLookup
	// InterfaceAddrs lists an interface's addresses, from which the ones
	// this node publishes for VIP mode are picked (tests fake it); nil
	// means the host's, through net.InterfaceByName.
	InterfaceAddrs func(iface string) ([]netip.Addr, error)
	Responders     L2ResponderFactory
	// Client writes the owner annotation on Services; Recorder the events.
	Client   client.Client
	Recorder events.EventRecorder
	// Trigger, when set, is poked when the mode should re-apply: the
	// membership view changed, or a conflict was heard while it is frozen
	// (the reconciler's trigger). It must not block: it is called from a
	// responder's receive goroutine, which Close waits for.
	Trigger func()
	// HandOverTimeout bounds how long Shutdown keeps answering for the
	// addresses it owned, waiting to hear their next owners announce them.
	HandOverTimeout time.Duration
	Log             logr.Logger
	Metrics         *Metrics

	// mu guards the fields up to conflictMu. It is held around calls into
	// the session and the responders (Stop, SetOwned, Close), which wait
	// for their goroutines; so nothing those goroutines call may take it:
	// they reach the mode only through conflict, which takes conflictMu,
	// and Trigger, which must not block.
	mu         sync.Mutex
	session    L2Session
	stopWatch  chan struct{}          // ends the goroutine forwarding session changes
	responders map[string]L2Responder // by interface
	// closedCounts keeps the counters of closed responders, by interface,
	// so that the exported counters never go back.
	closedCounts map[string]layer2.ResponderCounters
	owned        map[netip.Addr]string // address -> interface, as last applied
	annotated    map[string]string     // service -> node written, until the cache shows it
	// vipRefused is what VIP mode last asked to publish
	// (SetVIPConfigRefused), kept for a session started later.
	vipRefused []string

	// conflictMu guards the conflict state below. It is a leaf: conflict
	// takes it on a responder's receive goroutine, which Close waits for,
	// so it is never held while taking mu or calling anything.
	conflictMu sync.Mutex
	frozen     bool
	// heard is when another node was last heard announcing an address.
	heard   map[netip.Addr]time.Time
	heardCh chan struct{}
}

// DefaultHandOverTimeout is Layer2Mode.HandOverTimeout's default.
const DefaultHandOverTimeout = 2 * time.Second

// Owned returns the addresses this node answers for, sorted.
func (m *Layer2Mode) Owned() []netip.Addr {
	m.mu.Lock()
	defer m.mu.Unlock()
	out := make([]netip.Addr, 0, len(m.owned))
	for a := range m.owned {
		out = append(out, a)
	}
	slices.SortFunc(out, netip.Addr.Compare)
	return out
}

// Apply assigns every claimed address to a live node and answers for the
// ones this node got, on their pools' interfaces. It also keeps the
// membership session VIP mode reads (VIPMembers) running while vip pools
// exist, and publishes in this node's Lease the vip Eips it cannot serve
// and its addresses for them.
func (m *Layer2Mode) Apply(ctx context.Context, snap Snapshot, d Desired) error {
	if !m.Carrier.Synced() {
		// Every interface would look down; the carrier watch's first
		// sync triggers another reconcile.
		return nil
	}
	var pools, vipPools []eippool.Pool
	for _, p := range snap.Pools {
		switch p.Protocol {
		case v1alpha2.ProtocolLayer2:
			pools = append(pools, p)
		case v1alpha2.ProtocolVIP:
			vipPools = append(vipPools, p)
		}
	}
	session, err := m.ensureSession(len(pools)+len(vipPools) > 0)
	if err != nil {
		return err
	}
	if session == nil {
		// No layer2 or vip pool: nothing to answer for, no Lease to renew.
		m.Metrics.layer2(0, 0, false)
		return m.applyOwned(nil, false)
	}
	// Layer2 claims name layer2 Eips only, so the vip pools resolved here
	// serve the Lease's annotations and never a responder. A vip pool is
	// unavailable only where its interface is missing: carrier loss is
	// keepalived's to handle (FAULT in milliseconds), and a Lease change
	// would make every node re-render and reload in the middle of the
	// failover VRRP is running.
	ifaces := layer2.ResolveEipInterfaces(pools, m.Routes, m.Carrier.Up)
	vipIfaces := layer2.ResolveEipInterfaces(vipPools, m.Routes, m.Carrier.Exists)
	maps.Copy(ifaces.Available, vipIfaces.Available)
	maps.Copy(ifaces.Unavailable, vipIfaces.Unavailable)
	// Eips this node's labels leave out count as unavailable here too:
	// the Lease tells the others, and this node stops answering now.
	ifaces = withhold(ifaces, d.Ineligible)
	session.SetUnavailableEips(ifaces.UnavailableNames())
	session.SetAddresses(m.vipSourceAddrs(snap.Pools, vipPools, ifaces))
	m.mu.Lock()
	vipRefused := m.vipRefused
	m.mu.Unlock()
	session.SetVIPConfigRefused(vipRefused)
	for eip, why := range ifaces.Unavailable {
		m.Log.V(1).Info("eip not served on this node", "eip", eip, "reason", why.Error())
	}

	members := session.Snapshot()
	claims := make([]layer2.AddressClaim, 0, len(d.Layer2))
	for _, c := range d.Layer2 {
		claims = append(claims, layer2.AddressClaim{IP: c.IP, Eip: c.Eip, Nodes: c.Nodes})
	}
	owners := layer2.AssignOwners(claims, members)

	m.conflictMu.Lock()
	m.frozen = members.Frozen
	owned := map[netip.Addr]string{}
	for _, c := range d.Layer2 {
		if owners[c.IP] != m.Node {
			continue
		}
		if _, done := owned[c.IP]; done {
			continue
		}
		iface, ok := ifaces.Available[c.Eip]
		if !ok {
			continue // our own lease says so too; the others take it
		}
		if members.Frozen && !m.heard[c.IP].IsZero() {
			// Cut off from the API server, and another node announced
			// this address since: the others, who can see the leases,
			// gave it to that node. Yield.
			continue
		}
		owned[c.IP] = iface
	}
	if !members.Frozen {
		clear(m.heard)
	}
	m.conflictMu.Unlock()
	err = m.applyOwned(owned, members.Frozen)
	m.Metrics.layer2(len(owned), len(members.Live), members.Frozen)
	return errors.Join(err, m.annotate(ctx, d.Layer2, owners))
}

// applyOwned makes the responders answer for owned (address -> interface)
// and nothing else.
func (m *Layer2Mode) applyOwned(owned map[netip.Addr]string, frozen bool) error {
	want := map[string][]netip.Addr{}
	for a, iface := range owned {
		want[iface] = append(want[iface], a)
	}
	m.mu.Lock()
	err := m.applyResponders(want)
	gained := diffOwned(m.owned, owned)
	released := diffOwned(owned, m.owned)
	m.owned = owned
	m.mu.Unlock()
	for _, a := range gained {
		m.Log.Info("answering ARP/NDP", "ip", a.String(), "interface", owned[a], "frozenView", frozen)
	}
	for _, a := range released {
		m.Log.Info("no longer answering ARP/NDP", "ip", a.String())
	}
	return err
}

// applyResponders makes each interface's responder own want[iface],
// opening responders as needed and closing those with nothing left.
func (m *Layer2Mode) applyResponders(want map[string][]netip.Addr) error {
	if m.responders == nil {
		m.responders = map[string]L2Responder{}
	}
	var errs []error
	for iface, addrs := range want {
		r, ok := m.responders[iface]
		if !ok {
			var err error
			r, err = m.Responders(iface, m.conflict)
			if err != nil {
				errs = append(errs, fmt.Errorf("interface %q: open responder: %w", iface, err))
				continue
			}
			m.responders[iface] = r
		}
		slices.SortFunc(addrs, netip.Addr.Compare)
		if err := r.SetOwned(addrs); err != nil {
			errs = append(errs, fmt.Errorf("interface %q: %w", iface, err))
		}
	}
	for iface, r := range m.responders {
		if _, ok := want[iface]; ok {
			continue
		}
		if err := r.SetOwned(nil); err != nil {
			errs = append(errs, fmt.Errorf("interface %q: %w", iface, err))
		}
		m.keepCountsLocked(iface, r)
		if err := r.Close(); err != nil {
			errs = append(errs, fmt.Errorf("interface %q: close responder: %w", iface, err))
		}
		delete(m.responders, iface)
	}
	return errors.Join(errs...)
}

// conflict records that another MAC announced an address we own: the sign
// of a new owner (after a hand-over, or elected by the others while this
// node was cut off).
//
// It runs on the responder's receive goroutine, which Close waits for
// while m.mu is held: it must take nothing but conflictMu.
func (m *Layer2Mode) conflict(a netip.Addr, mac net.HardwareAddr) {
	m.conflictMu.Lock()
	if m.heard == nil {
		m.heard = map[netip.Addr]time.Time{}
	}
	m.heard[a] = time.Now()
	frozen := m.frozen
	if m.heardCh != nil {
		select {
		case m.heardCh <- struct{}{}:
		default:
		}
	}
	m.conflictMu.Unlock()
	m.Log.V(1).Info("another node announces an address this node answers for", "ip", a.String(), "mac", mac.String(), "frozenView", frozen)
	if frozen && m.Trigger != nil {
		m.Trigger()
	}
}

// annotate writes the owner annotation on the Services whose address this
// node now owns (only the owner writes, so there is one writer per
// address) and records an event for each change.
func (m *Layer2Mode) annotate(ctx context.Context, claims []Layer2Claim, owners map[netip.Addr]string) error {
	if m.Client == nil {
		return nil
	}
	m.mu.Lock()
	if m.annotated == nil {
		m.annotated = map[string]string{}
	}
	var todo []Layer2Claim
	for _, c := range claims {
		if owners[c.IP] != m.Node {
			// Not ours (any more): forget what we wrote, so that the
			// annotation is written again if the address comes back.
			delete(m.annotated, c.Service)
			continue
		}
		if c.Annotated == m.Node {
			delete(m.annotated, c.Service) // the cache caught up
			continue
		}
		if m.annotated[c.Service] == m.Node {
			continue // written; the cache has not caught up yet
		}
		todo = append(todo, c)
	}
	m.mu.Unlock()

	var errs []error
	for _, c := range todo {
		ns, name, _ := strings.Cut(c.Service, "/")
		patch := fmt.Appendf(nil, `{"metadata":{"annotations":{%q:%q}}}`, v1alpha2.AnnotationLayer2Node, m.Node)
		svc := &corev1.Service{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name}}
		if err := m.Client.Patch(ctx, svc, client.RawPatch(types.MergePatchType, patch)); err != nil {
			if apierrors.IsNotFound(err) {
				// Deleted since the snapshot: nothing to annotate, and
				// its deletion triggers the next reconcile.
				m.Log.V(1).Info("service gone before its owner annotation was written", "service", c.Service)
				continue
			}
			errs = append(errs, fmt.Errorf("service %s: annotate layer2 owner: %w", c.Service, err))
			continue
		}
		m.mu.Lock()
		m.annotated[c.Service] = m.Node
		m.mu.Unlock()
		if m.Recorder != nil {
			m.Recorder.Eventf(svc, nil, corev1.EventTypeNormal, ReasonLayer2Owner, "Announce",
				"node %s answers ARP/NDP for %s (was %q)", m.Node, c.IP, c.Annotated)
		}
	}
	return errors.Join(errs...)
}

// Shutdown hands over: it releases this node's Lease, so that the others
// reassign its addresses and announce them, and keeps answering until it
// has heard every address announced by another node, at most
// HandOverTimeout, then stops.
func (m *Layer2Mode) Shutdown(ctx context.Context) error {
	timeout := m.HandOverTimeout
	if timeout == 0 {
		timeout = DefaultHandOverTimeout
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	m.conflictMu.Lock()
	ch := make(chan struct{}, 1)
	m.heardCh = ch
	since := time.Now()
	m.conflictMu.Unlock()
	// Released at once: the others drop this node and announce its
	// addresses, which the loop below waits to hear.
	m.mu.Lock()
	m.stopSessionLocked()
	m.mu.Unlock()
	for {
		m.mu.Lock()
		m.conflictMu.Lock()
		var waiting []netip.Addr
		for a := range m.owned {
			if !m.heard[a].After(since) {
				waiting = append(waiting, a)
			}
		}
		m.conflictMu.Unlock()
		m.mu.Unlock()
		if len(waiting) == 0 {
			break
		}
		select {
		case <-ch:
			continue
		case <-ctx.Done():
			m.Log.Info("handing over: no other node announced these addresses in time; stopping anyway", "ips", fmt.Sprint(waiting), "waited", time.Since(since).Round(time.Millisecond).String())
		}
		break
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	var errs []error
	for iface, r := range m.responders {
		m.keepCountsLocked(iface, r)
		if err := r.Close(); err != nil {
			errs = append(errs, fmt.Errorf("interface %q: %w", iface, err))
		}
	}
	m.responders, m.owned = nil, nil
	return errors.Join(errs...)
}

// diffOwned lists the addresses in now that were not in before, sorted.
func diffOwned(before, now map[netip.Addr]string) []netip.Addr {
	var out []netip.Addr
	for a := range now {
		if _, ok := before[a]; !ok {
			out = append(out, a)
		}
	}
	slices.SortFunc(out, netip.Addr.Compare)
	return out
}
