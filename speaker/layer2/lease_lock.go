package layer2

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"time"

	coordinationv1 "k8s.io/api/coordination/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	coordinationv1client "k8s.io/client-go/kubernetes/typed/coordination/v1"
	"k8s.io/client-go/tools/leaderelection/resourcelock"
)

// errReleaseWhileRunning refuses leaderelection's release after a renewal
// that missed its deadline: that is no planned stop, and emptying the
// holder would move this node's addresses away and back again.
var errReleaseWhileRunning = errors.New("lease not released: the speaker is still running")

// recentWrites is how many renewals leaseLock remembers the local time of;
// the watch delivers a renewal within milliseconds, 2 arrive per second.
const recentWrites = 16

// renewal is one renewTime this speaker wrote and the local time it was
// written at, with the monotonic reading renewTime lost on the wire.
type renewal struct {
	micros int64
	at     time.Time
}

// leaseLock is leaderelection's resourcelock.Interface for a speaker's own
// Lease. Unlike client-go's LeaseLock it also writes the Lease's label,
// owner and the annotations the speaker publishes (leaseAnnotations),
// remembers when it wrote each renewTime (for the membership view), and
// releases only on a planned stop.
type leaseLock struct {
	leases    coordinationv1client.LeaseInterface
	name      string
	namespace string
	node      string
	owners    []metav1.OwnerReference

	// io serializes requests and guards lease, the last copy read or
	// written.
	io    sync.Mutex
	lease *coordinationv1.Lease

	// mu guards what follows; never held during a request.
	mu        sync.Mutex
	stop      <-chan struct{}
	published leaseAnnotations
	writes    [recentWrites]renewal
	nextWrite int
}

// leaseAnnotations are the annotation values a speaker publishes on its
// Lease; an empty one is absent from it. Renewals and writePublished carry
// all of them at once, so a change of several costs one write.
type leaseAnnotations struct {
	unavailable string // UnavailableAnnotation
	addresses   string // AddressesAnnotation
	vipRefused  string // VIPConfigRefusedAnnotation
}

// carriedBy reports whether lease carries exactly these values.
func (a leaseAnnotations) carriedBy(lease *coordinationv1.Lease) bool {
	return lease.Annotations[UnavailableAnnotation] == a.unavailable &&
		lease.Annotations[AddressesAnnotation] == a.addresses &&
		lease.Annotations[VIPConfigRefusedAnnotation] == a.vipRefused
}

// applyTo sets the values on lease, removing the empty ones.
func (a leaseAnnotations) applyTo(lease *coordinationv1.Lease) {
	for _, kv := range [...]struct{ key, value string }{
		{UnavailableAnnotation, a.unavailable},
		{AddressesAnnotation, a.addresses},
		{VIPConfigRefusedAnnotation, a.vipRefused},
	} {
		if kv.value == "" {
			delete(lease.Annotations, kv.key)
			continue
		}
		if lease.Annotations == nil {
			lease.Annotations = map[string]string{}
		}
		lease.Annotations[kv.key] = kv.value
	}
}

var _ resourcelock.Interface = (*leaseLock)(nil)

func newLeaseLock(leases coordinationv1client.LeaseInterface, cfg LeaseConfig) *leaseLock {
	l := &leaseLock{leases: leases, name: LeaseNamePrefix + cfg.Node, namespace: cfg.Namespace, node: cfg.Node}
	if cfg.NodeUID != "" {
		l.owners = []metav1.OwnerReference{{APIVersion: "v1", Kind: "Node", Name: cfg.Node, UID: cfg.NodeUID}}
	}
	return l
}

func (l *leaseLock) setStop(stop <-chan struct{}) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.stop = stop
}

func (l *leaseLock) stopping() bool {
	l.mu.Lock()
	stop := l.stop
	l.mu.Unlock()
	if stop == nil {
		return false
	}
	select {
	case <-stop:
		return true
	default:
		return false
	}
}

