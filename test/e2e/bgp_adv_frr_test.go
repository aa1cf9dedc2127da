package e2e

import (
	"context"
	"fmt"
	"net/netip"
	"slices"
	"testing"
	"time"

	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/herald-lb/herald/api/v1alpha2"
	"github.com/herald-lb/herald/test/e2e/cluster"
	"github.com/herald-lb/herald/test/e2e/rig"
)

// frrPeer is the nodes' BgpPeer for FRR, the second router of the
// advertisement steps.
const frrPeer = "tor-frr"

// advFRR is FRR as a second ToR for testAdvertisements: the same checks
// as at BIRD, made by another BGP implementation, so that what the router
// holds is not one parser's reading. FRR runs in the nodes' AS: its
// sessions are iBGP and carry LOCAL_PREF, with no router address or BIRD
// range added for it. A nil *advFRR (FRR not installed) checks nothing.
type advFRR struct {
	f *rig.FRR
	c *cluster.Cluster
}

// setupFRR starts FRR (IPv4, iBGP) and creates the nodes' BgpPeer for it
// with labels; the cleanup deletes the BgpPeer, then stops FRR and removes
// its host, so later steps find the cluster as before. It does not wait
// for the sessions (waitEstablished does), so that they come up while the
// caller sets up the rest.
func setupFRR(ctx context.Context, t *testing.T, c *cluster.Cluster, labels map[string]string) *advFRR {
	t.Helper()
	if err := rig.FRRAvailable(); err != nil {
		t.Logf("NOT CHECKED AT FRR, BIRD only: %v", err)
		return nil
	}
	// iBGP needs FRR and the speakers in one AS: FRROptions.IBGP puts FRR
	// in rig.NodeAS, so the cluster's BgpConf must say the same.
	var conf v1alpha2.BgpConf
	if err := c.Client.Get(ctx, client.ObjectKey{Name: v1alpha2.BgpConfName}, &conf); err != nil {
		t.Fatal(err)
	}
	if uint32(conf.Spec.As) != rig.NodeAS {
		t.Fatalf("bgpconf %s: AS %d, want rig.NodeAS %d for iBGP with FRR", conf.Name, conf.Spec.As, rig.NodeAS)
	}
	start := time.Now()
	f, err := c.StartFRR(ctx, rig.FRROptions{IBGP: true, Families: []string{"ipv4"}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := f.Stop(); err != nil {
			t.Errorf("stop frr: %v", err)
		}
	})
	if f.AS != uint32(conf.Spec.As) {
		t.Fatalf("frr runs in AS %d, the nodes in %d: not iBGP", f.AS, conf.Spec.As)
	}
	t.Logf("TIMING FRR start -> answers vtysh: %v", time.Since(start).Round(time.Millisecond))
	peer := torPeer(c, frrPeer, f.Host.LAN.IPv4.Addr(), f.AS)
	peer.Labels = labels
	if err := c.Client.Create(ctx, peer); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := c.Client.Delete(context.Background(), peer); err != nil {
			t.Errorf("delete bgppeer %s: %v", peer.Name, err)
		}
	})
	return &advFRR{f: f, c: c}
}

