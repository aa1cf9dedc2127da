package speaker

import (
	"context"
	"net/netip"
	"strings"
	"sync"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/tools/events"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/interceptor"

	"github.com/herald-lb/herald/api/v1alpha2"
	"github.com/herald-lb/herald/internal/bgpconfig"
	"github.com/herald-lb/herald/keepalived"
	"github.com/herald-lb/herald/vipdir"
)

// patchCounter counts the Service patches that reach the API server.
type patchCounter struct {
	mu sync.Mutex
	n  map[string]int // "namespace/name" -> patches
}

func (p *patchCounter) client(t *testing.T) client.Client {
	t.Helper()
	c, err := client.NewWithWatch(env.Config, client.Options{Scheme: env.Scheme})
	if err != nil {
		t.Fatal(err)
	}
	return interceptor.NewClient(c, interceptor.Funcs{
		Patch: func(ctx context.Context, c client.WithWatch, obj client.Object, patch client.Patch, opts ...client.PatchOption) error {
			p.mu.Lock()
			if p.n == nil {
				p.n = map[string]int{}
			}
			p.n[obj.GetNamespace()+"/"+obj.GetName()]++
			p.mu.Unlock()
			return c.Patch(ctx, obj, patch, opts...)
		},
	})
}

func (p *patchCounter) count(svc string) int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.n[svc]
}

// holderFixture is node1's VIPMode over a real API server, with the
// states of its keepalived set by the test and a clock it moves.
type holderFixture struct {
	*vipFixture
	patches  *patchCounter
	recorder *events.FakeRecorder
	states   vipdir.States
	now      time.Time
}

func newHolderFixture(t *testing.T) *holderFixture {
	f := &holderFixture{vipFixture: newVIPFixture(t), patches: &patchCounter{}, recorder: events.NewFakeRecorder(100),
		now: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)}
	f.mode.Client = f.patches.client(t)
	f.mode.Recorder = f.recorder
	f.mode.States = func() vipdir.States { return f.states }
	f.mode.holders.now = func() time.Time { return f.now }
	return f
}

// applyAs runs Compute and Apply with services in the snapshot, as the
// cache shows them (VIPHolder is their annotation there).
func (f *holderFixture) applyAs(t *testing.T, services ...Service) {
	t.Helper()
	for _, s := range services {
		for _, a := range s.Addrs {
			if _, ok := f.vrids[a]; !ok {
				f.vrids[a] = keepalived.VRID(10 + len(f.vrids))
			}
		}
	}
	d := Compute("node1", f.pools, services, bgpconfig.ServiceCIDRs{})
	snap := Snapshot{Pools: f.pools, VRIDs: f.vrids, Services: services}
	if err := f.mode.Apply(context.Background(), snap, d); err != nil {
		t.Fatal(err)
	}
}

// events drains the recorded events.
func (f *holderFixture) events() []string {
	var out []string
	for {
		select {
		case e := <-f.recorder.Events:
			out = append(out, e)
		default:
			return out
		}
	}
}

func holderOf(t *testing.T, ns, name string) string {
	t.Helper()
	var svc corev1.Service
	if err := env.Client.Get(context.Background(), client.ObjectKey{Namespace: ns, Name: name}, &svc); err != nil {
		t.Fatal(err)
	}
	return svc.Annotations[v1alpha2.AnnotationVIPHolder]
}

