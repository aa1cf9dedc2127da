package layer2

import (
	"context"
	"testing"
	"time"

	"github.com/go-logr/logr"
)

// TestNodeLeaseSetVIPConfigRefused: the vip Eips refused on this node are
// written at once, sorted and without duplicates, kept by the renewals
// beside the other annotations, and removed when cleared.
func TestNodeLeaseSetVIPConfigRefused(t *testing.T) {
	fake := newFakeLeases()
	l, err := NewNodeLease(fake, LeaseConfig{Node: "node1", Namespace: "herald", Log: logr.Discard()})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = l.Start(ctx)
	}()
	defer func() { cancel(); <-done }()
	name := LeaseNamePrefix + "node1"
	waitFor(t, 5*time.Second, func() bool { return fake.writeCount() >= 2 })

	l.SetUnavailableEips([]string{"eip-x"})
	l.SetVIPConfigRefused([]string{"vip-b", "vip-a", "vip-b"})
	carries := func() bool {
		a := fake.lease(name).Annotations
		return a[VIPConfigRefusedAnnotation] == "vip-a,vip-b" && a[UnavailableAnnotation] == "eip-x"
	}
	waitFor(t, 5*time.Second, carries)
	renewed := fake.writeCount()
	waitFor(t, 5*time.Second, func() bool { return fake.writeCount() >= renewed+2 })
	if !carries() {
		t.Errorf("after two renewals the lease carries %v", fake.lease(name).Annotations)
	}
	l.SetVIPConfigRefused(nil)
	waitFor(t, 5*time.Second, func() bool {
		a := fake.lease(name).Annotations
		_, refused := a[VIPConfigRefusedAnnotation]
		return !refused && a[UnavailableAnnotation] == "eip-x"
	})
}
