package vip

import (
	"context"
	"fmt"
	"net/netip"
	"strings"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/herald-lb/herald/api/v1alpha2"
	"github.com/herald-lb/herald/keepalived"
	"github.com/herald-lb/herald/test/bench/benchstat"
	"github.com/herald-lb/herald/test/bench/probelog"
	"github.com/herald-lb/herald/test/e2e/cluster"
)

// createResult is Service create -> first answer to the client, per
// advert interval, with the steps on the way.
type createResult struct {
	answer [numIntervals][]time.Duration
	steps  [numIntervals][]steps
}

// steps are the milestones of one create, from the create call: the
// address in the Service's status, its VRID in the Eip's status (the
// controller writes it there, at most once a second per Eip), the VIP in the holder's candidate
// config (the speaker rendered it), in its live config (the supervisor
// installed it and sent SIGHUP), MASTER in its state.json, the first probe
// that reached the holder (refused: kube-proxy has no rule for it yet, or
// answered) and the first answer.
type steps struct {
	allocated, vrid, candidate, live, master, reached, answered time.Duration
}

func (r createResult) String() string {
	var parts []string
	for i := range numIntervals {
		parts = append(parts, fmt.Sprintf("Service created -> first answer (%s): %s %s; steps (median) %s",
			i, benchstat.Pct(r.answer[i]), benchstat.MsList(r.answer[i]), medianSteps(r.steps[i])))
	}
	return strings.Join(parts, "; ")
}

// medianSteps formats the median of each milestone.
func medianSteps(ss []steps) string {
	med := func(of func(steps) time.Duration) time.Duration {
		var ds []time.Duration
		for _, s := range ss {
			ds = append(ds, of(s))
		}
		if len(ds) == 0 {
			return 0
		}
		return benchstat.Percentiles(ds)[0]
	}
	return fmt.Sprintf("address in Service status %v, VRID in Eip status %v, candidate written %v, live config %v, state.json MASTER %v, first probe reached the holder %v, first answer %v",
		med(func(s steps) time.Duration { return s.allocated }), med(func(s steps) time.Duration { return s.vrid }),
		med(func(s steps) time.Duration { return s.candidate }),
		med(func(s steps) time.Duration { return s.live }), med(func(s steps) time.Duration { return s.master }),
		med(func(s steps) time.Duration { return s.reached }), med(func(s steps) time.Duration { return s.answered }))
}

// createSamples creates n Services per advert interval one at a time,
// each while the client probes its address, and deletes each once it
// answered and before the next.
func createSamples(ctx context.Context, c *cluster.Cluster, probe string, addrs *picker, n int) (createResult, error) {
	var r createResult
	for k := range n {
		for i := range numIntervals {
			ip, err := addrs.next(i)
			if err != nil {
				return r, err
			}
			s, err := createToAnswer(ctx, c, probe, vipService(serviceName("new", ip), i.eip(), ip), ip)
			if err != nil {
				return r, fmt.Errorf("create %d (%s): %w", k+1, i, err)
			}
			r.answer[i] = append(r.answer[i], s.answered)
			r.steps[i] = append(r.steps[i], s)
		}
	}
	return r, nil
}

