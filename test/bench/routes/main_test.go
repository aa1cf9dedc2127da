// Package routes benchmarks the BGP path end to end on the e2e testbed
// (test/e2e/cluster): how long from a Service's creation or deletion to
// the route's change in the ToR's kernel, and what the speaker costs with
// 1,000 announced Services. It needs root, like the e2e suite, and skips
// loudly without it.
package routes

import (
	"os"
	"testing"

	"github.com/herald-lb/herald/test/e2e/cluster"
)

func TestMain(m *testing.M) {
	os.Exit(cluster.BenchMain(m, "routes"))
}
