package layer2

import (
	"context"
	"fmt"
	"net/netip"
	"strings"
	"syscall"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/herald-lb/herald/api/v1alpha2"
	"github.com/herald-lb/herald/speaker/layer2"
	"github.com/herald-lb/herald/test/bench/benchstat"
	"github.com/herald-lb/herald/test/bench/probelog"
	"github.com/herald-lb/herald/test/e2e/cluster"
	"github.com/herald-lb/herald/test/e2e/rig"
)

// lanEip is the Layer2 Eip on the LAN the client shares with the nodes,
// lanFirst-lanLast.
const (
	lanEip   = "l2"
	lanFirst = "10.99.0.200"
	lanLast  = "10.99.0.239"
	lanPool  = lanFirst + "-" + lanLast
)

// failoverResult is what the client saw, per event, by kind: the outage
// when the owner went away, and the gap when it came back and took its
// address back (every event ends so).
type failoverResult struct {
	outage, rejoin [numKinds][]probelog.Gap
	// handOver is SIGTERM -> the speaker's exit, on planned events.
	handOver []time.Duration
	// pause is the prober's longest pause between two sends in any event.
	pause time.Duration
}

func (f failoverResult) String() string {
	var parts []string
	for k := range numKinds {
		parts = append(parts, fmt.Sprintf("%s: outage %s %s, owner back %s", k,
			benchstat.Pct(probelog.Durations(f.outage[k])), probelog.GapList(f.outage[k]), probelog.GapList(f.rejoin[k])))
	}
	return fmt.Sprintf("client (HTTP every 10 ms; ms/failed probes) on %s; planned SIGTERM -> exit %s %s; prober's longest pause %v",
		strings.Join(parts, "; "), benchstat.Pct(f.handOver), benchstat.MsList(f.handOver), f.pause.Round(time.Millisecond))
}

// allRejoins are the owner-back gaps of every kind.
func (f failoverResult) allRejoins() []time.Duration {
	var out []time.Duration
	for _, gs := range f.rejoin {
		out = append(out, probelog.Durations(gs)...)
	}
	return out
}

// eventKind is how the owner goes away.
type eventKind int

const (
	// nodeLost: the owner node is lost, its speaker SIGKILLed and its
	// switch port cut at once.
	nodeLost eventKind = iota
	// planned: the owner's speaker is stopped with SIGTERM, and the node
	// leaves the network the moment the speaker has exited.
	planned
	// speakerKilled: only the owner's speaker is SIGKILLed; the node and
	// its kube-proxy stay.
	speakerKilled
	numKinds
)

func (k eventKind) String() string {
	return [...]string{"node lost", "planned hand-over", "speaker SIGKILL only"}[k]
}

