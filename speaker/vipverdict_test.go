package speaker

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/go-logr/logr"
	"github.com/go-logr/logr/funcr"
	"github.com/google/go-cmp/cmp"
	"github.com/prometheus/client_golang/prometheus"
	corev1 "k8s.io/api/core/v1"
	eventsv1 "k8s.io/api/events/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/events"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/herald-lb/herald/api/v1alpha2"
	"github.com/herald-lb/herald/internal/bgpconfig"
	"github.com/herald-lb/herald/internal/eippool"
	"github.com/herald-lb/herald/internal/testenv"
	"github.com/herald-lb/herald/keepalived"
	"github.com/herald-lb/herald/speaker/layer2"
	"github.com/herald-lb/herald/vipdir"
)

// eipEvent is one event VIPMode recorded, as the test sees it.
type eipEvent struct {
	Eip, UID, Type, Reason, Note string
}

// teeRecorder records the events on Eips and hands them on to next (the
// real events.k8s.io recorder), so the test can count them exactly and
// still find them in the API server.
type teeRecorder struct {
	next events.EventRecorder
	mu   sync.Mutex
	got  []eipEvent
}

func (r *teeRecorder) Eventf(regarding, related runtime.Object, eventtype, reason, action, note string, args ...any) {
	if eip, ok := regarding.(*v1alpha2.Eip); ok {
		r.mu.Lock()
		r.got = append(r.got, eipEvent{eip.Name, string(eip.UID), eventtype, reason, fmt.Sprintf(note, args...)})
		r.mu.Unlock()
	}
	if r.next != nil {
		r.next.Eventf(regarding, related, eventtype, reason, action, note, args...)
	}
}

func (r *teeRecorder) take() []eipEvent {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := r.got
	r.got = nil
	return out
}

// verdictFixture is node1's VIPMode with the supervisor's verdict set by
// the test.
type verdictFixture struct {
	mode     *VIPMode
	sink     *recordingSink
	pools    []eippool.Pool
	vrids    map[netip.Addr]keepalived.VRID
	status   vipdir.ConfigStatus
	statusOK bool
	mu       sync.Mutex
}

func newVerdictFixture(t *testing.T, eips []v1alpha2.Eip, rec events.EventRecorder, m *Metrics, log logr.Logger) *verdictFixture {
	t.Helper()
	settings := keepalived.DefaultSettings()
	settings.TrackDir = filepath.Join(t.TempDir(), "track")
	f := &verdictFixture{sink: &recordingSink{}, vrids: map[netip.Addr]keepalived.VRID{}}
	for i := range eips {
		p, err := eippool.FromEip(&eips[i])
		if err != nil {
			t.Fatal(err)
		}
		f.pools = append(f.pools, p)
	}
	f.mode = &VIPMode{
		Node: "node1", Settings: settings, Members: threeNodes,
		Interfaces: func(pools []eippool.Pool) layer2.EipInterfaces {
			out := layer2.EipInterfaces{Available: map[string]string{}}
			for _, p := range pools {
				out.Available[p.Name] = "eth0"
			}
			return out
		},
		Sink: f.sink, Client: env.Client, Recorder: rec, Log: log, Metrics: m,
		Verdict: func() (vipdir.ConfigStatus, bool) {
			f.mu.Lock()
			defer f.mu.Unlock()
			return f.status, f.statusOK
		},
	}
	t.Cleanup(func() { _ = f.mode.Shutdown(context.Background()) })
	return f
}

// say sets what the supervisor reports.
func (f *verdictFixture) say(s vipdir.ConfigStatus, ok bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.status, f.statusOK = s, ok
}

// snapshot is the snapshot and desired state of services on node1.
func (f *verdictFixture) snapshot(services ...Service) (Snapshot, Desired) {
	for _, s := range services {
		for _, a := range s.Addrs {
			if _, ok := f.vrids[a]; !ok {
				f.vrids[a] = keepalived.VRID(10 + len(f.vrids))
			}
		}
	}
	return Snapshot{Pools: f.pools, VRIDs: f.vrids, Services: services}, Compute("node1", f.pools, services, bgpconfig.ServiceCIDRs{})
}

func (f *verdictFixture) lastHash(t *testing.T) string {
	t.Helper()
	if len(f.sink.writes) == 0 {
		t.Fatal("nothing written")
	}
	return vipdir.ConfigHash(f.sink.writes[len(f.sink.writes)-1])
}

