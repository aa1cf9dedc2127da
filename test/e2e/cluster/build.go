package cluster

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/herald-lb/herald/internal/testenv"
)

// buildTimeout bounds the `go build` of Herald's commands and the
// testbed's helpers: minutes cold on two cores, about a second cached.
const buildTimeout = 10 * time.Minute

// Binaries are the programs a Cluster runs.
type Binaries struct {
	// Speaker, Controller and Keepalived (herald-keepalived, the VIP
	// supervisor) are Herald's commands, built from this checkout.
	Speaker, Controller, Keepalived string
	// HTTPName is the backend "pod" (test/e2e/cmd/httpname) and NSForward
	// the API server forwarder (test/e2e/cmd/nsforward).
	HTTPName, NSForward string
	// KubeProxy is the real kube-proxy of `make control-plane-e2e`.
	KubeProxy string
	// Probe is the client-side HTTP and ARP prober (test/e2e/cmd/probe),
	// which Layer2 measurements run in the client's namespace.
	Probe string
}

// commands are built by Build, all in one `go build` so that the shared
// packages are compiled once.
var commands = map[string]string{
	"herald-speaker":    "./cmd/herald-speaker",
	"herald-controller": "./cmd/herald-controller",
	"herald-keepalived": "./cmd/herald-keepalived",
	"httpname":          "./test/e2e/cmd/httpname",
	"nsforward":         "./test/e2e/cmd/nsforward",
	"probe":             "./test/e2e/cmd/probe",
}

// Build compiles Herald's commands and the testbed's helpers into dir and
// finds kube-proxy among the control-plane binaries.
func Build(ctx context.Context, dir string) (Binaries, error) {
	root, err := testenv.RepoRoot()
	if err != nil {
		return Binaries{}, fmt.Errorf("build: %w", err)
	}
	kubeProxy, err := testenv.AssetPath("kube-proxy")
	if err != nil {
		return Binaries{}, fmt.Errorf("build: %w (run `make control-plane-e2e`)", err)
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return Binaries{}, fmt.Errorf("build: %w", err)
	}
	args := []string{"build", "-o", dir + string(filepath.Separator)}
	for _, pkg := range commands {
		args = append(args, pkg)
	}
	bctx, cancel := context.WithTimeout(ctx, buildTimeout)
	defer cancel()
	cmd := exec.CommandContext(bctx, "go", args...)
	cmd.Dir = root
	if out, err := cmd.CombinedOutput(); err != nil {
		return Binaries{}, fmt.Errorf("go %s: %w\n%s", strings.Join(args, " "), err, out)
	}
	return Binaries{
		Speaker:    filepath.Join(dir, "herald-speaker"),
		Controller: filepath.Join(dir, "herald-controller"),
		Keepalived: filepath.Join(dir, "herald-keepalived"),
		HTTPName:   filepath.Join(dir, "httpname"),
		NSForward:  filepath.Join(dir, "nsforward"),
		KubeProxy:  kubeProxy,
		Probe:      filepath.Join(dir, "probe"),
	}, nil
}

// shared is the build of BuildOnce, one per test process.
var shared struct {
	sync.Mutex
	dir  string
	bins Binaries
	err  error
}

// BuildOnce is Build into a temporary directory, done the first time a
// test process asks; RemoveBuild (from TestMain) deletes it.
func BuildOnce(ctx context.Context) (Binaries, error) {
	shared.Lock()
	defer shared.Unlock()
	if shared.dir != "" {
		return shared.bins, shared.err
	}
	dir, err := os.MkdirTemp("", "herald-e2e-bin-")
	if err != nil {
		return Binaries{}, fmt.Errorf("build: %w", err)
	}
	shared.dir = dir
	shared.bins, shared.err = Build(ctx, dir)
	return shared.bins, shared.err
}

// RemoveBuild deletes what BuildOnce built.
func RemoveBuild() error {
	shared.Lock()
	defer shared.Unlock()
	if shared.dir == "" {
		return nil
	}
	err := os.RemoveAll(shared.dir)
	shared.dir, shared.bins, shared.err = "", Binaries{}, nil
	return err
}
