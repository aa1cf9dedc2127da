package rig

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// netnsDir is where `ip netns add` mounts named namespaces.
const netnsDir = "/run/netns"

// ErrUnavailable is wrapped by Available's error: the machine cannot run a
// rig (not root, or a required program is missing).
var ErrUnavailable = errors.New("rig unavailable")

// RequiredPrograms are what Up and its helpers run; BIRD is needed only by
// StartBird, but every e2e test uses it.
var RequiredPrograms = []string{"ip", "sysctl", "ping", "bird", "birdc", "iptables", "ip6tables"}

// Available reports why this machine cannot run a rig, or nil: the rig
// needs root and the programs of RequiredPrograms (`make deps`).
func Available() error {
	var errs []error
	if os.Geteuid() != 0 {
		errs = append(errs, fmt.Errorf("%w: not root (network namespaces need CAP_SYS_ADMIN and CAP_NET_ADMIN)", ErrUnavailable))
	}
	var missing []string
	for _, p := range RequiredPrograms {
		if _, err := exec.LookPath(p); err != nil {
			missing = append(missing, p)
		}
	}
	if len(missing) > 0 {
		errs = append(errs, fmt.Errorf("%w: missing %s (run `make deps`)", ErrUnavailable, strings.Join(missing, ", ")))
	}
	return errors.Join(errs...)
}

