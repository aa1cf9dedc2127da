package speaker

import (
	"context"
	"fmt"
	"os"
	"sync"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	toolscache "k8s.io/client-go/tools/cache"
	"k8s.io/utils/ptr"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/config"
	"sigs.k8s.io/controller-runtime/pkg/log/zap"
	metricsserver "sigs.k8s.io/controller-runtime/pkg/metrics/server"

	"github.com/herald-lb/herald/internal/testenv"
	"github.com/herald-lb/herald/speaker/bgp"
)

var env *testenv.Env

func TestMain(m *testing.M) {
	ctrl.SetLogger(zap.New(zap.UseDevMode(true), zap.WriteTo(os.Stderr)))
	var err error
	env, err = testenv.New(testenv.Options{})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	code := m.Run()
	if err := env.Stop(); err != nil {
		fmt.Fprintln(os.Stderr, err)
	}
	os.Exit(code)
}

// fakeRouter records what the BGP mode asks of the router.
type fakeRouter struct {
	mu       sync.Mutex
	cfg      bgp.Config
	paths    []bgp.Path
	stopped  *bool
	statuses []bgp.PeerStatus
}

func (f *fakeRouter) Apply(_ context.Context, cfg bgp.Config, paths []bgp.Path) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.cfg, f.paths = cfg, paths
	return nil
}

func (f *fakeRouter) Stop(_ context.Context, graceful bool) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.stopped = &graceful
	return nil
}

func (f *fakeRouter) PeerStatus(context.Context) ([]bgp.PeerStatus, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.statuses, nil
}

func (f *fakeRouter) state() (bgp.Config, []bgp.Path) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.cfg, f.paths
}

// startSpeaker runs the speaker's reconciler and status writer for node
// with a fake router until the test ends.
func startSpeaker(t *testing.T, node string, router *fakeRouter) *Reconciler {
	t.Helper()
	mgr, err := ctrl.NewManager(env.Config, ctrl.Options{
		Scheme: env.Scheme, Metrics: metricsserver.Options{BindAddress: "0"}, HealthProbeBindAddress: "0",
		// Each test starts its own speaker in this one process; the names
		// of controllers are checked process-wide.
		Controller: config.Controller{SkipNameValidation: ptr.To(true)},
		// As herald-speaker runs: trimmed caches, Services from the store.
		Cache: CacheOptions(node),
	})
	if err != nil {
		t.Fatal(err)
	}
	inf, err := mgr.GetCache().GetInformer(context.Background(), &corev1.Service{})
	if err != nil {
		t.Fatal(err)
	}
	mode := &BGPMode{Node: node, Router: router, Secrets: mgr.GetAPIReader(), Log: ctrl.Log.WithName(node)}
	rec := &Reconciler{Reader: mgr.GetClient(), Services: InformerServices(inf.(toolscache.SharedIndexInformer)), Node: node, Class: "herald.io/lb", Modes: map[string]Mode{"bgp": mode}}
	if err := rec.SetupWithManager(mgr); err != nil {
		t.Fatal(err)
	}
	status := &BGPStatusWriter{Node: node, Mode: mode, Client: mgr.GetClient(), Log: ctrl.Log, Period: 500 * time.Millisecond}
	status.Init()
	if err := mgr.Add(status); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- mgr.Start(ctx) }()
	t.Cleanup(func() {
		cancel()
		select {
		case <-done:
		case <-time.After(30 * time.Second):
			t.Errorf("speaker manager did not stop")
		}
	})
	return rec
}
