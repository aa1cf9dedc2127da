package e2e

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	eventsv1 "k8s.io/api/events/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/herald-lb/herald/api/v1alpha2"
	"github.com/herald-lb/herald/keepalived"
	"github.com/herald-lb/herald/speaker"
	"github.com/herald-lb/herald/test/e2e/cluster"
	"github.com/herald-lb/herald/test/e2e/rig"
)

// VIP pools on the LAN the client shares with the nodes.
const (
	vipEip4 = "vip-v4"
	vipEip6 = "vip-v6"
	// vipWait bounds a VRRP transition at the default advert interval of
	// 1 s: a new instance starts BACKUP and becomes MASTER after the
	// master-down interval (~3.4 s), a failover takes as long, plus the
	// speaker's render and the supervisor's poll, with room for a loaded
	// two-core machine.
	vipWait = 30 * time.Second
	// noOutageWindow is how long the probes of the no-outage steps watch.
	noOutageWindow = 5 * time.Second
)

// TestVIP is issue 10's end-to-end scenario list on one testbed: per node,
// herald-keepalived running the real keepalived (the supervisor
// DaemonSet's entrypoint) beside herald-speaker, sharing a directory; the
// client curls the Services' addresses across the LAN. Each step leaves
// the testbed as it found it, except the last, which uninstalls.
func TestVIP(t *testing.T) {
	rig.SkipUnlessAvailable(t)
	bctx, bcancel := context.WithTimeout(context.Background(), 15*time.Minute)
	bins, err := cluster.BuildOnce(bctx)
	bcancel()
	if err != nil {
		t.Fatal(err)
	}
	c := cluster.Setup(t, cluster.Options{Binaries: bins, VIP: true})
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Minute)
	defer cancel()
	for _, e := range []*v1alpha2.Eip{
		{ObjectMeta: metav1.ObjectMeta{Name: vipEip4}, Spec: v1alpha2.EipSpec{Address: "10.99.0.230-10.99.0.240", Protocol: v1alpha2.ProtocolVIP, Interface: rig.LANLink}},
		{ObjectMeta: metav1.ObjectMeta{Name: vipEip6}, Spec: v1alpha2.EipSpec{Address: "fd99::230-fd99::240", Protocol: v1alpha2.ProtocolVIP, Interface: rig.LANLink}},
	} {
		if err := c.Client.Create(ctx, e); err != nil {
			t.Fatal(err)
		}
	}
	runSteps(ctx, t, c, []step{
		{"HolderAnswers", testVIPHolderAnswers},
		{"HolderPortCutFailover", testVIPPortCut},
		{"SpeakerSIGKILLNoOutage", func(ctx context.Context, t *testing.T, c *cluster.Cluster) { testVIPSpeakerKilled(ctx, t, c, bins) }},
		{"UnrelatedServiceNoOutage", func(ctx context.Context, t *testing.T, c *cluster.Cluster) { testVIPUnrelated(ctx, t, c, bins) }},
		{"ExternalTrafficPolicyLocal", testVIPLocal},
		{"IPv6", testVIPIPv6},
		{"RefusedConfigNeverLive", func(ctx context.Context, t *testing.T, c *cluster.Cluster) { testVIPRefused(ctx, t, c, bins) }},
		{"RefusalReported", testVIPRefusalReported},
		{"Unicast", func(ctx context.Context, t *testing.T, c *cluster.Cluster) { testVIPUnicast(ctx, t, c, bins) }},
		{"NodeSelectorPicksHolder", testVIPNodeSelector},
		{"UninstallLeavesNoVIP", testVIPUninstall},
	})
}

// speakerKnows reports whether herald-speaker lists flag in its --help.
func speakerKnows(t *testing.T, bins cluster.Binaries, flag string) bool {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	out, _ := exec.CommandContext(ctx, bins.Speaker, "--help").CombinedOutput() // exit status 0 or 2 by flag package
	if !bytes.Contains(out, []byte("-node-name")) {
		t.Fatalf("herald-speaker --help printed no usage:\n%s", out)
	}
	return bytes.Contains(out, []byte("-"+flag+" ")) || bytes.Contains(out, []byte("-"+flag+"\n")) || bytes.Contains(out, []byte("-"+flag+"="))
}

