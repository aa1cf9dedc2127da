package takeover

import (
	"os"
	"testing"

	"github.com/herald-lb/herald/test/controllerproc"
)

// controllerBin is herald-controller, built once for the package.
var controllerBin controllerproc.Binary

func TestMain(m *testing.M) { os.Exit(controllerBin.RunTests(m)) }
