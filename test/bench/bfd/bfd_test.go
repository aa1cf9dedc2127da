package bfd

import (
	"context"
	"fmt"
	"net/netip"
	"os"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/herald-lb/herald/api/v1alpha2"
	"github.com/herald-lb/herald/test/bench/benchstat"
	"github.com/herald-lb/herald/test/e2e/cluster"
	"github.com/herald-lb/herald/test/e2e/rig"
)

// The benchmark's BFD and BGP timers.
const (
	interval   = 300 * time.Millisecond
	multiplier = 3
	holdTime   = 30
)

// itersEnv overrides the number of port cuts, e.g. HERALD_BENCH_BFD_ITERS=5.
const itersEnv = "HERALD_BENCH_BFD_ITERS"

// BenchmarkBFDPortCut measures, with netlink route events in the router's
// namespace, port of a node cut (its bridge port down: no carrier towards
// the router, no TCP close) -> the router's ECMP route without that node.
// Each iteration cuts the next node in turn, then restores the port and
// waits for the route via every node and every BFD session Up again. The
// expected value is between (multiplier - 1) and multiplier intervals plus
// jitter: BIRD's detection timer runs from the last packet it received.
func BenchmarkBFDPortCut(b *testing.B) {
	rig.SkipUnlessAvailable(b)
	iters := 20
	if v, err := strconv.Atoi(os.Getenv(itersEnv)); err == nil && v > 0 {
		iters = v
	}
	c := cluster.Setup(b, cluster.Options{NoDataPath: true, Logf: func(string, ...any) {}})
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Minute)
	defer cancel()
	// BIRD with BFD and the long hold time, before any session forms.
	tor := c.BirdToRConfig(rig.NodeAS)
	tor.Timers.Hold, tor.Timers.Keepalive = holdTime, holdTime/3
	tor.BFD = &rig.BirdBFD{Interval: interval, Multiplier: multiplier}
	conf, err := tor.Render()
	if err != nil {
		b.Fatal(err)
	}
	if err := c.ToR.Configure(ctx, conf); err != nil {
		b.Fatal(err)
	}
	for _, o := range []client.Object{
		&v1alpha2.BgpConf{ObjectMeta: metav1.ObjectMeta{Name: v1alpha2.BgpConfName}, Spec: v1alpha2.BgpConfSpec{As: rig.NodeAS}},
		&v1alpha2.BgpPeer{
			ObjectMeta: metav1.ObjectMeta{Name: "tor"},
			Spec: v1alpha2.BgpPeerSpec{
				Conf: &v1alpha2.PeerConf{NeighborAddress: c.Router.LAN.IPv4.Addr().String(), PeerAs: rig.RouterAS},
				Timers: &v1alpha2.Timers{Config: &v1alpha2.TimersConfig{
					HoldTime: ptr.To(intstr.FromInt32(holdTime)), KeepaliveInterval: ptr.To(intstr.FromInt32(holdTime / 3)),
					ConnectRetry: ptr.To(intstr.FromInt32(1)),
				}},
				Bfd: &v1alpha2.PeerBfd{Enabled: true, TransmitInterval: &metav1.Duration{Duration: interval},
					ReceiveInterval: &metav1.Duration{Duration: interval}, DetectMultiplier: ptr.To(int32(multiplier))},
			},
		},
		&v1alpha2.Eip{ObjectMeta: metav1.ObjectMeta{Name: "bench"}, Spec: v1alpha2.EipSpec{Address: "10.99.200.0/24", Protocol: v1alpha2.ProtocolBGP}},
	} {
		if err := c.Client.Create(ctx, o); err != nil {
			b.Fatal(err)
		}
	}
	events, err := c.WatchRoutes(ctx, c.Router.NS)
	if err != nil {
		b.Fatal(err)
	}
	svc := cluster.LoadBalancer("default", "bfd", "bench")
	svc.Spec.AllocateLoadBalancerNodePorts = ptr.To(false)
	if err := c.Client.Create(ctx, svc); err != nil {
		b.Fatal(err)
	}
	ip := waitIP(ctx, b, c, svc)
	prefix := netip.PrefixFrom(ip, 32)
	all := make([]netip.Addr, 0, len(c.Nodes))
	for _, n := range c.Nodes {
		all = append(all, n.LAN.IPv4.Addr())
	}
	slices.SortFunc(all, netip.Addr.Compare)
	waitReady := func() {
		b.Helper()
		if err := rig.Eventually(ctx, 2*time.Minute, 50*time.Millisecond, func(ctx context.Context) error {
			got, err := c.BirdRoutes(ctx, prefix)
			if err != nil {
				return err
			}
			if !slices.Equal(got, all) {
				return fmt.Errorf("next hops %v, want %v", got, all)
			}
			return bfdUp(ctx, c, len(c.Nodes))
		}); err != nil {
			b.Fatal(err)
		}
	}
	waitReady()

	var took []time.Duration
	for i := range iters {
		victim := c.Nodes[i%len(c.Nodes)]
		gone := victim.LAN.IPv4.Addr()
		drain(events)
		cut := time.Now()
		if err := c.CarrierDown(victim.Name); err != nil {
			b.Fatal(err)
		}
		at, err := waitEvent(ctx, events, prefix, 20*time.Second, func(gws []netip.Addr) bool { return !slices.Contains(gws, gone) })
		if err != nil {
			_ = c.CarrierUp(victim.Name)
			b.Fatalf("iteration %d, %s cut: %v", i+1, victim.Name, err)
		}
		took = append(took, at.Sub(cut))
		if err := c.CarrierUp(victim.Name); err != nil {
			b.Fatal(err)
		}
		waitReady()
	}
	p := benchstat.Percentiles(took)
	b.Logf("%d port cuts, BFD %v × %d, hold %d s: cut -> next hop gone p50 %v p95 %v max %v; all (ms): %s",
		len(took), interval, multiplier, holdTime, p[0], p[1], p[2], benchstat.MsList(took))
	b.ReportMetric(benchstat.Ms(p[0]), "cut-gone-p50-ms")
	b.ReportMetric(benchstat.Ms(p[1]), "cut-gone-p95-ms")
	b.ReportMetric(benchstat.Ms(p[2]), "cut-gone-max-ms")
	b.ReportMetric(0, "ns/op")
}

