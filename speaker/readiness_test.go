package speaker

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"

	"github.com/go-logr/logr"
	"github.com/prometheus/client_golang/prometheus"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/log"

	"github.com/herald-lb/herald/api/v1alpha2"
	"github.com/herald-lb/herald/internal/eippool"
)

// switchMode is a mode whose Apply fails while err is set.
type switchMode struct {
	mu  sync.Mutex
	err error
}

func (m *switchMode) set(err error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.err = err
}

func (m *switchMode) Apply(context.Context, Snapshot, Desired) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.err
}

func (m *switchMode) Shutdown(context.Context) error { return nil }

// modeReady reads herald_speaker_mode_ready{mode} from reg; -1 when the
// series does not exist.
func modeReady(t *testing.T, reg *prometheus.Registry, mode string) float64 {
	t.Helper()
	families, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range families {
		if f.GetName() != "herald_speaker_mode_ready" {
			continue
		}
		for _, m := range f.GetMetric() {
			for _, l := range m.GetLabel() {
				if l.GetName() == "mode" && l.GetValue() == mode {
					return m.GetGauge().GetValue()
				}
			}
		}
	}
	return -1
}

// TestReadinessFollowsModes: readiness says which mode fails now, among
// the modes that have work on this node (a layer2 Eip exists, so the
// layer2 mode has; nothing is of protocol "idle"), and
// herald_speaker_mode_ready says it of every mode.
func TestReadinessFollowsModes(t *testing.T) {
	create(t, &v1alpha2.Eip{ObjectMeta: metav1.ObjectMeta{Name: "ready-l2"}, Spec: v1alpha2.EipSpec{
		Address: "10.97.0.0/28", Protocol: v1alpha2.ProtocolLayer2, Interface: "eth0",
	}})
	t.Cleanup(func() { deleteAndWait(t, &v1alpha2.Eip{ObjectMeta: metav1.ObjectMeta{Name: "ready-l2"}}) })
	reg := prometheus.NewRegistry()
	metrics, err := NewMetrics(reg)
	if err != nil {
		t.Fatal(err)
	}
	l2, idle := &switchMode{}, &switchMode{}
	r := &Reconciler{Reader: env.Client, Node: "ready-node", Class: "herald.io/lb", Metrics: metrics,
		Modes: map[string]Mode{v1alpha2.ProtocolLayer2: l2, "idle": idle}}
	ctx := log.IntoContext(context.Background(), logr.Discard())
	reconcile := func() {
		t.Helper()
		_, _ = r.Reconcile(ctx, all) // the error is the modes'; readiness is under test
	}
	wantReady := func(step string, failing string, l2Metric, idleMetric float64) {
		t.Helper()
		err := r.Ready(nil)
		switch {
		case failing == "" && err != nil:
			t.Errorf("%s: not ready: %v", step, err)
		case failing != "" && (err == nil || !strings.Contains(err.Error(), failing)):
			t.Errorf("%s: readiness error %v, want one naming %q", step, err, failing)
		}
		if got := modeReady(t, reg, v1alpha2.ProtocolLayer2); got != l2Metric {
			t.Errorf("%s: herald_speaker_mode_ready{mode=layer2} = %v, want %v", step, got, l2Metric)
		}
		if got := modeReady(t, reg, "idle"); got != idleMetric {
			t.Errorf("%s: herald_speaker_mode_ready{mode=idle} = %v, want %v", step, got, idleMetric)
		}
	}

	l2.set(errors.New("interface eth0: open responder: boom"))
	reconcile()
	wantReady("layer2 broken at start", "layer2 mode: interface eth0: open responder: boom", 0, 1)
	l2.set(nil)
	reconcile()
	wantReady("layer2 recovered", "", 1, 1)
	l2.set(errors.New("lease: forbidden"))
	reconcile()
	wantReady("layer2 fails later", "layer2 mode: lease: forbidden", 0, 1)
	l2.set(nil)
	idle.set(errors.New("idle broken"))
	reconcile()
	wantReady("a mode without work fails", "", 1, 0)
}

// TestHasWork: which modes have work for which pools; a vip pool gives the
// layer2 mode work too, since it runs the Lease session VIP mode needs.
func TestHasWork(t *testing.T) {
	pools := func(protocols ...string) Snapshot {
		var s Snapshot
		for _, p := range protocols {
			s.Pools = append(s.Pools, eippool.Pool{Name: p, Protocol: p})
		}
		return s
	}
	for _, tc := range []struct {
		snap Snapshot
		mode string
		want bool
	}{
		{pools(), v1alpha2.ProtocolLayer2, false},
		{pools(v1alpha2.ProtocolBGP), v1alpha2.ProtocolLayer2, false},
		{pools(v1alpha2.ProtocolLayer2), v1alpha2.ProtocolLayer2, true},
		{pools(v1alpha2.ProtocolVIP), v1alpha2.ProtocolLayer2, true},
		{pools(v1alpha2.ProtocolVIP), v1alpha2.ProtocolVIP, true},
		{pools(v1alpha2.ProtocolLayer2), v1alpha2.ProtocolVIP, false},
		{pools(v1alpha2.ProtocolVIP), v1alpha2.ProtocolBGP, false},
	} {
		var names []string
		for _, p := range tc.snap.Pools {
			names = append(names, p.Protocol)
		}
		if got := hasWork(tc.mode, tc.snap); got != tc.want {
			t.Errorf("hasWork(%s, pools %v) = %v, want %v", tc.mode, names, got, tc.want)
		}
	}
}
