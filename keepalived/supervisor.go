package keepalived

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"time"
)

// Process is one running keepalived as the supervisor drives it: the seam
// between the supervisor's decisions and the OS (ExecProcess in production,
// a fake in tests).
type Process interface {
	// Reload makes keepalived reread its configuration (SIGHUP). Unchanged
	// instances keep their state through it.
	Reload() error
	// Stop asks keepalived to exit gracefully (SIGTERM): it sends
	// priority-0 adverts, so backups take over within ~0.6 s instead of a
	// master-down interval, and removes its VIPs.
	Stop() error
	// Wait blocks until the process has exited and says how.
	Wait() error
}

// Starter starts keepalived reading the configuration file at path.
type Starter func(path string) (Process, error)

// Checker tells whether keepalived would accept the configuration file at
// path; nil means it may be loaded (Exec.Check runs `keepalived -t`). An
// error wrapping ErrConfigRefused is a verdict: that content is not checked
// again until it changes. Any other error (the check could not run) is
// retried on the next nudge.
type Checker func(ctx context.Context, path string) error

// EventKind names what happened to keepalived, for logs, Eip conditions,
// events and metrics (reloads and their result, restarts).
type EventKind string

// The events a Supervisor reports.
const (
	EventStarted      EventKind = "Started"      // keepalived started
	EventStartFailed  EventKind = "StartFailed"  // it could not be started; retried after Backoff
	EventExited       EventKind = "Exited"       // it exited unasked; restarted after Backoff
	EventReloaded     EventKind = "Reloaded"     // a new config was installed and SIGHUP sent
	EventReloadFailed EventKind = "ReloadFailed" // the new config is installed but SIGHUP failed
	EventInstalled    EventKind = "Installed"    // a new config was installed while keepalived is down
	EventRefused      EventKind = "Refused"      // a config failed the check and never reached keepalived
	EventStopped      EventKind = "Stopped"      // it exited after Stop; Err is set when not cleanly
	// A VIP a dead keepalived left on its interface was removed, or could
	// not be (Err); VIP says which.
	EventVIPRemoved      EventKind = "VIPRemoved"
	EventVIPRemoveFailed EventKind = "VIPRemoveFailed"
)

// Verdict is what the supervisor made of the configs it was given: the
// one keepalived runs and the last candidate it refused since. The
// speaker learns from it (vipdir's config status) whether the config it
// rendered reached keepalived.
type Verdict struct {
	// Live is the installed content; nil while there is none.
	Live []byte
	// Refused is the last candidate the Checker refused (ErrConfigRefused);
	// nil once a later one was accepted, or the candidate is Live again.
	Refused []byte
	// Err is the Checker's error for Refused.
	Err error
}

// Event is one report from a Supervisor.
type Event struct {
	Kind EventKind
	// Err says why, for the failures.
	Err error
	// Backoff is the wait before the next start, for StartFailed and Exited.
	Backoff time.Duration
	// VIP is the address, for VIPRemoved and VIPRemoveFailed.
	VIP HeldVIP
}

// Supervisor keeps one keepalived running on the configuration the speaker
// renders, and is all the supervisor DaemonSet's entrypoint does besides
// reading notify_fifo. The speaker writes Candidate (temp file and rename);
// keepalived reads Live, which only the supervisor writes, after the exact
// bytes passed Check. So a config keepalived refuses never reaches it: not
// on the next SIGHUP, and not on a restart after a crash either, which
// would read whatever file keepalived was started with. Verdicts tells
// the speaker which of its configs was installed and which refused.
type Supervisor struct {
	// Candidate is the file the speaker renders into.
	Candidate string
	// Live is the file keepalived reads. A Live file left by a previous
	// supervisor is checked and used at once, so after a restart keepalived
	// comes back without waiting for the speaker.
	Live string
	// TrackDir is Settings.TrackDir, created before keepalived first
	// starts: keepalived drops a track file whose directory is missing, and
	// a Local VIP would then be held whatever its endpoints.
	TrackDir string
	// Start starts keepalived on Live.
	Start Starter
	// Check validates a config before it is installed.
	Check Checker
	// Addresses removes the VIPs a keepalived that did not stop gracefully
	// left on their interfaces (HeldVIP): those of the Live file a
	// previous run left, before keepalived first starts, and those of the
	// configs it was given, whenever it exits, before it is restarted.
	// Only exact host-prefix matches are removed. Nil leaves them.
	Addresses AddressRemover
	// Changed nudges the supervisor to reread Candidate (file events or a
	// ticker); Run also reads it once at the start.
	Changed <-chan struct{}
	// Report receives every event, from Run's goroutine; nil drops them.
	Report func(Event)
	// Verdicts receives the Verdict once at the start, after the live
	// config a previous run left was adopted or not and the candidate
	// checked, and then whenever it changes, from Run's goroutine; nil
	// drops them. A candidate whose check could not run is no verdict.
	Verdicts func(Verdict)
	// MinBackoff and MaxBackoff bound the wait before restarting keepalived
	// after it exits: it doubles on every exit and goes back to MinBackoff
	// once keepalived has run MaxBackoff long. Zero means 500 ms and 30 s.
	MinBackoff, MaxBackoff time.Duration
	// After and Now are time.After and time.Now, replaceable in tests.
	After func(time.Duration) <-chan time.Time
	Now   func() time.Time
}

