package e2e

import (
	"context"
	"fmt"
	"net/netip"
	"slices"
	"strings"
	"testing"
	"time"

	eventsv1 "k8s.io/api/events/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/util/retry"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/herald-lb/herald/api/v1alpha2"
	"github.com/herald-lb/herald/speaker"
	"github.com/herald-lb/herald/test/e2e/cluster"
	"github.com/herald-lb/herald/test/e2e/rig"
)

// The advertisement steps' objects. BIRD only shows LOCAL_PREF on iBGP
// paths, and the nodes' BgpConf AS is rig.NodeAS (eBGP with the ToR), so
// these steps add an iBGP session: the router gets a second LAN address,
// BIRD a dynamic iBGP range on it, and the nodes a BgpPeer to it whose
// localAs is the router's AS.
const (
	advEip       = "bgp-adv"
	advPool      = "10.99.201.0/24"
	ibgpPeer     = "tor-ibgp"
	ibgpRange    = "ibgp4"
	transitAlias = "transit-tag"
)

var ibgpRouterAddr = netip.MustParseAddr("10.99.0.250")

// setupIBGP adds the iBGP session and waits until every node has it; the
// cleanup removes it all again.
func setupIBGP(ctx context.Context, t *testing.T, c *cluster.Cluster) {
	t.Helper()
	lanAddr := netip.PrefixFrom(ibgpRouterAddr, rig.LANv4.Bits()).String()
	if out, err := c.Exec(c.Router.NS, "ip", "addr", "add", lanAddr, "dev", rig.LANLink); err != nil {
		t.Fatalf("add %s to the router: %v\n%s", lanAddr, err, out)
	}
	tor := c.BirdToRConfig(rig.NodeAS)
	withIBGP := tor
	withIBGP.Ranges = append(append([]rig.BirdRange(nil), tor.Ranges...),
		rig.BirdRange{Name: ibgpRange, Prefix: rig.LANv4, Local: ibgpRouterAddr, AS: rig.RouterAS, Direct: true, Interface: rig.LANLink})
	configureToR(ctx, t, c, withIBGP)

	peer := torPeer(c, ibgpPeer, ibgpRouterAddr, rig.RouterAS)
	peer.Spec.Conf.LocalAs = rig.RouterAS
	// Each node picks its own LAN address by the rule (item 2 of issue 13).
	peer.Spec.SourceAddress = &v1alpha2.PeerSourceAddress{CIDR: rig.LANv4.String()}
	if err := c.Client.Create(ctx, peer); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx := context.Background()
		_ = c.Client.Delete(ctx, peer)
		conf, err := tor.Render()
		if err == nil {
			err = c.ToR.Configure(ctx, conf)
		}
		if err != nil {
			t.Errorf("restore BIRD's configuration: %v", err)
		}
		if out, err := c.Exec(c.Router.NS, "ip", "addr", "del", lanAddr, "dev", rig.LANLink); err != nil {
			t.Errorf("remove %s from the router: %v\n%s", lanAddr, err, out)
		}
	})
	assertEstablished(ctx, t, c, ibgpPeer)
}

func configureToR(ctx context.Context, t *testing.T, c *cluster.Cluster, cfg rig.BirdConfig) {
	t.Helper()
	conf, err := cfg.Render()
	if err != nil {
		t.Fatal(err)
	}
	if err := c.ToR.Configure(ctx, conf); err != nil {
		t.Fatal(err)
	}
}

// birdSession is one of BIRD's sessions with a node: its state ("up
// Established") and when it last changed.
type birdSession struct {
	State string
	Since time.Time // time of day only
}

