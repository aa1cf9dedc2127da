package vipdir

import (
	"path/filepath"

	"github.com/herald-lb/herald/keepalived"
)

// DefaultDir is the shared host directory when neither side is told
// otherwise: the one keepalived.DefaultSettings names (TestDefaultDir).
const DefaultDir = "/run/herald/keepalived"

// The files of the shared directory.
const (
	CandidateName = "keepalived.conf.candidate"
	LiveName      = "keepalived.conf"
	TrackName     = "track"
	FIFOName      = "notify.fifo"
	StateName     = "state.json"
	ConfigName    = "config.json"
)

// Dir is the shared directory's path.
type Dir string

// Candidate is where the speaker renders keepalived.conf (temp file and
// rename); the supervisor checks it before anything else reads it.
func (d Dir) Candidate() string { return filepath.Join(string(d), CandidateName) }

// Live is the config keepalived runs, which only the supervisor writes.
func (d Dir) Live() string { return filepath.Join(string(d), LiveName) }

// Track is the directory of the track files (Settings.TrackDir).
func (d Dir) Track() string { return filepath.Join(string(d), TrackName) }

// FIFO is keepalived's notify_fifo (Settings.NotifyFIFO).
func (d Dir) FIFO() string { return filepath.Join(string(d), FIFOName) }

// State is the state file the supervisor writes and the speaker reads.
func (d Dir) State() string { return filepath.Join(string(d), StateName) }

// ConfigStatus is the supervisor's verdict on the candidates it checked
// (ConfigStatus), which it writes and the speaker reads.
func (d Dir) ConfigStatus() string { return filepath.Join(string(d), ConfigName) }

// Settings returns s with the track directory and notify FIFO in d, for a
// speaker told to share another directory with the supervisor.
func (d Dir) Settings(s keepalived.Settings) keepalived.Settings {
	s.TrackDir, s.NotifyFIFO = d.Track(), d.FIFO()
	return s
}
