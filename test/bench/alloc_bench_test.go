package bench

import (
	"context"
	"fmt"
	"os"
	"strconv"
	"syscall"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/herald-lb/herald/api/v1alpha2"
	"github.com/herald-lb/herald/internal/testenv"
	"github.com/herald-lb/herald/test/controllerproc"
)

const (
	benchNamespace = "bench"
	leaseNamespace = "herald-system"
	poolName       = "bench-pool"
	// poolCIDR holds 65,536 addresses, far more than the largest case.
	poolCIDR = "10.200.0.0/16"
	// creators is how many goroutines create Services at once: enough to
	// keep the API server busy on a two-core machine.
	creators = 8
)

// BenchmarkAllocate creates N annotated LoadBalancer Services against a
// fresh control plane with an idle controller already leading, and
// measures how long until all have an address. b.N is ignored: one run
// takes from seconds to a minute, so each case runs a fixed number of
// times (make bench uses -benchtime 1x) and reports the median.
func BenchmarkAllocate(b *testing.B) {
	cases := []struct{ services, runs int }{
		{services: 1000, runs: 5},
		// One run: the API server alone needs minutes for 10,000
		// creates, and `make bench` should stay within 15 minutes.
		{services: 10000, runs: 1},
	}
	for _, c := range cases {
		b.Run(fmt.Sprintf("services=%d", c.services), func(b *testing.B) {
			runs, err := runsOf(c.runs)
			if err != nil {
				b.Fatal(err)
			}
			var results []result
			for run := range runs {
				r := allocateOnce(b, c.services, run)
				b.Logf("run %d: %s", run+1, r)
				results = append(results, r)
			}
			report(b, results)
		})
	}
}

// runsEnv overrides how many times each case runs, e.g. 1 for a quick
// look: `HERALD_BENCH_RUNS=1 make bench`.
const runsEnv = "HERALD_BENCH_RUNS"

func runsOf(dflt int) (int, error) {
	text := os.Getenv(runsEnv)
	if text == "" {
		return dflt, nil
	}
	n, err := strconv.Atoi(text)
	if err != nil || n < 1 {
		return 0, fmt.Errorf("%s=%q: want a positive number of runs", runsEnv, text)
	}
	return n, nil
}

// result is what one run measured.
type result struct {
	services int
	// creating is from the first create to the last create returning.
	creating time.Duration
	// afterLastCreate is from the last create returning to every Service
	// having an address.
	afterLastCreate time.Duration
	// total is from the first create to every Service having an address.
	total time.Duration
	// allocatedAtLastCreate is how many had an address when the last
	// create returned: how well the controller kept pace.
	allocatedAtLastCreate int
	// writes are the controller's writes (see controllerWrites).
	writes map[testenv.Request]float64
	// peakRSS is the controller's ru_maxrss at exit, in bytes.
	peakRSS int64
	// reconcileErrors counts the controller's "Reconciler error" log
	// lines. (Its production logger samples: past 100 lines of one message
	// in a second it keeps every 100th, so log lines cannot count
	// allocations; events and status writes do.)
	reconcileErrors int
	// cpu is the CPU time each process used from the first create to the
	// last allocation, by command name (see cpuTimes).
	cpu map[string]time.Duration
}

func (r result) writesTotal() float64 {
	var sum float64
	for _, v := range r.writes {
		sum += v
	}
	return sum
}

func (r result) String() string {
	return fmt.Sprintf("creates %.1fs (%.0f/s), all allocated %.2fs after the last create (%d of %d allocated by then), "+
		"%.1f alloc/s, %.2f writes/alloc %v, peak RSS %.1f MiB, %d reconcile errors, CPU %v",
		r.creating.Seconds(), float64(r.services)/r.creating.Seconds(), r.afterLastCreate.Seconds(),
		r.allocatedAtLastCreate, r.services, float64(r.services)/r.total.Seconds(),
		r.writesTotal()/float64(r.services), r.writes, float64(r.peakRSS)/(1<<20), r.reconcileErrors, r.cpu)
}

