package speaker

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/go-logr/logr"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/client-go/tools/events"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/herald-lb/herald/api/v1alpha2"
	"github.com/herald-lb/herald/internal/bgpconfig"
	"github.com/herald-lb/herald/speaker/bgp"
)

// BGPRouter is what the BGP mode needs of speaker/bgp's Router; a fake
// stands in for it in tests.
type BGPRouter interface {
	Apply(ctx context.Context, cfg bgp.Config, paths []bgp.Path) error
	Stop(ctx context.Context, graceful bool) error
	PeerStatus(ctx context.Context) ([]bgp.PeerStatus, error)
}

var _ BGPRouter = (*bgp.Router)(nil)

// BGPMode advertises this node's BGP routes (Service addresses as /32 and
// /128, and BgpConf's Service ranges) to the BgpPeers that select the node.
type BGPMode struct {
	// Node is this node's name.
	Node   string
	Router BGPRouter
	// Namespace is Herald's (the speaker's own): the only one whose
	// Secrets may hold peer passwords, and the one a reference without a
	// namespace means.
	Namespace string
	// Secrets reads the Secrets that hold peer passwords; the API reader,
	// so the speaker caches no Secret.
	Secrets client.Reader
	Log     logr.Logger
	// Leaving tells at Shutdown whether Herald is being uninstalled
	// (UninstallCheck.Leaving); nil means never. Only graceful restart
	// asks: an uninstall withdraws instead of leaving the routers to keep
	// the routes for a restart that will not come.
	Leaving func(context.Context) (bool, string)
	// Interfaces reads the node's addresses for BgpPeers' sourceAddress
	// rules; read only while some BgpPeer has one. Nil means unknown: such
	// peers do not start.
	Interfaces InterfaceAddrs
	// Recorder, when set, records a Warning event on a BgpPeer whose
	// sourceAddress rule finds no address on this node.
	Recorder events.EventRecorder

	// sourceInUse says whether some BgpPeer has a sourceAddress rule, for
	// the AddrPoller.
	sourceInUse atomic.Bool
	// BFD runs BFD beside the sessions whose BgpPeer enables it; nil
	// means none (bgpbfd.go).
	BFD *BGPBFD

	mu sync.Mutex
	// sourceEvents is the sourceAddress problem last recorded per BgpPeer,
	// so that each is an event once.
	sourceEvents map[string]string
	// last is the configuration last applied, for status and Shutdown.
	last bgp.Config
	// shadowLogged maps each BgpPeer this node leaves out for an older one
	// with the same neighbour to that older one, as last logged, so that
	// each change is logged once and not on every reconcile.
	shadowLogged map[string]string
	// notesLogged are the advertisement notes (bgp.Advertise) last logged,
	// so that each is logged once while it lasts.
	notesLogged map[string]bool

	secrets secretCache
}

// secretTTL is how long a peer password read from its Secret is reused.
// The speaker does not watch Secrets (that would mean caching every Secret
// in the cluster on every node); the reconciler's periodic resync picks a
// rotated password up within secretTTL plus the resync period.
const secretTTL = 30 * time.Second

// secretCache keeps the passwords read from Secrets for secretTTL, so that
// a burst of reconciles does not become a burst of Secret reads.
type secretCache struct {
	mu      sync.Mutex
	entries map[v1alpha2.SecretKeyRef]secretEntry
}

type secretEntry struct {
	value string
	err   error
	read  time.Time
}

func (c *secretCache) get(ref v1alpha2.SecretKeyRef, now time.Time, read func() (string, error)) (string, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if e, ok := c.entries[ref]; ok && now.Sub(e.read) < secretTTL {
		return e.value, e.err
	}
	v, err := read()
	if c.entries == nil {
		c.entries = map[v1alpha2.SecretKeyRef]secretEntry{}
	}
	c.entries[ref] = secretEntry{value: v, err: err, read: now}
	return v, err
}

// Apply translates the BGP resources for this node and makes the router
// run them with the desired routes.
func (m *BGPMode) Apply(ctx context.Context, snap Snapshot, d Desired) error {
	node := bgp.Node{Name: m.Node}
	if snap.Node != nil {
		node.Labels = snap.Node.Labels
		node.Addresses = nodeAddresses(snap.Node)
	}
	if m.usesSourceAddress(snap.BgpPeers) && m.Interfaces != nil {
		ifs, err := m.Interfaces()
		if err != nil {
			m.Log.Error(err, "cannot read the node's addresses; BgpPeers with a sourceAddress rule do not start")
		}
		node.Interfaces = ifs
	}
	peers, shadowed := m.selectPeers(snap.BgpPeers, node.Labels)
	cfg, err := bgp.Translate(snap.BgpConf, peers, node, m.password(ctx))
	if errors.Is(err, bgp.ErrNoConf) {
		cfg, err = bgp.Config{}, nil // BGP off: withdraw everything.
		shadowed = nil
	}
	if err != nil {
		return fmt.Errorf("bgpconf %q: %w", v1alpha2.BgpConfName, err)
	}
	reportShadowed(&cfg, shadowed)
	m.recordSourceProblems(snap.BgpPeers, cfg)
	m.BFD.SetPeers(ctx, &cfg, peers)
	for _, p := range cfg.ConfProblems {
		m.Log.Info("bgpconf setting not honoured", "bgpconf", v1alpha2.BgpConfName, "problem", p)
	}
	for peer, problems := range cfg.PeerProblems {
		m.Log.V(1).Info("bgppeer settings not honoured", "peer", peer, "problems", strings.Join(problems, "; "))
	}
	var aliases []v1alpha2.CommunityAlias
	if snap.BgpConf != nil {
		aliases = snap.BgpConf.Spec.Communities
	}
	paths, notes := bgp.Advertise(routesFor(d.BGP, cfg, node.Addresses), snap.BgpAdvertisements, aliases, cfg.Peers)
	m.logNotes(notes)
	if err := m.Router.Apply(ctx, cfg, paths); err != nil {
		return err
	}
	m.mu.Lock()
	m.last = cfg
	m.mu.Unlock()
	return nil
}

