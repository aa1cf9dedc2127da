package manifests_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/yaml"

	"github.com/herald-lb/herald/api/v1alpha2"
	"github.com/herald-lb/herald/internal/testenv"
	"github.com/herald-lb/herald/webhook"
)

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

	crds := env.DryRunApply(ctx, t, releaseManifest, objs)
	if t.Failed() {
		return
	}
	if len(crds) == 0 {
		t.Fatalf("%s holds no CRDs", releaseManifest)
	}
	// A new client: its REST mapper learns the new group afresh.
	c, err := client.New(env.Config, client.Options{Scheme: env.Scheme})
	if err != nil {
		t.Fatal(err)
	}
	checkSamples(ctx, t, c)
}

// checkSamples dry-runs every sample, and every YAML block of the README,
// and passes the custom resources through the webhooks' checks, as
// `kubectl apply` would with Herald running.
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
	sources := map[string][]*unstructured.Unstructured{}
	for _, file := range kustomization.Resources {
		sources[file] = repoFile(t, "config/samples/"+file)
	}
	sources["README.md"] = readmeObjects(t, filepath.Join(root, "README.md"))
	for file, objs := range sources {
		for _, u := range objs {
			name := u.GetKind() + " " + u.GetName()
			if u.GetKind() == "Service" && u.GetNamespace() == "" {
				u.SetNamespace("default")
			}
			if err := c.Create(ctx, u.DeepCopy(), client.DryRunAll, testenv.Strict); err != nil {
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

// readmeObjects decodes the README's ```yaml blocks: what it tells users
// to apply must be accepted as it is.
func readmeObjects(t *testing.T, path string) []*unstructured.Unstructured {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var objs []*unstructured.Unstructured
	for i, block := range yamlBlock.FindAllStringSubmatch(string(data), -1) {
		decoded, err := testenv.DecodeObjects([]byte(block[1]), fmt.Sprintf("%s yaml block %d", path, i+1))
		if err != nil {
			t.Fatal(err)
		}
		objs = append(objs, decoded...)
	}
	if len(objs) == 0 {
		t.Fatalf("%s: no yaml blocks (the modes' minimal manifests are expected there)", path)
	}
	return objs
}

// yamlBlock is a fenced yaml code block of a Markdown file.
var yamlBlock = regexp.MustCompile("(?ms)^```yaml\n(.*?)^```$")

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
