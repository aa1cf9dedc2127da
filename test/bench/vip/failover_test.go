package vip

import (
	"context"
	"fmt"
	"net/netip"
	"strings"
	"syscall"
	"time"

	"github.com/herald-lb/herald/test/bench/benchstat"
	"github.com/herald-lb/herald/test/bench/probelog"
	"github.com/herald-lb/herald/test/e2e/cluster"
	"github.com/herald-lb/herald/test/e2e/rig"
)

// failoverResult is what the client saw, per event.
type failoverResult struct {
	// lost is the outage when the holder node was lost, back the gap when
	// it returned and took its VIP back, per advert interval.
	lost, back [numIntervals][]probelog.Gap
	// neigh is the returning node's neighbour table as its port came up,
	// for the returns in which probes failed.
	neigh []string
	// lostVRRP is the port cut -> another node MASTER in its state.json.
	lostVRRP [numIntervals][]time.Duration
	// speaker is what the client saw while the holder's speaker was
	// SIGKILLed [killed] or stopped with SIGTERM [restarted] and started
	// again, until the new one was ready.
	speaker [2]quiet
	// kaAway is the gap when the holder's herald-keepalived was stopped
	// with SIGTERM (keepalived hands over with priority-0 adverts), kaBack
	// the gap when the restarted one took the VIP back; kaStop is SIGTERM
	// -> herald-keepalived's exit.
	kaAway, kaBack []probelog.Gap
	kaStop         []time.Duration
	// kaVRRP is SIGTERM -> another node MASTER in its state.json: the
	// hand-over as VRRP sees it.
	kaVRRP []time.Duration
	// pause is the prober's longest pause between two sends in any event.
	pause time.Duration
}

// quiet is a window in which no probe may fail.
type quiet struct {
	events, failed, sent int
	// longest is the longest gap between two successes in any window.
	longest time.Duration
	// moved counts the events after which another node held the VIP.
	moved int
	// ready is signal -> the new speaker's /readyz, per event.
	ready []time.Duration
}

func (q quiet) String() string {
	return fmt.Sprintf("%d of %d probes failed over %d events, longest gap %v, VIP moved %d times, speaker ready after %s",
		q.failed, q.sent, q.events, q.longest.Round(time.Millisecond), q.moved, benchstat.MsList(q.ready))
}

// speaker kinds.
const (
	killed = iota
	restarted
)

func (f failoverResult) String() string {
	var parts []string
	for i := range numIntervals {
		parts = append(parts, fmt.Sprintf("holder node lost (%s): outage %s %s (port cut -> new MASTER %s), owner back %s", i,
			benchstat.Pct(probelog.Durations(f.lost[i])), probelog.GapList(f.lost[i]), benchstat.MsList(f.lostVRRP[i]), probelog.GapList(f.back[i])))
	}
	parts = append(parts,
		"holder's speaker SIGKILLed and started: "+f.speaker[killed].String(),
		"holder's speaker SIGTERMed and started: "+f.speaker[restarted].String(),
		fmt.Sprintf("holder's herald-keepalived SIGTERMed (exit after %s, another node MASTER after %s): hand-over %s %s, taken back %s",
			benchstat.MsList(f.kaStop), benchstat.MsList(f.kaVRRP), benchstat.Pct(probelog.Durations(f.kaAway)), probelog.GapList(f.kaAway), probelog.GapList(f.kaBack)))
	return "client (HTTP every 10 ms; ms/failed probes): " + strings.Join(parts, "; ") +
		fmt.Sprintf("; prober's longest pause %v; neighbours of returning nodes whose return failed probes: %v", f.pause.Round(time.Millisecond), f.neigh)
}