// supervision is one Run's state, owned by its goroutine.
type supervision struct {
	*Supervisor
	live, refused []byte // installed content, last refused content
	refusedErr    error  // why refused was refused
	// published is the last Verdict handed to Verdicts, nil before the first.
	published *Verdict
	proc      Process
	exited    chan error
	startedAt time.Time
	backoff   time.Duration
	restart   <-chan time.Time // non-nil while a restart is pending
	// held are the VIPs the running keepalived may hold: those of the
	// config it started on, and from a reload on those of the config
	// before and after it (it may die before it has removed the old ones).
	held []HeldVIP
}

// Run supervises until ctx ends, then stops keepalived gracefully and
// waits for it to exit. It returns an error only when the files cannot be
// used at all.
func (s *Supervisor) Run(ctx context.Context) error {
	if s.Candidate == "" || s.Live == "" || s.Start == nil || s.Check == nil {
		return errors.New("keepalived supervisor: Candidate, Live, Start and Check are required")
	}
	if s.TrackDir != "" {
		if err := os.MkdirAll(s.TrackDir, 0o755); err != nil {
			return fmt.Errorf("keepalived supervisor: track directory: %w", err)
		}
	}
	cfg := *s // defaults and a closed Changed must not touch the caller's
	r := &supervision{Supervisor: &cfg}
	r.defaults()
	if err := r.adopt(ctx); err != nil {
		return err
	}
	r.install(ctx)
	r.verdict()
	if r.live != nil {
		r.start()
	}
	for {
		select {
		case <-ctx.Done():
			r.stop()
			return nil
		case _, open := <-r.Changed:
			if !open {
				r.Changed = nil // no more nudges; keep supervising
				continue
			}
			before := r.live
			installed := r.install(ctx)
			r.verdict()
			if !installed {
				continue
			}
			switch {
			case r.proc != nil:
				r.held = unionVIPs(ConfigVIPs(before), ConfigVIPs(r.live))
				if err := r.proc.Reload(); err != nil {
					r.report(Event{Kind: EventReloadFailed, Err: fmt.Errorf("reload keepalived: %w", err)})
				} else {
					r.report(Event{Kind: EventReloaded})
				}
			case r.restart == nil:
				r.start() // the first accepted config
			default:
				r.report(Event{Kind: EventInstalled})
			}
		case err := <-r.exited:
			r.proc, r.exited = nil, nil
			if r.Now().Sub(r.startedAt) >= r.MaxBackoff {
				r.backoff = 0 // it ran long enough to call it stable
			}
			r.scheduleRestart(Event{Kind: EventExited, Err: fmt.Errorf("keepalived exited: %w", exitErr(err))})
			r.removeStale(r.held) // before the restart: nothing else runs meanwhile
			r.held = nil
		case <-r.restart:
			r.restart = nil
			r.start()
		}
	}
}

func (r *supervision) defaults() {
	if r.MinBackoff <= 0 {
		r.MinBackoff = 500 * time.Millisecond
	}
	if r.MaxBackoff < r.MinBackoff {
		r.MaxBackoff = max(30*time.Second, r.MinBackoff)
	}
	if r.After == nil {
		r.After = time.After
	}
	if r.Now == nil {
		r.Now = time.Now
	}
}

// adopt takes over the Live file a previous supervisor left, if it still
// passes the check (keepalived may have been upgraded since).
func (r *supervision) adopt(ctx context.Context) error {
	data, err := os.ReadFile(r.Live)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return nil
	case err != nil:
		return fmt.Errorf("keepalived supervisor: read live config: %w", err)
	}
	// The previous keepalived ran this file; if it was killed, its VIPs
	// are still up, whether or not the file passes the check today.
	r.removeStale(ConfigVIPs(data))
	if err := r.Check(ctx, r.Live); err != nil {
		r.report(Event{Kind: EventRefused, Err: fmt.Errorf("live config %s left by a previous run: %w", r.Live, err)})
		return nil
	}
	r.live = data
	return nil
}