// selectPeers leaves out the BgpPeers that select this node but are
// shadowed on it by an older BgpPeer with the same neighbour address, as
// bgpconfig.NodePeers decides; the controller calls the same function to
// put a condition on the shadowed BgpPeer, so both agree on which one
// runs. Each shadowed BgpPeer is logged once per change of its winner.
// The rest, including the BgpPeers that do not select the node, go to
// bgp.Translate, which picks the ones that select it and reports the
// problems of the others.
func (m *BGPMode) selectPeers(all []v1alpha2.BgpPeer, nodeLabels map[string]string) ([]v1alpha2.BgpPeer, []bgpconfig.Shadow) {
	_, shadowed := bgpconfig.NodePeers(all, nodeLabels)
	left := make(map[string]string, len(shadowed))
	for _, s := range shadowed {
		left[s.Peer] = s.Winner
	}
	m.mu.Lock()
	for _, s := range shadowed {
		if m.shadowLogged[s.Peer] != s.Winner {
			m.Log.Info("bgppeer not started on this node: an older BgpPeer has the same neighbour address",
				"peer", s.Peer, "olderPeer", s.Winner, "ip", s.Neighbor, "node", m.Node)
		}
	}
	m.shadowLogged = left
	m.mu.Unlock()
	if len(shadowed) == 0 {
		return all, nil
	}
	peers := make([]v1alpha2.BgpPeer, 0, len(all)-len(shadowed))
	for i := range all {
		if _, out := left[all[i].Name]; !out {
			peers = append(peers, all[i])
		}
	}
	return peers, shadowed
}

// reportShadowed records why each shadowed BgpPeer runs no session here,
// so that its status entry for this node says so (see BGPStatusWriter).
func reportShadowed(cfg *bgp.Config, shadowed []bgpconfig.Shadow) {
	for _, s := range shadowed {
		if cfg.PeerProblems == nil {
			cfg.PeerProblems = map[string][]string{}
		}
		cfg.PeerProblems[s.Peer] = append(cfg.PeerProblems[s.Peer], fmt.Sprintf(
			"spec.conf.neighborAddress: %s is also the neighbour of the older BgpPeer %q, which selects this node too and peers with it here; "+
				"a node keeps one session per neighbour, so this peer is not started on this node",
			s.Neighbor, s.Winner))
	}
}

// Shutdown withdraws every route, unless graceful restart is configured
// and Herald is not being uninstalled (Leaving): then the sessions are
// dropped without a NOTIFICATION, so the routers keep the routes while the
// speaker restarts.
func (m *BGPMode) Shutdown(ctx context.Context) error {
	m.mu.Lock()
	graceful := false
	for _, p := range m.last.Peers {
		graceful = graceful || p.GracefulRestart.Enabled
	}
	m.mu.Unlock()
	if graceful && m.Leaving != nil {
		leaving, why := m.Leaving(ctx)
		if leaving {
			m.Log.Info("Herald is being uninstalled: withdrawing the routes instead of a graceful restart", "reason", why)
			graceful = false
		} else {
			m.Log.Info("stopping for a restart: the routers keep the routes (graceful restart)", "reason", why)
		}
	}
	m.Log.Info("stopping BGP", "gracefulRestart", graceful)
	return m.Router.Stop(ctx, graceful)
}

// LastConfig returns the configuration last applied.
func (m *BGPMode) LastConfig() bgp.Config {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.last
}

// The speaker's token is on every node, so it may get Secrets in Herald's
// namespace only (a Role there, herald-system in the release manifest),
// never cluster-wide, and list or watch none: it reads only the Secrets
// BgpPeers name. The webhook refuses a BgpPeer naming a Secret elsewhere.
// +kubebuilder:rbac:groups="",namespace=herald-system,resources=secrets,verbs=get

// errSecretNamespace: a BgpPeer names a password Secret outside Herald's
// namespace, which the speaker is not allowed to read.
var errSecretNamespace = errors.New("outside Herald's namespace")