// waitEstablished waits until every node's session with FRR is up, as
// the BgpPeer's status and FRR itself say.
func (a *advFRR) waitEstablished(ctx context.Context, t *testing.T) {
	t.Helper()
	if a == nil {
		return
	}
	assertEstablished(ctx, t, a.c, frrPeer)
	want := nodeAddrs(a.f.Host.LAN.IPv4.Addr(), a.c.Nodes...)
	err := rig.Eventually(ctx, routeWait, 100*time.Millisecond, func(ctx context.Context) error {
		got, err := a.f.Established(ctx)
		if err != nil {
			return err
		}
		if !slices.Equal(got, want) {
			return fmt.Errorf("frr's established sessions: %v, want %v", got, want)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

// frrAttrs are the attributes every node's path must carry at FRR.
// Communities are as Herald is configured with them ("no-advertise",
// "65000:7"), large ones as "global:local1:local2".
type frrAttrs struct {
	LocalPref        uint32
	Communities      []string
	LargeCommunities []string
}

// waitPaths waits until FRR holds one valid path for prefix from every
// node, each carrying want.
func (a *advFRR) waitPaths(ctx context.Context, t *testing.T, prefix netip.Prefix, want frrAttrs) {
	t.Helper()
	if a == nil {
		return
	}
	var comms []string
	for _, s := range want.Communities {
		n, err := rig.NormalizeCommunity(s)
		if err != nil {
			t.Fatal(err)
		}
		comms = append(comms, n)
	}
	nodes := nodeAddrs(prefix.Addr(), a.c.Nodes...)
	err := rig.Eventually(ctx, routeWait, 100*time.Millisecond, func(ctx context.Context) error {
		rt, err := a.f.BGPRoute(ctx, prefix)
		if err != nil {
			return err
		}
		var from []netip.Addr
		for _, p := range rt.Paths {
			from = append(from, p.Peer)
			switch {
			case !p.Valid:
				return fmt.Errorf("%s from %s: not valid (next hop %s)", prefix, p.Peer, p.NextHop)
			case p.LocalPref != want.LocalPref:
				return fmt.Errorf("%s from %s: local pref %d, want %d", prefix, p.Peer, p.LocalPref, want.LocalPref)
			case !sameSet(p.Communities, comms):
				return fmt.Errorf("%s from %s: communities %v, want %v", prefix, p.Peer, p.Communities, comms)
			case !sameSet(p.LargeCommunities, want.LargeCommunities):
				return fmt.Errorf("%s from %s: large communities %v, want %v", prefix, p.Peer, p.LargeCommunities, want.LargeCommunities)
			}
		}
		slices.SortFunc(from, netip.Addr.Compare)
		if !slices.Equal(from, nodes) {
			return fmt.Errorf("%s: paths from %v, want one from each node %v", prefix, from, nodes)
		}
		return nil
	})
	if err != nil {
		a.fatal(ctx, t, prefix, err)
	}
}

// waitAbsent waits until FRR holds no path for prefix.
func (a *advFRR) waitAbsent(ctx context.Context, t *testing.T, prefix netip.Prefix) {
	t.Helper()
	if a == nil {
		return
	}
	err := rig.Eventually(ctx, routeWait, 100*time.Millisecond, func(ctx context.Context) error {
		rt, err := a.f.BGPRoute(ctx, prefix)
		if err != nil {
			return err
		}
		if len(rt.Paths) > 0 {
			return fmt.Errorf("%s: %d paths at frr, want none", prefix, len(rt.Paths))
		}
		return nil
	})
	if err != nil {
		a.fatal(ctx, t, prefix, err)
	}
}

// fatal fails with FRR's own view of prefix.
func (a *advFRR) fatal(ctx context.Context, t *testing.T, prefix netip.Prefix, err error) {
	t.Helper()
	out, _ := a.f.Cmd(ctx, "show bgp ipv4 unicast "+prefix.String())
	t.Fatalf("%v\nfrr: show bgp ipv4 unicast %s:\n%s", err, prefix, out)
}

// sessions are FRR's sessions now, to compare with assertSameSessions.
func (a *advFRR) sessions(ctx context.Context, t *testing.T) map[netip.Addr]rig.FRRNeighbor {
	t.Helper()
	if a == nil {
		return nil
	}
	nbs, err := a.f.Neighbors(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(nbs) != len(a.c.Nodes) {
		t.Fatalf("frr has %d sessions, want one per node (%d): %v", len(nbs), len(a.c.Nodes), nbs)
	}
	return nbs
}

// assertSameSessions fails for every session of before that FRR no
// longer holds as the same session (reset, or gone), naming why.
func (a *advFRR) assertSameSessions(ctx context.Context, t *testing.T, before map[netip.Addr]rig.FRRNeighbor, what string) {
	t.Helper()
	if a == nil {
		return
	}
	now, err := a.f.Neighbors(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for addr, b := range before {
		if n, ok := now[addr]; !ok || !n.SameSession(b) {
			t.Errorf("frr's session with %s not kept across %s:\nbefore %+v\nafter  %+v", addr, what, b, n)
		}
	}
	t.Logf("frr kept its %d sessions across %s", len(before), what)
}

// sameSet reports whether a and b hold the same strings, in any order.
func sameSet(a, b []string) bool {
	return slices.Equal(slices.Sorted(slices.Values(a)), slices.Sorted(slices.Values(b)))
}
