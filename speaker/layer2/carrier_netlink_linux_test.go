package layer2

import (
	"context"
	"net"
	"net/netip"
	"os"
	"runtime"
	"slices"
	"testing"
	"time"

	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netns"

	"github.com/herald-lb/herald/internal/eippool"
)

// TestNetlinkLinksCurrentNamespace subscribes in the test's own network
// namespace, which needs no privilege: lo is there and up.
func TestNetlinkLinksCurrentNamespace(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	initial, _, err := NetlinkLinks{}.WatchLinks(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Contains(initial, LinkState{Name: "lo", Up: true}) {
		t.Errorf("lo not listed up in %v", initial)
	}
}

// testNamespace creates an unnamed network namespace with a veth pair
// l2a/l2b, both up, and 10.250.0.1/24 on l2a; root only.
func testNamespace(t *testing.T) (netns.NsHandle, *netlink.Handle) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("creating a network namespace needs root")
	}
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	orig, err := netns.Get()
	if err != nil {
		t.Fatal(err)
	}
	defer orig.Close()
	ns, err := netns.New() // switches this thread into it
	if err != nil {
		t.Fatal(err)
	}
	if err := netns.Set(orig); err != nil {
		t.Fatalf("back to the original namespace: %v", err)
	}
	t.Cleanup(func() { ns.Close() })
	h, err := netlink.NewHandleAt(ns)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(h.Close)
	if err := h.LinkAdd(&netlink.Veth{LinkAttrs: netlink.LinkAttrs{Name: "l2a"}, PeerName: "l2b"}); err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"l2a", "l2b"} {
		l, err := h.LinkByName(name)
		if err != nil {
			t.Fatal(err)
		}
		if err := h.LinkSetUp(l); err != nil {
			t.Fatal(err)
		}
	}
	l, _ := h.LinkByName("l2a")
	if err := h.AddrAdd(l, &netlink.Addr{IPNet: &net.IPNet{IP: net.IPv4(10, 250, 0, 1), Mask: net.CIDRMask(24, 32)}}); err != nil {
		t.Fatal(err)
	}
	return ns, h
}

// TestNetlinkLinksCarrier: a veth loses carrier when its peer goes down,
// and CarrierWatch follows the kernel's notifications.
func TestNetlinkLinksCarrier(t *testing.T) {
	ns, h := testNamespace(t)
	w := NewCarrierWatch(NetlinkLinks{ns: &ns}, testLogger(t))
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		if err := w.Start(ctx); err != nil {
			t.Errorf("Start: %v", err)
		}
	}()
	defer func() { cancel(); <-done }()

	waitFor(t, 5*time.Second, func() bool { return w.Up("l2a") })
	peer, err := h.LinkByName("l2b")
	if err != nil {
		t.Fatal(err)
	}
	if err := h.LinkSetDown(peer); err != nil {
		t.Fatal(err)
	}
	took := waitFor(t, 5*time.Second, func() bool { return !w.Up("l2a") })
	t.Logf("carrier loss seen within %s of the peer going down (polled every 10 ms)", took)
	if err := h.LinkSetUp(peer); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 5*time.Second, func() bool { return w.Up("l2a") })
	if err := h.LinkDel(peer); err != nil { // deletes both ends
		t.Fatal(err)
	}
	waitFor(t, 5*time.Second, func() bool { return !w.Up("l2a") && !w.Up("l2b") })
}

// TestNetlinkRoutesCanReach resolves can_reach through a real routing
// table.
func TestNetlinkRoutesCanReach(t *testing.T) {
	ns, _ := testNamespace(t)
	routes := NetlinkRoutes{ns: &ns}
	got, err := InterfaceFor(eippool.Pool{Name: "p", Interface: "can_reach:10.250.0.7", CanReach: netip.MustParseAddr("10.250.0.7")}, routes)
	if err != nil || got != "l2a" {
		t.Errorf("InterfaceFor(can_reach:10.250.0.7) = %q, %v; want l2a", got, err)
	}
	if _, err := routes.InterfaceTo(netip.MustParseAddr("192.0.2.1")); err == nil {
		t.Error("a route to 192.0.2.1 in a namespace without a default route")
	}
}
