package e2e

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/herald-lb/herald/api/v1alpha2"
	"github.com/herald-lb/herald/test/e2e/cluster"
	"github.com/herald-lb/herald/test/e2e/rig"
)

// BFD timing of testBFD: 300 ms × 3 both ways, and a BGP hold time of 30 s
// on both sides, so a next hop gone within bfdDropWithin can only be
// BFD's doing.
const (
	bfdInterval   = 300 * time.Millisecond
	bfdMultiplier = 3
	bfdHoldTime   = 30
	bfdDropWithin = 5 * time.Second
)

// testBFD: with BFD on the peer and on BIRD, a node whose switch port is
// cut silently (no carrier towards the router, no TCP close) leaves the
// router's ECMP set within bfdDropWithin although the hold time is 30 s;
// the node's speaker sees BFD go down too and resets its session. With the
// port back, the session and the route come back.
func testBFD(ctx context.Context, t *testing.T, c *cluster.Cluster) {
	restore := enableBFD(ctx, t, c)
	defer restore()

	svc, ip := lbService(ctx, t, c, "bfd", bgpEip4, nil)
	waitRoute(ctx, t, c, ip, c.Nodes...)
	waitBirdBFDUp(ctx, t, c, len(c.Nodes))
	waitPeerStatus(ctx, t, c, torPeer4, 30*time.Second, func(n *cluster.Node, st v1alpha2.NodePeerStatus) error {
		if st.PeerState.BfdState != "Up" || st.TimersState.HoldTime != fmt.Sprint(bfdHoldTime) {
			return fmt.Errorf("%s: bfdState %q, hold time %q; want Up and %d", n.Name, st.PeerState.BfdState, st.TimersState.HoldTime, bfdHoldTime)
		}
		return nil
	})

	victim := c.Nodes[1]
	others := []*cluster.Node{c.Nodes[0], c.Nodes[2]}
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
	waitRouteWithin(ctx, t, c, hostRoute(ip), bfdDropWithin, others...)
	t.Logf("TIMING port of %s cut -> its next hop gone at the router: %v (BFD %v × %d, hold %d s)",
		victim.Name, time.Since(cut).Round(time.Millisecond), bfdInterval, bfdMultiplier, bfdHoldTime)
	err := rig.Eventually(ctx, 10*time.Second, 50*time.Millisecond, func(context.Context) error {
		if !strings.Contains(victim.Speaker.LogSince(speakerLog), "bfd session down: resetting the bgp session") {
			return fmt.Errorf("%s's speaker has not logged its BFD session down", victim.Name)
		}
		return nil
	})
	if err != nil {
		t.Error(err)
	}
	t.Logf("TIMING port of %s cut -> its speaker reset the session: %v", victim.Name, time.Since(cut).Round(time.Millisecond))

	restored := time.Now()
	if err := c.CarrierUp(victim.Name); err != nil {
		t.Fatal(err)
	}
	portDown = false
	waitRouteWithin(ctx, t, c, hostRoute(ip), 60*time.Second, c.Nodes...)
	t.Logf("TIMING port of %s back -> its next hop back at the router: %v", victim.Name, time.Since(restored).Round(time.Millisecond))
	waitBirdBFDUp(ctx, t, c, len(c.Nodes))

	// BFD turned off on the nodes' side while the router keeps it on: the
	// nodes send AdminDown. BIRD 2.0.12 counts that as a failure (RFC 5882
	// §3.2 says it should not) and closes the sessions once; they must
	// come back without BFD.
	setPeerBFD(ctx, t, c, nil)
	err = rig.Eventually(ctx, 20*time.Second, 100*time.Millisecond, func(ctx context.Context) error {
		if up := birdBFDUp(ctx, t, c); up != 0 {
			return fmt.Errorf("BIRD still has %d BFD sessions Up", up)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	waitRouteWithin(ctx, t, c, hostRoute(ip), 60*time.Second, c.Nodes...)
	assertEstablished(ctx, t, c, torPeer4)
	waitPeerStatus(ctx, t, c, torPeer4, 30*time.Second, func(n *cluster.Node, st v1alpha2.NodePeerStatus) error {
		if st.PeerState.BfdState != "" {
			return fmt.Errorf("%s: bfdState %q after BFD was turned off, want none", n.Name, st.PeerState.BfdState)
		}
		return nil
	})

	deleteService(ctx, t, c, svc)
	waitRoute(ctx, t, c, ip)
}

// enableBFD turns BFD on in BgpPeer torPeer4 and on BIRD, with the hold
// time raised to bfdHoldTime on both sides (BIRD restarts its sessions for
// it, so the new hold time is negotiated), and returns what undoes it.
func enableBFD(ctx context.Context, t *testing.T, c *cluster.Cluster) (restore func()) {
	t.Helper()
	var p v1alpha2.BgpPeer
	if err := c.Client.Get(ctx, client.ObjectKey{Name: torPeer4}, &p); err != nil {
		t.Fatal(err)
	}
	oldSpec := *p.Spec.DeepCopy()
	p.Spec.Bfd = &v1alpha2.PeerBfd{
		Enabled:          true,
		TransmitInterval: &metav1.Duration{Duration: bfdInterval},
		ReceiveInterval:  &metav1.Duration{Duration: bfdInterval},
		DetectMultiplier: ptr.To(int32(bfdMultiplier)),
	}
	p.Spec.Timers = &v1alpha2.Timers{Config: &v1alpha2.TimersConfig{
		HoldTime:          ptr.To(intstr.FromInt32(bfdHoldTime)),
		KeepaliveInterval: ptr.To(intstr.FromInt32(bfdHoldTime / 3)),
		ConnectRetry:      ptr.To(intstr.FromInt32(1)),
	}}
	if err := c.Client.Update(ctx, &p); err != nil {
		t.Fatal(err)
	}
	tor := c.BirdToRConfig(rig.NodeAS)
	tor.Timers.Hold, tor.Timers.Keepalive = bfdHoldTime, bfdHoldTime/3
	tor.BFD = &rig.BirdBFD{Interval: bfdInterval, Multiplier: bfdMultiplier}
	configureToR(ctx, t, c, tor)
	return func() {
		ctx := context.WithoutCancel(ctx)
		var p v1alpha2.BgpPeer
		if err := c.Client.Get(ctx, client.ObjectKey{Name: torPeer4}, &p); err != nil {
			t.Error(err)
			return
		}
		p.Spec = oldSpec
		if err := c.Client.Update(ctx, &p); err != nil {
			t.Error(err)
		}
		configureToR(ctx, t, c, c.BirdToRConfig(rig.NodeAS))
		assertEstablished(ctx, t, c, torPeer4)
	}
}

// waitBirdBFDUp waits until BIRD shows n BFD sessions Up.
func waitBirdBFDUp(ctx context.Context, t *testing.T, c *cluster.Cluster, n int) {
	t.Helper()
	err := rig.Eventually(ctx, 30*time.Second, 100*time.Millisecond, func(ctx context.Context) error {
		if up := birdBFDUp(ctx, t, c); up < n {
			return fmt.Errorf("BIRD has %d BFD sessions Up, want %d", up, n)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

// birdBFDUp counts the BFD sessions `birdc show bfd sessions` lists Up.
func birdBFDUp(ctx context.Context, t *testing.T, c *cluster.Cluster) int {
	t.Helper()
	out, err := c.ToR.Cmd(ctx, "show", "bfd", "sessions")
	if err != nil {
		t.Fatal(err)
	}
	up := 0
	for _, line := range strings.Split(out, "\n") {
		if f := strings.Fields(line); len(f) >= 3 && f[2] == "Up" {
			up++
		}
	}
	return up
}

// setPeerBFD sets BgpPeer torPeer4's BFD settings.
func setPeerBFD(ctx context.Context, t *testing.T, c *cluster.Cluster, b *v1alpha2.PeerBfd) {
	t.Helper()
	var p v1alpha2.BgpPeer
	if err := c.Client.Get(ctx, client.ObjectKey{Name: torPeer4}, &p); err != nil {
		t.Fatal(err)
	}
	p.Spec.Bfd = b
	if err := c.Client.Update(ctx, &p); err != nil {
		t.Fatal(err)
	}
}

// waitPeerStatus waits until check accepts every node's status entry of
// BgpPeer peer.
func waitPeerStatus(ctx context.Context, t *testing.T, c *cluster.Cluster, peer string, within time.Duration, check func(*cluster.Node, v1alpha2.NodePeerStatus) error) {
	t.Helper()
	err := rig.Eventually(ctx, within, 200*time.Millisecond, func(ctx context.Context) error {
		var p v1alpha2.BgpPeer
		if err := c.Client.Get(ctx, client.ObjectKey{Name: peer}, &p); err != nil {
			return err
		}
		for _, n := range c.Nodes {
			if err := check(n, p.Status.NodesPeerStatus[n.Name]); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}
