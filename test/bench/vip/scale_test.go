package vip

import (
	"context"
	"fmt"
	"net/netip"
	"os"
	"slices"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/herald-lb/herald/keepalived"
	"github.com/herald-lb/herald/test/bench/benchstat"
	"github.com/herald-lb/herald/test/bench/probelog"
	"github.com/herald-lb/herald/test/e2e/cluster"
	"github.com/herald-lb/herald/test/e2e/rig"
)

// scaleResult is VIP mode with many VIPs live: what it took to get them
// all held, the cost at rest, and an unrelated Service's churn.
type scaleResult struct {
	vips int
	// creating is how long the creates (and endpoints) took, allHeld from
	// the first create until every VIP had one MASTER.
	creating, allHeld time.Duration
	rest              restCost
	// churn is the probed VIP's window while another Service was added
	// and removed churn.events times; churnHeld is each create -> MASTER.
	churn     quiet
	churnHeld []time.Duration
}

func (s scaleResult) String() string {
	return fmt.Sprintf("%d VIPs: creates took %v, all held after %v; at rest over %v: %s; unrelated Service added and removed: %d of %d probes on one VIP failed over %d cycles, longest gap %v, its create -> MASTER %s",
		s.vips, s.creating.Round(time.Millisecond), s.allHeld.Round(time.Millisecond), s.rest.window, s.rest,
		s.churn.failed, s.churn.sent, s.churn.events, s.churn.longest.Round(time.Millisecond), benchstat.Pct(s.churnHeld))
}

// nodeCost is one node's processes over the window: CPU in percent of one
// core, RSS in MiB at its end. keepalived is herald-keepalived and the
// keepalived processes it runs (parent and VRRP child) together.
type nodeCost struct {
	name                                     string
	speakerCPU, keepalivedCPU, supervisorCPU float64
	speakerRSS, keepalivedRSS                float64
}

type restCost struct {
	window time.Duration
	nodes  []nodeCost
}

func (r restCost) String() string {
	var parts []string
	for _, n := range r.nodes {
		parts = append(parts, fmt.Sprintf("%s speaker %.2f%% CPU %.1f MiB, keepalived %.2f%% CPU (herald-keepalived %.2f%%) %.1f MiB",
			n.name, n.speakerCPU, n.speakerRSS, n.keepalivedCPU, n.supervisorCPU, n.keepalivedRSS))
	}
	return strings.Join(parts, "; ")
}

// max is the largest of of over the nodes (the busiest node).
func (r restCost) max(of func(nodeCost) float64) float64 {
	var m float64
	for _, n := range r.nodes {
		m = max(m, of(n))
	}
	return m
}

// scale creates many Services of the 1 s Eip (every node runs an instance
// for every VIP: three participants), measures the cost at rest over
// window, then adds and removes an unrelated Service cycles times while
// the client probes one of them.
func scale(ctx context.Context, c *cluster.Cluster, probe string, many, cycles int, window time.Duration) (scaleResult, error) {
	r := scaleResult{vips: many}
	start := time.Now()
	if err := createBulk(ctx, c, many); err != nil {
		return r, err
	}
	r.creating = time.Since(start)
	ips, err := waitAllHeld(ctx, c, "bulk-", many)
	if err != nil {
		return r, err
	}
	r.allHeld = time.Since(start)
	if err := waitQuiet(ctx, c, 3*time.Second); err != nil {
		return r, err
	}
	if r.rest, err = costAtRest(ctx, c, window); err != nil {
		return r, err
	}
	r.churn, r.churnHeld, err = churn(ctx, c, probe, ips[0], cycles)
	return r, err
}

// createBulk creates n Services of the 1 s Eip and their endpoints (one
// per node), as fast as the API server takes them.
func createBulk(ctx context.Context, c *cluster.Cluster, n int) error {
	return c.CreateServices(ctx, n, func(i int) *corev1.Service {
		return vipService(fmt.Sprintf("bulk-%d", i), slowEip, netip.Addr{})
	}, true)
}

// waitAllHeld waits until n Services named prefix* have an address each
// and every one of those addresses is MASTER on exactly one node, and
// returns the addresses, sorted.
func waitAllHeld(ctx context.Context, c *cluster.Cluster, prefix string, n int) ([]netip.Addr, error) {
	var ips []netip.Addr
	err := rig.Eventually(ctx, 5*time.Minute, 250*time.Millisecond, func(ctx context.Context) error {
		var list corev1.ServiceList
		if err := c.Client.List(ctx, &list, client.InNamespace("default")); err != nil {
			return err
		}
		ips = ips[:0]
		for _, s := range list.Items {
			if strings.HasPrefix(s.Name, prefix) && len(s.Status.LoadBalancer.Ingress) > 0 {
				if a, err := netip.ParseAddr(s.Status.LoadBalancer.Ingress[0].IP); err == nil {
					ips = append(ips, a)
				}
			}
		}
		if len(ips) < n {
			return fmt.Errorf("%d of %d services have an address", len(ips), n)
		}
		held := map[netip.Addr]int{}
		for _, node := range c.Nodes {
			st, err := node.VIPStates()
			if err != nil {
				return err
			}
			for a, s := range st {
				if s == keepalived.StateMaster {
					held[a]++
				}
			}
		}
		for _, a := range ips {
			if held[a] != 1 {
				return fmt.Errorf("%s is MASTER on %d nodes (and maybe others)", a, held[a])
			}
		}
		return nil
	})
	slices.SortFunc(ips, netip.Addr.Compare)
	return ips, err
}

