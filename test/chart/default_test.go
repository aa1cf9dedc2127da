package chart_test

import (
	"maps"
	"slices"
	"testing"

	"github.com/google/go-cmp/cmp"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/herald-lb/herald/internal/testenv"
)

// defaultFlags are the flags the default render needs to equal
// deploy/herald.yaml: its images are the unpublished placeholders tagged
// latest (the chart defaults to its appVersion), and it creates its
// namespace (`helm install` cannot: it stores the release there first).
var defaultFlags = []string{"--set", "image.tag=latest", "--set", "namespace.create=true"}

// helmLabels are the only labels the chart may add to an object's
// metadata beyond deploy/herald.yaml's: Helm's recommended labels, which
// name the release, the tool, the app version and the chart version, and
// so cannot be in a file kubectl applies. The chart puts them in
// metadata.labels only, never in a selector or a pod template, so they are
// removed there alone.
var helmLabels = map[string]string{
	"app.kubernetes.io/instance":   "herald",
	"app.kubernetes.io/managed-by": "Helm",
	"app.kubernetes.io/version":    "", // the chart's appVersion; checked present
	"helm.sh/chart":                "", // herald-<chart version>; checked present
}

// keepAnnotation is the only annotation the chart adds: on the CRDs, so
// that `helm uninstall` keeps them (and every Eip, BgpConf and BgpPeer).
// It is an instruction to Helm, meaningless to kubectl, hence not in
// deploy/herald.yaml.
const keepAnnotation = "helm.sh/resource-policy"

// configChecksum is the only pod template annotation the chart adds: a
// checksum of the herald-config ConfigMap on the controller's and the
// speakers' pods, so that `helm upgrade` with other settings restarts both.
// kubectl apply has no such hook, hence not in deploy/herald.yaml.
const configChecksum = "checksum/config"

// TestDefaultRenderEqualsRelease renders the chart with its defaults as
// release "herald" in herald-system and compares every object with
// deploy/herald.yaml's, whole, after removing only helmLabels,
// keepAnnotation and configChecksum (all checked present first).
func TestDefaultRenderEqualsRelease(t *testing.T) {
	rendered := byKey(t, "chart", render(t, repoPath(t, chartDir), "herald", "herald-system", defaultFlags...))
	want := byKey(t, releaseManifest, releaseObjects(t))

	for _, k := range slices.Sorted(maps.Keys(want)) {
		got, ok := rendered[k]
		if !ok {
			t.Errorf("%s is in %s, not in the chart's default render", k, releaseManifest)
			continue
		}
		got = got.DeepCopy()
		stripHelmMetadata(t, got)
		if diff := cmp.Diff(want[k].Object, got.Object); diff != "" {
			t.Errorf("%s differs from %s (-release +chart):\n%s", k, releaseManifest, diff)
		}
	}
	for _, k := range slices.Sorted(maps.Keys(rendered)) {
		if _, ok := want[k]; !ok {
			t.Errorf("%s is in the chart's default render, not in %s", k, releaseManifest)
		}
	}
}

// stripHelmMetadata removes helmLabels and keepAnnotation from u, failing
// when one is missing or has another value.
func stripHelmMetadata(t *testing.T, u *unstructured.Unstructured) {
	t.Helper()
	labels := u.GetLabels()
	for name, value := range helmLabels {
		got, ok := labels[name]
		switch {
		case !ok || got == "":
			t.Errorf("%s: label %s missing", key(u), name)
		case value != "" && got != value:
			t.Errorf("%s: label %s=%q, want %q", key(u), name, got, value)
		}
		delete(labels, name)
	}
	u.SetLabels(labels)
	if len(labels) == 0 {
		unstructured.RemoveNestedField(u.Object, "metadata", "labels")
	}
	if k := u.GetKind() + "/" + u.GetName(); k == "Deployment/herald-controller-manager" || k == "DaemonSet/herald-speaker" {
		path := []string{"spec", "template", "metadata", "annotations"}
		podAnnotations, _, _ := unstructured.NestedStringMap(u.Object, path...)
		if len(podAnnotations[configChecksum]) != 64 {
			t.Errorf("%s: pod annotation %s=%q, want a sha256", key(u), configChecksum, podAnnotations[configChecksum])
		}
		delete(podAnnotations, configChecksum)
		if len(podAnnotations) == 0 {
			unstructured.RemoveNestedField(u.Object, path...)
		} else if err := unstructured.SetNestedStringMap(u.Object, podAnnotations, path...); err != nil {
			t.Fatal(err)
		}
	}
	if u.GetKind() != "CustomResourceDefinition" {
		return
	}
	annotations := u.GetAnnotations()
	if annotations[keepAnnotation] != "keep" {
		t.Errorf("%s: annotation %s=%q, want keep (crds.keep defaults to true)", key(u), keepAnnotation, annotations[keepAnnotation])
	}
	delete(annotations, keepAnnotation)
	u.SetAnnotations(annotations)
	if len(annotations) == 0 {
		unstructured.RemoveNestedField(u.Object, "metadata", "annotations")
	}
}

// releaseObjects reads deploy/herald.yaml.
func releaseObjects(t *testing.T) []*unstructured.Unstructured {
	t.Helper()
	objs, err := testenv.ReadObjects(repoPath(t, releaseManifest))
	if err != nil {
		t.Fatalf("%v (run `make release-manifest`)", err)
	}
	return objs
}
