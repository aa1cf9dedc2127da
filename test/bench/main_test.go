package bench

import (
	"os"
	"testing"

	"github.com/herald-lb/herald/test/controllerproc"
)

// controllerBin is built on the first benchmark that needs it, so that
// `make test`, which compiles and runs this package without benchmarks,
// does not pay for the build.
var controllerBin controllerproc.Binary

func TestMain(m *testing.M) { os.Exit(controllerBin.RunTests(m)) }
