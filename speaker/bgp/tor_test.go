package bgp

import (
	"context"
	"fmt"
	"net"
	"net/netip"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/go-logr/logr"
	"github.com/go-logr/logr/funcr"
	api "github.com/osrg/gobgp/v3/api"
	"github.com/osrg/gobgp/v3/pkg/server"
)

// testToR is a plain GoBGP server in the test process standing in for a
// top-of-rack router. It listens on its own loopback address and port and
// waits for the Router to connect (GoBGP keys sessions by neighbour
// address, so each ToR needs an address of its own).
type testToR struct {
	t    *testing.T
	srv  *server.BgpServer
	addr netip.Addr
	port uint16
	as   uint32
}

// torNeighbor is how the ToR configures the Router.
type torNeighbor struct {
	addr            netip.Addr // the Router's address as the ToR sees it
	as              uint32     // 0 accepts any AS
	gracefulRestart bool       // act as graceful-restart helper
	routerPort      uint16     // when set, connect to the Router on this port
}

// fastTimers are the test timers: hold 3, keepalive 1, connect retry 1.
var fastTimers = Timers{ConnectRetry: 1, HoldTime: 3, Keepalive: 1}

func startToR(t *testing.T, addr string, as uint32, n torNeighbor) *testToR {
	t.Helper()
	tor := &testToR{t: t, addr: netip.MustParseAddr(addr), as: as}
	tor.port = freePort(t, tor.addr)
	tor.srv = server.NewBgpServer(server.LoggerOption(&gobgpLogger{log: logr.Discard(), book: newPeerBook()}))
	go tor.srv.Serve()
	ctx := context.Background()
	err := tor.srv.StartBgp(ctx, &api.StartBgpRequest{Global: &api.Global{
		Asn:             as,
		RouterId:        fmt.Sprintf("10.255.%d.%d", as%250, tor.port%250+1),
		ListenPort:      int32(tor.port),
		ListenAddresses: []string{addr},
	}})
	if err != nil {
		t.Fatalf("ToR %s: start: %v", addr, err)
	}
	peer := &api.Peer{
		Conf:      &api.PeerConf{NeighborAddress: n.addr.String(), PeerAsn: n.as},
		Transport: &api.Transport{PassiveMode: true},
		Timers:    &api.Timers{Config: &api.TimersConfig{ConnectRetry: 1, HoldTime: 3, KeepaliveInterval: 1}},
		AfiSafis: []*api.AfiSafi{
			{Config: &api.AfiSafiConfig{Family: apiFamily(IPv4Unicast), Enabled: true}},
			{Config: &api.AfiSafiConfig{Family: apiFamily(IPv6Unicast), Enabled: true}},
		},
	}
	if n.routerPort != 0 {
		peer.Transport = &api.Transport{LocalAddress: addr, RemotePort: uint32(n.routerPort)}
	}
	if n.gracefulRestart {
		peer.GracefulRestart = &api.GracefulRestart{Enabled: true, RestartTime: 30}
		for _, a := range peer.AfiSafis {
			a.MpGracefulRestart = &api.MpGracefulRestart{Config: &api.MpGracefulRestartConfig{Enabled: true}}
		}
	}
	if err := tor.srv.AddPeer(ctx, &api.AddPeerRequest{Peer: peer}); err != nil {
		t.Fatalf("ToR %s: add neighbour: %v", addr, err)
	}
	t.Cleanup(func() { _ = tor.srv.StopBgp(context.Background(), &api.StopBgpRequest{}) })
	return tor
}

// sync runs an operation through the ToR's main loop, which orders the
// loop after everything the test goroutine has seen so far.
func (tor *testToR) sync() {
	tor.t.Helper()
	if _, err := tor.srv.GetBgp(context.Background(), &api.GetBgpRequest{}); err != nil {
		tor.t.Fatalf("ToR %s: %v", tor.addr, err)
	}
}

// freePort finds a TCP port free on addr.
func freePort(t *testing.T, addr netip.Addr) uint16 {
	t.Helper()
	l, err := net.Listen("tcp", netip.AddrPortFrom(addr, 0).String())
	if err != nil {
		t.Skipf("cannot listen on %s: %v", addr, err)
	}
	defer l.Close()
	return uint16(l.Addr().(*net.TCPAddr).Port)
}

