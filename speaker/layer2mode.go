package speaker

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/go-logr/logr"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/tools/events"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/herald-lb/herald/api/v1alpha2"
	"github.com/herald-lb/herald/internal/eippool"
	"github.com/herald-lb/herald/speaker/layer2"
)

// The Layer2 mode writes the owner annotation on Services and events about
// it; the speakers' Leases live in the speaker's namespace (herald-system
// in the release manifest).
// +kubebuilder:rbac:groups="",resources=services,verbs=patch
// +kubebuilder:rbac:groups=events.k8s.io,resources=events,verbs=create;patch
// +kubebuilder:rbac:groups=coordination.k8s.io,namespace=herald-system,resources=leases,verbs=get;list;watch;create;update;patch

// Layer2 mode's event reasons on Services.
const (
	// ReasonLayer2Owner: this node now answers ARP/NDP for the address.
	ReasonLayer2Owner = "Layer2Owner"
)

// L2Membership is the view of the live speakers (layer2.Membership).
type L2Membership interface {
	Snapshot() layer2.Members
}

// L2Lease publishes the Eips this node cannot serve (layer2.NodeLease).
type L2Lease interface {
	SetUnavailableEips(eips []string)
}

// L2Carrier says whether an interface is up with carrier
// (layer2.CarrierWatch); nothing is answered before its first sync.
type L2Carrier interface {
	Up(iface string) bool
	Synced() bool
}

// L2Responder answers for the addresses of one interface
// (layer2.Responder).
type L2Responder interface {
	SetOwned(addrs []netip.Addr) error
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
type Layer2Mode struct {
	// Node is this node's name.
	Node    string
	Members L2Membership
	Lease   L2Lease
	Carrier L2Carrier
	// Routes resolves can_reach:<ip> interfaces.
	Routes     layer2.RouteLookup
	Responders L2ResponderFactory
	// Client writes the owner annotation on Services; Recorder the events.
	Client   client.Client
	Recorder events.EventRecorder
	// Trigger, when set, is poked when a conflict should make the mode
	// re-apply (the reconciler's trigger).
	Trigger func()
	// HandOverTimeout bounds how long Shutdown keeps answering for the
	// addresses it owned, waiting to hear their next owners announce them.
	HandOverTimeout time.Duration
	Log             logr.Logger
	Metrics         *Metrics

	mu         sync.Mutex
	responders map[string]L2Responder // by interface
	owned      map[netip.Addr]string  // address -> interface, as last applied
	frozen     bool
	// heard is when another node was last heard announcing an address.
	heard     map[netip.Addr]time.Time
	heardCh   chan struct{}
	annotated map[string]string // service -> node written, until the cache shows it
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
// ones this node got, on their pools' interfaces.
func (m *Layer2Mode) Apply(ctx context.Context, snap Snapshot, d Desired) error {
	if !m.Carrier.Synced() {
		// Every interface would look down; the carrier watch's first
		// sync triggers another reconcile.
		return nil
	}
	var pools []eippool.Pool
	for _, p := range snap.Pools {
		if p.Protocol == v1alpha2.ProtocolLayer2 {
			pools = append(pools, p)
		}
	}
	ifaces := layer2.ResolveEipInterfaces(pools, m.Routes, m.Carrier.Up)
	m.Lease.SetUnavailableEips(ifaces.UnavailableNames())
	for eip, why := range ifaces.Unavailable {
		m.Log.V(1).Info("eip not served on this node", "eip", eip, "reason", why.Error())
	}

	members := m.Members.Snapshot()
	claims := make([]layer2.AddressClaim, 0, len(d.Layer2))
	for _, c := range d.Layer2 {
		claims = append(claims, layer2.AddressClaim{IP: c.IP, Eip: c.Eip, Nodes: c.Nodes})
	}
	owners := layer2.AssignOwners(claims, members)

	m.mu.Lock()
	m.frozen = members.Frozen
	want := map[string][]netip.Addr{}
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
		want[iface] = append(want[iface], c.IP)
	}
	if !members.Frozen {
		clear(m.heard)
	}
	err := m.applyResponders(want)
	gained := diffOwned(m.owned, owned)
	m.owned = owned
	m.mu.Unlock()
	m.Metrics.layer2(len(owned), len(members.Live), members.Frozen)

	for _, a := range gained {
		m.Log.Info("answering ARP/NDP", "ip", a.String(), "interface", owned[a])
	}
	return errors.Join(err, m.annotate(ctx, d.Layer2, owners))
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
func (m *Layer2Mode) conflict(a netip.Addr, mac net.HardwareAddr) {
	m.mu.Lock()
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
	m.mu.Unlock()
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
			errs = append(errs, fmt.Errorf("service %s: annotate layer2 owner: %w", c.Service, client.IgnoreNotFound(err)))
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

// Shutdown hands over: this node's lease is released by then (the
// manager stopped it), so the others reassign its addresses and announce
// them; it keeps answering until it has heard every address announced by
// another node, at most HandOverTimeout, then stops.
func (m *Layer2Mode) Shutdown(ctx context.Context) error {
	timeout := m.HandOverTimeout
	if timeout == 0 {
		timeout = DefaultHandOverTimeout
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	m.mu.Lock()
	m.heardCh = make(chan struct{}, 1)
	since := time.Now()
	m.mu.Unlock()
	for {
		m.mu.Lock()
		var waiting []netip.Addr
		for a := range m.owned {
			if !m.heard[a].After(since) {
				waiting = append(waiting, a)
			}
		}
		ch := m.heardCh
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
