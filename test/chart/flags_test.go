package chart_test

import (
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"

	"github.com/herald-lb/herald/internal/testenv"
)

// TestRenderedArgsAreDefinedFlags builds each command and checks that
// every flag the custom render (which sets every optional flag the chart
// knows) passes is one it defines: the binaries exit on an unknown flag.
func TestRenderedArgsAreDefinedFlags(t *testing.T) {
	objs := renderCustom(t)
	for _, tc := range []struct{ cmd, kind, name string }{
		{"herald-controller", "Deployment", customPrefix + "-controller-manager"},
		{"herald-speaker", "DaemonSet", customPrefix + "-speaker"},
		{"herald-keepalived", "DaemonSet", customPrefix + "-keepalived"},
	} {
		t.Run(tc.cmd, func(t *testing.T) {
			var c *corev1.Container
			if tc.kind == "Deployment" {
				c = container(t, &must[appsv1.Deployment](t, objs, tc.kind, tc.name).Spec.Template.Spec)
			} else {
				c = container(t, &must[appsv1.DaemonSet](t, objs, tc.kind, tc.name).Spec.Template.Spec)
			}
			defined := testenv.CommandFlags(t, tc.cmd)
			if len(defined) < 3 {
				t.Fatalf("could not read the flags of %s: %v", tc.cmd, defined)
			}
			for name := range args(c) {
				if !defined[name] {
					t.Errorf("%s %s passes --%s, which %s does not define", tc.kind, tc.name, name, tc.cmd)
				}
			}
		})
	}
}
