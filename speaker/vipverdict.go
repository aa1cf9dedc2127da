package speaker

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"net/netip"
	"slices"
	"sync"
	"time"
	"unicode/utf8"

	corev1 "k8s.io/api/core/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/herald-lb/herald/api/v1alpha2"
	"github.com/herald-lb/herald/keepalived"
	"github.com/herald-lb/herald/vipdir"
)

// VIP mode's event reasons on Eips. Eips are cluster-scoped, so their
// events go to the default namespace, as the controller's do.
const (
	// ReasonKeepalivedConfigRefused: keepalived on a node refused the config
	// its speaker rendered; it keeps running the last good one, so this
	// Eip's VIPs there follow no change made since.
	ReasonKeepalivedConfigRefused = "KeepalivedConfigRefused"
	// ReasonKeepalivedConfigAccepted: a later config was accepted there.
	ReasonKeepalivedConfigAccepted = "KeepalivedConfigAccepted"
)

// DefaultVIPConfigPending is VIPMode.PendingAfter's default.
const DefaultVIPConfigPending = 30 * time.Second

// ErrKeepalivedRefused marks VIPMode.Apply's error while the supervisor
// reports the config last written as refused.
var ErrKeepalivedRefused = errors.New("keepalived refused this node's config")

// maxEventNote is the longest event message the API server takes
// (events.k8s.io note: 1 kB).
const maxEventNote = 1024

type verdictKind int

const (
	verdictPending verdictKind = iota // not checked yet, or no supervisor
	verdictAccepted
	verdictRefused
)

// vipVerdicts follows what the supervisor made of the configs VIPMode
// wrote (vipdir.ConfigStatus), so that a refusal is logged and put on the
// Eips once, not on every reconcile, and its end only when it was. mu is
// a leaf: VIPMode.mu is held around wrote, and the pending timer's
// goroutine takes only mu.
type vipVerdicts struct {
	mu sync.Mutex
	// written is the hash of the config last written ("" before one
	// was), eips the vip Eips it runs instances of on this node, sorted.
	written string
	eips    []string
	// timer logs a config nobody picked up (pendingLogged: its hash).
	timer         *time.Timer
	pendingLogged string
	// reported is true from a refusal logged and put on the Eips told
	// until a later config is accepted; reportedErr is what was said.
	reported    bool
	reportedErr string
	told        []string
}

// wrote records a config handed to the sink. check, when not nil, runs
// after the pending interval unless another config is written first.
func (v *vipVerdicts) wrote(hash string, eips []string, after time.Duration, check func()) {
	v.mu.Lock()
	defer v.mu.Unlock()
	v.written, v.eips = hash, eips
	if v.timer != nil {
		v.timer.Stop()
		v.timer = nil
	}
	if check != nil {
		v.timer = time.AfterFunc(after, check)
	}
}

func (v *vipVerdicts) stop() {
	v.mu.Lock()
	defer v.mu.Unlock()
	if v.timer != nil {
		v.timer.Stop()
		v.timer = nil
	}
}

// kindOf is the verdict on the config hashed written: status says which
// config runs and which was refused; !ok (no readable status) is pending.
func kindOf(written string, status vipdir.ConfigStatus, ok bool) verdictKind {
	switch {
	case !ok || written == "":
		return verdictPending
	case status.Live == written:
		return verdictAccepted
	case status.Refused == written:
		return verdictRefused
	}
	return verdictPending
}

// verdictNews is what judge tells the mode to say.
type verdictNews struct {
	kind           verdictKind
	written        string
	refuse, accept bool     // log and put on the Eips
	eips           []string // the Eips to put it on
	told           []string // the Eips told of the refusal now (nil once accepted)
	pickedUp       bool     // a config logged as not picked up was
}

// judge compares status with the config last written and says what is
// new: a refusal not reported yet or with other words (to every Eip of
// the config), one that now concerns Eips not told yet (to those), or an
// acceptance after a reported refusal (to the Eips told). A pending config
// is neither.
func (v *vipVerdicts) judge(status vipdir.ConfigStatus, ok bool) verdictNews {
	v.mu.Lock()
	defer v.mu.Unlock()
	n := verdictNews{kind: kindOf(v.written, status, ok), written: v.written}
	if n.kind != verdictPending && v.pendingLogged != "" && v.pendingLogged == v.written {
		n.pickedUp, v.pendingLogged = true, ""
	}
	switch {
	case n.kind == verdictRefused:
		fresh := !v.reported || v.reportedErr != status.Error
		tell := v.eips
		if !fresh {
			tell = slices.DeleteFunc(slices.Clone(v.eips), func(e string) bool { return slices.Contains(v.told, e) })
			if len(tell) == 0 {
				break
			}
		}
		n.refuse, n.eips = true, tell
		v.reported, v.reportedErr = true, status.Error
		v.told = unionSorted(v.told, v.eips)
		n.told = slices.Clone(v.told)
	case n.kind == verdictAccepted && v.reported:
		n.accept, n.eips = true, v.told
		v.reported, v.reportedErr, v.told = false, "", nil
	}
	return n
}

