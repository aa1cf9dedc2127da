// Package benchstat holds what Herald's benchmarks share: medians and
// spreads over runs reported to the testing framework, percentiles of
// latency samples, and a process's CPU time and memory read from /proc.
package benchstat

import (
	"fmt"
	"os"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"
)

// Metric is one number a benchmark reports per run.
type Metric[R any] struct {
	// Unit is the name the framework prints ("create-route-p95-ms").
	Unit string
	Of   func(R) float64
}

// Report gives the framework the median over runs of each metric, and logs
// median [min, max] of every metric on one line (the framework keeps only
// the first lines a benchmark logs). The framework's ns/op, the wall time
// of all runs, is reported as 0: one run is far longer than an iteration
// is meant to be.
func Report[R any](b *testing.B, runs []R, metrics []Metric[R]) {
	b.Helper()
	parts := make([]string, 0, len(metrics))
	for _, m := range metrics {
		values := make([]float64, 0, len(runs))
		for _, r := range runs {
			values = append(values, m.Of(r))
		}
		med, lo, hi := Spread(values)
		b.ReportMetric(med, m.Unit)
		parts = append(parts, fmt.Sprintf("%s %.3g [%.3g, %.3g]", m.Unit, med, lo, hi))
	}
	b.Logf("median [min, max] of %d runs: %s", len(runs), strings.Join(parts, "; "))
	b.ReportMetric(0, "ns/op")
}

// Spread returns the median, minimum and maximum of values (not empty).
func Spread(values []float64) (median, lo, hi float64) {
	s := slices.Clone(values)
	slices.Sort(s)
	mid := len(s) / 2
	median = s[mid]
	if len(s)%2 == 0 {
		median = (s[mid-1] + s[mid]) / 2
	}
	return median, s[0], s[len(s)-1]
}

// Percentiles are p50, p95 and the maximum of ds (not empty), by the
// nearest-rank method, rounded to 0.1 ms.
func Percentiles(ds []time.Duration) [3]time.Duration {
	s := slices.Clone(ds)
	slices.Sort(s)
	at := func(p float64) time.Duration {
		i := int(p*float64(len(s))+0.5) - 1
		return s[max(0, min(i, len(s)-1))].Round(100 * time.Microsecond)
	}
	return [3]time.Duration{at(0.50), at(0.95), s[len(s)-1].Round(100 * time.Microsecond)}
}

// Ms is d in milliseconds.
func Ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

// CPUTime is a process's user+system CPU time (/proc/<pid>/stat).
func CPUTime(pid int) (time.Duration, error) {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, err
	}
	// The command name may hold spaces; the fields after it do not.
	_, rest, ok := strings.Cut(string(data), ") ")
	fields := strings.Fields(rest)
	if !ok || len(fields) < 13 {
		return 0, fmt.Errorf("pid %d: unexpected stat %q", pid, data)
	}
	var ticks int64
	for _, f := range fields[11:13] { // utime, stime (fields 14 and 15)
		v, err := strconv.ParseInt(f, 10, 64)
		if err != nil {
			return 0, fmt.Errorf("pid %d: stat: %w", pid, err)
		}
		ticks += v
	}
	const clockTicks = 100 // USER_HZ on Linux
	return time.Duration(ticks) * time.Second / clockTicks, nil
}

// ProcStatus reads the kB fields of /proc/<pid>/status (VmHWM, RssAnon,
// ...), in bytes.
func ProcStatus(pid int) (map[string]int64, error) {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return nil, err
	}
	out := map[string]int64{}
	for _, line := range strings.Split(string(data), "\n") {
		name, rest, ok := strings.Cut(line, ":")
		value, isKB := strings.CutSuffix(strings.TrimSpace(rest), " kB")
		if !ok || !isKB {
			continue
		}
		if kb, err := strconv.ParseInt(value, 10, 64); err == nil {
			out[name] = kb << 10
		}
	}
	if _, ok := out["VmHWM"]; !ok {
		return nil, fmt.Errorf("pid %d: no VmHWM in its status", pid)
	}
	return out, nil
}

// RunsEnv overrides how many runs a benchmark averages over, e.g.
// `HERALD_BENCH_RUNS=3 make bench`.
const RunsEnv = "HERALD_BENCH_RUNS"

// Runs is RunsEnv's value, or def when it is unset or not a positive
// number.
func Runs(def int) int {
	if v, err := strconv.Atoi(os.Getenv(RunsEnv)); err == nil && v > 0 {
		return v
	}
	return def
}

// MsList formats ds in whole milliseconds, in order, for the log.
func MsList(ds []time.Duration) string {
	out := make([]string, 0, len(ds))
	for _, d := range ds {
		out = append(out, strconv.FormatInt(d.Round(time.Millisecond).Milliseconds(), 10))
	}
	return "[" + strings.Join(out, " ") + "] ms"
}

// Pct formats p50/p95/max of ds, or "none".
func Pct(ds []time.Duration) string {
	if len(ds) == 0 {
		return "none"
	}
	p := Percentiles(ds)
	return fmt.Sprintf("p50 %v p95 %v max %v (n=%d)", p[0], p[1], p[2], len(ds))
}