// peer is how the Router reaches this ToR.
func (tor *testToR) peer(name string, peerAS uint32) Peer {
	f := IPv4Unicast
	if tor.addr.Is6() {
		f = IPv6Unicast
	}
	return Peer{
		Name:       name,
		Address:    tor.addr,
		PeerAS:     peerAS,
		RemotePort: tor.port,
		Timers:     fastTimers,
		Families:   []AfiSafi{{Family: f}},
	}
}

// announce originates a route at the ToR.
func (tor *testToR) announce(t *testing.T, prefix, nextHop string) {
	t.Helper()
	p, err := apiPath(Path{Prefix: netip.MustParsePrefix(prefix), NextHop: netip.MustParseAddr(nextHop)})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := tor.srv.AddPath(context.Background(), &api.AddPathRequest{TableType: api.TableType_GLOBAL, Path: p}); err != nil {
		t.Fatalf("ToR %s: announce %s: %v", tor.addr, prefix, err)
	}
}

// route is a path in the ToR's RIB.
type route struct {
	NextHop string
	ASPath  string
	Stale   bool
}

// rib lists the ToR's routes of both families by prefix.
func (tor *testToR) rib() map[string]route {
	tor.t.Helper()
	out := map[string]route{}
	for _, f := range []Family{IPv4Unicast, IPv6Unicast} {
		err := tor.srv.ListPath(context.Background(), &api.ListPathRequest{TableType: api.TableType_GLOBAL, Family: apiFamily(f)},
			func(d *api.Destination) {
				for _, p := range d.Paths {
					out[d.Prefix] = decodeRoute(tor.t, p)
				}
			})
		if err != nil {
			tor.t.Fatalf("ToR %s: list paths: %v", tor.addr, err)
		}
	}
	return out
}

func decodeRoute(t *testing.T, p *api.Path) route {
	r := route{Stale: p.Stale}
	for _, a := range p.Pattrs {
		m, err := a.UnmarshalNew()
		if err != nil {
			t.Fatalf("decode path attribute: %v", err)
		}
		switch attr := m.(type) {
		case *api.NextHopAttribute:
			r.NextHop = attr.NextHop
		case *api.MpReachNLRIAttribute:
			r.NextHop = strings.Join(attr.NextHops, ",")
		case *api.AsPathAttribute:
			var asns []string
			for _, seg := range attr.Segments {
				for _, n := range seg.Numbers {
					asns = append(asns, fmt.Sprint(n))
				}
			}
			r.ASPath = strings.Join(asns, " ")
		}
	}
	return r
}

// session is the ToR's view of its session with the Router.
func (tor *testToR) session() *api.Peer {
	tor.t.Helper()
	var out *api.Peer
	err := tor.srv.ListPeer(context.Background(), &api.ListPeerRequest{}, func(p *api.Peer) { out = p })
	if err != nil || out == nil {
		tor.t.Fatalf("ToR %s: list peers: %v", tor.addr, err)
	}
	return out
}

// eventually polls cond every 50 ms until it holds or the timeout passes.
func eventually(t *testing.T, timeout time.Duration, what string, cond func() (bool, string)) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		ok, state := cond()
		if ok {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("after %v, still not %s; last: %s", timeout, what, state)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// testLogger collects log lines and prints them when the test fails:
// GoBGP's goroutines may log after the test ends, when t.Log would panic.
func testLogger(t *testing.T) logr.Logger {
	var mu sync.Mutex
	var lines []string
	t.Cleanup(func() {
		mu.Lock()
		defer mu.Unlock()
		if t.Failed() {
			t.Log("router log:\n" + strings.Join(lines, "\n"))
		}
		lines = nil
	})
	return funcr.New(func(prefix, args string) {
		mu.Lock()
		defer mu.Unlock()
		if len(lines) < 5000 {
			lines = append(lines, time.Now().Format("15:04:05.000 ")+prefix+" "+args)
		}
	}, funcr.Options{Verbosity: 1})
}