// ibgpSessions are BIRD's sessions with the nodes (iBGP and eBGP) by name.
func ibgpSessions(ctx context.Context, t *testing.T, c *cluster.Cluster) map[string]birdSession {
	t.Helper()
	protos, err := c.ToR.Protocols(ctx)
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]birdSession{}
	for _, p := range protos {
		if strings.HasPrefix(p.Name, ibgpRange+"_") || strings.HasPrefix(p.Name, "dyn4_") {
			since, err := time.Parse("15:04:05.000", p.Since)
			if err != nil {
				t.Fatalf("bird protocol %s: since %q: %v", p.Name, p.Since, err)
			}
			out[p.Name] = birdSession{State: p.State + " " + p.Info, Since: since}
		}
	}
	return out
}

// changedSessions names the sessions of before that now lacks, or whose
// state or Since changed. BIRD prints Since as the time of day it
// computes from its monotonic clock at each `show protocols`, so an
// untouched session's Since moves by a millisecond between two calls; a
// reset moves it by the time to reconnect (connect retry 1 s at least),
// so a tenth of a second tells the two apart.
func changedSessions(before, now map[string]birdSession) []string {
	var out []string
	for name, b := range before {
		n, ok := now[name]
		if d := n.Since.Sub(b.Since).Abs(); !ok || n.State != b.State || d > 100*time.Millisecond {
			out = append(out, fmt.Sprintf("%s: %s since %s, then %s since %s",
				name, b.State, b.Since.Format(time.TimeOnly+".000"), n.State, n.Since.Format(time.TimeOnly+".000")))
		}
	}
	slices.Sort(out)
	return out
}

// waitPaths waits until BIRD's iBGP paths for prefix (one per node) all
// carry want (attribute → value; "" means absent).
func waitPaths(ctx context.Context, t *testing.T, c *cluster.Cluster, prefix netip.Prefix, want map[string]string) {
	t.Helper()
	err := rig.Eventually(ctx, routeWait, 100*time.Millisecond, func(ctx context.Context) error {
		paths, err := c.ToR.Paths(ctx, prefix)
		if err != nil {
			return err
		}
		n := 0
		for _, p := range paths {
			if !strings.HasPrefix(p.Protocol, ibgpRange+"_") {
				continue
			}
			n++
			for attr, v := range want {
				if got := p.Attr(attr); got != v {
					return fmt.Errorf("%s from %s: %s is %q, want %q", prefix, p.Protocol, attr, got, v)
				}
			}
		}
		if n != len(c.Nodes) {
			return fmt.Errorf("%s: %d iBGP paths, want one per node (%d)", prefix, n, len(c.Nodes))
		}
		return nil
	})
	if err != nil {
		out, _ := c.ToR.RouteAll(ctx, prefix)
		t.Fatalf("%v\n%s", err, out)
	}
}

