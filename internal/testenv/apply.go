package testenv

import (
	"context"
	"fmt"
	"slices"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/sets"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/discovery"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

// ApplyOrder ranks the kinds of an install (deploy/herald.yaml, the Helm
// chart's render) in the order `kubectl apply` must meet them on an empty
// cluster. DryRunApply fails on a kind missing here, so whoever adds one
// places it.
var ApplyOrder = []string{
	"Namespace",
	"CustomResourceDefinition",
	"ServiceAccount", "ConfigMap",
	"ClusterRole", "Role",
	"ClusterRoleBinding", "RoleBinding",
	"Deployment", "PodDisruptionBudget", "DaemonSet", "Service",
	"MutatingWebhookConfiguration", "ValidatingWebhookConfiguration",
	"ValidatingAdmissionPolicy", "ValidatingAdmissionPolicyBinding",
}

// createdForReal are the kinds the objects after them depend on; they are
// created, the others only dry-run. Pods need their ServiceAccount.
var createdForReal = sets.New("Namespace", "CustomResourceDefinition", "ServiceAccount")

// Strict makes unknown and duplicate fields errors instead of warnings.
var Strict = client.FieldValidation("Strict")

// DryRunApply sends every object to the API server in ApplyOrder, as a
// strict server-side dry run, so that the API server's own validation
// (schemas, RBAC rules, probe and security settings, webhook
// configurations, admission policies' CEL) judges them. Namespaces, CRDs
// and ServiceAccounts are then created for real, since later objects need
// them, and a pod of every workload is dry-run too (Pod Security and
// priority admission judge pods only). It waits until the API server
// serves the CRDs' resources and returns the CRDs; a failure is reported
// on t and returns nil.
func (e *Env) DryRunApply(ctx context.Context, t *testing.T, source string, objs []*unstructured.Unstructured) []*unstructured.Unstructured {
	t.Helper()
	objs = slices.Clone(objs)
	rank := func(u *unstructured.Unstructured) int { return slices.Index(ApplyOrder, u.GetKind()) }
	for _, u := range objs {
		if rank(u) < 0 {
			t.Fatalf("%s: %s %s: kind not in testenv.ApplyOrder; add it where it belongs", source, u.GetKind(), u.GetName())
		}
	}
	slices.SortStableFunc(objs, func(a, b *unstructured.Unstructured) int { return rank(a) - rank(b) })

	var crds []*unstructured.Unstructured
	for _, u := range objs {
		name := u.GetKind() + " " + client.ObjectKeyFromObject(u).String()
		if err := e.Client.Create(ctx, u.DeepCopy(), client.DryRunAll, Strict); err != nil {
			t.Errorf("%s: dry-run create %s: %v", source, name, err)
			continue
		}
		if createdForReal.Has(u.GetKind()) {
			if err := e.Client.Create(ctx, u.DeepCopy(), Strict); err != nil {
				t.Fatalf("%s: create %s: %v", source, name, err)
			}
		}
		if u.GetKind() == "CustomResourceDefinition" {
			crds = append(crds, u)
		}
	}
	if t.Failed() {
		return nil
	}
	e.dryRunPods(ctx, t, source, objs)
	if err := e.WaitForCRDs(ctx, crds); err != nil {
		t.Error(err)
		return nil
	}
	return crds
}

// dryRunPods dry-runs a pod of every workload in its namespace. Pod
// Security admission enforces its level on pods only: a workload the
// namespace's level forbids is accepted, and then never gets a pod. The
// Priority admission plugin resolves priorityClassName on pods only, too.
func (e *Env) dryRunPods(ctx context.Context, t *testing.T, source string, objs []*unstructured.Unstructured) {
	t.Helper()
	pod := func(kind string, meta metav1.ObjectMeta, tmpl corev1.PodTemplateSpec) {
		p := &corev1.Pod{
			ObjectMeta: metav1.ObjectMeta{Name: meta.Name + "-pod", Namespace: meta.Namespace, Labels: tmpl.Labels},
			Spec:       tmpl.Spec,
		}
		if err := e.Client.Create(ctx, p, client.DryRunAll, Strict); err != nil {
			t.Errorf("%s: %s %s/%s: its pods would be refused: %v", source, kind, meta.Namespace, meta.Name, err)
		}
	}
	n := 0
	for _, u := range objs {
		var meta metav1.ObjectMeta
		var tmpl corev1.PodTemplateSpec
		switch u.GetKind() {
		case "Deployment":
			var d appsv1.Deployment
			if err := runtime.DefaultUnstructuredConverter.FromUnstructuredWithValidation(u.Object, &d, true); err != nil {
				t.Errorf("%s: Deployment %s: %v", source, u.GetName(), err)
				continue
			}
			meta, tmpl = d.ObjectMeta, d.Spec.Template
		case "DaemonSet":
			var ds appsv1.DaemonSet
			if err := runtime.DefaultUnstructuredConverter.FromUnstructuredWithValidation(u.Object, &ds, true); err != nil {
				t.Errorf("%s: DaemonSet %s: %v", source, u.GetName(), err)
				continue
			}
			meta, tmpl = ds.ObjectMeta, ds.Spec.Template
		default:
			continue
		}
		pod(u.GetKind(), meta, tmpl)
		n++
	}
	if n == 0 {
		t.Errorf("%s holds no Deployment or DaemonSet", source)
	}
}

// WaitForCRDs waits until the API server serves every served version of
// every CRD's resource, so that a client may create its objects.
func (e *Env) WaitForCRDs(ctx context.Context, crds []*unstructured.Unstructured) error {
	dc, err := discovery.NewDiscoveryClientForConfig(e.Config)
	if err != nil {
		return fmt.Errorf("discovery client: %w", err)
	}
	want := map[string]sets.Set[string]{} // group/version -> plurals
	for _, crd := range crds {
		group, _, _ := unstructured.NestedString(crd.Object, "spec", "group")
		plural, _, _ := unstructured.NestedString(crd.Object, "spec", "names", "plural")
		versions, _, _ := unstructured.NestedSlice(crd.Object, "spec", "versions")
		for _, v := range versions {
			version, _ := v.(map[string]any)
			if served, _ := version["served"].(bool); !served {
				continue
			}
			name, _ := version["name"].(string)
			gv := group + "/" + name
			if want[gv] == nil {
				want[gv] = sets.New[string]()
			}
			want[gv].Insert(plural)
		}
	}
	err = wait.PollUntilContextTimeout(ctx, 100*time.Millisecond, 30*time.Second, true, func(context.Context) (bool, error) {
		for gv, plurals := range want {
			list, err := dc.ServerResourcesForGroupVersion(gv)
			if err != nil {
				return false, nil // not served yet: poll again
			}
			served := sets.New[string]()
			for _, r := range list.APIResources {
				served.Insert(r.Name)
			}
			if !served.IsSuperset(plurals) {
				return false, nil
			}
		}
		return true, nil
	})
	if err != nil {
		return fmt.Errorf("the CRDs are not served: %w", err)
	}
	return nil
}
