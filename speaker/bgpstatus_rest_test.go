package speaker

import (
	"context"
	"fmt"
	"net"
	"net/netip"
	"sync"
	"testing"
	"time"

	"github.com/go-logr/logr"
	"github.com/go-logr/logr/testr"
	api "github.com/osrg/gobgp/v3/api"
	gobgplog "github.com/osrg/gobgp/v3/pkg/log"
	"github.com/osrg/gobgp/v3/pkg/server"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/herald-lb/herald/api/v1alpha2"
	"github.com/herald-lb/herald/internal/testenv"
	"github.com/herald-lb/herald/speaker/bgp"
)

// quietLog drops a test router's GoBGP logs.
type quietLog struct{}

func (quietLog) Panic(string, gobgplog.Fields) {}
func (quietLog) Fatal(string, gobgplog.Fields) {}
func (quietLog) Error(string, gobgplog.Fields) {}
func (quietLog) Warn(string, gobgplog.Fields)  {}
func (quietLog) Info(string, gobgplog.Fields)  {}
func (quietLog) Debug(string, gobgplog.Fields) {}
func (quietLog) SetLevel(gobgplog.LogLevel)    {}
func (quietLog) GetLevel() gobgplog.LogLevel   { return gobgplog.PanicLevel }

// startStatusToR runs a plain GoBGP server on addr and a free port that
// waits for the given neighbours (AS 65001) to connect: the router of the
// nodes' tests.
func startStatusToR(t *testing.T, addr string, neighbours ...string) (*server.BgpServer, uint16) {
	t.Helper()
	port := freeTCPPort(t, addr)
	srv := server.NewBgpServer(server.LoggerOption(quietLog{}))
	go srv.Serve()
	ctx := context.Background()
	if err := srv.StartBgp(ctx, &api.StartBgpRequest{Global: &api.Global{
		Asn: 65000, RouterId: "10.255.0.1", ListenPort: int32(port), ListenAddresses: []string{addr},
	}}); err != nil {
		t.Fatalf("router %s: start: %v", addr, err)
	}
	t.Cleanup(func() { _ = srv.StopBgp(context.Background(), &api.StopBgpRequest{}) })
	for _, n := range neighbours {
		err := srv.AddPeer(ctx, &api.AddPeerRequest{Peer: &api.Peer{
			Conf:      &api.PeerConf{NeighborAddress: n, PeerAsn: 65001},
			Transport: &api.Transport{PassiveMode: true},
			Timers:    &api.Timers{Config: &api.TimersConfig{ConnectRetry: 1, HoldTime: 3, KeepaliveInterval: 1}},
			AfiSafis: []*api.AfiSafi{{Config: &api.AfiSafiConfig{
				Family: &api.Family{Afi: api.Family_AFI_IP, Safi: api.Family_SAFI_UNICAST}, Enabled: true,
			}}},
		}})
		if err != nil {
			t.Fatalf("router %s: add neighbour %s: %v", addr, n, err)
		}
	}
	return srv, port
}

// statusNode is one node of TestBGPStatusQuietAtRest: a real Router and
// the status writer over it.
type statusNode struct {
	name   string
	router *bgp.Router
	mode   *BGPMode
	writer *BGPStatusWriter
	cfg    bgp.Config
}

func (n *statusNode) apply(t *testing.T, cfg bgp.Config) {
	t.Helper()
	if err := n.router.Apply(context.Background(), cfg, nil); err != nil {
		t.Fatalf("%s: apply: %v", n.name, err)
	}
	n.mode.mu.Lock()
	n.mode.last = cfg
	n.mode.mu.Unlock()
	n.cfg = cfg
}

func (n *statusNode) session(t *testing.T) bgp.PeerStatus {
	t.Helper()
	all, err := n.router.PeerStatus(context.Background())
	if err != nil || len(all) != 1 {
		t.Fatalf("%s: peer status %+v: %v", n.name, all, err)
	}
	return all[0]
}

