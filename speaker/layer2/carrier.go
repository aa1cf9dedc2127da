package layer2

import (
	"context"
	"maps"
	"sync"
	"time"

	"github.com/go-logr/logr"
)

// LinkState is what the carrier watch needs to know of one interface.
type LinkState struct {
	Name string
	// Up is true when the link is administratively up and operationally
	// running (IFF_UP and IFF_RUNNING): it has carrier, or, like lo,
	// does not report one.
	Up bool
	// Gone is true when the link was deleted.
	Gone bool
}

// LinkMonitor is the operating system's side of CarrierWatch.
type LinkMonitor interface {
	// WatchLinks returns the state of every link and a channel of later
	// changes, closed when ctx ends or the subscription fails (then the
	// caller calls WatchLinks again).
	WatchLinks(ctx context.Context) ([]LinkState, <-chan LinkState, error)
}

// Resubscription delays of CarrierWatch after a failed or lost
// subscription, doubling.
const (
	carrierRetryMin = 100 * time.Millisecond
	carrierRetryMax = 5 * time.Second
)

// CarrierWatch follows which interfaces of this node have carrier. The
// speaker stops answering for the addresses of an interface that lost it
// and marks their Eips unavailable (NodeLease.SetUnavailableEips), since
// its Lease may still be renewed over another interface.
type CarrierWatch struct {
	monitor LinkMonitor
	log     logr.Logger
	changed chan struct{}

	mu     sync.Mutex
	links  map[string]bool // name -> up
	synced bool
}

// NewCarrierWatch returns a watch fed by monitor (NetlinkLinks on Linux);
// Start runs it.
func NewCarrierWatch(monitor LinkMonitor, log logr.Logger) *CarrierWatch {
	return &CarrierWatch{monitor: monitor, log: log.WithName("carrier"), changed: make(chan struct{}, 1), links: map[string]bool{}}
}

// Start follows the links until ctx ends, then returns nil; it subscribes
// again after a lost subscription. It is a controller-runtime Runnable.
func (w *CarrierWatch) Start(ctx context.Context) error {
	delay := carrierRetryMin
	for ctx.Err() == nil {
		initial, updates, err := w.monitor.WatchLinks(ctx)
		if err != nil {
			w.log.Error(err, "subscribe to link updates; retrying", "retryIn", delay)
			select {
			case <-ctx.Done():
				return nil
			case <-time.After(delay):
			}
			delay = min(2*delay, carrierRetryMax)
			continue
		}
		delay = carrierRetryMin
		w.reset(initial)
		if w.follow(ctx, updates) {
			w.log.Info("link subscription lost; subscribing again")
		}
	}
	return nil
}

// follow applies updates until ctx ends (false) or the subscription is
// lost (true).
func (w *CarrierWatch) follow(ctx context.Context, updates <-chan LinkState) bool {
	for {
		select {
		case <-ctx.Done():
			return false
		case st, ok := <-updates:
			if !ok {
				return ctx.Err() == nil
			}
			w.apply(st)
		}
	}
}

// NeedLeaderElection is false: every node watches its own links.
func (w *CarrierWatch) NeedLeaderElection() bool { return false }

// Up reports whether the named interface exists and has carrier.
func (w *CarrierWatch) Up(name string) bool {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.links[name]
}

// Exists reports whether the named interface exists, with carrier or
// without. VIP mode asks this rather than Up: keepalived itself faults an
// instance whose interface loses carrier, within milliseconds and without
// a reload, so a carrier change must not make any speaker re-render.
func (w *CarrierWatch) Exists(name string) bool {
	w.mu.Lock()
	defer w.mu.Unlock()
	_, ok := w.links[name]
	return ok
}

// Synced reports whether the first list of links has arrived; before, Up
// is false for every interface and should not be acted on.
func (w *CarrierWatch) Synced() bool {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.synced
}

// Changed receives a value after an interface came, went, gained or lost
// carrier, and after the first list; changes coalesce.
func (w *CarrierWatch) Changed() <-chan struct{} {
	return w.changed
}

// reset replaces the known links with a fresh list.
func (w *CarrierWatch) reset(initial []LinkState) {
	links := make(map[string]bool, len(initial))
	for _, st := range initial {
		if !st.Gone {
			links[st.Name] = st.Up
		}
	}
	w.mu.Lock()
	old, wasSynced := w.links, w.synced
	w.links, w.synced = links, true
	w.mu.Unlock()
	if wasSynced {
		for name, up := range links {
			if was, ok := old[name]; !ok || was != up {
				w.logLink(name, up, false)
			}
		}
		for name := range old {
			if _, ok := links[name]; !ok {
				w.logLink(name, false, true)
			}
		}
	}
	if !wasSynced || !maps.Equal(old, links) {
		w.notify()
	}
}

// apply records one change.
func (w *CarrierWatch) apply(st LinkState) {
	w.mu.Lock()
	was, known := w.links[st.Name]
	if st.Gone {
		delete(w.links, st.Name)
	} else {
		w.links[st.Name] = st.Up
	}
	w.mu.Unlock()
	if st.Gone && !known || !st.Gone && known && was == st.Up {
		return
	}
	w.logLink(st.Name, st.Up && !st.Gone, st.Gone)
	w.notify()
}

func (w *CarrierWatch) logLink(name string, up, gone bool) {
	switch {
	case gone:
		w.log.Info("interface gone", "interface", name)
	case up:
		w.log.Info("interface has carrier", "interface", name)
	default:
		w.log.Info("interface without carrier", "interface", name)
	}
}

func (w *CarrierWatch) notify() {
	select {
	case w.changed <- struct{}{}:
	default:
	}
}