// vipHolders returns the nodes that have a on an interface.
func vipHolders(ctx context.Context, c *cluster.Cluster, a netip.Addr) ([]*cluster.Node, error) {
	var holders []*cluster.Node
	for _, n := range c.Nodes {
		has, err := n.HasVIP(ctx, a)
		if err != nil {
			return nil, err
		}
		if has {
			holders = append(holders, n)
		}
	}
	return holders, nil
}

// waitVIPHolder waits until exactly one node holds a (on its interface,
// MASTER in its state.json), one of nodes when given, and returns it.
func waitVIPHolder(ctx context.Context, t *testing.T, c *cluster.Cluster, a netip.Addr, nodes ...*cluster.Node) *cluster.Node {
	t.Helper()
	var holder *cluster.Node
	err := rig.Eventually(ctx, vipWait, 100*time.Millisecond, func(ctx context.Context) error {
		holders, err := vipHolders(ctx, c, a)
		if err != nil {
			return err
		}
		if len(holders) != 1 {
			return fmt.Errorf("%s is on %v, want exactly one node", a, nodeNames(holders))
		}
		holder = holders[0]
		if len(nodes) > 0 && !slices.Contains(nodes, holder) {
			return fmt.Errorf("%s held by %s, want one of %v", a, holder.Name, nodeNames(nodes))
		}
		st, err := holder.VIPStates()
		if err != nil {
			return err
		}
		if st[a] != keepalived.StateMaster {
			return fmt.Errorf("%s is on %s, whose state.json says %q", a, holder.Name, st[a])
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return holder
}

// waitVIPNowhere waits until no node has a on an interface.
func waitVIPNowhere(ctx context.Context, t *testing.T, c *cluster.Cluster, a netip.Addr) {
	t.Helper()
	err := rig.Eventually(ctx, vipWait, 100*time.Millisecond, func(ctx context.Context) error {
		holders, err := vipHolders(ctx, c, a)
		if err != nil {
			return err
		}
		if len(holders) > 0 {
			return fmt.Errorf("%s still on %v", a, nodeNames(holders))
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

// testVIPHolderAnswers: a Service of a vip Eip gets an address, exactly one
// node holds it (MASTER; the other participants BACKUP), curl from the
// client answers; deleting the Service removes the address everywhere.
func testVIPHolderAnswers(ctx context.Context, t *testing.T, c *cluster.Cluster) {
	start := time.Now()
	svc, ip := lbService(ctx, t, c, "vip-web", vipEip4, nil)
	holder := waitVIPHolder(ctx, t, c, ip)
	waitCurl(ctx, t, c, ip)
	t.Logf("TIMING service created -> %s answered, held by %s: %v", ip, holder.Name, time.Since(start).Round(time.Millisecond))
	waitHolderReported(ctx, t, c, svc, holder)
	waitEipReady(ctx, t, c, vipEip4)
	for _, n := range c.Nodes {
		if n == holder {
			continue
		}
		st, err := n.VIPStates()
		if err != nil {
			t.Fatal(err)
		}
		if s, ok := st[ip]; ok && s != keepalived.StateBackup {
			t.Errorf("%s's state for %s is %s, want BACKUP (or no instance)", n.Name, ip, s)
		}
	}
	t.Logf("10 curls of %s answered by %v", ip, curlNames(ctx, t, c, ip, 10))
	deleteService(ctx, t, c, svc)
	waitVIPNowhere(ctx, t, c, ip)
}

// testVIPPortCut: the holder's node loses its LAN port (carrier) → its
// keepalived faults and drops the address, another node takes it over,
// curl answers again; the port back, exactly one node holds it again.
func testVIPPortCut(ctx context.Context, t *testing.T, c *cluster.Cluster) {
	svc, ip := lbService(ctx, t, c, "vip-failover", vipEip4, nil)
	holder := waitVIPHolder(ctx, t, c, ip)
	waitCurl(ctx, t, c, ip)
	cut := time.Now()
	if err := c.CarrierDown(holder.Name); err != nil {
		t.Fatal(err)
	}
	restored := false
	defer func() {
		if !restored {
			_ = c.CarrierUp(holder.Name)
		}
	}()
	var others []*cluster.Node
	for _, n := range c.Nodes {
		if n != holder {
			others = append(others, n)
		}
	}
	// The cut node may keep the address on its dead port for a moment;
	// what counts is that another node holds it and the client is served.
	url := "http://" + netip.AddrPortFrom(ip, 80).String() + "/"
	err := rig.Eventually(ctx, vipWait, 50*time.Millisecond, func(ctx context.Context) error {
		holders, err := vipHolders(ctx, c, ip)
		if err != nil {
			return err
		}
		if !slices.ContainsFunc(holders, func(n *cluster.Node) bool { return n != holder }) {
			return fmt.Errorf("%s is on %v: no other node took it yet", ip, nodeNames(holders))
		}
		_, err = c.Curl(ctx, url)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("TIMING port of holder %s cut -> %s answered via another node: %v", holder.Name, ip, time.Since(cut).Round(time.Millisecond))
	next := waitVIPHolder(ctx, t, c, ip, others...)
	t.Logf("%s now held by %s", ip, next.Name)
	waitHolderReported(ctx, t, c, svc, next)
	if err := c.CarrierUp(holder.Name); err != nil {
		t.Fatal(err)
	}
	restored = true
	waitVIPHolder(ctx, t, c, ip)
	waitCurl(ctx, t, c, ip)
	deleteService(ctx, t, c, svc)
	waitVIPNowhere(ctx, t, c, ip)
}

// testVIPSpeakerKilled: the holder's speaker is SIGKILLed and restarted:
// keepalived runs in its own process, so a probe every 10 ms sees no
// failure and the holder does not change.
func testVIPSpeakerKilled(ctx context.Context, t *testing.T, c *cluster.Cluster, bins cluster.Binaries) {
	svc, ip := lbService(ctx, t, c, "vip-speaker-kill", vipEip4, nil)
	holder := waitVIPHolder(ctx, t, c, ip)
	waitCurl(ctx, t, c, ip)

	from := holder.Keepalived.LogSize()
	p := startProbe(ctx, t, c, bins, "probe-speaker-kill", ip, noOutageWindow)
	if err := holder.Speaker.Kill(); err != nil {
		t.Fatal(err)
	}
	waitProbe(ctx, t, p)
	assertNoFailedProbes(t, p, "the holder's speaker killed")

	p = startProbe(ctx, t, c, bins, "probe-speaker-restart", ip, 2*time.Minute)
	if err := holder.StartSpeaker(); err != nil {
		t.Fatal(err)
	}
	if err := holder.WaitSpeakerReady(ctx); err != nil {
		t.Fatal(err)
	}
	stopProbe(ctx, t, p)
	assertNoFailedProbes(t, p, "the holder's speaker restarted")
	if now := waitVIPHolder(ctx, t, c, ip); now != holder {
		t.Errorf("%s moved from %s to %s when the speaker was killed", ip, holder.Name, now.Name)
	}
	assertStayedMaster(t, holder, ip, from)
	deleteService(ctx, t, c, svc)
	waitVIPNowhere(ctx, t, c, ip)
}

// testVIPUnrelated: another Service of the same pool is added and removed
// (keepalived reloads on every node): a probe every 10 ms on the first
// sees no failure.
func testVIPUnrelated(ctx context.Context, t *testing.T, c *cluster.Cluster, bins cluster.Binaries) {
	svc, ip := lbService(ctx, t, c, "vip-steady", vipEip4, nil)
	holder := waitVIPHolder(ctx, t, c, ip)
	waitCurl(ctx, t, c, ip)

	from := holder.Keepalived.LogSize()
	p := startProbe(ctx, t, c, bins, "probe-unrelated", ip, 2*time.Minute)
	other, otherIP := lbService(ctx, t, c, "vip-other", vipEip4, nil)
	waitVIPHolder(ctx, t, c, otherIP)
	waitCurl(ctx, t, c, otherIP)
	deleteService(ctx, t, c, other)
	waitVIPNowhere(ctx, t, c, otherIP)
	stopProbe(ctx, t, p)
	assertNoFailedProbes(t, p, "another service added and removed")
	if now := waitVIPHolder(ctx, t, c, ip); now != holder {
		t.Errorf("%s moved from %s to %s", ip, holder.Name, now.Name)
	}
	assertStayedMaster(t, holder, ip, from)
	deleteService(ctx, t, c, svc)
	waitVIPNowhere(ctx, t, c, ip)
}

// testVIPLocal: externalTrafficPolicy Local → the VIP is held by the node
// with the endpoint (the others' instances are in FAULT through their
// track files), and follows the endpoint when it moves.
func testVIPLocal(ctx context.Context, t *testing.T, c *cluster.Cluster) {
	local := func(s *corev1.Service) { s.Spec.ExternalTrafficPolicy = corev1.ServiceExternalTrafficPolicyLocal }
	first, last := c.Nodes[0], c.Nodes[len(c.Nodes)-1]
	svc, ip := lbService(ctx, t, c, "vip-local", vipEip4, local, first)
	waitVIPHolder(ctx, t, c, ip, first)
	waitCurlAnsweredBy(ctx, t, c, ip, first.Name)
	if err := c.PublishEndpoints(ctx, svc, last); err != nil {
		t.Fatal(err)
	}
	waitVIPHolder(ctx, t, c, ip, last)
	waitCurlAnsweredBy(ctx, t, c, ip, last.Name)
	deleteService(ctx, t, c, svc)
	waitVIPNowhere(ctx, t, c, ip)
}

// testVIPIPv6: an IPv6 Service of a vip Eip is held by one node and curl
// answers over IPv6.
func testVIPIPv6(ctx context.Context, t *testing.T, c *cluster.Cluster) {
	svc, ip := lbService(ctx, t, c, "vip-v6", vipEip6, func(s *corev1.Service) {
		s.Spec.IPFamilies = []corev1.IPFamily{corev1.IPv6Protocol}
	})
	if !ip.Is6() {
		t.Fatalf("service got %s, want an IPv6 address", ip)
	}
	holder := waitVIPHolder(ctx, t, c, ip)
	waitCurl(ctx, t, c, ip)
	t.Logf("%s held by %s", ip, holder.Name)
	deleteService(ctx, t, c, svc)
	waitVIPNowhere(ctx, t, c, ip)
}

var vridLine = regexp.MustCompile(`virtual_router_id \d+`)

// testVIPRefused: a candidate keepalived refuses (written by hand, as a
// buggy speaker could) never becomes the live config: the supervisor
// reports it, keepalived.conf keeps its bytes, and the VIP keeps
// answering throughout.
func testVIPRefused(ctx context.Context, t *testing.T, c *cluster.Cluster, bins cluster.Binaries) {
	svc, ip := lbService(ctx, t, c, "vip-refused", vipEip4, nil)
	holder := waitVIPHolder(ctx, t, c, ip)
	waitCurl(ctx, t, c, ip)
	dir := holder.VIPDir()
	live, err := os.ReadFile(dir.Live())
	if err != nil {
		t.Fatal(err)
	}
	good, err := os.ReadFile(dir.Candidate())
	if err != nil {
		t.Fatal(err)
	}
	// A VRID keepalived refuses (1-255): `keepalived -t` exits 5.
	bad := vridLine.ReplaceAll(good, []byte("virtual_router_id 300"))
	if bytes.Equal(bad, good) {
		t.Fatalf("no virtual_router_id in %s:\n%s", dir.Candidate(), good)
	}
	logFrom := holder.Keepalived.LogSize()
	p := startProbe(ctx, t, c, bins, "probe-refused", ip, 2*time.Minute)
	writeCandidate(t, dir.Candidate(), bad)
	err = rig.Eventually(ctx, vipWait, 50*time.Millisecond, func(context.Context) error {
		if !strings.Contains(holder.Keepalived.LogSince(logFrom), `"kind":"Refused"`) {
			return errors.New("herald-keepalived has not reported the refused config")
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	stopProbe(ctx, t, p)
	assertNoFailedProbes(t, p, "a refused config")
	if now, err := os.ReadFile(dir.Live()); err != nil || !bytes.Equal(now, live) {
		t.Errorf("live config changed after a refused candidate (%v):\n%s", err, now)
	}
	if holders, err := vipHolders(ctx, c, ip); err != nil || len(holders) != 1 || holders[0] != holder {
		t.Errorf("%s held by %v (%v), want still %s", ip, nodeNames(holders), err, holder.Name)
	}
	assertStayedMaster(t, holder, ip, logFrom)
	// Put the speaker's own rendering back, as its next change would.
	writeCandidate(t, dir.Candidate(), good)
	deleteService(ctx, t, c, svc)
	waitVIPNowhere(ctx, t, c, ip)
}

// writeCandidate replaces a candidate config as the speaker does: temp
// file and rename.
func writeCandidate(t *testing.T, path string, data []byte) {
	t.Helper()
	tmp := path + ".e2e-tmp"
	if err := os.WriteFile(tmp, data, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(tmp, path); err != nil {
		t.Fatal(err)
	}
}

// testVIPUnicast: every speaker restarted with --vrrp-unicast → the live
// configs advertise to the other participants' addresses, and a Service's
// VIP is held by one node and answers. With two participants first, a
// third joining (the speakers restarted with the default cap) adds a
// unicast peer to the holder's instance: its reload keeps the state, and a
// probe every 10 ms sees no failure. The speakers go back to multicast
// afterwards.
func testVIPUnicast(ctx context.Context, t *testing.T, c *cluster.Cluster, bins cluster.Binaries) {
	restartSpeakers(ctx, t, c, "--vrrp-unicast", "--vrrp-participants=2")
	defer restartSpeakers(ctx, t, c)
	svc, ip := lbService(ctx, t, c, "vip-unicast", vipEip4, nil)
	holder := waitVIPHolder(ctx, t, c, ip)
	waitCurl(ctx, t, c, ip)
	peers := func() int {
		t.Helper()
		live, err := os.ReadFile(holder.VIPDir().Live())
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Contains(live, []byte("unicast_src_ip "+holder.LAN.IPv4.Addr().String())) {
			t.Fatalf("%s's live config has no unicast source:\n%s", holder.Name, live)
		}
		_, block, _ := bytes.Cut(live, []byte("unicast_peer {"))
		block, _, _ = bytes.Cut(block, []byte("}"))
		return len(bytes.Fields(block))
	}
	if n := peers(); n != 1 {
		t.Fatalf("%s's instance has %d unicast peers with two participants, want 1", holder.Name, n)
	}

	from := holder.Keepalived.LogSize()
	p := startProbe(ctx, t, c, bins, "probe-unicast-join", ip, 2*time.Minute)
	restartSpeakers(ctx, t, c, "--vrrp-unicast")
	err := rig.Eventually(ctx, vipWait, 100*time.Millisecond, func(context.Context) error {
		if n := peers(); n != 2 {
			return fmt.Errorf("%s's instance has %d unicast peers, want 2 once the third participant joined", holder.Name, n)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	stopProbe(ctx, t, p)
	assertNoFailedProbes(t, p, "a third unicast participant joining")
	assertStayedMaster(t, holder, ip, from)
	deleteService(ctx, t, c, svc)
	waitVIPNowhere(ctx, t, c, ip)
}

// restartSpeakers stops every speaker (SIGTERM) and starts it again with
// args, waiting until all are ready.
func restartSpeakers(ctx context.Context, t *testing.T, c *cluster.Cluster, args ...string) {
	t.Helper()
	for _, n := range c.Nodes {
		if err := n.Speaker.Stop(15 * time.Second); err != nil {
			t.Fatal(err)
		}
		if err := n.StartSpeaker(args...); err != nil {
			t.Fatal(err)
		}
	}
	for _, n := range c.Nodes {
		if err := n.WaitSpeakerReady(ctx); err != nil {
			t.Fatal(err)
		}
	}
}

// testVIPUninstall: with a VIP held, the speakers and then the supervisors
// are stopped as an uninstall does (SIGTERM) → no keepalived is left and no
// node has a VIP on any interface.
func testVIPUninstall(ctx context.Context, t *testing.T, c *cluster.Cluster) {
	_, ip := lbService(ctx, t, c, "vip-uninstall", vipEip4, nil)
	waitVIPHolder(ctx, t, c, ip)
	waitCurl(ctx, t, c, ip)
	for _, n := range c.Nodes {
		if err := n.Speaker.Stop(15 * time.Second); err != nil {
			t.Fatal(err)
		}
	}
	if err := c.StopKeepaliveds(); err != nil {
		t.Fatal(err)
	}
	for _, n := range c.Nodes {
		vips, err := n.VIPAddrs(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if len(vips) > 0 {
			t.Errorf("%s still has %v after uninstall", n.Name, vips)
		}
		if pids := n.KeepalivedPIDs(); len(pids) > 0 {
			t.Errorf("keepalived %v still running on %s after uninstall", pids, n.Name)
		}
	}
}

// startProbe runs the client-side prober against http://a/ every 10 ms for
// at most limit, and waits until it is about to send its first probe.
func startProbe(ctx context.Context, t *testing.T, c *cluster.Cluster, bins cluster.Binaries, name string, a netip.Addr, limit time.Duration) *rig.Proc {
	t.Helper()
	p, err := c.Start(c.Rig.Client.NS, name, []string{bins.Probe,
		"-http", "http://" + netip.AddrPortFrom(a, 80).String() + "/",
		"-interval", "10ms", "-timeout", "500ms", "-for", limit.String()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = p.Stop(5 * time.Second) })
	err = rig.Eventually(ctx, 10*time.Second, 20*time.Millisecond, func(context.Context) error {
		if !p.Running() {
			return fmt.Errorf("probe exited: %v\n%s", p.Err(), p.Tail(10))
		}
		if !strings.Contains(p.LogSince(0), "# ready") {
			return errors.New("probe not ready")
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// waitProbe waits for a probe to end by itself (its -for).
func waitProbe(ctx context.Context, t *testing.T, p *rig.Proc) {
	t.Helper()
	if err := p.Wait(ctx); err != nil {
		t.Fatalf("probe: %v\n%s", err, p.Tail(10))
	}
}

// stopProbe ends a probe (SIGTERM) and waits for it.
func stopProbe(ctx context.Context, t *testing.T, p *rig.Proc) {
	t.Helper()
	if err := p.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	waitProbe(ctx, t, p)
}

// assertNoFailedProbes checks that every probe of p's log was answered,
// and that there were some.
func assertNoFailedProbes(t *testing.T, p *rig.Proc, during string) {
	t.Helper()
	ok, failed := probeCounts(p)
	var firstFail string
	for _, line := range strings.Split(p.LogSince(0), "\n") {
		if f := strings.Fields(line); len(f) >= 3 && f[2] == "fail" {
			firstFail = line
			break
		}
	}
	t.Logf("probes during %s: %d answered, %d failed", during, ok, failed)
	if ok == 0 {
		t.Errorf("no probe answered during %s", during)
	}
	if failed > 0 {
		t.Errorf("%d of %d probes failed during %s; first: %s", failed, ok+failed, during, firstFail)
	}
}

// probeCounts counts the answered and the failed probes in p's log.
func probeCounts(p *rig.Proc) (ok, failed int) {
	for _, line := range strings.Split(p.LogSince(0), "\n") {
		f := strings.Fields(line)
		if len(f) < 3 {
			continue
		}
		switch f[2] {
		case "ok":
			ok++
		case "fail":
			failed++
		}
	}
	return ok, failed
}

// assertStayedMaster checks that holder's keepalived reported no state but
// MASTER for a since its supervisor's log was at offset from: probes alone
// would not see a blip, since every node's kube-proxy forwards traffic for
// the address and the client keeps the old holder's MAC for a while.
// (keepalived repeats unchanged states on every reload, which is fine.)
func assertStayedMaster(t *testing.T, holder *cluster.Node, a netip.Addr, from int64) {
	t.Helper()
	for _, line := range strings.Split(holder.Keepalived.LogSince(from), "\n") {
		if strings.Contains(line, `"msg":"vrrp state"`) && strings.Contains(line, `"ip":"`+a.String()+`"`) &&
			!strings.Contains(line, `"state":"MASTER"`) {
			t.Errorf("%s's instance for %s left MASTER: %s", holder.Name, a, line)
		}
	}
	if strings.Contains(holder.Keepalived.LogSince(from), `"kind":"Exited"`) {
		t.Errorf("%s's keepalived exited meanwhile", holder.Name)
	}
}

// waitHolderReported waits until the Service names holder in its
// vip.herald.io/holder annotation and holder's speaker said so in a
// VIPHolder event on it: what `kubectl describe svc` shows an operator.
func waitHolderReported(ctx context.Context, t *testing.T, c *cluster.Cluster, svc *corev1.Service, holder *cluster.Node) {
	t.Helper()
	err := rig.Eventually(ctx, vipWait, 100*time.Millisecond, func(ctx context.Context) error {
		var got corev1.Service
		if err := c.Client.Get(ctx, client.ObjectKeyFromObject(svc), &got); err != nil {
			return err
		}
		if h := got.Annotations[v1alpha2.AnnotationVIPHolder]; h != holder.Name {
			return fmt.Errorf("service %s: %s = %q, want %s", svc.Name, v1alpha2.AnnotationVIPHolder, h, holder.Name)
		}
		var list eventsv1.EventList
		if err := c.Client.List(ctx, &list, client.InNamespace(svc.Namespace)); err != nil {
			return err
		}
		for _, e := range list.Items {
			if e.Regarding.Name == svc.Name && e.Reason == speaker.ReasonVIPHolder && strings.Contains(e.Note, holder.Name) {
				return nil
			}
		}
		return fmt.Errorf("no %s event naming %s on service %s", speaker.ReasonVIPHolder, holder.Name, svc.Name)
	})
	if err != nil {
		t.Error(err)
	}
}

// waitEipReady waits until the Eip's Ready condition is True: the
// controller sees live speakers that can serve it.
func waitEipReady(ctx context.Context, t *testing.T, c *cluster.Cluster, name string) {
	t.Helper()
	err := rig.Eventually(ctx, vipWait, 100*time.Millisecond, func(ctx context.Context) error {
		var e v1alpha2.Eip
		if err := c.Client.Get(ctx, client.ObjectKey{Name: name}, &e); err != nil {
			return err
		}
		if r := meta.FindStatusCondition(e.Status.Conditions, v1alpha2.ConditionReady); r == nil || r.Status != metav1.ConditionTrue {
			return fmt.Errorf("eip %s: Ready = %+v, want True", name, r)
		}
		return nil
	})
	if err != nil {
		t.Error(err)
	}
}

// testVIPRefusalReported: one node's keepalived refuses every config (a
// wrapper fails `keepalived -t` while a marker file exists): a new
// Service's VIP is still served by the other nodes, the Eip gets that
// node's KeepalivedConfigRefused event and its KeepalivedConfigAccepted
// condition turns False naming it; once keepalived accepts the next
// config, the condition turns True again.
func testVIPRefusalReported(ctx context.Context, t *testing.T, c *cluster.Cluster) {
	n := c.Nodes[len(c.Nodes)-1]
	marker := filepath.Join(t.TempDir(), "refuse")
	wrapper := filepath.Join(t.TempDir(), "keepalived-refusing")
	script := fmt.Sprintf(`#!/bin/sh
for a in "$@"; do
	if [ "$a" = "-t" ] && [ -e %q ]; then echo "refused by the e2e test's marker" >&2; exit 5; fi
done
exec %q "$@"
`, marker, cluster.DefaultKeepalived)
	if err := os.WriteFile(wrapper, []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	restart := func(args ...string) {
		t.Helper()
		if err := n.Keepalived.Signal(syscall.SIGTERM); err != nil {
			t.Fatal(err)
		}
		if err := n.Keepalived.Wait(ctx); err != nil {
			t.Fatalf("herald-keepalived after SIGTERM: %v", err)
		}
		if err := n.StartKeepalived(args...); err != nil {
			t.Fatal(err)
		}
		if err := n.WaitKeepalivedReady(ctx); err != nil {
			t.Fatal(err)
		}
	}
	restart("--keepalived=" + wrapper)
	defer restart()
	if err := os.WriteFile(marker, nil, 0o644); err != nil {
		t.Fatal(err)
	}

	svc, ip := lbService(ctx, t, c, "vip-refusal", vipEip4, nil)
	waitCurl(ctx, t, c, ip)
	waitKeepalivedConfigAccepted(ctx, t, c, vipEip4, metav1.ConditionFalse, n.Name)
	waitEipEvent(ctx, t, c, vipEip4, speaker.ReasonKeepalivedConfigRefused, n.Name)

	// keepalived accepts again; the next config (another Service) gets in.
	if err := os.Remove(marker); err != nil {
		t.Fatal(err)
	}
	other, otherIP := lbService(ctx, t, c, "vip-refusal-2", vipEip4, nil)
	waitCurl(ctx, t, c, otherIP)
	waitKeepalivedConfigAccepted(ctx, t, c, vipEip4, metav1.ConditionTrue, "")
	waitEipEvent(ctx, t, c, vipEip4, speaker.ReasonKeepalivedConfigAccepted, n.Name)
	deleteService(ctx, t, c, other)
	deleteService(ctx, t, c, svc)
	waitVIPNowhere(ctx, t, c, ip)
	waitVIPNowhere(ctx, t, c, otherIP)
}

// waitKeepalivedConfigAccepted waits for the Eip's KeepalivedConfigAccepted
// condition to have status, its message naming node when node is set.
func waitKeepalivedConfigAccepted(ctx context.Context, t *testing.T, c *cluster.Cluster, eip string, status metav1.ConditionStatus, node string) {
	t.Helper()
	err := rig.Eventually(ctx, vipWait, 100*time.Millisecond, func(ctx context.Context) error {
		var e v1alpha2.Eip
		if err := c.Client.Get(ctx, client.ObjectKey{Name: eip}, &e); err != nil {
			return err
		}
		cond := meta.FindStatusCondition(e.Status.Conditions, v1alpha2.ConditionKeepalivedConfigAccepted)
		if cond == nil || cond.Status != status || !strings.Contains(cond.Message, node) {
			return fmt.Errorf("eip %s: %s = %+v, want %s naming %q", eip, v1alpha2.ConditionKeepalivedConfigAccepted, cond, status, node)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

// waitEipEvent waits for an event of reason on the Eip (cluster-scoped:
// its events are in the default namespace) whose note names node.
func waitEipEvent(ctx context.Context, t *testing.T, c *cluster.Cluster, eip, reason, node string) {
	t.Helper()
	err := rig.Eventually(ctx, vipWait, 100*time.Millisecond, func(ctx context.Context) error {
		var list eventsv1.EventList
		if err := c.Client.List(ctx, &list, client.InNamespace(metav1.NamespaceDefault)); err != nil {
			return err
		}
		for _, e := range list.Items {
			if e.Regarding.Kind == "Eip" && e.Regarding.Name == eip && e.Reason == reason && strings.Contains(e.Note, node) {
				return nil
			}
		}
		return fmt.Errorf("no %s event naming %s on eip %s", reason, node, eip)
	})
	if err != nil {
		t.Fatal(err)
	}
}
