package chart_test

import (
	"bytes"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/util/sets"
	"sigs.k8s.io/yaml"
)

// KubeSphere's global values the extension's render is checked with.
const (
	ksRegistry      = "mirror.example.com/kubesphere"
	ksNodeLabel     = "example.com/zone"
	ksNodeLabelVal  = "edge-a"
	ksPullSecret    = "ks-mirror"
	ksReleaseName   = "herald"
	memberClusterNS = "herald-system"
)

// packageExtension builds the chart KubeSphere installs the way its
// packaging tool does: the extension directory copied as it is, plus a
// Chart.yaml made from extension.yaml. It returns the chart's directory.
func packageExtension(t *testing.T) (string, *extension) {
	t.Helper()
	ext := loadExtension(t)
	src := repoPath(t, extensionDir)
	dst := filepath.Join(t.TempDir(), ext.Name)
	if err := os.CopyFS(dst, os.DirFS(src)); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(src, "Chart.yaml")); err == nil {
		t.Errorf("%s has a Chart.yaml: the packaging tool writes its own from extension.yaml", extensionDir)
	}
	chart, err := ext.chartYAML(src)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dst, "Chart.yaml"), chart, 0o644); err != nil {
		t.Fatal(err)
	}
	return dst, ext
}

// ksGlobals are the values KubeSphere passes to an agent chart on a member
// cluster: its tags and its global settings.
func ksGlobals() []string {
	return []string{
		"--set", "tags.agent=true", "--set", "tags.extension=false",
		"--set", "global.imageRegistry=" + ksRegistry,
		"--set", "global.nodeSelector." + strings.ReplaceAll(ksNodeLabel, ".", `\.`) + "=" + ksNodeLabelVal,
		"--set", "global.imagePullSecrets[0]=" + ksPullSecret,
	}
}

// TestExtensionMetadata decodes extension.yaml strictly and checks it
// (loadExtension), and that its images list names what the chart runs.
func TestExtensionMetadata(t *testing.T) {
	dir, ext := packageExtension(t)
	objs := render(t, dir, ksReleaseName, memberClusterNS, "--set", "tags.agent=true")
	images := sets.New[string]()
	for _, pod := range podSpecs(t, objs) {
		for _, c := range pod.Containers {
			images.Insert(c.Image)
		}
	}
	if diff := sets.New(ext.Images...).SymmetricDifference(images); diff.Len() > 0 {
		t.Errorf("extension.yaml images %v, the chart runs %v", ext.Images, sets.List(images))
	}
}

// TestExtensionChartIsTheChart: charts/herald of the extension is a copy
// of deploy/charts/herald (`make chart`), file for file and byte for byte.
func TestExtensionChartIsTheChart(t *testing.T) {
	src, dst := repoPath(t, chartDir), repoPath(t, extensionDir+"/charts/herald")
	files := func(root string) map[string][]byte {
		m := map[string][]byte{}
		err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
			if err != nil || d.IsDir() {
				return err
			}
			rel, _ := filepath.Rel(root, path)
			m[rel], err = os.ReadFile(path)
			return err
		})
		if err != nil {
			t.Fatal(err)
		}
		return m
	}
	want, got := files(src), files(dst)
	for name, data := range want {
		if g, ok := got[name]; !ok || !bytes.Equal(g, data) {
			t.Errorf("%s/charts/herald/%s is missing or stale: run `make chart`", extensionDir, name)
		}
	}
	for name := range got {
		if _, ok := want[name]; !ok {
			t.Errorf("%s/charts/herald/%s is not in %s: run `make chart`", extensionDir, name, chartDir)
		}
	}
}