// install checks Candidate and makes it Live when its content is new and
// passes; it reports whether Live changed. The exact bytes that are checked
// are the ones installed (a staged copy next to Live, renamed over it), so
// a speaker rewriting Candidate meanwhile cannot slip a config past the
// check. A refused content is not checked or reported again until it
// changes; one whose check failed to run is retried.
func (r *supervision) install(ctx context.Context) bool {
	data, err := os.ReadFile(r.Candidate)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return false // nothing rendered yet
	case err != nil:
		r.report(Event{Kind: EventRefused, Err: fmt.Errorf("read candidate config: %w", err)})
		return false
	case bytes.Equal(data, r.live):
		// The speaker is back at the running config: whatever it
		// rendered in between, nothing it wants is refused now.
		r.refused, r.refusedErr = nil, nil
		return false
	case r.refused != nil && bytes.Equal(data, r.refused):
		return false
	}
	stage := r.Live + ".check"
	if err := os.WriteFile(stage, data, 0o644); err != nil {
		r.report(Event{Kind: EventRefused, Err: fmt.Errorf("stage candidate config: %w", err)})
		return false
	}
	if err := r.Check(ctx, stage); err != nil {
		_ = os.Remove(stage)
		if errors.Is(err, ErrConfigRefused) {
			r.refused, r.refusedErr = data, err
		}
		r.report(Event{Kind: EventRefused, Err: fmt.Errorf("candidate config %s: %w", r.Candidate, err)})
		return false
	}
	if err := os.Rename(stage, r.Live); err != nil {
		_ = os.Remove(stage)
		r.report(Event{Kind: EventRefused, Err: fmt.Errorf("install candidate config: %w", err)})
		return false
	}
	r.live, r.refused, r.refusedErr = data, nil, nil
	return true
}

// verdict hands the current Verdict to Verdicts when it differs from the
// last one handed over, or none was.
func (r *supervision) verdict() {
	v := Verdict{Live: r.live, Refused: r.refused, Err: r.refusedErr}
	if p := r.published; p != nil && bytes.Equal(p.Live, v.Live) && (p.Live == nil) == (v.Live == nil) &&
		bytes.Equal(p.Refused, v.Refused) && (p.Refused == nil) == (v.Refused == nil) && errText(p.Err) == errText(v.Err) {
		return
	}
	r.published = &v
	if r.Verdicts != nil {
		r.Verdicts(v)
	}
}

func errText(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}

func (r *supervision) start() {
	p, err := r.Start(r.Live)
	if err != nil {
		r.scheduleRestart(Event{Kind: EventStartFailed, Err: fmt.Errorf("start keepalived: %w", err)})
		return
	}
	r.proc, r.startedAt, r.held = p, r.Now(), ConfigVIPs(r.live)
	r.exited = make(chan error, 1)
	go func(exited chan<- error) { exited <- p.Wait() }(r.exited)
	r.report(Event{Kind: EventStarted})
}

// scheduleRestart reports ev with the wait before the next start, which
// doubles on every failure up to MaxBackoff.
func (r *supervision) scheduleRestart(ev Event) {
	r.backoff = min(max(2*r.backoff, r.MinBackoff), r.MaxBackoff)
	ev.Backoff = r.backoff
	r.restart = r.After(r.backoff)
	r.report(ev)
}

// stop ends keepalived gracefully and waits for it, so that the pod exits
// only after its VIPs have been handed over and removed.
func (r *supervision) stop() {
	if r.proc == nil {
		return
	}
	if err := r.proc.Stop(); err != nil {
		r.report(Event{Kind: EventStopped, Err: fmt.Errorf("stop keepalived: %w", err)})
	}
	if err := <-r.exited; err != nil {
		r.report(Event{Kind: EventStopped, Err: fmt.Errorf("keepalived stopped: %w", err)})
	} else {
		r.report(Event{Kind: EventStopped})
	}
	// A graceful stop removed them; one killed after the grace did not.
	r.removeStale(r.held)
	r.held = nil
}

// removeStale deletes vips from their interfaces where a dead keepalived
// left them, reporting each address it removed and each failure.
func (r *supervision) removeStale(vips []HeldVIP) {
	if r.Addresses == nil {
		return
	}
	for _, v := range vips {
		removed, err := r.Addresses.RemoveAddress(v.Interface, v.Addr)
		switch {
		case err != nil:
			r.report(Event{Kind: EventVIPRemoveFailed, VIP: v, Err: fmt.Errorf("remove stale vip %s from %s: %w", v.Addr, v.Interface, err)})
		case removed:
			r.report(Event{Kind: EventVIPRemoved, VIP: v})
		}
	}
}

func (r *supervision) report(ev Event) {
	if r.Report != nil {
		r.Report(ev)
	}
}

// exitErr turns a clean exit into an error too: keepalived exiting unasked
// is a failure even with status 0.
func exitErr(err error) error {
	if err == nil {
		return errors.New("exit status 0")
	}
	return err
}
