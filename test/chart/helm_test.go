package chart_test

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/herald-lb/herald/internal/testenv"
)

const (
	// chartDir is the chart, relative to the repository root.
	chartDir = "deploy/charts/herald"
	// releaseManifest is the kubectl install the default render must equal.
	releaseManifest = "deploy/herald.yaml"
	// customValues sets a non-default value for every kind of setting.
	customValues = "testdata/custom-values.yaml"
)

// helm runs bin/helm (built by `make helm`, a prerequisite of `make test`)
// and returns its standard output; a missing binary fails the test, since
// skipping would pass CI without having checked the chart.
func helm(t *testing.T, args ...string) ([]byte, error) {
	t.Helper()
	bin, err := testenv.AssetPath("helm")
	if err != nil {
		t.Fatalf("%v: run `make helm`", err)
	}
	var stdout, stderr bytes.Buffer
	cmd := exec.Command(bin, args...)
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	// No user's Helm configuration, cache or plugins.
	home := t.TempDir()
	cmd.Env = append(os.Environ(),
		"HELM_CONFIG_HOME="+filepath.Join(home, "config"),
		"HELM_CACHE_HOME="+filepath.Join(home, "cache"),
		"HELM_DATA_HOME="+filepath.Join(home, "data"))
	if err := cmd.Run(); err != nil {
		return stdout.Bytes(), &helmError{args: args, err: err, stderr: stderr.String()}
	}
	return stdout.Bytes(), nil
}

// helmError keeps helm's stderr, which names the problem.
type helmError struct {
	args   []string
	err    error
	stderr string
}

func (e *helmError) Error() string {
	return "helm " + joinArgs(e.args) + ": " + e.err.Error() + ": " + e.stderr
}

func joinArgs(args []string) string {
	var b bytes.Buffer
	for i, a := range args {
		if i > 0 {
			b.WriteByte(' ')
		}
		b.WriteString(a)
	}
	return b.String()
}

// repoPath returns rel under the repository root.
func repoPath(t *testing.T, rel string) string {
	t.Helper()
	root, err := testenv.RepoRoot()
	if err != nil {
		t.Fatal(err)
	}
	return filepath.Join(root, rel)
}

// render runs `helm template` on dir (a chart directory) and decodes the
// objects; args are extra flags (-f, --set).
func render(t *testing.T, dir, release, namespace string, args ...string) []*unstructured.Unstructured {
	t.Helper()
	out, err := helm(t, append([]string{"template", release, dir, "--namespace", namespace}, args...)...)
	if err != nil {
		t.Fatal(err)
	}
	objs, err := testenv.DecodeObjects(out, "helm template "+joinArgs(args))
	if err != nil {
		t.Fatal(err)
	}
	if len(objs) == 0 {
		t.Fatalf("helm template %s rendered no objects", joinArgs(args))
	}
	return objs
}

// key names an object uniquely within a render.
func key(u *unstructured.Unstructured) string {
	return u.GetKind() + " " + u.GetNamespace() + "/" + u.GetName()
}

// byKey indexes objects by key, failing on duplicates.
func byKey(t *testing.T, source string, objs []*unstructured.Unstructured) map[string]*unstructured.Unstructured {
	t.Helper()
	m := map[string]*unstructured.Unstructured{}
	for _, u := range objs {
		if _, dup := m[key(u)]; dup {
			t.Errorf("%s: %s appears twice", source, key(u))
		}
		m[key(u)] = u
	}
	return m
}
