package manifests_test

import (
	"go/ast"
	"go/parser"
	"go/token"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"sigs.k8s.io/yaml"

	"github.com/herald-lb/herald/api/v1alpha1"
	"github.com/herald-lb/herald/api/v1alpha2"
	"github.com/herald-lb/herald/internal/testenv"
)

// projectFile is kubebuilder's PROJECT file (config version 3), as far as
// Herald fills it in; decoding is strict, so a misspelt key fails.
type projectFile struct {
	Domain      string            `json:"domain"`
	Layout      []string          `json:"layout"`
	ProjectName string            `json:"projectName"`
	Repo        string            `json:"repo"`
	Resources   []projectResource `json:"resources"`
	Version     string            `json:"version"`
}

type projectResource struct {
	API *struct {
		CRDVersion string `json:"crdVersion"`
		// Namespaced is left out, as kubebuilder leaves it, for
		// cluster-scoped kinds.
		Namespaced bool `json:"namespaced,omitempty"`
	} `json:"api,omitempty"`
	Controller bool   `json:"controller,omitempty"`
	Domain     string `json:"domain"`
	Group      string `json:"group"`
	Kind       string `json:"kind"`
	Path       string `json:"path"`
	Version    string `json:"version"`
	Webhooks   *struct {
		Defaulting bool `json:"defaulting,omitempty"`
		Validation bool `json:"validation,omitempty"`
		Conversion bool `json:"conversion,omitempty"`
		// Spoke lists the versions the hub converts to and from.
		Spoke          []string `json:"spoke,omitempty"`
		WebhookVersion string   `json:"webhookVersion"`
	} `json:"webhooks,omitempty"`
}

// TestProjectFileMatchesCode: PROJECT is written by hand, so it must be
// checked against what it describes: the module, the API group's kinds in
// both versions and their scope, the reconcilers in controllers/, the
// webhook paths in the generated config/webhook, and the conversion
// webhook the release's CRDs call (the storage version v1alpha2 is the
// hub, v1alpha1 its spoke). A kind, version, controller or webhook added
// without PROJECT (or the other way round) fails here.
func TestProjectFileMatchesCode(t *testing.T) {
	root, err := testenv.RepoRoot()
	if err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(filepath.Join(root, "PROJECT"))
	if err != nil {
		t.Fatal(err)
	}
	var p projectFile
	if err := yaml.UnmarshalStrict(data, &p); err != nil {
		t.Fatalf("PROJECT: %v", err)
	}
	module := modulePath(t, root)
	if p.Version != "3" || len(p.Layout) != 1 || p.Layout[0] != "go.kubebuilder.io/v4" {
		t.Errorf("PROJECT: version %q layout %v, want version \"3\" and layout [go.kubebuilder.io/v4]", p.Version, p.Layout)
	}
	if p.Repo != module || p.ProjectName != "herald" {
		t.Errorf("PROJECT: repo %q projectName %q, want %q and herald", p.Repo, p.ProjectName, module)
	}

	scheme := runtime.NewScheme()
	if err := v1alpha2.AddToScheme(scheme); err != nil {
		t.Fatal(err)
	}
	if err := v1alpha1.AddToScheme(scheme); err != nil {
		t.Fatal(err)
	}
	versions := []schema.GroupVersion{v1alpha1.GroupVersion, v1alpha2.GroupVersion}
	converted := conversionKinds(t)
	scopes := crdScopes(t, root)
	reconcilers := reconcilerTypes(t, filepath.Join(root, "controllers"))
	paths := webhookPaths(t)
	seen := map[schema.GroupVersionKind]bool{}
	for _, r := range p.Resources {
		gv := schema.GroupVersion{Group: r.Group + "." + r.Domain, Version: r.Version}
		if r.Domain != p.Domain || !slices.Contains(versions, gv) {
			t.Errorf("PROJECT %s: group %s, want one of %v", r.Kind, gv, versions)
			continue
		}
		if !scheme.Recognizes(gv.WithKind(r.Kind)) {
			t.Errorf("PROJECT %s: no such kind in api/%s", r.Kind, r.Version)
			continue
		}
		seen[gv.WithKind(r.Kind)] = true
		// Controllers and webhooks belong to the storage version, the hub.
		hub := gv == v1alpha2.GroupVersion
		if want := module + "/api/" + r.Version; r.Path != want {
			t.Errorf("PROJECT %s: path %q, want %q", r.Kind, r.Path, want)
		}
		if r.API == nil || r.API.CRDVersion != "v1" {
			t.Errorf("PROJECT %s: want api.crdVersion v1", r.Kind)
		} else if scope, ok := scopes[r.Kind]; !ok {
			t.Errorf("PROJECT %s: no CRD in config/crd/bases", r.Kind)
		} else if r.API.Namespaced != (scope == "Namespaced") {
			t.Errorf("PROJECT %s: api.namespaced %v, but the CRD's scope is %s", r.Kind, r.API.Namespaced, scope)
		}
		if want := hub && reconcilers[r.Kind+"Reconciler"]; r.Controller != want {
			t.Errorf("PROJECT %s: controller %v, but controllers/ declares %sReconciler: %v", r.Kind, r.Controller, r.Kind, want)
		}
		suffix := "-" + strings.ReplaceAll(gv.Group, ".", "-") + "-" + gv.Version + "-" + strings.ToLower(r.Kind)
		mutate, validate := paths["/mutate"+suffix], paths["/validate"+suffix]
		delete(paths, "/mutate"+suffix)
		delete(paths, "/validate"+suffix)
		var defaulting, validation, conversion bool
		var spokes []string
		if w := r.Webhooks; w != nil {
			defaulting, validation, conversion, spokes = w.Defaulting, w.Validation, w.Conversion, w.Spoke
			if w.WebhookVersion != "v1" {
				t.Errorf("PROJECT %s: webhooks.webhookVersion %q, want v1", r.Kind, w.WebhookVersion)
			}
		}
		if defaulting != mutate || validation != validate {
			t.Errorf("PROJECT %s %s: webhooks defaulting %v validation %v; config/webhook has defaulting %v validation %v",
				r.Kind, r.Version, defaulting, validation, mutate, validate)
		}
		wantConversion := hub && converted[r.Kind]
		var wantSpokes []string
		if wantConversion && scheme.Recognizes(v1alpha1.GroupVersion.WithKind(r.Kind)) {
			wantSpokes = []string{v1alpha1.GroupVersion.Version}
		}
		if conversion != wantConversion || !slices.Equal(spokes, wantSpokes) {
			t.Errorf("PROJECT %s %s: webhooks conversion %v spoke %v; want conversion %v spoke %v (the release's CRD converts through a webhook: %v)",
				r.Kind, r.Version, conversion, spokes, wantConversion, wantSpokes, converted[r.Kind])
		}
	}
	for _, gv := range versions {
		for kind := range scheme.KnownTypes(gv) {
			if !strings.HasSuffix(kind, "List") && !seen[gv.WithKind(kind)] && isHeraldKind(scheme, gv, kind) {
				t.Errorf("api/%s has kind %s, which PROJECT does not list", gv.Version, kind)
			}
		}
	}
	for path := range paths {
		t.Errorf("config/webhook serves %s, which no PROJECT resource's webhooks account for", path)
	}
}

// isHeraldKind leaves out the meta types AddToGroupVersion registers in
// every group (WatchEvent, ListOptions and the like).
func isHeraldKind(scheme *runtime.Scheme, gv schema.GroupVersion, kind string) bool {
	t := scheme.KnownTypes(gv)[kind]
	return t.PkgPath() == "github.com/herald-lb/herald/api/"+gv.Version
}

// conversionKinds names the kinds whose CRD in the release manifest
// converts through a webhook at /convert.
func conversionKinds(t *testing.T) map[string]bool {
	t.Helper()
	kinds := map[string]bool{}
	for _, o := range repoFile(t, releaseManifest) {
		if o.GetKind() != "CustomResourceDefinition" {
			continue
		}
		kind, _, _ := unstructured.NestedString(o.Object, "spec", "names", "kind")
		strategy, _, _ := unstructured.NestedString(o.Object, "spec", "conversion", "strategy")
		path, _, _ := unstructured.NestedString(o.Object, "spec", "conversion", "webhook", "clientConfig", "service", "path")
		kinds[kind] = strategy == "Webhook" && path == "/convert"
	}
	return kinds
}

func modulePath(t *testing.T, root string) string {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(root, "go.mod"))
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(string(data), "\n") {
		if m, ok := strings.CutPrefix(strings.TrimSpace(line), "module "); ok {
			return strings.TrimSpace(m)
		}
	}
	t.Fatal("go.mod: no module line")
	return ""
}

// crdScopes maps each kind of config/crd/bases to its CRD's scope.
func crdScopes(t *testing.T, root string) map[string]string {
	t.Helper()
	files, err := filepath.Glob(filepath.Join(root, "config", "crd", "bases", "*.yaml"))
	if err != nil || len(files) == 0 {
		t.Fatalf("config/crd/bases: no CRDs (%v)", err)
	}
	scopes := map[string]string{}
	for _, f := range files {
		objs, err := testenv.ReadObjects(f)
		if err != nil {
			t.Fatal(err)
		}
		for _, o := range objs {
			kind, _, _ := unstructured.NestedString(o.Object, "spec", "names", "kind")
			scope, _, _ := unstructured.NestedString(o.Object, "spec", "scope")
			scopes[kind] = scope
		}
	}
	return scopes
}

// reconcilerTypes names the types the controllers package declares.
// kubebuilder's convention, which Herald keeps, is <Kind>Reconciler.
func reconcilerTypes(t *testing.T, dir string) map[string]bool {
	t.Helper()
	files, err := filepath.Glob(filepath.Join(dir, "*.go"))
	if err != nil {
		t.Fatal(err)
	}
	types := map[string]bool{}
	fset := token.NewFileSet()
	for _, name := range files {
		if strings.HasSuffix(name, "_test.go") {
			continue
		}
		f, err := parser.ParseFile(fset, name, nil, parser.SkipObjectResolution)
		if err != nil {
			t.Fatal(err)
		}
		for _, d := range f.Decls {
			if g, ok := d.(*ast.GenDecl); ok && g.Tok == token.TYPE {
				for _, s := range g.Specs {
					types[s.(*ast.TypeSpec).Name.Name] = true
				}
			}
		}
	}
	return types
}

// webhookPaths is the set of paths config/webhook/manifests.yaml (what
// controller-gen generates from the webhook package's markers) calls.
func webhookPaths(t *testing.T) map[string]bool {
	t.Helper()
	paths := map[string]bool{}
	for _, o := range repoFile(t, "config/webhook/manifests.yaml") {
		hooks, _, _ := unstructured.NestedSlice(o.Object, "webhooks")
		for _, h := range hooks {
			path, _, _ := unstructured.NestedString(h.(map[string]any), "clientConfig", "service", "path")
			paths[path] = true
		}
	}
	if len(paths) == 0 {
		t.Fatal("config/webhook/manifests.yaml names no webhook paths")
	}
	return paths
}
