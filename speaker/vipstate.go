package speaker

import (
	"context"
	"errors"
	"maps"
	"os"
	"sync"
	"time"

	"github.com/go-logr/logr"

	"github.com/herald-lb/herald/vipdir"
)

// DefaultVIPStatePoll is VIPStateWatcher.Period's default.
const DefaultVIPStatePoll = 500 * time.Millisecond

// VIPStateWatcher reads back the VRRP states this node's keepalived
// reports, from the state file its supervisor rewrites on every change
// (vipdir.State), and pokes Changed when they change, so that the
// reconciler runs and VIPMode writes the holder annotation. With
// ConfigPath it reads the supervisor's config status alongside
// (vipdir.ConfigStatus: which config keepalived runs, which it refused)
// and pokes Changed when that changes too, so that VIPMode learns at once
// whether the config it wrote was accepted (Config).
//
// It polls rather than using inotify. The file lives in a host directory
// that may not exist when the speaker starts (the supervisor DaemonSet
// creates it, maybe later, maybe never on a cluster without vip pools) and
// that a restarted supervisor pod may recreate, so an inotify watch would
// need re-arming on the directory, its parent and the file, and a fallback
// poll for when the directory is missing anyway. A poll is one stat on a
// tmpfs every Period (the file is read only when the stat differs: the
// supervisor renames a new file in on every change); it costs
// microseconds, no API calls, and delays only the annotation, which is a
// report: VRRP moves the VIP itself without the speaker. Half a second is
// well under the master-down interval (~3.4 s at a 1 s advert).
type VIPStateWatcher struct {
	// Path is the state file, vipdir.Dir.State().
	Path string
	// ConfigPath is the config status, vipdir.Dir.ConfigStatus(); empty
	// reads none. Set it before Start.
	ConfigPath string
	// Period is the poll interval; 0 means DefaultVIPStatePoll.
	Period  time.Duration
	Log     logr.Logger
	Metrics *Metrics

	changed chan struct{}
	// mu guards the fields below; a leaf.
	mu     sync.Mutex
	states vipdir.States
	seen   os.FileInfo // the file as last read; nil when it could not be
	// problem is the last problem logged: "" while the file reads fine.
	problem string
	started bool
	// config is the config status last read, configOK whether it was
	// readable; configSeen and configProblem are as seen and problem.
	config        vipdir.ConfigStatus
	configOK      bool
	configSeen    os.FileInfo
	configProblem string
}

// NewVIPStateWatcher is a watcher of path that polls every period.
func NewVIPStateWatcher(path string, period time.Duration, log logr.Logger, m *Metrics) *VIPStateWatcher {
	return &VIPStateWatcher{Path: path, Period: period, Log: log, Metrics: m, changed: make(chan struct{}, 1)}
}

// Changed is poked (without blocking; pokes coalesce) when the states
// change. A trigger for the reconciler.
func (w *VIPStateWatcher) Changed() <-chan struct{} { return w.changed }

// States returns a copy of the states last read: empty while the file is
// missing or unreadable, since this node then cannot show it holds a VIP.
func (w *VIPStateWatcher) States() vipdir.States {
	w.mu.Lock()
	defer w.mu.Unlock()
	return maps.Clone(w.states)
}

// Start polls until ctx ends. The first poll is immediate.
func (w *VIPStateWatcher) Start(ctx context.Context) error {
	period := w.Period
	if period <= 0 {
		period = DefaultVIPStatePoll
	}
	t := time.NewTicker(period)
	defer t.Stop()
	for {
		changed := w.poll()
		if w.ConfigPath != "" && w.pollConfig() {
			changed = true
		}
		if changed {
			select {
			case w.changed <- struct{}{}:
			default:
			}
		}
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
	}
}

// poll reads the file when it differs from the one last read and reports
// whether the states changed. The first poll always reports a change, so
// that the metrics and the reconciler start from what it found.
func (w *VIPStateWatcher) poll() bool {
	fi, statErr := os.Stat(w.Path)
	w.mu.Lock()
	defer w.mu.Unlock()
	first := !w.started
	w.started = true
	if statErr == nil && w.seen != nil && sameFile(fi, w.seen) {
		return first
	}
	var states vipdir.States
	var err error
	if statErr != nil {
		w.seen = nil
		_, err = vipdir.Read(w.Path) // the error Read gives, ErrNoState when missing
	} else {
		w.seen = fi
		states, err = vipdir.Read(w.Path)
	}
	if err != nil {
		states = vipdir.States{}
	}
	w.report(err)
	if !first && maps.Equal(states, w.states) {
		return false
	}
	w.states = states
	w.Metrics.vipReported(states)
	return true
}

// Config returns the config status last read and whether it could be:
// false while the file is missing or unreadable (no supervisor has written
// one), when the speaker cannot tell whether its config was accepted.
func (w *VIPStateWatcher) Config() (vipdir.ConfigStatus, bool) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.config, w.configOK
}

// pollConfig reads the config status when the file differs from the one
// last read and reports whether what it says changed.
func (w *VIPStateWatcher) pollConfig() bool {
	fi, statErr := os.Stat(w.ConfigPath)
	w.mu.Lock()
	defer w.mu.Unlock()
	if statErr == nil && w.configSeen != nil && sameFile(fi, w.configSeen) {
		return false
	}
	w.configSeen = nil
	if statErr == nil {
		w.configSeen = fi
	}
	status, err := vipdir.ReadConfigStatus(w.ConfigPath) // ErrNoConfigStatus when missing
	problem := ""
	if err != nil {
		problem = err.Error()
	}
	if problem != w.configProblem {
		w.configProblem = problem
		switch {
		case err == nil:
			w.Log.Info("reading this node's vip config status", "path", w.ConfigPath)
		case errors.Is(err, vipdir.ErrNoConfigStatus):
			// The state file's problem says why, when there is one; an
			// older supervisor writes no config status at all.
			w.Log.Info("no vip config status file: whether keepalived accepts this node's config is unknown", "path", w.ConfigPath)
		default:
			w.Log.Error(err, "cannot read this node's vip config status; whether keepalived accepts this node's config is unknown", "path", w.ConfigPath)
		}
	}
	ok := err == nil
	if ok == w.configOK && status == w.config {
		return false
	}
	w.config, w.configOK = status, ok
	return true
}

// sameFile reports whether a and b are the same file with the same
// content as far as a stat tells: the supervisor replaces the file by a
// rename, so every write is a new inode.
func sameFile(a, b os.FileInfo) bool {
	return os.SameFile(a, b) && a.ModTime().Equal(b.ModTime()) && a.Size() == b.Size()
}

// report logs err when the problem differs from the last one logged, and
// the recovery once; a missing or broken file is no reason to log on
// every poll.
func (w *VIPStateWatcher) report(err error) {
	problem := ""
	if err != nil {
		problem = err.Error()
	}
	if problem == w.problem {
		return
	}
	w.problem = problem
	switch {
	case err == nil:
		w.Log.Info("reading this node's vip state file", "path", w.Path)
	case errors.Is(err, vipdir.ErrNoState):
		w.Log.Info("no vip state file: this node's keepalived supervisor (herald-keepalived) has not written one; this node writes no vip holder", "path", w.Path)
	default:
		w.Log.Error(err, "cannot read this node's vip state file; this node writes no vip holder until it can", "path", w.Path)
	}
}
