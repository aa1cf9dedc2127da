package manifests_test

import (
	"bytes"
	"os/exec"
	"path/filepath"
	"regexp"
	"testing"

	"github.com/herald-lb/herald/internal/testenv"
)

// flagLine matches a flag in the standard library's usage output:
// "  -name type" or "  -name".
var flagLine = regexp.MustCompile(`(?m)^  -([a-zA-Z0-9][a-zA-Z0-9_.-]*)`)

// TestControllerArgsAreDefinedFlags builds herald-controller and checks
// that every flag the Deployment passes is one it defines: an unknown flag
// makes the binary exit at start, which no schema check can see.
func TestControllerArgsAreDefinedFlags(t *testing.T) {
	r := loadRelease(t)
	root, err := testenv.RepoRoot()
	if err != nil {
		t.Fatal(err)
	}
	bin := filepath.Join(t.TempDir(), "herald-controller")
	build := exec.Command("go", "build", "-o", bin, "./cmd/herald-controller")
	build.Dir = root
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build ./cmd/herald-controller: %v\n%s", err, out)
	}
	var out bytes.Buffer
	help := exec.Command(bin, "-h")
	help.Stdout, help.Stderr = &out, &out
	if err := help.Run(); err != nil {
		t.Fatalf("herald-controller -h: %v\n%s", err, out.String())
	}
	defined := map[string]bool{}
	for _, m := range flagLine.FindAllStringSubmatch(out.String(), -1) {
		defined[m[1]] = true
	}
	if !defined["webhook-secret-name"] {
		t.Fatalf("could not read the flags from herald-controller -h:\n%s", out.String())
	}
	for name := range r.controller.args {
		if !defined[name] {
			t.Errorf("Deployment passes --%s, which herald-controller does not define", name)
		}
	}
}
