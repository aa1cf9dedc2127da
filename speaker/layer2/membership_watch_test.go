package layer2

import (
	"context"
	"errors"
	goruntime "runtime"
	"sync/atomic"
	"testing"
	"time"

	"github.com/go-logr/logr"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/client-go/kubernetes/fake"
	k8stesting "k8s.io/client-go/testing"
	clocktesting "k8s.io/utils/clock/testing"
)

// watchRig runs a Membership's list-and-watch loop over a fake clientset
// and a fake clock; watchFor decides what the nth watch (from 1) gets.
type watchRig struct {
	t       *testing.T
	clock   *clocktesting.FakeClock
	lists   atomic.Int32
	watches atomic.Int32
}

func startWatchRig(t *testing.T, watchFor func(n int32) (watch.Interface, error)) *watchRig {
	t.Helper()
	r := &watchRig{t: t, clock: clocktesting.NewFakeClock(time.Now())}
	cs := fake.NewClientset()
	cs.PrependReactor("list", "leases", func(k8stesting.Action) (bool, runtime.Object, error) {
		r.lists.Add(1)
		return false, nil, nil // the tracker answers
	})
	cs.PrependWatchReactor("leases", func(k8stesting.Action) (bool, watch.Interface, error) {
		w, err := watchFor(r.watches.Add(1))
		return true, w, err
	})
	lease, err := NewNodeLease(cs.CoordinationV1(), LeaseConfig{Node: "n1", Namespace: "herald-system", Log: logr.Discard()})
	if err != nil {
		t.Fatal(err)
	}
	m := NewMembership(cs.CoordinationV1(), lease)
	m.clock = r.clock
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		m.watch(ctx)
	}()
	t.Cleanup(func() {
		cancel()
		<-done
	})
	return r
}

// waitPaused waits until the loop waits on the clock, and fails the test
// if it keeps relisting without ever pausing.
func (r *watchRig) waitPaused() {
	r.t.Helper()
	r.waitPausedOr(func() bool { return false })
}

// waitPausedOr is waitPaused that also stops waiting once done holds.
func (r *watchRig) waitPausedOr(done func() bool) {
	r.t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !r.clock.HasWaiters() && !done() {
		if time.Now().After(deadline) {
			r.t.Fatalf("the lease watch loop relisted %d times in 5s without pausing between attempts", r.lists.Load())
		}
		goruntime.Gosched()
	}
}

// TestMembershipWatchBacksOff: a watch that fails right after a
// successful list does not make the loop relist at once, in a loop: the
// pauses grow up to watchRetryMax, and a watch that lasted resets them.
func TestMembershipWatchBacksOff(t *testing.T) {
	longWatch := watch.NewFake()
	const longWatchN = 6
	r := startWatchRig(t, func(n int32) (watch.Interface, error) {
		if n == longWatchN {
			return longWatch, nil
		}
		return nil, errors.New("watch refused")
	})

	// Ten seconds of failing watches, in steps of 50ms.
	const window, step = 10 * time.Second, 50 * time.Millisecond
	for elapsed := time.Duration(0); elapsed < window && r.watches.Load() < longWatchN-1; elapsed += step {
		r.waitPaused()
		r.clock.Step(step)
	}
	// Pauses of 100ms, 200ms, 400ms, 800ms (less jitter): five lists
	// within 1.5s, and no more before the fifth pause of 1.6s ends.
	r.waitPaused()
	if n := r.lists.Load(); n != longWatchN-1 {
		t.Fatalf("%d lists before the fifth pause, want %d", n, longWatchN-1)
	}
	r.clock.Step(watchRetryMin)
	r.waitPaused()
	if n := r.lists.Load(); n != longWatchN-1 {
		t.Errorf("relisted %v after a failed watch; the pause should have grown to about 1.6s", watchRetryMin)
	}
	// Now the sixth watch succeeds and lasts; when it ends, the next
	// relist comes after the shortest pause again.
	for r.watches.Load() < longWatchN {
		r.clock.Step(step)
		r.waitPausedOr(func() bool { return r.watches.Load() >= longWatchN })
	}
	r.clock.Step(2 * watchRetryReset)
	longWatch.Stop()
	r.waitPaused()
	lists := r.lists.Load()
	r.clock.Step(watchRetryMin)
	r.waitPaused()
	if n := r.lists.Load(); n != lists+1 {
		t.Errorf("after a watch that lasted %v, no relist within %v (lists %d -> %d)", 2*watchRetryReset, watchRetryMin, lists, n)
	}

	// A long run of failures: the pauses stay at the cap.
	r2 := startWatchRig(t, func(int32) (watch.Interface, error) { return nil, errors.New("watch refused") })
	for elapsed := time.Duration(0); elapsed < window; elapsed += step {
		r2.waitPaused()
		r2.clock.Step(step)
	}
	// 100+200+400+800+1600ms (less up to a fifth each), then at most
	// watchRetryMax: at most 11 lists in 10s, at least 8.
	if n := r2.lists.Load(); n < 8 || n > 11 {
		t.Errorf("%d lists in %v of failing watches, want 8-11", n, window)
	}
}
