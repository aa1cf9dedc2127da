package rig

import (
	"bytes"
	"context"
	"fmt"
	"net/netip"
	"slices"
	"testing"
	"text/template"
	"time"

	"github.com/google/go-cmp/cmp"
)

// The addresses the stand-in speakers announce to FRR.
var (
	frrVIP4 = netip.MustParsePrefix("10.99.200.1/32")
	frrVIP6 = netip.MustParsePrefix("fd99:200::1/128")
)

// TestFRR runs FRR as a second ToR beside the rig's BIRD, with BIRD on
// the nodes as stand-in speakers: iBGP with LOCAL_PREF, communities and
// large communities read back through BGPRoute, ECMP in zebra and the
// kernel, BFD against BIRD's BFD (up, then down when its packets are
// dropped); then eBGP with both ToRs at once. It needs root.
func TestFRR(t *testing.T) {
	SkipUnlessAvailable(t)
	if err := FRRAvailable(); err != nil {
		t.Skip(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	start := time.Now()
	r := Setup(t, Options{Nodes: 2})
	t.Run("IBGPAttributesAndBFD", func(t *testing.T) { testFRRIBGP(ctx, t, r) })
	t.Run("EBGPBesideBird", func(t *testing.T) { testFRREBGP(ctx, t, r) })
	t.Logf("TIMING TestFRR without teardown: %v", time.Since(start).Round(time.Millisecond))

	// The rig's Down ends a running FRR too; Stop afterwards is harmless.
	f, err := r.StartFRR(ctx, FRROptions{})
	if err != nil {
		t.Fatal(err)
	}
	if err := r.Down(); err != nil {
		t.Fatal(err)
	}
	for _, p := range []*Proc{f.Zebra, f.BFDd, f.BGPd} {
		if p.Running() {
			t.Errorf("%s still running after Down", p.Name)
		}
	}
	if err := f.Stop(); err != nil {
		t.Errorf("Stop after Down: %v", err)
	}
	if left, err := namespacesWithPrefix(f.Host.NS); err != nil || len(left) > 0 {
		t.Errorf("namespaces left: %v %v", left, err)
	}
}

func startFRR(ctx context.Context, t *testing.T, r *Rig, opts FRROptions) *FRR {
	t.Helper()
	t0 := time.Now()
	f, err := r.StartFRR(ctx, opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("TIMING FRR start -> zebra, bfdd, bgpd answer vtysh: %v", time.Since(t0).Round(time.Millisecond))
	t.Cleanup(func() {
		if err := f.Stop(); err != nil {
			t.Errorf("stop frr: %v", err)
		}
	})
	return f
}

func testFRRIBGP(ctx context.Context, t *testing.T, r *Rig) {
	f := startFRR(ctx, t, r, FRROptions{IBGP: true, BFD: FRRBFD{
		Enabled: true, TransmitInterval: 100 * time.Millisecond, ReceiveInterval: 100 * time.Millisecond,
	}})
	if f.AS != NodeAS {
		t.Errorf("iBGP FRR runs in AS %d, want the nodes' %d", f.AS, NodeAS)
	}
	t0 := time.Now()
	var want4, want6 []netip.Addr
	for _, n := range r.Nodes {
		startSpeaker(ctx, t, r, n, "ibgp", []speakerSession{
			{Name: "frr4", Family: "ipv4", Local: n.LAN.IPv4.Addr(), Peer: f.Host.LAN.IPv4.Addr(), PeerAS: NodeAS, BFD: true,
				Export: "bgp_local_pref = 250; bgp_community.add((65535,65282)); bgp_community.add((64513,100)); bgp_large_community.add((64513,1,2));"},
			{Name: "frr6", Family: "ipv6", Local: n.LAN.IPv6.Addr(), Peer: f.Host.LAN.IPv6.Addr(), PeerAS: NodeAS, BFD: true,
				Export: "bgp_community.add((65535,65281));"},
		})
		want4 = append(want4, n.LAN.IPv4.Addr())
		want6 = append(want6, n.LAN.IPv6.Addr())
	}
	waitFRRRoutes(ctx, t, f, frrVIP4, want4)
	waitFRRRoutes(ctx, t, f, frrVIP6, want6)
	t.Logf("TIMING speakers start -> ECMP in FRR's zebra (v4 and v6): %v", time.Since(t0).Round(time.Millisecond))

	rt4, err := f.BGPRoute(ctx, frrVIP4)
	if err != nil {
		t.Fatal(err)
	}
	if got := rt4.NextHops(); !slices.Equal(got, want4) {
		t.Errorf("BGP next hops of %s: %v, want %v", frrVIP4, got, want4)
	}
	for _, p := range rt4.Paths {
		got := []any{p.ASPath, p.LocalPref, p.Communities, p.LargeCommunities, p.Valid, p.Multipath}
		want := []any{"", uint32(250), []string{"64513:100", "65535:65282"}, []string{"64513:1:2"}, true, true}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("path of %s from %s: [as path, local pref, communities, large, valid, multipath] (-want +got):\n%s", frrVIP4, p.Peer, diff)
		}
	}
	rt6, err := f.BGPRoute(ctx, frrVIP6)
	if err != nil {
		t.Fatal(err)
	}
	if got := rt6.NextHops(); !slices.Equal(got, want6) {
		t.Errorf("BGP next hops of %s: %v, want %v", frrVIP6, got, want6)
	}
	for _, p := range rt6.Paths {
		if !slices.Equal(p.Communities, []string{"65535:65281"}) || p.LocalPref != 100 {
			t.Errorf("path of %s from %s: communities %v local pref %d, want [65535:65281] (no-export) and 100", frrVIP6, p.Peer, p.Communities, p.LocalPref)
		}
	}
	// zebra put the ECMP route into the kernel of FRR's namespace.
	kernel, err := r.Routes(ctx, f.Host.NS, frrVIP4)
	if err != nil || len(kernel) != 1 || kernel[0].Protocol != "bgp" || !slices.Equal(kernel[0].Gateways(), want4) {
		t.Errorf("kernel routes for %s in %s: %+v, %v; want one bgp route via %v", frrVIP4, f.Host.NS, kernel, err, want4)
	}

	// BFD with BIRD's: both sessions per node up, at the profile's rate.
	t0 = time.Now()
	peers := append(append([]netip.Addr(nil), want4...), want6...)
	err = Eventually(ctx, 10*time.Second, 50*time.Millisecond, func(ctx context.Context) error {
		got, err := f.BFDPeers(ctx)
		if err != nil {
			return err
		}
		for _, a := range peers {
			if p := got[a]; p.Status != "up" || p.ReceiveInterval != 100*time.Millisecond || p.RemoteTransmitInterval != 100*time.Millisecond {
				return fmt.Errorf("bfd peer %s: %+v, want up at 100ms both ways", a, p)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("TIMING (after ECMP) -> BFD up with all 4 BIRD sessions: %v", time.Since(t0).Round(time.Millisecond))
	before, err := f.Neighbors(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for _, a := range peers {
		if n := before[a]; n.State != "Established" || !n.Dynamic || n.BFDStatus != "Up" || n.EstablishedAt.IsZero() {
			t.Errorf("neighbor %s: %+v, want an established dynamic session with BFD up", a, n)
		}
	}

	// Drop node1's BFD packets: bfdd declares it down after 3 x 100 ms and
	// bgpd drops the session and its path, long before the 9 s hold time.
	restore, err := r.DropTraffic(r.Nodes[0].Name, Drop{Proto: "udp", Port: 3784, Peer: f.Host.LAN.IPv4.Addr()})
	if err != nil {
		t.Fatal(err)
	}
	defer func() {
		if err := restore(); err != nil {
			t.Error(err)
		}
	}()
	t0 = time.Now()
	waitFRRRoutes(ctx, t, f, frrVIP4, want4[1:])
	t.Logf("TIMING BFD packets of node1 dropped -> FRR's FIB single path: %v", time.Since(t0).Round(time.Millisecond))
	bfd, err := f.BFDPeers(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if p := bfd[want4[0]]; p.Status == "up" {
		t.Errorf("bfd peer %s still up after its packets were dropped: %+v", want4[0], p)
	}
	after, err := f.Neighbors(ctx)
	if err != nil {
		t.Fatal(err)
	}
	// node2's sessions were not reset.
	for _, a := range []netip.Addr{want4[1], want6[1]} {
		if b, a2 := before[a], after[a]; !a2.SameSession(b) {
			t.Errorf("neighbor %s: %+v before, %+v after node1's BFD failed; want it untouched", a, b, a2)
		}
	}
}

func testFRREBGP(ctx context.Context, t *testing.T, r *Rig) {
	tor, err := r.StartToR(ctx, r.BirdToRConfig(NodeAS))
	if err != nil {
		t.Fatal(err)
	}
	// The second StartFRR in this rig: the host was removed and comes back.
	f := startFRR(ctx, t, r, FRROptions{})
	if f.AS != RouterAS {
		t.Errorf("eBGP FRR runs in AS %d, want %d", f.AS, RouterAS)
	}
	if _, err := r.StartFRR(ctx, FRROptions{}); err == nil {
		t.Error("a second FRR of the same name started")
	} else if _, err := f.Neighbors(ctx); err != nil {
		t.Errorf("the refused second start broke the first FRR: %v", err)
	}
	t0 := time.Now()
	var want []netip.Addr
	for _, n := range r.Nodes {
		export := "bgp_community.add((64513,7)); bgp_large_community.add((64513,0,7));"
		startSpeaker(ctx, t, r, n, "ebgp", []speakerSession{
			{Name: "bird4", Family: "ipv4", Local: n.LAN.IPv4.Addr(), Peer: r.Router.LAN.IPv4.Addr(), PeerAS: RouterAS, Export: export},
			{Name: "frr4", Family: "ipv4", Local: n.LAN.IPv4.Addr(), Peer: f.Host.LAN.IPv4.Addr(), PeerAS: RouterAS, Export: export},
		})
		want = append(want, n.LAN.IPv4.Addr())
	}
	waitFRRRoutes(ctx, t, f, frrVIP4, want)
	t.Logf("TIMING speakers start -> ECMP at FRR: %v", time.Since(t0).Round(time.Millisecond))
	err = Eventually(ctx, 20*time.Second, 20*time.Millisecond, func(ctx context.Context) error {
		got, err := r.BirdRoutes(ctx, frrVIP4)
		if err != nil || !slices.Equal(got, want) {
			return fmt.Errorf("BIRD ToR's next hops for %s: %v, %v; want %v", frrVIP4, got, err, want)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("TIMING speakers start -> ECMP at both ToRs: %v", time.Since(t0).Round(time.Millisecond))

	rt, err := f.BGPRoute(ctx, frrVIP4)
	if err != nil {
		t.Fatal(err)
	}
	if len(rt.Paths) != 2 {
		t.Errorf("FRR has %d paths for %s, want 2: %+v", len(rt.Paths), frrVIP4, rt.Paths)
	}
	for _, p := range rt.Paths {
		got := []any{p.ASPath, p.Communities, p.LargeCommunities}
		want := []any{"64513", []string{"64513:7"}, []string{"64513:0:7"}}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("path of %s from %s: [as path, communities, large] (-want +got):\n%s", frrVIP4, p.Peer, diff)
		}
	}
	// bfdd runs without sessions: the list parses and is empty.
	bfd, err := f.BFDPeers(ctx)
	if err != nil || len(bfd) != 0 {
		t.Errorf("BFD peers without BFD: %v, %v; want none", bfd, err)
	}
	nbs, err := f.Neighbors(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for _, a := range want {
		if n := nbs[a]; n.State != "Established" || n.RemoteAS != NodeAS || n.BFDStatus != "" {
			t.Errorf("neighbor %s: %+v, want established with AS %d and no BFD", a, n, NodeAS)
		}
	}

	// Stopping FRR leaves BIRD's sessions and routes alone.
	t0 = time.Now()
	if err := f.Stop(); err != nil {
		t.Fatal(err)
	}
	t.Logf("TIMING FRR stop (daemons and host): %v", time.Since(t0).Round(time.Millisecond))
	if _, ok := r.Host(FRRHostName); ok {
		t.Errorf("host %s still in the rig after Stop", FRRHostName)
	}
	if got, err := r.BirdRoutes(ctx, frrVIP4); err != nil || !slices.Equal(got, want) {
		t.Errorf("BIRD ToR's next hops after FRR stopped: %v, %v; want %v", got, err, want)
	}
	if up, err := tor.Established(ctx); err != nil || len(up) != 2 {
		t.Errorf("BIRD ToR sessions after FRR stopped: %v, %v; want 2", up, err)
	}
}

func waitFRRRoutes(ctx context.Context, t *testing.T, f *FRR, prefix netip.Prefix, want []netip.Addr) {
	t.Helper()
	err := Eventually(ctx, 20*time.Second, 20*time.Millisecond, func(ctx context.Context) error {
		got, err := f.Routes(ctx, prefix)
		if err != nil {
			return err
		}
		if !slices.Equal(got, want) {
			return fmt.Errorf("FRR's next hops for %s: %v, want %v", prefix, got, want)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

// speakerSession is one BGP session of a BIRD stand-in speaker.
type speakerSession struct {
	Name, Family string
	Local, Peer  netip.Addr
	PeerAS       uint32
	BFD          bool
	// Export are BIRD filter statements that set the route's attributes.
	Export string
}

var speakerTmpl = template.Must(template.New("speaker").Parse(`log stderr all;
debug protocols { states, events };
router id {{.RouterID}};
protocol device {}
protocol bfd { interface "eth0" { min rx interval 100 ms; min tx interval 100 ms; multiplier 3; }; }
protocol static vips4 { ipv4; route {{.VIP4}} unreachable; }
protocol static vips6 { ipv6; route {{.VIP6}} unreachable; }
{{range .Sessions}}
protocol bgp {{.Name}} {
	local {{.Local}} as {{$.AS}}; neighbor {{.Peer}} as {{.PeerAS}}; direct;
	hold time 9; keepalive time 3; connect delay time 1; connect retry time 2; error wait time 1, 10;
	{{- if .BFD}} bfd on;{{end}}
	{{.Family}} { import none; export filter { {{.Export}} accept; }; };
}
{{end}}`))

// startSpeaker starts BIRD on node as a speaker announcing frrVIP4 and
// frrVIP6 over the given sessions, and stops it when the test ends.
func startSpeaker(ctx context.Context, t *testing.T, r *Rig, node Host, tag string, sessions []speakerSession) {
	t.Helper()
	var conf bytes.Buffer
	err := speakerTmpl.Execute(&conf, map[string]any{
		"RouterID": node.LAN.IPv4.Addr(), "AS": NodeAS, "VIP4": frrVIP4, "VIP6": frrVIP6, "Sessions": sessions,
	})
	if err != nil {
		t.Fatal(err)
	}
	b, err := r.StartBird(ctx, node.NS, "bird-"+tag+"-"+node.Name, conf.Bytes())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := b.Stop(5 * time.Second); err != nil {
			t.Error(err)
		}
	})
}
