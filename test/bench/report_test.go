package bench

import (
	"fmt"
	"slices"
	"strings"
	"testing"
)

// report gives the benchmark framework the median of each metric over the
// runs and logs the minimum and maximum beside it.
func report(b *testing.B, runs []result) {
	b.Helper()
	metrics := []struct {
		unit string
		of   func(result) float64
	}{
		{"s-after-last-create", func(r result) float64 { return r.afterLastCreate.Seconds() }},
		{"alloc/s", func(r result) float64 { return float64(r.services) / r.total.Seconds() }},
		{"writes/alloc", func(r result) float64 { return r.writesTotal() / float64(r.services) }},
		{"controller-peak-MiB", func(r result) float64 { return float64(r.peakRSS) / (1 << 20) }},
		{"s-creating", func(r result) float64 { return r.creating.Seconds() }},
		{"controller-cpu-ms/alloc", func(r result) float64 {
			return float64(r.cpu[controllerComm].Milliseconds()) / float64(r.services)
		}},
	}
	// One line: the framework keeps only the first ten lines a benchmark
	// logs, and the runs have logged one each already.
	parts := make([]string, 0, len(metrics))
	for _, m := range metrics {
		values := make([]float64, 0, len(runs))
		for _, r := range runs {
			values = append(values, m.of(r))
		}
		med, lo, hi := spread(values)
		b.ReportMetric(med, m.unit)
		parts = append(parts, fmt.Sprintf("%s %.3g [%.3g, %.3g]", m.unit, med, lo, hi))
	}
	b.Logf("median [min, max] of %d runs: %s", len(runs), strings.Join(parts, "; "))
	// One run is far longer than a benchmark iteration is meant to be; the
	// framework's ns/op would only repeat the wall time of all runs.
	b.ReportMetric(0, "ns/op")
}

// spread returns the median, minimum and maximum of values (not empty).
func spread(values []float64) (median, lo, hi float64) {
	s := slices.Clone(values)
	slices.Sort(s)
	mid := len(s) / 2
	median = s[mid]
	if len(s)%2 == 0 {
		median = (s[mid-1] + s[mid]) / 2
	}
	return median, s[0], s[len(s)-1]
}
