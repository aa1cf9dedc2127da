package e2e

import (
	"os"
	"testing"

	"github.com/herald-lb/herald/test/e2e/rig"
)

// TestMain removes what crashed earlier runs left behind (namespaces,
// their processes, state dirs) before any test builds a rig; rigs of test
// processes that are still running are left alone.
func TestMain(m *testing.M) {
	os.Exit(rig.Main(m))
}
