package manifests_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
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
	"sigs.k8s.io/yaml"

	"github.com/herald-lb/herald/api/v1alpha2"
	"github.com/herald-lb/herald/internal/testenv"
	"github.com/herald-lb/herald/webhook"
)

// applyOrder ranks the kinds of the release in the order `kubectl apply`
// must meet them on an empty cluster. A kind missing here fails the test,
// so whoever adds one (the speaker's DaemonSet, say) places it.
var applyOrder = []string{
	"Namespace",
	"CustomResourceDefinition",
	"ServiceAccount",
	"ClusterRole", "Role",
	"ClusterRoleBinding", "RoleBinding",
	"Deployment", "PodDisruptionBudget", "DaemonSet", "Service",
	"MutatingWebhookConfiguration", "ValidatingWebhookConfiguration",
	"ValidatingAdmissionPolicy", "ValidatingAdmissionPolicyBinding",
}

// createdForReal are the kinds the objects after them depend on; they are
// created, the others only dry-run. Pods need their ServiceAccount.
var createdForReal = sets.New("Namespace", "CustomResourceDefinition", "ServiceAccount")

// strict makes unknown and duplicate fields errors instead of warnings.
var strict = client.FieldValidation("Strict")

// TestReleaseAppliesToAPIServer sends every object of the release to a
// real API server, in dependency order, as a strict server-side dry run,
// so that the API server's own validation (schemas, RBAC rules, probe and
// security settings, webhook configurations) judges the file users apply.
// The API server starts without CRDs: it gets the release's own. Then the
// samples are dry-run against those CRDs and checked by the webhooks'
// validators, so that what we tell users to apply is accepted.
func TestReleaseAppliesToAPIServer(t *testing.T) {
	objs := repoFile(t, releaseManifest)
	env := testenv.Start(t, testenv.Options{CRDDirectoryPaths: []string{t.TempDir()}})
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()

	rank := func(u *unstructured.Unstructured) int { return slices.Index(applyOrder, u.GetKind()) }
	for _, u := range objs {
		if rank(u) < 0 {
			t.Fatalf("%s %s: kind not in applyOrder; add it where it belongs", u.GetKind(), u.GetName())
		}
	}
	slices.SortStableFunc(objs, func(a, b *unstructured.Unstructured) int { return rank(a) - rank(b) })

	var crds []*unstructured.Unstructured
	for _, u := range objs {
		name := u.GetKind() + " " + client.ObjectKeyFromObject(u).String()
		if err := env.Client.Create(ctx, u.DeepCopy(), client.DryRunAll, strict); err != nil {
			t.Errorf("dry-run create %s: %v", name, err)
			continue
		}
		if createdForReal.Has(u.GetKind()) {
			if err := env.Client.Create(ctx, u.DeepCopy(), strict); err != nil {
				t.Fatalf("create %s: %v", name, err)
			}
		}
		if u.GetKind() == "CustomResourceDefinition" {
			crds = append(crds, u)
		}
	}
	if len(crds) == 0 {
		t.Fatalf("%s holds no CRDs", releaseManifest)
	}
	if t.Failed() {
		return
	}
	checkPods(ctx, t, env.Client, objs)
	if err := waitForDiscovery(ctx, env, crds); err != nil {
		t.Fatal(err)
	}
	// A new client: its REST mapper learns the new group afresh.
	c, err := client.New(env.Config, client.Options{Scheme: env.Scheme})
	if err != nil {
		t.Fatal(err)
	}
	checkSamples(ctx, t, c)
}

