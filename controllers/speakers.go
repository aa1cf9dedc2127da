package controllers

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	coordinationv1 "k8s.io/api/coordination/v1"
	corev1 "k8s.io/api/core/v1"
	toolscache "k8s.io/client-go/tools/cache"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/event"
	"sigs.k8s.io/controller-runtime/pkg/log"

	"github.com/herald-lb/herald/api/v1alpha2"
)

// What the speakers publish about themselves while layer2 or vip pools
// exist (speaker/layer2, "Availability"): each leads a Lease named
// speakerLeasePrefix + its node name in the speakers' namespace, labelled
// speakerLeaseLabel=true, whose speakerUnavailableAnnotation lists the
// Eips the node cannot answer for.
// The controller reads them without importing the speaker; a test checks
// that both sides spell them alike.
const (
	speakerLeasePrefix           = "herald-speaker-"
	speakerLeaseLabel            = "layer2.herald.io/speaker"
	speakerUnavailableAnnotation = "layer2.herald.io/unavailable"
	// speakerVIPRefusedAnnotation lists the vip Eips whose config the
	// node's keepalived refused.
	speakerVIPRefusedAnnotation = "vip.herald.io/config-refused"
)

// DefaultSpeakerNamespace is where the manifests run the speakers.
const DefaultSpeakerNamespace = "herald-system"

// viewSyncTimeout bounds how long layer2 and vip Eips wait for the speakers' view
// to load. Past it (the controller may not read Leases there, or the
// namespace is wrong) they are judged as served, with one error logged,
// rather than never getting a status.
const viewSyncTimeout = 10 * time.Second

// firstSightStale: a Lease seen for the first time whose renewTime is
// older than this by the controller's clock belongs to a node that went
// away without releasing it.
const firstSightStale = 10 * time.Second

// speakerLease is what the controller knows of one speaker's Lease.
type speakerLease struct {
	node        string
	held        bool
	renewMicros int64
	duration    time.Duration
	// seen is when, by the controller's clock, the renewTime last changed;
	// zero for a Lease that was stale when first seen.
	seen        time.Time
	unavailable []string
	vipRefused  []string
}

// expiry is when the Lease stops counting as live unless renewed. Liveness
// is judged by when this controller saw a renewal, never by comparing the
// renewTime a node wrote with the controller's clock (clocks differ), and
// with slack: the condition it feeds tells operators that nothing answers,
// and must not cry wolf over one late renewal. leaseDurationSeconds holds
// whole seconds (the speakers' 1.5 s shows as 1).
func (l *speakerLease) expiry() time.Time {
	if !l.held || l.seen.IsZero() {
		return time.Time{}
	}
	return l.seen.Add(2*max(l.duration, time.Second) + time.Second)
}

func (l *speakerLease) live(now time.Time) bool { return now.Before(l.expiry()) }

// speakerView follows the speakers' Leases for the Eip reconciler: which
// nodes run a live speaker (in layer2 or vip mode) and which Eips each cannot serve. It
// runs on the leader only; whenever the answer may have changed (a Lease
// appears, goes, is released, changes its list, or expires unrenewed) it
// asks the Eip reconciler to look at every layer2 and vip Eip again. Renewals
// alone cost a table update and nothing else.
type speakerView struct {
	informers cache.Informers
	reader    client.Reader
	changed   chan<- event.TypedGenericEvent[*v1alpha2.Eip]
	namespace string
	poke      chan struct{}

	created time.Time

	mu     sync.Mutex
	leases map[string]*speakerLease
	synced func() bool
	gaveUp bool
}

func newSpeakerView(informers cache.Informers, reader client.Reader, namespace string, changed chan<- event.TypedGenericEvent[*v1alpha2.Eip]) *speakerView {
	return &speakerView{
		informers: informers, reader: reader, namespace: namespace, changed: changed,
		poke: make(chan struct{}, 1), leases: map[string]*speakerLease{}, created: time.Now(),
	}
}

// NeedLeaderElection: only the leader's Eip reconciler reads the view.
func (v *speakerView) NeedLeaderElection() bool { return true }

