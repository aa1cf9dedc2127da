package controllers

import (
	"errors"
	"fmt"
	"sync"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/herald-lb/herald/internal/allocator"
)

// Values of the result label of herald_controller_allocations_total.
const (
	resultAllocated = "allocated"
	resultReleased  = "released"
	resultFailed    = "failed"
)

// poolMetrics are herald-controller's pool figures: how full each Eip is
// and what happened to the Services asking for addresses. The gauges are
// set from the report the Eip reconciler computes for the Eip's status, so
// a scrape costs nothing however many Services there are, and they follow
// the status's pace (Options.EipStatusInterval). A nil *poolMetrics
// records nothing.
type poolMetrics struct {
	addresses   *prometheus.GaugeVec
	allocations *prometheus.CounterVec

	mu sync.Mutex
	// protocols remembers the protocol label each Eip's series carry, so
	// that a changed protocol does not leave the old series behind.
	protocols map[string]string
}

// newPoolMetrics creates the series and registers them with reg. When a
// series is registered already (a second Setup in one process, as in
// tests), the registered one is used.
func newPoolMetrics(reg prometheus.Registerer) (*poolMetrics, error) {
	m := &poolMetrics{
		addresses: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "herald_controller_eip_addresses",
			Help: "Addresses of each Eip by state: total (the range's size), used (held by Services), free (total minus used). " +
				"Updated when the Eip's status is; an Eip that is invalid or gone has no series.",
		}, []string{"eip", "protocol", "state"}),
		allocations: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "herald_controller_allocations_total",
			Help: "Changes of Services' load-balancer addresses: allocated (a Service got new addresses), released (it gave them up), " +
				"failed (an allocation attempt failed, by the reason its AllocationFailed event names; a waiting Service is retried and counted again).",
		}, []string{"result", "reason"}),
		protocols: map[string]string{},
	}
	var err error
	if m.addresses, err = register(reg, m.addresses); err != nil {
		return nil, err
	}
	if m.allocations, err = register(reg, m.allocations); err != nil {
		return nil, err
	}
	// Start the successes at 0, so rate() sees the first one.
	m.allocations.WithLabelValues(resultAllocated, "")
	m.allocations.WithLabelValues(resultReleased, "")
	return m, nil
}

func register[C prometheus.Collector](reg prometheus.Registerer, c C) (C, error) {
	err := reg.Register(c)
	var already prometheus.AlreadyRegisteredError
	if errors.As(err, &already) {
		if existing, ok := already.ExistingCollector.(C); ok {
			return existing, nil
		}
	}
	if err != nil {
		return c, fmt.Errorf("register pool metrics: %w", err)
	}
	return c, nil
}

// pool sets an Eip's address gauges from its report, or removes them when
// the report says the Eip is no pool (invalid, or not seen yet).
func (m *poolMetrics) pool(name string, rep poolReport) {
	if m == nil {
		return
	}
	if !rep.valid {
		m.forget(name)
		return
	}
	protocol := rep.protocol
	m.mu.Lock()
	defer m.mu.Unlock()
	if old, ok := m.protocols[name]; ok && old != protocol {
		m.addresses.DeletePartialMatch(prometheus.Labels{"eip": name})
	}
	m.protocols[name] = protocol
	used := uint64(len(rep.used))
	// Held addresses the pool no longer hands out (avoidBuggyIPs) take
	// nothing from the usable total.
	usableUsed := used - uint64(len(rep.unusable))
	free := uint64(0)
	if rep.size > usableUsed {
		free = rep.size - usableUsed
	}
	m.addresses.WithLabelValues(name, protocol, "total").Set(float64(rep.size))
	m.addresses.WithLabelValues(name, protocol, "used").Set(float64(used))
	m.addresses.WithLabelValues(name, protocol, "free").Set(float64(free))
}

// forget removes an Eip's series.
func (m *poolMetrics) forget(name string) {
	if m == nil {
		return
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	delete(m.protocols, name)
	m.addresses.DeletePartialMatch(prometheus.Labels{"eip": name})
}

// allocated counts a Service that got new addresses.
func (m *poolMetrics) allocated() {
	if m != nil {
		m.allocations.WithLabelValues(resultAllocated, "").Inc()
	}
}

// released counts a Service that gave up its addresses.
func (m *poolMetrics) released() {
	if m != nil {
		m.allocations.WithLabelValues(resultReleased, "").Inc()
	}
}

// failed counts a failed allocation by its reason.
func (m *poolMetrics) failed(reason allocator.Reason) {
	if m != nil {
		m.allocations.WithLabelValues(resultFailed, string(reason)).Inc()
	}
}
