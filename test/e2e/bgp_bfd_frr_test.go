package e2e

import (
	"context"
	"fmt"
	"net/netip"
	"strings"
	"testing"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/herald-lb/herald/api/v1alpha2"
	"github.com/herald-lb/herald/test/e2e/cluster"
	"github.com/herald-lb/herald/test/e2e/rig"
)

// testBFDWithFRR: the speakers' BFD against a second implementation, FRR
// 8's bfdd with static peers in the router's namespace (BGP stays BIRD's,
// without BFD): every session comes Up (FRR's Poll Sequences answered),
// a node whose port is cut is Down at FRR within bfdDropWithin and its
// speaker resets its BGP session, and the session is Up again when the
// port is back.
func testBFDWithFRR(ctx context.Context, t *testing.T, c *cluster.Cluster) {
	var peers []rig.BfddPeer
	for _, n := range c.Nodes {
		peers = append(peers, rig.BfddPeer{Address: n.LAN.IPv4.Addr(), Local: c.Router.LAN.IPv4.Addr(),
			Interface: c.Router.LAN.Name, Interval: bfdInterval, Multiplier: bfdMultiplier},
			rig.BfddPeer{Address: n.LAN.IPv6.Addr(), Local: c.Router.LAN.IPv6.Addr(),
				Interface: c.Router.LAN.Name, Interval: bfdInterval, Multiplier: bfdMultiplier})
	}
	frr, err := c.StartBfdd(ctx, c.Router.NS, peers)
	if err != nil {
		t.Fatal(err)
	}
	defer func() {
		if err := frr.Stop(5 * time.Second); err != nil {
			t.Logf("stop frr: %v", err)
		}
	}()
	on := &v1alpha2.PeerBfd{Enabled: true, TransmitInterval: &metav1.Duration{Duration: bfdInterval},
		ReceiveInterval: &metav1.Duration{Duration: bfdInterval}, DetectMultiplier: ptr.To(int32(bfdMultiplier))}
	setPeerBFD(ctx, t, c, on)
	defer setPeerBFD(context.WithoutCancel(ctx), t, c, nil)
	defer withV6PeerBFD(ctx, t, c, on)()

	frrState := func(want string, nodes ...*cluster.Node) func(context.Context) error {
		return func(ctx context.Context) error {
			st, err := frr.Peers(ctx)
			if err != nil {
				return err
			}
			for _, n := range nodes {
				for _, a := range []netip.Addr{n.LAN.IPv4.Addr(), n.LAN.IPv6.Addr()} {
					if got := st[a]; got != want {
						return fmt.Errorf("FRR's BFD session with %s (%s): %q, want %q (all: %v)", n.Name, a, got, want, st)
					}
				}
			}
			return nil
		}
	}
	if err := rig.Eventually(ctx, 30*time.Second, 100*time.Millisecond, frrState("up", c.Nodes...)); err != nil {
		t.Fatalf("%v\n%s", err, frr.BFDD.Tail(20))
	}
	for _, peer := range []string{torPeer4, torPeer6} {
		waitPeerStatus(ctx, t, c, peer, 30*time.Second, func(n *cluster.Node, st v1alpha2.NodePeerStatus) error {
			if st.PeerState.BfdState != "Up" {
				return fmt.Errorf("%s: %s's bfdState %q, want Up", n.Name, peer, st.PeerState.BfdState)
			}
			return nil
		})
	}

	victim := c.Nodes[1]
	speakerLog := victim.Speaker.LogSize()
	cut := time.Now()
	if err := c.CarrierDown(victim.Name); err != nil {
		t.Fatal(err)
	}
	portDown := true
	defer func() {
		if portDown {
			_ = c.CarrierUp(victim.Name)
		}
	}()
	if err := rig.Eventually(ctx, bfdDropWithin, 20*time.Millisecond, frrState("down", victim)); err != nil {
		t.Fatal(err)
	}
	t.Logf("TIMING port of %s cut -> FRR's BFD session down: %v", victim.Name, time.Since(cut).Round(time.Millisecond))
	err = rig.Eventually(ctx, bfdDropWithin, 50*time.Millisecond, func(context.Context) error {
		if !strings.Contains(victim.Speaker.LogSince(speakerLog), "bfd session down: resetting the bgp session") {
			return fmt.Errorf("%s's speaker has not logged its BFD session down", victim.Name)
		}
		return nil
	})
	if err != nil {
		t.Error(err)
	}
	if err := c.CarrierUp(victim.Name); err != nil {
		t.Fatal(err)
	}
	portDown = false
	if err := rig.Eventually(ctx, 30*time.Second, 100*time.Millisecond, frrState("up", c.Nodes...)); err != nil {
		t.Fatal(err)
	}
	// The reset session is back at BIRD (hold 9 s there, no BFD).
	assertEstablished(ctx, t, c, torPeer4)
}

// withV6PeerBFD sets BFD on BgpPeer torPeer6, creating it (the router's
// IPv6 address, the right AS) when no earlier step left it, and returns
// what undoes that.
func withV6PeerBFD(ctx context.Context, t *testing.T, c *cluster.Cluster, b *v1alpha2.PeerBfd) (undo func()) {
	t.Helper()
	var p v1alpha2.BgpPeer
	err := c.Client.Get(ctx, client.ObjectKey{Name: torPeer6}, &p)
	switch {
	case apierrors.IsNotFound(err):
		p := torPeer(c, torPeer6, c.Router.LAN.IPv6.Addr(), rig.RouterAS)
		p.Spec.Bfd = b
		if err := c.Client.Create(ctx, p); err != nil {
			t.Fatal(err)
		}
		return func() {
			if err := c.Client.Delete(context.WithoutCancel(ctx), p); err != nil {
				t.Error(err)
			}
		}
	case err != nil:
		t.Fatal(err)
	}
	old := p.Spec.Bfd
	p.Spec.Bfd = b
	if err := c.Client.Update(ctx, &p); err != nil {
		t.Fatal(err)
	}
	return func() {
		ctx := context.WithoutCancel(ctx)
		var p v1alpha2.BgpPeer
		if err := c.Client.Get(ctx, client.ObjectKey{Name: torPeer6}, &p); err != nil {
			t.Error(err)
			return
		}
		p.Spec.Bfd = old
		if err := c.Client.Update(ctx, &p); err != nil {
			t.Error(err)
		}
	}
}
