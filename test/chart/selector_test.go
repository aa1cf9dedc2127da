package chart_test

import (
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
)

// selectorPaths are where an object's selector (or the labels a selector
// matches) live, by kind: the fields an upgrade must never change (a
// workload's selector is immutable; a changed Service selector loses the
// pods).
var selectorPaths = map[string][][]string{
	"Deployment":          {{"spec", "selector"}, {"spec", "template", "metadata", "labels"}},
	"DaemonSet":           {{"spec", "selector"}, {"spec", "template", "metadata", "labels"}},
	"Service":             {{"spec", "selector"}},
	"PodDisruptionBudget": {{"spec", "selector"}},
}

// TestSelectorsStableAcrossChartVersions renders the chart and a copy of it
// with another version and appVersion (what every upgrade changes) and
// checks that no selector, nor the pod labels they match, differs; and
// that none names the chart, its version or the release.
func TestSelectorsStableAcrossChartVersions(t *testing.T) {
	bumped := copyChart(t, "9.8.7", "v9.8.7")
	for _, values := range [][]string{nil, {"-f", repoPath(t, "test/chart/"+customValues)}} {
		old := byKey(t, "chart", render(t, repoPath(t, chartDir), "herald", "herald-system", values...))
		upgraded := byKey(t, "bumped chart", render(t, bumped, "herald", "herald-system", values...))
		n := 0
		for k, u := range old {
			paths, ok := selectorPaths[u.GetKind()]
			if !ok {
				continue
			}
			v, ok := upgraded[k]
			if !ok {
				t.Errorf("%s is gone after a version bump", k)
				continue
			}
			for _, path := range paths {
				before, _, _ := unstructured.NestedFieldCopy(u.Object, path...)
				after, _, _ := unstructured.NestedFieldCopy(v.Object, path...)
				if before == nil {
					t.Errorf("%s has no %s", k, strings.Join(path, "."))
				}
				if diff := cmp.Diff(before, after); diff != "" {
					t.Errorf("%s: %s changes with the chart version (-old +new):\n%s", k, strings.Join(path, "."), diff)
				}
				for _, label := range []string{"helm.sh/chart", "app.kubernetes.io/version", "app.kubernetes.io/instance", "app.kubernetes.io/managed-by"} {
					if strings.Contains(fmt.Sprint(before), label) {
						t.Errorf("%s: %s uses %s", k, strings.Join(path, "."), label)
					}
				}
				n++
			}
		}
		if n < 8 {
			t.Errorf("only %d selectors compared; the render lacks workloads or Services", n)
		}
	}
}

// copyChart copies the chart to a temporary directory with another
// version and appVersion in Chart.yaml.
func copyChart(t *testing.T, version, appVersion string) string {
	t.Helper()
	src := repoPath(t, chartDir)
	dst := filepath.Join(t.TempDir(), "herald")
	if err := os.CopyFS(dst, os.DirFS(src)); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dst, "Chart.yaml")
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	bumped := regexp.MustCompile(`(?m)^version: .*$`).ReplaceAllString(string(data), "version: "+version)
	bumped = regexp.MustCompile(`(?m)^appVersion: .*$`).ReplaceAllString(bumped, "appVersion: "+appVersion)
	if bumped == string(data) {
		t.Fatal("Chart.yaml has no version or appVersion line to change")
	}
	if err := os.WriteFile(path, []byte(bumped), 0o644); err != nil {
		t.Fatal(err)
	}
	return dst
}
