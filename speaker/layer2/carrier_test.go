package layer2

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/go-logr/logr"
)

// fakeLinks hands CarrierWatch one subscription at a time: the test
// sends changes on updates and closes it to lose the subscription.
type fakeLinks struct {
	mu      sync.Mutex
	initial [][]LinkState // per subscription
	fail    int           // subscriptions to refuse first
	updates chan LinkState
	calls   int
}

func (f *fakeLinks) WatchLinks(context.Context) ([]LinkState, <-chan LinkState, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls++
	if f.fail > 0 {
		f.fail--
		return nil, nil, errors.New("netlink says no")
	}
	if len(f.initial) == 0 {
		return nil, nil, errors.New("test has no more subscriptions")
	}
	initial := f.initial[0]
	f.initial = f.initial[1:]
	f.updates = make(chan LinkState)
	return initial, f.updates, nil
}

func (f *fakeLinks) channel() chan LinkState {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.updates
}

// awaitChange waits for a notification from w.
func awaitChange(t *testing.T, w *CarrierWatch) {
	t.Helper()
	select {
	case <-w.Changed():
	case <-time.After(5 * time.Second):
		t.Fatal("no change notified")
	}
}

func noChange(t *testing.T, w *CarrierWatch) {
	t.Helper()
	select {
	case <-w.Changed():
		t.Fatal("change notified, want none")
	default:
	}
}

func TestCarrierWatch(t *testing.T) {
	fake := &fakeLinks{
		fail: 1,
		initial: [][]LinkState{
			{{Name: "lo", Up: true}, {Name: "eth0", Up: true}, {Name: "eth1", Up: false}},
			{{Name: "lo", Up: true}, {Name: "eth1", Up: true}},
		},
	}
	w := NewCarrierWatch(fake, logr.Discard())
	if w.Synced() || w.Up("lo") {
		t.Fatal("synced before the first list")
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		if err := w.Start(ctx); err != nil {
			t.Errorf("Start: %v", err)
		}
	}()
	defer func() { cancel(); <-done }()

	// The first subscription fails; the retry lists.
	awaitChange(t, w)
	if !w.Synced() || !w.Up("eth0") || w.Up("eth1") || w.Up("eth9") {
		t.Fatalf("after the list: synced %v eth0 %v eth1 %v eth9 %v", w.Synced(), w.Up("eth0"), w.Up("eth1"), w.Up("eth9"))
	}

	updates := fake.channel()
	updates <- LinkState{Name: "eth0", Up: false}
	awaitChange(t, w)
	if w.Up("eth0") || !w.Exists("eth0") {
		t.Errorf("eth0 after losing carrier: up %v, exists %v; want down but there", w.Up("eth0"), w.Exists("eth0"))
	}
	updates <- LinkState{Name: "eth0", Up: false} // no news
	updates <- LinkState{Name: "eth0", Up: true}
	awaitChange(t, w)
	if !w.Up("eth0") {
		t.Error("eth0 down after carrier came back")
	}
	updates <- LinkState{Name: "eth0", Gone: true}
	awaitChange(t, w)
	if w.Up("eth0") || w.Exists("eth0") {
		t.Error("eth0 up or there after it was deleted")
	}
	updates <- LinkState{Name: "eth7", Gone: true} // never known: no news
	updates <- LinkState{Name: "eth2", Up: true}   // flushes the one before
	awaitChange(t, w)
	noChange(t, w)

	// The subscription is lost: CarrierWatch lists again, and what the
	// list says replaces what it knew.
	close(updates)
	awaitChange(t, w)
	if !w.Up("eth1") || w.Up("eth2") {
		t.Errorf("after the relist: eth1 %v eth2 %v, want up and gone", w.Up("eth1"), w.Up("eth2"))
	}
}
