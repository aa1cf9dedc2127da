package kcluster

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/herald-lb/herald/test/e2e/rig"
)

// cgroupBase is where the host mounts its cgroup hierarchies (v1 and, on
// this hybrid host, the v2 "unified" one).
const cgroupBase = "/sys/fs/cgroup"

// cgroupMounts lists the mount points of every cgroup hierarchy under
// cgroupBase, from the test process's mount table (the host's).
func cgroupMounts() ([]string, error) {
	f, err := os.Open("/proc/self/mountinfo")
	if err != nil {
		return nil, fmt.Errorf("cgroup mounts: %w", err)
	}
	defer f.Close()
	var out []string
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		// ID PARENT MAJ:MIN ROOT MOUNTPOINT OPTS [OPTIONAL...] - FSTYPE SOURCE SUPER
		fields := strings.Fields(sc.Text())
		i := slices.Index(fields, "-")
		if i < 0 || i+1 >= len(fields) || len(fields) < 5 {
			continue
		}
		if fstype := fields[i+1]; fstype != "cgroup" && fstype != "cgroup2" {
			continue
		}
		if mp := fields[4]; strings.HasPrefix(mp, cgroupBase+"/") {
			out = append(out, mp)
		}
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("cgroup mounts: %w", err)
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("cgroup mounts: none under %s", cgroupBase)
	}
	return out, nil
}

// makeCgroupRoot creates the node's cgroup root, a directory name in every
// hierarchy: the kubelet refuses a --cgroup-root that does not exist. A new
// v1 cpuset group starts with no CPUs and no memory nodes, so it gets its
// parent's.
func makeCgroupRoot(name string) error {
	mounts, err := cgroupMounts()
	if err != nil {
		return err
	}
	for _, m := range mounts {
		dir := filepath.Join(m, name)
		if err := os.Mkdir(dir, 0o755); err != nil && !errors.Is(err, fs.ErrExist) {
			return fmt.Errorf("cgroup root %s: %w", dir, err)
		}
		for _, f := range []string{"cpuset.cpus", "cpuset.mems"} {
			v, err := os.ReadFile(filepath.Join(m, f))
			if errors.Is(err, fs.ErrNotExist) {
				continue
			}
			if err != nil {
				return fmt.Errorf("cgroup root %s: %w", dir, err)
			}
			if err := os.WriteFile(filepath.Join(dir, f), v, 0o644); err != nil {
				return fmt.Errorf("cgroup root %s: %s: %w", dir, f, err)
			}
		}
	}
	return nil
}

// cgroupDirs lists the directories of the node's cgroup root in every
// hierarchy, deepest first.
func cgroupDirs(name string) ([]string, error) {
	mounts, err := cgroupMounts()
	if err != nil {
		return nil, err
	}
	var dirs []string
	for _, m := range mounts {
		root := filepath.Join(m, name)
		err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
			if err != nil {
				if errors.Is(err, fs.ErrNotExist) {
					return nil
				}
				return err
			}
			if d.IsDir() {
				dirs = append(dirs, p)
			}
			return nil
		})
		if err != nil {
			return nil, fmt.Errorf("cgroup root %s: %w", root, err)
		}
	}
	slices.SortFunc(dirs, func(a, b string) int { return strings.Count(b, "/") - strings.Count(a, "/") })
	return dirs, nil
}

// cgroupPIDs returns the processes in the node's cgroup root, in any
// hierarchy: the containers and their sandboxes.
func cgroupPIDs(name string) ([]int, error) {
	dirs, err := cgroupDirs(name)
	if err != nil {
		return nil, err
	}
	seen := map[int]bool{}
	var pids []int
	for _, d := range dirs {
		data, err := os.ReadFile(filepath.Join(d, "cgroup.procs"))
		if err != nil {
			if errors.Is(err, fs.ErrNotExist) {
				continue
			}
			return nil, fmt.Errorf("cgroup %s: %w", d, err)
		}
		for _, f := range strings.Fields(string(data)) {
			if pid, err := strconv.Atoi(f); err == nil && !seen[pid] {
				seen[pid] = true
				pids = append(pids, pid)
			}
		}
	}
	return pids, nil
}

// removeCgroupRoot kills, by PID, every process left in the node's cgroup
// root (SIGKILL: by then the kubelet and containerd are gone and nobody
// would stop them gracefully), then removes its directories, deepest first.
// It returns how many processes it killed.
func removeCgroupRoot(name string) (int, error) {
	killed := map[int]bool{}
	err := rig.Eventually(context.Background(), 10*time.Second, 50*time.Millisecond, func(context.Context) error {
		pids, err := cgroupPIDs(name)
		if err != nil {
			return err
		}
		for _, pid := range pids {
			_ = syscall.Kill(pid, syscall.SIGKILL) // ESRCH: already gone
			killed[pid] = true
		}
		if len(pids) > 0 {
			return fmt.Errorf("processes in cgroup root %s: %v", name, pids)
		}
		dirs, err := cgroupDirs(name)
		if err != nil {
			return err
		}
		var errs []error
		for _, d := range dirs {
			if err := syscall.Rmdir(d); err != nil && !errors.Is(err, syscall.ENOENT) {
				errs = append(errs, fmt.Errorf("rmdir %s: %w", d, err))
			}
		}
		return errors.Join(errs...)
	})
	if err != nil {
		return len(killed), fmt.Errorf("remove cgroup root %s: %w", name, err)
	}
	return len(killed), nil
}

// cleanupStaleCgroups removes the cgroup roots of nodes whose test process
// is gone (a crash or a SIGKILL skips Down): their containers, which live
// in pod network namespaces the rig's sweep by namespace does not see, are
// killed by PID first. Roots are named <rig prefix><node>, the prefix
// holding the owner's PID; a live owner's roots are left alone.
func cleanupStaleCgroups() error {
	roots, err := cgroupRoots()
	if err != nil {
		return err
	}
	var errs []error
	for name, pid := range roots {
		if pidAlive(pid) {
			continue
		}
		if _, err := removeCgroupRoot(name); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// cgroupRoots maps the names of the node cgroup roots in any hierarchy to
// the PID of the test process that made them.
func cgroupRoots() (map[string]int, error) {
	mounts, err := cgroupMounts()
	if err != nil {
		return nil, err
	}
	roots := map[string]int{}
	for _, m := range mounts {
		entries, _ := os.ReadDir(m)
		for _, e := range entries {
			rest, ok := strings.CutPrefix(e.Name(), rig.NamePrefix)
			if !ok || !e.IsDir() {
				continue
			}
			if pid, err := strconv.Atoi(strings.SplitN(rest, "-", 2)[0]); err == nil {
				roots[e.Name()] = pid
			}
		}
	}
	return roots, nil
}

// otherLiveClusters reports whether a live test process other than this
// one has a node cgroup root: its kubelets may still run.
func otherLiveClusters() (bool, error) {
	roots, err := cgroupRoots()
	if err != nil {
		return false, err
	}
	for _, pid := range roots {
		if pid == os.Getpid() {
			continue
		}
		if pidAlive(pid) {
			return true, nil
		}
	}
	return false, nil
}

// pidAlive reports whether pid is a running process: a zombie (a killed
// test process its parent has not reaped yet) is not.
func pidAlive(pid int) bool {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return false
	}
	i := strings.LastIndexByte(string(data), ')')
	if i < 0 || i+2 >= len(data) {
		return false
	}
	state := data[i+2]
	return state != 'Z' && state != 'X'
}
