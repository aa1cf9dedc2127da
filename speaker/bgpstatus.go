package speaker

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/go-logr/logr"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/herald-lb/herald/api/v1alpha2"
	"github.com/herald-lb/herald/speaker/bgp"
)

// DefaultStatusPeriod is how often the BGP status of this node is
// refreshed when no session changes; session changes are written sooner,
// but never more than once per MinStatusInterval.
const (
	DefaultStatusPeriod = 30 * time.Second
	MinStatusInterval   = 2 * time.Second
)

// Status is written with merge patches only, never read back.
// +kubebuilder:rbac:groups=network.kubesphere.io,resources=bgppeers/status;bgpconfs/status,verbs=patch

// BGPStatusWriter writes this node's view of every BGP session into
// BgpPeer.status.nodesPeerStatus[node] and its router identity into
// BgpConf.status.nodesConfStatus[node]. Each node writes only its own map
// entry, with a merge patch, so nodes never conflict; writes happen only
// when something changed, at a bounded rate.
type BGPStatusWriter struct {
	Node   string
	Mode   *BGPMode
	Client client.Client
	Log    logr.Logger
	// Period between refreshes; zero means DefaultStatusPeriod.
	Period time.Duration
	// Metrics, when set, gets the session state per peer.
	Metrics *Metrics

	trigger chan struct{}
	written map[string]string // kind/name/UID -> JSON last written
}

// Trigger asks for a refresh soon, e.g. on a session going up or down.
func (w *BGPStatusWriter) Trigger() {
	select {
	case w.trigger <- struct{}{}:
	default:
	}
}

// Init must run before Trigger or Start.
func (w *BGPStatusWriter) Init() {
	w.trigger = make(chan struct{}, 1)
	w.written = map[string]string{}
}

// Start runs until ctx ends; it implements manager.Runnable.
func (w *BGPStatusWriter) Start(ctx context.Context) error {
	period := w.Period
	if period == 0 {
		period = DefaultStatusPeriod
	}
	tick := time.NewTicker(period)
	defer tick.Stop()
	for {
		if err := w.write(ctx); err != nil && ctx.Err() == nil {
			w.Log.Error(err, "write BGP status", "node", w.Node)
		}
		select {
		case <-ctx.Done():
			return nil
		case <-tick.C:
		case <-w.trigger:
		}
		select { // bound the rate whatever triggers
		case <-ctx.Done():
			return nil
		case <-time.After(MinStatusInterval):
		}
	}
}

// NeedLeaderElection is false: every node writes its own status.
func (w *BGPStatusWriter) NeedLeaderElection() bool { return false }

func (w *BGPStatusWriter) write(ctx context.Context) error {
	cfg := w.Mode.LastConfig()
	states, err := w.Mode.Router.PeerStatus(ctx)
	if err != nil {
		return fmt.Errorf("read peer status: %w", err)
	}
	var peers v1alpha2.BgpPeerList
	if err := w.Client.List(ctx, &peers); err != nil {
		return fmt.Errorf("list bgppeers: %w", err)
	}
	seen := map[string]bool{}
	for i := range peers.Items {
		p := &peers.Items[i]
		entry := w.peerEntry(p.Name, cfg, states)
		if err := w.patchStatus(ctx, p, "nodesPeerStatus", entry, seen); err != nil {
			return err
		}
	}
	if cfg.Global.AS != 0 {
		conf := &v1alpha2.BgpConf{}
		err := w.Client.Get(ctx, client.ObjectKey{Name: v1alpha2.BgpConfName}, conf)
		if client.IgnoreNotFound(err) != nil {
			return fmt.Errorf("bgpconf %q: %w", v1alpha2.BgpConfName, err)
		}
		if err == nil {
			entry := &v1alpha2.NodeConfStatus{RouterId: cfg.Global.RouterID.String(), As: v1alpha2.ASNumber(cfg.Global.AS)}
			if err := w.patchStatus(ctx, conf, "nodesConfStatus", entry, seen); err != nil {
				return err
			}
		}
	}
	// Forget the objects that are gone, so that the cache does not grow
	// with every BgpPeer ever deleted.
	for key := range w.written {
		if !seen[key] {
			delete(w.written, key)
		}
	}
	return nil
}