// checkPods dry-runs a pod of every workload in its namespace. Pod
// Security admission enforces its level on pods only: a workload the
// namespace's level forbids is accepted, and then never gets a pod. The
// Priority admission plugin resolves priorityClassName on pods only, too.
func checkPods(ctx context.Context, t *testing.T, c client.Client, objs []*unstructured.Unstructured) {
	t.Helper()
	pod := func(kind string, meta metav1.ObjectMeta, tmpl corev1.PodTemplateSpec) {
		p := &corev1.Pod{
			ObjectMeta: metav1.ObjectMeta{Name: meta.Name + "-pod", Namespace: meta.Namespace, Labels: tmpl.Labels},
			Spec:       tmpl.Spec,
		}
		if err := c.Create(ctx, p, client.DryRunAll, strict); err != nil {
			t.Errorf("%s %s/%s: its pods would be refused: %v", kind, meta.Namespace, meta.Name, err)
		}
	}
	n := 0
	for _, d := range ofKind[appsv1.Deployment](t, objs, "Deployment") {
		pod("Deployment", d.ObjectMeta, d.Spec.Template)
		n++
	}
	for _, ds := range ofKind[appsv1.DaemonSet](t, objs, "DaemonSet") {
		pod("DaemonSet", ds.ObjectMeta, ds.Spec.Template)
		n++
	}
	if n == 0 {
		t.Errorf("%s holds no Deployment or DaemonSet", releaseManifest)
	}
}

// checkSamples dry-runs every sample and passes the custom resources
// through the webhooks' checks, as `kubectl apply` would with Herald
// running.
func checkSamples(ctx context.Context, t *testing.T, c client.Client) {
	t.Helper()
	root, err := testenv.RepoRoot()
	if err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(filepath.Join(root, "config", "samples", "kustomization.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	var kustomization struct{ Resources []string }
	if err := yaml.Unmarshal(data, &kustomization); err != nil || len(kustomization.Resources) == 0 {
		t.Fatalf("config/samples/kustomization.yaml lists no resources (%v)", err)
	}
	for _, file := range kustomization.Resources {
		for _, u := range repoFile(t, "config/samples/"+file) {
			name := u.GetKind() + " " + u.GetName()
			if err := c.Create(ctx, u.DeepCopy(), client.DryRunAll, strict); err != nil {
				t.Errorf("%s: dry-run create %s: %v", file, name, err)
				continue
			}
			warnings, err := validate(ctx, c, u)
			if err != nil {
				t.Errorf("%s: %s refused by the webhook: %v", file, name, err)
			}
			for _, w := range warnings {
				t.Logf("%s: %s: admission warning: %s", file, name, w)
			}
		}
	}
}

// validate runs the admission webhook's defaulting and validation of a
// custom resource; other kinds have no webhook.
func validate(ctx context.Context, c client.Reader, u *unstructured.Unstructured) ([]string, error) {
	if u.GroupVersionKind().GroupVersion() != v1alpha2.GroupVersion {
		return nil, nil
	}
	decode := func(into any) error {
		return runtime.DefaultUnstructuredConverter.FromUnstructuredWithValidation(u.Object, into, true)
	}
	switch u.GetKind() {
	case "Eip":
		var e v1alpha2.Eip
		if err := decode(&e); err != nil {
			return nil, err
		}
		if err := (webhook.EipDefaulter{}).Default(ctx, &e); err != nil {
			return nil, err
		}
		return (&webhook.EipValidator{Reader: c}).ValidateCreate(ctx, &e)
	case "BgpConf":
		var conf v1alpha2.BgpConf
		if err := decode(&conf); err != nil {
			return nil, err
		}
		return webhook.BgpConfValidator{}.ValidateCreate(ctx, &conf)
	case "BgpPeer":
		var peer v1alpha2.BgpPeer
		if err := decode(&peer); err != nil {
			return nil, err
		}
		return webhook.BgpPeerValidator{Reader: c}.ValidateCreate(ctx, &peer)
	}
	return nil, fmt.Errorf("no webhook check for kind %s", u.GetKind())
}

// waitForDiscovery waits until the API server serves every CRD's resource.
func waitForDiscovery(ctx context.Context, env *testenv.Env, crds []*unstructured.Unstructured) error {
	dc, err := discovery.NewDiscoveryClientForConfig(env.Config)
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
		return fmt.Errorf("the release's CRDs are not served: %w", err)
	}
	return nil
}