// TestBGPStatusQuietAtRest: with real BGP sessions whose keepalives (1 s)
// move the message counters all the time, the status writers of two nodes
// re-read them every 100 ms and write nothing after the sessions settled;
// a change of the session's state (the peer set admin down) is then
// exactly one BgpPeer status patch per node. Writes are counted by the API
// server (apiserver_request_total), which no other writer touches during
// the test.
func TestBGPStatusQuietAtRest(t *testing.T) {
	ctx := context.Background()
	const peerName = "rest-peer"
	torAddr := "127.0.0.9"
	tor, port := startStatusToR(t, torAddr, "127.0.0.1", "127.0.0.10")
	peer := &v1alpha2.BgpPeer{ObjectMeta: metav1.ObjectMeta{Name: peerName}, Spec: v1alpha2.BgpPeerSpec{
		Conf: &v1alpha2.PeerConf{NeighborAddress: torAddr, PeerAs: 65000},
	}}
	create(t, peer)
	t.Cleanup(func() { deleteAndWait(t, &v1alpha2.BgpPeer{ObjectMeta: metav1.ObjectMeta{Name: peerName}}) })

	runCtx, stop := context.WithCancel(ctx)
	var writers sync.WaitGroup
	t.Cleanup(func() {
		stop()
		writers.Wait()
	})
	var nodes []*statusNode
	for i, src := range []string{"127.0.0.1", "127.0.0.10"} {
		n := &statusNode{name: fmt.Sprintf("rest-node-%d", i)}
		n.writer = &BGPStatusWriter{Node: n.name, Client: env.Client, Log: testr.New(t),
			Period: 100 * time.Millisecond, MinInterval: 300 * time.Millisecond}
		n.writer.Init()
		// GoBGP logs on goroutines that may outlive the test: discarded.
		r, err := bgp.NewRouter(runCtx, bgp.Options{Logger: logr.Discard(),
			OnPeerEvent: func(bgp.PeerEvent) { n.writer.Trigger() }})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = r.Stop(context.Background(), false) })
		n.router = r
		n.mode = &BGPMode{Node: n.name, Router: r}
		n.writer.Mode = n.mode
		n.apply(t, bgp.Config{
			Global: bgp.Global{AS: 65001, RouterID: netip.MustParseAddr(fmt.Sprintf("10.0.0.%d", i+1)), ListenPort: bgp.NoListener},
			Peers: []bgp.Peer{{
				Name: peerName, Address: netip.MustParseAddr(torAddr), PeerAS: 65000, RemotePort: port,
				LocalAddress: netip.MustParseAddr(src),
				Timers:       bgp.Timers{ConnectRetry: 1, HoldTime: 3, Keepalive: 1},
				Families:     []bgp.AfiSafi{{Family: bgp.IPv4Unicast}},
			}},
		})
		nodes = append(nodes, n)
	}
	// GoBGP's servers share package variables that StartBgp writes and
	// their loops read: one operation through every loop orders all the
	// starts before any session comes up (as speaker/bgp's tests do).
	if _, err := tor.GetBgp(ctx, &api.GetBgpRequest{}); err != nil {
		t.Fatal(err)
	}
	for _, n := range nodes {
		n.session(t)
		writers.Go(func() { _ = n.writer.Start(runCtx) })
	}

	// statusIs waits until every node's entry shows the session state.
	statusIs := func(state, admin string) {
		t.Helper()
		testenv.Eventually(t, 20*time.Second, func() error {
			var p v1alpha2.BgpPeer
			if err := env.Client.Get(ctx, client.ObjectKey{Name: peerName}, &p); err != nil {
				return err
			}
			for _, n := range nodes {
				st := p.Status.NodesPeerStatus[n.name].PeerState
				if st.SessionState != state || st.AdminState != admin {
					return fmt.Errorf("%s: status %s/%s, want %s/%s (router: %+v)", n.name, st.SessionState, st.AdminState, state, admin, n.session(t))
				}
			}
			return nil
		})
	}
	// passes waits until every writer re-read the sessions n more times.
	passes := func(n uint64) {
		t.Helper()
		from := make([]uint64, len(nodes))
		for i, node := range nodes {
			from[i] = node.writer.passes.Load()
		}
		testenv.Eventually(t, 20*time.Second, func() error {
			for i, node := range nodes {
				if got := node.writer.passes.Load() - from[i]; got < n {
					return fmt.Errorf("%s: %d passes, waiting for %d", node.name, got, n)
				}
			}
			return nil
		})
	}
	patches := func() float64 {
		t.Helper()
		byVerb, err := env.MutatingRequestsByVerb(ctx)
		if err != nil {
			t.Fatal(err)
		}
		return byVerb[testenv.Request{Resource: "bgppeers/status", Verb: "PATCH"}]
	}

	statusIs("ESTABLISHED", "UP")
	// Let whatever was pending when the status turned ESTABLISHED land:
	// a pass that finds a change writes within it.
	passes(2)
	atRest := patches()
	keepalives := make([]uint64, len(nodes))
	for i, n := range nodes {
		keepalives[i] = n.session(t).Sent.Keepalive
	}
	// At rest: the counters move (keepalives every second), the writers
	// re-read, and nothing is written.
	testenv.Eventually(t, 20*time.Second, func() error {
		for i, n := range nodes {
			if s := n.session(t); s.Sent.Keepalive < keepalives[i]+3 || s.Received.Keepalive < 3 {
				return fmt.Errorf("%s: %d keepalives sent since, %d received in all", n.name, s.Sent.Keepalive-keepalives[i], s.Received.Keepalive)
			}
		}
		return nil
	})
	passes(10)
	if got := patches() - atRest; got != 0 {
		t.Errorf("%v BgpPeer status patches at rest, want 0", got)
	}

	// A restarted speaker (a writer with nothing cached) whose session is
	// as its entry says writes nothing either.
	restarted := &BGPStatusWriter{Node: nodes[0].name, Mode: nodes[0].mode, Client: env.Client, Log: testr.New(t),
		Period: 100 * time.Millisecond, MinInterval: 300 * time.Millisecond}
	restarted.Init()
	restartCtx, stopRestarted := context.WithCancel(runCtx)
	var restartedDone sync.WaitGroup
	restartedDone.Go(func() { _ = restarted.Start(restartCtx) })
	testenv.Eventually(t, 20*time.Second, func() error {
		if n := restarted.passes.Load(); n < 5 {
			return fmt.Errorf("restarted writer: %d passes", n)
		}
		return nil
	})
	stopRestarted()
	restartedDone.Wait()
	if got := patches() - atRest; got != 0 {
		t.Errorf("%v BgpPeer status patches by a restarted writer at rest, want 0", got)
	}

	// A state change: one patch per node, carrying the new state.
	for _, n := range nodes {
		cfg := n.cfg
		cfg.Peers = []bgp.Peer{cfg.Peers[0]}
		cfg.Peers[0].AdminDown = true
		n.apply(t, cfg)
	}
	statusIs("IDLE", "DOWN")
	passes(10)
	if got := patches() - atRest; got != float64(len(nodes)) {
		t.Errorf("%v BgpPeer status patches after the session went admin down, want %d (one per node)", got, len(nodes))
	}
}

// freeTCPPort finds a TCP port free on addr.
func freeTCPPort(t *testing.T, addr string) uint16 {
	t.Helper()
	l, err := net.Listen("tcp", net.JoinHostPort(addr, "0"))
	if err != nil {
		t.Skipf("cannot listen on %s: %v", addr, err)
	}
	defer l.Close()
	return uint16(l.Addr().(*net.TCPAddr).Port)
}