// drain discards the route events buffered so far.
func drain(events <-chan rig.RouteEvent) {
	for {
		select {
		case <-events:
		default:
			return
		}
	}
}

// waitEvent returns the time of the first change of prefix whose gateways
// satisfy ok (a deletion has none).
func waitEvent(ctx context.Context, events <-chan rig.RouteEvent, prefix netip.Prefix, timeout time.Duration, ok func([]netip.Addr) bool) (time.Time, error) {
	timer := time.NewTimer(timeout)
	defer timer.Stop()
	for {
		select {
		case ev, open := <-events:
			if !open {
				return time.Time{}, fmt.Errorf("route watch ended")
			}
			if ev.Dst != prefix {
				continue
			}
			gws := ev.Gateways
			if ev.Deleted {
				gws = nil
			}
			if ok(gws) {
				return ev.At, nil
			}
		case <-timer.C:
			return time.Time{}, fmt.Errorf("no matching change of %s within %v", prefix, timeout)
		case <-ctx.Done():
			return time.Time{}, ctx.Err()
		}
	}
}

// bfdUp fails until BIRD shows n BFD sessions Up.
func bfdUp(ctx context.Context, c *cluster.Cluster, n int) error {
	out, err := c.ToR.Cmd(ctx, "show", "bfd", "sessions")
	if err != nil {
		return err
	}
	up := 0
	for _, line := range strings.Split(out, "\n") {
		if f := strings.Fields(line); len(f) >= 3 && f[2] == "Up" {
			up++
		}
	}
	if up < n {
		return fmt.Errorf("BIRD has %d BFD sessions Up, want %d", up, n)
	}
	return nil
}

func waitIP(ctx context.Context, b *testing.B, c *cluster.Cluster, svc *corev1.Service) netip.Addr {
	b.Helper()
	ip, err := c.WaitAddress(ctx, svc, 30*time.Second, 20*time.Millisecond)
	if err != nil {
		b.Fatal(err)
	}
	return ip
}