// Start follows the Leases until ctx ends.
func (v *speakerView) Start(ctx context.Context) error {
	inf, err := v.informers.GetInformer(ctx, &coordinationv1.Lease{})
	if err != nil {
		return fmt.Errorf("speaker leases in %q: informer: %w", v.namespace, err)
	}
	reg, err := inf.AddEventHandler(toolscache.ResourceEventHandlerFuncs{
		AddFunc:    func(o any) { v.observe(o, time.Now()) },
		UpdateFunc: func(_, o any) { v.observe(o, time.Now()) },
		DeleteFunc: v.forget,
	})
	if err != nil {
		return fmt.Errorf("speaker leases in %q: add handler: %w", v.namespace, err)
	}
	defer func() { _ = inf.RemoveEventHandler(reg) }()
	v.mu.Lock()
	v.synced = reg.HasSynced
	v.mu.Unlock()

	last := ""
	timer := time.NewTimer(0)
	defer timer.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-v.poke:
		case <-timer.C:
		}
		if !reg.HasSynced() {
			timer.Reset(100 * time.Millisecond)
			continue
		}
		summary, next := v.summary(time.Now())
		if summary != last {
			last = summary
			if err := v.requeueLeaseJudged(ctx); err != nil {
				log.FromContext(ctx).Error(err, "re-evaluate layer2 and vip eips after a change of the speakers' leases")
			}
		}
		if next.IsZero() {
			next = time.Now().Add(time.Hour)
		}
		if !timer.Stop() {
			select {
			case <-timer.C:
			default:
			}
		}
		timer.Reset(time.Until(next) + 10*time.Millisecond)
	}
}

// judgeNow judges a layer2 or vip Eip once the view holds every Lease of the
// cache; ok is false while it is still loading. A view that has not loaded
// within viewSyncTimeout judges every Eip served (it cannot tell), and
// says so once in the log.
func (v *speakerView) judgeNow(ctx context.Context, eip *v1alpha2.Eip, now time.Time) (servingVerdict, bool) {
	v.mu.Lock()
	synced := v.synced != nil && v.synced()
	giveUp := !synced && now.Sub(v.created) > viewSyncTimeout
	first := giveUp && !v.gaveUp
	v.gaveUp = v.gaveUp || giveUp
	v.mu.Unlock()
	switch {
	case synced:
		return v.judge(eip, now), true
	case first:
		log.FromContext(ctx).Error(fmt.Errorf("speaker leases in %q not loaded within %s", v.namespace, viewSyncTimeout),
			"cannot tell whether any node serves layer2 or vip Eips; check that herald-controller may list and watch Leases there (--speaker-namespace)")
	}
	return servingVerdict{}, giveUp
}

func (v *speakerView) observe(o any, now time.Time) {
	lease, ok := o.(*coordinationv1.Lease)
	if !ok || lease.Namespace != v.namespace {
		return
	}
	node, ok := strings.CutPrefix(lease.Name, speakerLeasePrefix)
	if !ok || node == "" {
		return
	}
	held := lease.Spec.HolderIdentity != nil && *lease.Spec.HolderIdentity != ""
	var renew time.Time
	if lease.Spec.RenewTime != nil {
		renew = lease.Spec.RenewTime.Time
	}
	var duration time.Duration
	if lease.Spec.LeaseDurationSeconds != nil {
		duration = time.Duration(*lease.Spec.LeaseDurationSeconds) * time.Second
	}
	v.mu.Lock()
	l, known := v.leases[lease.Name]
	switch {
	case !known:
		l = &speakerLease{node: node}
		if !renew.IsZero() && now.Sub(renew) <= firstSightStale {
			l.seen = now
		}
		v.leases[lease.Name] = l
	case l.renewMicros != renew.UnixMicro() || l.held != held:
		l.seen = now
	}
	l.held, l.renewMicros, l.duration = held, renew.UnixMicro(), duration
	l.unavailable = splitList(lease.Annotations[speakerUnavailableAnnotation])
	l.vipRefused = splitList(lease.Annotations[speakerVIPRefusedAnnotation])
	v.mu.Unlock()
	v.wake()
}

func (v *speakerView) forget(o any) {
	if d, ok := o.(toolscache.DeletedFinalStateUnknown); ok {
		o = d.Obj
	}
	lease, ok := o.(*coordinationv1.Lease)
	if !ok {
		return
	}
	v.mu.Lock()
	delete(v.leases, lease.Name)
	v.mu.Unlock()
	v.wake()
}

func (v *speakerView) wake() {
	select {
	case v.poke <- struct{}{}:
	default:
	}
}

// summary describes what the view says at now (the live nodes, their
// unavailable Eips and their vip Eips refused by keepalived, and whether
// there are Leases at all), and when it
// will change by itself: the next expiry of a live Lease.
func (v *speakerView) summary(now time.Time) (string, time.Time) {
	v.mu.Lock()
	defer v.mu.Unlock()
	var parts []string
	var next time.Time
	for _, l := range v.leases {
		if !l.live(now) {
			continue
		}
		parts = append(parts, l.node+"="+strings.Join(l.unavailable, ",")+"/"+strings.Join(l.vipRefused, ","))
		if e := l.expiry(); next.IsZero() || e.Before(next) {
			next = e
		}
	}
	slices.Sort(parts)
	return fmt.Sprintf("%d;%s", len(v.leases), strings.Join(parts, ";")), next
}