// failovers runs perKind events of each kind on one testbed with the data
// path (kube-proxy and backends): one testbed rather than one per event,
// because bringing one up costs about as much as five events and every
// event puts the node back as it found it (port up, a new speaker ready,
// the address owned by it again, the client answered through it) before
// the next. Kinds alternate, and the owner taken away rotates over the
// nodes so that each kind hits each node.
//
// Each node owns one Service (an address the rendezvous hash gives it
// with all nodes live) whose endpoints are on the other two nodes only:
// the node that goes away takes its backend with it, and a client probe
// that kube-proxy sent there would fail after the failover for reasons
// that are not Layer2's.
//
// Why a node is lost rather than only its speaker killed: the
// load-balancer address is assigned nowhere, and every node's kube-proxy
// DNATs it to the backends. A client that still resolves the address to
// the old owner's MAC is therefore served by that node as long as the node
// is up, speaker or not, and a speaker crash alone is invisible to clients
// (speakerKilled measures exactly that). It is the node's loss (power,
// NIC, kernel) that clients notice. For the same reason a planned stop is
// followed by the node leaving the network, as a drained node being shut
// down is: the outage then shows whether clients had moved before the old
// owner went silent.
//
// The owner's return: its port comes back, then a new speaker, which takes
// the address back about 0.4 s later. Now and then (about one return in
// ten after a port cut) the client then sees a gap of up to 0.6 s with
// failed probes: the returning node's neighbour entry for a backend node
// went INCOMPLETE while its port was down (something it sent then), and
// Linux retries that ARP request only after retrans_time (1 s here), not
// when the carrier returns, so packets DNATed to that backend wait. A
// rebooted node starts with an empty cache; one whose link flapped does
// not, in a real cluster as here.
func failovers(b *testing.B, bins cluster.Binaries, perKind int) failoverResult {
	b.Helper()
	c := cluster.Setup(b, cluster.Options{Binaries: bins, Logf: func(string, ...any) {}})
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Minute)
	defer cancel()
	if err := c.Client.Create(ctx, &v1alpha2.Eip{
		ObjectMeta: metav1.ObjectMeta{Name: lanEip},
		Spec:       v1alpha2.EipSpec{Address: lanPool, Protocol: v1alpha2.ProtocolLayer2, Interface: rig.LANLink},
	}); err != nil {
		b.Fatal(err)
	}
	owned, err := addressPerNode(c)
	if err != nil {
		b.Fatal(err)
	}
	for _, n := range c.Nodes {
		svc := layer2Service("fo-"+n.Name, lanEip, owned[n.Name])
		if err := c.Client.Create(ctx, svc); err != nil {
			b.Fatal(err)
		}
		if err := c.PublishEndpoints(ctx, svc, others(c, n)...); err != nil {
			b.Fatal(err)
		}
		if _, _, err := waitOwner(ctx, c, svc, n); err != nil {
			b.Fatal(err)
		}
		if err := waitCurl(ctx, c, owned[n.Name]); err != nil {
			b.Fatal(err)
		}
	}

	var r failoverResult
	for i := range int(numKinds) * perKind {
		kind := eventKind(i % int(numKinds))
		// Round k shifts the victims by k, so each kind meets each node.
		victim := c.Nodes[(i+i/int(numKinds))%len(c.Nodes)]
		e, err := failover(ctx, c, bins.Probe, i, kind, victim, owned[victim.Name])
		if err != nil {
			b.Fatalf("event %d (%s, %s): %v", i+1, kind, victim.Name, err)
		}
		r.outage[kind] = append(r.outage[kind], e.outage)
		r.rejoin[kind] = append(r.rejoin[kind], e.rejoin)
		if kind == planned {
			r.handOver = append(r.handOver, e.handOver)
		}
		r.pause = max(r.pause, e.pause)
	}
	return r
}

// addressPerNode picks, for every node, the first address of lanPool that
// the rendezvous hash gives it while every node is live.
func addressPerNode(c *cluster.Cluster) (map[string]netip.Addr, error) {
	members := layer2.Members{Live: map[string][]string{}}
	for _, n := range c.Nodes {
		members.Live[n.Name] = nil
	}
	var claims []layer2.AddressClaim
	for a := netip.MustParseAddr(lanFirst); a.Compare(netip.MustParseAddr(lanLast)) <= 0; a = a.Next() {
		claims = append(claims, layer2.AddressClaim{IP: a, Eip: lanEip})
	}
	owners := layer2.AssignOwners(claims, members)
	out := map[string]netip.Addr{}
	for _, cl := range claims {
		if n := owners[cl.IP]; !out[n].IsValid() {
			out[n] = cl.IP
		}
	}
	for _, n := range c.Nodes {
		if !out[n.Name].IsValid() {
			return nil, fmt.Errorf("no address of %s hashes to %s", lanPool, n.Name)
		}
	}
	return out, nil
}

func others(c *cluster.Cluster, not *cluster.Node) []*cluster.Node {
	var out []*cluster.Node
	for _, n := range c.Nodes {
		if n != not {
			out = append(out, n)
		}
	}
	return out
}

