package keepalived

import (
	"errors"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

func TestParseNotification(t *testing.T) {
	tests := []struct {
		line    string
		want    Notification
		notOurs bool
		wantErr string
	}{
		{line: `INSTANCE "vip_192.0.2.1" MASTER 254`, want: Notification{netip.MustParseAddr("192.0.2.1"), StateMaster, 254}},
		{line: "INSTANCE \"vip_2001:db8::1\" BACKUP 253\n", want: Notification{netip.MustParseAddr("2001:db8::1"), StateBackup, 253}},
		{line: `INSTANCE "vip_192.0.2.1" FAULT 0`, want: Notification{netip.MustParseAddr("192.0.2.1"), StateFault, 0}},
		{line: `INSTANCE "vip_192.0.2.1" STOP 254`, want: Notification{netip.MustParseAddr("192.0.2.1"), StateStop, 254}},
		{line: `GROUP "g1" MASTER`, notOurs: true},
		{line: `INSTANCE "VI_1" MASTER 100`, notOurs: true},
		{line: ``, notOurs: true},
		{line: `INSTANCE vip_192.0.2.1 MASTER 254`, wantErr: "not quoted"},
		{line: `INSTANCE "vip_192.0.2.1"`, wantErr: "no state"},
		{line: `INSTANCE "vip_192.0.2.1" MASTER`, wantErr: "vip 192.0.2.1: "},
		{line: `INSTANCE "vip_192.0.2.1" MASTER high`, wantErr: "bad priority"},
		{line: `INSTANCE "vip_192.0.2.1" DELETED 254`, want: Notification{netip.MustParseAddr("192.0.2.1"), StateDeleted, 254}},
		{line: `INSTANCE "vip_192.0.2.1" UNKNOWN 254`, wantErr: `unknown state "UNKNOWN"`},
	}
	for _, tt := range tests {
		t.Run(tt.line, func(t *testing.T) {
			got, err := ParseNotification(tt.line)
			switch {
			case tt.notOurs:
				if !errors.Is(err, ErrNotOurs) {
					t.Errorf("error %v, want ErrNotOurs", err)
				}
			case tt.wantErr != "":
				if err == nil || errors.Is(err, ErrNotOurs) || !strings.Contains(err.Error(), tt.wantErr) {
					t.Errorf("error %v, want one containing %q", err, tt.wantErr)
				}
			case err != nil:
				t.Errorf("error %v", err)
			default:
				if diff := cmp.Diff(tt.want, got, cmp.Comparer(func(a, b netip.Addr) bool { return a == b })); diff != "" {
					t.Errorf("(-want +got):\n%s", diff)
				}
			}
		})
	}
}

// TestNotifyFIFOSurvivesReload plays keepalived: it writes, closes its end
// (as on every reload), reopens and writes again. The reader must see both
// lines and end only when its file is closed.
func TestNotifyFIFOSurvivesReload(t *testing.T) {
	path := filepath.Join(t.TempDir(), "notify.fifo")
	f, err := OpenNotifyFIFO(path)
	if err != nil {
		t.Fatal(err)
	}
	got := make(chan Notification, 4)
	bad := make(chan error, 4)
	done := make(chan error, 1)
	go func() {
		done <- ReadNotifications(f, func(n Notification) { got <- n }, func(err error) { bad <- err })
	}()

	keepalived := func(lines string) {
		w, err := os.OpenFile(path, os.O_WRONLY, 0)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := w.WriteString(lines); err != nil {
			t.Fatal(err)
		}
		if err := w.Close(); err != nil {
			t.Fatal(err)
		}
	}
	next := func(want State) {
		t.Helper()
		select {
		case n := <-got:
			if n.State != want {
				t.Fatalf("state %s, want %s", n.State, want)
			}
		case err := <-done:
			t.Fatalf("reader ended early: %v", err)
		case <-time.After(5 * time.Second):
			t.Fatalf("no %s notification", want)
		}
	}
	keepalived("INSTANCE \"vip_192.0.2.1\" BACKUP 254\nGROUP \"g\" BACKUP\n")
	next(StateBackup)
	keepalived("INSTANCE \"vip_192.0.2.1\" MASTER 254\nINSTANCE \"vip_192.0.2.1\" SOMETHING 254\n") // after a "reload"
	next(StateMaster)
	select {
	case err := <-bad:
		if !strings.Contains(err.Error(), "SOMETHING") {
			t.Errorf("bad line error %v", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("the bad line was not reported")
	}

	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("ReadNotifications after close: %v", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("ReadNotifications did not end when its file was closed")
	}
}

func TestOpenNotifyFIFORefusesAFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "notify.fifo")
	if err := os.WriteFile(path, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	if f, err := OpenNotifyFIFO(path); err == nil {
		f.Close()
		t.Error("opened a regular file as the notify FIFO")
	}
}
