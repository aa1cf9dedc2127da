package bench

import (
	"fmt"
	"os"
	"testing"

	"github.com/go-logr/logr"
	ctrl "sigs.k8s.io/controller-runtime"

	"github.com/herald-lb/herald/test/controllerproc"
)

// controllerBin is built on the first benchmark that needs it, so that
// `make test`, which compiles and runs this package without benchmarks,
// does not pay for the build.
var controllerBin controllerproc.Binary

func TestMain(m *testing.M) {
	// envtest logs through controller-runtime; its start and stop lines
	// would drown the benchmark's own log.
	ctrl.SetLogger(logr.Discard())
	code := m.Run()
	if err := controllerBin.Remove(); err != nil {
		fmt.Fprintln(os.Stderr, err)
	}
	os.Exit(code)
}
