package keepalived

import (
	"context"
	"errors"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

func TestSupervisorStartsOnFirstAcceptedConfig(t *testing.T) {
	h := newHarness(t)
	h.run()
	h.render("A")
	h.nudge()
	if p := h.started(); p.config != "A" {
		t.Errorf("keepalived started on %q, want A", p.config)
	}
	if got := h.live(); got != "A" {
		t.Errorf("live config %q, want A", got)
	}
	if fi, err := os.Stat(h.sup.TrackDir); err != nil || !fi.IsDir() {
		t.Errorf("track directory not created before keepalived started: %v", err)
	}
}

func TestSupervisorReloadsOnlyOnChange(t *testing.T) {
	h := newHarness(t)
	h.render("A")
	h.run()
	p := h.started()
	for range 3 {
		h.render("A") // rewritten, same content
		h.nudge()
	}
	h.render("B")
	h.nudge()
	h.expect(EventReloaded) // the next event: the nudges above reported nothing
	if n := p.reloads.Load(); n != 1 {
		t.Errorf("%d reloads, want 1", n)
	}
	if diff := cmp.Diff([]string{"A", "B"}, h.checks()); diff != "" {
		t.Errorf("configs checked (-want +got):\n%s", diff)
	}
	if got := h.live(); got != "B" {
		t.Errorf("live config %q, want B", got)
	}
}

func TestSupervisorKeepsRefusedConfigOut(t *testing.T) {
	h := newHarness(t)
	h.render("A")
	h.run()
	p := h.started()

	h.render("B refuse")
	h.nudge()
	ev := h.expect(EventRefused)
	if ev.Err == nil || !strings.Contains(ev.Err.Error(), "exit status 5") {
		t.Errorf("refusal error %v, want the checker's", ev.Err)
	}
	h.nudge() // the same refused content: neither checked nor reported again
	if got := h.live(); got != "A" || p.reloads.Load() != 0 {
		t.Errorf("live config %q after %d reloads; want A kept, no reload", got, p.reloads.Load())
	}

	// A crash now restarts keepalived on the last accepted config.
	p.crash()
	h.expect(EventExited)
	h.timer(time.Second).fire <- time.Time{}
	if p := h.started(); p.config != "A" {
		t.Errorf("restarted on %q, want A", p.config)
	}

	h.render("C")
	h.nudge()
	h.expect(EventReloaded)
	if diff := cmp.Diff([]string{"A", "B refuse", "C"}, h.checks()); diff != "" {
		t.Errorf("configs checked (-want +got):\n%s", diff)
	}
	if _, err := os.Stat(h.sup.Live + ".check"); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("staged copy left behind: %v", err)
	}
}

func TestSupervisorRestartsWithBackoff(t *testing.T) {
	h := newHarness(t)
	h.render("A")
	h.run()
	p := h.started()
	for _, want := range []time.Duration{time.Second, 2 * time.Second, 4 * time.Second, 4 * time.Second} {
		p.crash()
		if ev := h.expect(EventExited); ev.Backoff != want || ev.Err == nil {
			t.Fatalf("exit event %+v, want backoff %v and an error", ev, want)
		}
		h.timer(want).fire <- time.Time{}
		p = h.started()
	}

	// A start that fails is retried, still backing off.
	p.crash()
	h.expect(EventExited)
	h.startErrs <- errors.New("exec: no such file")
	h.timer(4 * time.Second).fire <- time.Time{}
	h.expect(EventStartFailed)
	h.timer(4 * time.Second).fire <- time.Time{}
	p = h.started()

	// Once keepalived has run MaxBackoff long, the backoff starts over.
	h.now.Add(int64(4 * time.Second))
	p.crash()
	h.expect(EventExited)
	h.timer(time.Second).fire <- time.Time{}
	if p = h.started(); p.config != "A" {
		t.Errorf("restarted on %q, want A", p.config)
	}
}

func TestSupervisorInstallsWhileDown(t *testing.T) {
	h := newHarness(t)
	h.render("A")
	h.run()
	h.started().crash()
	h.expect(EventExited)
	tm := h.timer(time.Second)
	h.render("B")
	h.nudge()
	h.expect(EventInstalled) // no start before the backoff ends
	tm.fire <- time.Time{}
	if p := h.started(); p.config != "B" {
		t.Errorf("restarted on %q, want B", p.config)
	}
}

func TestSupervisorReportsFailedReload(t *testing.T) {
	h := newHarness(t)
	h.render("A")
	h.run()
	p := h.started()
	p.reloadErr = errors.New("os: process already finished")
	h.render("B")
	h.nudge()
	if ev := h.expect(EventReloadFailed); ev.Err == nil || !strings.Contains(ev.Err.Error(), "already finished") {
		t.Errorf("reload failure %v", ev.Err)
	}
}

