package routes

import (
	"context"
	"fmt"
	"net/netip"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/herald-lb/herald/test/e2e/cluster"
)

// routeWatch records, from the router's netlink route events, when each
// host route first had every node as next hop and when it was last
// deleted. The kernel's event time is when the test process read it,
// microseconds after BIRD's write.
type routeWatch struct {
	nodes int

	mu   sync.Mutex
	cond *sync.Cond
	full map[netip.Addr]time.Time // latest time the route reached `nodes` next hops
	gone map[netip.Addr]time.Time // latest deletion
	err  error
}

func watch(ctx context.Context, c *cluster.Cluster, nodes int) (*routeWatch, error) {
	events, err := c.WatchRoutes(ctx, c.Router.NS)
	if err != nil {
		return nil, err
	}
	w := &routeWatch{nodes: nodes, full: map[netip.Addr]time.Time{}, gone: map[netip.Addr]time.Time{}}
	w.cond = sync.NewCond(&w.mu)
	go func() {
		for ev := range events {
			if !ev.Dst.IsSingleIP() {
				continue
			}
			w.mu.Lock()
			a := ev.Dst.Addr()
			switch {
			case ev.Deleted:
				w.gone[a] = ev.At
			case len(ev.Gateways) == w.nodes:
				w.full[a] = ev.At
			}
			w.cond.Broadcast()
			w.mu.Unlock()
		}
		w.mu.Lock()
		w.err = fmt.Errorf("route watch ended")
		w.cond.Broadcast()
		w.mu.Unlock()
	}()
	// Wake waiters when ctx ends.
	go func() {
		<-ctx.Done()
		w.mu.Lock()
		w.cond.Broadcast()
		w.mu.Unlock()
	}()
	return w, nil
}

// wait blocks until cond (called with the lock held) returns true, the
// watch ends, or timeout passes.
func (w *routeWatch) wait(ctx context.Context, timeout time.Duration, cond func() bool) error {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	stop := context.AfterFunc(ctx, func() {
		w.mu.Lock()
		w.cond.Broadcast()
		w.mu.Unlock()
	})
	defer stop()
	w.mu.Lock()
	defer w.mu.Unlock()
	for !cond() {
		if w.err != nil {
			return w.err
		}
		if ctx.Err() != nil {
			return ctx.Err()
		}
		w.cond.Wait()
	}
	return nil
}

// waitFull returns when a's route reached every node after since.
func (w *routeWatch) waitFull(ctx context.Context, a netip.Addr, since time.Time) (time.Time, error) {
	var at time.Time
	err := w.wait(ctx, 30*time.Second, func() bool {
		at = w.full[a]
		return at.After(since)
	})
	if err != nil {
		return at, fmt.Errorf("ECMP route to %s: %w", a, err)
	}
	return at, nil
}

// waitGone returns when a's route was deleted after since.
func (w *routeWatch) waitGone(ctx context.Context, a netip.Addr, since time.Time) (time.Time, error) {
	var at time.Time
	err := w.wait(ctx, 30*time.Second, func() bool {
		at = w.gone[a]
		return at.After(since)
	})
	if err != nil {
		return at, fmt.Errorf("withdrawal of %s: %w", a, err)
	}
	return at, nil
}

// waitFullCount returns the time of the n-th route (counting those that
// reached every node after since and are not deleted since).
func (w *routeWatch) waitFullCount(ctx context.Context, n int, since time.Time, timeout time.Duration) (time.Time, error) {
	var last time.Time
	var count int
	err := w.wait(ctx, timeout, func() bool {
		count, last = 0, time.Time{}
		for a, at := range w.full {
			if at.After(since) && !w.gone[a].After(at) {
				count++
				if at.After(last) {
					last = at
				}
			}
		}
		return count >= n
	})
	if err != nil {
		return last, fmt.Errorf("%d of %d ECMP routes: %w", count, n, err)
	}
	return last, nil
}

// percentiles are p50, p95 and max of ds (not empty), rounded.
func percentiles(ds []time.Duration) [3]time.Duration {
	s := slices.Clone(ds)
	slices.Sort(s)
	at := func(p float64) time.Duration {
		i := int(p*float64(len(s))+0.5) - 1
		return s[max(0, min(i, len(s)-1))].Round(100 * time.Microsecond)
	}
	return [3]time.Duration{at(0.50), at(0.95), s[len(s)-1].Round(100 * time.Microsecond)}
}

// report gives the framework the median over runs of each metric and
// logs the spread.
func report(b *testing.B, runs []result) {
	b.Helper()
	metrics := []struct {
		unit string
		of   func(result) float64
	}{
		{"create-route-p50-ms", func(r result) float64 { return ms(percentiles(r.create)[0]) }},
		{"create-route-p95-ms", func(r result) float64 { return ms(percentiles(r.create)[1]) }},
		{"delete-gone-p50-ms", func(r result) float64 { return ms(percentiles(r.delete)[0]) }},
		{"delete-gone-p95-ms", func(r result) float64 { return ms(percentiles(r.delete)[1]) }},
		{"s-1000-all-routed", func(r result) float64 { return r.bulkAllRouted.Seconds() }},
		{"speaker-peak-MiB", func(r result) float64 { return float64(slices.Max(r.speakerPeak)) / (1 << 20) }},
		{"speaker-idle-MiB", func(r result) float64 { return float64(slices.Max(r.speakerIdle)) / (1 << 20) }},
		{"speaker-cpu-s", func(r result) float64 { return slices.Max(r.speakerCPU).Seconds() }},
		{"speaker-anon-MiB", func(r result) float64 { return float64(slices.Max(r.speakerAnon)) / (1 << 20) }},
	}
	var parts []string
	for _, m := range metrics {
		var values []float64
		for _, r := range runs {
			values = append(values, m.of(r))
		}
		s := slices.Clone(values)
		slices.Sort(s)
		med := s[len(s)/2]
		if len(s)%2 == 0 {
			med = (s[len(s)/2-1] + s[len(s)/2]) / 2
		}
		b.ReportMetric(med, m.unit)
		parts = append(parts, fmt.Sprintf("%s %.3g [%.3g, %.3g]", m.unit, med, s[0], s[len(s)-1]))
	}
	b.Logf("median [min, max] of %d runs: %v", len(runs), parts)
	b.ReportMetric(0, "ns/op")
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }
