//go:build linux

package main

import (
	"context"
	"fmt"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/herald-lb/herald/keepalived"
	"github.com/herald-lb/herald/vipdir"
)

const realKeepalived = "/usr/sbin/keepalived"

// The real-keepalived testbed: namespace A runs the supervisor on va
// (192.0.2.1/24, 2001:db8::1/64), namespace B is the client on vb (.2).
var (
	nsVIP4  = netip.MustParseAddr("192.0.2.100")
	nsVIP6  = netip.MustParseAddr("2001:db8::100")
	nsDecoy = "192.0.2.101/32" // on va, in no config: must never be removed
)

// TestRealKeepalivedNetns runs herald-keepalived with the real keepalived
// in a network namespace of its own and checks the contract the speaker
// and the pod lifecycle rely on: a rendered config is installed and its
// instances become MASTER alone (state.json, the addresses on the
// interface, answers to a client); SIGTERM stops everything and removes
// the addresses; a SIGKILLed supervisor leaves no keepalived and no
// address behind, and the next one starts exactly one keepalived; a
// keepalived killed outright has its stale addresses removed by the
// supervisor before it is restarted. Nothing else on the interface is
// touched.
func TestRealKeepalivedNetns(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("SKIPPED: TestRealKeepalivedNetns needs root (network namespaces, veth, VRRP). " +
			"herald-keepalived with the real keepalived is NOT tested in this run.")
	}
	for _, tool := range []string{"ip", "ping", realKeepalived} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Skipf("SKIPPED: TestRealKeepalivedNetns needs %s (make deps): %v", tool, err)
		}
	}
	tb := newKATestbed(t)
	conf, err := keepalived.Render(keepalived.Config{
		Node: "a",
		Settings: keepalived.Settings{
			AdvertInterval: 100 * time.Millisecond, // MASTER ~0.4 s after start
			Participants:   1,
			TrackDir:       vipdir.Dir(tb.dir).Track(),
			NotifyFIFO:     vipdir.Dir(tb.dir).FIFO(),
		},
		VIPs: []keepalived.VIP{
			{Addr: nsVIP4, VRID: 51, Interface: "va", Ranked: []string{"a"}},
			{Addr: nsVIP6, VRID: 51, Interface: "va", Ranked: []string{"a"}},
		},
	})
	if err != nil {
		t.Fatal(err)
	}

	// The steps build on each other: stop at the first that fails.
	if !t.Run("master alone, then SIGTERM", func(t *testing.T) {
		s := tb.start(t, "supervisor-1")
		render(t, tb.dir, string(conf))
		tb.waitServing(t, s)
		if err := syscall.Kill(s.pid(), syscall.SIGTERM); err != nil {
			t.Fatal(err)
		}
		if err := s.waitExit(t, 15*time.Second); err != nil {
			t.Fatalf("exit after SIGTERM: %v, want status 0\n%s", err, s.output())
		}
		tb.waitGone(t, s, "after SIGTERM")
	}) {
		return
	}
	if !t.Run("supervisor SIGKILLed", func(t *testing.T) {
		s := tb.start(t, "supervisor-2") // adopts the live config
		tb.waitServing(t, s)
		if err := syscall.Kill(s.pid(), syscall.SIGKILL); err != nil {
			t.Fatal(err)
		}
		_ = s.waitExit(t, 5*time.Second)
		tb.waitGone(t, s, "after the supervisor was killed")

		next := tb.start(t, "supervisor-3")
		tb.waitServing(t, next)
		if procs := tb.keepaliveds(t); len(procs) != 1 || procs[0].ppid != next.pid() {
			t.Errorf("keepalived parents in A: %+v, want exactly one, child of the new supervisor (pid %d)", procs, next.pid())
		}
		if err := syscall.Kill(next.pid(), syscall.SIGTERM); err != nil {
			t.Fatal(err)
		}
		if err := next.waitExit(t, 15*time.Second); err != nil {
			t.Fatalf("exit after SIGTERM: %v\n%s", err, next.output())
		}
	}) {
		return
	}

	t.Run("keepalived SIGKILLed leaves stale VIPs, the supervisor removes them", func(t *testing.T) {
		s := tb.start(t, "supervisor-4")
		tb.waitServing(t, s)
		old := tb.keepaliveds(t)
		if len(old) != 1 {
			t.Fatalf("keepalived parents: %+v, want one", old)
		}
		// The whole group at once, parent and VRRP child: nobody stops
		// gracefully, the addresses stay on va.
		if err := syscall.Kill(-old[0].pgid, syscall.SIGKILL); err != nil {
			t.Fatal(err)
		}
		eventually(t, "the stale VIPs removed by the supervisor", func() bool {
			return s.said(`"kind":"VIPRemoved"`, `"ip":"192.0.2.100"`, `"interface":"va"`) &&
				s.said(`"kind":"VIPRemoved"`, `"ip":"2001:db8::100"`, `"interface":"va"`)
		}, s.output)
		tb.waitServing(t, s)
		if now := tb.keepaliveds(t); len(now) != 1 || now[0].pid == old[0].pid {
			t.Errorf("keepalived parents after the restart: %+v, want one new one", now)
		}
		if err := syscall.Kill(s.pid(), syscall.SIGTERM); err != nil {
			t.Fatal(err)
		}
		if err := s.waitExit(t, 15*time.Second); err != nil {
			t.Fatalf("exit after SIGTERM: %v\n%s", err, s.output())
		}
		tb.waitGone(t, s, "after SIGTERM")
	})
}

// kaTestbed is namespaces A and B joined by a veth pair, and the shared
// and private directories of the supervisor in A.
type kaTestbed struct {
	nsA, nsB    string
	dir, runDir string
}

func newKATestbed(t *testing.T) *kaTestbed {
	t.Helper()
	sweepStaleNamespaces(t)
	prefix := fmt.Sprintf("hkat-%d-", os.Getpid())
	tmp := t.TempDir()
	tb := &kaTestbed{nsA: prefix + "a", nsB: prefix + "b", dir: filepath.Join(tmp, "vip"), runDir: filepath.Join(tmp, "run")}
	for _, ns := range []string{tb.nsA, tb.nsB} {
		mustRun(t, "ip", "netns", "add", ns)
		t.Cleanup(func() { deleteNamespace(t, ns, true) })
	}
	mustRun(t, "ip", "-n", tb.nsA, "link", "add", "va", "type", "veth", "peer", "name", "vb", "netns", tb.nsB)
	for _, side := range []struct{ ns, link, last string }{{tb.nsA, "va", "1"}, {tb.nsB, "vb", "2"}} {
		// New namespaces inherit conf/all and conf/default from the
		// host's: set what matters. No DAD, so the link-local address
		// IPv6 VRRP sends from is there at once.
		mustRun(t, "ip", "netns", "exec", side.ns, "sysctl", "-q", "-w",
			"net.ipv6.conf.all.disable_ipv6=0", "net.ipv6.conf."+side.link+".disable_ipv6=0",
			"net.ipv6.conf."+side.link+".accept_dad=0", "net.ipv6.conf."+side.link+".accept_ra=0")
		mustRun(t, "ip", "-n", side.ns, "addr", "add", "192.0.2."+side.last+"/24", "dev", side.link)
		mustRun(t, "ip", "-n", side.ns, "addr", "add", "2001:db8::"+side.last+"/64", "dev", side.link, "nodad")
		mustRun(t, "ip", "-n", side.ns, "link", "set", "lo", "up")
		mustRun(t, "ip", "-n", side.ns, "link", "set", side.link, "up")
	}
	mustRun(t, "ip", "-n", tb.nsA, "addr", "add", nsDecoy, "dev", "va")
	if err := os.MkdirAll(tb.dir, 0o755); err != nil {
		t.Fatal(err)
	}
	return tb
}

// start runs herald-keepalived in A on the testbed's directories.
func (tb *kaTestbed) start(t *testing.T, name string) *supervisorProc {
	t.Helper()
	return startSupervisor(t, name, []string{"ip", "netns", "exec", tb.nsA}, nil,
		"--dir", tb.dir, "--keepalived", realKeepalived, "--run-dir", tb.runDir,
		"--metrics-bind-address", "0", "--poll-interval", "50ms", "--stop-grace", "5s")
}

// waitServing waits until both VIPs are MASTER in state.json, on va, and
// answer B's pings.
func (tb *kaTestbed) waitServing(t *testing.T, s *supervisorProc) {
	t.Helper()
	detail := func() string { return tb.describe(t) + "\nsupervisor output:\n" + s.output() }
	eventually(t, "both VIPs MASTER, on va and answering", func() bool {
		st, err := vipdir.Read(vipdir.Dir(tb.dir).State())
		if err != nil || st[nsVIP4] != keepalived.StateMaster || st[nsVIP6] != keepalived.StateMaster {
			return false
		}
		have := tb.hostAddrs(t)
		if !slices.Contains(have, nsVIP4.String()+"/32") || !slices.Contains(have, nsVIP6.String()+"/128") {
			return false
		}
		for _, vip := range []netip.Addr{nsVIP4, nsVIP6} {
			if _, err := runCmd("ip", "netns", "exec", tb.nsB, "ping", "-n", "-q", "-c", "1", "-W", "1", vip.String()); err != nil {
				return false
			}
		}
		return true
	}, detail)
}

// waitGone waits until nothing runs in A any more and va holds neither VIP,
// and checks that the decoy is still there.
func (tb *kaTestbed) waitGone(t *testing.T, s *supervisorProc, when string) {
	t.Helper()
	detail := func() string { return tb.describe(t) + "\nsupervisor output:\n" + s.output() }
	eventually(t, "no process in A and no VIP on va "+when, func() bool {
		out, err := runCmd("ip", "netns", "pids", tb.nsA)
		if err != nil || strings.TrimSpace(out) != "" {
			return false
		}
		have := tb.hostAddrs(t)
		return !slices.Contains(have, nsVIP4.String()+"/32") && !slices.Contains(have, nsVIP6.String()+"/128")
	}, detail)
	if !slices.Contains(tb.hostAddrs(t), nsDecoy) {
		t.Errorf("%s is gone from va: the cleanup removed an address that is no VIP\n%s", nsDecoy, tb.describe(t))
	}
}

var inetAddr = regexp.MustCompile(`\binet6? (\S+)`)

// hostAddrs lists va's /32 and /128 addresses.
func (tb *kaTestbed) hostAddrs(t *testing.T) []string {
	t.Helper()
	out := mustRun(t, "ip", "-n", tb.nsA, "-o", "addr", "show", "dev", "va")
	var addrs []string
	for _, m := range inetAddr.FindAllStringSubmatch(out, -1) {
		if strings.HasSuffix(m[1], "/32") || strings.HasSuffix(m[1], "/128") {
			addrs = append(addrs, m[1])
		}
	}
	return addrs
}

// kaProc is one keepalived parent process (its VRRP child is not listed).
type kaProc struct{ pid, ppid, pgid int }

// keepaliveds lists the keepalived processes in A whose parent is not a
// keepalived: the ones a supervisor started.
func (tb *kaTestbed) keepaliveds(t *testing.T) []kaProc {
	t.Helper()
	out, err := runCmd("ip", "netns", "pids", tb.nsA)
	if err != nil {
		t.Fatal(err)
	}
	all := map[int]kaProc{}
	for _, f := range strings.Fields(out) {
		pid, _ := strconv.Atoi(f)
		if comm, ppid, pgid, ok := procStat(pid); ok && comm == "keepalived" {
			all[pid] = kaProc{pid, ppid, pgid}
		}
	}
	var parents []kaProc
	for _, p := range all {
		if _, child := all[p.ppid]; !child && !strings.Contains(cmdline(p.pid), " -t ") {
			parents = append(parents, p)
		}
	}
	return parents
}

// procStat reads a process's name, parent and process group.
func procStat(pid int) (comm string, ppid, pgid int, ok bool) {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return "", 0, 0, false
	}
	s := string(data)
	open, end := strings.IndexByte(s, '('), strings.LastIndexByte(s, ')')
	if open < 0 || end < open {
		return "", 0, 0, false
	}
	f := strings.Fields(s[end+1:]) // state ppid pgrp ...
	if len(f) < 3 {
		return "", 0, 0, false
	}
	ppid, _ = strconv.Atoi(f[1])
	pgid, _ = strconv.Atoi(f[2])
	return s[open+1 : end], ppid, pgid, true
}

func cmdline(pid int) string {
	data, _ := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid))
	return " " + strings.ReplaceAll(string(data), "\x00", " ")
}

// describe is what a failure shows: the processes in A, va's addresses and
// the state file.
func (tb *kaTestbed) describe(t *testing.T) string {
	pids, _ := runCmd("ip", "netns", "pids", tb.nsA)
	var procs []string
	for _, f := range strings.Fields(pids) {
		pid, _ := strconv.Atoi(f)
		comm, ppid, pgid, _ := procStat(pid)
		procs = append(procs, fmt.Sprintf("%d(%s ppid %d pgid %d)", pid, comm, ppid, pgid))
	}
	addrs, _ := runCmd("ip", "-n", tb.nsA, "-o", "addr", "show", "dev", "va")
	state, _ := os.ReadFile(vipdir.Dir(tb.dir).State())
	return fmt.Sprintf("processes in A: %v\naddresses of va:\n%s\nstate.json: %s", procs, addrs, state)
}

func runCmd(name string, args ...string) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, name, args...).CombinedOutput()
	if err != nil {
		return string(out), fmt.Errorf("%s %s: %w: %s", name, strings.Join(args, " "), err, out)
	}
	return string(out), nil
}

func mustRun(t *testing.T, name string, args ...string) string {
	t.Helper()
	out, err := runCmd(name, args...)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// deleteNamespace kills, by PID, whatever still runs in a test namespace
// (only this test's processes can) and deletes it with its veth. strict:
// a process left there fails the test (a keepalived outlived its
// supervisor).
func deleteNamespace(t *testing.T, ns string, strict bool) {
	out, _ := runCmd("ip", "netns", "pids", ns)
	for _, f := range strings.Fields(out) {
		if pid, err := strconv.Atoi(f); err == nil {
			if strict {
				t.Errorf("process %d (%s) still running in %s at the end: killed", pid, cmdline(pid), ns)
			}
			_ = syscall.Kill(pid, syscall.SIGKILL)
		}
	}
	if _, err := runCmd("ip", "netns", "del", ns); err != nil {
		t.Errorf("delete namespace %s: %v", ns, err)
	}
}

// sweepStaleNamespaces deletes the namespaces an earlier run of this test
// left when it was killed: hkat-<pid>- with that pid gone.
func sweepStaleNamespaces(t *testing.T) {
	entries, err := os.ReadDir("/run/netns")
	if err != nil {
		return
	}
	re := regexp.MustCompile(`^hkat-(\d+)-`)
	for _, e := range entries {
		m := re.FindStringSubmatch(e.Name())
		if m == nil {
			continue
		}
		pid, _ := strconv.Atoi(m[1])
		if pid == os.Getpid() || syscall.Kill(pid, 0) != syscall.ESRCH {
			continue
		}
		t.Logf("deleting namespace %s left by an earlier run", e.Name())
		deleteNamespace(t, e.Name(), false)
	}
}
