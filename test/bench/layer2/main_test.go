// Package layer2 benchmarks Layer2 mode end to end on the e2e testbed
// (test/e2e/cluster) as clients see it, with default settings. It needs
// root, like the e2e suite, and skips loudly without it; the parsers of
// the prober's output have unit tests that run anywhere.
//
// The client's view comes from test/e2e/cmd/probe, run in the client's
// namespace: HTTP GETs of the Service's address every 10 ms, each on a new
// connection, or ARP who-has every 10 ms, one line per observation with a
// wall-clock timestamp. ICMP cannot be used: the address is assigned
// nowhere, and kube-proxy DNATs only the Service's TCP port.
//
//   - unplanned-outage-*: the owner node is lost (its speaker SIGKILLed and
//     its switch port cut at once); the outage is the longest time between
//     two successful probes around the event. planned-outage-*: the owner's
//     speaker gets SIGTERM and the node leaves the network once it exited.
//     speaker-kill-outage-*: only the speaker is SIGKILLed. rejoin-outage-*:
//     the owner comes back and takes its address back. See failovers for
//     why nodes, not just speakers, are taken away.
//   - create-arp-*: Service create call -> first ARP reply to the client's
//     who-has, with 10 and with about 1,000 Services present.
//   - writes-per-s-*, lease-writes-per-s-*: API writes per second over 10 s
//     at rest, counted by the API server (apiserver_request_total), with 10
//     and 1,000 Services; the log splits them into leases, services, events
//     and others. The API server's own lease renewal is among the leases.
//   - s-1000svc-owned-after-last-create: the last bulk create -> every
//     Service annotated with its owner.
//
// With 10 events or samples per case, p95 (nearest rank) is the largest of
// them; HERALD_BENCH_RUNS=n reports the median of n runs. The log carries
// the per-event lists with, per gap, how many probes failed inside it, and
// the prober's longest pause between sends: a gap without failures is the
// prober not getting the CPU, not the address going dark.
package layer2

import (
	"os"
	"testing"

	"github.com/herald-lb/herald/test/e2e/cluster"
)

func TestMain(m *testing.M) {
	os.Exit(cluster.BenchMain(m, "layer2"))
}