// failovers runs every failover kind on one testbed. Each node is first
// in the ranking of one Service per advert interval, so it holds that VIP
// whenever it is up, and the node taken away rotates. The Service's
// endpoints are on the other two nodes only: the node that goes away takes
// its backend with it, and a probe that kube-proxy sent there would fail
// for reasons that are not VIP mode's. Every event ends with the node back
// as it was (port up, its processes running and ready, the VIP held by it
// and the client answered through it).
func failovers(ctx context.Context, c *cluster.Cluster, probe string, owned ownedVIPs) (failoverResult, error) {
	for i := range numIntervals {
		for _, n := range c.Nodes {
			ip := owned[i][n]
			svc := vipService(serviceName("fo", ip), i.eip(), ip)
			if err := c.Client.Create(ctx, svc); err != nil {
				return failoverResult{}, err
			}
			if err := c.PublishEndpoints(ctx, svc, others(c, n)...); err != nil {
				return failoverResult{}, err
			}
		}
	}
	for i := range numIntervals {
		for n, ip := range owned[i] {
			if _, _, err := waitHolder(ctx, c.Nodes, ip, n); err != nil {
				return failoverResult{}, err
			}
		}
	}

	var r failoverResult
	for k := range nodeLostEvents {
		for i := range numIntervals {
			victim := c.Nodes[k%len(c.Nodes)]
			e, err := nodeLost(ctx, c, probe, fmt.Sprintf("lost-%d-%d", i, k+1), victim, owned[i][victim])
			if err != nil {
				return r, fmt.Errorf("node lost %d (%s, %s): %w", k+1, i, victim.Name, err)
			}
			r.lost[i], r.back[i] = append(r.lost[i], e.lost), append(r.back[i], e.back)
			r.lostVRRP[i] = append(r.lostVRRP[i], e.vrrp)
			if e.back.Failed > 0 {
				r.neigh = append(r.neigh, fmt.Sprintf("%s (%s, %d failed): %s", victim.Name, i, e.back.Failed, e.neigh))
			}
			r.pause = max(r.pause, e.pause)
		}
	}
	for k := range speakerEvents {
		for kind := range 2 {
			victim := c.Nodes[k%len(c.Nodes)]
			if err := speakerEvent(ctx, c, probe, kind, k, victim, owned[slow][victim], &r.speaker[kind]); err != nil {
				return r, fmt.Errorf("speaker event %d (%s): %w", k+1, victim.Name, err)
			}
		}
	}
	for k := range keepalivedEvent {
		victim := c.Nodes[k%len(c.Nodes)]
		if err := keepalivedRestart(ctx, c, probe, k, victim, owned[slow][victim], &r); err != nil {
			return r, fmt.Errorf("keepalived restart %d (%s): %w", k+1, victim.Name, err)
		}
	}
	return r, nil
}

// ownedVIPs are, per advert interval, the address each node is first in
// the ranking of.
type ownedVIPs [numIntervals]map[*cluster.Node]netip.Addr

// pickOwned reserves ownedVIPs before anything else takes addresses: few
// of a small pool rank a given node first.
func pickOwned(c *cluster.Cluster, addrs *picker) (ownedVIPs, error) {
	var owned ownedVIPs
	for i := range numIntervals {
		owned[i] = map[*cluster.Node]netip.Addr{}
		for _, n := range c.Nodes {
			ip, err := addrs.firstRanked(i, n.Name)
			if err != nil {
				return owned, err
			}
			owned[i][n] = ip
		}
	}
	return owned, nil
}

// nodeLost takes victim, the holder of ip, off the network as a lost node
// is: its switch port cut first (keepalived sees the carrier go and drops
// the VIP; nothing it sends gets out), then its herald-keepalived (and
// with it keepalived) and its speaker SIGKILLed. It waits until another
// node holds ip and the client is answered again, then brings the node
// back (port, herald-keepalived, speaker, as a rebooted node's pods
// start) and waits until it holds ip again and the client is answered.
// lossEvent is what one node loss measured: the client's outage, the gap
// when the node came back, port cut -> new MASTER, and the prober's
// longest pause.
type lossEvent struct {
	lost, back  probelog.Gap
	vrrp, pause time.Duration
	neigh       string
}

func nodeLost(ctx context.Context, c *cluster.Cluster, probe, name string, victim *cluster.Node, ip netip.Addr) (lossEvent, error) {
	var e lossEvent
	p, err := startProbe(ctx, c, probe, "probe-"+name, ip)
	if err != nil {
		return e, err
	}
	defer p.Stop(2 * time.Second)
	if err := probelog.Wait(ctx, p, vipWait, probelog.OKRun(time.Time{}, 20)); err != nil {
		return e, err
	}
	start := time.Now()
	if err := c.CarrierDown(victim.Name); err != nil {
		return e, err
	}
	if err := victim.Keepalived.Kill(); err != nil {
		return e, err
	}
	if err := victim.Speaker.Kill(); err != nil {
		return e, err
	}
	seen, err := served(ctx, p, others(c, victim), ip)
	if err != nil {
		return e, err
	}
	e.vrrp = seen.Sub(start)

	returned := time.Now()
	if err := c.CarrierUp(victim.Name); err != nil {
		return e, err
	}
	// What a slow return may come from: neighbour entries of the backend
	// nodes left INCOMPLETE or FAILED by the cut.
	neigh, _ := c.ExecContext(ctx, victim.NS, "ip", "-4", "neigh", "show", "dev", rig.LANLink)
	e.neigh = strings.Join(strings.Fields(neigh), " ")
	if err := victim.StartKeepalived(); err != nil {
		return e, err
	}
	if err := victim.StartSpeaker(); err != nil {
		return e, err
	}
	if _, err := served(ctx, p, c.Nodes, ip, victim); err != nil {
		return e, err
	}
	if err := victim.WaitKeepalivedReady(ctx); err != nil {
		return e, err
	}
	if err := victim.WaitSpeakerReady(ctx); err != nil {
		return e, err
	}
	end := time.Now()

	probes, err := stopAndParse(p)
	if err != nil {
		return e, err
	}
	var ok bool
	if e.lost, ok = probelog.Outage(probes, start, returned); !ok {
		return e, fmt.Errorf("no successful probe on both sides of the failover")
	}
	if e.back, ok = probelog.Outage(probes, returned, end); !ok {
		return e, fmt.Errorf("no successful probe on both sides of the owner's return")
	}
	e.pause = probelog.SendPause(probes)
	return e, nil
}

