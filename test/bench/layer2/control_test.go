package layer2

import (
	"context"
	"fmt"
	"maps"
	"net/netip"
	"slices"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/herald-lb/herald/api/v1alpha2"
	"github.com/herald-lb/herald/test/bench/benchstat"
	"github.com/herald-lb/herald/test/bench/probelog"
	"github.com/herald-lb/herald/test/e2e/cluster"
	"github.com/herald-lb/herald/test/e2e/rig"
)

// bulkEip holds the scale case's addresses: 1,024 next to the LAN, inside
// the testbed's 10.99.0.0/16 plan and nowhere else. Nobody resolves them;
// the speakers answer for them on eth0 all the same.
const (
	bulkEip  = "l2-bulk"
	bulkPool = "10.99.8.0/22"
)

// writesWindow is how long steady-state writes are counted.
const writesWindow = 10 * time.Second

// controlResult is what the control path costs with few Services [0]
// and with many [1]: the API writes per second at steady state, and then
// create -> first ARP reply to the client (and first gratuitous ARP) for
// Services created one at a time.
type controlResult struct {
	services              [2]int
	writes                [2]writeRates
	createARP, createGARP [2][]time.Duration
	// allAddressed and allOwned are from the many Services' first create
	// to every one having an address, and an owner annotation; settle[i]
	// is from all owned to the writes window.
	allAddressed, allOwned time.Duration
	// bulkCreating is how long the creates themselves took, and
	// bulkSpeakerCPU the CPU time all speakers spent until all were owned.
	bulkCreating, bulkSpeakerCPU time.Duration
	settle                       [2]time.Duration
}

func (r controlResult) String() string {
	var parts []string
	for i := range 2 {
		parts = append(parts, fmt.Sprintf("%d services: writes/s %s (quiet %v after all owned), then create -> first ARP reply %s, -> first gratuitous ARP %s",
			r.services[i], r.writes[i], r.settle[i].Round(time.Second), benchstat.Pct(r.createARP[i]), benchstat.Pct(r.createGARP[i])))
	}
	return strings.Join(parts, "; ") + fmt.Sprintf("; bulk up to %d services: creates took %v, all had an address after %v and an owner annotation after %v, speakers' CPU meanwhile %v",
		r.services[1], r.bulkCreating.Round(time.Millisecond), r.allAddressed.Round(time.Millisecond), r.allOwned.Round(time.Millisecond), r.bulkSpeakerCPU)
}

// writeRates are API writes per second by kind.
type writeRates struct {
	leases, services, events, others float64
	// otherNames lists the resources counted in others.
	otherNames []string
}

func (w writeRates) total() float64 { return w.leases + w.services + w.events + w.others }

func (w writeRates) String() string {
	return fmt.Sprintf("%.2f (leases %.2f, services %.2f, events %.2f, others %.2f %v)",
		w.total(), w.leases, w.services, w.events, w.others, w.otherNames)
}

