// Package bfd benchmarks BFD end to end on the e2e testbed
// (test/e2e/cluster): how long from a node's switch port being cut
// silently to the ToR (BIRD, BFD 300 ms × 3) dropping the node's next hop,
// with a BGP hold time of 30 s so that only BFD can explain the number. It
// needs root, like the e2e suite, and skips loudly without it.
package bfd

import (
	"os"
	"testing"

	"github.com/herald-lb/herald/test/e2e/cluster"
)

func TestMain(m *testing.M) {
	os.Exit(cluster.BenchMain(m, "bfd"))
}
