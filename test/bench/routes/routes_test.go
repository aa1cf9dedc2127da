package routes

import (
	"context"
	"fmt"
	"github.com/herald-lb/herald/test/bench/benchstat"
	"net/netip"
	"os"
	"strconv"
	"sync"
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

// pool is the benchmark's Eip: 2,048 addresses next to the rig's routed
// /24, inside the testbed's 10.99.0.0/16 plan and nowhere else.
const pool = "10.99.200.0/21"

// runsEnv overrides the number of runs, e.g. HERALD_BENCH_RUNS=1.
const runsEnv = "HERALD_BENCH_RUNS"

// BenchmarkBGPRoutes measures, on the e2e testbed with three speakers and
// BIRD as the ToR, with netlink route events in the router's namespace:
// Service created -> ECMP route via every node in the router's kernel and
// Service deleted -> route gone (sequentially, latencies per Service); then
// the time for 1,000 Services created at once to be all routed, and each
// speaker's peak RSS with them announced. kube-proxy and the backends are
// not started: they do not take part and would only add noise.
func BenchmarkBGPRoutes(b *testing.B) {
	rig.SkipUnlessAvailable(b)
	const sequential, bulk = 60, 1000
	runs := 3
	if v, err := strconv.Atoi(os.Getenv(runsEnv)); err == nil && v > 0 {
		runs = v
	}
	var results []result
	for run := range runs {
		r := routesOnce(b, sequential, bulk)
		b.Logf("run %d: %s", run+1, r)
		results = append(results, r)
	}
	report(b, results)
}

// result is one run's measurements.
type result struct {
	create, delete []time.Duration // per Service, sequential
	bulk           int
	bulkAllRouted  time.Duration // first create -> last ECMP route
	bulkCreating   time.Duration // first create -> last create returned
	// Per node, bytes: peak RSS once the sessions are up with nothing to
	// announce, peak RSS at the end, and the private (anonymous) part of
	// the RSS at the end; the rest is the binary's file-backed pages.
	speakerIdle, speakerPeak, speakerAnon []int64
	// speakerCPU is each speaker's CPU time over the whole run.
	speakerCPU []time.Duration
}

func (r result) String() string {
	cp := benchstat.Percentiles(r.create)
	dp := benchstat.Percentiles(r.delete)
	return fmt.Sprintf("create->route p50 %v p95 %v max %v; delete->gone p50 %v p95 %v max %v; %d services all routed in %v (creating took %v); speaker peak RSS %v MiB (idle %v, anonymous at the end %v), CPU %v",
		cp[0], cp[1], cp[2], dp[0], dp[1], dp[2], r.bulk, r.bulkAllRouted.Round(time.Millisecond),
		r.bulkCreating.Round(time.Millisecond), mibs(r.speakerPeak), mibs(r.speakerIdle), mibs(r.speakerAnon), r.speakerCPU)
}

func routesOnce(b *testing.B, sequential, bulk int) result {
	b.Helper()
	c := cluster.Setup(b, cluster.Options{NoDataPath: true, Logf: func(string, ...any) {}})
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Minute)
	defer cancel()
	for _, o := range []client.Object{
		&v1alpha2.BgpConf{ObjectMeta: metav1.ObjectMeta{Name: v1alpha2.BgpConfName}, Spec: v1alpha2.BgpConfSpec{As: rig.NodeAS}},
		&v1alpha2.BgpPeer{
			ObjectMeta: metav1.ObjectMeta{Name: "tor"},
			Spec: v1alpha2.BgpPeerSpec{
				Conf: &v1alpha2.PeerConf{NeighborAddress: c.Router.LAN.IPv4.Addr().String(), PeerAs: rig.RouterAS},
				Timers: &v1alpha2.Timers{Config: &v1alpha2.TimersConfig{
					HoldTime: ptr.To(intstr.FromInt32(9)), KeepaliveInterval: ptr.To(intstr.FromInt32(3)), ConnectRetry: ptr.To(intstr.FromInt32(1)),
				}},
			},
		},
		&v1alpha2.Eip{ObjectMeta: metav1.ObjectMeta{Name: "bench"}, Spec: v1alpha2.EipSpec{Address: pool, Protocol: v1alpha2.ProtocolBGP}},
	} {
		if err := c.Client.Create(ctx, o); err != nil {
			b.Fatal(err)
		}
	}
	w, err := watch(ctx, c, len(c.Nodes))
	if err != nil {
		b.Fatal(err)
	}
	// Sessions up: the first Service's route would otherwise time the
	// BGP handshake.
	waitEstablished(ctx, b, c)
	var r result
	for _, n := range c.Nodes {
		st, err := benchstat.ProcStatus(n.Speaker.PID())
		if err != nil {
			b.Fatal(err)
		}
		r.speakerIdle = append(r.speakerIdle, st["VmHWM"])
	}

	for i := range sequential {
		svc := service(fmt.Sprintf("seq-%d", i))
		start := time.Now()
		if err := c.Client.Create(ctx, svc); err != nil {
			b.Fatal(err)
		}
		ip := waitIP(ctx, b, c, svc)
		at, err := w.waitFull(ctx, ip, start)
		if err != nil {
			b.Fatal(err)
		}
		r.create = append(r.create, at.Sub(start))
	}
	for i := range sequential {
		svc := service(fmt.Sprintf("seq-%d", i))
		var cur corev1.Service
		if err := c.Client.Get(ctx, client.ObjectKeyFromObject(svc), &cur); err != nil {
			b.Fatal(err)
		}
		ip := netip.MustParseAddr(cur.Status.LoadBalancer.Ingress[0].IP)
		start := time.Now()
		if err := c.Client.Delete(ctx, &cur); err != nil {
			b.Fatal(err)
		}
		at, err := w.waitGone(ctx, ip, start)
		if err != nil {
			b.Fatal(err)
		}
		r.delete = append(r.delete, at.Sub(start))
	}

	// Bulk: 1,000 Services from 8 workers, as fast as the API server takes
	// them; done when the router has an ECMP route for every one.
	r.bulk = bulk
	start := time.Now()
	var wg sync.WaitGroup
	errs := make(chan error, bulk)
	next := make(chan int)
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range next {
				if err := c.Client.Create(ctx, service(fmt.Sprintf("bulk-%d", i))); err != nil {
					errs <- err
				}
			}
		}()
	}
	for i := range bulk {
		next <- i
	}
	close(next)
	wg.Wait()
	r.bulkCreating = time.Since(start)
	close(errs)
	for err := range errs {
		b.Fatal(err)
	}
	last, err := w.waitFullCount(ctx, bulk, start, 5*time.Minute)
	if err != nil {
		b.Fatal(err)
	}
	r.bulkAllRouted = last.Sub(start)
	for _, n := range c.Nodes {
		st, err := benchstat.ProcStatus(n.Speaker.PID())
		if err != nil {
			b.Fatal(err)
		}
		r.speakerPeak = append(r.speakerPeak, st["VmHWM"])
		r.speakerAnon = append(r.speakerAnon, st["RssAnon"])
		cpu, err := benchstat.CPUTime(n.Speaker.PID())
		if err != nil {
			b.Fatal(err)
		}
		r.speakerCPU = append(r.speakerCPU, cpu)
	}
	return r
}