// createToAnswer creates svc, which asks for ip, and its endpoints (one
// per node) while the client probes http://ip/ every 10 ms, and returns
// the milestones from the create call to the first answer. A watcher
// polls the Service and every node's files meanwhile; it adds an API read
// every 20 ms, which the create competes with.
func createToAnswer(ctx context.Context, c *cluster.Cluster, probe string, svc *corev1.Service, ip netip.Addr) (steps, error) {
	p, err := startProbe(ctx, c, probe, "probe-"+svc.Name, ip)
	if err != nil {
		return steps{}, err
	}
	defer p.Stop(2 * time.Second)
	w := watchCreate(ctx, c, svc, ip)
	start := time.Now()
	err = c.Client.Create(ctx, svc)
	if err == nil {
		err = c.PublishEndpoints(ctx, svc, c.Nodes...)
	}
	if err == nil {
		err = probelog.Wait(ctx, p, vipWait, probelog.OKRun(start, 1))
	}
	s := w.stop()
	if err != nil {
		return steps{}, err
	}
	probes, err := stopAndParse(p)
	if err != nil {
		return steps{}, err
	}
	reached, _ := probelog.First(probes, start, func(p probelog.HTTP) bool { return p.OK || p.Refused() })
	answered, _ := probelog.First(probes, start, func(p probelog.HTTP) bool { return p.OK })
	for _, at := range []*time.Time{&s.allocatedAt, &s.vridAt, &s.candidateAt, &s.liveAt, &s.masterAt} {
		if at.IsZero() { // not seen before the answer: after it
			*at = answered.Done
		}
	}
	out := steps{
		allocated: s.allocatedAt.Sub(start), vrid: s.vridAt.Sub(start), candidate: s.candidateAt.Sub(start),
		live: s.liveAt.Sub(start), master: s.masterAt.Sub(start),
		reached: reached.Done.Sub(start), answered: answered.Done.Sub(start),
	}
	if err := c.Client.Delete(ctx, svc); err != nil {
		return out, err
	}
	return out, waitGone(ctx, c, ip)
}

// createWatch records when each milestone of a create was first seen.
type createWatch struct {
	cancel context.CancelFunc
	done   sync.WaitGroup
	seen
}

// seen holds when each milestone was first seen.
type seen struct {
	allocatedAt, vridAt, candidateAt, liveAt, masterAt time.Time
}

// watchCreate polls, until stop: the Service's and the Eip's status every
// 20 ms, and
// every node's candidate, live config and state.json every 10 ms. The
// holder is whichever node first reports MASTER; the config milestones
// are that node's.
func watchCreate(ctx context.Context, c *cluster.Cluster, svc *corev1.Service, ip netip.Addr) *createWatch {
	ctx, cancel := context.WithCancel(ctx)
	w := &createWatch{cancel: cancel}
	vip := ip.String() + "/"
	candidate := map[*cluster.Node]time.Time{}
	live := map[*cluster.Node]time.Time{}
	w.done.Add(2)
	go func() {
		defer w.done.Done()
		for ctx.Err() == nil && (w.allocatedAt.IsZero() || w.vridAt.IsZero()) {
			var cur corev1.Service
			if w.allocatedAt.IsZero() {
				if err := c.Client.Get(ctx, client.ObjectKeyFromObject(svc), &cur); err == nil && len(cur.Status.LoadBalancer.Ingress) > 0 {
					w.allocatedAt = time.Now()
				}
			}
			var eip v1alpha2.Eip
			if w.vridAt.IsZero() {
				if err := c.Client.Get(ctx, client.ObjectKey{Name: svc.Annotations[v1alpha2.AnnotationEip]}, &eip); err == nil {
					if _, ok := eip.Status.VRIDs[ip.String()]; ok {
						w.vridAt = time.Now()
					}
				}
			}
			sleep(ctx, 20*time.Millisecond)
		}
	}()
	go func() {
		defer w.done.Done()
		for ctx.Err() == nil {
			now := time.Now()
			for _, n := range c.Nodes {
				dir := n.VIPDir()
				if candidate[n].IsZero() && fileHas(dir.Candidate(), vip) {
					candidate[n] = now
				}
				if live[n].IsZero() && fileHas(dir.Live(), vip) {
					live[n] = now
				}
				if st, err := n.VIPStates(); err == nil && st[ip] == keepalived.StateMaster {
					// Files written between two polls count as seen now.
					w.masterAt, w.candidateAt, w.liveAt = now, orNow(candidate[n], now), orNow(live[n], now)
					return
				}
			}
			sleep(ctx, 10*time.Millisecond)
		}
	}()
	return w
}

func orNow(t, now time.Time) time.Time {
	if t.IsZero() {
		return now
	}
	return t
}

// stop ends the watch and returns what it saw.
func (w *createWatch) stop() seen {
	w.cancel()
	w.done.Wait()
	return w.seen
}

// sleep waits d or until ctx ends.
func sleep(ctx context.Context, d time.Duration) {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
	case <-t.C:
	}
}
