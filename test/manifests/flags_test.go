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

// TestArgsAreDefinedFlags builds each of Herald's commands and checks that
// every flag its pod passes is one it defines: an unknown flag makes the
// binary exit at start, which no schema check can see.
func TestArgsAreDefinedFlags(t *testing.T) {
	r := loadRelease(t)
	for _, tc := range []struct {
		cmd string
		w   *workload
		// known is a flag the command surely defines: seeing it proves the
		// usage output was read.
		known string
	}{
		{"herald-controller", r.controller, "webhook-secret-name"},
		{"herald-speaker", r.speaker, "shutdown-timeout"},
		{"herald-keepalived", r.keepalived, "stop-grace"},
	} {
		t.Run(tc.cmd, func(t *testing.T) {
			defined := definedFlags(t, tc.cmd)
			if !defined[tc.known] {
				t.Fatalf("could not read the flags from %s -h (no -%s): %v", tc.cmd, tc.known, defined)
			}
			for name := range tc.w.args {
				if !defined[name] {
					t.Errorf("%s %s passes --%s, which %s does not define", tc.w.kind, tc.w.name, name, tc.cmd)
				}
			}
		})
	}
}

// definedFlags builds ./cmd/<cmd> and returns the flags its -h lists.
func definedFlags(t *testing.T, cmd string) map[string]bool {
	t.Helper()
	root, err := testenv.RepoRoot()
	if err != nil {
		t.Fatal(err)
	}
	bin := filepath.Join(t.TempDir(), cmd)
	build := exec.Command("go", "build", "-o", bin, "./cmd/"+cmd)
	build.Dir = root
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build ./cmd/%s: %v\n%s", cmd, err, out)
	}
	var out bytes.Buffer
	help := exec.Command(bin, "-h")
	help.Stdout, help.Stderr = &out, &out
	if err := help.Run(); err != nil {
		t.Fatalf("%s -h: %v\n%s", cmd, err, out.String())
	}
	defined := map[string]bool{}
	for _, m := range flagLine.FindAllStringSubmatch(out.String(), -1) {
		defined[m[1]] = true
	}
	return defined
}