// service is a LoadBalancer Service from the benchmark's Eip, without
// node ports (the testbed runs no kube-proxy here).
func service(name string) *corev1.Service {
	svc := cluster.LoadBalancer("default", name, "bench")
	svc.Spec.AllocateLoadBalancerNodePorts = ptr.To(false)
	return svc
}

func waitIP(ctx context.Context, b *testing.B, c *cluster.Cluster, svc *corev1.Service) netip.Addr {
	b.Helper()
	ip, err := c.WaitAddress(ctx, svc, 30*time.Second, 5*time.Millisecond)
	if err != nil {
		b.Fatal(err)
	}
	return ip
}

func waitEstablished(ctx context.Context, b *testing.B, c *cluster.Cluster) {
	b.Helper()
	err := rig.Eventually(ctx, time.Minute, 100*time.Millisecond, func(ctx context.Context) error {
		up, err := c.ToR.Established(ctx)
		if err != nil {
			return err
		}
		if len(up) < len(c.Nodes) {
			return fmt.Errorf("ToR sessions established: %v", up)
		}
		return nil
	})
	if err != nil {
		b.Fatal(err)
	}
}

func mibs(bytes []int64) []string {
	var out []string
	for _, v := range bytes {
		out = append(out, fmt.Sprintf("%.1f", float64(v)/(1<<20)))
	}
	return out
}
