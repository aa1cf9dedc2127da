// Package vip benchmarks VIP mode end to end on the e2e testbed
// (test/e2e/cluster with Options.VIP: herald-keepalived running the
// system's keepalived beside herald-speaker on every node) as clients see
// it, with default settings. It needs root, like the e2e suite, and skips
// loudly without it; the prober's output is parsed by test/bench/probelog,
// whose unit tests run anywhere.
//
// The client's view comes from test/e2e/cmd/probe, run in the client's
// namespace: HTTP GETs of the VIP every 10 ms, each on a new connection
// with a 200 ms timeout, one line per probe with wall-clock timestamps. A
// gap is the longest time between two successful probes around an event,
// with the number of probes that failed inside it. Two vip Eips share one
// testbed: one at the speakers' advert interval (1 s, the default), one
// overriding it to 100 ms (spec.vrrp.advertInterval).
//
//   - create-answer-{1s,100ms}-{p50,p95}-ms: Service create call (its
//     endpoints published right after) -> first successful probe, 20
//     Services per interval created one at a time. The log has the median
//     of each step: address in the Service's status, VRID in the Eip's
//     status, candidate config written, live config installed, MASTER in
//     state.json, first probe that reached the holder (refused: kube-proxy
//     has no rule for the VIP yet), first answer.
//   - node-lost-{1s,100ms}-{p50,p95,max}-ms: the holder node is lost (its
//     switch port cut, then its herald-keepalived and speaker SIGKILLed),
//     20 events per interval rotating over the nodes; the outage is what
//     the client sees until another node serves it. The log adds port cut
//     -> new MASTER in state.json. owner-back-{1s,100ms}-p95-ms: the gap
//     when the node returns (port up, herald-keepalived and speaker
//     started) and, first in the VIP's ranking, takes it back.
//   - speaker-{kill,restart}-failed-probes and -max-gap-ms: the holder's
//     speaker SIGKILLed, or stopped with SIGTERM, and started again, 5
//     times each; from the signal to a second after the new speaker is
//     ready no probe may fail (keepalived runs in its own process).
//   - keepalived-restart-vrrp-p50-ms: the holder's herald-keepalived
//     stopped with SIGTERM (keepalived sends priority-0 adverts) -> another
//     node MASTER in its state.json; keepalived-restart-handover-{p50,max}-ms
//     the client's gap then, keepalived-restart-takeback-max-ms when the
//     restarted one takes the VIP back; 5 events. The client's gap is far
//     below VRRP's hand-over because the old holder, still up, keeps
//     forwarding what clients send it: kube-proxy DNATs the VIP whether or
//     not it is on an interface.
//   - speaker-cpu-pct-100vip, keepalived-cpu-pct-100vip (herald-keepalived
//     and its keepalived processes), in percent of one core over 30 s at
//     rest, and speaker-rss-mb-100vip, keepalived-rss-mb-100vip (MiB at
//     the end of the window): the busiest node, with 100 VIPs of the 1 s
//     Eip, each with an instance on all three nodes; the log has every
//     node and how long the 100 took to be held.
//   - unrelated-100vip-failed-probes and -max-gap-ms: an unrelated Service
//     of the same Eip added and removed 10 times (every keepalived reloads
//     twice per cycle) while the client probes one of the 100 VIPs; none
//     may fail.
//
// What the numbers showed on two cores (issue 10's note has the table):
// a lost holder is served again within the master-down interval (3 s +
// skew at 1 s; 0.3 s at 100 ms) of its last advert, so 2-3 s and about
// 0.3 s after the cut; speaker crashes, restarts and unrelated reloads
// fail no probe. Create -> answer (~0.9 s) is bounded by kube-proxy: its
// iptables rules follow a new Service only at its next sync, at most one
// per --iptables-min-sync-period (1 s), and the VIP answers with resets
// ~0.2 s before that. Herald's own part is mostly the VRID: the
// controller writes it to the Eip's status, where speakers read it, at
// most once a second per Eip (DefaultStatusInterval), ~0.6 s in the
// median; rendering, the supervisor's install and MASTER (the first-ranked
// node starts as MASTER) add under 0.1 s. Now and then a returning node
// fails probes for up to a second: its neighbour entry for the client or
// for a backend node went INCOMPLETE while its port was down (it tried to
// send then), Linux retries only after retrans_time (1 s), not when the
// carrier returns, and the node takes its VIPs back at once (no preempt
// delay by default); the log shows the returning node's neighbour table
// for such returns. --vrrp-preempt-delay hides it, at the price of new
// VIPs waiting for a master-down interval.
//
// With 20 samples per case, p95 (nearest rank) is the second largest;
// HERALD_BENCH_RUNS=n reports the median of n runs. The log carries the
// per-event lists (ms/failed probes) and the prober's longest pause
// between sends: a gap without failures is the prober not getting the
// CPU, not the VIP going dark.
package vip

import (
	"os"
	"testing"

	"github.com/herald-lb/herald/test/e2e/cluster"
)

func TestMain(m *testing.M) {
	os.Exit(cluster.BenchMain(m, "vip"))
}
