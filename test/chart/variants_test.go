package chart_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	admissionregistrationv1 "k8s.io/api/admissionregistration/v1"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
)

// TestDisabledVIPMode: without VIP mode there is no herald-keepalived (nor
// its metrics Service), the speaker neither mounts nor names the shared
// directory, and vip Eips are refused.
func TestDisabledVIPMode(t *testing.T) {
	objs := render(t, repoPath(t, chartDir), "herald", "herald-system",
		"--set", "modes.vip.enabled=false", "--set", "metrics.service.enabled=true")
	if ds := find[appsv1.DaemonSet](t, objs, "DaemonSet", "herald-keepalived"); ds != nil {
		t.Error("herald-keepalived rendered with modes.vip.enabled false")
	}
	if svc := find[corev1.Service](t, objs, "Service", "herald-keepalived-metrics"); svc != nil {
		t.Error("herald-keepalived-metrics rendered with modes.vip.enabled false")
	}
	ds := must[appsv1.DaemonSet](t, objs, "DaemonSet", "herald-speaker")
	spk := container(t, &ds.Spec.Template.Spec)
	wantArgs(t, "speaker", spk, map[string]string{"vip-dir": ""})
	if len(ds.Spec.Template.Spec.Volumes) != 0 || len(spk.VolumeMounts) != 0 {
		t.Errorf("speaker volumes %v, mounts %v: want none without VIP mode", ds.Spec.Template.Spec.Volumes, spk.VolumeMounts)
	}
	// bgp and layer2 on: all three capabilities.
	if got := spk.SecurityContext.Capabilities.Add; len(got) != 3 {
		t.Errorf("speaker capabilities %v, want NET_ADMIN, NET_RAW and NET_BIND_SERVICE", got)
	}
	vap := must[admissionregistrationv1.ValidatingAdmissionPolicy](t, objs, "ValidatingAdmissionPolicy", "herald-eip-modes")
	if !strings.Contains(vap.Spec.Validations[0].Expression, `["vip"]`) {
		t.Errorf("eip-modes policy %q does not refuse vip", vap.Spec.Validations[0].Expression)
	}
}

// TestDefaultsRenderNoModePolicy: with every mode on, no Eip is refused
// by the chart's policy (it is not rendered).
func TestDefaultsRenderNoModePolicy(t *testing.T) {
	objs := render(t, repoPath(t, chartDir), "herald", "herald-system")
	if vap := find[admissionregistrationv1.ValidatingAdmissionPolicy](t, objs, "ValidatingAdmissionPolicy", "herald-eip-modes"); vap != nil {
		t.Error("herald-eip-modes rendered with every mode enabled")
	}
}

// TestCRDsKeep: crds.keep false renders the CRDs without Helm's keep
// policy (so `helm uninstall` deletes them, and every Eip with them).
func TestCRDsKeep(t *testing.T) {
	objs := render(t, repoPath(t, chartDir), "herald", "herald-system", "--set", "crds.keep=false")
	n := 0
	for _, u := range objs {
		if u.GetKind() != "CustomResourceDefinition" {
			continue
		}
		n++
		if v, ok := u.GetAnnotations()[keepAnnotation]; ok {
			t.Errorf("%s: %s=%s with crds.keep false", key(u), keepAnnotation, v)
		}
	}
	if n == 0 {
		t.Error("no CRDs rendered with crds.enabled true")
	}
}

// TestOneReplicaHasNoPDB: a PodDisruptionBudget of minAvailable 1 over one
// replica would block every drain of its node.
func TestOneReplicaHasNoPDB(t *testing.T) {
	objs := render(t, repoPath(t, chartDir), "herald", "herald-system", "--set", "controller.replicas=1")
	if n := kinds(objs, "PodDisruptionBudget"); n != 0 {
		t.Errorf("%d PodDisruptionBudgets with one replica", n)
	}
}

// TestRefusedValues: values.schema.json and the templates' own checks
// refuse mistakes with a message naming the value, instead of rendering
// something that fails later (or silently ignores the value).
func TestRefusedValues(t *testing.T) {
	for _, tc := range []struct {
		name string
		set  []string
		want string // in helm's error output
	}{
		{"typo at the top", []string{"controler.replicas=3"}, "controler"},
		{"typo in a block", []string{"speaker.nodeSelectr.a=b"}, "nodeSelectr"},
		{"typo in modes", []string{"modes.vip.enable=false"}, "enable"},
		{"wrong type", []string{"controller.replicas=three"}, "/controller/replicas"},
		{"wrong type bool", []string{"crds.keep=maybe"}, "/crds/keep"},
		{"bad duration", []string{"modes.layer2.leaseDuration=15"}, "/modes/layer2/leaseDuration"},
		{"bad pull policy", []string{"image.pullPolicy=Sometimes"}, "/image/pullPolicy"},
		{"no mode", []string{"modes.bgp.enabled=false", "modes.layer2.enabled=false", "modes.vip.enabled=false"}, "enable at least one"},
		{"ServiceMonitor without Services", []string{"metrics.serviceMonitor.enabled=true"}, "metrics.service.enabled"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			args := []string{"template", "herald", repoPath(t, chartDir)}
			for _, s := range tc.set {
				args = append(args, "--set", s)
			}
			_, err := helm(t, args...)
			if err == nil {
				t.Fatalf("helm template --set %v succeeded, want an error mentioning %q", tc.set, tc.want)
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Errorf("helm template --set %v: %v\nwant a message mentioning %q", tc.set, err, tc.want)
			}
		})
	}
}

// TestConversionWebhookFollowsRelease: when the CRDs gain a conversion
// webhook (config/crd, then `make chart`), the chart points it at this
// release's webhook Service and namespace. The test adds one to a copy of
// the chart, as controller-gen and kustomize would render it.
func TestConversionWebhookFollowsRelease(t *testing.T) {
	dir := copyChart(t, "0.1.1", "v0.1.0")
	path := filepath.Join(dir, "files", "generated", "customresourcedefinition-eips.network.kubesphere.io.yaml")
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	conversion := "spec:\n  conversion:\n    strategy: Webhook\n    webhook:\n      clientConfig:\n        service:\n          name: herald-webhook-service\n          namespace: herald-system\n          path: /convert\n      conversionReviewVersions:\n      - v1\n"
	patched := strings.Replace(string(data), "\nspec:\n", "\n"+conversion, 1)
	if patched == string(data) {
		t.Fatal("no top-level spec in the generated Eip CRD")
	}
	if err := os.WriteFile(path, []byte(patched), 0o644); err != nil {
		t.Fatal(err)
	}
	objs := render(t, dir, customRelease, customNamespace)
	crd := must[unstructured.Unstructured](t, objs, "CustomResourceDefinition", "eips.network.kubesphere.io")
	svc, _, _ := unstructured.NestedStringMap(crd.Object, "spec", "conversion", "webhook", "clientConfig", "service")
	want := map[string]string{"name": customPrefix + "-webhook-service", "namespace": customNamespace, "path": "/convert"}
	if diff := cmp.Diff(want, svc); diff != "" {
		t.Errorf("conversion webhook service (-want +got):\n%s", diff)
	}
	must[corev1.Service](t, objs, "Service", want["name"])
}
