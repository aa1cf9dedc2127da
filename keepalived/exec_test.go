package keepalived

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// The test binary doubles as a fake keepalived for Exec: with
// fakeKeepalivedEnv set it appends its arguments and every SIGHUP to the
// file named there, exits 0 on SIGTERM (or ignores it, with
// fakeKeepalivedIgnoreTerm), and never parses test flags.
const (
	fakeKeepalivedEnv        = "HERALD_FAKE_KEEPALIVED_LOG"
	fakeKeepalivedIgnoreTerm = "HERALD_FAKE_KEEPALIVED_IGNORE_TERM"
	// fakeKeepalivedChild makes the fake fork a "VRRP child" (the test
	// binary again, in the fake's process group, ignoring SIGTERM like a
	// child that is slow to stop) and log "child <pid>".
	fakeKeepalivedChild = "HERALD_FAKE_KEEPALIVED_CHILD"
	fakeChildEnv        = "HERALD_FAKE_KEEPALIVED_IS_CHILD"
)

func TestMain(m *testing.M) {
	if os.Getenv(fakeChildEnv) != "" {
		signal.Ignore(syscall.SIGTERM)
		select {} // until killed
	}
	if log := os.Getenv(fakeKeepalivedEnv); log != "" {
		fakeKeepalived(log)
		return
	}
	os.Exit(m.Run())
}

func fakeKeepalived(log string) {
	f, err := os.OpenFile(log, os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o644)
	if err != nil {
		os.Exit(2)
	}
	sigs := make(chan os.Signal, 4)
	signal.Notify(sigs, syscall.SIGHUP, syscall.SIGTERM)
	fmt.Fprintf(f, "args %s\n", strings.Join(os.Args[1:], " "))
	if os.Getenv(fakeKeepalivedChild) != "" {
		child := exec.Command(os.Args[0])
		child.Env = append(os.Environ(), fakeChildEnv+"=1")
		if err := child.Start(); err != nil {
			os.Exit(3)
		}
		fmt.Fprintf(f, "child %d\n", child.Process.Pid)
	}
	for sig := range sigs {
		switch {
		case sig == syscall.SIGHUP:
			fmt.Fprintln(f, "HUP")
		case os.Getenv(fakeKeepalivedIgnoreTerm) == "":
			fmt.Fprintln(f, "TERM")
			os.Exit(0)
		}
	}
}

// fakeExec is an Exec running the fake keepalived, and the file it logs to.
func fakeExec(t *testing.T) (Exec, string) {
	t.Helper()
	dir := t.TempDir()
	log := filepath.Join(dir, "fake.log")
	t.Setenv(fakeKeepalivedEnv, log)
	return Exec{Binary: os.Args[0], RunDir: filepath.Join(dir, "run")}, log
}

// waitForLog polls the fake's log until it holds want lines starting with
// prefix.
func waitForLog(t *testing.T, log, prefix string, want int) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		data, _ := os.ReadFile(log)
		n := 0
		for _, line := range strings.Split(string(data), "\n") {
			if strings.HasPrefix(line, prefix) {
				n++
			}
		}
		if n >= want {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("fake keepalived logged %q %d times, want %d; log:\n%s", prefix, n, want, data)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// start starts the fake and makes sure it is gone when the test ends,
// whatever the test did.
func start(t *testing.T, e Exec, path string) Process {
	t.Helper()
	p, err := e.Start(path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = p.(*execProcess).cmd.Process.Kill()
		_ = p.Wait()
	})
	return p
}

func waitExit(t *testing.T, p Process) error {
	t.Helper()
	done := make(chan error, 1)
	go func() { done <- p.Wait() }()
	select {
	case err := <-done:
		return err
	case <-time.After(10 * time.Second):
		t.Fatal("process did not exit")
		return nil
	}
}

func TestExecProcess(t *testing.T) {
	e, log := fakeExec(t)
	p := start(t, e, "/etc/herald/keepalived.conf")
	waitForLog(t, log, "args "+strings.Join(e.Args("/etc/herald/keepalived.conf"), " "), 1)
	for i := 1; i <= 2; i++ {
		if err := p.Reload(); err != nil {
			t.Fatalf("reload %d: %v", i, err)
		}
		waitForLog(t, log, "HUP", i)
	}
	if err := p.Stop(); err != nil {
		t.Fatal(err)
	}
	if err := waitExit(t, p); err != nil {
		t.Errorf("graceful stop: exit %v, want status 0", err)
	}
	waitForLog(t, log, "TERM", 1)
	if err := p.Reload(); !errors.Is(err, os.ErrProcessDone) {
		t.Errorf("reload after exit: %v, want ErrProcessDone", err)
	}
}

func TestExecProcessKilledAfterGrace(t *testing.T) {
	e, log := fakeExec(t)
	t.Setenv(fakeKeepalivedIgnoreTerm, "1")
	e.StopGrace = 100 * time.Millisecond
	p := start(t, e, "/dev/null")
	waitForLog(t, log, "args", 1)
	if err := p.Stop(); err != nil {
		t.Fatal(err)
	}
	var exit *exec.ExitError
	if err := waitExit(t, p); !errors.As(err, &exit) || exit.ExitCode() != -1 {
		t.Errorf("exit %v, want killed by a signal", err)
	}
}

