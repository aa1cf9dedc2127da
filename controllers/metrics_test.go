package controllers

import (
	"context"
	"fmt"
	"net/netip"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	corev1 "k8s.io/api/core/v1"

	"github.com/herald-lb/herald/api/v1alpha2"
	"github.com/herald-lb/herald/internal/allocator"
	"github.com/herald-lb/herald/internal/testenv"
)

// TestPoolMetrics scrapes the controller's registry while Services come
// and go: an Eip's total/used/free follow its status, successes and
// failures are counted with the failure's reason, and the Eip's series go
// with the Eip.
func TestPoolMetrics(t *testing.T) {
	reg := prometheus.NewRegistry()
	startController(t, Options{Metrics: reg})
	ctx := context.Background()
	const eip = "metrics-pool"
	createEip(t, eip, "198.18.0.0/30", func(e *v1alpha2.Eip) { e.Spec.Protocol = v1alpha2.ProtocolBGP })
	ns := namespace(t, nil)
	pool := func(total, used, free float64) func() error {
		return func() error {
			for state, want := range map[string]float64{"total": total, "used": used, "free": free} {
				got, ok := sample(t, reg, "herald_controller_eip_addresses", map[string]string{"eip": eip, "protocol": "bgp", "state": state})
				if !ok || got != want {
					return fmt.Errorf("herald_controller_eip_addresses{eip=%q,state=%q} = %v (present %v), want %v", eip, state, got, ok, want)
				}
			}
			return nil
		}
	}
	allocations := func(result, reason string, want float64) func() error {
		return func() error {
			got, _ := sample(t, reg, "herald_controller_allocations_total", map[string]string{"result": result, "reason": reason})
			if got < want {
				return fmt.Errorf("herald_controller_allocations_total{result=%q,reason=%q} = %v, want at least %v", result, reason, got, want)
			}
			return nil
		}
	}

	testenv.Eventually(t, 10*time.Second, pool(4, 0, 4))
	for i := range 4 {
		name := fmt.Sprintf("svc-%d", i)
		createService(t, ns, name, annotated(v1alpha2.AnnotationEip, eip))
		waitIngress(t, ns, name, fmt.Sprintf("198.18.0.%d", i))
	}
	testenv.Eventually(t, 10*time.Second, pool(4, 4, 0))
	testenv.Eventually(t, 10*time.Second, allocations(resultAllocated, "", 4))

	createService(t, ns, "waiting", annotated(v1alpha2.AnnotationEip, eip))
	waitEvent(t, ns, "waiting", ReasonAllocationFailed, "PoolExhausted")
	testenv.Eventually(t, 10*time.Second, allocations(resultFailed, "PoolExhausted", 1))
	createService(t, ns, "garbage", annotated(v1alpha2.AnnotationRequestedIP, "not-an-ip"))
	waitEvent(t, ns, "garbage", ReasonAllocationFailed, "is not an IP address")
	testenv.Eventually(t, 10*time.Second, allocations(resultFailed, "InvalidRequest", 1))

	// A released address goes to the waiting Service: used stays at 4.
	if err := env.Client.Delete(ctx, &corev1.Service{ObjectMeta: objMeta(ns, "svc-0")}); err != nil {
		t.Fatal(err)
	}
	waitIngress(t, ns, "waiting", "198.18.0.0")
	testenv.Eventually(t, 10*time.Second, allocations(resultReleased, "", 1))
	testenv.Eventually(t, 10*time.Second, allocations(resultAllocated, "", 5))
	testenv.Eventually(t, 10*time.Second, pool(4, 4, 0))

	deleteEip(t, eip)
	testenv.Eventually(t, 10*time.Second, func() error {
		if v, ok := sample(t, reg, "herald_controller_eip_addresses", map[string]string{"eip": eip, "state": "total"}); ok {
			return fmt.Errorf("deleted Eip %s still has herald_controller_eip_addresses = %v", eip, v)
		}
		return nil
	})
}

// sample gathers reg and returns the value of the first series of the
// named metric that carries all of labels (a label with the value "" must
// be absent, as Prometheus treats it).
func sample(t *testing.T, reg *prometheus.Registry, name string, labels map[string]string) (float64, bool) {
	t.Helper()
	families, err := reg.Gather()
	if err != nil {
		t.Fatalf("gather: %v", err)
	}
	for _, f := range families {
		if f.GetName() != name {
			continue
		}
	series:
		for _, m := range f.GetMetric() {
			have := map[string]string{}
			for _, l := range m.GetLabel() {
				have[l.GetName()] = l.GetValue()
			}
			for k, v := range labels {
				if have[k] != v {
					continue series
				}
			}
			if m.GetCounter() != nil {
				return m.GetCounter().GetValue(), true
			}
			return m.GetGauge().GetValue(), true
		}
	}
	return 0, false
}

// TestPoolMetricsSeries: an Eip whose protocol changes keeps no series
// under the old one, an invalid report removes its series, and a second
// registration in one registry (a second Setup in one process) shares the
// registered series.
func TestPoolMetricsSeries(t *testing.T) {
	reg := prometheus.NewRegistry()
	m, err := newPoolMetrics(reg)
	if err != nil {
		t.Fatal(err)
	}
	used := map[netip.Addr][]string{netip.MustParseAddr("192.0.2.1"): {"ns/a"}}
	m.pool("p", poolReport{valid: true, protocol: v1alpha2.ProtocolBGP, size: 8, used: used})
	if v, ok := sample(t, reg, "herald_controller_eip_addresses", map[string]string{"eip": "p", "protocol": "bgp", "state": "free"}); !ok || v != 7 {
		t.Errorf("free = %v (present %v), want 7", v, ok)
	}
	m.pool("p", poolReport{valid: true, protocol: v1alpha2.ProtocolLayer2, size: 8, used: used})
	if _, ok := sample(t, reg, "herald_controller_eip_addresses", map[string]string{"eip": "p", "protocol": "bgp"}); ok {
		t.Error("series with the old protocol left after the protocol changed")
	}
	if v, ok := sample(t, reg, "herald_controller_eip_addresses", map[string]string{"eip": "p", "protocol": "layer2", "state": "used"}); !ok || v != 1 {
		t.Errorf("layer2 used = %v (present %v), want 1", v, ok)
	}
	m.pool("p", poolReport{problem: "overlaps Eip q"})
	if _, ok := sample(t, reg, "herald_controller_eip_addresses", map[string]string{"eip": "p"}); ok {
		t.Error("an invalid Eip still has series")
	}

	again, err := newPoolMetrics(reg)
	if err != nil {
		t.Fatalf("second registration: %v", err)
	}
	again.failed(allocator.ReasonIPInUse)
	m.failed(allocator.ReasonIPInUse)
	if v, _ := sample(t, reg, "herald_controller_allocations_total", map[string]string{"result": resultFailed, "reason": "IPInUse"}); v != 2 {
		t.Errorf("failed{IPInUse} = %v, want 2 (both registrations count into one series)", v)
	}
}
