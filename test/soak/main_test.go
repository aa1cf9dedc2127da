package soak

import (
	"fmt"
	"os"
	"testing"

	"github.com/go-logr/logr"
	ctrl "sigs.k8s.io/controller-runtime"

	"github.com/herald-lb/herald/internal/testenv"
	"github.com/herald-lb/herald/test/controllerproc"
)

var (
	env           *testenv.Env
	controllerBin controllerproc.Binary
)

func TestMain(m *testing.M) {
	// envtest logs through controller-runtime; the controller processes
	// log to files of their own.
	ctrl.SetLogger(logr.Discard())
	var err error
	env, err = testenv.New(testenv.Options{})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	code := m.Run()
	if err := env.Stop(); err != nil {
		fmt.Fprintln(os.Stderr, err)
	}
	if err := controllerBin.Remove(); err != nil {
		fmt.Fprintln(os.Stderr, err)
	}
	os.Exit(code)
}
