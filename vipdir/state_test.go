package vipdir

import (
	"errors"
	"net/netip"
	"os"
	"path/filepath"
	"sync"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/herald-lb/herald/keepalived"
)

var (
	v4 = netip.MustParseAddr("192.0.2.10")
	v6 = netip.MustParseAddr("2001:db8::10")
)

func note(vip netip.Addr, s keepalived.State) keepalived.Notification {
	return keepalived.Notification{VIP: vip, State: s, Priority: 254}
}

func TestApply(t *testing.T) {
	for _, tc := range []struct {
		name        string
		have        States
		n           keepalived.Notification
		want        States
		wantChanged bool
	}{
		{"new v4 instance", States{}, note(v4, keepalived.StateBackup), States{v4: keepalived.StateBackup}, true},
		{"new v6 instance", States{v4: keepalived.StateBackup}, note(v6, keepalived.StateMaster),
			States{v4: keepalived.StateBackup, v6: keepalived.StateMaster}, true},
		{"backup becomes master", States{v4: keepalived.StateBackup}, note(v4, keepalived.StateMaster), States{v4: keepalived.StateMaster}, true},
		{"same state again", States{v6: keepalived.StateMaster}, note(v6, keepalived.StateMaster), States{v6: keepalived.StateMaster}, false},
		{"fault", States{v4: keepalived.StateMaster}, note(v4, keepalived.StateFault), States{v4: keepalived.StateFault}, true},
		{"stop is kept", States{v4: keepalived.StateMaster}, note(v4, keepalived.StateStop), States{v4: keepalived.StateStop}, true},
		{"deleted leaves the map", States{v4: keepalived.StateMaster, v6: keepalived.StateBackup}, note(v4, keepalived.StateDeleted),
			States{v6: keepalived.StateBackup}, true},
		{"deleted unknown", States{v6: keepalived.StateBackup}, note(v4, keepalived.StateDeleted), States{v6: keepalived.StateBackup}, false},
		{"v4-mapped v6 is the v4 address", States{v4: keepalived.StateBackup}, note(netip.MustParseAddr("::ffff:192.0.2.10"), keepalived.StateMaster),
			States{v4: keepalived.StateMaster}, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := tc.have
			if changed := got.Apply(tc.n); changed != tc.wantChanged {
				t.Errorf("Apply changed = %v, want %v", changed, tc.wantChanged)
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("states (-want +got):\n%s", diff)
			}
		})
	}
}

func TestStopped(t *testing.T) {
	s := States{v6: keepalived.StateBackup, v4: keepalived.StateMaster}
	if diff := cmp.Diff([]netip.Addr{v4, v6}, s.Stopped(), cmpopts.EquateComparable(netip.Addr{})); diff != "" {
		t.Errorf("Stopped changed (-want +got):\n%s", diff)
	}
	want := States{v4: keepalived.StateStop, v6: keepalived.StateStop}
	if diff := cmp.Diff(want, s); diff != "" {
		t.Errorf("states (-want +got):\n%s", diff)
	}
	if changed := s.Stopped(); len(changed) != 0 {
		t.Errorf("Stopped twice changed %v", changed)
	}
}

func TestWriteRead(t *testing.T) {
	path := filepath.Join(t.TempDir(), StateName)
	if _, err := Read(path); !errors.Is(err, ErrNoState) {
		t.Fatalf("Read of a missing file: %v, want ErrNoState", err)
	}
	s := States{v6: keepalived.StateBackup, v4: keepalived.StateMaster}
	if err := Write(path, s); err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	// The contract with the speaker, byte for byte: sorted keys, plain
	// addresses, keepalived's state words.
	if want := `{"vips":{"192.0.2.10":"MASTER","2001:db8::10":"BACKUP"}}` + "\n"; string(data) != want {
		t.Errorf("state file = %q, want %q", data, want)
	}
	got, err := Read(path)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(s, got); diff != "" {
		t.Errorf("Read (-want +got):\n%s", diff)
	}
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o644 {
		t.Errorf("mode %v, want 0644 so the speaker can read it", fi.Mode().Perm())
	}
	if err := Write(path, nil); err != nil {
		t.Fatal(err)
	}
	if data, _ := os.ReadFile(path); string(data) != `{"vips":{}}`+"\n" {
		t.Errorf("empty state file = %q", data)
	}
}

// TestWriteIsAtomic has a reader parse the file while it is rewritten over
// and over: it must never see a partial or missing file, and no temp files
// may be left behind.
func TestWriteIsAtomic(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, StateName)
	const n = 500
	big := States{}
	for i := range n {
		big[netip.AddrFrom4([4]byte{10, 0, byte(i / 256), byte(i)})] = keepalived.StateBackup
	}
	if err := Write(path, big); err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for i := range 200 {
			st := keepalived.StateBackup
			if i%2 == 0 {
				st = keepalived.StateMaster
			}
			for k := range big {
				big[k] = st
			}
			if err := Write(path, big); err != nil {
				t.Error(err)
				break
			}
		}
		close(done)
	}()
	for reads := 0; ; reads++ {
		select {
		case <-done:
			wg.Wait()
			entries, err := os.ReadDir(dir)
			if err != nil {
				t.Fatal(err)
			}
			if len(entries) != 1 {
				t.Errorf("directory holds %d files after writing, want only %s", len(entries), StateName)
			}
			return
		default:
		}
		got, err := Read(path)
		if err != nil {
			t.Fatalf("read %d: %v", reads, err)
		}
		if len(got) != n {
			t.Fatalf("read %d: %d VIPs, want %d", reads, len(got), n)
		}
	}
}

func TestRecorder(t *testing.T) {
	path := filepath.Join(t.TempDir(), StateName)
	if err := Write(path, States{v4: keepalived.StateMaster}); err != nil {
		t.Fatal(err)
	}
	r := &Recorder{Path: path}
	if err := r.Reset(); err != nil {
		t.Fatal(err)
	}
	read := func() States {
		t.Helper()
		s, err := Read(path)
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	if diff := cmp.Diff(States{}, read()); diff != "" {
		t.Errorf("after Reset, a previous run's MASTER must be gone (-want +got):\n%s", diff)
	}
	for _, n := range []keepalived.Notification{note(v4, keepalived.StateBackup), note(v6, keepalived.StateBackup), note(v4, keepalived.StateMaster)} {
		if err := r.Notify(n); err != nil {
			t.Fatal(err)
		}
	}
	want := States{v4: keepalived.StateMaster, v6: keepalived.StateBackup}
	if diff := cmp.Diff(want, read()); diff != "" {
		t.Errorf("state file (-want +got):\n%s", diff)
	}
	if err := r.Notify(note(v6, keepalived.StateDeleted)); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(States{v4: keepalived.StateMaster}, read()); diff != "" {
		t.Errorf("after DELETED (-want +got):\n%s", diff)
	}
	if changed, err := r.Stopped(); err != nil || len(changed) != 1 || changed[0] != v4 {
		t.Fatalf("Stopped = %v, %v; want [%v]", changed, err, v4)
	}
	if diff := cmp.Diff(States{v4: keepalived.StateStop}, read()); diff != "" {
		t.Errorf("after Stopped (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff(States{v4: keepalived.StateStop}, r.States()); diff != "" {
		t.Errorf("States() (-want +got):\n%s", diff)
	}
}
