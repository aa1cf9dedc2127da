package chart_test

import (
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"

	"github.com/herald-lb/herald/internal/optin"
)

// TestMetalLBValuesLand: metallb.annotations and metallb.classlessServices
// land in the release's herald-config, which both pods read, and change the
// checksum on both pod templates, so that helm upgrade restarts the
// controller and the speakers together.
func TestMetalLBValuesLand(t *testing.T) {
	checksums := func(extra ...string) (map[string]string, *corev1.ConfigMap) {
		objs := renderCustom(t, extra...)
		cm := must[corev1.ConfigMap](t, objs, "ConfigMap", customPrefix+"-config")
		dep := must[appsv1.Deployment](t, objs, "Deployment", customPrefix+"-controller-manager")
		ds := must[appsv1.DaemonSet](t, objs, "DaemonSet", customPrefix+"-speaker")
		for name, c := range map[string]*corev1.Container{"controller": container(t, &dep.Spec.Template.Spec), "speaker": container(t, &ds.Spec.Template.Spec)} {
			for _, env := range []string{optin.EnvMetalLBAnnotations, optin.EnvClasslessServices} {
				found := false
				for _, e := range c.Env {
					if e.Name == env && e.ValueFrom != nil && e.ValueFrom.ConfigMapKeyRef != nil && e.ValueFrom.ConfigMapKeyRef.Name == cm.Name {
						found = true
					}
				}
				if !found {
					t.Errorf("%s: no %s from ConfigMap %s", name, env, cm.Name)
				}
			}
		}
		return map[string]string{
			"controller": dep.Spec.Template.Annotations["checksum/config"],
			"speaker":    ds.Spec.Template.Annotations["checksum/config"],
		}, cm
	}
	off, cm := checksums()
	if cm.Data[optin.SettingMetalLBAnnotations] != "false" || cm.Data[optin.SettingClasslessServices] != "false" {
		t.Errorf("defaults: herald-config data %v, want both false", cm.Data)
	}
	on, cm := checksums("--set", "metallb.annotations=true", "--set", "metallb.classlessServices=true")
	if cm.Data[optin.SettingMetalLBAnnotations] != "true" || cm.Data[optin.SettingClasslessServices] != "true" {
		t.Errorf("both on: herald-config data %v, want both true", cm.Data)
	}
	for pod := range off {
		if off[pod] == "" || off[pod] == on[pod] {
			t.Errorf("%s: checksum/config %q with the opt-ins off, %q with them on; want a checksum that changes", pod, off[pod], on[pod])
		}
	}
}
