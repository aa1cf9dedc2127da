package main

import (
	"bytes"
	"os"
	"strings"
	"testing"
)

// TestMigrateMetalLB runs the subcommand as main dispatches it: the main
// example on a file and on standard input prints its golden translation;
// usage and input errors have their exit codes and messages.
func TestMigrateMetalLB(t *testing.T) {
	const input = "../../internal/metallbmigrate/testdata/classic.yaml"
	want, err := os.ReadFile("../../internal/metallbmigrate/testdata/classic.golden")
	if err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(input)
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name     string
		args     []string
		stdin    string
		code     int
		stdout   string
		inStderr string
	}{
		{"file", []string{"-layer2-interface", "eth0", input}, "", 0, string(want), ""},
		{"stdin", []string{"-layer2-interface=eth0", "-"}, string(data), 0, string(want), ""},
		{"no files", nil, "", 2, "", "Usage: herald-controller migrate-metallb"},
		{"bad flag", []string{"-nope", input}, "", 2, "", "flag provided but not defined"},
		{"missing file", []string{"/nonexistent.yaml"}, "", 1, "", "migrate-metallb: open /nonexistent.yaml"},
		{"bad input", []string{"-"}, "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: config\n", 1, "", `ConfigMap "config": data.config: required`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			code := migrateMetalLB(tc.args, strings.NewReader(tc.stdin), &stdout, &stderr)
			if code != tc.code {
				t.Errorf("exit code %d, want %d; stderr: %s", code, tc.code, stderr.String())
			}
			if stdout.String() != tc.stdout {
				t.Errorf("stdout:\n%s\nwant:\n%s", stdout.String(), tc.stdout)
			}
			if !strings.Contains(stderr.String(), tc.inStderr) {
				t.Errorf("stderr %q does not contain %q", stderr.String(), tc.inStderr)
			}
		})
	}
}
