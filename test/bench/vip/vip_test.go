package vip

import (
	"context"
	"net/netip"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"

	"github.com/herald-lb/herald/api/v1alpha2"
	"github.com/herald-lb/herald/test/bench/benchstat"
	"github.com/herald-lb/herald/test/bench/probelog"
	"github.com/herald-lb/herald/test/e2e/cluster"
	"github.com/herald-lb/herald/test/e2e/rig"
)

// The two vip Eips on the LAN the client shares with the nodes: one at
// the speakers' advert interval (the default, 1 s), one overriding it to
// 100 ms (spec.vrrp), so both intervals run on one testbed.
const (
	slowEip  = "vip-1s"
	slowPool = "10.99.0.105-10.99.0.224"
	fastEip  = "vip-100ms"
	fastPool = "10.99.0.225-10.99.0.254"
	fastInt  = 100 * time.Millisecond
)

// Sizes of one run. With these a run takes about four minutes on two
// cores, so the default is one run.
const (
	nodeLostEvents  = 20 // per advert interval
	speakerEvents   = 5  // SIGKILLs, and as many restarts
	keepalivedEvent = 5  // planned keepalived-side restarts
	createPerAdvert = 20 // per advert interval
	manyVIPs        = 100
	churnCycles     = 10
	restWindow      = 30 * time.Second
)

// BenchmarkVIP measures VIP mode as the client sees it, per run on one
// fresh testbed with herald-keepalived beside every speaker: Service
// created -> answered (create), the holder node lost, its speaker killed
// or restarted, its keepalived side restarted (failovers), and with 100
// VIPs live the speakers' and keepalived's cost at rest and an unrelated
// Service's churn (scale).
func BenchmarkVIP(b *testing.B) {
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
		r := oneRun(b, bins)
		b.Logf("run %d (%v): %s", run+1, time.Since(start).Round(time.Second), r.create)
		b.Logf("run %d: %s", run+1, r.failovers)
		b.Logf("run %d: %s", run+1, r.scale)
		results = append(results, r)
	}
	report(b, results)
}

// result is one run's measurements.
type result struct {
	create    createResult
	failovers failoverResult
	scale     scaleResult
}

// oneRun brings a testbed up and measures everything on it: a testbed
// costs about as much as ten failovers, and every step leaves it as it
// found it, except the last, whose 100 VIPs stay until teardown.
func oneRun(b *testing.B, bins cluster.Binaries) result {
	b.Helper()
	c := cluster.Setup(b, cluster.Options{Binaries: bins, VIP: true, Logf: func(string, ...any) {}})
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Minute)
	defer cancel()
	for _, e := range []*v1alpha2.Eip{
		{ObjectMeta: metav1.ObjectMeta{Name: slowEip}, Spec: v1alpha2.EipSpec{Address: slowPool, Protocol: v1alpha2.ProtocolVIP, Interface: rig.LANLink}},
		{ObjectMeta: metav1.ObjectMeta{Name: fastEip}, Spec: v1alpha2.EipSpec{Address: fastPool, Protocol: v1alpha2.ProtocolVIP, Interface: rig.LANLink,
			VRRP: &v1alpha2.EipVRRP{AdvertInterval: &metav1.Duration{Duration: fastInt}}}},
	} {
		if err := c.Client.Create(ctx, e); err != nil {
			b.Fatal(err)
		}
	}
	addrs := newPicker(c)
	owned, err := pickOwned(c, addrs)
	if err != nil {
		b.Fatal(err)
	}
	var r result
	if r.create, err = createSamples(ctx, c, bins.Probe, addrs, createPerAdvert); err != nil {
		b.Fatal(err)
	}
	if r.failovers, err = failovers(ctx, c, bins.Probe, owned); err != nil {
		b.Fatal(err)
	}
	if r.scale, err = scale(ctx, c, bins.Probe, manyVIPs, churnCycles, restWindow); err != nil {
		b.Fatal(err)
	}
	return r
}

