package e2e

import (
	"context"
	"fmt"
	"net/netip"
	"slices"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/herald-lb/herald/api/v1alpha2"
	"github.com/herald-lb/herald/test/e2e/cluster"
	"github.com/herald-lb/herald/test/e2e/rig"
)

// The nodes' BgpPeers for FRR in testBFDWithFRR, one per family.
const (
	frrBFDPeer4 = "tor-frr-bfd-v4"
	frrBFDPeer6 = "tor-frr-bfd-v6"
)

// testBFDWithFRR: the speakers' BFD against a second implementation, FRR
// 8 as a second ToR (router2) whose bgpd asks its bfdd for a session with
// every speaker, over IPv4 and IPv6, 300 ms × 3 both ways and a hold time
// of bfdHoldTime on both sides. Every BFD session comes Up at the agreed
// rate (FRR's and the node's Poll Sequences answered), at FRR, in bgpd and
// in the BgpPeers' status. A node whose port is cut (the node goes silent)
// is Down at FRR within bfdDropWithin, FRR's bgpd closes the session for
// BFD's sake and its next hop leaves FRR's routes long before the hold
// time, and the node's speaker resets its session. With the port back,
// every session and next hop is back.
func testBFDWithFRR(ctx context.Context, t *testing.T, c *cluster.Cluster) {
	if err := rig.FRRAvailable(); err != nil {
		t.Fatal(err) // BFD interoperability is this step's whole point
	}
	start := time.Now()
	f, err := c.StartFRR(ctx, rig.FRROptions{
		Keepalive: bfdHoldTime / 3, Hold: bfdHoldTime,
		BFD: rig.FRRBFD{Enabled: true, TransmitInterval: bfdInterval, ReceiveInterval: bfdInterval, DetectMultiplier: bfdMultiplier},
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := f.Stop(); err != nil {
			t.Errorf("stop frr: %v", err)
		}
	})
	t.Logf("TIMING FRR start -> answers vtysh: %v", time.Since(start).Round(time.Millisecond))
	createFRRBFDPeers(ctx, t, c, f)

	svc4, ip4 := lbService(ctx, t, c, "bfd-frr4", bgpEip4, nil)
	svc6, ip6 := lbService(ctx, t, c, "bfd-frr6", bgpEip6, func(s *corev1.Service) {
		s.Spec.IPFamilies = []corev1.IPFamily{corev1.IPv6Protocol}
	})
	t.Cleanup(func() {
		deleteService(context.WithoutCancel(ctx), t, c, svc6)
		deleteService(context.WithoutCancel(ctx), t, c, svc4)
	})
	prefixes := []netip.Prefix{hostRoute(ip4), hostRoute(ip6)}
	waitFRRNexthops(ctx, t, f, time.Minute, prefixes, c.Nodes...)
	waitFRRBFDUp(ctx, t, c, f)
	t.Logf("TIMING FRR start -> every BGP and BFD session up, both routes via every node: %v", time.Since(start).Round(time.Millisecond))

	victim := c.Nodes[1]
	others := []*cluster.Node{c.Nodes[0], c.Nodes[2]}
	speakerLog, bgpdLog := victim.Speaker.LogSize(), f.BGPd.LogSize()
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
	// bfdd says down; bgpd then deletes the dynamic neighbour and with it
	// its BFD session, so a session gone counts as down too.
	victimAddrs := []netip.Addr{victim.LAN.IPv4.Addr(), victim.LAN.IPv6.Addr()}
	err = rig.Eventually(ctx, bfdDropWithin, 20*time.Millisecond, func(ctx context.Context) error {
		st, err := f.BFDPeers(ctx)
		if err != nil {
			return err
		}
		for _, a := range victimAddrs {
			if p, ok := st[a]; ok && p.Status != "down" {
				return fmt.Errorf("FRR's BFD session with %s (%s): %q, want down or gone", victim.Name, a, p.Status)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("TIMING port of %s cut -> FRR's BFD sessions down: %v", victim.Name, time.Since(cut).Round(time.Millisecond))
	waitFRRNexthops(ctx, t, f, bfdDropWithin, prefixes, others...)
	t.Logf("TIMING port of %s cut -> its next hops gone at FRR: %v (BFD %v × %d, hold %d s)",
		victim.Name, time.Since(cut).Round(time.Millisecond), bfdInterval, bfdMultiplier, bfdHoldTime)
	// It was BFD: bgpd closed each of the node's sessions with a Cease
	// notification, subcode BFD Down (RFC 9384), not for its hold time.
	for _, a := range victimAddrs {
		if !logHas(f.BGPd.LogSince(bgpdLog), a, "(Cease/BFD Down)") {
			t.Errorf("FRR's bgpd did not close its session with %s (%s) for BFD:\n%s", victim.Name, a, f.BGPd.Tail(20))
		}
	}
	err = rig.Eventually(ctx, bfdDropWithin, 50*time.Millisecond, func(context.Context) error {
		for _, a := range []netip.Addr{f.Host.LAN.IPv4.Addr(), f.Host.LAN.IPv6.Addr()} {
			if !logHas(victim.Speaker.LogSince(speakerLog), a, "bfd session down: resetting the bgp session") {
				return fmt.Errorf("%s's speaker has not logged its BFD session with %s down", victim.Name, a)
			}
		}
		return nil
	})
	if err != nil {
		t.Error(err)
	}
	t.Logf("TIMING port of %s cut -> its speaker reset both sessions: %v", victim.Name, time.Since(cut).Round(time.Millisecond))

	restored := time.Now()
	if err := c.CarrierUp(victim.Name); err != nil {
		t.Fatal(err)
	}
	portDown = false
	waitFRRNexthops(ctx, t, f, time.Minute, prefixes, c.Nodes...)
	waitFRRBFDUp(ctx, t, c, f)
	t.Logf("TIMING port of %s back -> every session and next hop back at FRR: %v", victim.Name, time.Since(restored).Round(time.Millisecond))
	// BIRD's sessions, without BFD, are as before.
	assertEstablished(ctx, t, c, torPeer4)
}

// createFRRBFDPeers creates the nodes' BgpPeers for f, one per family,
// with BFD 300 ms × 3 and f's hold time. The cleanup deletes them and
// waits until the speakers closed their sessions, before f stops (its
// cleanup was registered earlier), so that no speaker sees its peer vanish
// and later steps find the cluster as before.
func createFRRBFDPeers(ctx context.Context, t *testing.T, c *cluster.Cluster, f *rig.FRR) {
	t.Helper()
	var peers []*v1alpha2.BgpPeer
	for name, addr := range map[string]netip.Addr{frrBFDPeer4: f.Host.LAN.IPv4.Addr(), frrBFDPeer6: f.Host.LAN.IPv6.Addr()} {
		p := torPeer(c, name, addr, f.AS)
		p.Spec.Bfd = &v1alpha2.PeerBfd{Enabled: true,
			TransmitInterval: &metav1.Duration{Duration: bfdInterval},
			ReceiveInterval:  &metav1.Duration{Duration: bfdInterval},
			DetectMultiplier: ptr.To(int32(bfdMultiplier))}
		p.Spec.Timers.Config.HoldTime = ptr.To(intstr.FromInt32(bfdHoldTime))
		p.Spec.Timers.Config.KeepaliveInterval = ptr.To(intstr.FromInt32(bfdHoldTime / 3))
		if err := c.Client.Create(ctx, p); err != nil {
			t.Fatalf("create bgppeer %s: %v", name, err)
		}
		peers = append(peers, p)
	}
	t.Cleanup(func() {
		ctx := context.WithoutCancel(ctx)
		for _, p := range peers {
			if err := c.Client.Delete(ctx, p); client.IgnoreNotFound(err) != nil {
				t.Errorf("delete bgppeer %s: %v", p.Name, err)
			}
		}
		err := rig.Eventually(ctx, 20*time.Second, 100*time.Millisecond, func(ctx context.Context) error {
			for _, p := range peers {
				if err := c.Client.Get(ctx, client.ObjectKeyFromObject(p), &v1alpha2.BgpPeer{}); client.IgnoreNotFound(err) != nil {
					return err
				} else if err == nil {
					return fmt.Errorf("bgppeer %s still exists", p.Name)
				}
			}
			up, err := f.Established(ctx)
			if err != nil {
				return err
			}
			if len(up) > 0 {
				return fmt.Errorf("frr still has sessions with %v", up)
			}
			return nil
		})
		if err != nil {
			t.Errorf("after deleting the bgppeers for frr: %v", err)
		}
	})
}

// waitFRRBFDUp waits until every node's BFD session with FRR is up on
// both families at 300 ms × 3 each way — the node's rate only shows after
// both Poll Sequences from the initial 1 s ran — bgpd sees them Up, and
// both BgpPeers' status says Up for every node.
func waitFRRBFDUp(ctx context.Context, t *testing.T, c *cluster.Cluster, f *rig.FRR) {
	t.Helper()
	err := rig.Eventually(ctx, 30*time.Second, 100*time.Millisecond, func(ctx context.Context) error {
		st, err := f.BFDPeers(ctx)
		if err != nil {
			return err
		}
		nbs, err := f.Neighbors(ctx)
		if err != nil {
			return err
		}
		for _, n := range c.Nodes {
			for _, a := range []netip.Addr{n.LAN.IPv4.Addr(), n.LAN.IPv6.Addr()} {
				p := st[a]
				if p.Status != "up" || p.RemoteTransmitInterval != bfdInterval || p.RemoteReceiveInterval != bfdInterval ||
					p.RemoteDetectMultiplier != bfdMultiplier || p.TransmitInterval != bfdInterval || p.DetectMultiplier != bfdMultiplier {
					return fmt.Errorf("FRR's BFD session with %s (%s): %+v, want up at %v × %d both ways", n.Name, a, p, bfdInterval, bfdMultiplier)
				}
				if nb := nbs[a]; nb.State != "Established" || nb.BFDStatus != "Up" {
					return fmt.Errorf("FRR's BGP session with %s (%s): %s, BFD %q; want Established, Up", n.Name, a, nb.State, nb.BFDStatus)
				}
			}
		}
		return nil
	})
	if err != nil {
		out, _ := f.Cmd(ctx, "show bfd peers")
		t.Fatalf("%v\nfrr: show bfd peers:\n%s\n%s", err, out, f.BFDd.Tail(20))
	}
	for _, peer := range []string{frrBFDPeer4, frrBFDPeer6} {
		waitPeerStatus(ctx, t, c, peer, 30*time.Second, func(n *cluster.Node, st v1alpha2.NodePeerStatus) error {
			if st.PeerState.SessionState != "ESTABLISHED" || st.PeerState.BfdState != "Up" {
				return fmt.Errorf("%s: %s's session %q, bfdState %q; want ESTABLISHED, Up", n.Name, peer, st.PeerState.SessionState, st.PeerState.BfdState)
			}
			return nil
		})
	}
}

// waitFRRNexthops waits, at most within, until zebra at FRR routes every
// prefix via exactly the given nodes.
func waitFRRNexthops(ctx context.Context, t *testing.T, f *rig.FRR, within time.Duration, prefixes []netip.Prefix, nodes ...*cluster.Node) {
	t.Helper()
	err := rig.Eventually(ctx, within, 20*time.Millisecond, func(ctx context.Context) error {
		for _, p := range prefixes {
			got, err := f.Routes(ctx, p)
			if err != nil {
				return err
			}
			if want := nodeAddrs(p.Addr(), nodes...); !slices.Equal(got, want) {
				return fmt.Errorf("FRR routes %s via %v, want %v", p, got, want)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

// logHas reports whether a line of log holds both msg and addr, the
// address as a whole (not 10.99.0.2 in 10.99.0.21).
func logHas(log string, addr netip.Addr, msg string) bool {
	for _, line := range strings.Split(log, "\n") {
		if !strings.Contains(line, msg) {
			continue
		}
		for rest := line; ; {
			i := strings.Index(rest, addr.String())
			if i < 0 {
				break
			}
			rest = rest[i+len(addr.String()):]
			if rest == "" || !strings.ContainsAny(rest[:1], "0123456789abcdefABCDEF:.") {
				return true
			}
		}
	}
	return false
}
