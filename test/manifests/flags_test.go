package manifests_test

import (
	"testing"

	"github.com/herald-lb/herald/internal/testenv"
)

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
			defined := testenv.CommandFlags(t, tc.cmd)
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
