package testenv

import (
	"bytes"
	"os/exec"
	"path/filepath"
	"regexp"
	"testing"
)

// flagLine matches a flag in the standard library's usage output:
// "  -name type" or "  -name".
var flagLine = regexp.MustCompile(`(?m)^  -([a-zA-Z0-9][a-zA-Z0-9_.-]*)`)

// CommandFlags builds ./cmd/<cmd> and returns the flags its -h lists, so
// that a manifest's test can check every flag its pods pass: an unknown
// flag makes the binary exit at start, which no schema check can see.
func CommandFlags(t *testing.T, cmd string) map[string]bool {
	t.Helper()
	root, err := RepoRoot()
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