// peerEntry is this node's status of one BgpPeer, or nil when the peer does
// not concern this node (its entry is then removed).
func (w *BGPStatusWriter) peerEntry(name string, cfg bgp.Config, states []bgp.PeerStatus) *v1alpha2.NodePeerStatus {
	problems := cfg.PeerProblems[name]
	i := slices.IndexFunc(states, func(s bgp.PeerStatus) bool { return s.Name == name })
	if i < 0 {
		if len(problems) == 0 {
			return nil
		}
		return &v1alpha2.NodePeerStatus{PeerState: v1alpha2.PeerState{
			SessionState: "NOT_RUNNING", LastError: strings.Join(problems, "; "),
		}}
	}
	s := states[i]
	w.Metrics.sessionState(name, string(s.State))
	lastErr := s.LastError
	if len(problems) > 0 {
		lastErr = strings.TrimPrefix(lastErr+"; not honoured: "+strings.Join(problems, "; "), "; ")
	}
	st := &v1alpha2.NodePeerStatus{
		PeerState: v1alpha2.PeerState{
			Description: s.Description, NeighborAddress: s.Address.String(),
			PeerAs: v1alpha2.ASNumber(s.PeerAS), LocalAs: v1alpha2.ASNumber(s.LocalAS),
			SessionState: string(s.State), RouterId: s.RouterID, Flops: s.Flops, LastError: lastErr,
			BfdState: w.Mode.BFD.State(s.Address),
			Messages: &v1alpha2.Messages{Received: messages(s.Received), Sent: messages(s.Sent)},
		},
		TimersState: v1alpha2.TimersState{
			HoldTime: seconds(s.HoldTime), KeepaliveInterval: seconds(s.KeepaliveInterval),
		},
	}
	if s.AdminDown {
		st.PeerState.AdminState = "DOWN"
	} else {
		st.PeerState.AdminState = "UP"
	}
	if !s.Uptime.IsZero() {
		st.TimersState.Uptime = s.Uptime.UTC().Format(time.RFC3339)
	}
	if !s.Downtime.IsZero() {
		st.TimersState.Downtime = s.Downtime.UTC().Format(time.RFC3339)
	}
	return st
}

// patchStatus merges this node's entry into one map of an object's status,
// skipping the write when the entry is what was last written to this very
// object. The cache of what was written is keyed by UID: an object deleted
// and created again under its name starts with an empty status, which a
// key by name would never fill again while the entry stays the same (a
// session that is not established, a BgpConf's router identity). The key
// is added to seen.
func (w *BGPStatusWriter) patchStatus(ctx context.Context, obj client.Object, field string, entry any, seen map[string]bool) error {
	value, err := withClears(entry)
	if err != nil {
		return err
	}
	if isNil(entry) {
		value = nil
	}
	body, err := json.Marshal(map[string]any{"status": map[string]any{field: map[string]any{w.Node: value}}})
	if err != nil {
		return err
	}
	kind := strings.ToLower(fmt.Sprintf("%T", obj)[len("*v1alpha2."):])
	key := fmt.Sprintf("%s/%s/%s", kind, obj.GetName(), obj.GetUID())
	seen[key] = true
	if w.written[key] == string(body) {
		return nil
	}
	err = w.Client.Status().Patch(ctx, obj, client.RawPatch(types.MergePatchType, body))
	if apierrors.IsNotFound(err) {
		return nil // deleted since it was read: nothing to write
	}
	if err != nil {
		return fmt.Errorf("%s %q: patch status: %w", kind, obj.GetName(), err)
	}
	w.written[key] = string(body)
	return nil
}

func isNil(v any) bool {
	switch e := v.(type) {
	case *v1alpha2.NodePeerStatus:
		return e == nil
	case *v1alpha2.NodeConfStatus:
		return e == nil
	}
	return v == nil
}

func messages(c bgp.MessageCounts) *v1alpha2.Message {
	u := func(n uint64) string { return strconv.FormatUint(n, 10) }
	return &v1alpha2.Message{
		Notification: u(c.Notification), Update: u(c.Update), Open: u(c.Open), Keepalive: u(c.Keepalive),
		Refresh: u(c.Refresh), Discarded: u(c.Discarded), Total: u(c.Total),
		WithdrawUpdate: u(c.WithdrawUpdate), WithdrawPrefix: u(c.WithdrawPrefix),
	}
}

func seconds(d time.Duration) string {
	if d == 0 {
		return ""
	}
	return strconv.Itoa(int(d / time.Second))
}
