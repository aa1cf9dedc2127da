package manifests_test

import (
	"fmt"
	"testing"

	corev1 "k8s.io/api/core/v1"

	"github.com/herald-lb/herald/internal/optin"
)

// TestOptInReachesBothBinaries: the MetalLB migration opt-ins are one
// setting for herald-controller and herald-speaker, so that the speakers
// announce exactly the Services the controller allocates for: both pods
// read the same keys of the same ConfigMap into the variables that
// optin.BindFlags defaults the flags from, neither pins the flags in its
// args, and the ConfigMap ships with both off.
func TestOptInReachesBothBinaries(t *testing.T) {
	r := loadRelease(t)
	cm := named[corev1.ConfigMap](t, r.objs, "ConfigMap", "herald-config")
	if cm.Namespace != r.deployment.Namespace {
		t.Errorf("ConfigMap herald-config in %q, want Herald's namespace %q", cm.Namespace, r.deployment.Namespace)
	}
	settings := map[string]string{
		optin.EnvMetalLBAnnotations: optin.SettingMetalLBAnnotations,
		optin.EnvClasslessServices:  optin.SettingClasslessServices,
	}
	for _, w := range []*workload{r.controller, r.speaker} {
		for env, key := range settings {
			if v, ok := w.args[key]; ok {
				t.Errorf("%s: --%s=%s in args overrides herald-config", w.name, key, v)
			}
			if err := envFromConfig(w.container, env, cm.Name, key); err != nil {
				t.Errorf("%s: %v", w.name, err)
			}
			if v, ok := cm.Data[key]; !ok || v != "false" {
				t.Errorf("herald-config %s=%q, want \"false\" (off unless the operator opts in)", key, v)
			}
		}
	}
}

func envFromConfig(c *corev1.Container, env, configMap, key string) error {
	for _, e := range c.Env {
		if e.Name != env {
			continue
		}
		ref := e.ValueFrom
		if ref == nil || ref.ConfigMapKeyRef == nil || ref.ConfigMapKeyRef.Name != configMap || ref.ConfigMapKeyRef.Key != key {
			return fmt.Errorf("%s is %+v, want configMapKeyRef %s/%s", env, e, configMap, key)
		}
		if ref.ConfigMapKeyRef.Optional == nil || !*ref.ConfigMapKeyRef.Optional {
			return fmt.Errorf("%s: configMapKeyRef not optional: a missing ConfigMap would keep the pod from starting", env)
		}
		return nil
	}
	return fmt.Errorf("no %s in env", env)
}