// TestExtensionPackageHonoursKubeSphereGlobals lints the packaged
// extension and renders it as KubeSphere does on a member cluster, with
// global.imageRegistry, global.nodeSelector and global.imagePullSecrets
// set: every image must come from the registry and every pod must carry
// the node selector and the pull secret. With the agent tag off (the host
// cluster when it is not selected) nothing is rendered.
func TestExtensionPackageHonoursKubeSphereGlobals(t *testing.T) {
	dir, _ := packageExtension(t)
	if out, err := helm(t, append([]string{"lint", "--strict", dir, "--namespace", memberClusterNS}, ksGlobals()...)...); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	objs := render(t, dir, ksReleaseName, memberClusterNS, ksGlobals()...)
	pods := podSpecs(t, objs)
	if len(pods) != 3 {
		t.Fatalf("%d workloads rendered, want the controller, the speaker and keepalived", len(pods))
	}
	for name, pod := range pods {
		for _, c := range pod.Containers {
			if !strings.HasPrefix(c.Image, ksRegistry+"/") {
				t.Errorf("%s container %s: image %s is not from global.imageRegistry %s", name, c.Name, c.Image, ksRegistry)
			}
		}
		if pod.NodeSelector[ksNodeLabel] != ksNodeLabelVal || pod.NodeSelector["kubernetes.io/os"] != "linux" {
			t.Errorf("%s nodeSelector %v, want global.nodeSelector's %s=%s besides the chart's own", name, pod.NodeSelector, ksNodeLabel, ksNodeLabelVal)
		}
		if !slices.Contains(pod.ImagePullSecrets, corev1.LocalObjectReference{Name: ksPullSecret}) {
			t.Errorf("%s imagePullSecrets %v, want global.imagePullSecrets' %s", name, pod.ImagePullSecrets, ksPullSecret)
		}
	}
	// The release KubeSphere makes is named after the extension, in its
	// namespace: the objects are named as in deploy/herald.yaml.
	must[appsv1.Deployment](t, objs, "Deployment", "herald-controller-manager")

	out, err := helm(t, "template", ksReleaseName, dir, "--namespace", memberClusterNS, "--set", "tags.agent=false")
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(out), "kind:") {
		t.Errorf("with tags.agent false the extension still renders objects:\n%.400s", out)
	}
}

// podSpecs returns the pod template of every Deployment and DaemonSet.
func podSpecs(t *testing.T, objs []*unstructured.Unstructured) map[string]*corev1.PodSpec {
	t.Helper()
	pods := map[string]*corev1.PodSpec{}
	for _, u := range objs {
		switch u.GetKind() {
		case "Deployment":
			pods[key(u)] = &must[appsv1.Deployment](t, objs, u.GetKind(), u.GetName()).Spec.Template.Spec
		case "DaemonSet":
			pods[key(u)] = &must[appsv1.DaemonSet](t, objs, u.GetKind(), u.GetName()).Spec.Template.Spec
		}
	}
	return pods
}

