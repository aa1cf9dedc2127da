package layer2

import (
	"context"
	"math/rand/v2"
	"time"

	coordinationv1 "k8s.io/api/coordination/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/watch"
)

// Pauses before the next list of the Leases, after a list that failed or
// a watch that ended: doubling from watchRetryMin up to watchRetryMax, and
// back to watchRetryMin after a watch that lasted watchRetryReset. A watch
// that fails right after its list (an API server that accepts lists but
// refuses watches, a proxy that cuts them) would otherwise make the loop
// relist at once, forever, each list a full read of the Leases. client-go's
// reflector backs off up to 30-60 s, which after an API server outage would
// leave the view frozen that long; a failed list costs less than the
// renewals every speaker attempts meanwhile (one per retry period).
const (
	watchRetryMin   = 100 * time.Millisecond
	watchRetryMax   = 2 * time.Second
	watchRetryReset = 10 * time.Second
	// listTimeout bounds one list request.
	listTimeout = 10 * time.Second
)

// relistBackoff is the pause before the next list (see watchRetryMin).
// Each pause is shortened by up to a fifth at random, so that speakers
// cut off together do not all relist in step; it never exceeds
// watchRetryMax.
type relistBackoff struct{ next time.Duration }

func (b *relistBackoff) step() time.Duration {
	d := max(b.next, watchRetryMin)
	b.next = min(2*d, watchRetryMax)
	return d - rand.N(d/5+1)
}

func (b *relistBackoff) reset() { b.next = 0 }

// watch lists and watches the speakers' Leases into the table until ctx
// ends. It relists after every watch that ends, so that the table never
// misses a deletion, and the list's consistent snapshot keeps the stream
// rule of memberTable.expired true across reconnects.
func (m *Membership) watch(ctx context.Context) {
	selector := LeaseLabel + "=true"
	var backoff relistBackoff
	for ctx.Err() == nil {
		rv, err := m.list(ctx, selector)
		what := "list leases failed"
		if err == nil {
			what = "lease watch ended"
			start := m.clock.Now()
			err = m.follow(ctx, selector, rv)
			if m.clock.Since(start) >= watchRetryReset {
				backoff.reset()
			}
		}
		if ctx.Err() != nil {
			return
		}
		delay := backoff.step()
		if err != nil {
			m.log.V(1).Info(what+"; relisting", "error", err.Error(), "retryIn", delay)
		}
		select {
		case <-ctx.Done():
			return
		case <-m.clock.After(delay):
		}
	}
}

// list replaces the table with the current Leases and returns the list's
// resourceVersion.
func (m *Membership) list(ctx context.Context, selector string) (string, error) {
	lctx, cancel := context.WithTimeout(ctx, listTimeout)
	defer cancel()
	list, err := m.leases.List(lctx, metav1.ListOptions{LabelSelector: selector})
	if err != nil {
		return "", err
	}
	m.mu.Lock()
	m.table.replace(list.Items, time.Now())
	m.mu.Unlock()
	m.touch()
	return list.ResourceVersion, nil
}

// follow applies watch events from resourceVersion rv until the watch
// ends; the error says why when it was not ctx.
func (m *Membership) follow(ctx context.Context, selector, rv string) error {
	w, err := m.leases.Watch(ctx, metav1.ListOptions{LabelSelector: selector, ResourceVersion: rv, AllowWatchBookmarks: true})
	if err != nil {
		return err
	}
	defer w.Stop()
	for {
		var ev watch.Event
		var ok bool
		select {
		case <-ctx.Done():
			return nil
		case ev, ok = <-w.ResultChan():
		}
		if !ok {
			return nil
		}
		switch ev.Type {
		case watch.Added, watch.Modified, watch.Deleted:
			lease, isLease := ev.Object.(*coordinationv1.Lease)
			if !isLease {
				continue
			}
			m.mu.Lock()
			if ev.Type == watch.Deleted {
				m.table.remove(lease.Name)
			} else {
				m.table.observe(lease, time.Now())
			}
			m.mu.Unlock()
			m.touch()
		case watch.Error:
			return apierrors.FromObject(ev.Object)
		}
	}
}
