package keepalived

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// fakeProcess is a keepalived that counts reloads and exits when told.
type fakeProcess struct {
	config    string // the live config's content when it started
	reloads   atomic.Int32
	stopped   atomic.Bool
	reloadErr error
	exit      chan error
}

func (p *fakeProcess) Reload() error { p.reloads.Add(1); return p.reloadErr }
func (p *fakeProcess) Stop() error {
	p.stopped.Store(true)
	p.exit <- nil
	return nil
}
func (p *fakeProcess) Wait() error { return <-p.exit }

// crash makes the process exit unasked.
func (p *fakeProcess) crash() { p.exit <- errors.New("signal: segmentation fault") }

type fakeTimer struct {
	d    time.Duration
	fire chan time.Time
}

// harness runs a Supervisor over fakes: a checker that refuses any config
// containing "refuse", a starter that records what each start read, timers
// the test fires, and a clock the test moves.
type harness struct {
	t         *testing.T
	sup       *Supervisor
	events    chan Event
	verdicts  chan Verdict
	starts    chan *fakeProcess
	timers    chan fakeTimer
	changed   chan struct{}
	startErrs chan error // a value here fails the next start
	checkErrs chan error // a value here fails the next check of a good config
	now       atomic.Int64
	mu        sync.Mutex
	checked   []string
	runErr    chan error
	cancel    context.CancelFunc
}

func newHarness(t *testing.T) *harness {
	dir := t.TempDir()
	h := &harness{
		t:         t,
		events:    make(chan Event, 64),
		verdicts:  make(chan Verdict, 64),
		starts:    make(chan *fakeProcess, 16),
		timers:    make(chan fakeTimer, 16),
		changed:   make(chan struct{}),
		startErrs: make(chan error, 4),
		checkErrs: make(chan error, 4),
		runErr:    make(chan error, 1),
	}
	h.sup = &Supervisor{
		Candidate: filepath.Join(dir, "keepalived.conf"),
		Live:      filepath.Join(dir, "live.conf"),
		TrackDir:  filepath.Join(dir, "run", "track"),
		Changed:   h.changed,
		Report:    func(ev Event) { h.events <- ev },
		Verdicts:  func(v Verdict) { h.verdicts <- v },
		Start: func(path string) (Process, error) {
			select {
			case err := <-h.startErrs:
				return nil, err
			default:
			}
			data, err := os.ReadFile(path)
			if err != nil {
				return nil, err
			}
			p := &fakeProcess{config: string(data), exit: make(chan error, 2)}
			h.starts <- p
			return p, nil
		},
		Check: func(_ context.Context, path string) error {
			data, err := os.ReadFile(path)
			if err != nil {
				return err
			}
			h.mu.Lock()
			h.checked = append(h.checked, string(data))
			h.mu.Unlock()
			if strings.Contains(string(data), "refuse") {
				return fmt.Errorf("%w: exit status 5", ErrConfigRefused)
			}
			select {
			case err := <-h.checkErrs:
				return err
			default:
				return nil
			}
		},
		MinBackoff: time.Second,
		MaxBackoff: 4 * time.Second,
		After: func(d time.Duration) <-chan time.Time {
			c := make(chan time.Time, 1)
			h.timers <- fakeTimer{d, c}
			return c
		},
		Now: func() time.Time { return time.Unix(0, h.now.Load()) },
	}
	return h
}

func (h *harness) run() {
	ctx, cancel := context.WithCancel(context.Background())
	h.cancel = cancel
	go func() { h.runErr <- h.sup.Run(ctx) }()
	h.t.Cleanup(func() {
		cancel()
		select {
		case <-h.runErr:
		case <-time.After(5 * time.Second):
			h.t.Error("Run did not return after cancel")
		}
	})
}

// render writes the candidate as the speaker does: temp file and rename.
func (h *harness) render(content string) {
	h.t.Helper()
	tmp := h.sup.Candidate + ".tmp"
	if err := os.WriteFile(tmp, []byte(content), 0o644); err != nil {
		h.t.Fatal(err)
	}
	if err := os.Rename(tmp, h.sup.Candidate); err != nil {
		h.t.Fatal(err)
	}
}

func (h *harness) nudge() {
	h.t.Helper()
	select {
	case h.changed <- struct{}{}:
	case <-time.After(5 * time.Second):
		h.t.Fatal("supervisor did not take the nudge")
	}
}

// expect waits for the next event, which must be of kind.
func (h *harness) expect(kind EventKind) Event {
	h.t.Helper()
	select {
	case ev := <-h.events:
		if ev.Kind != kind {
			h.t.Fatalf("event %s (err %v), want %s", ev.Kind, ev.Err, kind)
		}
		return ev
	case <-time.After(5 * time.Second):
		h.t.Fatalf("no %s event within 5 s", kind)
		return Event{}
	}
}

// verdict waits for the next Verdict: live and refused as strings, "-"
// for nil, and whether it carries an error.
func (h *harness) verdict() (live, refused string, hasErr bool) {
	h.t.Helper()
	str := func(b []byte) string {
		if b == nil {
			return "-"
		}
		return string(b)
	}
	select {
	case v := <-h.verdicts:
		return str(v.Live), str(v.Refused), v.Err != nil
	case <-time.After(5 * time.Second):
		h.t.Fatal("no verdict within 5 s")
		return "", "", false
	}
}

// noVerdict fails if a Verdict is waiting.
func (h *harness) noVerdict() {
	h.t.Helper()
	select {
	case v := <-h.verdicts:
		h.t.Errorf("unexpected verdict: live %q, refused %q", v.Live, v.Refused)
	default:
	}
}

func (h *harness) started() *fakeProcess {
	h.t.Helper()
	h.expect(EventStarted)
	return <-h.starts
}

func (h *harness) timer(want time.Duration) fakeTimer {
	h.t.Helper()
	select {
	case tm := <-h.timers:
		if tm.d != want {
			h.t.Fatalf("backoff %v, want %v", tm.d, want)
		}
		return tm
	case <-time.After(5 * time.Second):
		h.t.Fatal("no restart scheduled")
		return fakeTimer{}
	}
}

func (h *harness) live() string {
	h.t.Helper()
	data, err := os.ReadFile(h.sup.Live)
	if err != nil {
		h.t.Fatal(err)
	}
	return string(data)
}

func (h *harness) checks() []string {
	h.mu.Lock()
	defer h.mu.Unlock()
	return append([]string(nil), h.checked...)
}
