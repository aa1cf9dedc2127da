package bench

import (
	"testing"

	"github.com/herald-lb/herald/test/bench/benchstat"
)

// report gives the benchmark framework the median of each metric over the
// runs and logs the minimum and maximum beside it.
func report(b *testing.B, runs []result) {
	b.Helper()
	benchstat.Report(b, runs, []benchstat.Metric[result]{
		{Unit: "s-after-last-create", Of: func(r result) float64 { return r.afterLastCreate.Seconds() }},
		{Unit: "alloc/s", Of: func(r result) float64 { return float64(r.services) / r.total.Seconds() }},
		{Unit: "writes/alloc", Of: func(r result) float64 { return r.writesTotal() / float64(r.services) }},
		{Unit: "controller-peak-MiB", Of: func(r result) float64 { return float64(r.peakRSS) / (1 << 20) }},
		{Unit: "s-creating", Of: func(r result) float64 { return r.creating.Seconds() }},
		{Unit: "controller-cpu-ms/alloc", Of: func(r result) float64 {
			return float64(r.cpu[controllerComm].Milliseconds()) / float64(r.services)
		}},
	})
}
