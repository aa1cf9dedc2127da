package e2e

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net/netip"
	"os"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/herald-lb/herald/api/v1alpha2"
	"github.com/herald-lb/herald/keepalived"
	"github.com/herald-lb/herald/test/e2e/cluster"
	"github.com/herald-lb/herald/test/e2e/rig"
)

// TestVIPSupervisors runs VIP mode's keepalived side in the testbed with
// configs the test renders itself (keepalived.Render, as the speaker
// does), so it needs no speaker wiring: herald-keepalived with the real
// keepalived on every node, the controller's VRIDs, kube-proxy delivering
// to the Service's backends. It checks what the supervisor DaemonSet must
// do in the same process model as the release: the rendered VIP is held by
// the first-ranked node and answers; a SIGKILLed supervisor takes its
// keepalived with it (the VIP moves to the next node) and its restart
// brings exactly one keepalived back; a refused candidate never becomes
// live; a keepalived killed outright has its stale VIP removed by the
// supervisor, which restarts it; stopping the supervisors leaves no
// keepalived and no VIP. The client-observed gaps of the kill and of a
// planned supervisor restart are logged (TIMING lines).
func TestVIPSupervisors(t *testing.T) {
	rig.SkipUnlessAvailable(t)
	bctx, bcancel := context.WithTimeout(context.Background(), 15*time.Minute)
	bins, err := cluster.BuildOnce(bctx)
	bcancel()
	if err != nil {
		t.Fatal(err)
	}
	c := cluster.Setup(t, cluster.Options{Binaries: bins, VIP: true, NoSpeakers: true})
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	eip := &v1alpha2.Eip{ObjectMeta: metav1.ObjectMeta{Name: vipEip4},
		Spec: v1alpha2.EipSpec{Address: "10.99.0.230-10.99.0.240", Protocol: v1alpha2.ProtocolVIP, Interface: rig.LANLink}}
	if err := c.Client.Create(ctx, eip); err != nil {
		t.Fatal(err)
	}
	_, ip := lbService(ctx, t, c, "vip-hand", vipEip4, nil)
	vrid := waitVRID(ctx, t, c, vipEip4, ip)
	ranked := []string{c.Nodes[0].Name, c.Nodes[1].Name, c.Nodes[2].Name}
	confs := map[*cluster.Node][]byte{}
	start := time.Now()
	for _, n := range c.Nodes {
		conf, err := keepalived.Render(keepalived.Config{
			Node: n.Name,
			Settings: n.VIPDir().Settings(keepalived.Settings{
				AdvertInterval: time.Second, // the default
				Participants:   3,
			}),
			VIPs: []keepalived.VIP{{Addr: ip, VRID: vrid, Interface: rig.LANLink, Ranked: ranked}},
		})
		if err != nil {
			t.Fatal(err)
		}
		confs[n] = conf
		writeCandidate(t, n.VIPDir().Candidate(), conf)
	}
	first, second := c.Nodes[0], c.Nodes[1]

	runSteps(ctx, t, c, []step{
		{"FirstRankedHoldsAndAnswers", func(ctx context.Context, t *testing.T, c *cluster.Cluster) {
			waitVIPHolder(ctx, t, c, ip, first)
			waitCurl(ctx, t, c, ip)
			t.Logf("TIMING configs written -> %s answered via %s: %v", ip, first.Name, time.Since(start).Round(time.Millisecond))
		}},
		{"SupervisorSIGKILLedTakesKeepalivedWithIt", func(ctx context.Context, t *testing.T, c *cluster.Cluster) {
			if len(first.KeepalivedPIDs()) == 0 {
				t.Fatalf("no keepalived running on %s", first.Name)
			}
			killed := time.Now()
			if err := first.Keepalived.Kill(); err != nil {
				t.Fatal(err)
			}
			waitVIPHolder(ctx, t, c, ip, second)
			waitCurl(ctx, t, c, ip)
			t.Logf("TIMING supervisor of holder %s SIGKILLed -> %s answered via %s: %v", first.Name, ip, second.Name, time.Since(killed).Round(time.Millisecond))
			err := rig.Eventually(ctx, 10*time.Second, 50*time.Millisecond, func(context.Context) error {
				if pids := first.KeepalivedPIDs(); len(pids) > 0 {
					return fmt.Errorf("keepalived %v outlived its supervisor on %s", pids, first.Name)
				}
				return nil
			})
			if err != nil {
				t.Fatal(err)
			}
			// The next supervisor adopts the live config: keepalived is
			// back without a render, and the first-ranked node preempts.
			if err := first.StartKeepalived(); err != nil {
				t.Fatal(err)
			}
			if err := first.WaitKeepalivedReady(ctx); err != nil {
				t.Fatal(err)
			}
			waitVIPHolder(ctx, t, c, ip, first)
			waitCurl(ctx, t, c, ip)
			// One keepalived: its parent and its VRRP child.
			if pids := first.KeepalivedPIDs(); len(pids) != 2 {
				t.Errorf("keepalived processes on %s: %v, want one keepalived and its VRRP child", first.Name, pids)
			}
		}},
		{"KeepalivedKilledStaleVIPRemoved", func(ctx context.Context, t *testing.T, c *cluster.Cluster) {
			// keepalived and its VRRP child killed at once: neither
			// stops gracefully, the VIP stays on eth0 until the
			// supervisor removes it, then it restarts keepalived.
			old := first.KeepalivedPIDs()
			if len(old) != 2 {
				t.Fatalf("keepalived processes on %s: %v, want 2", first.Name, old)
			}
			from := first.Keepalived.LogSize()
			p := startProbe(ctx, t, c, bins, "probe-keepalived-killed", ip, 2*time.Minute)
			for _, pid := range old {
				if err := syscall.Kill(pid, syscall.SIGKILL); err != nil {
					t.Fatal(err)
				}
			}
			err := rig.Eventually(ctx, 10*time.Second, 50*time.Millisecond, func(context.Context) error {
				log := first.Keepalived.LogSince(from)
				if !strings.Contains(log, `"kind":"VIPRemoved"`) || !strings.Contains(log, `"ip":"`+ip.String()+`"`) {
					return fmt.Errorf("herald-keepalived on %s has not removed the stale %s", first.Name, ip)
				}
				return nil
			})
			if err != nil {
				t.Fatal(err)
			}
			waitVIPHolder(ctx, t, c, ip, first)
			waitCurl(ctx, t, c, ip)
			stopProbe(ctx, t, p)
			ok, failed := probeCounts(p)
			t.Logf("TIMING keepalived of holder %s SIGKILLed -> restarted, holds %s again: %d of %d probes (10 ms apart) failed", first.Name, ip, failed, ok+failed)
			if now := first.KeepalivedPIDs(); len(now) != 2 || slices.Contains(now, old[0]) || slices.Contains(now, old[1]) {
				t.Errorf("keepalived processes on %s after the restart: %v (killed: %v), want 2 new ones", first.Name, now, old)
			}
		}},
		{"PlannedSupervisorRestartGap", func(ctx context.Context, t *testing.T, c *cluster.Cluster) {
			p := startProbe(ctx, t, c, bins, "probe-planned-restart", ip, 2*time.Minute)
			if err := first.Keepalived.Stop(15 * time.Second); err != nil {
				t.Fatal(err)
			}
			if err := first.Keepalived.Err(); err != nil {
				t.Fatalf("herald-keepalived after SIGTERM: %v", err)
			}
			waitVIPHolder(ctx, t, c, ip, second)
			if err := first.StartKeepalived(); err != nil {
				t.Fatal(err)
			}
			if err := first.WaitKeepalivedReady(ctx); err != nil {
				t.Fatal(err)
			}
			waitVIPHolder(ctx, t, c, ip, first)
			waitCurl(ctx, t, c, ip)
			stopProbe(ctx, t, p)
			ok, failed := probeCounts(p)
			t.Logf("TIMING planned restart of holder %s's supervisor (hand-over and back): %d of %d probes (10 ms apart) failed", first.Name, failed, ok+failed)
		}},
		{"HolderPortCut", func(ctx context.Context, t *testing.T, c *cluster.Cluster) {
			// Carrier lost: keepalived faults and drops the address, the
			// next node takes it (what TestVIP's failover relies on).
			cut := time.Now()
			if err := c.CarrierDown(first.Name); err != nil {
				t.Fatal(err)
			}
			restored := false
			defer func() {
				if !restored {
					_ = c.CarrierUp(first.Name)
				}
			}()
			waitVIPHolder(ctx, t, c, ip, second)
			waitCurl(ctx, t, c, ip)
			t.Logf("TIMING port of holder %s cut -> %s answered via %s: %v", first.Name, ip, second.Name, time.Since(cut).Round(time.Millisecond))
			if err := c.CarrierUp(first.Name); err != nil {
				t.Fatal(err)
			}
			restored = true
			waitVIPHolder(ctx, t, c, ip, first)
			waitCurl(ctx, t, c, ip)
		}},
		{"RefusedCandidateNeverLive", func(ctx context.Context, t *testing.T, c *cluster.Cluster) {
			dir := second.VIPDir()
			live, err := os.ReadFile(dir.Live())
			if err != nil {
				t.Fatal(err)
			}
			from := second.Keepalived.LogSize()
			writeCandidate(t, dir.Candidate(), vridLine.ReplaceAll(confs[second], []byte("virtual_router_id 300")))
			err = rig.Eventually(ctx, 10*time.Second, 50*time.Millisecond, func(context.Context) error {
				if !strings.Contains(second.Keepalived.LogSince(from), `"kind":"Refused"`) {
					return errors.New("herald-keepalived has not reported the refused config")
				}
				return nil
			})
			if err != nil {
				t.Fatal(err)
			}
			if now, err := os.ReadFile(dir.Live()); err != nil || !bytes.Equal(now, live) {
				t.Errorf("live config changed after a refused candidate (%v):\n%s", err, now)
			}
			writeCandidate(t, dir.Candidate(), confs[second])
			waitVIPHolder(ctx, t, c, ip, first)
			waitCurl(ctx, t, c, ip)
		}},
		{"StoppedSupervisorsLeaveNothing", func(ctx context.Context, t *testing.T, c *cluster.Cluster) {
			if err := c.StopKeepaliveds(); err != nil {
				t.Fatal(err)
			}
			for _, n := range c.Nodes {
				if vips, err := n.VIPAddrs(ctx); err != nil || len(vips) > 0 {
					t.Errorf("%s has %v (%v) after its supervisor stopped", n.Name, vips, err)
				}
				if pids := n.KeepalivedPIDs(); len(pids) > 0 {
					t.Errorf("keepalived %v still running on %s", pids, n.Name)
				}
				if err := n.Keepalived.Err(); err != nil {
					t.Errorf("%s's herald-keepalived exited with %v after SIGTERM, want status 0", n.Name, err)
				}
			}
		}},
	})
}

// waitVRID waits until the controller has given a a VRID in the Eip's
// status, and returns it.
func waitVRID(ctx context.Context, t *testing.T, c *cluster.Cluster, eip string, a netip.Addr) keepalived.VRID {
	t.Helper()
	var vrid keepalived.VRID
	err := rig.Eventually(ctx, 20*time.Second, 100*time.Millisecond, func(ctx context.Context) error {
		var e v1alpha2.Eip
		if err := c.Client.Get(ctx, client.ObjectKey{Name: eip}, &e); err != nil {
			return err
		}
		v, ok := e.Status.VRIDs[a.String()]
		if !ok {
			return fmt.Errorf("eip %s: no VRID for %s in status (%v)", eip, a, e.Status.VRIDs)
		}
		vrid = keepalived.VRID(v)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return vrid
}
