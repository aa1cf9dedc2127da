package bgp

import (
	"context"
	"fmt"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// These tests run the Router against plain GoBGP servers on loopback
// addresses, without root. GoBGP keeps route-selection switches in package
// variables that every StartBgp writes and every server's loop reads when
// a route changes; two servers in one process are ordered only through the
// test goroutine. So the tests run one after another, never in parallel,
// and testRouter.apply queries every ToR right after each Apply, before
// any session can (re)establish, so that the ToR's next route change comes
// after the Router's StartBgp.
//
// Deadlines: the Router connects 1-2 s after a peer is added; a ToR that
// lost a session refuses connections for 5 s (caveat C10) before the
// Router's next attempt 1-2 s later.

const (
	routerAS    = 65001
	torAS       = 65000
	establishIn = 10 * time.Second
	reconnectIn = 15 * time.Second
)

var routerID = netip.MustParseAddr("10.0.0.1")

// testRouter is a Router whose peer events land in a channel.
type testRouter struct {
	*Router
	events chan PeerEvent
	tors   []*testToR
}

func newTestRouter(t *testing.T, tors ...*testToR) *testRouter {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	tr := &testRouter{events: make(chan PeerEvent, 256), tors: tors}
	r, err := NewRouter(ctx, Options{Logger: testLogger(t), OnPeerEvent: func(e PeerEvent) {
		select {
		case tr.events <- e:
		default:
		}
	}})
	if err != nil {
		t.Fatalf("NewRouter: %v", err)
	}
	tr.Router = r
	t.Cleanup(func() {
		_ = r.Stop(context.Background(), false)
		cancel()
	})
	return tr
}

func (tr *testRouter) apply(t *testing.T, g Global, peers []Peer, paths ...Path) {
	t.Helper()
	if err := tr.Apply(context.Background(), Config{Global: g, Peers: peers}, paths); err != nil {
		t.Fatalf("Apply: %v", err)
	}
	for _, tor := range tr.tors {
		tor.sync()
	}
}

func (tr *testRouter) status(t *testing.T, name string) PeerStatus {
	t.Helper()
	all, err := tr.PeerStatus(context.Background())
	if err != nil {
		t.Fatalf("PeerStatus: %v", err)
	}
	for _, s := range all {
		if s.Name == name {
			return s
		}
	}
	t.Fatalf("no status for peer %q in %+v", name, all)
	return PeerStatus{}
}

func (tr *testRouter) waitEstablished(t *testing.T, timeout time.Duration, names ...string) {
	t.Helper()
	for _, name := range names {
		eventually(t, timeout, "established with "+name, func() (bool, string) {
			s := tr.status(t, name)
			return s.State == StateEstablished, fmt.Sprintf("%s %s", s.State, s.LastError)
		})
	}
}

// waitRoute waits until the ToR holds exactly want (prefix → route).
func waitRoutes(t *testing.T, tor *testToR, want map[string]route) {
	t.Helper()
	eventually(t, 5*time.Second, fmt.Sprintf("routes at ToR %s", tor.addr), func() (bool, string) {
		diff := cmp.Diff(want, tor.rib())
		return diff == "", diff
	})
}

func global(as uint32) Global {
	return Global{AS: as, RouterID: routerID, ListenPort: NoListener}
}

func host(s string) Path { return Path{Prefix: netip.MustParsePrefix(s)} }

func TestRouterAnnouncesWithSessionNextHop(t *testing.T) {
	ebgp := startToR(t, "127.0.0.2", torAS, torNeighbor{addr: netip.MustParseAddr("127.0.0.1"), as: routerAS})
	ibgp := startToR(t, "127.0.0.3", routerAS, torNeighbor{addr: netip.MustParseAddr("127.0.0.1"), as: routerAS})
	r := newTestRouter(t, ebgp, ibgp)

	ebgpPeer := ebgp.peer("ebgp", torAS)
	ebgpPeer.Families = []AfiSafi{{Family: IPv4Unicast}, {Family: IPv6Unicast}}
	peers := []Peer{ebgpPeer, ibgp.peer("ibgp", routerAS)}
	start := time.Now()
	r.apply(t, global(routerAS), peers, host("10.96.0.1/32"))
	r.waitEstablished(t, establishIn, "ebgp", "ibgp")
	t.Logf("sessions established in %v", time.Since(start))

	// eBGP and iBGP both get the local address of their session.
	waitRoutes(t, ebgp, map[string]route{"10.96.0.1/32": {NextHop: "127.0.0.1", ASPath: "65001"}})
	waitRoutes(t, ibgp, map[string]route{"10.96.0.1/32": {NextHop: "127.0.0.1"}})

	for _, want := range []string{"ebgp", "ibgp"} {
		select {
		case e := <-r.events:
			if !e.Up || e.LocalAddress != netip.MustParseAddr("127.0.0.1") || !strings.Contains("ebgp ibgp", e.Peer) {
				t.Errorf("event %+v, want %s up from 127.0.0.1", e, want)
			}
		case <-time.After(time.Second):
			t.Fatalf("no up event for %s", want)
		}
	}

	// A route one router sends is never passed on to another.
	before := r.status(t, "ebgp").Received.Update
	ebgp.announce(t, "198.51.100.0/24", "127.0.0.2")
	eventually(t, 5*time.Second, "the ToR's route received", func() (bool, string) {
		n := r.status(t, "ebgp").Received.Update
		return n > before, fmt.Sprint(n)
	})
	time.Sleep(200 * time.Millisecond)
	waitRoutes(t, ibgp, map[string]route{"10.96.0.1/32": {NextHop: "127.0.0.1"}})

	// An IPv6 route over the IPv4 session carries the next hop it is given.
	r.apply(t, global(routerAS), peers, host("10.96.0.1/32"),
		Path{Prefix: netip.MustParsePrefix("fd00:96::1/128"), NextHop: netip.MustParseAddr("fd00::11")})
	waitRoutes(t, ebgp, map[string]route{
		"10.96.0.1/32":    {NextHop: "127.0.0.1", ASPath: "65001"},
		"fd00:96::1/128":  {NextHop: "fd00::11", ASPath: "65001"},
		"198.51.100.0/24": {NextHop: "127.0.0.2"},
	})

	// A new next hop replaces the route in place.
	r.apply(t, global(routerAS), peers, Path{Prefix: netip.MustParsePrefix("10.96.0.1/32"), NextHop: netip.MustParseAddr("192.0.2.11")})
	waitRoutes(t, ebgp, map[string]route{
		"10.96.0.1/32":    {NextHop: "192.0.2.11", ASPath: "65001"},
		"198.51.100.0/24": {NextHop: "127.0.0.2"},
	})
	waitRoutes(t, ibgp, map[string]route{"10.96.0.1/32": {NextHop: "192.0.2.11"}})

	// Applying the same state again sends nothing.
	before = r.status(t, "ebgp").Sent.Update
	r.apply(t, global(routerAS), peers, Path{Prefix: netip.MustParsePrefix("10.96.0.1/32"), NextHop: netip.MustParseAddr("192.0.2.11")})
	time.Sleep(200 * time.Millisecond)
	if after := r.status(t, "ebgp").Sent.Update; after != before {
		t.Errorf("an unchanged Apply sent %d updates", after-before)
	}

	// Withdrawing removes the route.
	r.apply(t, global(routerAS), peers)
	waitRoutes(t, ebgp, map[string]route{"198.51.100.0/24": {NextHop: "127.0.0.2"}})
	waitRoutes(t, ibgp, map[string]route{})
}

// TestRouterAnnouncesRanges checks that a Service range (BgpConf's
// serviceClusterIPs) reaches the router like a host route, with the
// session's local address as next hop, next to a /32 inside it, and goes
// away on its own when withdrawn.
func TestRouterAnnouncesRanges(t *testing.T) {
	tor := startToR(t, "127.0.0.11", torAS, torNeighbor{addr: netip.MustParseAddr("127.0.0.1"), as: routerAS})
	r := newTestRouter(t, tor)
	peer := tor.peer("tor", torAS)
	peer.Families = []AfiSafi{{Family: IPv4Unicast}, {Family: IPv6Unicast}}
	peers := []Peer{peer}
	r.apply(t, global(routerAS), peers, host("10.96.0.0/12"), host("10.96.0.10/32"),
		Path{Prefix: netip.MustParsePrefix("fd00:96::/108"), NextHop: netip.MustParseAddr("fd00::11")})
	r.waitEstablished(t, establishIn, "tor")
	waitRoutes(t, tor, map[string]route{
		"10.96.0.0/12":  {NextHop: "127.0.0.1", ASPath: "65001"},
		"10.96.0.10/32": {NextHop: "127.0.0.1", ASPath: "65001"},
		"fd00:96::/108": {NextHop: "fd00::11", ASPath: "65001"},
	})

	r.apply(t, global(routerAS), peers, host("10.96.0.10/32"))
	waitRoutes(t, tor, map[string]route{"10.96.0.10/32": {NextHop: "127.0.0.1", ASPath: "65001"}})
}

func TestRouterIPv6Session(t *testing.T) {
	tor := startToR(t, "::1", torAS, torNeighbor{addr: netip.MustParseAddr("::1"), as: routerAS})
	r := newTestRouter(t, tor)
	r.apply(t, global(routerAS), []Peer{tor.peer("v6", torAS)}, host("fd00:96::1/128"))
	r.waitEstablished(t, establishIn, "v6")
	waitRoutes(t, tor, map[string]route{"fd00:96::1/128": {NextHop: "::1", ASPath: "65001"}})
	r.apply(t, global(routerAS), []Peer{tor.peer("v6", torAS)})
	waitRoutes(t, tor, map[string]route{})
}

func TestRouterChangesOnePeerAlone(t *testing.T) {
	router := netip.MustParseAddr("127.0.0.1")
	torA := startToR(t, "127.0.0.4", torAS, torNeighbor{addr: router, as: routerAS})
	torB := startToR(t, "127.0.0.5", torAS, torNeighbor{addr: router, as: routerAS})
	torC := startToR(t, "127.0.0.6", torAS, torNeighbor{addr: router, as: routerAS})
	r := newTestRouter(t, torA, torB, torC)

	a, b := torA.peer("a", torAS), torB.peer("b", torAS)
	wrongAS := torC.peer("wrong-as", 65099)
	r.apply(t, global(routerAS), []Peer{a, b, wrongAS}, host("10.96.0.2/32"))
	r.waitEstablished(t, establishIn, "a", "b")

	// The peer with the wrong AS never comes up and says why.
	eventually(t, 5*time.Second, "an error for wrong-as", func() (bool, string) {
		s := r.status(t, "wrong-as")
		return s.State != StateEstablished && strings.Contains(s.LastError, "bad peer as"), fmt.Sprintf("%+v", s)
	})
	t.Logf("wrong-as: %s", r.status(t, "wrong-as").LastError)
	waitRoutes(t, torC, map[string]route{})

	// New timers and a new description reach GoBGP without a reset.
	baseA, baseB := r.status(t, "a"), r.status(t, "b")
	a.Timers.HoldTime, a.Description = 4, "rack 1"
	r.apply(t, global(routerAS), []Peer{a, b, wrongAS}, host("10.96.0.2/32"))
	time.Sleep(500 * time.Millisecond)
	if s := r.status(t, "a"); s.State != StateEstablished || s.Flops != baseA.Flops || s.Uptime != baseA.Uptime || s.Description != "rack 1" {
		t.Errorf("after a timer change, a is %s, flops %d (was %d), up since %v (was %v), description %q",
			s.State, s.Flops, baseA.Flops, s.Uptime, baseA.Uptime, s.Description)
	}

	// A change the OPEN carries resets that session and no other.
	a.GracefulRestart = GracefulRestart{Enabled: true}
	a.Families = []AfiSafi{{Family: IPv4Unicast, GracefulRestart: true}}
	r.apply(t, global(routerAS), []Peer{a, b, wrongAS}, host("10.96.0.2/32"))
	eventually(t, reconnectIn, "a re-established", func() (bool, string) {
		s := r.status(t, "a")
		return s.State == StateEstablished && s.Uptime.After(baseA.Uptime), fmt.Sprintf("%s up since %v", s.State, s.Uptime)
	})
	waitRoutes(t, torA, map[string]route{"10.96.0.2/32": {NextHop: "127.0.0.1", ASPath: "65001"}})
	if s := r.status(t, "b"); s.State != StateEstablished || s.Flops != baseB.Flops || s.Uptime != baseB.Uptime {
		t.Errorf("b was touched: %s, flops %d (was %d), up since %v (was %v)", s.State, s.Flops, baseB.Flops, s.Uptime, baseB.Uptime)
	}

	// Removing a peer ends its session alone.
	r.apply(t, global(routerAS), []Peer{b}, host("10.96.0.2/32"))
	waitRoutes(t, torA, map[string]route{})
	if s := r.status(t, "b"); s.State != StateEstablished || s.Flops != baseB.Flops {
		t.Errorf("b was touched by removing a: %s, flops %d", s.State, s.Flops)
	}
}

func TestRouterRestartsOnASChange(t *testing.T) {
	tor := startToR(t, "127.0.0.7", torAS, torNeighbor{addr: netip.MustParseAddr("127.0.0.1")}) // any AS
	r := newTestRouter(t, tor)
	peers := []Peer{tor.peer("tor", torAS)}
	r.apply(t, global(routerAS), peers, host("10.96.0.3/32"))
	r.waitEstablished(t, establishIn, "tor")
	waitRoutes(t, tor, map[string]route{"10.96.0.3/32": {NextHop: "127.0.0.1", ASPath: "65001"}})

	// The restart's StartBgp must not overlap the ToR dropping the old
	// session's routes (see the top of this file), so the restart happens
	// while the ToR holds no route of the Router.
	r.apply(t, global(routerAS), peers)
	waitRoutes(t, tor, map[string]route{})
	base := r.status(t, "tor")
	r.apply(t, global(65002), peers)
	eventually(t, reconnectIn, "session back with AS 65002", func() (bool, string) {
		s := tor.session()
		return s.State.SessionState == 6 && s.State.PeerAsn == 65002, s.State.String()
	})
	if s := r.status(t, "tor"); s.LocalAS != 65002 || !s.Uptime.After(base.Uptime) {
		t.Errorf("after the AS change: local AS %d, up since %v (was %v)", s.LocalAS, s.Uptime, base.Uptime)
	}
	r.apply(t, global(65002), peers, host("10.96.0.3/32"))
	waitRoutes(t, tor, map[string]route{"10.96.0.3/32": {NextHop: "127.0.0.1", ASPath: "65002"}})
}

func TestRouterStop(t *testing.T) {
	tor := startToR(t, "127.0.0.8", torAS, torNeighbor{addr: netip.MustParseAddr("127.0.0.1"), as: routerAS})
	r := newTestRouter(t, tor)
	r.apply(t, global(routerAS), []Peer{tor.peer("tor", torAS)}, host("10.96.0.4/32"))
	r.waitEstablished(t, establishIn, "tor")
	waitRoutes(t, tor, map[string]route{"10.96.0.4/32": {NextHop: "127.0.0.1", ASPath: "65001"}})

	start := time.Now()
	if err := r.Stop(context.Background(), false); err != nil {
		t.Fatalf("Stop: %v", err)
	}
	waitRoutes(t, tor, map[string]route{})
	t.Logf("routes gone %v after Stop", time.Since(start))
	if n := tor.session().State.Messages.Received.Notification; n != 1 {
		t.Errorf("ToR received %d NOTIFICATIONs, want 1 (CEASE)", n)
	}
	if all, err := r.PeerStatus(context.Background()); err != nil || len(all) != 0 {
		t.Errorf("after Stop, PeerStatus = %+v, %v; want none", all, err)
	}
}

func TestRouterGracefulStop(t *testing.T) {
	routerAddr := netip.MustParseAddr("127.0.0.1")
	tests := []struct {
		name    string
		torAddr string
		passive bool // the ToR connects to the Router's listener
	}{
		{name: "session the Router opened", torAddr: "127.0.0.9"},
		{name: "session the ToR opened", torAddr: "127.0.0.10", passive: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			g := global(routerAS)
			n := torNeighbor{addr: routerAddr, as: routerAS, gracefulRestart: true}
			if tt.passive {
				n.routerPort = freePort(t, routerAddr)
				g.ListenPort, g.ListenAddresses = int32(n.routerPort), []netip.Addr{routerAddr}
			}
			tor := startToR(t, tt.torAddr, torAS, n)
			r := newTestRouter(t, tor)
			p := tor.peer("tor", torAS)
			p.Passive = tt.passive
			p.GracefulRestart = GracefulRestart{Enabled: true, RestartTime: 30}
			p.Families = []AfiSafi{{Family: IPv4Unicast, GracefulRestart: true}}
			r.apply(t, g, []Peer{p}, host("10.96.0.5/32"))
			r.waitEstablished(t, establishIn, "tor")
			waitRoutes(t, tor, map[string]route{"10.96.0.5/32": {NextHop: "127.0.0.1", ASPath: "65001"}})

			if err := r.Stop(context.Background(), true); err != nil {
				t.Fatalf("Stop: %v", err)
			}
			eventually(t, 5*time.Second, "session down at the ToR", func() (bool, string) {
				s := tor.session()
				return s.State.SessionState != 6, s.State.String()
			})
			// The ToR keeps the route, stale, and heard no NOTIFICATION.
			time.Sleep(500 * time.Millisecond)
			waitRoutes(t, tor, map[string]route{"10.96.0.5/32": {NextHop: "127.0.0.1", ASPath: "65001", Stale: true}})
			if n := tor.session().State.Messages.Received.Notification; n != 0 {
				t.Errorf("ToR received %d NOTIFICATIONs, want none", n)
			}
			// The Router is deconfigured, so it does not come back on its own.
			if all, err := r.PeerStatus(context.Background()); err != nil || len(all) != 0 {
				t.Errorf("after Stop, PeerStatus = %+v, %v; want none", all, err)
			}
		})
	}
}