// testAdvertisements: MetalLB's example on an Eip — a /32 per address with
// localPref and no-advertise, and the /24 aggregate — is what the router
// holds; the aggregate stays while any address is in use and goes with the
// last; new communities reach the router as one UPDATE, without a session
// reset or a withdrawal. FRR, a second router in the nodes' AS, checks the
// same at another implementation (advFRR).
func testAdvertisements(ctx context.Context, t *testing.T, c *cluster.Cluster) {
	// FRR, the second router, is selected with the eBGP transit peer
	// below: it gets the /24 only once the advertisements choose peers.
	frr := setupFRR(ctx, t, c, map[string]string{"role": "transit"})
	setupIBGP(ctx, t, c)
	frr.waitEstablished(ctx, t)
	conf := &v1alpha2.BgpConf{ObjectMeta: metav1.ObjectMeta{Name: v1alpha2.BgpConfName}}
	update(ctx, t, c, conf, func(conf *v1alpha2.BgpConf) {
		conf.Spec.Communities = []v1alpha2.CommunityAlias{{Name: transitAlias, Value: "large:64512:1:2"}}
	})
	eip := &v1alpha2.Eip{
		ObjectMeta: metav1.ObjectMeta{Name: advEip},
		Spec: v1alpha2.EipSpec{Address: advPool, Protocol: v1alpha2.ProtocolBGP, BgpAdvertisements: []v1alpha2.BgpAdvertisement{
			{AggregationLength: ptr.To[int32](32), LocalPref: ptr.To[uint32](250), Communities: []string{"no-advertise"}},
			{AggregationLength: ptr.To[int32](24)},
		}},
	}
	if err := c.Client.Create(ctx, eip); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = c.Client.Delete(context.Background(), eip)
		update(context.Background(), t, c, conf, func(conf *v1alpha2.BgpConf) { conf.Spec.Communities = nil })
	})

	start := time.Now()
	svc1, ip1 := lbService(ctx, t, c, "adv1", advEip, nil)
	svc2, ip2 := lbService(ctx, t, c, "adv2", advEip, nil)
	aggregate := netip.MustParsePrefix(advPool)
	waitPrefix(ctx, t, c, hostRoute(ip1), c.Nodes...)
	waitPrefix(ctx, t, c, hostRoute(ip2), c.Nodes...)
	waitPrefix(ctx, t, c, aggregate, c.Nodes...)
	host := map[string]string{"BGP.local_pref": "250", "BGP.community": "(65535,65282)", "BGP.large_community": ""}
	waitPaths(ctx, t, c, hostRoute(ip1), host)
	waitPaths(ctx, t, c, hostRoute(ip2), host)
	waitPaths(ctx, t, c, aggregate, map[string]string{"BGP.local_pref": "100", "BGP.community": ""})
	frr.waitPaths(ctx, t, hostRoute(ip1), frrAttrs{LocalPref: 250, Communities: []string{"no-advertise"}})
	frr.waitPaths(ctx, t, hostRoute(ip2), frrAttrs{LocalPref: 250, Communities: []string{"no-advertise"}})
	frr.waitPaths(ctx, t, aggregate, frrAttrs{LocalPref: 100})
	t.Logf("TIMING two Services -> /32s with localPref and community, and the /24, at BIRD and FRR: %v", time.Since(start).Round(time.Millisecond))

	// New communities on the Eip: one UPDATE. No session is reset (BIRD's
	// Since is unchanged), no withdrawal is received, and the kernel route
	// is never deleted.
	sessions := ibgpSessions(ctx, t, c)
	withdraws := map[string]int{}
	for name := range sessions {
		n, err := c.ToR.ImportWithdraws(ctx, name)
		if err != nil {
			t.Fatal(err)
		}
		withdraws[name] = n
	}
	frrSessions := frr.sessions(ctx, t)
	events, err := c.WatchRoutes(ctx, c.Router.NS)
	if err != nil {
		t.Fatal(err)
	}
	changed := time.Now()
	update(ctx, t, c, eip, func(eip *v1alpha2.Eip) {
		eip.Spec.BgpAdvertisements[0].Communities = []string{"65000:7", transitAlias}
	})
	changedHost := map[string]string{"BGP.local_pref": "250", "BGP.community": "(65000,7)", "BGP.large_community": "(64512, 1, 2)"}
	waitPaths(ctx, t, c, hostRoute(ip1), changedHost)
	waitPaths(ctx, t, c, hostRoute(ip2), changedHost)
	t.Logf("TIMING communities changed on the Eip -> new communities at BIRD: %v", time.Since(changed).Round(time.Millisecond))
	changedFRR := frrAttrs{LocalPref: 250, Communities: []string{"65000:7"}, LargeCommunities: []string{"64512:1:2"}}
	frr.waitPaths(ctx, t, hostRoute(ip1), changedFRR)
	frr.waitPaths(ctx, t, hostRoute(ip2), changedFRR)
	frr.assertSameSessions(ctx, t, frrSessions, "the change of communities")
	if moved := changedSessions(sessions, ibgpSessions(ctx, t, c)); len(moved) > 0 {
		t.Errorf("bird's sessions changed with the communities:\n%s", strings.Join(moved, "\n"))
	}
	for name, before := range withdraws {
		if n, err := c.ToR.ImportWithdraws(ctx, name); err != nil || n != before {
			t.Errorf("%s received %d withdrawals (%v), %d before the change", name, n, err, before)
		}
	}
	assertNoRouteDeletes(t, events, hostRoute(ip1), hostRoute(ip2), aggregate)
	t.Logf("%d sessions kept their BIRD Since and withdrawal counts across the change", len(sessions))
	if out, err := c.ToR.RouteAll(ctx, hostRoute(ip1)); err == nil {
		t.Logf("birdc show route %s all:\n%s", hostRoute(ip1), out)
	}

	// Peers: the /32s to BIRD's iBGP peer only, the /24 to the peers
	// labelled transit only: BIRD's eBGP one and FRR, which so loses the
	// /32s without a session reset.
	update(ctx, t, c, eip, func(eip *v1alpha2.Eip) {
		eip.Spec.BgpAdvertisements[0].Peers = []string{ibgpPeer}
		eip.Spec.BgpAdvertisements[1].PeerSelector = &metav1.LabelSelector{MatchLabels: map[string]string{"role": "transit"}}
	})
	labelPeer(ctx, t, c, torPeer4, "role", "transit")
	selected := time.Now()
	waitProtocols(ctx, t, c, hostRoute(ip1), ibgpRange+"_")
	waitProtocols(ctx, t, c, aggregate, "dyn4_")
	frr.waitAbsent(ctx, t, hostRoute(ip1))
	frr.waitAbsent(ctx, t, hostRoute(ip2))
	frr.waitPaths(ctx, t, aggregate, frrAttrs{LocalPref: 100})
	t.Logf("TIMING advertisements' peers changed -> each prefix at its peers only: %v", time.Since(selected).Round(time.Millisecond))
	frr.assertSameSessions(ctx, t, frrSessions, "the change of peers")

	// The aggregate outlives the first Service and goes with the last.
	deleteService(ctx, t, c, svc1)
	waitPrefix(ctx, t, c, hostRoute(ip1))
	waitPrefix(ctx, t, c, aggregate, c.Nodes...)
	frr.waitPaths(ctx, t, aggregate, frrAttrs{LocalPref: 100})
	// The withdrawal counts do see withdrawals: the one of ip1's /32.
	counted := false
	for name, before := range withdraws {
		n, err := c.ToR.ImportWithdraws(ctx, name)
		counted = counted || (err == nil && n > before)
	}
	if !counted {
		t.Errorf("no session counted the withdrawal of %s: the check above proves nothing", hostRoute(ip1))
	}
	deleteService(ctx, t, c, svc2)
	waitPrefix(ctx, t, c, hostRoute(ip2))
	waitPrefix(ctx, t, c, aggregate)
	frr.waitAbsent(ctx, t, aggregate)
}