// notPickedUp reports whether the config hashed written is still the last
// one written, still pending, and not logged as such yet.
func (v *vipVerdicts) notPickedUp(written string, status vipdir.ConfigStatus, ok bool) bool {
	v.mu.Lock()
	defer v.mu.Unlock()
	if v.written != written || v.pendingLogged == written || kindOf(written, status, ok) != verdictPending {
		return false
	}
	v.pendingLogged = written
	return true
}

// checkVerdict reports what the supervisor made of the config last
// written: while it is refused, an error for the readiness check, the
// metric at 1 and, once per refusal, a log line and a Warning event on
// each vip Eip this node runs instances of; when a later config is
// accepted, a log line and a Normal event on the Eips told. A pending
// config changes nothing.
func (m *VIPMode) checkVerdict(ctx context.Context) error {
	if m.Verdict == nil {
		return nil
	}
	status, ok := m.Verdict()
	n := m.verdicts.judge(status, ok)
	m.Metrics.vipRefused(n.kind == verdictRefused)
	if n.pickedUp {
		m.Log.Info("keepalived has picked up the config", "node", m.Node)
	}
	if m.PublishRefused != nil && (n.refuse || n.accept) {
		m.PublishRefused(n.told)
	}
	switch {
	case n.refuse:
		m.Log.Info("keepalived refused this node's config; it keeps running the last good one", "node", m.Node, "reason", status.Error, "eips", n.eips)
		m.eipEvents(ctx, n.eips, corev1.EventTypeWarning, ReasonKeepalivedConfigRefused, fmt.Sprintf(
			"keepalived on node %s refused the config rendered for it, which never reached keepalived; the last good config keeps running there: %s",
			m.Node, status.Error))
	case n.accept:
		m.Log.Info("keepalived accepts this node's config again", "node", m.Node)
		m.eipEvents(ctx, n.eips, corev1.EventTypeNormal, ReasonKeepalivedConfigAccepted, fmt.Sprintf(
			"keepalived on node %s accepted the config rendered for it; the refused one is superseded", m.Node))
	}
	if n.kind == verdictRefused {
		return fmt.Errorf("%w (the last good config keeps running): %s", ErrKeepalivedRefused, status.Error)
	}
	return nil
}

// checkPending logs, once, that the config hashed written has been
// neither accepted nor refused for the pending interval: the supervisor
// may not be running. It is no error: without a supervisor no keepalived
// runs here (it never outlives its supervisor), so this node holds no VIP
// and the other nodes' keepalived serve them, as the holder annotation
// shows; the speaker has nothing to repair.
func (m *VIPMode) checkPending(written string, after time.Duration) {
	status, ok := m.Verdict()
	if m.verdicts.notPickedUp(written, status, ok) {
		m.Log.Info("keepalived has not picked up the config (is herald-keepalived running on this node?)",
			"node", m.Node, "after", after.String())
	}
}

// pendingCheck is what wrote runs after the pending interval; nil when no
// verdict is awaited (no vip pool: no supervisor need run).
func (m *VIPMode) pendingCheck(hash string, vipPools bool) (time.Duration, func()) {
	after := m.PendingAfter
	if after <= 0 {
		after = DefaultVIPConfigPending
	}
	if m.Verdict == nil || !vipPools {
		return after, nil
	}
	return after, func() { m.checkPending(hash, after) }
}

// eipEvents records one event on each Eip named, read from the client
// (the speaker's cache) for its UID, without which `kubectl describe eip`
// would not show it. An Eip gone meanwhile gets none.
func (m *VIPMode) eipEvents(ctx context.Context, eips []string, eventType, reason, note string) {
	if m.Recorder == nil || m.Client == nil {
		return
	}
	if len(note) > maxEventNote {
		cut := maxEventNote - len(" …")
		for cut > 0 && !utf8.RuneStart(note[cut]) {
			cut--
		}
		note = note[:cut] + " …"
	}
	for _, name := range eips {
		var eip v1alpha2.Eip
		if err := m.Client.Get(ctx, client.ObjectKey{Name: name}, &eip); err != nil {
			m.Log.V(1).Info("no event on an eip that cannot be read", "eip", name, "reason", reason, "error", err.Error())
			continue
		}
		m.Recorder.Eventf(&eip, nil, eventType, reason, "Reload", "%s", note)
	}
}

// vipEipsOf are the Eips of the VIPs whose instances cfg has node run,
// sorted: the Eips a refusal of cfg concerns on this node.
func vipEipsOf(cfg keepalived.Config, claims []VIPClaim, node string) []string {
	pool := make(map[netip.Addr]string, len(claims))
	for _, c := range claims {
		pool[c.Addr.Unmap()] = c.Eip
	}
	set := map[string]bool{}
	for _, v := range cfg.VIPs {
		if name := pool[v.Addr.Unmap()]; name != "" &&
			slices.Contains(keepalived.Participants(v.Addr, v.Ranked, cfg.Settings.Participants), node) {
			set[name] = true
		}
	}
	return slices.Sorted(maps.Keys(set))
}

func unionSorted(a, b []string) []string {
	out := slices.Concat(a, b)
	slices.Sort(out)
	return slices.Compact(out)
}
