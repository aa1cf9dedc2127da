package e2e

import (
	"fmt"
	"github.com/go-logr/logr"
	"os"
	ctrl "sigs.k8s.io/controller-runtime"
	"testing"

	"github.com/herald-lb/herald/test/e2e/cluster"
	"github.com/herald-lb/herald/test/e2e/rig"
)

// TestMain removes what crashed earlier runs left behind (namespaces,
// their processes, state dirs) before any test builds a rig; rigs of test
// processes that are still running are left alone.
func TestMain(m *testing.M) {
	// The API server's warnings (e.g. on spec.externalIPs) reach the
	// test's client through controller-runtime's logger.
	ctrl.SetLogger(logr.Discard())
	code := rig.Main(m)
	if err := cluster.RemoveBuild(); err != nil {
		fmt.Fprintln(os.Stderr, "e2e: remove the build:", err)
	}
	os.Exit(code)
}
