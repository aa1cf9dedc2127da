package chart_test

import (
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"

	"github.com/herald-lb/herald/internal/testenv"
)

// find is testenv.Find.
func find[T any](t *testing.T, objs []*unstructured.Unstructured, kind, name string) *T {
	t.Helper()
	return testenv.Find[T](t, objs, kind, name)
}

// must is find, failing when the object is missing.
func must[T any](t *testing.T, objs []*unstructured.Unstructured, kind, name string) *T {
	t.Helper()
	obj := find[T](t, objs, kind, name)
	if obj == nil {
		t.Fatalf("no %s %s in the render", kind, name)
	}
	return obj
}

// kinds counts the objects of kind in objs.
func kinds(objs []*unstructured.Unstructured, kind string) int {
	n := 0
	for _, u := range objs {
		if u.GetKind() == kind {
			n++
		}
	}
	return n
}

// args turns a container's "--name=value" arguments into a map; a bare
// "--name" maps to "true".
func args(c *corev1.Container) map[string]string {
	m := map[string]string{}
	for _, a := range c.Args {
		name, value, found := strings.Cut(strings.TrimLeft(a, "-"), "=")
		if !found {
			value = "true"
		}
		m[name] = value
	}
	return m
}

// container returns the pod's only container.
func container(t *testing.T, pod *corev1.PodSpec) *corev1.Container {
	t.Helper()
	if len(pod.Containers) != 1 {
		t.Fatalf("pod has %d containers, want 1", len(pod.Containers))
	}
	return &pod.Containers[0]
}

// convert decodes u into obj strictly.
func convert(u *unstructured.Unstructured, obj any) error {
	return runtime.DefaultUnstructuredConverter.FromUnstructuredWithValidation(u.Object, obj, true)
}

// convertLoose decodes u into obj, ignoring fields obj lacks (a
// MutatingWebhook's reinvocationPolicy in a ValidatingWebhook).
func convertLoose(u *unstructured.Unstructured, obj any) error {
	return runtime.DefaultUnstructuredConverter.FromUnstructured(u.Object, obj)
}
