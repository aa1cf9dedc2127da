package e2e

import (
	"context"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/herald-lb/herald/internal/testenv"
	"github.com/herald-lb/herald/test/e2e/rig"
)

// Addresses the BIRD stand-in speakers announce in TestRig.
var (
	vip4 = netip.MustParsePrefix("10.99.200.1/32")
	vip6 = netip.MustParsePrefix("fd99:200::1/128")
)

// TestRig proves the testbed itself: topology and sysctls (ping mesh, IPv4
// and IPv6), BIRD as the ToR with dynamic neighbours and ECMP into the
// kernel, the route watch, the fault helpers, the API server reached from
// the nodes through the forwarder, and a teardown that leaves nothing.
func TestRig(t *testing.T) {
	rig.SkipUnlessAvailable(t)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()

	start := time.Now()
	r := rig.Setup(t, rig.Options{})
	t.Logf("TIMING rig up: %v", time.Since(start).Round(time.Millisecond))

	t.Run("PingMesh", func(t *testing.T) {
		t0 := time.Now()
		if err := r.PingMesh(ctx); err != nil {
			t.Fatal(err)
		}
		t.Logf("TIMING ping mesh: %d pings in %v", len(r.MeshPairs()), time.Since(t0).Round(time.Millisecond))
	})

	t.Run("Safety", func(t *testing.T) {
		if err := r.CheckHostUnchanged(); err != nil {
			t.Error(err)
		}
		for _, dst := range []string{"192.0.2.1", "2001:db8::1"} {
			if out, err := r.Exec(r.Router.NS, "ip", "route", "get", dst); err == nil {
				t.Errorf("router has a route to %s outside the testbed: %s", dst, out)
			}
		}
	})

	t.Run("BirdECMP", func(t *testing.T) { testBirdECMP(ctx, t, r) })
	t.Run("Faults", func(t *testing.T) { testFaults(ctx, t, r) })
	t.Run("APIServerFromNodes", func(t *testing.T) { testAPIServerFromNodes(ctx, t, r) })

	t0 := time.Now()
	if err := r.Down(); err != nil {
		t.Fatalf("down: %v", err)
	}
	t.Logf("TIMING rig down: %v", time.Since(t0).Round(time.Millisecond))
	assertNothingLeft(t, r)
}