// allocateOnce runs one measurement on a control plane of its own.
func allocateOnce(b *testing.B, n, run int) result {
	b.Helper()
	// Bounded: on two cores 1,000 Services take about 20 s and 10,000
	// about 8 minutes, since kube-apiserver's ClusterIP allocator lists
	// every IPAddress on each create (see doc.go); this leaves room for a
	// loaded machine.
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute+time.Duration(n)*60*time.Millisecond)
	defer cancel()

	env, err := testenv.New(testenv.Options{})
	if err != nil {
		b.Fatal(err)
	}
	defer func() {
		if err := env.Stop(); err != nil {
			b.Error(err)
		}
	}()
	cfg := rest.CopyConfig(env.Config)
	cfg.QPS, cfg.Burst = 500, 1000
	cs, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		b.Fatalf("clientset: %v", err)
	}
	if err := createFixtures(ctx, env); err != nil {
		b.Fatal(err)
	}
	proc := startController(ctx, b, env, fmt.Sprintf("controller-%d-run%d", n, run+1))
	// Runs before env.Stop (defers run last-in first-out), also when the
	// run fails: a controller outliving its API server only logs errors.
	defer func() {
		if _, err := proc.Stop(syscall.SIGKILL, 10*time.Second); err != nil {
			b.Error(err)
		}
	}()

	// The watch ends before the API server is stopped: kube-apiserver's
	// graceful shutdown otherwise waits for the open watch and times out.
	watchCtx, stopWatch := context.WithCancel(ctx)
	defer stopWatch()
	watch, err := watchAllocations(watchCtx, cs, n)
	if err != nil {
		b.Fatal(err)
	}
	before, err := env.MutatingRequestsByVerb(ctx)
	if err != nil {
		b.Fatal(err)
	}

	cpuBefore, err := cpuTimes()
	if err != nil {
		b.Fatal(err)
	}
	start := time.Now()
	lastCreate, err := createServices(ctx, cs, n)
	if err != nil {
		b.Fatal(err)
	}
	allocatedAtLastCreate := watch.count()
	select {
	case <-watch.done:
	case <-ctx.Done():
		b.Fatalf("only %d of %d Services have an address: %v", watch.count(), n, ctx.Err())
	}
	allDone := watch.doneAt()
	cpuAfter, err := cpuTimes()
	if err != nil {
		b.Fatal(err)
	}

	// The last allocation's Eip status write and events trail it; wait for
	// them so that the count covers every write the allocations caused.
	after, err := settledWrites(ctx, env, n)
	if err != nil {
		b.Fatal(err)
	}
	hwm, hwmErr := proc.HighWaterRSS()
	exit, err := proc.Stop(syscall.SIGTERM, 30*time.Second)
	if err != nil {
		b.Fatal(err)
	}
	if exit.Code != 0 {
		b.Errorf("controller after SIGTERM: %s", exit)
	}
	if hwmErr == nil && exit.PeakRSS < hwm {
		b.Logf("ru_maxrss %d B < VmHWM %d B before SIGTERM", exit.PeakRSS, hwm)
	}
	reconcileErrors, _ := proc.CountLog("Reconciler error")
	return result{
		services:              n,
		creating:              lastCreate.Sub(start),
		afterLastCreate:       allDone.Sub(lastCreate),
		total:                 allDone.Sub(start),
		allocatedAtLastCreate: allocatedAtLastCreate,
		writes:                controllerWrites(before, after),
		peakRSS:               exit.PeakRSS,
		reconcileErrors:       reconcileErrors,
		cpu:                   cpuDelta(cpuBefore, cpuAfter),
	}
}

// createFixtures makes the namespaces and the default Eip, with what a
// bgp Eip needs to count as served (BgpConf "default" and one BgpPeer):
// the controller warns every Service allocated from an Eip nothing
// serves, and the benchmark measures the path where nothing is wrong.
func createFixtures(ctx context.Context, env *testenv.Env) error {
	for _, name := range []string{benchNamespace, leaseNamespace} {
		ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: name}}
		if err := env.Client.Create(ctx, ns); err != nil {
			return fmt.Errorf("create namespace %s: %w", name, err)
		}
	}
	objs := []client.Object{
		&v1alpha2.BgpConf{ObjectMeta: metav1.ObjectMeta{Name: v1alpha2.BgpConfName}, Spec: v1alpha2.BgpConfSpec{As: 64512}},
		&v1alpha2.BgpPeer{ObjectMeta: metav1.ObjectMeta{Name: "router"}, Spec: v1alpha2.BgpPeerSpec{
			Conf: &v1alpha2.PeerConf{NeighborAddress: "192.0.2.1", PeerAs: 64513},
		}},
		&v1alpha2.Eip{
			ObjectMeta: metav1.ObjectMeta{
				Name:        poolName,
				Annotations: map[string]string{v1alpha2.AnnotationDefaultEip: "true"},
			},
			Spec: v1alpha2.EipSpec{Address: poolCIDR, Protocol: v1alpha2.ProtocolBGP},
		},
	}
	for _, o := range objs {
		if err := env.Client.Create(ctx, o); err != nil {
			return fmt.Errorf("create %T %s: %w", o, o.GetName(), err)
		}
	}
	return nil
}

// startController starts the controller and waits until it leads and has
// reported the pool, i.e. until it is running and idle.
func startController(ctx context.Context, b *testing.B, env *testenv.Env, name string) *controllerproc.Process {
	b.Helper()
	bin, err := controllerBin.Path()
	if err != nil {
		b.Fatal(err)
	}
	dir := b.TempDir()
	kubeconfig, err := env.WriteKubeconfig(dir)
	if err != nil {
		b.Fatal(err)
	}
	proc, err := controllerproc.Start(b, controllerproc.Options{
		Binary: bin, Kubeconfig: kubeconfig, LeaseNamespace: leaseNamespace, LogDir: dir, Name: name,
	})
	if err != nil {
		b.Fatal(err)
	}
	if err := proc.WaitForLog(ctx, controllerproc.LeaderLog); err != nil {
		b.Fatal(err)
	}
	if err := waitPoolReady(ctx, env); err != nil {
		b.Fatal(err)
	}
	return proc
}

// waitPoolReady polls the Eip every 50 ms until its status says ready.
func waitPoolReady(ctx context.Context, env *testenv.Env) error {
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	for {
		var eip v1alpha2.Eip
		err := env.Client.Get(ctx, clientKey(poolName), &eip)
		if err == nil && eip.Status.Ready {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("eip %s not ready (last error %v): %w", poolName, err, ctx.Err())
		case <-tick.C:
		}
	}
}