// TestVIPHolderAnnotation: the holder annotation is written on every
// Service sharing a VIP once this node's keepalived reports MASTER, and not
// for BACKUP or FAULT; once per change (a cache that has not caught up, or
// shows the annotation already, costs no patch), with an event; another
// master's write is overwritten at most once per rewrite interval (two
// masters must not fight); a VIP that was not master here in between is
// written again at once. IPv4 and IPv6.
func TestVIPHolderAnnotation(t *testing.T) {
	const ns = "vip-holder"
	create(t, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}})
	for _, tc := range []struct{ name, vip string }{{"v4", "100.64.0.20"}, {"v6", "2001:db8:1::20"}} {
		t.Run(tc.name, func(t *testing.T) {
			f := newHolderFixture(t)
			vip := netip.MustParseAddr(tc.vip)
			web, api := tc.name+"-web", tc.name+"-api"
			for _, n := range []string{web, api} {
				create(t, &corev1.Service{
					ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: n},
					Spec:       corev1.ServiceSpec{Ports: []corev1.ServicePort{{Port: 80}}},
				})
			}
			cached := func(holder string) []Service {
				return []Service{
					{Key: ns + "/" + web, Addrs: []netip.Addr{vip}, VIPHolder: holder},
					{Key: ns + "/" + api, Addrs: []netip.Addr{vip}, VIPHolder: holder},
				}
			}
			patches := func() int { return f.patches.count(ns+"/"+web) + f.patches.count(ns+"/"+api) }

			for _, st := range []keepalived.State{keepalived.StateBackup, keepalived.StateFault} {
				f.states = vipdir.States{vip: st}
				f.applyAs(t, cached("")...)
				if n := patches(); n != 0 {
					t.Fatalf("%s: %d patches, want none", st, n)
				}
			}
			if ev := f.events(); len(ev) != 0 {
				t.Fatalf("events while not master: %q", ev)
			}

			f.states = vipdir.States{vip: keepalived.StateMaster}
			f.applyAs(t, cached("")...)
			if n := patches(); n != 2 {
				t.Fatalf("master: %d patches, want 2 (one per Service)", n)
			}
			for _, n := range []string{web, api} {
				if got := holderOf(t, ns, n); got != "node1" {
					t.Errorf("service %s: holder %q, want node1", n, got)
				}
			}
			ev := f.events()
			want := "Normal VIPHolder node1 holds " + tc.vip + " (VRRP master)"
			if len(ev) != 2 || ev[0] != want || ev[1] != want {
				t.Errorf("events %q, want twice %q", ev, want)
			}

			f.applyAs(t, cached("")...) // the cache has not caught up
			f.applyAs(t, cached("node1")...)
			f.now = f.now.Add(time.Hour)
			f.applyAs(t, cached("node1")...)
			if n := patches(); n != 2 {
				t.Fatalf("repeated applies: %d patches, want still 2", n)
			}

			// Another node is master too and writes its name: this node's
			// last write is long ago, so it answers once; then it leaves
			// the other's writes alone for the interval, and answers once
			// after it.
			f.applyAs(t, cached("node2")...)
			f.applyAs(t, cached("node2")...)
			if n := patches(); n != 4 {
				t.Fatalf("another master's write: %d patches, want 4", n)
			}
			f.now = f.now.Add(DefaultVIPHolderRewrite - time.Second)
			f.applyAs(t, cached("node2")...)
			if n := patches(); n != 4 {
				t.Fatalf("another master's write within the interval: %d patches, want 4", n)
			}
			f.now = f.now.Add(time.Second)
			f.applyAs(t, cached("node2")...)
			f.applyAs(t, cached("node2")...)
			if n := patches(); n != 6 {
				t.Fatalf("another master's write after the interval: %d patches, want 6", n)
			}
			f.events()

			// Backup in between: master again writes at once.
			f.states = vipdir.States{vip: keepalived.StateBackup}
			f.applyAs(t, cached("node2")...)
			f.states = vipdir.States{vip: keepalived.StateMaster}
			f.applyAs(t, cached("node2")...)
			if n := patches(); n != 8 {
				t.Fatalf("master again: %d patches, want 8", n)
			}
			if ev := f.events(); len(ev) != 2 || !strings.Contains(ev[0], "node1 holds") {
				t.Errorf("master again: events %q", ev)
			}
		})
	}
}

// TestVIPHolderServiceGone: a Service deleted between the snapshot and the
// patch is no error, and the remaining one is annotated.
func TestVIPHolderServiceGone(t *testing.T) {
	const ns = "vip-holder-gone"
	create(t, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}})
	create(t, &corev1.Service{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "present"},
		Spec:       corev1.ServiceSpec{Ports: []corev1.ServicePort{{Port: 80}}},
	})
	f := newHolderFixture(t)
	vip := netip.MustParseAddr("100.64.0.30")
	f.states = vipdir.States{vip: keepalived.StateMaster}
	f.applyAs(t,
		Service{Key: ns + "/gone", Addrs: []netip.Addr{vip}},
		Service{Key: ns + "/present", Addrs: []netip.Addr{vip}},
		Service{Key: "no-such-namespace/gone", Addrs: []netip.Addr{vip}},
	)
	if got := holderOf(t, ns, "present"); got != "node1" {
		t.Errorf("holder of the remaining Service = %q, want node1", got)
	}
}

// TestVIPHolderWithoutStates: a mode without States (or Client) writes no
// annotation whatever happens.
func TestVIPHolderWithoutStates(t *testing.T) {
	f := newHolderFixture(t)
	f.mode.States = nil
	f.states = vipdir.States{netip.MustParseAddr("100.64.0.40"): keepalived.StateMaster}
	f.applyAs(t, Service{Key: "vip-holder/none", Addrs: []netip.Addr{netip.MustParseAddr("100.64.0.40")}})
	if n := f.patches.count("vip-holder/none"); n != 0 {
		t.Errorf("%d patches without States", n)
	}
}
