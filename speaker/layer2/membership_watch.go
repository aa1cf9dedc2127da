package layer2

import (
	"context"
	"time"

	coordinationv1 "k8s.io/api/coordination/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/watch"
)

// Retry delays of the Lease list after a failure: doubling from
// watchRetryMin up to watchRetryMax. client-go's reflector backs off up
// to 30-60 s, which after an API server outage would leave the view
// frozen that long; a failed list costs less than the renewals every
// speaker attempts meanwhile (one per retry period).
const (
	watchRetryMin = 100 * time.Millisecond
	watchRetryMax = 2 * time.Second
	// listTimeout bounds one list request.
	listTimeout = 10 * time.Second
)

// watch lists and watches the speakers' Leases into the table until ctx
// ends. It relists after every watch that ends, so that the table never
// misses a deletion, and the list's consistent snapshot keeps the stream
// rule of memberTable.expired true across reconnects.
func (m *Membership) watch(ctx context.Context) {
	selector := LeaseLabel + "=true"
	delay := watchRetryMin
	for ctx.Err() == nil {
		rv, err := m.list(ctx, selector)
		if err != nil {
			if ctx.Err() == nil {
				m.log.V(1).Info("list leases failed; retrying", "error", err.Error(), "retryIn", delay)
			}
			select {
			case <-ctx.Done():
				return
			case <-time.After(delay):
			}
			delay = min(2*delay, watchRetryMax)
			continue
		}
		delay = watchRetryMin
		if err := m.follow(ctx, selector, rv); err != nil && ctx.Err() == nil {
			m.log.V(1).Info("lease watch ended; relisting", "error", err.Error())
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