// update re-reads obj, applies mutate and writes it back, again on a
// conflict: the controller and the speakers write the objects' status
// meanwhile, and a step should not fail for that.
func update[T client.Object](ctx context.Context, t *testing.T, c *cluster.Cluster, obj T, mutate func(T)) {
	t.Helper()
	err := retry.RetryOnConflict(retry.DefaultRetry, func() error {
		if err := c.Client.Get(ctx, client.ObjectKeyFromObject(obj), obj); err != nil {
			return err
		}
		mutate(obj)
		return c.Client.Update(ctx, obj)
	})
	if err != nil {
		t.Fatalf("update %T %s: %v", obj, obj.GetName(), err)
	}
}

// labelPeer sets a label on a BgpPeer, and removes it when the test ends.
func labelPeer(ctx context.Context, t *testing.T, c *cluster.Cluster, name, key, value string) {
	t.Helper()
	set := func(ctx context.Context, v *string) error {
		var p v1alpha2.BgpPeer
		if err := c.Client.Get(ctx, client.ObjectKey{Name: name}, &p); err != nil {
			return err
		}
		if p.Labels == nil {
			p.Labels = map[string]string{}
		}
		if v == nil {
			delete(p.Labels, key)
		} else {
			p.Labels[key] = *v
		}
		return c.Client.Update(ctx, &p)
	}
	if err := set(ctx, &value); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := set(context.Background(), nil); err != nil {
			t.Errorf("unlabel bgppeer %s: %v", name, err)
		}
	})
}

