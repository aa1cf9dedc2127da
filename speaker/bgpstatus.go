package speaker

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/go-logr/logr"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/herald-lb/herald/api/v1alpha2"
	"github.com/herald-lb/herald/speaker/bgp"
)

// DefaultStatusPeriod is how often the writer re-reads the sessions to
// catch a change no event announced; it writes only what changed. A change
// is written once it has settled for MinStatusInterval.
const (
	DefaultStatusPeriod = 30 * time.Second
	MinStatusInterval   = 2 * time.Second
)

// Status is written with merge patches only; it is read back from the
// cache the speaker has anyway, never with a request of its own.
// +kubebuilder:rbac:groups=network.kubesphere.io,resources=bgppeers/status;bgpconfs/status,verbs=patch

// BGPStatusWriter writes this node's view of every BGP session into
// BgpPeer.status.nodesPeerStatus[node] and its router identity into
// BgpConf.status.nodesConfStatus[node]. Each node writes only its own map
// entry, with a merge patch, so nodes never conflict.
//
// Every speaker watches every BgpPeer, so each write of one node reaches
// all nodes: a periodic write per node would cost nodes² watch events per
// period. An entry is therefore written only when what status is for
// changes (statusState): session and admin state, last error, BFD state, negotiated
// timers, router ID, AS numbers, description, and the establishment and
// down times GoBGP stamps at state changes. The message counters, which
// grow with every keepalive, go along with such a write as a snapshot but
// never cause one; their live values are herald_speaker_bgp_messages_*
// (BGPCollector).
type BGPStatusWriter struct {
	Node   string
	Mode   *BGPMode
	Client client.Client
	Log    logr.Logger
	// Period between re-reads; zero means DefaultStatusPeriod.
	Period time.Duration
	// MinInterval is how long a change must settle before it is written,
	// which also bounds the writes to one per object per MinInterval; zero
	// means MinStatusInterval.
	MinInterval time.Duration
	// Metrics, when set, gets the session state per peer.
	Metrics *Metrics

	trigger chan struct{}
	// written is the settled state (statusState) last written or found
	// in place, by kind/name/UID.
	written map[string]string
	// passes counts the completed re-reads, for tests that wait for a
	// number of them.
	passes atomic.Uint64
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
		w.passes.Add(1)
		select {
		case <-ctx.Done():
			return nil
		case <-tick.C:
		case <-w.trigger:
		}
	}
}

// NeedLeaderElection is false: every node writes its own status.
func (w *BGPStatusWriter) NeedLeaderElection() bool { return false }

func (w *BGPStatusWriter) minInterval() time.Duration {
	if w.MinInterval > 0 {
		return w.MinInterval
	}
	return MinStatusInterval
}

// write reads the sessions and writes the entries whose settled state
// changed. When some did, it waits MinInterval and reads again before
// writing: a session passes through several states within milliseconds
// (OPENSENT, OPENCONFIRM, ESTABLISHED; IDLE and then the NOTIFICATION that
// names the reason), and one write of where it ended costs every node one
// watch event instead of several.
func (w *BGPStatusWriter) write(ctx context.Context) error {
	pending, seen, err := w.collect(ctx)
	if err != nil || len(pending) == 0 {
		w.forget(seen)
		return err
	}
	select {
	case <-ctx.Done():
		return nil
	case <-time.After(w.minInterval()):
	}
	if pending, seen, err = w.collect(ctx); err != nil {
		return err
	}
	w.forget(seen)
	for _, p := range pending {
		if err := w.send(ctx, p); err != nil {
			return err
		}
	}
	return nil
}

// collect computes this node's entry of every BgpPeer and of the BgpConf
// and returns those to write, and the keys of all objects seen.
func (w *BGPStatusWriter) collect(ctx context.Context) ([]*pendingPatch, map[string]bool, error) {
	cfg := w.Mode.LastConfig()
	states, err := w.Mode.Router.PeerStatus(ctx)
	if err != nil {
		return nil, nil, fmt.Errorf("read peer status: %w", err)
	}
	var peers v1alpha2.BgpPeerList
	if err := w.Client.List(ctx, &peers); err != nil {
		return nil, nil, fmt.Errorf("list bgppeers: %w", err)
	}
	seen := map[string]bool{}
	var out []*pendingPatch
	add := func(p *pendingPatch, err error) error {
		if p != nil {
			out = append(out, p)
		}
		return err
	}
	for i := range peers.Items {
		p := &peers.Items[i]
		entry := w.peerEntry(p.Name, cfg, states)
		var current *v1alpha2.NodePeerStatus
		if cur, ok := p.Status.NodesPeerStatus[w.Node]; ok {
			current = &cur
		}
		if err := add(w.prepare(p, "nodesPeerStatus", entry, current, true, seen)); err != nil {
			return nil, nil, err
		}
	}
	if cfg.Global.AS != 0 {
		conf := &v1alpha2.BgpConf{}
		err := w.Client.Get(ctx, client.ObjectKey{Name: v1alpha2.BgpConfName}, conf)
		if client.IgnoreNotFound(err) != nil {
			return nil, nil, fmt.Errorf("bgpconf %q: %w", v1alpha2.BgpConfName, err)
		}
		if err == nil {
			entry := &v1alpha2.NodeConfStatus{RouterId: cfg.Global.RouterID.String(), As: v1alpha2.ASNumber(cfg.Global.AS)}
			var current *v1alpha2.NodeConfStatus
			if cur, ok := conf.Status.NodesConfStatus[w.Node]; ok {
				current = &cur
			}
			if err := add(w.prepare(conf, "nodesConfStatus", entry, current, true, seen)); err != nil {
				return nil, nil, err
			}
		}
	}
	return out, seen, nil
}