// served waits until waitHolder(among, ip, want...) holds and the client
// has had 20 answers in a row since.
// It returns when it saw the holder.
func served(ctx context.Context, p *rig.Proc, among []*cluster.Node, ip netip.Addr, want ...*cluster.Node) (time.Time, error) {
	_, seen, err := waitHolder(ctx, among, ip, want...)
	if err != nil {
		return seen, err
	}
	return seen, probelog.Wait(ctx, p, vipWait, probelog.OKRun(seen, 20))
}

// speakerEvent SIGKILLs (killed) or SIGTERMs (restarted) victim's speaker,
// the holder of ip, starts a new one and waits until it is ready and has
// had time to render once more, while the client probes ip: keepalived
// runs beside the speaker, so no probe may fail and the VIP must not move.
func speakerEvent(ctx context.Context, c *cluster.Cluster, probe string, kind, k int, victim *cluster.Node, ip netip.Addr, q *quiet) error {
	p, err := startProbe(ctx, c, probe, fmt.Sprintf("probe-speaker-%d-%d", kind, k+1), ip)
	if err != nil {
		return err
	}
	defer p.Stop(2 * time.Second)
	if err := probelog.Wait(ctx, p, vipWait, probelog.OKRun(time.Time{}, 20)); err != nil {
		return err
	}
	start := time.Now()
	if kind == killed {
		err = victim.Speaker.Kill()
	} else {
		err = victim.Speaker.Stop(15 * time.Second)
	}
	if err != nil {
		return err
	}
	if err := victim.StartSpeaker(); err != nil {
		return err
	}
	if err := victim.WaitSpeakerReady(ctx); err != nil {
		return err
	}
	ready := time.Now()
	// A second of probes after the new speaker's first render.
	if err := probelog.Wait(ctx, p, vipWait, probelog.OKRun(ready, 100)); err != nil {
		return err
	}
	end := time.Now()
	probes, err := stopAndParse(p)
	if err != nil {
		return err
	}
	failed, sent := probelog.Failed(probes, start, end)
	g, _ := probelog.Outage(probes, start, end)
	q.events++
	q.failed += failed
	q.sent += sent
	q.longest = max(q.longest, g.D)
	q.ready = append(q.ready, ready.Sub(start))
	if ms := masters(c.Nodes, ip); len(ms) != 1 || ms[0] != victim {
		q.moved++
	}
	return nil
}

// keepalivedRestart stops victim's herald-keepalived with SIGTERM, as a
// planned replacement of its pod does (keepalived sends priority-0
// adverts, a backup takes over at once), waits until another node holds
// ip and the client is answered, then starts it again and waits until
// victim holds ip again (it is first in the ranking) and the client is
// answered.
func keepalivedRestart(ctx context.Context, c *cluster.Cluster, probe string, k int, victim *cluster.Node, ip netip.Addr, r *failoverResult) error {
	p, err := startProbe(ctx, c, probe, fmt.Sprintf("probe-keepalived-%d", k+1), ip)
	if err != nil {
		return err
	}
	defer p.Stop(2 * time.Second)
	if err := probelog.Wait(ctx, p, vipWait, probelog.OKRun(time.Time{}, 20)); err != nil {
		return err
	}
	start := time.Now()
	ka := victim.Keepalived
	if err := ka.Signal(syscall.SIGTERM); err != nil {
		return err
	}
	exited := make(chan time.Time, 1)
	go func() { <-ka.Done(); exited <- time.Now() }() // ends when ka is reaped
	seen, err := served(ctx, p, others(c, victim), ip)
	if err != nil {
		return err
	}
	r.kaVRRP = append(r.kaVRRP, seen.Sub(start))
	select {
	case at := <-exited:
		r.kaStop = append(r.kaStop, at.Sub(start))
	case <-time.After(15 * time.Second):
		_ = ka.Kill()
		return fmt.Errorf("herald-keepalived still running 15 s after SIGTERM")
	}
	if err := ka.Err(); err != nil {
		return fmt.Errorf("herald-keepalived after SIGTERM: %w", err)
	}
	returned := time.Now()
	if err := victim.StartKeepalived(); err != nil {
		return err
	}
	if _, err := served(ctx, p, c.Nodes, ip, victim); err != nil {
		return err
	}
	if err := victim.WaitKeepalivedReady(ctx); err != nil {
		return err
	}
	end := time.Now()
	probes, err := stopAndParse(p)
	if err != nil {
		return err
	}
	away, ok := probelog.Outage(probes, start, returned)
	if !ok {
		return fmt.Errorf("no successful probe on both sides of the hand-over")
	}
	back, ok := probelog.Outage(probes, returned, end)
	if !ok {
		return fmt.Errorf("no successful probe on both sides of the take-back")
	}
	r.kaAway, r.kaBack = append(r.kaAway, away), append(r.kaBack, back)
	r.pause = max(r.pause, probelog.SendPause(probes))
	return nil
}