// Get reads the Lease.
func (l *leaseLock) Get(ctx context.Context) (*resourcelock.LeaderElectionRecord, []byte, error) {
	l.io.Lock()
	defer l.io.Unlock()
	lease, err := l.leases.Get(ctx, l.name, metav1.GetOptions{})
	if err != nil {
		return nil, nil, err
	}
	l.lease = lease
	record := resourcelock.LeaseSpecToLeaderElectionRecord(&lease.Spec)
	raw, err := json.Marshal(*record)
	if err != nil {
		return nil, nil, fmt.Errorf("lease %s: encode record: %w", l.Describe(), err)
	}
	return record, raw, nil
}

// Create creates the Lease held by this node.
func (l *leaseLock) Create(ctx context.Context, ler resourcelock.LeaderElectionRecord) error {
	l.io.Lock()
	defer l.io.Unlock()
	lease := &coordinationv1.Lease{ObjectMeta: metav1.ObjectMeta{Name: l.name, Namespace: l.namespace}}
	l.dress(lease, ler)
	created, err := l.leases.Create(ctx, lease, metav1.CreateOptions{})
	if err != nil {
		return err
	}
	l.lease = created
	return nil
}

// Update renews (or releases, on a planned stop) the Lease.
func (l *leaseLock) Update(ctx context.Context, ler resourcelock.LeaderElectionRecord) error {
	if ler.HolderIdentity == "" && !l.stopping() {
		return errReleaseWhileRunning
	}
	l.io.Lock()
	defer l.io.Unlock()
	if l.lease == nil {
		return errors.New("lease not read or created yet")
	}
	lease := l.lease.DeepCopy()
	l.dress(lease, ler)
	updated, err := l.leases.Update(ctx, lease, metav1.UpdateOptions{})
	if err != nil {
		return err
	}
	l.lease = updated
	return nil
}

// dress sets the record as the Lease's spec, and its label, owner and
// annotations; a renewal's renewTime is remembered before it is sent,
// because the watch may deliver it before Update returns.
func (l *leaseLock) dress(lease *coordinationv1.Lease, ler resourcelock.LeaderElectionRecord) {
	lease.Spec = resourcelock.LeaderElectionRecordToLeaseSpec(&ler)
	if lease.Labels == nil {
		lease.Labels = map[string]string{}
	}
	lease.Labels[LeaseLabel] = "true"
	if len(l.owners) > 0 {
		lease.OwnerReferences = l.owners
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	l.published.applyTo(lease)
	if ler.HolderIdentity == l.node {
		l.writes[l.nextWrite] = renewal{micros: ler.RenewTime.UnixMicro(), at: ler.RenewTime.Time}
		l.nextWrite = (l.nextWrite + 1) % recentWrites
	}
}

// writtenAt returns the local time this speaker wrote renewTime at, if it
// is one of its recent renewals.
func (l *leaseLock) writtenAt(renewTime time.Time) (time.Time, bool) {
	micros := renewTime.UnixMicro()
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, w := range l.writes {
		if w.micros == micros && !w.at.IsZero() {
			return w.at, true
		}
	}
	return time.Time{}, false
}

// publish applies change to the annotations renewals carry and reports
// whether they changed.
func (l *leaseLock) publish(change func(*leaseAnnotations)) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	next := l.published
	change(&next)
	if next == l.published {
		return false
	}
	l.published = next
	return true
}

// writePublished writes the recorded annotations, all in one update, when
// the Lease last read or written carries other values. Before the Lease
// exists the creating renewal carries them; after a conflict the next
// renewal, which rereads the Lease, does.
func (l *leaseLock) writePublished(ctx context.Context) error {
	l.io.Lock()
	defer l.io.Unlock()
	if l.lease == nil {
		return nil
	}
	l.mu.Lock()
	want := l.published
	l.mu.Unlock()
	if want.carriedBy(l.lease) {
		return nil
	}
	lease := l.lease.DeepCopy()
	want.applyTo(lease)
	updated, err := l.leases.Update(ctx, lease, metav1.UpdateOptions{})
	if err != nil {
		return fmt.Errorf("lease %s: write annotations: %w", l.Describe(), err)
	}
	l.lease = updated
	return nil
}

// RecordEvent records nothing: an event per renewal failure of every
// node would be noise, and the speaker logs them.
func (l *leaseLock) RecordEvent(string) {}

// Identity is the node name.
func (l *leaseLock) Identity() string { return l.node }

// Describe names the Lease as namespace/name.
func (l *leaseLock) Describe() string { return l.namespace + "/" + l.name }
