package chart_test

import "testing"

// TestLint runs `helm lint --strict` (warnings are errors) with the
// default values and with the non-default ones the other tests use.
func TestLint(t *testing.T) {
	for _, tc := range []struct {
		name string
		args []string
	}{
		{"defaults", nil},
		{"custom values", []string{"-f", customValues}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			out, err := helm(t, append([]string{"lint", "--strict", repoPath(t, chartDir)}, tc.args...)...)
			if err != nil {
				t.Fatalf("%v\n%s", err, out)
			}
		})
	}
}