func (m *BGPMode) password(ctx context.Context) bgp.PasswordFunc {
	return func(ref v1alpha2.SecretKeyRef) (string, error) {
		ns := ref.Namespace
		if ns == "" {
			ns = m.Namespace
		}
		if ns != m.Namespace {
			// One that slipped past admission (created while the webhook
			// was down): refused here, without asking the API server.
			return "", fmt.Errorf("secret %s/%s: %w: the speakers read password Secrets only in namespace %s; move the Secret there",
				ns, ref.Name, errSecretNamespace, m.Namespace)
		}
		ref.Namespace = ns
		return m.secrets.get(ref, time.Now(), func() (string, error) {
			key := ref.Key
			if key == "" {
				key = "password"
			}
			var s corev1.Secret
			if err := m.Secrets.Get(ctx, client.ObjectKey{Namespace: ns, Name: ref.Name}, &s); err != nil {
				return "", fmt.Errorf("secret %s/%s: %w", ns, ref.Name, err)
			}
			v, ok := s.Data[key]
			if !ok {
				return "", fmt.Errorf("secret %s/%s has no key %q", ns, ref.Name, key)
			}
			return string(v), nil
		})
	}
}

// usesSourceAddress reports whether some BgpPeer has a sourceAddress rule,
// and remembers it for SourceAddressInUse.
func (m *BGPMode) usesSourceAddress(peers []v1alpha2.BgpPeer) bool {
	uses := slices.ContainsFunc(peers, func(p v1alpha2.BgpPeer) bool { return p.Spec.SourceAddress != nil })
	m.sourceInUse.Store(uses)
	return uses
}

// SourceAddressInUse tells the AddrPoller whether to watch the node's
// addresses.
func (m *BGPMode) SourceAddressInUse() bool { return m.sourceInUse.Load() }

// recordSourceProblems records a Warning event on each BgpPeer whose
// sourceAddress rule finds no address on this node, once per change of the
// reason; the BgpPeer's status entry for the node carries it too
// (BGPStatusWriter).
func (m *BGPMode) recordSourceProblems(peers []v1alpha2.BgpPeer, cfg bgp.Config) {
	m.mu.Lock()
	defer m.mu.Unlock()
	now := map[string]string{}
	for i := range peers {
		bp := &peers[i]
		for _, p := range cfg.PeerProblems[bp.Name] {
			if !strings.HasPrefix(p, "spec.sourceAddress") {
				continue
			}
			now[bp.Name] = p
			if m.sourceEvents[bp.Name] == p {
				continue
			}
			m.Log.Info("bgppeer not started: no source address", "peer", bp.Name, "node", m.Node, "reason", p)
			if m.Recorder != nil {
				m.Recorder.Eventf(bp, nil, corev1.EventTypeWarning, ReasonNoSourceAddress, "Peer", "node %s: %s", m.Node, p)
			}
		}
	}
	m.sourceEvents = now
}

// ReasonNoSourceAddress is the reason of the event on a BgpPeer whose
// sourceAddress rule finds no address on a node.
const ReasonNoSourceAddress = "NoSourceAddress"

// logNotes logs each note of the advertisements once while it lasts.
func (m *BGPMode) logNotes(notes []string) {
	m.mu.Lock()
	defer m.mu.Unlock()
	now := make(map[string]bool, len(notes))
	for _, n := range notes {
		now[n] = true
		if !m.notesLogged[n] {
			m.Log.Info("bgp advertisement", "note", n)
		}
	}
	m.notesLogged = now
}

// routesFor turns routes into the router's routes; host routes and ranges
// alike. The next hop is left to the router (the session's local address,
// so the router's routes point at this node on the interface facing it),
// except for IPv6 routes when no session runs over IPv6: an IPv4 session
// would carry an IPv4-mapped next hop few routers can forward to, so the
// node's own IPv6 address is given.
func routesFor(routes []Route, cfg bgp.Config, nodeAddrs []netip.Addr) []bgp.Route {
	v6Session := false
	for _, p := range cfg.Peers {
		v6Session = v6Session || p.Address.Is6()
	}
	var v6NextHop netip.Addr
	for _, a := range nodeAddrs {
		if a.Is6() && !v6NextHop.IsValid() {
			v6NextHop = a
		}
	}
	out := make([]bgp.Route, 0, len(routes))
	for _, r := range routes {
		br := bgp.Route{Prefix: r.Prefix, Eip: r.Eip, Local: r.Local}
		if r.Prefix.Addr().Is6() && !v6Session {
			br.NextHop = v6NextHop
		}
		out = append(out, br)
	}
	return out
}

// nodeAddresses are the node's InternalIPs, then its ExternalIPs.
func nodeAddresses(n *corev1.Node) []netip.Addr {
	var out []netip.Addr
	for _, kind := range []corev1.NodeAddressType{corev1.NodeInternalIP, corev1.NodeExternalIP} {
		for _, a := range n.Status.Addresses {
			if a.Type != kind {
				continue
			}
			if ip, err := netip.ParseAddr(a.Address); err == nil {
				out = append(out, ip)
			}
		}
	}
	return out
}
