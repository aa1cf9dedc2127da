package webhooktest

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"testing"
	"time"

	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/yaml"

	"github.com/herald-lb/herald/internal/testenv"
)

// Helpers for tests that replay a cluster's CRD history (OpenELB's
// releases, then Herald's), shared by the stored-versions test here and
// the OpenELB takeover test (test/takeover).

var errNotEstablished = errors.New("CRD not established yet")

// CRDs reads config/crd/bases: Herald's CRDs as released, minus
// the conversion webhook patch (Start points them at its server).
func CRDs(t testing.TB) []*apiextensionsv1.CustomResourceDefinition {
	t.Helper()
	root, err := testenv.RepoRoot()
	if err != nil {
		t.Fatal(err)
	}
	files, err := filepath.Glob(filepath.Join(root, "config", "crd", "bases", "*.yaml"))
	if err != nil || len(files) != 3 {
		t.Fatalf("config/crd/bases: %v (%v)", files, err)
	}
	var crds []*apiextensionsv1.CustomResourceDefinition
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		crd := &apiextensionsv1.CustomResourceDefinition{}
		if err := yaml.UnmarshalStrict(data, crd); err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		crds = append(crds, crd)
	}
	return crds
}

// ReplaceCRDs updates each installed CRD to Herald's spec, changed by
// edit when it is not nil, as `kubectl apply` of a newer release does.
func ReplaceCRDs(ctx context.Context, t testing.TB, c client.Client, crds []*apiextensionsv1.CustomResourceDefinition, edit func(*apiextensionsv1.CustomResourceDefinition)) {
	t.Helper()
	for _, want := range crds {
		testenv.Eventually(t, 30*time.Second, func() error {
			var cur apiextensionsv1.CustomResourceDefinition
			if err := c.Get(ctx, client.ObjectKey{Name: want.Name}, &cur); err != nil {
				return err
			}
			cur.Spec = *want.Spec.DeepCopy()
			if edit != nil {
				edit(&cur)
			}
			return c.Update(ctx, &cur)
		})
	}
	WaitEstablished(ctx, t, c, crds)
}

// WaitEstablished waits until the API server serves every CRD.
func WaitEstablished(ctx context.Context, t testing.TB, c client.Client, crds []*apiextensionsv1.CustomResourceDefinition) {
	t.Helper()
	for _, crd := range crds {
		testenv.Eventually(t, 30*time.Second, func() error {
			var cur apiextensionsv1.CustomResourceDefinition
			if err := c.Get(ctx, client.ObjectKey{Name: crd.Name}, &cur); err != nil {
				return err
			}
			for _, cond := range cur.Status.Conditions {
				if cond.Type == apiextensionsv1.Established && cond.Status == apiextensionsv1.ConditionTrue {
					return nil
				}
			}
			return errNotEstablished
		})
	}
}