// control runs on a testbed without kube-proxy and backends (the ARP
// answer and the API writes do not involve them, and on two cores three
// kube-proxies resyncing 1,000 Services would only add noise): `samples`
// Services created one at a time while the client sends a who-has every
// 10 ms, the writes with those at rest; then Services up to `many`, their
// writes at rest, and `samples` more created one at a time.
func control(b *testing.B, bins cluster.Binaries, samples, many int) controlResult {
	b.Helper()
	c := cluster.Setup(b, cluster.Options{Binaries: bins, NoDataPath: true, Logf: func(string, ...any) {}})
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Minute)
	defer cancel()
	for _, e := range []*v1alpha2.Eip{
		{ObjectMeta: metav1.ObjectMeta{Name: lanEip}, Spec: v1alpha2.EipSpec{Address: lanPool, Protocol: v1alpha2.ProtocolLayer2, Interface: rig.LANLink}},
		{ObjectMeta: metav1.ObjectMeta{Name: bulkEip}, Spec: v1alpha2.EipSpec{Address: bulkPool, Protocol: v1alpha2.ProtocolLayer2, Interface: rig.LANLink}},
	} {
		if err := c.Client.Create(ctx, e); err != nil {
			b.Fatal(err)
		}
	}
	var r controlResult
	var err error
	next := netip.MustParseAddr(lanFirst)
	if r.createARP[0], r.createGARP[0], err = arpSamples(ctx, c, bins.Probe, &next, samples); err != nil {
		b.Fatal(err)
	}
	r.services[0] = samples
	if r.writes[0], r.settle[0], err = steadyWrites(ctx, c, samples); err != nil {
		b.Fatal(err)
	}

	cpuBefore, err := speakersCPU(c)
	if err != nil {
		b.Fatal(err)
	}
	start := time.Now()
	if err := createBulk(ctx, c, many-samples); err != nil {
		b.Fatal(err)
	}
	r.bulkCreating = time.Since(start)
	allocated, err := waitAllOwned(ctx, c, many)
	if err != nil {
		b.Fatal(err)
	}
	r.allOwned, r.allAddressed = time.Since(start), allocated.Sub(start)
	cpuAfter, err := speakersCPU(c)
	if err != nil {
		b.Fatal(err)
	}
	r.bulkSpeakerCPU = cpuAfter - cpuBefore
	r.services[1] = many
	if r.writes[1], r.settle[1], err = steadyWrites(ctx, c, many); err != nil {
		b.Fatal(err)
	}
	if r.createARP[1], r.createGARP[1], err = arpSamples(ctx, c, bins.Probe, &next, samples); err != nil {
		b.Fatal(err)
	}
	return r
}

// arpSamples runs createToARP n times, for the addresses from *next on.
func arpSamples(ctx context.Context, c *cluster.Cluster, probe string, next *netip.Addr, n int) (reply, garp []time.Duration, err error) {
	for range n {
		name := "arp-" + strings.ReplaceAll(next.String(), ".", "-")
		r, g, err := createToARP(ctx, c, probe, layer2Service(name, lanEip, *next))
		if err != nil {
			return nil, nil, err
		}
		reply, garp = append(reply, r), append(garp, g)
		*next = next.Next()
	}
	return reply, garp, nil
}

// createToARP creates svc (which asks for its address) while the client
// probes the address with ARP, and returns the time from the create call
// to the first reply, and to the first gratuitous ARP.
func createToARP(ctx context.Context, c *cluster.Cluster, probe string, svc *corev1.Service) (reply, garp time.Duration, err error) {
	ip := netip.MustParseAddr(svc.Annotations[v1alpha2.AnnotationRequestedIP])
	p, err := c.Start(c.Rig.Client.NS, "probe-"+svc.Name, []string{
		probe, "-arp", ip.String(), "-interface", rig.LANLink, "-interval", "10ms", "-for", "1m",
	})
	if err != nil {
		return 0, 0, err
	}
	defer p.Stop(2 * time.Second)
	if err := probelog.Wait(ctx, p, 10*time.Second, func(log string) error {
		if !probelog.Ready(log) {
			return fmt.Errorf("prober not ready")
		}
		return nil
	}); err != nil {
		return 0, 0, err
	}
	start := time.Now()
	if err := c.Client.Create(ctx, svc); err != nil {
		return 0, 0, err
	}
	if err := probelog.Wait(ctx, p, 30*time.Second, func(log string) error {
		answers, err := probelog.ParseARP(log)
		if err != nil {
			return err
		}
		if _, ok := probelog.FirstARP(answers, false, start); !ok {
			return fmt.Errorf("no ARP reply for %s yet", ip)
		}
		return nil
	}); err != nil {
		return 0, 0, err
	}
	log, err := probelog.Stop(p)
	if err != nil {
		return 0, 0, err
	}
	answers, err := probelog.ParseARP(log)
	if err != nil {
		return 0, 0, err
	}
	first, _ := probelog.FirstARP(answers, false, start)
	announce, ok := probelog.FirstARP(answers, true, start)
	if !ok {
		return 0, 0, fmt.Errorf("%s: a reply but no gratuitous ARP", ip)
	}
	if _, _, err := waitOwner(ctx, c, svc, c.Nodes...); err != nil {
		return 0, 0, err
	}
	return first.At.Sub(start), announce.At.Sub(start), nil
}