func TestSupervisorStopsGracefully(t *testing.T) {
	h := newHarness(t)
	h.render("A")
	h.run()
	p := h.started()
	h.cancel()
	if ev := h.expect(EventStopped); ev.Err != nil {
		t.Errorf("stopped with %v", ev.Err)
	}
	select {
	case err := <-h.runErr:
		if err != nil {
			t.Errorf("Run = %v", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Run did not return")
	}
	h.runErr <- nil // for the cleanup
	if !p.stopped.Load() {
		t.Error("keepalived was not asked to stop")
	}
	select {
	case <-h.starts:
		t.Error("keepalived was started again after stopping")
	default:
	}
}

// TestSupervisorAdoptsLiveConfig: a supervisor that restarts brings
// keepalived back on the config its predecessor accepted, before the
// speaker renders anything, but not if keepalived now refuses it.
func TestSupervisorAdoptsLiveConfig(t *testing.T) {
	t.Run("accepted", func(t *testing.T) {
		h := newHarness(t)
		if err := os.WriteFile(h.sup.Live, []byte("X"), 0o644); err != nil {
			t.Fatal(err)
		}
		h.run()
		if p := h.started(); p.config != "X" {
			t.Errorf("started on %q, want X", p.config)
		}
	})
	t.Run("refused", func(t *testing.T) {
		h := newHarness(t)
		if err := os.WriteFile(h.sup.Live, []byte("X refuse"), 0o644); err != nil {
			t.Fatal(err)
		}
		h.run()
		h.expect(EventRefused)
		h.render("A")
		h.nudge()
		if p := h.started(); p.config != "A" {
			t.Errorf("started on %q, want A", p.config)
		}
	})
}

func TestSupervisorNeedsItsParts(t *testing.T) {
	if err := (&Supervisor{}).Run(context.Background()); err == nil {
		t.Error("Run without files, starter and checker: no error")
	}
}

// TestSupervisorRetriesAFailedCheck: a check that could not run (keepalived
// missing for a moment, a timeout) is no verdict on the config, so the same
// content is checked again on the next nudge, unlike a refusal.
func TestSupervisorRetriesAFailedCheck(t *testing.T) {
	h := newHarness(t)
	h.render("A")
	h.run()
	p := h.started()
	h.checkErrs <- errors.New("exec: keepalived: executable file not found")
	h.render("B")
	h.nudge()
	if ev := h.expect(EventRefused); errors.Is(ev.Err, ErrConfigRefused) {
		t.Errorf("a failed check reported as a refusal: %v", ev.Err)
	}
	h.nudge()
	h.expect(EventReloaded)
	if got := h.live(); got != "B" || p.reloads.Load() != 1 {
		t.Errorf("live config %q after %d reloads, want B after 1", got, p.reloads.Load())
	}
}

// TestSupervisorOutlivesItsNudges: a closed Changed (the watcher gave up)
// leaves keepalived supervised, and Run does not spin.
func TestSupervisorOutlivesItsNudges(t *testing.T) {
	h := newHarness(t)
	h.render("A")
	h.run()
	p := h.started()
	close(h.changed)
	p.crash()
	h.expect(EventExited)
	h.timer(time.Second).fire <- time.Time{}
	h.started()
	if h.sup.MinBackoff != time.Second || h.sup.Changed == nil {
		t.Error("Run changed the caller's Supervisor")
	}
}

// TestSupervisorVerdicts: the supervisor tells the speaker, through
// Verdicts, which config keepalived runs and which candidate it refused,
// once at the start and then only when that changes; a check that could
// not run is no verdict.
func TestSupervisorVerdicts(t *testing.T) {
	type want struct {
		live, refused string
		err           bool
	}
	h := newHarness(t)
	expect := func(what string, w want) {
		t.Helper()
		live, refused, hasErr := h.verdict()
		if got := (want{live, refused, hasErr}); got != w {
			t.Errorf("%s: verdict %+v, want %+v", what, got, w)
		}
	}
	if err := os.WriteFile(h.sup.Live, []byte("A"), 0o644); err != nil {
		t.Fatal(err)
	}
	h.run() // no candidate yet: the adopted live config alone
	expect("start", want{"A", "-", false})
	h.started()

	h.render("B refuse")
	h.nudge()
	h.expect(EventRefused)
	expect("refused", want{"A", "B refuse", true})
	h.nudge() // the same refused content: no new verdict
	h.render("A")
	h.nudge() // back to the running config: the refusal is moot
	expect("back at the live config", want{"A", "-", false})

	h.render("C refuse")
	h.nudge()
	h.expect(EventRefused)
	expect("refused again", want{"A", "C refuse", true})
	h.checkErrs <- errors.New("exec: keepalived: not found")
	h.render("D")
	h.nudge()
	h.expect(EventRefused) // reported, but no verdict: retried on the next nudge
	h.nudge()
	h.expect(EventReloaded)
	expect("accepted", want{"D", "-", false})
	h.noVerdict()
}

// TestSupervisorVerdictAtStartWithoutLiveConfig: a fresh node publishes
// that nothing runs yet, and a first candidate refused, with no live
// config at all.
func TestSupervisorVerdictAtStartWithoutLiveConfig(t *testing.T) {
	h := newHarness(t)
	h.render("A refuse")
	h.run()
	h.expect(EventRefused)
	if live, refused, hasErr := h.verdict(); live != "-" || refused != "A refuse" || !hasErr {
		t.Errorf("verdict live %q refused %q (error %v), want none live and A refused with its error", live, refused, hasErr)
	}
	h.noVerdict()
}
