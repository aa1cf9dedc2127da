package chart_test

import (
	"os"
	"regexp"
	"slices"
	"strings"
	"testing"

	"sigs.k8s.io/yaml"
)

// freeForm are the values whose content is Kubernetes' (a nodeSelector, a
// resources block): the README documents the key, not what is inside.
var freeForm = []string{"resources", "nodeSelector", "affinity", "podAnnotations", "labels", "tolerations"}

// tableRow matches the first cell of a row of the README's values table.
var tableRow = regexp.MustCompile("(?m)^\\| `([a-zA-Z0-9.]+)` \\|")

// TestReadmeDocumentsEveryValue checks the chart README's values table
// against values.yaml both ways: every value is documented, and every
// documented value exists.
func TestReadmeDocumentsEveryValue(t *testing.T) {
	data, err := os.ReadFile(repoPath(t, chartDir+"/values.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	var values map[string]any
	if err := yaml.Unmarshal(data, &values); err != nil {
		t.Fatal(err)
	}
	var paths []string
	var walk func(prefix string, m map[string]any)
	walk = func(prefix string, m map[string]any) {
		for k, v := range m {
			path := prefix + k
			if sub, ok := v.(map[string]any); ok && len(sub) > 0 && !slices.Contains(freeForm, k) {
				walk(path+".", sub)
				continue
			}
			paths = append(paths, path)
		}
	}
	walk("", values)

	readme, err := os.ReadFile(repoPath(t, chartDir+"/README.md"))
	if err != nil {
		t.Fatal(err)
	}
	documented := map[string]bool{}
	for _, m := range tableRow.FindAllStringSubmatch(string(readme), -1) {
		documented[m[1]] = true
	}
	slices.Sort(paths)
	for _, p := range paths {
		if !documented[p] {
			t.Errorf("values.yaml has %s; the README's values table does not", p)
		}
		delete(documented, p)
	}
	for p := range documented {
		t.Errorf("the README's values table documents %s, which values.yaml lacks", p)
	}
	if len(paths) < 20 || !strings.Contains(string(readme), "helm.sh/resource-policy: keep") {
		t.Errorf("the README documents %d values and no keep policy: wrong file?", len(paths))
	}
}