// TestExtensionPermissions decodes permissions.yaml strictly (one
// ClusterRole and one Role document, as rbac/v1 types, unknown fields
// refused) and checks that they let KubeSphere's installer manage every
// object the extension renders with every option on: cluster-scoped ones
// and those outside the release's namespace through the ClusterRole, the
// others through either.
func TestExtensionPermissions(t *testing.T) {
	data, err := os.ReadFile(repoPath(t, extensionDir+"/permissions.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	docs := splitDocuments(data)
	if len(docs) != 2 {
		t.Fatalf("permissions.yaml has %d documents, want a ClusterRole and a Role", len(docs))
	}
	var cr rbacv1.ClusterRole
	var role rbacv1.Role
	for i, into := range []any{&cr, &role} {
		if err := yaml.UnmarshalStrict(docs[i], into); err != nil {
			t.Fatalf("permissions.yaml document %d: %v", i+1, err)
		}
	}
	if cr.Kind != "ClusterRole" || role.Kind != "Role" || len(cr.Rules) == 0 || len(role.Rules) == 0 {
		t.Fatalf("permissions.yaml: kinds %q and %q with %d and %d rules, want a ClusterRole then a Role, with rules",
			cr.Kind, role.Kind, len(cr.Rules), len(role.Rules))
	}

	dir, _ := packageExtension(t)
	objs := render(t, dir, ksReleaseName, memberClusterNS, append(ksGlobals(),
		"--set", "herald.metrics.service.enabled=true",
		"--set", "herald.metrics.serviceMonitor.enabled=true", "--set", "herald.modes.layer2.enabled=false")...)
	for _, u := range objs {
		gr, ok := resourceOf[u.GetKind()]
		if !ok {
			t.Errorf("%s: kind not in resourceOf; add it (and to permissions.yaml if need be)", key(u))
			continue
		}
		inRelease := u.GetNamespace() == memberClusterNS
		for _, verb := range []string{"get", "create", "update", "patch", "delete"} {
			if !allows(cr.Rules, gr, verb) && !(inRelease && allows(role.Rules, gr, verb)) {
				t.Errorf("%s: permissions.yaml does not allow %s on %s", key(u), verb, gr)
			}
		}
	}
	for _, rbac := range []string{"roles", "clusterroles"} {
		for _, verb := range []string{"bind", "escalate"} {
			if !allows(cr.Rules, "rbac.authorization.k8s.io/"+rbac, verb) {
				t.Errorf("permissions.yaml: no %s on %s: the installer could not grant what it does not hold", verb, rbac)
			}
		}
	}
}

// resourceOf maps the kinds the chart renders to "group/resource".
var resourceOf = map[string]string{
	"CustomResourceDefinition":         "apiextensions.k8s.io/customresourcedefinitions",
	"ServiceAccount":                   "/serviceaccounts",
	"ConfigMap":                        "/configmaps",
	"Service":                          "/services",
	"Namespace":                        "/namespaces",
	"ClusterRole":                      "rbac.authorization.k8s.io/clusterroles",
	"ClusterRoleBinding":               "rbac.authorization.k8s.io/clusterrolebindings",
	"Role":                             "rbac.authorization.k8s.io/roles",
	"RoleBinding":                      "rbac.authorization.k8s.io/rolebindings",
	"Deployment":                       "apps/deployments",
	"DaemonSet":                        "apps/daemonsets",
	"PodDisruptionBudget":              "policy/poddisruptionbudgets",
	"MutatingWebhookConfiguration":     "admissionregistration.k8s.io/mutatingwebhookconfigurations",
	"ValidatingWebhookConfiguration":   "admissionregistration.k8s.io/validatingwebhookconfigurations",
	"ValidatingAdmissionPolicy":        "admissionregistration.k8s.io/validatingadmissionpolicies",
	"ValidatingAdmissionPolicyBinding": "admissionregistration.k8s.io/validatingadmissionpolicybindings",
	"ServiceMonitor":                   "monitoring.coreos.com/servicemonitors",
}

// allows reports whether rules grant verb on groupResource ("group/resource",
// "" group for the core API), honouring "*".
func allows(rules []rbacv1.PolicyRule, groupResource, verb string) bool {
	group, resource, _ := strings.Cut(groupResource, "/")
	match := func(list []string, want string) bool {
		return slices.Contains(list, "*") || slices.Contains(list, want)
	}
	for _, r := range rules {
		if match(r.APIGroups, group) && match(r.Resources, resource) && match(r.Verbs, verb) {
			return true
		}
	}
	return false
}

// splitDocuments splits multi-document YAML on "---" lines, dropping
// comment-only and empty documents.
func splitDocuments(data []byte) [][]byte {
	var docs [][]byte
	for _, doc := range bytes.Split(append([]byte("\n"), data...), []byte("\n---")) {
		empty := true
		for _, line := range strings.Split(string(doc), "\n") {
			if l := strings.TrimSpace(line); l != "" && !strings.HasPrefix(l, "#") {
				empty = false
				break
			}
		}
		if !empty {
			docs = append(docs, doc)
		}
	}
	return docs
}
