package speaker

import (
	"context"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/go-logr/logr/funcr"
	"github.com/google/go-cmp/cmp"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/herald-lb/herald/internal/bgpconfig"
	"github.com/herald-lb/herald/keepalived"
	"github.com/herald-lb/herald/vipdir"
)

// logLines collects what a logger writes.
type logLines struct {
	mu    sync.Mutex
	lines []string
}

func (l *logLines) add(_, args string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.lines = append(l.lines, args)
}

func (l *logLines) take() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	out := l.lines
	l.lines = nil
	return out
}

// TestVIPStateWatcherPoll: the watcher reports a change only when the
// states in the file change (a rewrite with the same states is none),
// counts them in the metrics, treats a missing or broken file as no
// states, and logs each problem once, not on every poll. IPv4 and IPv6.
func TestVIPStateWatcherPoll(t *testing.T) {
	v4, v6 := netip.MustParseAddr("192.0.2.10"), netip.MustParseAddr("2001:db8::10")
	path := filepath.Join(t.TempDir(), vipdir.StateName)
	logs := &logLines{}
	m, err := NewMetrics(prometheus.NewRegistry())
	if err != nil {
		t.Fatal(err)
	}
	w := NewVIPStateWatcher(path, 0, funcr.New(logs.add, funcr.Options{}), m)
	gauges := func() map[string]float64 {
		out := map[string]float64{"master": gaugeValue(t, m.vipMaster)}
		for _, s := range vipStates {
			out[string(s)] = gaugeValue(t, m.vipState.WithLabelValues(string(s)))
		}
		return out
	}
	write := func(s vipdir.States) {
		t.Helper()
		if err := vipdir.Write(path, s); err != nil {
			t.Fatal(err)
		}
	}
	steps := []struct {
		name    string
		do      func()
		changed bool
		want    vipdir.States
		logs    int
		gauges  map[string]float64
	}{
		{"missing file at start", func() {}, true, vipdir.States{}, 1,
			map[string]float64{"master": 0, "MASTER": 0, "BACKUP": 0, "FAULT": 0, "STOP": 0}},
		{"still missing", func() {}, false, vipdir.States{}, 0, nil},
		{"supervisor writes an empty file", func() { write(nil) }, false, vipdir.States{}, 1, nil},
		{"master and backup", func() { write(vipdir.States{v4: keepalived.StateMaster, v6: keepalived.StateBackup}) }, true,
			vipdir.States{v4: keepalived.StateMaster, v6: keepalived.StateBackup}, 0,
			map[string]float64{"master": 1, "MASTER": 1, "BACKUP": 1, "FAULT": 0, "STOP": 0}},
		{"same states rewritten", func() { write(vipdir.States{v4: keepalived.StateMaster, v6: keepalived.StateBackup}) }, false,
			vipdir.States{v4: keepalived.StateMaster, v6: keepalived.StateBackup}, 0, nil},
		{"v6 becomes master", func() { write(vipdir.States{v4: keepalived.StateMaster, v6: keepalived.StateMaster}) }, true,
			vipdir.States{v4: keepalived.StateMaster, v6: keepalived.StateMaster}, 0,
			map[string]float64{"master": 2, "MASTER": 2, "BACKUP": 0, "FAULT": 0, "STOP": 0}},
		{"broken file", func() {
			if err := os.WriteFile(path, []byte("{not json"), 0o644); err != nil {
				t.Fatal(err)
			}
		}, true, vipdir.States{}, 1, map[string]float64{"master": 0, "MASTER": 0, "BACKUP": 0}},
		{"still broken", func() {}, false, vipdir.States{}, 0, nil},
		{"keepalived stopped", func() { write(vipdir.States{v4: keepalived.StateStop, v6: keepalived.StateFault}) }, true,
			vipdir.States{v4: keepalived.StateStop, v6: keepalived.StateFault}, 1,
			map[string]float64{"master": 0, "MASTER": 0, "FAULT": 1, "STOP": 1}},
		{"file removed", func() {
			if err := os.Remove(path); err != nil {
				t.Fatal(err)
			}
		}, true, vipdir.States{}, 1, nil},
	}
	for _, s := range steps {
		s.do()
		if got := w.poll(); got != s.changed {
			t.Errorf("%s: poll changed = %v, want %v", s.name, got, s.changed)
		}
		if diff := cmp.Diff(s.want, w.States()); diff != "" {
			t.Errorf("%s: states (-want +got):\n%s", s.name, diff)
		}
		if got := logs.take(); len(got) != s.logs {
			t.Errorf("%s: %d log lines, want %d: %q", s.name, len(got), s.logs, got)
		}
		g := gauges()
		for k, want := range s.gauges {
			if g[k] != want {
				t.Errorf("%s: gauge %s = %v, want %v", s.name, k, g[k], want)
			}
		}
	}
}

// TestVIPStateWatcherPokes: running, the watcher pokes Changed when the
// file's states change, and its copy is the caller's to keep.
func TestVIPStateWatcherPokes(t *testing.T) {
	path := filepath.Join(t.TempDir(), vipdir.StateName)
	w := NewVIPStateWatcher(path, 5*time.Millisecond, funcr.New(func(string, string) {}, funcr.Options{}), nil)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- w.Start(ctx) }()
	defer func() {
		cancel()
		if err := <-done; err != nil {
			t.Error(err)
		}
	}()
	wait := func(what string) {
		t.Helper()
		select {
		case <-w.Changed():
		case <-time.After(10 * time.Second):
			t.Fatalf("no poke after %s", what)
		}
	}
	wait("start")
	vip := netip.MustParseAddr("2001:db8::10")
	if err := vipdir.Write(path, vipdir.States{vip: keepalived.StateMaster}); err != nil {
		t.Fatal(err)
	}
	wait("master")
	got := w.States()
	if got[vip] != keepalived.StateMaster {
		t.Fatalf("states %v after the poke", got)
	}
	got[vip] = keepalived.StateFault
	if w.States()[vip] != keepalived.StateMaster {
		t.Error("States returned the watcher's own map")
	}
}

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
