package speaker

import (
	"context"
	"net/netip"
	"path/filepath"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/herald-lb/herald/internal/bgpconfig"
	"github.com/herald-lb/herald/keepalived"
	"github.com/herald-lb/herald/vipdir"
)

// TestVIPInstancesMetric: herald_speaker_vip_instances counts the
// instances this node's rendered config runs, not every VIP.
func TestVIPInstancesMetric(t *testing.T) {
	reg := prometheus.NewRegistry()
	m, err := NewMetrics(reg)
	if err != nil {
		t.Fatal(err)
	}
	f := newVIPFixture(t)
	f.mode.Settings.Participants = 2
	f.mode.Metrics = m
	var services []Service
	for i := range 12 {
		services = append(services, Service{Key: "a/s" + strings.Repeat("x", i), Addrs: addrs(netip.AddrFrom4([4]byte{100, 64, 0, byte(i + 1)}).String())})
	}
	f.apply(t, services...)
	// Each VIP ranks the three members; node1 runs the ones it ranks in
	// the top two.
	want := 0
	for _, v := range services {
		if strings.Contains(strings.Join(keepalived.Participants(v.Addrs[0], []string{"node1", "node2", "node3"}, 2), ","), "node1") {
			want++
		}
	}
	if want == 0 || want == len(services) {
		t.Fatalf("test needs VIPs node1 runs and VIPs it does not: %d of %d", want, len(services))
	}
	if got := gaugeValue(t, m.vipInstances); got != float64(want) {
		t.Errorf("vip_instances = %v, want %d", got, want)
	}
	if got := strings.Count(f.last(t), "vrrp_instance "); got != want {
		t.Errorf("rendered %d instances, the metric says %d", got, want)
	}
	f.apply(t)
	if got := gaugeValue(t, m.vipInstances); got != 0 {
		t.Errorf("vip_instances with no VIP = %v, want 0", got)
	}
}

// TestVIPModeNoSharedDirWithoutPools: on a node where no supervisor shares
// the directory (a cluster without vip pools need not deploy one), VIP mode
// is no error loop while there is no vip pool, and says so once there is.
func TestVIPModeNoSharedDirWithoutPools(t *testing.T) {
	f := newVIPFixture(t)
	dir := filepath.Join(t.TempDir(), "absent")
	f.mode.Sink = FileConfigSink{Path: vipdir.Dir(dir).Candidate()}
	f.mode.TrackDir = vipdir.Dir(dir).Track()
	if err := f.mode.Apply(context.Background(), Snapshot{}, Desired{}); err != nil {
		t.Fatalf("no vip pool, no directory: %v", err)
	}
	d := Compute("node1", f.pools, []Service{{Key: "a/web", Addrs: addrs("100.64.0.1")}}, bgpconfig.ServiceCIDRs{})
	snap := Snapshot{Pools: f.pools, VRIDs: map[netip.Addr]keepalived.VRID{netip.MustParseAddr("100.64.0.1"): 1}}
	err := f.mode.Apply(context.Background(), snap, d)
	if err == nil || !strings.Contains(err.Error(), dir) {
		t.Fatalf("vip pool, no directory: error %v, want one naming %s", err, dir)
	}
}

// TestVIPModeWaitsForCarrierSync: before the carrier watch's first list
// every interface looks down; a config rendered then would leave this node
// out of every VIP, so nothing is written until it has synced.
func TestVIPModeWaitsForCarrierSync(t *testing.T) {
	f := newVIPFixture(t)
	synced := false
	f.mode.InterfacesSynced = func() bool { return synced }
	web := Service{Key: "a/web", Addrs: addrs("100.64.0.1", "2001:db8:1::1")}
	f.apply(t, web)
	if len(f.sink.writes) != 0 {
		t.Fatalf("wrote a config before the carrier watch synced:\n%s", f.last(t))
	}
	synced = true
	f.apply(t, web)
	if len(f.sink.writes) != 1 || !strings.Contains(f.last(t), "vrrp_instance vip_100.64.0.1 {") {
		t.Fatalf("after the sync: %d writes", len(f.sink.writes))
	}
}
