// Package vip benchmarks VIP mode end to end on the e2e testbed.
package vip

import (
	"fmt"
	"os"
	"testing"

	"github.com/go-logr/logr"
	ctrl "sigs.k8s.io/controller-runtime"

	"github.com/herald-lb/herald/test/e2e/cluster"
	"github.com/herald-lb/herald/test/e2e/rig"
)

func TestMain(m *testing.M) {
	// envtest logs through controller-runtime; its lines would drown the
	// benchmark's own.
	ctrl.SetLogger(logr.Discard())
	code := rig.Main(m)
	if err := cluster.RemoveBuild(); err != nil {
		fmt.Fprintln(os.Stderr, "vip: remove the build:", err)
	}
	os.Exit(code)
}
