package manifests_test

import (
	"go/ast"
	"go/parser"
	"go/token"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"sigs.k8s.io/yaml"

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
		Defaulting     bool   `json:"defaulting,omitempty"`
		Validation     bool   `json:"validation,omitempty"`
		Conversion     bool   `json:"conversion,omitempty"`
		WebhookVersion string `json:"webhookVersion"`
	} `json:"webhooks,omitempty"`
}

// TestProjectFileMatchesCode: PROJECT is written by hand, so it must be
// checked against what it describes: the module, the API group's kinds and
// their scope, the reconcilers in controllers/ and the webhook paths in
// the generated config/webhook. A kind, controller or webhook added
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
	scopes := crdScopes(t, root)
	reconcilers := reconcilerTypes(t, filepath.Join(root, "controllers"))
	paths := webhookPaths(t)
	seen := map[string]bool{}
	for _, r := range p.Resources {
		gv := schema.GroupVersion{Group: r.Group + "." + r.Domain, Version: r.Version}
		if r.Domain != p.Domain || gv != v1alpha2.GroupVersion {
			t.Errorf("PROJECT %s: group %s, want %s", r.Kind, gv, v1alpha2.GroupVersion)
			continue
		}
		if !scheme.Recognizes(gv.WithKind(r.Kind)) {
			t.Errorf("PROJECT %s: no such kind in api/%s", r.Kind, r.Version)
			continue
		}
		seen[r.Kind] = true
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
		if want := reconcilers[r.Kind+"Reconciler"]; r.Controller != want {
			t.Errorf("PROJECT %s: controller %v, but controllers/ declares %sReconciler: %v", r.Kind, r.Controller, r.Kind, want)
		}
		suffix := "-" + strings.ReplaceAll(gv.Group, ".", "-") + "-" + gv.Version + "-" + strings.ToLower(r.Kind)
		mutate, validate := paths["/mutate"+suffix], paths["/validate"+suffix]
		delete(paths, "/mutate"+suffix)
		delete(paths, "/validate"+suffix)
		var defaulting, validation, conversion bool
		if w := r.Webhooks; w != nil {
			defaulting, validation, conversion = w.Defaulting, w.Validation, w.Conversion
			if w.WebhookVersion != "v1" {
				t.Errorf("PROJECT %s: webhooks.webhookVersion %q, want v1", r.Kind, w.WebhookVersion)
			}
		}
		if defaulting != mutate || validation != validate || conversion {
			t.Errorf("PROJECT %s: webhooks defaulting %v validation %v conversion %v; config/webhook has defaulting %v validation %v and no conversion",
				r.Kind, defaulting, validation, conversion, mutate, validate)
		}
	}
	for gvk := range scheme.KnownTypes(v1alpha2.GroupVersion) {
		if !strings.HasSuffix(gvk, "List") && !seen[gvk] && isHeraldKind(scheme, gvk) {
			t.Errorf("api/%s has kind %s, which PROJECT does not list", v1alpha2.GroupVersion.Version, gvk)
		}
	}
	for path := range paths {
		t.Errorf("config/webhook serves %s, which no PROJECT resource's webhooks account for", path)
	}
}

// isHeraldKind leaves out the meta types AddToGroupVersion registers in
// every group (WatchEvent, ListOptions and the like).
func isHeraldKind(scheme *runtime.Scheme, kind string) bool {
	t := scheme.KnownTypes(v1alpha2.GroupVersion)[kind]
	return t.PkgPath() == "github.com/herald-lb/herald/api/v1alpha2"
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
