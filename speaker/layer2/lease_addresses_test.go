package layer2

import (
	"context"
	"net/netip"
	"testing"
	"time"

	"github.com/go-logr/logr"
	"github.com/google/go-cmp/cmp"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/tools/leaderelection/resourcelock"
)

func TestAddressesAnnotationFormat(t *testing.T) {
	for _, tc := range []struct {
		name  string
		addrs []string
		want  string
	}{
		{"none", nil, ""},
		{"IPv4 only", []string{"192.0.2.1"}, "192.0.2.1"},
		{"IPv6 first in, IPv4 first out", []string{"2001:db8::1", "192.0.2.1"}, "192.0.2.1,2001:db8::1"},
		{"first of each family counts", []string{"192.0.2.1", "2001:db8::1", "192.0.2.2", "2001:db8::2"}, "192.0.2.1,2001:db8::1"},
		{"IPv4-mapped is IPv4, zone dropped", []string{"::ffff:192.0.2.7", "fe80::1%eth0"}, "192.0.2.7,fe80::1"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var in []netip.Addr
			for _, s := range tc.addrs {
				in = append(in, netip.MustParseAddr(s))
			}
			in = append(in, netip.Addr{}) // invalid: skipped
			if got := formatAddresses(in); got != tc.want {
				t.Errorf("formatAddresses(%v) = %q, want %q", tc.addrs, got, tc.want)
			}
		})
	}
}

func TestAddressesAnnotationParse(t *testing.T) {
	for _, tc := range []struct {
		value string
		want  []netip.Addr
	}{
		{"", nil},
		{"192.0.2.1,2001:db8::1", []netip.Addr{netip.MustParseAddr("192.0.2.1"), netip.MustParseAddr("2001:db8::1")}},
		// Lenient: another version may write more, or in another order.
		{" 2001:db8::1, bogus,,192.0.2.1,192.0.2.1, fe80::1%eth0, ::ffff:192.0.2.9 ",
			[]netip.Addr{netip.MustParseAddr("192.0.2.1"), netip.MustParseAddr("192.0.2.9"), netip.MustParseAddr("2001:db8::1")}},
		{"nothing,useful", nil},
	} {
		got := parseAddresses(tc.value)
		if diff := cmp.Diff(tc.want, got, cmp.Comparer(func(a, b netip.Addr) bool { return a == b })); diff != "" {
			t.Errorf("parseAddresses(%q) (-want +got):\n%s", tc.value, diff)
		}
	}
}

// TestLeaseLockPublishesAddresses: both annotations go out in one update
// when both changed, nothing is written when neither did, and renewals
// carry them.
func TestLeaseLockPublishesAddresses(t *testing.T) {
	fake := newFakeLeases()
	lock := newLeaseLock(fake, LeaseConfig{Node: "node1", Namespace: "herald"})
	lock.setStop(make(chan struct{}))
	ctx := context.Background()
	name := LeaseNamePrefix + "node1"

	// Before the Lease exists nothing is written; creating it carries the
	// addresses.
	lock.publish(func(a *leaseAnnotations) { a.addresses = "192.0.2.1" })
	if err := lock.writePublished(ctx); err != nil || fake.writeCount() != 0 {
		t.Fatalf("writePublished before the lease exists: %v, %d writes", err, fake.writeCount())
	}
	if err := lock.Create(ctx, resourcelock.LeaderElectionRecord{HolderIdentity: "node1", RenewTime: metav1.Now()}); err != nil {
		t.Fatal(err)
	}
	if got := fake.lease(name).Annotations[AddressesAnnotation]; got != "192.0.2.1" {
		t.Errorf("created lease: addresses %q, want 192.0.2.1", got)
	}

	if lock.publish(func(a *leaseAnnotations) { a.addresses = "192.0.2.1" }) {
		t.Error("publishing the same addresses reported a change")
	}
	changed := lock.publish(func(a *leaseAnnotations) { a.addresses = "192.0.2.1,2001:db8::1" })
	changed = lock.publish(func(a *leaseAnnotations) { a.unavailable = "eip-v" }) || changed
	if !changed {
		t.Fatal("publishing new values reported no change")
	}
	if err := lock.writePublished(ctx); err != nil {
		t.Fatal(err)
	}
	got := fake.lease(name)
	if fake.writeCount() != 2 || got.Annotations[AddressesAnnotation] != "192.0.2.1,2001:db8::1" || got.Annotations[UnavailableAnnotation] != "eip-v" {
		t.Errorf("after one writePublished: %d writes (want 2: create, one update), annotations %v", fake.writeCount(), got.Annotations)
	}
	if err := lock.writePublished(ctx); err != nil || fake.writeCount() != 2 {
		t.Errorf("writePublished without a change: %v, %d writes, want 2", err, fake.writeCount())
	}

	// Renewals keep carrying them; clearing removes the annotation.
	if err := lock.Update(ctx, resourcelock.LeaderElectionRecord{HolderIdentity: "node1", RenewTime: metav1.Now()}); err != nil {
		t.Fatal(err)
	}
	if got := fake.lease(name).Annotations[AddressesAnnotation]; got != "192.0.2.1,2001:db8::1" {
		t.Errorf("renewed lease: addresses %q", got)
	}
	lock.publish(func(a *leaseAnnotations) { a.addresses = "" })
	if err := lock.Update(ctx, resourcelock.LeaderElectionRecord{HolderIdentity: "node1", RenewTime: metav1.Now()}); err != nil {
		t.Fatal(err)
	}
	if got, ok := fake.lease(name).Annotations[AddressesAnnotation]; ok {
		t.Errorf("addresses cleared, yet the renewal wrote %q", got)
	}
	if got := fake.lease(name).Annotations[UnavailableAnnotation]; got != "eip-v" {
		t.Errorf("unavailable %q after clearing the addresses, want eip-v", got)
	}
}

// TestNodeLeaseSetAddresses runs the real leaderelection loop against the
// fake: SetAddresses and SetUnavailableEips together are written at once,
// and the renewals after carry both.
func TestNodeLeaseSetAddresses(t *testing.T) {
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

	before := fake.writeCount()
	l.SetAddresses([]netip.Addr{netip.MustParseAddr("2001:db8::7"), netip.MustParseAddr("192.0.2.7")})
	l.SetUnavailableEips([]string{"eip-x"})
	carries := func() bool {
		a := fake.lease(name).Annotations
		return a[AddressesAnnotation] == "192.0.2.7,2001:db8::7" && a[UnavailableAnnotation] == "eip-x"
	}
	waitFor(t, 5*time.Second, carries)
	// One write, or two when the first change's write went out before
	// the second change; at most one renewal meanwhile.
	if n := fake.writeCount() - before; n > 3 {
		t.Errorf("%d writes to publish addresses and unavailable eips, want at most 3", n)
	}
	renewed := fake.writeCount()
	waitFor(t, 5*time.Second, func() bool { return fake.writeCount() >= renewed+2 })
	if !carries() {
		t.Errorf("after two renewals the lease carries %v", fake.lease(name).Annotations)
	}
}