// waitQuiet waits until no node's candidate config has changed for d: the
// speakers are done rendering.
func waitQuiet(ctx context.Context, c *cluster.Cluster, d time.Duration) error {
	return rig.Eventually(ctx, time.Minute, 250*time.Millisecond, func(context.Context) error {
		for _, n := range c.Nodes {
			fi, err := os.Stat(n.VIPDir().Candidate())
			if err != nil {
				return err
			}
			if age := time.Since(fi.ModTime()); age < d {
				return fmt.Errorf("%s's candidate config changed %v ago", n.Name, age.Round(time.Millisecond))
			}
		}
		return nil
	})
}

// costAtRest measures every node's speaker and keepalived side over
// window.
func costAtRest(ctx context.Context, c *cluster.Cluster, window time.Duration) (restCost, error) {
	type pids struct {
		speaker, supervisor int
		keepalived          []int
	}
	cpu := func(ps pids) (speaker, supervisor, keepalived time.Duration, err error) {
		if speaker, err = benchstat.CPUTime(ps.speaker); err != nil {
			return
		}
		if supervisor, err = benchstat.CPUTime(ps.supervisor); err != nil {
			return
		}
		for _, pid := range ps.keepalived {
			t, e := benchstat.CPUTime(pid)
			if e != nil {
				return 0, 0, 0, e
			}
			keepalived += t
		}
		return
	}
	var all []pids
	type sample struct{ speaker, supervisor, keepalived time.Duration }
	var before []sample
	for _, n := range c.Nodes {
		ps := pids{n.Speaker.PID(), n.Keepalived.PID(), n.KeepalivedPIDs()}
		if len(ps.keepalived) == 0 {
			return restCost{}, fmt.Errorf("no keepalived running on %s", n.Name)
		}
		s, sup, ka, err := cpu(ps)
		if err != nil {
			return restCost{}, err
		}
		all, before = append(all, ps), append(before, sample{s, sup, ka})
	}
	start := time.Now()
	sleep(ctx, window)
	if err := ctx.Err(); err != nil {
		return restCost{}, err
	}
	r := restCost{window: window}
	elapsed := time.Since(start)
	pctOf := func(d time.Duration) float64 { return 100 * d.Seconds() / elapsed.Seconds() }
	mib := func(pid int) (float64, error) {
		st, err := benchstat.ProcStatus(pid)
		return float64(st["VmRSS"]) / (1 << 20), err
	}
	for i, n := range c.Nodes {
		s, sup, ka, err := cpu(all[i])
		if err != nil {
			return r, fmt.Errorf("node %s: a process ended during the window: %w", n.Name, err)
		}
		nc := nodeCost{name: n.Name,
			speakerCPU:    pctOf(s - before[i].speaker),
			supervisorCPU: pctOf(sup - before[i].supervisor),
			keepalivedCPU: pctOf(sup - before[i].supervisor + ka - before[i].keepalived),
		}
		if nc.speakerRSS, err = mib(all[i].speaker); err != nil {
			return r, err
		}
		for _, pid := range append([]int{all[i].supervisor}, all[i].keepalived...) {
			m, err := mib(pid)
			if err != nil {
				return r, err
			}
			nc.keepalivedRSS += m
		}
		r.nodes = append(r.nodes, nc)
	}
	return r, nil
}

// churn adds and removes an unrelated Service of the same Eip cycles
// times (every node's keepalived reloads twice per cycle) while the client
// probes ip, and returns what the probes saw and each create -> MASTER.
func churn(ctx context.Context, c *cluster.Cluster, probe string, ip netip.Addr, cycles int) (quiet, []time.Duration, error) {
	var q quiet
	var held []time.Duration
	p, err := startProbe(ctx, c, probe, "probe-churn", ip)
	if err != nil {
		return q, nil, err
	}
	defer p.Stop(2 * time.Second)
	if err := probelog.Wait(ctx, p, vipWait, probelog.OKRun(time.Time{}, 20)); err != nil {
		return q, nil, err
	}
	start := time.Now()
	for k := range cycles {
		svc := vipService(fmt.Sprintf("churn-%d", k+1), slowEip, netip.Addr{})
		created := time.Now()
		if err := c.Client.Create(ctx, svc); err != nil {
			return q, nil, err
		}
		if err := c.PublishEndpoints(ctx, svc, c.Nodes...); err != nil {
			return q, nil, err
		}
		other, err := waitAddress(ctx, c, svc)
		if err != nil {
			return q, nil, err
		}
		_, seen, err := waitHolder(ctx, c.Nodes, other)
		if err != nil {
			return q, nil, err
		}
		held = append(held, seen.Sub(created))
		if err := c.Client.Delete(ctx, svc); err != nil {
			return q, nil, err
		}
		if err := waitGone(ctx, c, other); err != nil {
			return q, nil, err
		}
		q.events++
	}
	// The last reload's effect, if any, shows within a second.
	if err := probelog.Wait(ctx, p, vipWait, probelog.OKRun(time.Now(), 100)); err != nil {
		return q, nil, err
	}
	end := time.Now()
	probes, err := stopAndParse(p)
	if err != nil {
		return q, nil, err
	}
	q.failed, q.sent = probelog.Failed(probes, start, end)
	g, _ := probelog.Outage(probes, start, end)
	q.longest = g.D
	return q, held, nil
}

// waitAddress waits until svc has an address and returns it.
func waitAddress(ctx context.Context, c *cluster.Cluster, svc *corev1.Service) (netip.Addr, error) {
	return c.WaitAddress(ctx, svc, vipWait, 20*time.Millisecond)
}