// Cleanup ends every process in the namespaces whose names start with
// prefix, by PID (`ip netns pids`: SIGTERM, then SIGKILL after 2 s), and
// deletes those namespaces. `ip netns del` alone would leave the processes
// running and the namespaces alive (caveat C6).
func Cleanup(prefix string) error {
	if prefix == "" {
		return errors.New("cleanup: empty prefix")
	}
	names, err := namespacesWithPrefix(prefix)
	if err != nil || len(names) == 0 {
		return err
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var errs []error
	var pids []int
	for _, ns := range names {
		out, err := run(ctx, "ip", "netns", "pids", ns)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		for _, f := range strings.Fields(out) {
			if pid, err := strconv.Atoi(f); err == nil && pid > 1 && pid != os.Getpid() {
				pids = append(pids, pid)
			}
		}
	}
	if err := killPIDs(pids); err != nil {
		errs = append(errs, err)
	}
	for _, ns := range names {
		if _, err := run(ctx, "ip", "netns", "del", ns); err != nil {
			if _, statErr := os.Stat(filepath.Join(netnsDir, ns)); statErr == nil {
				errs = append(errs, err)
			}
		}
	}
	return errors.Join(errs...)
}

// CleanupStale cleans up the rigs whose owning test process is gone (a
// crash, a `go test -timeout` panic, a SIGKILL): their namespaces, the
// processes in them and their state dirs. Rigs of live processes, another
// package's test run among them, are left alone. TestMain calls it first.
func CleanupStale() error {
	names, err := namespacesWithPrefix(NamePrefix)
	if err != nil {
		return err
	}
	stale := map[string]bool{}
	for _, ns := range names {
		if prefix, ok := rigPrefix(ns); ok && !ownerAlive(prefix) {
			stale[prefix] = true
		}
	}
	entries, _ := os.ReadDir(stateBase())
	for _, e := range entries {
		if prefix, ok := rigPrefix(e.Name() + "-"); ok && !ownerAlive(prefix) {
			stale[prefix] = true
		}
	}
	var errs []error
	for prefix := range stale {
		if err := Cleanup(prefix); err != nil {
			errs = append(errs, err)
		}
		if err := os.RemoveAll(stateDirOf(prefix)); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// namespacesWithPrefix lists the named namespaces starting with prefix.
func namespacesWithPrefix(prefix string) ([]string, error) {
	entries, err := os.ReadDir(netnsDir)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("list namespaces: %w", err)
	}
	var out []string
	for _, e := range entries {
		if strings.HasPrefix(e.Name(), prefix) {
			out = append(out, e.Name())
		}
	}
	return out, nil
}

// rigPrefix extracts "he2e-<pid>-<n>-" from a namespace name (or a state
// dir's name plus "-").
func rigPrefix(name string) (string, bool) {
	rest, ok := strings.CutPrefix(name, NamePrefix)
	if !ok {
		return "", false
	}
	parts := strings.SplitN(rest, "-", 3)
	if len(parts) < 3 {
		return "", false
	}
	for _, p := range parts[:2] {
		if _, err := strconv.Atoi(p); err != nil {
			return "", false
		}
	}
	return NamePrefix + parts[0] + "-" + parts[1] + "-", true
}

// stateBase holds every rig's state dir.
func stateBase() string { return filepath.Join(os.TempDir(), "herald-e2e") }

// stateDirOf is the default state dir of the rig with that prefix.
func stateDirOf(prefix string) string {
	return filepath.Join(stateBase(), strings.TrimSuffix(prefix, "-"))
}

// writeOwner records this process's PID and start time in the state dir,
// so that a later CleanupStale does not mistake a new process that reused
// the PID for the owner.
func writeOwner(dir string) error {
	start, err := processStart(os.Getpid())
	if err != nil {
		return err
	}
	data := fmt.Sprintf("%d %s\n", os.Getpid(), start)
	if err := os.WriteFile(filepath.Join(dir, "owner"), []byte(data), 0o644); err != nil {
		return fmt.Errorf("write owner: %w", err)
	}
	return nil
}

// ownerAlive reports whether the process that made the rig with this
// prefix still runs.
func ownerAlive(prefix string) bool {
	pidStr := strings.SplitN(strings.TrimPrefix(prefix, NamePrefix), "-", 2)[0]
	pid, err := strconv.Atoi(pidStr)
	if err != nil {
		return false
	}
	start, err := processStart(pid)
	if err != nil {
		return false
	}
	data, err := os.ReadFile(filepath.Join(stateDirOf(prefix), "owner"))
	if err != nil {
		return true // no record to compare with: trust the PID
	}
	fields := strings.Fields(string(data))
	return len(fields) == 2 && fields[0] == pidStr && fields[1] == start
}

// processStart returns a live (non-zombie) process's start time in clock
// ticks since boot (field 22 of /proc/<pid>/stat).
func processStart(pid int) (string, error) {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return "", fmt.Errorf("process %d: %w", pid, err)
	}
	// The command name (field 2) may hold spaces: fields count from the
	// last ')'.
	i := strings.LastIndexByte(string(data), ')')
	if i < 0 {
		return "", fmt.Errorf("process %d: malformed stat", pid)
	}
	fields := strings.Fields(string(data[i+1:]))
	if len(fields) < 20 {
		return "", fmt.Errorf("process %d: short stat", pid)
	}
	if fields[0] == "Z" || fields[0] == "X" {
		return "", fmt.Errorf("process %d: exited", pid)
	}
	return fields[19], nil
}

// killPIDs sends SIGTERM to each process, waits up to 2 s for all to end,
// then SIGKILLs the rest and waits up to 2 s more.
func killPIDs(pids []int) error {
	if len(pids) == 0 {
		return nil
	}
	for _, sig := range []syscall.Signal{syscall.SIGTERM, syscall.SIGKILL} {
		for _, pid := range pids {
			_ = syscall.Kill(pid, sig) // ESRCH: already gone
		}
		err := Eventually(context.Background(), 2*time.Second, 20*time.Millisecond, func(context.Context) error {
			var alive []int
			for _, pid := range pids {
				if _, err := processStart(pid); err == nil {
					alive = append(alive, pid)
				}
			}
			pids = alive
			if len(alive) > 0 {
				return fmt.Errorf("still running: %v", alive)
			}
			return nil
		})
		if err == nil {
			return nil
		}
	}
	return fmt.Errorf("cleanup: processes survived SIGKILL: %v", pids)
}
