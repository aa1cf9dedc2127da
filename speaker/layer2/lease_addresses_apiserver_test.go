package layer2

import (
	"net/netip"
	"slices"
	"testing"
	"time"

	coordinationv1 "k8s.io/api/coordination/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/herald-lb/herald/internal/testenv"
)

// TestLeaseAddressesAgainstAPIServer: a speaker's addresses reach the
// other speakers' views through its Lease on a real kube-apiserver, poke
// Changed, and stay on the Lease across renewals.
func TestLeaseAddressesAgainstAPIServer(t *testing.T) {
	env := testenv.Start(t, testenv.Options{})
	r := newSpeakerRig(t, env)
	a, b := r.start("node-a", false), r.start("node-b", false)
	r.waitView(time.Now(), 10*time.Second, []string{a.node, b.node}, a.node, b.node)
	if got := b.view.Snapshot().Addrs; got != nil {
		t.Errorf("addresses before any were published: %v", got)
	}
	// Drain the pokes of the view coming up.
	select {
	case <-b.view.Changed():
	default:
	}

	want := []netip.Addr{netip.MustParseAddr("192.0.2.10"), netip.MustParseAddr("2001:db8::10")}
	a.lease.SetAddresses([]netip.Addr{want[1], want[0]})
	took := waitFor(t, 2*time.Second, func() bool { return slices.Equal(b.view.Snapshot().Addrs[a.node], want) })
	t.Logf("addresses seen by the other speaker in %s", took)
	select {
	case <-b.view.Changed():
	case <-time.After(time.Second):
		t.Error("Changed not poked for the new addresses")
	}

	key := client.ObjectKey{Namespace: r.ns, Name: a.lease.Name()}
	var l coordinationv1.Lease
	if err := env.Client.Get(t.Context(), key, &l); err != nil {
		t.Fatal(err)
	}
	if got := l.Annotations[AddressesAnnotation]; got != "192.0.2.10,2001:db8::10" {
		t.Errorf("annotation %q, want 192.0.2.10,2001:db8::10", got)
	}
	// Renewals carry it: a later version of the Lease still has it.
	rv := l.ResourceVersion
	waitFor(t, 5*time.Second, func() bool {
		var now coordinationv1.Lease
		if err := env.Client.Get(t.Context(), key, &now); err != nil {
			t.Fatal(err)
		}
		if now.ResourceVersion == rv {
			return false
		}
		if got := now.Annotations[AddressesAnnotation]; got != "192.0.2.10,2001:db8::10" {
			t.Fatalf("renewed lease: annotation %q", got)
		}
		return true
	})

	a.lease.SetAddresses(nil)
	waitFor(t, 2*time.Second, func() bool {
		snap := b.view.Snapshot()
		_, has := snap.Addrs[a.node]
		_, live := snap.Live[a.node]
		return live && !has
	})
}