// waitProtocols waits until every path BIRD holds for prefix came from a
// session named with the prefix proto ("ibgp4_"), one per node.
func waitProtocols(ctx context.Context, t *testing.T, c *cluster.Cluster, prefix netip.Prefix, proto string) {
	t.Helper()
	err := rig.Eventually(ctx, routeWait, 100*time.Millisecond, func(ctx context.Context) error {
		paths, err := c.ToR.Paths(ctx, prefix)
		if err != nil {
			return err
		}
		var from []string
		for _, p := range paths {
			if !strings.HasPrefix(p.Protocol, proto) {
				return fmt.Errorf("%s: a path from %s", prefix, p.Protocol)
			}
			from = append(from, p.Protocol)
		}
		if len(from) != len(c.Nodes) {
			return fmt.Errorf("%s: paths from %v, want one per node from %s*", prefix, from, proto)
		}
		return nil
	})
	if err != nil {
		out, _ := c.ToR.RouteAll(ctx, prefix)
		t.Fatalf("%v\n%s", err, out)
	}
}

// testSourceAddressMissing: a BgpPeer whose sourceAddress rule finds no
// address on the nodes starts no session there; each node says why in the
// BgpPeer's status and in a Warning event.
func testSourceAddressMissing(ctx context.Context, t *testing.T, c *cluster.Cluster) {
	peer := torPeer(c, "tor-nosource", netip.MustParseAddr("10.99.0.251"), rig.RouterAS)
	peer.Spec.SourceAddress = &v1alpha2.PeerSourceAddress{Interface: "nosuch0"}
	if err := c.Client.Create(ctx, peer); err != nil {
		t.Fatal(err)
	}
	defer func() { _ = c.Client.Delete(context.WithoutCancel(ctx), peer) }()
	err := rig.Eventually(ctx, 30*time.Second, 250*time.Millisecond, func(ctx context.Context) error {
		var p v1alpha2.BgpPeer
		if err := c.Client.Get(ctx, client.ObjectKeyFromObject(peer), &p); err != nil {
			return err
		}
		for _, n := range c.Nodes {
			st := p.Status.NodesPeerStatus[n.Name].PeerState
			if st.SessionState != "NOT_RUNNING" || !strings.Contains(st.LastError, `has no interface "nosuch0"`) {
				return fmt.Errorf("%s: session %q, last error %q", n.Name, st.SessionState, st.LastError)
			}
		}
		var list eventsv1.EventList
		if err := c.Client.List(ctx, &list); err != nil {
			return err
		}
		nodes := map[string]bool{}
		for _, e := range list.Items {
			if e.Regarding.Name == peer.Name && e.Reason == speaker.ReasonNoSourceAddress && e.Type == "Warning" {
				for _, n := range c.Nodes {
					if strings.Contains(e.Note, "node "+n.Name+":") {
						nodes[n.Name] = true
					}
				}
			}
		}
		if len(nodes) != len(c.Nodes) {
			return fmt.Errorf("%s events from %v, want every node", speaker.ReasonNoSourceAddress, nodes)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

// assertNoRouteDeletes fails when the watch buffered a deletion of one of
// prefixes.
func assertNoRouteDeletes(t *testing.T, events <-chan rig.RouteEvent, prefixes ...netip.Prefix) {
	t.Helper()
	for {
		select {
		case ev := <-events:
			if ev.Deleted && slices.Contains(prefixes, ev.Dst) {
				t.Errorf("route to %s deleted at the router: %+v", ev.Dst, ev)
			}
		default:
			return
		}
	}
}