// requeueLeaseJudged asks the Eip reconciler to judge every layer2 and
// vip Eip again.
func (v *speakerView) requeueLeaseJudged(ctx context.Context) error {
	var eips v1alpha2.EipList
	if err := v.reader.List(ctx, &eips); err != nil {
		return fmt.Errorf("list eips: %w", err)
	}
	for i := range eips.Items {
		if p := eips.Items[i].Spec.Protocol; p != v1alpha2.ProtocolLayer2 && p != v1alpha2.ProtocolVIP {
			continue
		}
		e := &v1alpha2.Eip{}
		e.Name = eips.Items[i].Name
		select {
		case v.changed <- event.TypedGenericEvent[*v1alpha2.Eip]{Object: e}:
		case <-ctx.Done():
			return nil
		}
	}
	return nil
}

// modeWords are what the judge's messages say of a mode: which reasons it
// reports, what a node does for the pool's addresses, and what else must
// run for it.
type modeWords struct {
	noSpeakers, noLive string
	mode, answers      string
	alsoRun            string
}

func wordsFor(protocol string) modeWords {
	if protocol == v1alpha2.ProtocolVIP {
		return modeWords{
			noSpeakers: ReasonNoVIPSpeakers, noLive: ReasonNoLiveVIPSpeaker,
			mode: "vip", answers: "runs VRRP for",
			alsoRun: " with the herald-keepalived DaemonSet next to it (it runs keepalived)",
		}
	}
	return modeWords{
		noSpeakers: ReasonNoLayer2Speakers, noLive: ReasonNoLiveLayer2Speaker,
		mode: "layer2", answers: "answers ARP/NDP for",
	}
}

// judge says whether some live node can serve a layer2 or vip Eip, and if
// not, why. For a vip Eip it cannot tell whether keepalived runs next to
// the speakers: the speakers' logs and the herald-keepalived pods do.
func (v *speakerView) judge(eip *v1alpha2.Eip, now time.Time) servingVerdict {
	v.mu.Lock()
	defer v.mu.Unlock()
	w := wordsFor(eip.Spec.Protocol)
	where := fmt.Sprintf("in namespace %s", v.namespace)
	if len(v.leases) == 0 {
		return servingVerdict{reason: w.noSpeakers, message: fmt.Sprintf(
			"no herald-speaker runs %s mode: there is no speaker Lease (%s<node>) %s, so no node %s this pool's addresses. "+
				"Fix: make sure the herald-speaker DaemonSet runs %s%s and its pods are ready (kubectl -n %s get pods); they take part in %s mode as soon as a %s Eip exists",
			w.mode, speakerLeasePrefix, where, w.answers, where, w.alsoRun, v.namespace, w.mode, w.mode)}
	}
	var live, lacking, dead []string
	for _, l := range v.leases {
		switch {
		case !l.live(now):
			dead = append(dead, l.node)
		case slices.Contains(l.unavailable, eip.Name):
			lacking = append(lacking, l.node)
		default:
			live = append(live, l.node)
		}
	}
	if len(live) > 0 {
		return servingVerdict{}
	}
	slices.Sort(lacking)
	slices.Sort(dead)
	if len(lacking) == 0 {
		return servingVerdict{reason: w.noLive, message: fmt.Sprintf(
			"no live herald-speaker: the Leases of node(s) %s %s are released or no longer renewed, so no node %s this pool's addresses. "+
				"Fix: check the herald-speaker pods on those nodes (kubectl -n %s get pods -o wide) and that they reach the API server",
			summarizeKeys(dead), where, w.answers, v.namespace)}
	}
	iface := eip.Spec.Interface
	if iface == "" {
		iface = "(none set)"
	}
	// A node also lists the Eips its labels rule it out of (speaker
	// nodeselect.go); the Lease does not say which cause, so the message
	// names every one that applies to this Eip.
	msg := fmt.Sprintf("no node can serve this %s pool: every live speaker (node(s) %s) reports that interface %s is missing or has no carrier",
		w.mode, summarizeKeys(lacking), iface)
	if eip.Spec.NodeSelector != nil {
		msg += ", or that its node does not match spec.nodeSelector"
	}
	msg += ", or that its node is labelled " + corev1.LabelNodeExcludeBalancers
	if len(dead) > 0 {
		msg += fmt.Sprintf(", and the speakers of node(s) %s are not live", summarizeKeys(dead))
	}
	msg += ". Fix: set spec.interface to an interface the nodes have (or can_reach:<ip> of an address on the network the pool belongs to), or bring its link up"
	if eip.Spec.NodeSelector != nil {
		msg += "; label the nodes that should announce so that spec.nodeSelector matches them"
	}
	msg += "; remove " + corev1.LabelNodeExcludeBalancers + " from the nodes that should announce (kubeadm puts it on control-plane nodes), or run herald-speaker with --ignore-exclude-lb (Helm value speaker.ignoreExcludeLabel)"
	return servingVerdict{reason: ReasonInterfaceUnavailable, message: msg}
}