// TestVIPModeConfigRefused: a config the supervisor reports refused makes
// Apply fail naming keepalived's words, so the vip mode is not ready and
// herald_speaker_mode_ready{mode="vip"} is 0; it puts ONE Warning event on
// each vip Eip this node runs instances of (in the default namespace,
// regarding the Eip by UID, as `kubectl describe eip` finds it), not on an
// Eip without any, and no more while the refusal lasts; a later config
// accepted brings readiness back with one Normal event on the same Eips.
// herald_speaker_vip_config_refused follows. IPv4 and IPv6 Eips.
func TestVIPModeConfigRefused(t *testing.T) {
	eips := []v1alpha2.Eip{
		{ObjectMeta: metav1.ObjectMeta{Name: "refused-v4"}, Spec: v1alpha2.EipSpec{Address: "100.65.0.0/24", Protocol: v1alpha2.ProtocolVIP, Interface: "eth0"}},
		{ObjectMeta: metav1.ObjectMeta{Name: "refused-v6"}, Spec: v1alpha2.EipSpec{Address: "2001:db8:65::/64", Protocol: v1alpha2.ProtocolVIP, Interface: "eth0"}},
		{ObjectMeta: metav1.ObjectMeta{Name: "refused-idle"}, Spec: v1alpha2.EipSpec{Address: "100.66.0.0/24", Protocol: v1alpha2.ProtocolVIP, Interface: "eth0"}},
	}
	uids := map[string]string{}
	for i := range eips {
		e := eips[i].DeepCopy()
		createEipCleaned(t, e)
		uids[e.Name] = string(e.UID)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	broadcaster := events.NewBroadcaster(&events.EventSinkImpl{Interface: kubernetes.NewForConfigOrDie(env.Config).EventsV1()})
	if err := broadcaster.StartRecordingToSinkWithContext(ctx); err != nil {
		t.Fatal(err)
	}
	defer broadcaster.Shutdown()
	rec := &teeRecorder{next: broadcaster.NewRecorder(env.Scheme, "herald-speaker")}
	reg := prometheus.NewRegistry()
	m, err := NewMetrics(reg)
	if err != nil {
		t.Fatal(err)
	}
	f := newVerdictFixture(t, eips, rec, m, logr.Discard())
	var published [][]string // what reaches the Lease annotation
	f.mode.PublishRefused = func(eips []string) { published = append(published, eips) }
	r := &Reconciler{Node: "node1", Metrics: m, Modes: map[string]Mode{v1alpha2.ProtocolVIP: f.mode}}
	snap, d := f.snapshot(
		Service{Key: "ns/web4", Addrs: []netip.Addr{netip.MustParseAddr("100.65.0.1")}},
		Service{Key: "ns/web6", Addrs: []netip.Addr{netip.MustParseAddr("2001:db8:65::1")}},
	)
	apply := func() error {
		t.Helper()
		return r.applyModes(ctx, logr.Discard(), snap, d)
	}
	wantState := func(step string, ready bool, refused float64) {
		t.Helper()
		err := r.Ready(nil)
		if ready != (err == nil) {
			t.Errorf("%s: readiness error %v, want ready %v", step, err, ready)
		}
		wantReady := 0.0
		if ready {
			wantReady = 1
		}
		if got := modeReady(t, reg, v1alpha2.ProtocolVIP); got != wantReady {
			t.Errorf("%s: herald_speaker_mode_ready{mode=vip} = %v, want %v", step, got, wantReady)
		}
		if got := gaugeValue(t, m.vipConfigRefused); got != refused {
			t.Errorf("%s: herald_speaker_vip_config_refused = %v, want %v", step, got, refused)
		}
	}

	if err := apply(); err != nil {
		t.Fatalf("pending (no config status yet): %v", err)
	}
	wantState("pending", true, 0)
	bad := f.lastHash(t)
	const why = "keepalived refused the config: exit status 5: (keepalived.conf.check: Line 7) Unknown keyword 'bogus'"
	f.say(vipdir.ConfigStatus{Live: vipdir.ConfigHash([]byte("older")), Refused: bad, Error: why}, true)
	err = apply()
	if !errors.Is(err, ErrKeepalivedRefused) || !strings.Contains(err.Error(), "Unknown keyword 'bogus'") {
		t.Fatalf("refused: Apply error %v, want ErrKeepalivedRefused with keepalived's words", err)
	}
	wantState("refused", false, 1)
	if r.Ready(nil) == nil || !strings.Contains(r.Ready(nil).Error(), "vip mode: keepalived refused this node's config") {
		t.Errorf("readiness error %v, want the vip mode's refusal", r.Ready(nil))
	}
	wantNote := "keepalived on node node1 refused the config rendered for it, which never reached keepalived; " +
		"the last good config keeps running there: " + why
	want := []eipEvent{
		{"refused-v4", uids["refused-v4"], corev1.EventTypeWarning, ReasonKeepalivedConfigRefused, wantNote},
		{"refused-v6", uids["refused-v6"], corev1.EventTypeWarning, ReasonKeepalivedConfigRefused, wantNote},
	}
	if diff := cmp.Diff(want, rec.take()); diff != "" {
		t.Errorf("refusal events (-want +got):\n%s", diff)
	}
	for range 3 {
		if err := apply(); !errors.Is(err, ErrKeepalivedRefused) {
			t.Fatalf("still refused: Apply error %v", err)
		}
	}
	if got := rec.take(); len(got) != 0 {
		t.Errorf("events while the same refusal lasts: %+v, want none", got)
	}

	// The next config (a Service added) is pending: no error, no event.
	snap, d = f.snapshot(
		Service{Key: "ns/web4", Addrs: []netip.Addr{netip.MustParseAddr("100.65.0.1")}},
		Service{Key: "ns/web6", Addrs: []netip.Addr{netip.MustParseAddr("2001:db8:65::1")}},
		Service{Key: "ns/api4", Addrs: []netip.Addr{netip.MustParseAddr("100.65.0.2")}},
	)
	if err := apply(); err != nil {
		t.Fatalf("next config pending: %v", err)
	}
	wantState("next config pending", true, 0)
	if got := rec.take(); len(got) != 0 {
		t.Errorf("events while pending: %+v, want none", got)
	}
	f.say(vipdir.ConfigStatus{Live: f.lastHash(t)}, true)
	if err := apply(); err != nil {
		t.Fatalf("accepted: %v", err)
	}
	wantState("accepted", true, 0)
	wantNote = "keepalived on node node1 accepted the config rendered for it; the refused one is superseded"
	want = []eipEvent{
		{"refused-v4", uids["refused-v4"], corev1.EventTypeNormal, ReasonKeepalivedConfigAccepted, wantNote},
		{"refused-v6", uids["refused-v6"], corev1.EventTypeNormal, ReasonKeepalivedConfigAccepted, wantNote},
	}
	if diff := cmp.Diff(want, rec.take()); diff != "" {
		t.Errorf("acceptance events (-want +got):\n%s", diff)
	}
	if err := apply(); err != nil || len(rec.take()) != 0 {
		t.Errorf("accepted again: Apply %v; want no error and no event", err)
	}
	if diff := cmp.Diff([][]string{{"refused-v4", "refused-v6"}, nil}, published); diff != "" {
		t.Errorf("published for the Lease (-want +got):\n%s", diff)
	}

	// The events reached the API server where kubectl looks for an Eip's:
	// the default namespace, regarding the Eip by kind, name and UID.
	testenv.Eventually(t, 15*time.Second, func() error {
		var list eventsv1.EventList
		if err := env.Client.List(ctx, &list, client.InNamespace(metav1.NamespaceDefault)); err != nil {
			return err
		}
		seen := map[string]int{}
		for _, e := range list.Items {
			if e.Regarding.Kind == "Eip" && strings.HasPrefix(e.Regarding.Name, "refused-") && string(e.Regarding.UID) == uids[e.Regarding.Name] {
				seen[e.Regarding.Name+" "+e.Reason]++
			}
		}
		wantSeen := map[string]int{
			"refused-v4 " + ReasonKeepalivedConfigRefused: 1, "refused-v6 " + ReasonKeepalivedConfigRefused: 1,
			"refused-v4 " + ReasonKeepalivedConfigAccepted: 1, "refused-v6 " + ReasonKeepalivedConfigAccepted: 1,
		}
		if diff := cmp.Diff(wantSeen, seen); diff != "" {
			return fmt.Errorf("events in the API server (-want +got):\n%s", diff)
		}
		return nil
	})
}

// TestVIPModeConfigPending: a config neither accepted nor refused is no
// error and no event; after the pending interval one log line asks whether
// herald-keepalived runs, once per config, and one more says when it was
// picked up. An acceptance without a refusal before records nothing. With
// no vip pool no supervisor need run, so nothing is logged.
func TestVIPModeConfigPending(t *testing.T) {
	logs := &logLines{}
	rec := &teeRecorder{}
	eips := []v1alpha2.Eip{{ObjectMeta: metav1.ObjectMeta{Name: "pending-v4"}, Spec: v1alpha2.EipSpec{
		Address: "100.67.0.0/24", Protocol: v1alpha2.ProtocolVIP, Interface: "eth0"}}}
	f := newVerdictFixture(t, eips, rec, nil, funcr.New(logs.add, funcr.Options{}))
	f.mode.PendingAfter = 50 * time.Millisecond
	ctx := context.Background()
	notPickedUp := func() int {
		n := 0
		for _, l := range logs.take() {
			if strings.Contains(l, "keepalived has not picked up the config (is herald-keepalived running on this node?)") {
				n++
			}
		}
		return n
	}
	snap, d := f.snapshot(Service{Key: "ns/web", Addrs: []netip.Addr{netip.MustParseAddr("100.67.0.1")}})
	if err := f.mode.Apply(ctx, snap, d); err != nil {
		t.Fatalf("pending: %v", err)
	}
	testenv.Eventually(t, 5*time.Second, func() error {
		if n := notPickedUp(); n != 1 {
			return fmt.Errorf("%d 'not picked up' lines, want 1", n)
		}
		return nil
	})
	if err := f.mode.Apply(ctx, snap, d); err != nil {
		t.Fatalf("still pending: %v", err)
	}
	f.mode.checkPending(f.lastHash(t), f.mode.PendingAfter) // as the timer would, were it armed again
	if n := notPickedUp(); n != 0 {
		t.Errorf("%d more 'not picked up' lines for the same config, want none", n)
	}
	f.say(vipdir.ConfigStatus{Live: f.lastHash(t)}, true)
	if err := f.mode.Apply(ctx, snap, d); err != nil {
		t.Fatalf("accepted: %v", err)
	}
	if got := logs.take(); len(got) != 1 || !strings.Contains(got[0], "keepalived has picked up the config") {
		t.Errorf("logs after acceptance %q, want one saying it was picked up", got)
	}
	if got := rec.take(); len(got) != 0 {
		t.Errorf("events without a refusal before: %+v, want none", got)
	}

	// No vip pool: an empty config, and no supervisor need answer.
	f.pools = nil
	snap, d = f.snapshot()
	if err := f.mode.Apply(ctx, snap, d); err != nil || len(f.sink.writes) != 2 {
		t.Fatalf("no vip pool: %v, %d configs written; want no error and the empty config written", err, len(f.sink.writes))
	}
	f.mode.verdicts.mu.Lock()
	armed := f.mode.verdicts.timer != nil
	f.mode.verdicts.mu.Unlock()
	if armed {
		t.Error("pending check armed without a vip pool")
	}
}

// TestVIPVerdictsJudge: what is reported when, over a run of verdicts:
// each Eip hears of a refusal once, again only when keepalived's words
// change, and of the acceptance only if it heard of the refusal.
func TestVIPVerdictsJudge(t *testing.T) {
	type news struct {
		Kind           verdictKind
		Refuse, Accept bool
		Eips, Told     []string
	}
	var v vipVerdicts
	refused := func(conf, why string) vipdir.ConfigStatus {
		return vipdir.ConfigStatus{Live: "old", Refused: conf, Error: why}
	}
	for _, step := range []struct {
		name   string
		wrote  string
		eips   []string
		status vipdir.ConfigStatus
		ok     bool
		want   news
	}{
		{"nothing written yet", "", nil, refused("", "x"), true, news{Kind: verdictPending}},
		{"no status file", "c1", []string{"a"}, vipdir.ConfigStatus{}, false, news{Kind: verdictPending}},
		{"accepted, no refusal before", "", nil, vipdir.ConfigStatus{Live: "c1"}, true, news{Kind: verdictAccepted}},
		{"refused", "c2", []string{"a", "b"}, refused("c2", "bad"), true,
			news{Kind: verdictRefused, Refuse: true, Eips: []string{"a", "b"}, Told: []string{"a", "b"}}},
		{"same refusal", "", nil, refused("c2", "bad"), true, news{Kind: verdictRefused}},
		{"next config pending", "c3", []string{"a", "b", "c"}, refused("c2", "bad"), true, news{Kind: verdictPending}},
		{"refused alike, one more Eip", "", nil, refused("c3", "bad"), true,
			news{Kind: verdictRefused, Refuse: true, Eips: []string{"c"}, Told: []string{"a", "b", "c"}}},
		{"refused in other words", "c4", []string{"a"}, refused("c4", "worse"), true,
			news{Kind: verdictRefused, Refuse: true, Eips: []string{"a"}, Told: []string{"a", "b", "c"}}},
		{"accepted", "c5", []string{"a"}, vipdir.ConfigStatus{Live: "c5"}, true,
			news{Kind: verdictAccepted, Accept: true, Eips: []string{"a", "b", "c"}}},
		{"accepted again", "", nil, vipdir.ConfigStatus{Live: "c5"}, true, news{Kind: verdictAccepted}},
	} {
		if step.wrote != "" {
			v.wrote(step.wrote, step.eips, time.Hour, nil)
		}
		n := v.judge(step.status, step.ok)
		got := news{Kind: n.kind, Refuse: n.refuse, Accept: n.accept, Eips: n.eips, Told: n.told}
		if diff := cmp.Diff(step.want, got); diff != "" {
			t.Errorf("%s (-want +got):\n%s", step.name, diff)
		}
	}
}
