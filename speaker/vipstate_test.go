package speaker

import (
	"context"
	"errors"
	"net/netip"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/go-logr/logr/funcr"
	"github.com/google/go-cmp/cmp"
	"github.com/prometheus/client_golang/prometheus"

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

// TestVIPStateWatcherConfig: with ConfigPath the watcher reads the
// supervisor's config status too, reports a change only when what it says
// changes, and treats a missing or broken file as unknown, logging each
// problem once.
func TestVIPStateWatcherConfig(t *testing.T) {
	dir := vipdir.Dir(t.TempDir())
	logs := &logLines{}
	w := NewVIPStateWatcher(dir.State(), 0, funcr.New(logs.add, funcr.Options{}), nil)
	w.ConfigPath = dir.ConfigStatus()
	accepted := vipdir.NewConfigStatus([]byte("A"), nil, nil)
	refused := vipdir.NewConfigStatus([]byte("A"), []byte("B"), errors.New("exit status 5"))
	write := func(s vipdir.ConfigStatus) {
		t.Helper()
		if err := vipdir.WriteConfigStatus(dir.ConfigStatus(), s); err != nil {
			t.Fatal(err)
		}
	}
	for _, step := range []struct {
		name    string
		do      func()
		changed bool
		want    vipdir.ConfigStatus
		ok      bool
		logs    int
	}{
		{"missing at start", func() {}, false, vipdir.ConfigStatus{}, false, 1},
		{"still missing", func() {}, false, vipdir.ConfigStatus{}, false, 0},
		{"accepted", func() { write(accepted) }, true, accepted, true, 1},
		{"rewritten alike", func() { write(accepted) }, false, accepted, true, 0},
		{"refused", func() { write(refused) }, true, refused, true, 0},
		{"broken", func() {
			if err := os.WriteFile(dir.ConfigStatus(), []byte("{"), 0o644); err != nil {
				t.Fatal(err)
			}
		}, true, vipdir.ConfigStatus{}, false, 1},
		{"removed", func() { _ = os.Remove(dir.ConfigStatus()) }, false, vipdir.ConfigStatus{}, false, 1},
		{"back", func() { write(refused) }, true, refused, true, 1},
	} {
		step.do()
		if changed := w.pollConfig(); changed != step.changed {
			t.Errorf("%s: changed = %v, want %v", step.name, changed, step.changed)
		}
		got, ok := w.Config()
		if ok != step.ok || got != step.want {
			t.Errorf("%s: Config() = %+v, %v; want %+v, %v", step.name, got, ok, step.want, step.ok)
		}
		if l := logs.take(); len(l) != step.logs {
			t.Errorf("%s: %d log lines %q, want %d", step.name, len(l), l, step.logs)
		}
	}

	// Start pokes Changed when the config status changes.
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	w.Period = 10 * time.Millisecond
	go func() { _ = w.Start(ctx) }()
	<-w.Changed() // the first poll of the state file
	write(accepted)
	select {
	case <-w.Changed():
	case <-time.After(5 * time.Second):
		t.Fatal("no poke after the config status changed")
	}
	if got, ok := w.Config(); !ok || got != accepted {
		t.Errorf("Config() after the poke = %+v, %v; want %+v", got, ok, accepted)
	}
}