// waitCurl waits until the client's curl of ip is answered.
func waitCurl(ctx context.Context, c *cluster.Cluster, ip netip.Addr) error {
	url := "http://" + netip.AddrPortFrom(ip, 80).String() + "/"
	return rig.Eventually(ctx, 30*time.Second, 50*time.Millisecond, func(ctx context.Context) error {
		_, err := c.Curl(ctx, url)
		return err
	})
}

// event is what one failover measured.
type event struct {
	outage, rejoin  probelog.Gap
	handOver, pause time.Duration
}

// failover takes victim, the owner of ip, away (kind) while the client
// probes http://ip/ every 10 ms, waits until another node owns ip and the
// client is answered again, then brings victim back and waits until it
// owns ip again and the client is answered again.
func failover(ctx context.Context, c *cluster.Cluster, probe string, i int, kind eventKind, victim *cluster.Node, ip netip.Addr) (event, error) {
	svc := layer2Service("fo-"+victim.Name, lanEip, ip)
	p, err := c.Start(c.Rig.Client.NS, fmt.Sprintf("probe-http-%d", i+1), []string{
		probe, "-http", "http://" + netip.AddrPortFrom(ip, 80).String() + "/",
		"-interval", "10ms", "-timeout", "200ms", "-for", "2m",
	})
	if err != nil {
		return event{}, err
	}
	defer p.Stop(2 * time.Second)
	// A steady state to measure from: 20 answers in a row.
	if err := probelog.Wait(ctx, p, 10*time.Second, probelog.OKRun(time.Time{}, 20)); err != nil {
		return event{}, err
	}

	var e event
	start := time.Now()
	switch kind {
	case speakerKilled:
		if err := victim.Speaker.Kill(); err != nil {
			return e, err
		}
	case nodeLost:
		// SIGKILL first: a speaker that saw its carrier go would give its
		// addresses up by itself, which is the link-down path, not this.
		if err := victim.Speaker.Signal(syscall.SIGKILL); err != nil {
			return e, err
		}
		if err := c.CarrierDown(victim.Name); err != nil {
			return e, err
		}
		if err := victim.Speaker.Kill(); err != nil {
			return e, err
		}
	case planned:
		if err := victim.Speaker.Signal(syscall.SIGTERM); err != nil {
			return e, err
		}
		wctx, cancel := context.WithTimeout(ctx, 20*time.Second)
		err := victim.Speaker.Wait(wctx)
		cancel()
		if err != nil {
			return e, fmt.Errorf("speaker after SIGTERM: %w", err)
		}
		e.handOver = time.Since(start)
		if err := c.CarrierDown(victim.Name); err != nil {
			return e, err
		}
	}
	_, seen, err := waitOwner(ctx, c, svc, others(c, victim)...)
	if err != nil {
		return e, err
	}
	if err := probelog.Wait(ctx, p, 30*time.Second, probelog.OKRun(seen, 20)); err != nil {
		return e, err
	}

	back := time.Now()
	if kind != speakerKilled {
		if err := c.CarrierUp(victim.Name); err != nil {
			return e, err
		}
	}
	if err := victim.StartSpeaker(); err != nil {
		return e, err
	}
	if err := victim.WaitSpeakerReady(ctx); err != nil {
		return e, err
	}
	if _, seen, err := waitOwner(ctx, c, svc, victim); err != nil {
		return e, err
	} else if err := probelog.Wait(ctx, p, 30*time.Second, probelog.OKRun(seen, 20)); err != nil {
		return e, err
	}
	end := time.Now()

	log, err := probelog.Stop(p)
	if err != nil {
		return e, err
	}
	probes, err := probelog.ParseHTTP(log)
	if err != nil {
		return e, err
	}
	var ok bool
	if e.outage, ok = probelog.Outage(probes, start, back); !ok {
		return e, fmt.Errorf("no successful probe on both sides of the failover")
	}
	if e.rejoin, ok = probelog.Outage(probes, back, end); !ok {
		return e, fmt.Errorf("no successful probe on both sides of the owner's return")
	}
	e.pause = probelog.SendPause(probes)
	return e, nil
}
