package layer2

import (
	"context"
	"errors"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/go-logr/logr"
	"github.com/google/go-cmp/cmp"
	coordinationv1 "k8s.io/api/coordination/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	coordinationv1client "k8s.io/client-go/kubernetes/typed/coordination/v1"
	"k8s.io/client-go/tools/leaderelection/resourcelock"
)

// fakeLeases stores Leases with resourceVersion checks and records the
// writes; the embedded interface panics on anything else.
type fakeLeases struct {
	coordinationv1client.LeaseInterface
	mu     sync.Mutex
	stored map[string]*coordinationv1.Lease
	rv     int
	writes []string // "create name" / "update name"
}

var leaseResource = schema.GroupResource{Group: "coordination.k8s.io", Resource: "leases"}

func newFakeLeases() *fakeLeases { return &fakeLeases{stored: map[string]*coordinationv1.Lease{}} }

func (f *fakeLeases) Leases(string) coordinationv1client.LeaseInterface { return f }

func (f *fakeLeases) Get(_ context.Context, name string, _ metav1.GetOptions) (*coordinationv1.Lease, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	l, ok := f.stored[name]
	if !ok {
		return nil, apierrors.NewNotFound(leaseResource, name)
	}
	return l.DeepCopy(), nil
}

func (f *fakeLeases) Create(_ context.Context, l *coordinationv1.Lease, _ metav1.CreateOptions) (*coordinationv1.Lease, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if _, ok := f.stored[l.Name]; ok {
		return nil, apierrors.NewAlreadyExists(leaseResource, l.Name)
	}
	return f.store("create", l), nil
}

func (f *fakeLeases) Update(_ context.Context, l *coordinationv1.Lease, _ metav1.UpdateOptions) (*coordinationv1.Lease, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	old, ok := f.stored[l.Name]
	if !ok {
		return nil, apierrors.NewNotFound(leaseResource, l.Name)
	}
	if old.ResourceVersion != l.ResourceVersion {
		return nil, apierrors.NewConflict(leaseResource, l.Name, errors.New("resourceVersion changed"))
	}
	return f.store("update", l), nil
}

func (f *fakeLeases) store(verb string, l *coordinationv1.Lease) *coordinationv1.Lease {
	f.rv++
	l = l.DeepCopy()
	l.ResourceVersion = strconv.Itoa(f.rv)
	f.stored[l.Name] = l
	f.writes = append(f.writes, verb+" "+l.Name)
	return l.DeepCopy()
}

func (f *fakeLeases) lease(name string) *coordinationv1.Lease {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.stored[name].DeepCopy()
}

func (f *fakeLeases) writeCount() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return len(f.writes)
}

func TestLeaseConfigValidation(t *testing.T) {
	for _, tc := range []struct {
		name string
		cfg  LeaseConfig
		ok   bool
	}{
		{"defaults", LeaseConfig{Node: "node1", Namespace: "herald"}, true},
		{"no node", LeaseConfig{Namespace: "herald"}, false},
		{"no namespace", LeaseConfig{Node: "node1"}, false},
		{"node name too long for a lease name", LeaseConfig{Node: string(make([]byte, 250)), Namespace: "herald"}, false},
		{"renew deadline not below lease duration", LeaseConfig{Node: "n", Namespace: "h", LeaseDuration: time.Second, RenewDeadline: time.Second}, false},
		{"retry period too close to renew deadline", LeaseConfig{Node: "n", Namespace: "h", RenewDeadline: time.Second, RetryPeriod: 900 * time.Millisecond}, false},
		{"slow timings", LeaseConfig{Node: "n", Namespace: "h", LeaseDuration: 5 * time.Second, RenewDeadline: 3500 * time.Millisecond, RetryPeriod: 1500 * time.Millisecond}, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := NewNodeLease(newFakeLeases(), tc.cfg)
			if (err == nil) != tc.ok {
				t.Fatalf("NewNodeLease: error %v, want ok=%v", err, tc.ok)
			}
			if err != nil && !errors.Is(err, ErrLeaseConfig) {
				t.Errorf("error %v does not wrap ErrLeaseConfig", err)
			}
		})
	}
}

