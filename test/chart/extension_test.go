package chart_test

import (
	"encoding/base64"
	"fmt"
	"mime"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"sigs.k8s.io/yaml"
)

// extensionDir is Herald's KubeSphere 4.x extension, relative to the
// repository root.
const extensionDir = "deploy/kubesphere/herald"

// extension is extension.yaml as KubeSphere's packaging tool reads it:
// the fields it knows, decoded strictly so that a misspelt one fails here
// instead of being dropped by the tool.
type extension struct {
	APIVersion       string            `json:"apiVersion"`
	Name             string            `json:"name"`
	Version          string            `json:"version"`
	DisplayName      map[string]string `json:"displayName"`
	Description      map[string]string `json:"description"`
	Category         string            `json:"category"`
	Keywords         []string          `json:"keywords,omitempty"`
	Home             string            `json:"home,omitempty"`
	Sources          []string          `json:"sources,omitempty"`
	KubeVersion      string            `json:"kubeVersion,omitempty"`
	KSVersion        string            `json:"ksVersion,omitempty"`
	Maintainers      []person          `json:"maintainers,omitempty"`
	Provider         map[string]person `json:"provider"`
	Icon             string            `json:"icon"`
	Screenshots      []string          `json:"screenshots,omitempty"`
	Dependencies     []chartDependency `json:"dependencies,omitempty"`
	InstallationMode string            `json:"installationMode,omitempty"`
	Namespace        string            `json:"namespace,omitempty"`
	Images           []string          `json:"images,omitempty"`
}

// person is a maintainer or a provider.
type person struct {
	Name  string `json:"name"`
	Email string `json:"email,omitempty"`
	URL   string `json:"url,omitempty"`
}

// chartDependency is an entry of Chart.yaml's dependencies, which
// extension.yaml's are copied into.
type chartDependency struct {
	Name       string   `json:"name"`
	Version    string   `json:"version,omitempty"`
	Repository string   `json:"repository,omitempty"`
	Condition  string   `json:"condition,omitempty"`
	Tags       []string `json:"tags,omitempty"`
	Alias      string   `json:"alias,omitempty"`
}

// extensionCategories are the categories KubeSphere's marketplace knows.
var extensionCategories = []string{
	"ai-machine-learning", "computing", "database", "dev-tools", "integration-delivery",
	"observability", "networking", "security", "storage", "streaming-messaging", "other",
}

// semver is a semantic version without a leading "v", as Helm requires a
// chart version to be.
var semver = regexp.MustCompile(`^(0|[1-9][0-9]*)\.(0|[1-9][0-9]*)\.(0|[1-9][0-9]*)(-[0-9A-Za-z.-]+)?(\+[0-9A-Za-z.-]+)?$`)

// dnsLabel is what an extension, a chart and a namespace may be called.
var dnsLabel = regexp.MustCompile(`^[a-z0-9]([-a-z0-9]*[a-z0-9])?$`)

// loadExtension decodes extension.yaml strictly and checks what the
// packaging tool and KubeSphere require of it.
func loadExtension(t *testing.T) *extension {
	t.Helper()
	dir := repoPath(t, extensionDir)
	data, err := os.ReadFile(filepath.Join(dir, "extension.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	var ext extension
	if err := yaml.UnmarshalStrict(data, &ext); err != nil {
		t.Fatalf("extension.yaml: %v", err)
	}
	for _, err := range ext.validate(dir) {
		t.Errorf("extension.yaml: %v", err)
	}
	return &ext
}

// validate returns every way ext breaks the packaging tool's rules (its
// required fields, the category list, the icon file) or Herald's (one
// agent chart, installed in every selected cluster).
func (ext *extension) validate(dir string) []error {
	var errs []error
	bad := func(format string, args ...any) { errs = append(errs, fmt.Errorf(format, args...)) }
	if ext.APIVersion != "kubesphere.io/v1alpha1" {
		bad("apiVersion %q, want kubesphere.io/v1alpha1", ext.APIVersion)
	}
	if !dnsLabel.MatchString(ext.Name) {
		bad("name %q is not a DNS label", ext.Name)
	}
	if !semver.MatchString(ext.Version) {
		bad("version %q is not a semantic version (x.y.z)", ext.Version)
	}
	for field, locales := range map[string]map[string]string{"displayName": ext.DisplayName, "description": ext.Description} {
		if strings.TrimSpace(locales["en"]) == "" {
			bad("%s has no en text (the tool puts it in Chart.yaml)", field)
		}
	}
	if !slices.Contains(extensionCategories, ext.Category) {
		bad("category %q is not one of %v", ext.Category, extensionCategories)
	}
	if p, ok := ext.Provider["en"]; !ok || p.Name == "" {
		bad("provider has no en entry with a name")
	}
	if strings.Contains(ext.Icon, "://") || strings.HasPrefix(ext.Icon, "data:") {
		bad("icon %q should be a file of the extension", ext.Icon)
	} else if fi, err := os.Stat(filepath.Join(dir, ext.Icon)); err != nil || fi.IsDir() || fi.Size() == 0 {
		bad("icon %q: not a file of the extension (%v)", ext.Icon, err)
	}
	for _, s := range ext.Screenshots {
		if _, err := os.Stat(filepath.Join(dir, s)); err != nil {
			bad("screenshot %q: %v", s, err)
		}
	}
	if ext.InstallationMode != "Multicluster" {
		bad("installationMode %q, want Multicluster: Herald runs where the Services are", ext.InstallationMode)
	}
	if len(ext.Dependencies) != 1 {
		bad("%d dependencies, want the herald chart alone", len(ext.Dependencies))
	}
	for _, d := range ext.Dependencies {
		if !slices.Equal(d.Tags, []string{"agent"}) {
			bad("dependency %s tags %v, want [agent] (installed on every selected cluster)", d.Name, d.Tags)
		}
		if _, err := os.Stat(filepath.Join(dir, "charts", d.Name, "Chart.yaml")); err != nil {
			bad("dependency %s: no charts/%s (run `make chart`): %v", d.Name, d.Name, err)
		}
	}
	if ext.Namespace != "" && !dnsLabel.MatchString(ext.Namespace) {
		bad("namespace %q is not a DNS label", ext.Namespace)
	}
	return errs
}

// chartYAML is the Chart.yaml the packaging tool writes at the top of the
// extension from extension.yaml (there is none in the directory): the
// chart fields it carries over, the English description, and the icon
// inlined as a data URL.
func (ext *extension) chartYAML(dir string) ([]byte, error) {
	icon, err := os.ReadFile(filepath.Join(dir, ext.Icon))
	if err != nil {
		return nil, err
	}
	chart := map[string]any{
		"apiVersion":   "v2",
		"name":         ext.Name,
		"version":      ext.Version,
		"description":  ext.Description["en"],
		"keywords":     ext.Keywords,
		"home":         ext.Home,
		"sources":      ext.Sources,
		"kubeVersion":  ext.KubeVersion,
		"maintainers":  ext.Maintainers,
		"dependencies": ext.Dependencies,
		"icon":         "data:" + mime.TypeByExtension(filepath.Ext(ext.Icon)) + ";base64," + base64.StdEncoding.EncodeToString(icon),
	}
	return yaml.Marshal(chart)
}
