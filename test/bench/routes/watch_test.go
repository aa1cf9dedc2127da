package routes

import (
	"context"
	"fmt"
	"github.com/herald-lb/herald/test/bench/benchstat"
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

// report gives the framework the median over runs of each metric.
func report(b *testing.B, runs []result) {
	b.Helper()
	p := func(ds []time.Duration, i int) float64 { return benchstat.Ms(benchstat.Percentiles(ds)[i]) }
	mib := func(v int64) float64 { return float64(v) / (1 << 20) }
	benchstat.Report(b, runs, []benchstat.Metric[result]{
		{Unit: "create-route-p50-ms", Of: func(r result) float64 { return p(r.create, 0) }},
		{Unit: "create-route-p95-ms", Of: func(r result) float64 { return p(r.create, 1) }},
		{Unit: "delete-gone-p50-ms", Of: func(r result) float64 { return p(r.delete, 0) }},
		{Unit: "delete-gone-p95-ms", Of: func(r result) float64 { return p(r.delete, 1) }},
		{Unit: "s-1000-all-routed", Of: func(r result) float64 { return r.bulkAllRouted.Seconds() }},
		{Unit: "speaker-peak-MiB", Of: func(r result) float64 { return mib(slices.Max(r.speakerPeak)) }},
		{Unit: "speaker-idle-MiB", Of: func(r result) float64 { return mib(slices.Max(r.speakerIdle)) }},
		{Unit: "speaker-cpu-s", Of: func(r result) float64 { return slices.Max(r.speakerCPU).Seconds() }},
		{Unit: "speaker-anon-MiB", Of: func(r result) float64 { return mib(slices.Max(r.speakerAnon)) }},
	})
}