func TestLeaseLock(t *testing.T) {
	fake := newFakeLeases()
	lock := newLeaseLock(fake, LeaseConfig{Node: "node1", Namespace: "herald", NodeUID: "uid-1"})
	stop := make(chan struct{})
	lock.setStop(stop)
	ctx := context.Background()
	name := LeaseNamePrefix + "node1"

	lock.publish(func(a *leaseAnnotations) { a.unavailable = formatUnavailable([]string{"eip-b", "eip-a"}) })
	t0 := time.Now()
	if err := lock.Create(ctx, resourcelock.LeaderElectionRecord{HolderIdentity: "node1", RenewTime: metav1.NewTime(t0)}); err != nil {
		t.Fatal(err)
	}
	got := fake.lease(name)
	if got.Labels[LeaseLabel] != "true" || got.Annotations[UnavailableAnnotation] != "eip-a,eip-b" {
		t.Errorf("created lease metadata: labels %v annotations %v", got.Labels, got.Annotations)
	}
	wantOwner := []metav1.OwnerReference{{APIVersion: "v1", Kind: "Node", Name: "node1", UID: "uid-1"}}
	if diff := cmp.Diff(wantOwner, got.OwnerReferences); diff != "" {
		t.Errorf("owner references (-want +got):\n%s", diff)
	}
	// The renewTime comes back from the API server truncated to
	// microseconds and without a monotonic reading.
	if at, ok := lock.writtenAt(got.Spec.RenewTime.Time.Truncate(time.Microsecond).Round(0)); !ok || at != t0 {
		t.Errorf("writtenAt(renewTime) = %v, %v; want %v, true", at, ok, t0)
	}

	// A renewal that missed its deadline must not release the lease.
	err := lock.Update(ctx, resourcelock.LeaderElectionRecord{HolderIdentity: "", RenewTime: metav1.Now()})
	if !errors.Is(err, errReleaseWhileRunning) {
		t.Errorf("release while running: %v, want errReleaseWhileRunning", err)
	}
	if h := fake.lease(name).Spec.HolderIdentity; *h != "node1" {
		t.Errorf("holder %q after a refused release", *h)
	}

	// The annotation is written only when it changed.
	if err := lock.writePublished(ctx); err != nil {
		t.Fatal(err)
	}
	if n := fake.writeCount(); n != 1 {
		t.Errorf("%d writes, want 1 (no change to write)", n)
	}
	if !lock.publish(func(a *leaseAnnotations) { a.unavailable = "" }) {
		t.Error("clearing the unavailable list reported no change")
	}
	if err := lock.writePublished(ctx); err != nil {
		t.Fatal(err)
	}
	if _, ok := fake.lease(name).Annotations[UnavailableAnnotation]; ok || fake.writeCount() != 2 {
		t.Errorf("annotation after clearing: %v, %d writes", fake.lease(name).Annotations, fake.writeCount())
	}
	// A renewal carries the current value too, and keeps the label.
	lock.publish(func(a *leaseAnnotations) { a.unavailable = "eip-c" })
	if err := lock.Update(ctx, resourcelock.LeaderElectionRecord{HolderIdentity: "node1", RenewTime: metav1.Now()}); err != nil {
		t.Fatal(err)
	}
	if got := fake.lease(name); got.Annotations[UnavailableAnnotation] != "eip-c" || got.Labels[LeaseLabel] != "true" {
		t.Errorf("renewed lease metadata: labels %v annotations %v", got.Labels, got.Annotations)
	}

	// On a planned stop the release goes through.
	close(stop)
	if err := lock.Update(ctx, resourcelock.LeaderElectionRecord{HolderIdentity: "", RenewTime: metav1.Now()}); err != nil {
		t.Fatalf("release on stop: %v", err)
	}
	if h := fake.lease(name).Spec.HolderIdentity; *h != "" {
		t.Errorf("holder %q after release, want empty", *h)
	}
}

// TestNodeLeaseRunsAndReleases runs the real leaderelection loop against
// the fake: it creates the Lease, renews it about every retry period,
// writes a changed unavailable list at once, and releases on stop.
func TestNodeLeaseRunsAndReleases(t *testing.T) {
	fake := newFakeLeases()
	l, err := NewNodeLease(fake, LeaseConfig{Node: "node1", Namespace: "herald", Log: logr.Discard()})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		if err := l.Start(ctx); err != nil {
			t.Errorf("Start: %v", err)
		}
	}()
	name := LeaseNamePrefix + "node1"
	waitFor(t, 5*time.Second, func() bool { return fake.writeCount() >= 3 })
	if h := fake.lease(name).Spec.HolderIdentity; h == nil || *h != "node1" {
		t.Fatalf("holder %v, want node1", h)
	}
	before := fake.writeCount()
	l.SetUnavailableEips([]string{"eip-a"})
	waitFor(t, 5*time.Second, func() bool { return fake.lease(name).Annotations[UnavailableAnnotation] == "eip-a" })
	if n := fake.writeCount() - before; n > 2 {
		t.Errorf("%d writes to set the annotation, want 1 (and at most one renewal meanwhile)", n)
	}
	cancel()
	<-done
	if h := fake.lease(name).Spec.HolderIdentity; *h != "" {
		t.Errorf("holder %q after stop, want released", *h)
	}
}

// waitFor polls cond every 10 ms until it holds or within passes.
func waitFor(t *testing.T, within time.Duration, cond func() bool) time.Duration {
	t.Helper()
	start := time.Now()
	for !cond() {
		if time.Since(start) > within {
			t.Fatalf("condition not met within %s", within)
		}
		time.Sleep(10 * time.Millisecond)
	}
	return time.Since(start)
}
