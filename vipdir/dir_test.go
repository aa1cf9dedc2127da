package vipdir

import (
	"testing"

	"github.com/herald-lb/herald/keepalived"
)

// TestDefaultDir pins the contract that lets the speaker and the
// supervisor agree without flags: the paths the renderer writes into
// keepalived.conf by default are the ones the supervisor reads.
func TestDefaultDir(t *testing.T) {
	s := keepalived.DefaultSettings()
	d := Dir(DefaultDir)
	if s.TrackDir != d.Track() {
		t.Errorf("renderer's track directory %q, supervisor's %q", s.TrackDir, d.Track())
	}
	if s.NotifyFIFO != d.FIFO() {
		t.Errorf("renderer's notify fifo %q, supervisor's %q", s.NotifyFIFO, d.FIFO())
	}
	if got := Dir("/x").Settings(s); got.TrackDir != "/x/track" || got.NotifyFIFO != "/x/notify.fifo" || got.Participants != s.Participants {
		t.Errorf("Settings moved into /x: %+v", got)
	}
}
