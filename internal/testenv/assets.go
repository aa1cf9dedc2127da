package testenv

import (
	"bufio"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

// modulePath is the module whose go.mod marks the repository root.
const modulePath = "github.com/herald-lb/herald"

// assetsEnv names the directory holding kube-apiserver, etcd and kubectl;
// it is the variable envtest itself reads, so `make test` sets it once.
const assetsEnv = "KUBEBUILDER_ASSETS"

// ErrMissingBinary is returned by New when kube-apiserver or etcd is not
// where the tests look for them.
var ErrMissingBinary = errors.New("control-plane binary missing (run `make control-plane`)")

// RepoRoot returns the directory of Herald's go.mod, found by walking up
// from the working directory (go test runs each test in its package's
// directory, so this works from any package of the module).
func RepoRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", fmt.Errorf("find repository root: %w", err)
	}
	for {
		if isHeraldRoot(filepath.Join(dir, "go.mod")) {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", fmt.Errorf("find repository root: no go.mod of module %s above the working directory", modulePath)
		}
		dir = parent
	}
}

// isHeraldRoot reports whether goMod is Herald's go.mod rather than that of
// a nested module (hack/tools/*).
func isHeraldRoot(goMod string) bool {
	f, err := os.Open(goMod)
	if err != nil {
		return false
	}
	defer f.Close()
	s := bufio.NewScanner(f)
	for s.Scan() {
		if fields := strings.Fields(s.Text()); len(fields) == 2 && fields[0] == "module" {
			return fields[1] == modulePath
		}
	}
	return false
}

// assetsDir returns where kube-apiserver and etcd live: $KUBEBUILDER_ASSETS
// when set, else <repo>/bin, where `make control-plane` puts them.
func assetsDir(root string) string {
	if dir := os.Getenv(assetsEnv); dir != "" {
		return dir
	}
	return filepath.Join(root, "bin")
}

// checkBinaries fails with ErrMissingBinary unless dir holds executable
// kube-apiserver and etcd binaries.
func checkBinaries(dir string) error {
	var errs []error
	for _, name := range []string{"kube-apiserver", "etcd"} {
		path := filepath.Join(dir, name)
		fi, err := os.Stat(path)
		switch {
		case err != nil:
			errs = append(errs, fmt.Errorf("%s: %w", path, ErrMissingBinary))
		case fi.IsDir() || fi.Mode().Perm()&0o111 == 0:
			errs = append(errs, fmt.Errorf("%s is not an executable file: %w", path, ErrMissingBinary))
		}
	}
	return errors.Join(errs...)
}

// AssetPath returns where the control-plane build put the binary name
// (kube-proxy, kubectl, ...): in $KUBEBUILDER_ASSETS or <repo>/bin. It
// fails with ErrMissingBinary when the file is not there.
func AssetPath(name string) (string, error) {
	root, err := RepoRoot()
	if err != nil {
		return "", err
	}
	path := filepath.Join(assetsDir(root), name)
	if _, err := os.Stat(path); err != nil {
		return "", fmt.Errorf("%s: %w", path, ErrMissingBinary)
	}
	return path, nil
}