// TestExecKillsTheWholeGroup: keepalived's VRRP child must not outlive
// its parent, whether the parent was killed unasked (Wait) or after the
// stop grace (Stop): either way nothing of the group is left.
func TestExecKillsTheWholeGroup(t *testing.T) {
	for _, tc := range []struct {
		name string
		end  func(t *testing.T, p Process)
	}{
		{"parent killed", func(t *testing.T, p Process) {
			if err := p.(*execProcess).cmd.Process.Kill(); err != nil {
				t.Fatal(err)
			}
		}},
		{"stop grace over", func(t *testing.T, p Process) {
			if err := p.Stop(); err != nil {
				t.Fatal(err)
			}
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e, log := fakeExec(t)
			t.Setenv(fakeKeepalivedChild, "1")
			t.Setenv(fakeKeepalivedIgnoreTerm, "1")
			e.StopGrace = 100 * time.Millisecond
			p := start(t, e, "/dev/null")
			waitForLog(t, log, "child ", 1)
			data, _ := os.ReadFile(log)
			var child int
			for _, line := range strings.Split(string(data), "\n") {
				if n, err := fmt.Sscanf(line, "child %d", &child); n == 1 && err == nil {
					break
				}
			}
			if child == 0 {
				t.Fatalf("no child pid in the log:\n%s", data)
			}
			t.Cleanup(func() { _ = syscall.Kill(child, syscall.SIGKILL) })
			tc.end(t, p)
			_ = waitExit(t, p)
			deadline := time.Now().Add(5 * time.Second)
			for alive(child) {
				if time.Now().After(deadline) {
					t.Fatalf("the child (pid %d) outlived keepalived", child)
				}
				time.Sleep(10 * time.Millisecond)
			}
		})
	}
}

// alive reports whether pid runs and is not a zombie waiting for init.
func alive(pid int) bool {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return false
	}
	// pid (comm) state ...: the state follows the last ')'.
	s := string(data)
	i := strings.LastIndexByte(s, ')')
	return i < 0 || i+2 >= len(s) || s[i+2] != 'Z'
}

// TestSupervisorOverExec wires the Supervisor to a real child process: a
// new config reaches it as SIGHUP, and cancelling stops it.
func TestSupervisorOverExec(t *testing.T) {
	e, log := fakeExec(t)
	e.StopGrace = time.Second // a failing test still ends the fake soon
	dir := t.TempDir()
	changed := make(chan struct{})
	events := make(chan Event, 16)
	s := &Supervisor{
		Candidate: filepath.Join(dir, "keepalived.conf"),
		Live:      filepath.Join(dir, "live.conf"),
		Start:     e.Start,
		Check:     func(context.Context, string) error { return nil },
		Changed:   changed,
		Report:    func(ev Event) { events <- ev },
	}
	if err := os.WriteFile(s.Candidate, []byte("A"), 0o644); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	runErr := make(chan error, 1)
	go func() { runErr <- s.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		select {
		case <-runErr:
		case <-time.After(10 * time.Second):
		}
	})
	next := func(want EventKind) {
		t.Helper()
		select {
		case ev := <-events:
			if ev.Kind != want {
				t.Fatalf("event %s (%v), want %s", ev.Kind, ev.Err, want)
			}
		case <-time.After(10 * time.Second):
			t.Fatalf("no %s event", want)
		}
	}
	next(EventStarted)
	waitForLog(t, log, "args", 1)
	if err := os.WriteFile(s.Candidate, []byte("B"), 0o644); err != nil {
		t.Fatal(err)
	}
	changed <- struct{}{}
	next(EventReloaded)
	waitForLog(t, log, "HUP", 1)
	cancel()
	next(EventStopped)
	if err := <-runErr; err != nil {
		t.Errorf("Run = %v", err)
	}
	runErr <- nil // for the cleanup
	waitForLog(t, log, "TERM", 1)
}

// TestExecCheck runs the real `keepalived -t`, and shows why the file's
// existence is checked first.
func TestExecCheck(t *testing.T) {
	bin, err := exec.LookPath("/usr/sbin/keepalived")
	if err != nil {
		t.Skip("keepalived is not installed")
	}
	e := Exec{Binary: bin}
	dir := t.TempDir()
	good := filepath.Join(dir, "good.conf")
	conf, err := os.ReadFile("testdata/ipv4.conf")
	if err != nil {
		t.Fatal(err)
	}
	iface := localInterface(t)
	conf = []byte(strings.NewReplacer("eth0", iface, "vlan100", iface).Replace(string(conf)))
	if err := os.WriteFile(good, conf, 0o644); err != nil {
		t.Fatal(err)
	}
	bad := filepath.Join(dir, "bad.conf")
	if err := os.WriteFile(bad, []byte("vrrp_instance x {\n    interface "+iface+"\n    virtual_router_id 300\n}\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if err := e.Check(ctx, good); err != nil {
		t.Errorf("good config: %v", err)
	}
	err = e.Check(ctx, bad)
	if !errors.Is(err, ErrConfigRefused) || !strings.Contains(err.Error(), "exit status 5") {
		t.Errorf("bad config: %v, want ErrConfigRefused with exit status 5", err)
	}
	// What the speaker quotes: keepalived's words about the line, not
	// where the supervisor staged the file.
	if reason := RefusalReason(err); !strings.Contains(reason, "exit status 5") || !strings.Contains(reason, "(bad.conf: Line 3)") || strings.Contains(reason, dir) {
		t.Errorf("refusal reason %q, want the exit status and keepalived's words without the path %s", reason, dir)
	}
	missing := filepath.Join(dir, "missing.conf")
	if err := exec.Command(bin, "-t", "-f", missing).Run(); err != nil {
		t.Logf("keepalived -t on a missing file now fails by itself: %v", err)
	}
	if err := e.Check(ctx, missing); !errors.Is(err, ErrConfigRefused) {
		t.Errorf("missing config: %v, want ErrConfigRefused", err)
	}
	noBinary := Exec{Binary: filepath.Join(dir, "no-keepalived")}
	if err := noBinary.Check(ctx, good); err == nil || errors.Is(err, ErrConfigRefused) {
		t.Errorf("missing binary: %v, want an error that is not a refusal", err)
	}
}
