package manifests_test

import (
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/herald-lb/herald/internal/testenv"
)

// metricName finds the names Herald's metrics are created with: the Name
// of prometheus.*Opts, or the first argument of prometheus.NewDesc.
var metricName = regexp.MustCompile(`(?:Name:\s*|NewDesc\(\s*)"(herald_[a-z0-9_]+)"`)

// readmeRow finds the metric of a row of the README's Metrics table.
var readmeRow = regexp.MustCompile("^\\|\\s*`(herald_[a-z0-9_]+)`\\s*\\|")

// TestReadmeListsEveryMetric: the README's Metrics table is what operators
// read to build dashboards and alerts, so every metric the Go sources
// create must have a row, and every row must name a metric that exists.
func TestReadmeListsEveryMetric(t *testing.T) {
	root, err := testenv.RepoRoot()
	if err != nil {
		t.Fatal(err)
	}
	inCode := metricsInCode(t, root)

	data, err := os.ReadFile(filepath.Join(root, "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	_, section, ok := strings.Cut(string(data), "\n## Metrics\n")
	if !ok {
		t.Fatal("README.md has no \"## Metrics\" section")
	}
	if next := strings.Index(section, "\n## "); next >= 0 {
		section = section[:next]
	}
	inReadme := map[string]bool{}
	for _, line := range strings.Split(section, "\n") {
		if m := readmeRow.FindStringSubmatch(line); m != nil {
			inReadme[m[1]] = true
		}
	}

	var missing, stale []string
	for name, file := range inCode {
		if !inReadme[name] {
			missing = append(missing, name+" ("+file+")")
		}
	}
	for name := range inReadme {
		if _, ok := inCode[name]; !ok {
			stale = append(stale, name)
		}
	}
	slices.Sort(missing)
	slices.Sort(stale)
	if len(missing) > 0 {
		t.Errorf("README.md's Metrics table lacks a row for: %s", strings.Join(missing, ", "))
	}
	if len(stale) > 0 {
		t.Errorf("README.md's Metrics table lists metrics no Go source creates: %s", strings.Join(stale, ", "))
	}
}

// metricsInCode maps every herald_* metric the Go sources under root
// create (tests excluded) to the file that creates it.
func metricsInCode(t *testing.T, root string) map[string]string {
	t.Helper()
	inCode := map[string]string{} // name -> file
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			if name := d.Name(); path != root && (strings.HasPrefix(name, ".") || name == "bin" || name == "vendor" || name == "testdata") {
				return filepath.SkipDir
			}
			return nil
		}
		if !strings.HasSuffix(path, ".go") || strings.HasSuffix(path, "_test.go") {
			return nil
		}
		data, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		for _, m := range metricName.FindAllSubmatch(data, -1) {
			rel, _ := filepath.Rel(root, path)
			inCode[string(m[1])] = rel
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(inCode) == 0 {
		t.Fatal("found no herald_* metric in the Go sources: the pattern no longer matches how they are created")
	}
	return inCode
}
