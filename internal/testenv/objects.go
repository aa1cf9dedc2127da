package testenv

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"testing"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/yaml"
)

// ReadObjects decodes every document of a multi-document YAML file (the
// release manifest, a kustomize or Helm render), skipping empty ones.
func ReadObjects(path string) ([]*unstructured.Unstructured, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	return DecodeObjects(data, path)
}

// DecodeObjects decodes every document of multi-document YAML; source
// names it in errors. A document without apiVersion, kind or name is an
// error: every object of a manifest must be addressable.
func DecodeObjects(data []byte, source string) ([]*unstructured.Unstructured, error) {
	var objs []*unstructured.Unstructured
	dec := yaml.NewYAMLOrJSONDecoder(bytes.NewReader(data), 4096)
	for {
		var doc map[string]any
		if err := dec.Decode(&doc); errors.Is(err, io.EOF) {
			return objs, nil
		} else if err != nil {
			return nil, fmt.Errorf("%s: document %d: %w", source, len(objs)+1, err)
		}
		if len(doc) == 0 {
			continue
		}
		u := &unstructured.Unstructured{Object: doc}
		if u.GetKind() == "" || u.GetAPIVersion() == "" || u.GetName() == "" {
			return nil, fmt.Errorf("%s: document %d has no apiVersion, kind or name", source, len(objs)+1)
		}
		objs = append(objs, u)
	}
}

// Find returns the object of kind and name in objs, converted to T
// strictly (an unknown field fails tb), or nil when there is none.
func Find[T any](tb testing.TB, objs []*unstructured.Unstructured, kind, name string) *T {
	tb.Helper()
	for _, u := range objs {
		if u.GetKind() != kind || u.GetName() != name {
			continue
		}
		obj := new(T)
		if err := runtime.DefaultUnstructuredConverter.FromUnstructuredWithValidation(u.Object, obj, true); err != nil {
			tb.Fatalf("%s %s: decode: %v", kind, name, err)
		}
		return obj
	}
	return nil
}