// report gives the framework the median over runs of each metric.
func report(b *testing.B, runs []result) {
	b.Helper()
	p := func(ds []time.Duration, i int) float64 {
		if len(ds) == 0 {
			return -1
		}
		return benchstat.Ms(benchstat.Percentiles(ds)[i])
	}
	f := func(r result) *failoverResult { return &r.failovers }
	benchstat.Report(b, runs, []benchstat.Metric[result]{
		{Unit: "create-answer-1s-p50-ms", Of: func(r result) float64 { return p(r.create.answer[slow], 0) }},
		{Unit: "create-answer-1s-p95-ms", Of: func(r result) float64 { return p(r.create.answer[slow], 1) }},
		{Unit: "create-answer-100ms-p50-ms", Of: func(r result) float64 { return p(r.create.answer[fast], 0) }},
		{Unit: "create-answer-100ms-p95-ms", Of: func(r result) float64 { return p(r.create.answer[fast], 1) }},
		{Unit: "node-lost-1s-p50-ms", Of: func(r result) float64 { return p(probelog.Durations(f(r).lost[slow]), 0) }},
		{Unit: "node-lost-1s-p95-ms", Of: func(r result) float64 { return p(probelog.Durations(f(r).lost[slow]), 1) }},
		{Unit: "node-lost-1s-max-ms", Of: func(r result) float64 { return p(probelog.Durations(f(r).lost[slow]), 2) }},
		{Unit: "node-lost-100ms-p50-ms", Of: func(r result) float64 { return p(probelog.Durations(f(r).lost[fast]), 0) }},
		{Unit: "node-lost-100ms-p95-ms", Of: func(r result) float64 { return p(probelog.Durations(f(r).lost[fast]), 1) }},
		{Unit: "node-lost-100ms-max-ms", Of: func(r result) float64 { return p(probelog.Durations(f(r).lost[fast]), 2) }},
		{Unit: "owner-back-1s-p95-ms", Of: func(r result) float64 { return p(probelog.Durations(f(r).back[slow]), 1) }},
		{Unit: "owner-back-100ms-p95-ms", Of: func(r result) float64 { return p(probelog.Durations(f(r).back[fast]), 1) }},
		{Unit: "speaker-kill-failed-probes", Of: func(r result) float64 { return float64(f(r).speaker[killed].failed) }},
		{Unit: "speaker-kill-max-gap-ms", Of: func(r result) float64 { return benchstat.Ms(f(r).speaker[killed].longest) }},
		{Unit: "speaker-restart-failed-probes", Of: func(r result) float64 { return float64(f(r).speaker[restarted].failed) }},
		{Unit: "speaker-restart-max-gap-ms", Of: func(r result) float64 { return benchstat.Ms(f(r).speaker[restarted].longest) }},
		{Unit: "keepalived-restart-vrrp-p50-ms", Of: func(r result) float64 { return p(f(r).kaVRRP, 0) }},
		{Unit: "keepalived-restart-handover-p50-ms", Of: func(r result) float64 { return p(probelog.Durations(f(r).kaAway), 0) }},
		{Unit: "keepalived-restart-handover-max-ms", Of: func(r result) float64 { return p(probelog.Durations(f(r).kaAway), 2) }},
		{Unit: "keepalived-restart-takeback-max-ms", Of: func(r result) float64 { return p(probelog.Durations(f(r).kaBack), 2) }},
		{Unit: "unrelated-100vip-failed-probes", Of: func(r result) float64 { return float64(r.scale.churn.failed) }},
		{Unit: "unrelated-100vip-max-gap-ms", Of: func(r result) float64 { return benchstat.Ms(r.scale.churn.longest) }},
		{Unit: "speaker-cpu-pct-100vip", Of: func(r result) float64 { return r.scale.rest.max(func(n nodeCost) float64 { return n.speakerCPU }) }},
		{Unit: "keepalived-cpu-pct-100vip", Of: func(r result) float64 { return r.scale.rest.max(func(n nodeCost) float64 { return n.keepalivedCPU }) }},
		{Unit: "speaker-rss-mb-100vip", Of: func(r result) float64 { return r.scale.rest.max(func(n nodeCost) float64 { return n.speakerRSS }) }},
		{Unit: "keepalived-rss-mb-100vip", Of: func(r result) float64 { return r.scale.rest.max(func(n nodeCost) float64 { return n.keepalivedRSS }) }},
	})
}

// interval names the two Eips' advert intervals.
type interval int

const (
	slow interval = iota // 1 s, the default
	fast                 // 100 ms, the Eip's override
	numIntervals
)

func (i interval) String() string { return [...]string{"advert 1s", "advert 100ms"}[i] }

func (i interval) eip() string { return [...]string{slowEip, fastEip}[i] }

// vipService is a LoadBalancer Service from eip asking for ip (any when
// invalid), without node ports (the client reaches the VIP only).
func vipService(name, eip string, ip netip.Addr) *corev1.Service {
	svc := cluster.LoadBalancer("default", name, eip)
	svc.Spec.AllocateLoadBalancerNodePorts = ptr.To(false)
	if ip.IsValid() {
		svc.Annotations[v1alpha2.AnnotationRequestedIP] = ip.String()
	}
	return svc
}

// serviceName is a Service name for ip with a prefix: "fo-10-99-0-110".
func serviceName(prefix string, ip netip.Addr) string {
	return prefix + "-" + strings.ReplaceAll(ip.String(), ".", "-")
}
