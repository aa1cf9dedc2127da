package layer2

import (
	"context"
	"fmt"
	"net/netip"
	"slices"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/herald-lb/herald/api/v1alpha2"
	"github.com/herald-lb/herald/test/bench/benchstat"
	"github.com/herald-lb/herald/test/bench/probelog"
	"github.com/herald-lb/herald/test/e2e/cluster"
	"github.com/herald-lb/herald/test/e2e/rig"
)

// Sizes of one run: failover events of each kind, create-to-ARP samples
// at each scale, and the Services of the scale case. With these a run
// takes about three minutes on two cores, so the default is one run.
const (
	eventsPerKind = 10
	createSamples = 10
	manyServices  = 1000
)

// BenchmarkLayer2 measures, per run on two fresh testbeds: the outage
// seen by the client on owner loss, planned hand-over, and the owner's
// return (failovers); create -> first ARP answer and API writes per
// second with 10 and 1,000 Services (control).
func BenchmarkLayer2(b *testing.B) {
	rig.SkipUnlessAvailable(b)
	runs := benchstat.Runs(1)
	// Built here rather than by cluster.Setup, which would log a line per
	// testbed: a benchmark's log is cut after ten lines.
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Minute)
	bins, err := cluster.BuildOnce(ctx)
	cancel()
	if err != nil {
		b.Fatal(err)
	}
	var results []result
	for run := range runs {
		start := time.Now()
		r := result{failovers: failovers(b, bins, eventsPerKind), control: control(b, bins, createSamples, manyServices)}
		b.Logf("run %d (%v): %s", run+1, time.Since(start).Round(time.Second), r.failovers)
		b.Logf("run %d: %s", run+1, r.control)
		results = append(results, r)
	}
	report(b, results)
}

// result is one run's measurements.
type result struct {
	failovers failoverResult
	control   controlResult
}

// report gives the framework the median over runs of each metric.
func report(b *testing.B, runs []result) {
	b.Helper()
	p := func(ds []time.Duration, i int) float64 { return benchstat.Ms(benchstat.Percentiles(ds)[i]) }
	benchstat.Report(b, runs, []benchstat.Metric[result]{
		{Unit: "unplanned-outage-p50-ms", Of: func(r result) float64 { return p(probelog.Durations(r.failovers.outage[nodeLost]), 0) }},
		{Unit: "unplanned-outage-p95-ms", Of: func(r result) float64 { return p(probelog.Durations(r.failovers.outage[nodeLost]), 1) }},
		{Unit: "unplanned-outage-max-ms", Of: func(r result) float64 { return p(probelog.Durations(r.failovers.outage[nodeLost]), 2) }},
		{Unit: "planned-outage-p50-ms", Of: func(r result) float64 { return p(probelog.Durations(r.failovers.outage[planned]), 0) }},
		{Unit: "planned-outage-p95-ms", Of: func(r result) float64 { return p(probelog.Durations(r.failovers.outage[planned]), 1) }},
		{Unit: "planned-outage-max-ms", Of: func(r result) float64 { return p(probelog.Durations(r.failovers.outage[planned]), 2) }},
		{Unit: "speaker-kill-outage-p95-ms", Of: func(r result) float64 { return p(probelog.Durations(r.failovers.outage[speakerKilled]), 1) }},
		{Unit: "rejoin-outage-p95-ms", Of: func(r result) float64 { return p(r.failovers.allRejoins(), 1) }},
		{Unit: "create-arp-p50-ms", Of: func(r result) float64 { return p(r.control.createARP[0], 0) }},
		{Unit: "create-arp-p95-ms", Of: func(r result) float64 { return p(r.control.createARP[0], 1) }},
		{Unit: "create-arp-1000svc-p50-ms", Of: func(r result) float64 { return p(r.control.createARP[1], 0) }},
		{Unit: "create-arp-1000svc-p95-ms", Of: func(r result) float64 { return p(r.control.createARP[1], 1) }},
		{Unit: "writes-per-s-10svc", Of: func(r result) float64 { return r.control.writes[0].total() }},
		{Unit: "writes-per-s-1000svc", Of: func(r result) float64 { return r.control.writes[1].total() }},
		{Unit: "lease-writes-per-s-10svc", Of: func(r result) float64 { return r.control.writes[0].leases }},
		{Unit: "lease-writes-per-s-1000svc", Of: func(r result) float64 { return r.control.writes[1].leases }},
		{Unit: "s-1000svc-owned-after-last-create", Of: func(r result) float64 { return (r.control.allOwned - r.control.bulkCreating).Seconds() }},
	})
}

// layer2Service is a LoadBalancer Service from eip asking for ip, without
// node ports (the client reaches the load-balancer address only).
func layer2Service(name, eip string, ip netip.Addr) *corev1.Service {
	svc := cluster.LoadBalancer("default", name, eip)
	svc.Spec.AllocateLoadBalancerNodePorts = ptr.To(false)
	if ip.IsValid() {
		svc.Annotations[v1alpha2.AnnotationRequestedIP] = ip.String()
	}
	return svc
}

// waitOwner waits until svc's owner annotation names one of nodes and
// returns that node and when the benchmark saw it.
func waitOwner(ctx context.Context, c *cluster.Cluster, svc *corev1.Service, nodes ...*cluster.Node) (*cluster.Node, time.Time, error) {
	var owner *cluster.Node
	err := rig.Eventually(ctx, 30*time.Second, 20*time.Millisecond, func(ctx context.Context) error {
		var cur corev1.Service
		if err := c.Client.Get(ctx, client.ObjectKeyFromObject(svc), &cur); err != nil {
			return err
		}
		name := cur.Annotations[v1alpha2.AnnotationLayer2Node]
		owner = c.Node(name)
		if owner == nil || !slices.Contains(nodes, owner) {
			return fmt.Errorf("service %s owned by %q, want one of %v", svc.Name, name, nodeNames(nodes))
		}
		return nil
	})
	return owner, time.Now(), err
}

func nodeNames(nodes []*cluster.Node) string {
	var out []string
	for _, n := range nodes {
		out = append(out, n.Name)
	}
	return strings.Join(out, ",")
}
