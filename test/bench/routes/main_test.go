// Package routes benchmarks the BGP path end to end on the e2e testbed
// (test/e2e/cluster): how long from a Service's creation or deletion to
// the route's change in the ToR's kernel, and what the speaker costs with
// 1,000 announced Services. It needs root, like the e2e suite, and skips
// loudly without it.
package routes

import (
	"fmt"
	"github.com/go-logr/logr"
	"os"
	ctrl "sigs.k8s.io/controller-runtime"
	"testing"

	"github.com/herald-lb/herald/test/e2e/cluster"
	"github.com/herald-lb/herald/test/e2e/rig"
)

func TestMain(m *testing.M) {
	// envtest logs through controller-runtime; its lines would drown the
	// benchmark's own.
	ctrl.SetLogger(logr.Discard())
	code := rig.Main(m)
	if err := cluster.RemoveBuild(); err != nil {
		fmt.Fprintln(os.Stderr, "routes: remove the build:", err)
	}
	os.Exit(code)
}
