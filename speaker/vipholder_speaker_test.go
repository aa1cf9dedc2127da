package speaker

import (
	"context"
	"net/netip"
	"sync/atomic"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	toolscache "k8s.io/client-go/tools/cache"
	"k8s.io/client-go/tools/events"
	"k8s.io/utils/ptr"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/config"
	"sigs.k8s.io/controller-runtime/pkg/manager"
	metricsserver "sigs.k8s.io/controller-runtime/pkg/metrics/server"

	"github.com/herald-lb/herald/api/v1alpha2"
	"github.com/herald-lb/herald/internal/eippool"
	"github.com/herald-lb/herald/keepalived"
	"github.com/herald-lb/herald/speaker/layer2"
	"github.com/herald-lb/herald/vipdir"
)

// countingMode counts the Applies that reach a mode.
type countingMode struct {
	Mode
	applies atomic.Int64
}

func (c *countingMode) Apply(ctx context.Context, snap Snapshot, d Desired) error {
	defer c.applies.Add(1)
	return c.Mode.Apply(ctx, snap, d)
}

// TestVIPHolderThroughReconciler runs the speaker's reconciler with VIP
// mode and the state file's watcher over a real API server and cache, as
// herald-speaker wires them: BACKUP writes nothing; MASTER in the state
// file wakes the reconciler, which writes the holder annotation once,
// with one event; later reconciles, with the cache caught up, write
// nothing more.
func TestVIPHolderThroughReconciler(t *testing.T) {
	const ns, node = "vip-speaker", "vnode1"
	ctx := context.Background()
	create(t, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}})
	create(t, &v1alpha2.Eip{ObjectMeta: metav1.ObjectMeta{Name: "vip-speaker"},
		Spec: v1alpha2.EipSpec{Address: "10.96.50.0/28", Protocol: v1alpha2.ProtocolVIP, Interface: "eth0"}})
	loadBalancer(t, ns, "web", "10.96.50.1", false)
	vip, other := netip.MustParseAddr("10.96.50.1"), netip.MustParseAddr("10.96.50.2")

	dir := vipdir.Dir(t.TempDir())
	states := NewVIPStateWatcher(dir.State(), 10*time.Millisecond, ctrl.Log.WithName("vipstate"), nil)
	patches := &patchCounter{}
	recorder := events.NewFakeRecorder(100)
	settings := dir.Settings(keepalived.DefaultSettings())
	mode := &countingMode{Mode: &VIPMode{
		Node: node, Settings: settings,
		Members: func() []VIPMember { return []VIPMember{member(node, "10.0.0.1")} },
		Interfaces: func(pools []eippool.Pool) layer2.EipInterfaces {
			out := layer2.EipInterfaces{Available: map[string]string{}}
			for _, p := range pools {
				out.Available[p.Name] = "eth0"
			}
			return out
		},
		Sink:   FileConfigSink{Path: dir.Candidate()},
		States: states.States,
		Client: patches.client(t), Recorder: recorder,
		Log: ctrl.Log.WithName("vip"),
	}}

	mgr, err := ctrl.NewManager(env.Config, ctrl.Options{
		Scheme: env.Scheme, Metrics: metricsserver.Options{BindAddress: "0"}, HealthProbeBindAddress: "0",
		Controller: config.Controller{SkipNameValidation: ptr.To(true)},
		Cache:      CacheOptions(node),
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := mgr.Add(manager.RunnableFunc(states.Start)); err != nil {
		t.Fatal(err)
	}
	inf, err := mgr.GetCache().GetInformer(ctx, &corev1.Service{})
	if err != nil {
		t.Fatal(err)
	}
	rec := &Reconciler{Reader: mgr.GetClient(), Services: InformerServices(inf.(toolscache.SharedIndexInformer)), Node: node,
		Class: "herald.io/lb", Modes: map[string]Mode{v1alpha2.ProtocolVIP: mode}, Triggers: []<-chan struct{}{states.Changed()}}
	if err := rec.SetupWithManager(mgr); err != nil {
		t.Fatal(err)
	}
	mgrCtx, cancel := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- mgr.Start(mgrCtx) }()
	t.Cleanup(func() {
		cancel()
		select {
		case <-done:
		case <-time.After(30 * time.Second):
			t.Errorf("manager did not stop")
		}
	})

	eventually := func(what string, cond func() bool) {
		t.Helper()
		deadline := time.Now().Add(15 * time.Second)
		for !cond() {
			if time.Now().After(deadline) {
				t.Fatalf("timed out waiting: %s", what)
			}
			time.Sleep(10 * time.Millisecond)
		}
	}
	// appliedTwiceMore waits for two more reconciles, woken by the state
	// file: the first may have started before the change.
	appliedTwiceMore := func(s vipdir.States) {
		t.Helper()
		n := mode.applies.Load()
		if err := vipdir.Write(dir.State(), s); err != nil {
			t.Fatal(err)
		}
		eventually("a reconcile after the state file changed", func() bool { return mode.applies.Load() >= n+1 })
		n = mode.applies.Load()
		s[netip.MustParseAddr("10.96.50.15")] = keepalived.StateStop // another change, another poke
		if err := vipdir.Write(dir.State(), s); err != nil {
			t.Fatal(err)
		}
		eventually("another reconcile", func() bool { return mode.applies.Load() >= n+1 })
	}
	holder := func() string {
		var svc corev1.Service
		if err := env.Client.Get(ctx, client.ObjectKey{Namespace: ns, Name: "web"}, &svc); err != nil {
			t.Fatal(err)
		}
		return svc.Annotations[v1alpha2.AnnotationVIPHolder]
	}

	appliedTwiceMore(vipdir.States{vip: keepalived.StateBackup})
	if h, n := holder(), patches.count(ns+"/web"); h != "" || n != 0 {
		t.Fatalf("BACKUP: holder %q after %d patches, want none", h, n)
	}

	if err := vipdir.Write(dir.State(), vipdir.States{vip: keepalived.StateMaster}); err != nil {
		t.Fatal(err)
	}
	eventually("the holder annotation", func() bool { return holder() == node })
	// The cache sees the annotation (a Service update wakes the
	// reconciler), and more state changes wake it again.
	eventually("the cache to see the annotation", func() bool {
		for _, s := range InformerServices(inf.(toolscache.SharedIndexInformer))() {
			if s.Namespace == ns && s.Name == "web" {
				return s.Annotations[v1alpha2.AnnotationVIPHolder] == node
			}
		}
		return false
	})
	appliedTwiceMore(vipdir.States{vip: keepalived.StateMaster, other: keepalived.StateBackup})
	if n := patches.count(ns + "/web"); n != 1 {
		t.Errorf("%d patches of the Service, want 1", n)
	}
	var got []string
	for len(recorder.Events) > 0 {
		got = append(got, <-recorder.Events)
	}
	if want := "Normal VIPHolder vnode1 holds 10.96.50.1 (VRRP master)"; len(got) != 1 || got[0] != want {
		t.Errorf("events %q, want one %q", got, want)
	}
}
