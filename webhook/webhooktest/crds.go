package webhooktest

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	"k8s.io/apimachinery/pkg/runtime"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/yaml"

	"github.com/herald-lb/herald/api/v1alpha1"
	"github.com/herald-lb/herald/api/v1alpha2"
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

// Client returns a client for cfg whose scheme knows the core types, CRDs
// and both of Herald's versions: what a test replaying the CRD history
// reads and writes with.
func Client(t testing.TB, cfg *rest.Config) client.Client {
	t.Helper()
	scheme := runtime.NewScheme()
	for _, add := range []func(*runtime.Scheme) error{clientgoscheme.AddToScheme, apiextensionsv1.AddToScheme, v1alpha1.AddToScheme, v1alpha2.AddToScheme} {
		if err := add(scheme); err != nil {
			t.Fatal(err)
		}
	}
	c, err := client.New(cfg, client.Options{Scheme: scheme})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// InstallOpenELBv1alpha1 creates the CRDs as OpenELB's first releases had
// them: v1alpha1 only, stored, so that objects written now stay at
// v1alpha1 in etcd. It returns once they are served.
func InstallOpenELBv1alpha1(ctx context.Context, t testing.TB, c client.Client, crds []*apiextensionsv1.CustomResourceDefinition) {
	t.Helper()
	for _, crd := range crds {
		old := crd.DeepCopy()
		old.Spec.Versions = slices.DeleteFunc(old.Spec.Versions, func(v apiextensionsv1.CustomResourceDefinitionVersion) bool { return v.Name != "v1alpha1" })
		old.Spec.Versions[0].Storage = true
		if err := c.Create(ctx, old); err != nil {
			t.Fatal(err)
		}
	}
	WaitEstablished(ctx, t, c, crds)
}

// ConversionNone is the ReplaceCRDs edit of OpenELB v0.6's CRDs: both
// versions served, v1alpha2 stored, conversion None (the API server only
// relabels objects between versions).
func ConversionNone(crd *apiextensionsv1.CustomResourceDefinition) {
	crd.Spec.Conversion = &apiextensionsv1.CustomResourceConversion{Strategy: apiextensionsv1.NoneConverter}
}