// forget drops the objects that are gone from the cache of what was
// written, so that it does not grow with every BgpPeer ever deleted.
func (w *BGPStatusWriter) forget(seen map[string]bool) {
	if seen == nil {
		return
	}
	for key := range w.written {
		if !seen[key] {
			delete(w.written, key)
		}
	}
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

// pendingPatch is one status entry to write.
type pendingPatch struct {
	obj   client.Object
	kind  string
	key   string // kind/name/UID
	state string // statusState of the entry
	body  []byte // the merge patch
}

// patchStatus merges this node's entry into one map of an object's status,
// unless its settled state is what was last written to this very object.
func (w *BGPStatusWriter) patchStatus(ctx context.Context, obj client.Object, field string, entry any, seen map[string]bool) error {
	p, err := w.prepare(obj, field, entry, nil, false, seen)
	if p == nil || err != nil {
		return err
	}
	return w.send(ctx, p)
}

// prepare returns the patch of this node's entry into one map of an
// object's status, or nil when its settled state (statusState) is the one
// last written to this very object or, when known is set and this writer
// never wrote to it, the one current holds (the object's entry as read;
// nil when it has none): a restarted speaker whose sessions are as their
// entries say writes nothing, nor does a node that a BgpPeer does not
// concern. The cache of what was written is keyed by UID: an
// object deleted and created again under its name starts with an empty
// status, which a key by name would never fill again while the entry stays
// the same (a session that is not established, a BgpConf's router
// identity). The key is added to seen.
func (w *BGPStatusWriter) prepare(obj client.Object, field string, entry, current any, known bool, seen map[string]bool) (*pendingPatch, error) {
	kind := strings.ToLower(fmt.Sprintf("%T", obj)[len("*v1alpha2."):])
	key := fmt.Sprintf("%s/%s/%s", kind, obj.GetName(), obj.GetUID())
	seen[key] = true
	state, err := statusState(entry)
	if err != nil {
		return nil, fmt.Errorf("%s %q: %w", kind, obj.GetName(), err)
	}
	last, wrote := w.written[key]
	if wrote && last == state {
		return nil, nil
	}
	// What the object holds counts only until this writer wrote to it:
	// the cache it is read from may lag behind this writer's own patches.
	if known && !wrote {
		if now, err := statusState(current); err == nil && now == state {
			w.written[key] = state
			return nil, nil
		}
	}
	value, err := withClears(entry)
	if err != nil {
		return nil, err
	}
	if isNil(entry) {
		value = nil
	}
	body, err := json.Marshal(map[string]any{"status": map[string]any{field: map[string]any{w.Node: value}}})
	if err != nil {
		return nil, err
	}
	return &pendingPatch{obj: obj, kind: kind, key: key, state: state, body: body}, nil
}

// send writes one patch and records its state as written.
func (w *BGPStatusWriter) send(ctx context.Context, p *pendingPatch) error {
	err := w.Client.Status().Patch(ctx, p.obj, client.RawPatch(types.MergePatchType, p.body))
	if apierrors.IsNotFound(err) {
		return nil // deleted since it was read: nothing to write
	}
	if err != nil {
		return fmt.Errorf("%s %q: patch status: %w", p.kind, p.obj.GetName(), err)
	}
	w.written[p.key] = p.state
	return nil
}

// statusState is what decides whether an entry is written: the entry
// without its message counters, as JSON ("null" for no entry). Counters
// change with every keepalive; everything else in an entry changes only
// with the session's state or its configuration.
//
// A session that is not established is one state for this purpose,
// whichever FSM state it is in: one the router refuses (a wrong AS, a
// password mismatch) goes round ACTIVE, OPENSENT and IDLE for as long as
// it is misconfigured, GoBGP stamping its downtime at each step, and
// writing each of those would cost every node a watch event per node and
// period for as long. Its entry is written when it goes down, and again
// when the reason (lastError), the admin state or BFD changes.
func statusState(entry any) (string, error) {
	if isNil(entry) {
		return "null", nil
	}
	if e, ok := entry.(*v1alpha2.NodePeerStatus); ok {
		c := *e
		c.PeerState.Messages = nil
		if retrying[bgp.SessionState(c.PeerState.SessionState)] {
			c.PeerState.SessionState = "retrying"
			c.TimersState.Downtime = ""
		}
		entry = &c
	}
	b, err := json.Marshal(entry)
	if err != nil {
		return "", fmt.Errorf("encode status entry: %w", err)
	}
	return string(b), nil
}

// retrying are the FSM states of a session that is configured but not
// established: GoBGP moves among them on its own while it retries.
var retrying = map[bgp.SessionState]bool{
	bgp.StateIdle: true, bgp.StateConnect: true, bgp.StateActive: true, bgp.StateOpenSent: true, bgp.StateOpenConfirm: true,
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
