package controllerproc

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/go-logr/logr"
	ctrl "sigs.k8s.io/controller-runtime"

	"github.com/herald-lb/herald/internal/testenv"
)

// buildTimeout bounds one `go build` of the controller: a cold build of
// controller-runtime and client-go with -race takes a few minutes on two
// cores, a cached one seconds.
const buildTimeout = 10 * time.Minute

// Binary is the herald-controller executable of one test binary, built on
// first use. The zero value is ready to use; call Remove from TestMain
// after m.Run.
type Binary struct {
	once sync.Once
	dir  string
	path string
	err  error
}

// BinaryEnv names a prebuilt herald-controller to run instead of building
// one: a release binary, or a build against other dependency versions.
const BinaryEnv = "HERALD_CONTROLLER_BINARY"

// Path builds ./cmd/herald-controller into a temporary directory the first
// time it is called and returns the executable's path; with $BinaryEnv
// set it returns that instead.
func (b *Binary) Path() (string, error) {
	b.once.Do(func() {
		if prebuilt := os.Getenv(BinaryEnv); prebuilt != "" {
			b.path = prebuilt
			if _, err := os.Stat(prebuilt); err != nil {
				b.err = fmt.Errorf("%s: %w", BinaryEnv, err)
			}
			return
		}
		b.path, b.err = b.build()
	})
	return b.path, b.err
}

func (b *Binary) build() (string, error) {
	root, err := testenv.RepoRoot()
	if err != nil {
		return "", fmt.Errorf("build herald-controller: %w", err)
	}
	b.dir, err = os.MkdirTemp("", "herald-controller-")
	if err != nil {
		return "", fmt.Errorf("build herald-controller: %w", err)
	}
	out := filepath.Join(b.dir, "herald-controller")
	args := []string{"build", "-o", out}
	if raceEnabled {
		args = append(args, "-race")
	}
	args = append(args, "./cmd/herald-controller")

	ctx, cancel := context.WithTimeout(context.Background(), buildTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, "go", args...)
	cmd.Dir = root
	if msg, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("go %s: %w\n%s", strings.Join(args, " "), err, msg)
	}
	return out, nil
}

// Remove deletes the built executable and its directory.
func (b *Binary) Remove() error {
	if b.dir == "" {
		return nil
	}
	if err := os.RemoveAll(b.dir); err != nil {
		return fmt.Errorf("remove herald-controller build: %w", err)
	}
	return nil
}

// RunTests is the TestMain of a package whose tests or benchmarks run b:
// it discards controller-runtime's log (envtest's start and stop lines
// would drown the tests' own; the controllers log to files of their
// own), runs them, removes the build and returns the exit code.
func (b *Binary) RunTests(m *testing.M) int {
	ctrl.SetLogger(logr.Discard())
	code := m.Run()
	if err := b.Remove(); err != nil {
		fmt.Fprintln(os.Stderr, err)
	}
	return code
}