// createBulk creates n Services of bulkEip, as fast as the API server
// takes them.
func createBulk(ctx context.Context, c *cluster.Cluster, n int) error {
	return c.CreateServices(ctx, n, func(i int) *corev1.Service {
		return layer2Service(fmt.Sprintf("bulk-%d", i), bulkEip, netip.Addr{})
	}, false)
}

// waitAllOwned waits until n Services carry an owner annotation, and
// returns when it first saw n of them with an address.
func waitAllOwned(ctx context.Context, c *cluster.Cluster, n int) (allocated time.Time, err error) {
	err = rig.Eventually(ctx, 5*time.Minute, 250*time.Millisecond, func(ctx context.Context) error {
		var list corev1.ServiceList
		if err := c.Client.List(ctx, &list, client.InNamespace("default")); err != nil {
			return err
		}
		addressed, owned := 0, 0
		for _, s := range list.Items {
			if len(s.Status.LoadBalancer.Ingress) > 0 {
				addressed++
			}
			if c.Node(s.Annotations[v1alpha2.AnnotationLayer2Node]) != nil {
				owned++
			}
		}
		if addressed >= n && allocated.IsZero() {
			allocated = time.Now()
		}
		if owned < n {
			return fmt.Errorf("%d of %d services owned (%d with an address)", owned, n, addressed)
		}
		return nil
	})
	return allocated, err
}

// steadyWrites waits until n Services are owned and a second passes
// without writes other than Leases (at most a minute: writes that never
// stop are what this measures, so it goes on and counts them), then
// counts the API server's writes over writesWindow.
func steadyWrites(ctx context.Context, c *cluster.Cluster, n int) (writeRates, time.Duration, error) {
	start := time.Now()
	if _, err := waitAllOwned(ctx, c, n); err != nil {
		return writeRates{}, 0, err
	}
	for time.Since(start) < time.Minute {
		w, err := writesOver(ctx, c, time.Second)
		if err != nil {
			return writeRates{}, 0, err
		}
		if w.total() == w.leases {
			break
		}
	}
	settle := time.Since(start)
	w, err := writesOver(ctx, c, writesWindow)
	return w, settle, err
}

// writesOver counts the API server's writes over d, per second.
func writesOver(ctx context.Context, c *cluster.Cluster, d time.Duration) (writeRates, error) {
	before, err := c.Env.MutatingRequests(ctx)
	if err != nil {
		return writeRates{}, err
	}
	start := time.Now()
	select {
	case <-ctx.Done():
		return writeRates{}, ctx.Err()
	case <-time.After(d):
	}
	after, err := c.Env.MutatingRequests(ctx)
	if err != nil {
		return writeRates{}, err
	}
	return rates(before, after, time.Since(start)), nil
}

// rates sorts the difference of two MutatingRequests counts into kinds,
// per second over d.
func rates(before, after map[string]float64, d time.Duration) writeRates {
	var w writeRates
	for _, res := range slices.Sorted(maps.Keys(after)) {
		n := (after[res] - before[res]) / d.Seconds()
		if n == 0 {
			continue
		}
		switch kind, _, _ := strings.Cut(res, "/"); kind {
		case "leases":
			w.leases += n
		case "services":
			w.services += n
		case "events":
			w.events += n
		default:
			w.others += n
			w.otherNames = append(w.otherNames, res)
		}
	}
	return w
}

// speakersCPU is the user+system CPU time of every node's speaker so far.
func speakersCPU(c *cluster.Cluster) (time.Duration, error) {
	var sum time.Duration
	for _, n := range c.Nodes {
		cpu, err := benchstat.CPUTime(n.Speaker.PID())
		if err != nil {
			return 0, err
		}
		sum += cpu
	}
	return sum, nil
}
