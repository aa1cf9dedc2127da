package bench

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"time"
)

// clockTick is the unit of utime and stime in /proc/<pid>/stat (USER_HZ,
// 100 on every Linux architecture Go supports).
const clockTick = 10 * time.Millisecond

// controllerComm is herald-controller's command name as /proc shows it
// (truncated to 15 bytes).
const controllerComm = "herald-controll"

// cpuTimes returns the CPU time (user + system) used so far by this
// process, as "bench", and by each of its children by command name
// (kube-apiserver, etcd, herald-controller): where a run's time goes when
// the machine, not one program, is the limit.
func cpuTimes() (map[string]time.Duration, error) {
	self := os.Getpid()
	stats, err := filepath.Glob("/proc/[0-9]*/stat")
	if err != nil {
		return nil, fmt.Errorf("list processes: %w", err)
	}
	out := map[string]time.Duration{}
	for _, path := range stats {
		data, err := os.ReadFile(path)
		if err != nil {
			continue // exited meanwhile
		}
		pid, name, ppid, cpu, ok := parseStat(data)
		if !ok {
			continue
		}
		switch {
		case pid == self:
			out["bench"] += cpu
		case ppid == self:
			out[name] += cpu
		}
	}
	return out, nil
}

// parseStat reads pid, comm, ppid and utime+stime from a /proc/<pid>/stat
// line; comm may hold spaces and parentheses, so fields are counted from
// its last closing parenthesis.
func parseStat(data []byte) (pid int, comm string, ppid int, cpu time.Duration, ok bool) {
	open, closing := bytes.IndexByte(data, '('), bytes.LastIndexByte(data, ')')
	if open < 0 || closing < open {
		return 0, "", 0, 0, false
	}
	pid, err := strconv.Atoi(string(bytes.TrimSpace(data[:open])))
	if err != nil {
		return 0, "", 0, 0, false
	}
	comm = string(data[open+1 : closing])
	// After comm: state(3) ppid(4) ... utime(14) stime(15).
	fields := bytes.Fields(data[closing+1:])
	if len(fields) < 13 {
		return 0, "", 0, 0, false
	}
	ppid, err1 := strconv.Atoi(string(fields[1]))
	utime, err2 := strconv.ParseInt(string(fields[11]), 10, 64)
	stime, err3 := strconv.ParseInt(string(fields[12]), 10, 64)
	if err1 != nil || err2 != nil || err3 != nil {
		return 0, "", 0, 0, false
	}
	return pid, comm, ppid, time.Duration(utime+stime) * clockTick, true
}

// cpuDelta is after minus before, by name (in steps of clockTick).
func cpuDelta(before, after map[string]time.Duration) map[string]time.Duration {
	out := map[string]time.Duration{}
	for name, d := range after {
		out[name] = d - before[name]
	}
	return out
}
