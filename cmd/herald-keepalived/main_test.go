package main

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/herald-lb/herald/vipdir"
)

// The test binary doubles as a fake keepalived for the command under test:
// with fakeLogEnv set, `-t -f <file>` exits 5 when the file contains
// "BROKEN" (keepalived's status for a config error) and 0 otherwise; any
// other invocation logs "start <pid>", every SIGHUP as "HUP", and SIGTERM
// as "TERM", then exits 0, or SIGUSR1 as "CRASH", then exits 1. No real
// keepalived, no network namespace.
const fakeLogEnv = "HERALD_FAKE_KEEPALIVED_LOG"

// command is herald-keepalived built once for the whole run.
var command string

func TestMain(m *testing.M) {
	if log := os.Getenv(fakeLogEnv); log != "" {
		fakeKeepalived(log)
		return
	}
	os.Exit(buildAndRun(m))
}

func buildAndRun(m *testing.M) int {
	dir, err := os.MkdirTemp("", "herald-keepalived-test-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer os.RemoveAll(dir)
	command = filepath.Join(dir, "herald-keepalived")
	args := []string{"build", "-o", command}
	if raceEnabled {
		args = append(args, "-race")
	}
	if out, err := exec.Command("go", append(args, ".")...).CombinedOutput(); err != nil {
		fmt.Fprintf(os.Stderr, "go build: %v\n%s", err, out)
		return 1
	}
	return m.Run()
}

func fakeKeepalived(log string) {
	args := os.Args[1:]
	for i, a := range args {
		if a == "-t" {
			for j := i; j+1 < len(args); j++ {
				if args[j] == "-f" {
					data, err := os.ReadFile(args[j+1])
					if err != nil || bytes.Contains(data, []byte("BROKEN")) {
						os.Exit(5)
					}
				}
			}
			os.Exit(0)
		}
	}
	f, err := os.OpenFile(log, os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o644)
	if err != nil {
		os.Exit(2)
	}
	sigs := make(chan os.Signal, 4)
	signal.Notify(sigs, syscall.SIGHUP, syscall.SIGTERM, syscall.SIGUSR1)
	fmt.Fprintln(f, "start", os.Getpid())
	for sig := range sigs {
		switch sig {
		case syscall.SIGHUP:
			fmt.Fprintln(f, "HUP")
		case syscall.SIGUSR1:
			fmt.Fprintln(f, "CRASH")
			os.Exit(1)
		default:
			fmt.Fprintln(f, "TERM")
			os.Exit(0)
		}
	}
}

// eventually polls cond every 20 ms until it holds or 10 s have passed.
func eventually(t *testing.T, what string, cond func() bool, detail func() string) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s\n%s", what, detail())
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func freeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

// render writes the candidate as the speaker does: temp file and rename.
func render(t *testing.T, dir, content string) {
	t.Helper()
	tmp := filepath.Join(dir, ".tmp-candidate")
	if err := os.WriteFile(tmp, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(tmp, filepath.Join(dir, vipdir.CandidateName)); err != nil {
		t.Fatal(err)
	}
}

func fileIs(path, want string) func() bool {
	return func() bool {
		data, err := os.ReadFile(path)
		return err == nil && string(data) == want
	}
}

func get(url string) (int, string) {
	resp, err := http.Get(url)
	if err != nil {
		return 0, err.Error()
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(body)
}

func TestCommand(t *testing.T) {
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	tmp := t.TempDir()
	dir := filepath.Join(tmp, "vip") // created by the command
	fakeLog := filepath.Join(tmp, "fake.log")
	addr := freeAddr(t)
	cmd := exec.Command(command, "--dir", dir, "--keepalived", self, "--run-dir", filepath.Join(tmp, "run"),
		"--metrics-bind-address", addr, "--poll-interval", "20ms", "--stop-grace", "5s")
	cmd.Env = append(os.Environ(), fakeLogEnv+"="+fakeLog)
	// Output to a file, not a pipe: keepalived inherits it, and a pipe
	// would keep Wait waiting for a keepalived that outlived the command.
	outPath := filepath.Join(tmp, "out.log")
	out, err := os.Create(outPath)
	if err != nil {
		t.Fatal(err)
	}
	defer out.Close()
	cmd.Stdout, cmd.Stderr = out, out
	// Its own process group, which the cleanup kills; the fake keepalived
	// runs in a group of its own and stops on the parent-death signal.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	var waitErr error
	exited := make(chan struct{})
	go func() {
		waitErr = cmd.Wait()
		close(exited)
	}()
	t.Cleanup(func() {
		_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) // nothing left after a clean exit
		select {
		case <-exited:
		case <-time.After(10 * time.Second):
			t.Error("command not reaped")
		}
	})
	output := func() string {
		data, _ := os.ReadFile(outPath)
		return string(data)
	}
	logs := func() string {
		data, _ := os.ReadFile(fakeLog)
		return "command output:\n" + output() + "\nfake keepalived log:\n" + string(data)
	}
	live := filepath.Join(dir, vipdir.LiveName)
	statePath := filepath.Join(dir, "state.json")

	eventually(t, "an empty state file", fileIs(statePath, `{"vips":{}}`+"\n"), logs)
	// config.json, the verdict the speaker reads back.
	configPath := filepath.Join(dir, vipdir.ConfigName)
	verdictIs := func(live, refused, errPart string) func() bool {
		return func() bool {
			s, err := vipdir.ReadConfigStatus(configPath)
			return err == nil && s.Live == live && s.Refused == refused && strings.Contains(s.Error, errPart) && (errPart == "") == (s.Error == "")
		}
	}
	verdictLogs := func() string {
		data, _ := os.ReadFile(configPath)
		return "config.json: " + string(data) + "\n" + logs()
	}
	eventually(t, "a config status saying nothing runs yet", verdictIs("", "", ""), verdictLogs)

	render(t, dir, "good 1\n")
	eventually(t, "the first config installed", fileIs(live, "good 1\n"), logs)
	eventually(t, "the first config published as live", verdictIs(vipdir.ConfigHash([]byte("good 1\n")), "", ""), verdictLogs)
	// fakeSaid is the fake's log without pids; fakePid the last one.
	fakeSaid := func() string {
		data, _ := os.ReadFile(fakeLog)
		var lines []string
		for _, l := range strings.Split(string(data), "\n") {
			if f := strings.Fields(l); len(f) > 0 {
				lines = append(lines, f[0])
			}
		}
		return strings.Join(lines, " ")
	}
	fakePid := func() int {
		data, _ := os.ReadFile(fakeLog)
		pid := 0
		for _, l := range strings.Split(string(data), "\n") {
			if p, ok := strings.CutPrefix(l, "start "); ok {
				pid, _ = strconv.Atoi(p)
			}
		}
		return pid
	}
	saidIs := func(want string) func() bool { return func() bool { return fakeSaid() == want } }
	eventually(t, "keepalived started", saidIs("start"), logs)

	render(t, dir, "BROKEN\n")
	eventually(t, "the refused config reported", func() bool { return strings.Contains(output(), `"kind":"Refused"`) }, logs)
	if data, _ := os.ReadFile(live); string(data) != "good 1\n" {
		t.Errorf("live config after a refused candidate = %q, want the previous one", data)
	}
	eventually(t, "the refusal published with keepalived's exit status",
		verdictIs(vipdir.ConfigHash([]byte("good 1\n")), vipdir.ConfigHash([]byte("BROKEN\n")), "keepalived -t: exit status 5"), verdictLogs)

	render(t, dir, "good 2\n")
	eventually(t, "the next good config installed and reloaded", func() bool {
		return fileIs(live, "good 2\n")() && saidIs("start HUP")()
	}, logs)
	eventually(t, "the refusal cleared once a later config is accepted", verdictIs(vipdir.ConfigHash([]byte("good 2\n")), "", ""), verdictLogs)

	fifo, err := os.OpenFile(filepath.Join(dir, vipdir.FIFOName), os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer fifo.Close()
	for _, line := range []string{
		`INSTANCE "vip_192.0.2.10" BACKUP 254`,
		`INSTANCE "vip_2001:db8::10" BACKUP 253`,
		`INSTANCE "vip_192.0.2.10" MASTER 254`,
		`INSTANCE "vip_2001:db8::10" DELETED 253`,
		`GROUP "not_ours" MASTER 100`,
	} {
		if _, err := fmt.Fprintln(fifo, line); err != nil {
			t.Fatal(err)
		}
	}
	eventually(t, "the state file to say MASTER", fileIs(statePath, `{"vips":{"192.0.2.10":"MASTER"}}`+"\n"), func() string {
		data, _ := os.ReadFile(statePath)
		return "state file: " + string(data) + "\n" + logs()
	})

	if code, body := get("http://" + addr + "/healthz"); code != http.StatusOK {
		t.Errorf("/healthz = %d %q, want 200", code, body)
	}
	code, body := get("http://" + addr + "/metrics")
	for _, want := range []string{
		`herald_keepalived_events_total{kind="Refused"} 1`,
		`herald_keepalived_events_total{kind="Reloaded"} 1`,
		`herald_keepalived_vip_state{ip="192.0.2.10",state="MASTER"} 1`,
	} {
		if code != http.StatusOK || !strings.Contains(body, want) {
			t.Errorf("/metrics (%d) lacks %s", code, want)
		}
	}

	// keepalived crashes: it says nothing more, so the supervisor must
	// take its VIPs out of the state file and the metrics itself, and
	// start it again.
	if err := syscall.Kill(fakePid(), syscall.SIGUSR1); err != nil {
		t.Fatal(err)
	}
	eventually(t, "keepalived restarted after the crash", saidIs("start HUP CRASH start"), logs)
	if data, _ := os.ReadFile(statePath); string(data) != `{"vips":{"192.0.2.10":"STOP"}}`+"\n" {
		t.Errorf("state file after a crash = %q, want every VIP STOP", data)
	}
	code, body = get("http://" + addr + "/metrics")
	if code != http.StatusOK || !strings.Contains(body, `herald_keepalived_events_total{kind="Exited"} 1`) ||
		strings.Contains(body, `herald_keepalived_vip_state{ip="192.0.2.10"`) {
		t.Errorf("/metrics (%d) after a crash: want one Exited and no state series for the VIP:\n%s", code, body)
	}
	if _, err := fmt.Fprintln(fifo, `INSTANCE "vip_192.0.2.10" BACKUP 254`); err != nil {
		t.Fatal(err)
	}
	eventually(t, "the restarted keepalived's state", fileIs(statePath, `{"vips":{"192.0.2.10":"BACKUP"}}`+"\n"), logs)

	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	select {
	case <-exited:
		if waitErr != nil {
			t.Fatalf("exit after SIGTERM: %v, want status 0\n%s", waitErr, logs())
		}
	case <-time.After(10 * time.Second):
		t.Fatalf("still running 10 s after SIGTERM\n%s", logs())
	}
	if said := fakeSaid(); said != "start HUP CRASH start TERM" {
		t.Errorf("fake keepalived said %q: want it stopped gracefully with SIGTERM", said)
	}
	if data, _ := os.ReadFile(statePath); string(data) != `{"vips":{"192.0.2.10":"STOP"}}`+"\n" {
		t.Errorf("state file after stop = %q, want every VIP STOP", data)
	}
}

func TestCommandRefusesBadStart(t *testing.T) {
	notDir := filepath.Join(t.TempDir(), "file")
	if err := os.WriteFile(notDir, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name     string
		args     []string
		wantCode int
		wantMsg  string
	}{
		{"unknown flag", []string{"--no-such-flag"}, 2, "no-such-flag"},
		{"zero poll interval", []string{"--poll-interval", "0s"}, 1, "--poll-interval 0s: must be positive"},
		{"negative stop grace", []string{"--stop-grace", "-1s"}, 1, "--stop-grace -1s: must be positive"},
		{"directory under a file", []string{"--dir", filepath.Join(notDir, "vip")}, 1, "directory " + filepath.Join(notDir, "vip")},
		{"metrics address unusable", []string{"--dir", t.TempDir(), "--metrics-bind-address", "256.0.0.1:1"}, 1, "metrics endpoint"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cmd := exec.Command(command, append([]string{"--metrics-bind-address", "0"}, tc.args...)...)
			out, err := cmd.CombinedOutput()
			var exit *exec.ExitError
			if !errors.As(err, &exit) || exit.ExitCode() != tc.wantCode {
				t.Fatalf("exit: %v, want status %d\n%s", err, tc.wantCode, out)
			}
			if !strings.Contains(string(out), tc.wantMsg) {
				t.Errorf("output lacks %q:\n%s", tc.wantMsg, out)
			}
		})
	}
}

// TestCommandKilledStopsKeepalived: when the supervisor is killed outright
// (OOM, SIGKILL), its keepalived gets SIGTERM from the kernel and stops
// gracefully, rather than run on unsupervised beside the next one.
func TestCommandKilledStopsKeepalived(t *testing.T) {
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	tmp := t.TempDir()
	dir := filepath.Join(tmp, "vip")
	fakeLog := filepath.Join(tmp, "fake.log")
	p := startSupervisor(t, "supervisor", nil, []string{fakeLogEnv + "=" + fakeLog},
		"--dir", dir, "--keepalived", self, "--run-dir", filepath.Join(tmp, "run"),
		"--metrics-bind-address", "0", "--poll-interval", "20ms")
	logs := func() string {
		data, _ := os.ReadFile(fakeLog)
		return "command output:\n" + p.output() + "\nfake keepalived log:\n" + string(data)
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	render(t, dir, "good 1\n")
	said := func(want string) func() bool {
		return func() bool {
			data, _ := os.ReadFile(fakeLog)
			var words []string
			for _, l := range strings.Split(string(data), "\n") {
				if f := strings.Fields(l); len(f) > 0 {
					words = append(words, f[0])
				}
			}
			return strings.Join(words, " ") == want
		}
	}
	eventually(t, "keepalived started", said("start"), logs)
	if err := syscall.Kill(p.pid(), syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	eventually(t, "keepalived stopped gracefully after its supervisor died", said("start TERM"), logs)
}