// testBirdECMP starts the ToR, then BIRD on node1 and node2 as stand-in
// speakers announcing the same /32 and /128: the router's kernel must get
// one ECMP route per family through both nodes, and lose node1's path when
// node1's BIRD stops.
func testBirdECMP(ctx context.Context, t *testing.T, r *rig.Rig) {
	t0 := time.Now()
	tor, err := r.StartToR(ctx, r.BirdToRConfig(rig.NodeAS))
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("TIMING bird start -> birdc answers: %v", time.Since(t0).Round(time.Millisecond))
	if out, err := tor.Cmd(ctx, "show", "status"); err != nil || !strings.Contains(out, "Daemon is up and running") {
		t.Fatalf("birdc show status: %v\n%s", err, out)
	}

	events, err := r.WatchRoutes(ctx, r.Router.NS)
	if err != nil {
		t.Fatal(err)
	}
	speakers := r.Nodes[:2]
	t0 = time.Now()
	var birds []*rig.Bird
	for _, n := range speakers {
		b, err := r.StartBird(ctx, n.NS, "bird-"+n.Name, speakerConf(n, r.Router))
		if err != nil {
			t.Fatal(err)
		}
		birds = append(birds, b)
	}
	want4 := []netip.Addr{speakers[0].LAN.IPv4.Addr(), speakers[1].LAN.IPv4.Addr()}
	want6 := []netip.Addr{speakers[0].LAN.IPv6.Addr(), speakers[1].LAN.IPv6.Addr()}
	waitNexthops(ctx, t, r, vip4, want4, 20*time.Second)
	waitNexthops(ctx, t, r, vip6, want6, 20*time.Second)
	t.Logf("TIMING speakers start -> ECMP in the router's FIB (v4 and v6): %v", time.Since(t0).Round(time.Millisecond))

	up, err := tor.Established(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(up) != 4 {
		t.Errorf("established sessions %v, want 4 (2 nodes x IPv4, IPv6)", up)
	}

	// The watch has seen the ECMP route arrive; now withdraw node1 and
	// time it from the signal to the kernel's notification.
	stopped := time.Now()
	if err := birds[0].Stop(5 * time.Second); err != nil {
		t.Fatal(err)
	}
	ev, err := waitEvent(ctx, events, 10*time.Second, func(ev rig.RouteEvent) bool {
		// Events from before the stop (the ECMP route forming) are in the
		// channel's buffer too.
		return ev.At.After(stopped) && ev.Dst == vip4 && !ev.Deleted && slices.Equal(ev.Gateways, want4[1:])
	})
	if err != nil {
		t.Fatalf("route watch: %v", err)
	}
	t.Logf("TIMING node1 BIRD SIGTERM -> router FIB single path (netlink event): %v", ev.At.Sub(stopped).Round(100*time.Microsecond))
	waitNexthops(ctx, t, r, vip6, want6[1:], 10*time.Second)
}

// speakerConf is a BIRD configuration that makes a node a stand-in
// speaker: eBGP to the router over IPv4 and IPv6, announcing vip4 and
// vip6 with the node itself as next hop.
func speakerConf(node, router rig.Host) []byte {
	return fmt.Appendf(nil, `log stderr all;
debug protocols { states, events };
router id %[1]s;
protocol device {}
protocol static vips4 { ipv4; route %[3]s unreachable; }
protocol static vips6 { ipv6; route %[4]s unreachable; }
template bgp tor {
	hold time 9; keepalive time 3; connect delay time 1; connect retry time 2; error wait time 1, 10;
}
protocol bgp tor4 from tor {
	local %[1]s as %[5]d; neighbor %[6]s as %[7]d;
	ipv4 { import none; export all; };
}
protocol bgp tor6 from tor {
	local %[2]s as %[5]d; neighbor %[8]s as %[7]d;
	ipv6 { import none; export all; };
}
`, node.LAN.IPv4.Addr(), node.LAN.IPv6.Addr(), vip4, vip6,
		rig.NodeAS, router.LAN.IPv4.Addr(), rig.RouterAS, router.LAN.IPv6.Addr())
}

func waitNexthops(ctx context.Context, t *testing.T, r *rig.Rig, prefix netip.Prefix, want []netip.Addr, timeout time.Duration) {
	t.Helper()
	err := rig.Eventually(ctx, timeout, 20*time.Millisecond, func(ctx context.Context) error {
		got, err := r.BirdRoutes(ctx, prefix)
		if err != nil {
			return err
		}
		if !slices.Equal(got, want) {
			return fmt.Errorf("router's next hops for %s: %v, want %v", prefix, got, want)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

// waitEvent reads events until one matches, for at most timeout.
func waitEvent(ctx context.Context, events <-chan rig.RouteEvent, timeout time.Duration, match func(rig.RouteEvent) bool) (rig.RouteEvent, error) {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	var seen []rig.RouteEvent
	for {
		select {
		case ev, ok := <-events:
			if !ok {
				return rig.RouteEvent{}, fmt.Errorf("watch ended; saw %+v", seen)
			}
			if match(ev) {
				return ev, nil
			}
			seen = append(seen, ev)
		case <-ctx.Done():
			return rig.RouteEvent{}, fmt.Errorf("no matching event within %v; saw %+v", timeout, seen)
		}
	}
}

// testFaults checks that the fault helpers break what they should and
// that the rig recovers, routes included (caveat C1).
func testFaults(ctx context.Context, t *testing.T, r *rig.Rig) {
	node := r.Nodes[2]
	pingOK := func(ns string, dst netip.Addr) {
		t.Helper()
		if err := rig.Eventually(ctx, 5*time.Second, 50*time.Millisecond, func(ctx context.Context) error {
			return r.Ping(ctx, ns, dst)
		}); err != nil {
			t.Fatal(err)
		}
	}
	pingFails := func(ns string, dst netip.Addr) {
		t.Helper()
		if err := r.Ping(ctx, ns, dst); err == nil {
			t.Fatalf("ping %s from %s answered; want no answer", dst, ns)
		}
	}

	if err := r.LinkDown(node.Name); err != nil {
		t.Fatal(err)
	}
	pingFails(r.Client.NS, node.LAN.IPv4.Addr())
	if err := r.LinkUp(node.Name); err != nil {
		t.Fatal(err)
	}
	// Through the router: needs the default routes LinkUp restored.
	pingOK(node.NS, r.Client.Uplink.IPv4.Addr())
	pingOK(node.NS, r.Client.Uplink.IPv6.Addr())

	if err := r.CarrierDown(node.Name); err != nil {
		t.Fatal(err)
	}
	pingFails(r.Client.NS, node.LAN.IPv6.Addr())
	if err := r.CarrierUp(node.Name); err != nil {
		t.Fatal(err)
	}
	pingOK(r.Client.NS, node.LAN.IPv6.Addr())

	restore, err := r.DropTraffic(node.Name, rig.Drop{Proto: "icmp"})
	if err != nil {
		t.Fatal(err)
	}
	pingFails(r.Client.NS, node.LAN.IPv4.Addr())
	pingOK(r.Client.NS, node.LAN.IPv6.Addr()) // ICMPv6 is another protocol
	if err := restore(); err != nil {
		t.Fatal(err)
	}
	pingOK(r.Client.NS, node.LAN.IPv4.Addr())
}

// testAPIServerFromNodes starts the real API server on the host's
// loopback and has kubectl inside every node namespace reach it through
// the forwarder, after checking it cannot without one.
func testAPIServerFromNodes(ctx context.Context, t *testing.T, r *rig.Rig) {
	t0 := time.Now()
	env := testenv.Start(t, testenv.Options{})
	t.Logf("TIMING control plane start: %v", time.Since(t0).Round(time.Millisecond))
	kubeconfig, err := env.WriteKubeconfig(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	kubectl, err := kubectlPath()
	if err != nil {
		t.Fatal(err)
	}
	host := env.APIServerURL().Host
	getNS := func(ns string) (string, error) {
		return r.ExecContext(ctx, ns, kubectl, "--kubeconfig", kubeconfig, "--request-timeout=5s", "get", "namespaces", "-o", "name")
	}

	if out, err := getNS(r.Nodes[0].NS); err == nil {
		t.Fatalf("kubectl reached %s from %s before any forwarder: %s", host, r.Nodes[0].NS, out)
	}
	var nss []string
	for _, n := range r.Nodes {
		nss = append(nss, n.NS)
	}
	t0 = time.Now()
	if err := r.ForwardHost(ctx, host, nss...); err != nil {
		t.Fatal(err)
	}
	t.Logf("TIMING forwarders up in %d namespaces: %v", len(nss), time.Since(t0).Round(time.Millisecond))
	for _, ns := range nss {
		t0 := time.Now()
		out, err := getNS(ns)
		if err != nil {
			t.Fatalf("kubectl in %s: %v", ns, err)
		}
		if !strings.Contains(out, "namespace/kube-system") {
			t.Errorf("kubectl get namespaces in %s: %q, want namespace/kube-system among them", ns, out)
		}
		t.Logf("TIMING kubectl get namespaces in %s: %v", ns, time.Since(t0).Round(time.Millisecond))
	}
}

// kubectlPath is the kubectl `make control-plane` built, where testenv
// finds kube-apiserver.
func kubectlPath() (string, error) {
	dir := os.Getenv("KUBEBUILDER_ASSETS")
	if dir == "" {
		root, err := testenv.RepoRoot()
		if err != nil {
			return "", err
		}
		dir = filepath.Join(root, "bin")
	}
	path := filepath.Join(dir, "kubectl")
	if _, err := os.Stat(path); err != nil {
		return "", fmt.Errorf("kubectl: %w (run `make control-plane`)", err)
	}
	return path, nil
}

// assertNothingLeft checks after Down: no namespace with the rig's prefix,
// no process the rig started still running, no process anywhere whose
// command line names the rig's state dir (bird, nsforward), and the host's
// namespace as it was.
func assertNothingLeft(t *testing.T, r *rig.Rig) {
	t.Helper()
	entries, err := os.ReadDir("/run/netns")
	if err != nil && !os.IsNotExist(err) {
		t.Fatal(err)
	}
	for _, e := range entries {
		if strings.HasPrefix(e.Name(), r.Prefix) {
			t.Errorf("namespace %s left after Down", e.Name())
		}
	}
	for _, p := range r.Procs() {
		if p.Running() || syscall.Kill(p.PID(), 0) == nil {
			t.Errorf("process %s (pid %d) left after Down", p.Name, p.PID())
		}
	}
	procs, _ := filepath.Glob("/proc/[0-9]*/cmdline")
	for _, f := range procs {
		cmdline, err := os.ReadFile(f)
		if err == nil && strings.Contains(string(cmdline), r.StateDir) {
			t.Errorf("process %s left after Down: %q", filepath.Dir(f), strings.ReplaceAll(string(cmdline), "\x00", " "))
		}
	}
	if err := r.CheckHostUnchanged(); err != nil {
		t.Error(err)
	}
}
